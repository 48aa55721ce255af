//! `vassa gen`: the core's Verilog and parameters report, the generated docs, the boards' pin
//! files.

use crate::params::ParamArgs;
use crate::paths::{check_out_dir, write_file};
use crate::{say, Failure};
use std::path::PathBuf;
use vassa_harness::scenario::reference;
use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
use vassa_spec::params::CoreParams;

#[derive(clap::Args)]
pub struct GenArgs {
    /// Directory for vassa_core.v and params.txt.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Directory for the generated markdown (register map, packet format, parameters, host link,
    /// scenario-file reference).
    #[arg(long, value_name = "DIR")]
    docs: Option<PathBuf>,
    /// Directory for the boards' pin constraints (UCF, PCF), generated from the board tops.
    #[arg(long, value_name = "DIR")]
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

/// A checked `gen`: its parameters and directories.
pub struct GenJob {
    params: CoreParams,
    out: Option<PathBuf>,
    docs: Option<PathBuf>,
    constraints: Option<PathBuf>,
    lint: bool,
    synth: bool,
    place: bool,
}

pub fn prepare(args: &GenArgs) -> Result<GenJob, Failure> {
    if args.out.is_none() && args.docs.is_none() && args.constraints.is_none() {
        return Err(Failure::usage(
            "gen has nothing to do: give --out DIR, --docs DIR and/or --constraints DIR \
             (see vassa gen --help)",
        ));
    }
    let params = args.params.params()?;
    for (flag, dir) in [
        ("--out", &args.out),
        ("--docs", &args.docs),
        ("--constraints", &args.constraints),
    ] {
        if let Some(dir) = dir {
            check_out_dir(flag, dir)?;
        }
    }
    Ok(GenJob {
        params,
        out: args.out.clone(),
        docs: args.docs.clone(),
        constraints: args.constraints.clone(),
        lint: args.lint,
        synth: args.synth,
        place: args.place,
    })
}

pub fn gen(job: &GenJob) -> Result<(), Failure> {
    if let Some(dir) = &job.constraints {
        for (name, text) in vassa_bsp::constraints::all() {
            write_file(dir, name, &text)?;
        }
    }
    if let Some(dir) = &job.docs {
        for (name, text) in vassa_spec::docs::all_docs() {
            write_file(dir, name, &text)?;
        }
        write_file(dir, reference::FILE_NAME, &reference::markdown())?;
    }
    if let Some(dir) = &job.out {
        let verilog = vassa_rtl::core::core_verilog(&job.params);
        write_file(dir, "vassa_core.v", &verilog)?;
        let mut report = job.params.report();
        // The tools' own errors (a missing verilator, a failed synthesis) are a failed run.
        if job.lint {
            vassa_hdl_tools::hwcheck::verilator_lint(&verilog, "vassa_core")
                .map_err(Failure::failed)?;
            say("verilator --lint-only -Wall: clean (waivers: rtl/lint/verilator_waivers.vlt)\n")?;
            report += "\nverilator --lint-only -Wall: clean\n";
        }
        if job.synth {
            report += "\nyosys synthesis (no latches):\n";
            for (family, name) in [(Family::Xc6s, "xc6s (Spartan-6)"), (Family::Ice40, "ice40")] {
                let r = yosys_synth(&verilog, "vassa_core", family).map_err(Failure::failed)?;
                let line = format!(
                    "  {name:<18} LUTs {:>6}  flip-flops {:>6}  block RAMs {:>3}  LUT RAMs {:>3}\n",
                    r.luts, r.flip_flops, r.block_rams, r.lut_rams
                );
                say(&line)?;
                report += &line;
            }
        }
        if job.place {
            let r = vassa_hdl_tools::hwcheck::ice40_place(&verilog, "vassa_core")
                .map_err(Failure::failed)?;
            let text = place_summary(&r);
            say(&text)?;
            report += &text;
            write_file(dir, "critical_path.txt", &r.critical_path)?;
        }
        write_file(dir, "params.txt", &report)?;
    }
    Ok(())
}

/// What `gen --place` prints: use, fmax against the target, the critical path's ends.
fn place_summary(r: &vassa_hdl_tools::hwcheck::PlaceReport) -> String {
    use vassa_hdl_tools::hwcheck::PLACE_TARGET_MHZ;
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
