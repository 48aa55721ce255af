//! `vassa synth --board cu --out DIR`: a board's synthesis flow with progress and a
//! final report (tables, or JSON for scripts).

use crate::ParamArgs;
use anyhow::{anyhow, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;
use vassa_bsp::report::{FlowReport, Progress};

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Board {
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
