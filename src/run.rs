//! `vassa sim` and `vassa demo`: run a scenario, show progress, print the report, and exit
//! with the verdict.

use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use vassa_driver::runner::report::{Check, Report};
use vassa_driver::runner::{run, text, Progress, RunError, RunOptions};
use vassa_driver::scenario::{Backend, Scenario};

/// The demo's scenario (also `examples/demo.toml`, checked by the example tests).
pub const DEMO: &str = include_str!("../examples/demo.toml");

/// Exit status of a run whose checks did not all hold (errors exit with 1).
pub const CHECKS_FAILED: i32 = 3;

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
    /// The scenario file (format: README, "Scenario files").
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

fn finish(report: &Report, json: bool) -> Result<i32> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!("{}", text::summary(report));
        print!("{}", text::tables(report));
    }
    let failed = report.checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        eprintln!("vassa: {failed} check(s) failed");
        return Ok(CHECKS_FAILED);
    }
    Ok(0)
}

pub fn sim(args: &SimArgs) -> Result<i32> {
    let s = Scenario::from_file(&args.scenario).map_err(|e| anyhow!("{e}"))?;
    let opts = RunOptions {
        backend: args.backend.map(Into::into),
        trace: args.trace.clone(),
        dump_memory: args.dump_memory.clone(),
    };
    let (bar, mut progress) = progress_bar();
    let name = args.scenario.display().to_string();
    let report = run(&s, &name, &opts, &mut progress);
    bar.finish_and_clear();
    let report = report.map_err(|e| match e {
        RunError::Backend(why) => anyhow!("{name}: {why}"),
        e => anyhow!(e),
    })?;
    finish(&report, args.json)
}

pub fn demo(args: &DemoArgs) -> Result<i32> {
    let s = Scenario::from_str(DEMO, "examples/demo.toml").map_err(|e| anyhow!("{e}"))?;
    let opts = RunOptions {
        backend: args.backend.map(Into::into),
        ..RunOptions::default()
    };
    if !args.json {
        println!("{}", describe(&s, opts.backend.unwrap_or(s.sim.backend)));
    }
    let (bar, mut progress) = progress_bar();
    let report = run(&s, "vassa demo", &opts, &mut progress);
    bar.finish_and_clear();
    let mut report = report?;
    report.checks.extend(demo_checks(&report));
    finish(&report, args.json)
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
        let msgs: u64 = s
            .traffic
            .iter()
            .filter(|t| t.channel == c.name)
            .map(|t| t.messages)
            .sum();
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
