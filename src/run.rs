//! `vassa sim` and `vassa demo`: run a scenario, show progress, print the report, and exit
//! with the verdict.

use crate::{paths, say, status, Failure};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use vassa_harness::runner::report::{Check, Report};
use vassa_harness::runner::{check_backend, run, text, Progress, RunError, RunOptions};
use vassa_harness::scenario::{Backend, Scenario};

/// The demo's scenario (also `examples/demo.toml`, checked by the example tests).
pub const DEMO: &str = include_str!("../examples/demo.toml");

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendArg {
    Rtl,
    Model,
}

impl From<BackendArg> for Backend {
    fn from(b: BackendArg) -> Backend {
        match b {
            BackendArg::Rtl => Backend::Rtl,
            BackendArg::Model => Backend::Model,
        }
    }
}

#[derive(clap::Args)]
pub struct SimArgs {
    /// The scenario file (format: docs/scenario.md).
    #[arg(long, value_name = "FILE.toml")]
    scenario: PathBuf,
    /// Overrides the file's sim.backend.
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Print the report as one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// RTL backend: trace every card's signals, one file each (FILE with the node name before
    /// the extension; VCD, or FST in builds with vassa-sim's `fst` feature).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// Write each node's memory image and a JSON of its mapped pages and segments here.
    #[arg(long, value_name = "DIR")]
    dump_memory: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Run the demo on the golden model instead of the Verilated core.
    #[arg(long, value_enum)]
    backend: Option<BackendArg>,
    /// Print the report as one JSON document instead of text.
    #[arg(long)]
    json: bool,
}

/// A progress bar on stderr (drawn only on a terminal).
fn progress_bar() -> (ProgressBar, impl FnMut(&Progress)) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} messages sent, {msg}")
            .expect("valid template"),
    );
    let b = bar.clone();
    (bar, move |p: &Progress| {
        b.set_length(p.messages_total);
        b.set_position(p.messages_sent);
        b.set_message(format!("cycle {}", p.cycle));
    })
}

fn finish(report: &Report, json: bool) -> Result<i32, Failure> {
    if json {
        let json =
            serde_json::to_string_pretty(report).map_err(|e| Failure::failed(e.to_string()))?;
        say(&format!("{json}\n"))?;
    } else {
        say(&format!(
            "{}\n{}",
            text::summary(report),
            text::tables(report)
        ))?;
    }
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        eprintln!("vassa: {failed} check(s) failed");
        return Ok(status::CHECKS_FAILED);
    }
    Ok(0)
}

/// A run's error on one line: `RunError::Io` shows its cause once (the error chain would
/// repeat it).
fn run_failure(name: &str, e: RunError) -> Failure {
    match e {
        RunError::Backend(why) => Failure::failed(format!("{name}: {why}")),
        RunError::Io { path, source } => {
            Failure::failed(format!("{path}: {}", paths::reason(&source)))
        }
        e => Failure::failed(e.to_string()),
    }
}

/// A checked `sim`: the scenario read and validated, the paths it writes checked.
pub struct SimJob {
    scenario: Scenario,
    name: String,
    opts: RunOptions,
    json: bool,
}

pub fn prepare_sim(args: &SimArgs) -> Result<SimJob, Failure> {
    if args.trace.is_some() && args.backend == Some(BackendArg::Model) {
        return Err(Failure::usage(
            "--trace needs the rtl backend (the model has no signals to trace), not --backend model",
        ));
    }
    paths::check_input("--scenario", &args.scenario)?;
    if let Some(file) = &args.trace {
        paths::check_trace(file)?;
    }
    if let Some(dir) = &args.dump_memory {
        paths::check_out_dir("--dump-memory", dir)?;
    }
    let name = args.scenario.display().to_string();
    let scenario =
        Scenario::from_file(&args.scenario).map_err(|e| Failure::failed(e.to_string()))?;
    let backend = args.backend.map(Into::into).unwrap_or(scenario.sim.backend);
    if let Err(e) = check_backend(&scenario, backend, args.trace.is_some()) {
        // A flag that does not fit the file is a usage error; a file that asks for the rtl
        // backend and other core parameters is a bad file.
        let mut failure = run_failure(&name, e);
        if args.backend.is_some() || backend == Backend::Model {
            failure.status = status::USAGE;
        }
        return Err(failure);
    }
    if let Some(file) = &args.trace {
        for node in &scenario.nodes {
            paths::check_trace_node(file, &vassa_harness::runner::trace_file(file, &node.name))?;
        }
    }
    let opts = RunOptions {
        backend: args.backend.map(Into::into),
        trace: args.trace.clone(),
        dump_memory: args.dump_memory.clone(),
    };
    Ok(SimJob {
        scenario,
        name,
        opts,
        json: args.json,
    })
}

