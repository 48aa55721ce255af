//! `vassa synth --board xem6010|cu --out DIR`: a board's synthesis flow with progress and a
//! final report (tables, or JSON for scripts).

use crate::params::ParamArgs;
use crate::{say, Failure};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;
use vassa_bsp::report::{FlowReport, Progress};
use vassa_spec::params::CoreParams;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Board {
    /// Opal Kelly XEM6010 (Spartan-6 xc6slx45): ISE 14.7 project; xtclsh when ISE is found,
    /// otherwise yosys utilization.
    Xem6010,
    /// Alchitry Cu (iCE40-HX8K): yosys → nextpnr-ice40 → icepack, bitstream and timing.
    Cu,
}

#[derive(clap::Args)]
pub struct SynthArgs {
    /// The board to build for.
    #[arg(long, value_enum)]
    board: Board,
    /// Directory for the project, the tools' logs and the bitstream.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Card memory in bytes: XEM6010 a power of two from 4096 to 131072 (default 65536; block
    /// RAM beside the core); the Cu's is fixed at 4096.
    #[arg(long, value_name = "BYTES", value_parser = crate::flags::whole_u64, allow_negative_numbers = true)]
    mem_bytes: Option<u64>,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    params: ParamArgs,
}

/// A checked `synth`.
pub struct SynthJob {
    board: Board,
    out: PathBuf,
    mem_bytes: usize,
    json: bool,
    params: CoreParams,
}

pub fn prepare(args: &SynthArgs) -> Result<SynthJob, Failure> {
    let mem_bytes = match (args.board, args.mem_bytes) {
        (Board::Xem6010, None) => vassa_rtl::board::XEM6010_MEM_BYTES,
        (Board::Cu, None) => vassa_bsp::cu::CU_MEM_BYTES,
        (board, Some(bytes)) => match board {
            Board::Xem6010 => vassa_bsp::xem6010::check_mem_bytes(bytes),
            Board::Cu => vassa_bsp::cu::check_mem_bytes(bytes),
        }
        .map_err(|why| Failure::usage(format!("--mem-bytes {bytes}: {why}")))?,
    };
    let params = args.params.params()?;
    crate::paths::check_out_dir("--out", &args.out)?;
    Ok(SynthJob {
        board: args.board,
        out: args.out.clone(),
        mem_bytes,
        json: args.json,
        params,
    })
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] step {pos}/{len}: {msg}")
            .expect("valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

pub fn synth(job: &SynthJob) -> Result<(), Failure> {
    let bar = progress_bar(0);
    let on_progress = |p: Progress| match p {
        Progress::Started { step, index, total } => {
            bar.set_length(total as u64);
            bar.set_position(index as u64 - 1);
            bar.set_message(step);
        }
        Progress::Finished { step, seconds } => {
            bar.println(format!("  {step}: {seconds:.1} s"));
            bar.inc(1);
        }
    };
    let report: Result<FlowReport, String> = match job.board {
        Board::Xem6010 => vassa_bsp::xem6010::synth(
            &job.out,
            &job.params,
            job.mem_bytes,
            &vassa_bsp::ise::Tools::from_env(),
            on_progress,
        ),
        Board::Cu => vassa_bsp::cu::synth_cu(&job.out, &job.params, on_progress),
    };
    bar.finish_and_clear();
    let report = report.map_err(Failure::failed)?;
    if job.json {
        let json =
            serde_json::to_string_pretty(&report).map_err(|e| Failure::failed(e.to_string()))?;
        say(&format!("{json}\n"))
    } else {
        say(&report.to_table())
    }
}
