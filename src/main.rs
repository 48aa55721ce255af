//! `vassa`: generate and check the VASSA interface core, run networks of cards on scenario
//! files (`sim`) and the demo, and benchmark.

mod run;
mod synth;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use vassa_rtl::hwcheck::{yosys_synth, Family};
use vassa_rtl::spec::params::CoreParams;

#[derive(Parser)]
#[command(
    name = "vassa",
    version,
    about = "VASSA memory-mapped network interface generator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The main job: three cards run a multicast and a unicast channel with misses and
    /// faults; prints what happened and exits 0 only if every check held.
    Demo(run::DemoArgs),
    /// Run a scenario file (cards, channels, traffic, faults) and report.
    Sim(run::SimArgs),
    /// Write the core's Verilog and a parameters report, and/or the generated docs.
    Gen(GenArgs),
    /// Build a board image: the XEM6010's ISE project (yosys utilization without ISE) or the
    /// Alchitry Cu's bitstream through the open iCE40 flow, with a resource and timing report.
    Synth(synth::SynthArgs),
    /// Run benchmarks and print markdown tables (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Simulator speed, link efficiency, one-way latency and the RX miss path, measured on the
    /// Verilated core (and rust-hdl's simulation of it, for speed).
    Sim(BenchSimArgs),
    /// The channel API: host CPU per send on the model backend, end-to-end messages per second
    /// on the model and the Verilated cards.
    Channels(BenchChannelsArgs),
}

#[derive(clap::Args)]
struct BenchChannelsArgs {
    /// A short run (under a second instead of about 25 s).
    #[arg(long)]
    quick: bool,
}

#[derive(clap::Args)]
struct BenchSimArgs {
    /// A short run (fewer simulated cycles for the speed table; seconds instead of a minute).
    #[arg(long)]
    quick: bool,
    /// Cycles of the Verilator speed runs (overrides --quick's and the default 2,000,000).
    #[arg(long)]
    cycles: Option<u64>,
}

#[derive(clap::Args)]
struct GenArgs {
    /// Directory for vassa_core.v and params.txt.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory for the generated markdown (register map, packet format, parameters).
    #[arg(long)]
    docs: Option<PathBuf>,
    /// Directory for the boards' pin constraints (UCF, PCF), generated from the board tops.
    #[arg(long)]
    constraints: Option<PathBuf>,
    #[command(flatten)]
    params: ParamArgs,
    /// Lint the generated core with `verilator --lint-only -Wall` (documented waivers only).
    #[arg(long, requires = "out")]
    lint: bool,
    /// Synthesize the core with yosys for Spartan-6 (xc6s) and iCE40 and report resource use.
    #[arg(long, requires = "out")]
    synth: bool,
    /// Place and route the core alone on an iCE40-HX8K (nextpnr-ice40, 100 MHz target) and
    /// report logic cells, block RAMs and fmax; the critical path goes to critical_path.txt.
    #[arg(long, requires = "out")]
    place: bool,
}

/// Generator parameters: a TOML file, then flags that override it.
#[derive(clap::Args)]
pub struct ParamArgs {
    /// TOML file of generator parameters; flags below override it.
    #[arg(long = "params")]
    file: Option<PathBuf>,
    #[arg(long)]
    tx_cache_entries: Option<u32>,
    #[arg(long)]
    rx_cache_entries: Option<u32>,
    #[arg(long)]
    line_bytes: Option<u32>,
    #[arg(long)]
    max_payload: Option<u32>,
    #[arg(long)]
    miss_buffer_packets: Option<u32>,
    #[arg(long)]
    counter_slots: Option<u32>,
}

impl ParamArgs {
    pub fn params(&self) -> Result<CoreParams> {
        let mut p = match &self.file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                CoreParams::from_toml(&text).with_context(|| format!("{}", path.display()))?
            }
            None => CoreParams::default(),
        };
        let overrides = [
            (&mut p.tx_cache_entries, self.tx_cache_entries),
            (&mut p.rx_cache_entries, self.rx_cache_entries),
            (&mut p.line_bytes, self.line_bytes),
            (&mut p.max_payload, self.max_payload),
            (&mut p.miss_buffer_packets, self.miss_buffer_packets),
            (&mut p.counter_slots, self.counter_slots),
        ];
        for (field, value) in overrides {
            if let Some(v) = value {
                *field = v;
            }
        }
        p.validate().context("invalid generator parameters")?;
        Ok(p)
    }
}

