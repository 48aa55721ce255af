//! `vassa`: generate and check the VASSA interface core, run networks of cards on scenario
//! files (`sim`) and the demo, and benchmark.
//!
//! A command line is read ([`parse`]) and checked with every file and directory it names
//! ([`prepare`]) before any long work starts ([`execute`]), so that a mistake is reported at
//! once as one [`Failure`] line with its exit status ([`status`]). The split also lets tests
//! check command lines in-process without starting a simulation or a synthesis run.

mod flags;
mod gen;
mod params;
mod paths;
mod run;
mod synth;

use clap::{CommandFactory, Parser, Subcommand};
use std::ffi::OsString;
use std::fmt;

/// Exit statuses (README, "Errors and exit status").
pub mod status {
    /// A bad file (missing, unreadable, unwritable, or wrong inside), or a run that failed.
    pub const FAILED: i32 = 1;
    /// Bad flags: unknown or missing, a malformed or out-of-range value, or flags that do not
    /// go together or with the file they are given with.
    pub const USAGE: i32 = 2;
    /// A run whose checks did not all hold.
    pub const CHECKS_FAILED: i32 = 3;
}

/// Why a command did not run or did not succeed: one line for stderr and the exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub status: i32,
    pub message: String,
}

impl Failure {
    /// Bad flags ([`status::USAGE`]).
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            status: status::USAGE,
            message: message.into(),
        }
    }

    /// A bad file or a failed run ([`status::FAILED`]).
    pub(crate) fn failed(message: impl Into<String>) -> Failure {
        Failure {
            status: status::FAILED,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    /// The message on one line: tools' messages may span several.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let lines: Vec<&str> = self
            .message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // Control characters quoted from a file or a flag are shown escaped, not obeyed.
        for c in lines.join("; ").chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Writes `text` on stdout: a closed or full stdout (`vassa … | head -1`) ends the command
/// with an error, not a panic as `print!` would.
pub(crate) fn say(text: &str) -> Result<(), Failure> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| Failure::failed(format!("cannot write to stdout: {}", paths::reason(&e))))
}

/// `text` whole if it has at most `max` characters, else its first `max`, `…` and its length:
/// a value echoed in an error may be a whole file's worth.
pub(crate) fn clip(text: &str, max: usize) -> String {
    let chars = text.chars().count();
    if chars <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}… ({chars} characters)")
}

#[derive(Parser)]
#[command(
    name = "vassa",
    version,
    about = "VASSA memory-mapped network interface generator",
    // A missing subcommand is an error of one line, not the help text.
    arg_required_else_help = false
)]
pub struct Cli {
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
    Gen(gen::GenArgs),
    /// Build a board image: the XEM6010's ISE project (yosys utilization without ISE) or the
    /// Alchitry Cu's bitstream through the open iCE40 flow, with a resource and timing report.
    Synth(synth::SynthArgs),
    /// Run benchmarks and print markdown tables (see BENCHMARKS.md).
    #[command(subcommand, arg_required_else_help = false)]
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
    #[arg(long, value_name = "N", value_parser = flags::positive_u64, allow_negative_numbers = true)]
    cycles: Option<u64>,
}

/// What [`parse`] read.
pub enum Parsed {
    /// A command to [`prepare`].
    Run(Cli),
    /// `--help` or `--version`: print it and exit 0.
    Info(clap::Error),
}

/// Reads a command line (its first item is the program name).
pub fn parse<I, T>(args: I) -> Result<Parsed, Failure>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => Ok(Parsed::Run(cli)),
        Err(e) if !e.use_stderr() => Ok(Parsed::Info(e)),
        Err(e) => Err(flags::usage_failure(&e, &command_path(&args))),
    }
}

/// "vassa bench sim" for `vassa bench sim --cycles 0`: the subcommands the arguments start
/// with (clap's errors do not all say which one they are about).
fn command_path(args: &[OsString]) -> String {
    let mut command = Cli::command();
    let mut path = vec!["vassa".to_string()];
    for arg in args.iter().skip(1) {
        let Some(sub) = arg
            .to_str()
            .and_then(|a| command.find_subcommand(a))
            .cloned()
        else {
            break;
        };
        path.push(sub.get_name().to_string());
        command = sub;
    }
    path.join(" ")
}

/// A checked command, ready to run.
pub struct Job(JobKind);

enum JobKind {
    Demo(run::DemoJob),
    Sim(run::SimJob),
    Gen(gen::GenJob),
    Synth(synth::SynthJob),
    BenchSim(vassa_sim::bench::Options),
    BenchChannels { quick: bool },
}

/// Checks a command and everything it names — flag values, the files it reads, the
/// directories it writes — and reads its input files, all before any long work. Creates
/// nothing (a writable directory is tried with a file it removes at once).
pub fn prepare(cli: &Cli) -> Result<Job, Failure> {
    let kind = match &cli.command {
        Command::Demo(args) => JobKind::Demo(run::prepare_demo(args)?),
        Command::Sim(args) => JobKind::Sim(run::prepare_sim(args)?),
        Command::Gen(args) => JobKind::Gen(gen::prepare(args)?),
        Command::Synth(args) => JobKind::Synth(synth::prepare(args)?),
        Command::Bench(BenchCommand::Sim(args)) => {
            use vassa_sim::bench::Options;
            let mut options = if args.quick {
                Options::quick()
            } else {
                Options::full()
            };
            if let Some(c) = args.cycles {
                options.verilator_cycles = c;
            }
            JobKind::BenchSim(options)
        }
        Command::Bench(BenchCommand::Channels(args)) => {
            JobKind::BenchChannels { quick: args.quick }
        }
    };
    Ok(Job(kind))
}

/// Runs a prepared command; `Ok` is its exit status (0, or [`status::CHECKS_FAILED`]).
pub fn execute(job: Job) -> Result<i32, Failure> {
    match job.0 {
        JobKind::Demo(job) => run::demo(job),
        JobKind::Sim(job) => run::sim(job),
        JobKind::Gen(job) => gen::gen(&job).map(|()| 0),
        JobKind::Synth(job) => synth::synth(&job).map(|()| 0),
        JobKind::BenchSim(options) => say(&vassa_sim::bench::run(options).markdown()).map(|()| 0),
        JobKind::BenchChannels { quick } => say(&vassa_harness::bench::channels(quick)).map(|()| 0),
    }
}

/// The whole command: parse, prepare, execute; prints an error on stderr and returns the
/// exit status.
pub fn main<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let result = parse(args).and_then(|parsed| match parsed {
        Parsed::Run(cli) => prepare(&cli).and_then(execute),
        Parsed::Info(info) => {
            let _ = info.print();
            Ok(0)
        }
    });
    result.unwrap_or_else(|failure| {
        eprintln!("vassa: error: {failure}");
        failure.status
    })
}
