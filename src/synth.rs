//! `vassa synth --board xem6010|cu --out DIR`: a board's synthesis flow with progress and a
//! final report (tables, or JSON for scripts).

use crate::ParamArgs;
use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;
use vassa_bsp::report::{FlowReport, Progress};

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
    #[arg(long)]
    out: PathBuf,
    /// XEM6010 card memory in bytes (a power of two, at least 4096; default 64 KiB).
    #[arg(long)]
    mem_bytes: Option<usize>,
    /// Print the report as JSON on stdout (progress stays on stderr).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    params: ParamArgs,
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

pub fn synth(args: &SynthArgs) -> Result<()> {
    let params = args.params.params()?;
    if let Some(bytes) = args.mem_bytes {
        if !bytes.is_power_of_two() || bytes < 4096 {
            anyhow::bail!("--mem-bytes must be a power of two of at least 4096, not {bytes}");
        }
    }
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
    let report: Result<FlowReport, String> = match args.board {
        Board::Xem6010 => vassa_bsp::xem6010::synth(
            &args.out,
            &params,
            args.mem_bytes
                .unwrap_or(vassa_rtl::board::XEM6010_MEM_BYTES),
            &vassa_bsp::ise::Tools::from_env(),
            on_progress,
        ),
        Board::Cu if args.mem_bytes.is_some() => Err(format!(
            "--mem-bytes is for the xem6010: the Cu's card memory is fixed at {} KiB",
            vassa_bsp::cu::CU_MEM_BYTES / 1024
        )),
        Board::Cu => vassa_bsp::cu::synth_cu(&args.out, &params, on_progress),
    };
    bar.finish_and_clear();
    let report = report.map_err(|e| anyhow!(e))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_table());
    }
    Ok(())
}