fn write_file(dir: &Path, name: &str, text: &str) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn gen(args: &GenArgs) -> Result<()> {
    let params = args.params.params()?;
    if args.out.is_none() && args.docs.is_none() && args.constraints.is_none() {
        bail!("nothing to do: give --out DIR, --docs DIR and/or --constraints DIR");
    }
    if let Some(dir) = &args.constraints {
        for (name, text) in vassa_bsp::constraints::all() {
            write_file(dir, name, &text)?;
        }
    }
    if let Some(dir) = &args.docs {
        for (name, text) in vassa_rtl::spec::docs::all_docs() {
            write_file(dir, name, &text)?;
        }
    }
    if let Some(dir) = &args.out {
        let verilog = vassa_rtl::core::core_verilog(&params);
        write_file(dir, "vassa_core.v", &verilog)?;
        let mut report = params.report();
        if args.lint {
            vassa_rtl::hwcheck::verilator_lint(&verilog, "vassa_core")
                .map_err(|e| anyhow::anyhow!(e))?;
            println!(
                "verilator --lint-only -Wall: clean (waivers: rtl/lint/verilator_waivers.vlt)"
            );
            report += "\nverilator --lint-only -Wall: clean\n";
        }
        if args.synth {
            report += "\nyosys synthesis (no latches):\n";
            for (family, name) in [(Family::Xc6s, "xc6s (Spartan-6)"), (Family::Ice40, "ice40")] {
                let r =
                    yosys_synth(&verilog, "vassa_core", family).map_err(|e| anyhow::anyhow!(e))?;
                let line = format!(
                    "  {name:<18} LUTs {:>6}  flip-flops {:>6}  block RAMs {:>3}  LUT RAMs {:>3}\n",
                    r.luts, r.flip_flops, r.block_rams, r.lut_rams
                );
                print!("{line}");
                report += &line;
            }
        }
        if args.place {
            let r = vassa_rtl::hwcheck::ice40_place(&verilog, "vassa_core")
                .map_err(|e| anyhow::anyhow!(e))?;
            let text = place_summary(&r);
            print!("{text}");
            report += &text;
            write_file(dir, "critical_path.txt", &r.critical_path)?;
        }
        write_file(dir, "params.txt", &report)?;
    }
    Ok(())
}

/// What `gen --place` prints: use, fmax against the target, the critical path's ends.
fn place_summary(r: &vassa_rtl::hwcheck::PlaceReport) -> String {
    use vassa_rtl::hwcheck::PLACE_TARGET_MHZ;
    let fmax = r
        .fmax()
        .map_or("no clock timed".to_string(), |f| format!("{f:.1} MHz"));
    // nextpnr names a path's cells after the registers they implement.
    let cell = |line: Option<&str>| {
        line.and_then(|l| l.split_whitespace().last())
            .unwrap_or("?")
            .to_string()
    };
    let path = &r.critical_path;
    let from = cell(path.lines().find(|l| l.contains("Source")));
    let to = cell(path.lines().rfind(|l| l.contains("Setup")));
    let ((lc, lc_avail), (ram, ram_avail)) = (r.logic_cells, r.block_rams);
    format!(
        "\niCE40-HX8K place and route (the core alone, its ports in a 2-pin harness; counts \
         include the harness's ~130 cells):\n  logic cells {lc} of {lc_avail} ({:.0} %), block \
         RAMs {ram} of {ram_avail}, fmax {fmax} (goal {PLACE_TARGET_MHZ} MHz)\n  critical path \
         from {from}\n                to {to} (critical_path.txt)\n",
        100.0 * lc as f64 / lc_avail.max(1) as f64,
    )
}

fn bench_sim(args: &BenchSimArgs) -> Result<()> {
    use vassa_sim::bench;
    let mut options = if args.quick {
        bench::Options::quick()
    } else {
        bench::Options::full()
    };
    if let Some(c) = args.cycles {
        if c == 0 {
            bail!("--cycles must be at least 1");
        }
        options.verilator_cycles = c;
    }
    print!("{}", bench::run(options).markdown());
    Ok(())
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line, like every other error: clap's first line without its prefix.
            let text = e.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = first.join(" ");
            let first = first.trim_start_matches("error: ");
            eprintln!("vassa: error: {first} (see vassa --help)");
            std::process::exit(2);
        }
    };
    let result = match &cli.command {
        Command::Demo(args) => run::demo(args),
        Command::Sim(args) => run::sim(args),
        Command::Gen(args) => gen(args).map(|()| 0),
        Command::Synth(args) => synth::synth(args).map(|()| 0),
        Command::Bench(BenchCommand::Sim(args)) => bench_sim(args).map(|()| 0),
        Command::Bench(BenchCommand::Channels(args)) => {
            print!("{}", vassa_driver::bench::channels(args.quick));
            Ok(0)
        }
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("vassa: error: {e:#}");
            std::process::exit(1);
        }
    }
}