pub fn sim(job: SimJob) -> Result<i32, Failure> {
    let (bar, mut progress) = progress_bar();
    let report = run(&job.scenario, &job.name, &job.opts, &mut progress);
    bar.finish_and_clear();
    let report = report.map_err(|e| run_failure(&job.name, e))?;
    finish(&report, job.json)
}

/// A checked `demo`.
pub struct DemoJob {
    scenario: Scenario,
    opts: RunOptions,
    json: bool,
}

pub fn prepare_demo(args: &DemoArgs) -> Result<DemoJob, Failure> {
    let scenario = Scenario::from_str(DEMO, "examples/demo.toml")
        .map_err(|e| Failure::failed(e.to_string()))?;
    let opts = RunOptions {
        backend: args.backend.map(Into::into),
        ..RunOptions::default()
    };
    Ok(DemoJob {
        scenario,
        opts,
        json: args.json,
    })
}

pub fn demo(job: DemoJob) -> Result<i32, Failure> {
    let s = &job.scenario;
    if !job.json {
        say(&format!(
            "{}\n",
            describe(s, job.opts.backend.unwrap_or(s.sim.backend))
        ))?;
    }
    let (bar, mut progress) = progress_bar();
    let report = run(s, "vassa demo", &job.opts, &mut progress);
    bar.finish_and_clear();
    let mut report = report.map_err(|e| run_failure("vassa demo", e))?;
    report.checks.extend(demo_checks(&report));
    finish(&report, job.json)
}

/// What the demo runs, in words.
fn describe(s: &Scenario, backend: Backend) -> String {
    let mut out = format!(
        "VASSA demo: {} cards ({}) behind a switch, on the {} backend.\n",
        s.nodes.len(),
        s.nodes
            .iter()
            .map(|n| n.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        match backend {
            Backend::Rtl =>
                "rtl (the generated core, Verilated; default parameters: 16-entry mapping caches)",
            Backend::Model => "golden model",
        }
    );
    for c in &s.channels {
        let msgs = s.messages_on(&c.name);
        out += &format!(
            "  channel \"{}\": {:?} {} -> {}, {} segment ({} pages), {} messages\n",
            c.name,
            c.kind,
            c.writers.join(", "),
            c.readers.join(", "),
            c.segment,
            c.pages(),
            msgs
        )
        .replace("Multicast", "multicast")
        .replace("Unicast", "unicast")
        .replace("ManyToMany", "many-to-many");
    }
    out += &format!(
        "  faults: {} injected bad packet(s), random bit flips on the wire, periodic cache flushes\n",
        s.faults.inject.len()
    );
    out
}

/// What the demo sets out to show, beyond the checks of every run.
fn demo_checks(r: &Report) -> Vec<Check> {
    let serviced = r.misses_serviced();
    let card_drops: u64 = r.accounting.dropped_by_reason.values().sum();
    vec![
        Check::new(
            "misses happened and were serviced",
            serviced > 0,
            format!("{serviced} misses serviced by installing the mapping and replaying"),
        ),
        Check::new(
            "the injected bad packets were dropped and counted",
            card_drops >= r.accounting.injected && r.accounting.injected > 0,
            format!(
                "{} injected, {card_drops} packet copies dropped by the cards",
                r.accounting.injected
            ),
        ),
    ]
}
