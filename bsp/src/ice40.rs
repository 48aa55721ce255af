//! The open iCE40 flow: rust-hdl Verilog and PCF → yosys `synth_ice40` → `nextpnr-ice40` →
//! `icepack`, with every step's log kept in the output directory and the results parsed into a
//! [`FlowReport`].
//!
//! Files in the output directory: `top.v`, `top.pcf`, `yosys.log`, `yosys_stat.txt`,
//! `top.json` (netlist), `nextpnr.log`, `nextpnr_report.json`, `top.asc`, `icepack.log` and
//! the bitstream `top.bin`. Place and route runs with `--timing-allow-fail`: a clock that
//! misses its target is reported (with its critical path), not an error.

use crate::report::{ClockReport, FlowReport, OutputFile, Progress, Utilization};
use rust_hdl::core::check_error::check_all;
use rust_hdl::fpga::toolchains::icestorm::generate_pcf;
use rust_hdl::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use vassa_hdl_tools::hwcheck::{critical_path, NextpnrReport, SynthReport};

/// An iCE40 device in a package, as nextpnr names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ice40Part {
    /// nextpnr's device flag without dashes: `hx8k`.
    pub device: &'static str,
    pub package: &'static str,
    /// Logic cells (a LUT4 and a flip-flop each).
    pub logic_cells: u64,
    /// 4-kbit block RAMs (SB_RAM40_4K).
    pub block_rams: u64,
    /// User I/O pins of the package.
    pub io_pins: u64,
}

/// The Alchitry Cu's FPGA: iCE40-HX8K in the cb132 package (95 user I/Os).
pub const HX8K_CB132: Ice40Part = Ice40Part {
    device: "hx8k",
    package: "cb132",
    logic_cells: 7680,
    block_rams: 32,
    io_pins: 95,
};

impl Ice40Part {
    /// E.g. "iCE40-HX8K cb132".
    pub fn name(&self) -> String {
        format!("iCE40-{} {}", self.device.to_uppercase(), self.package)
    }
}

/// The steps of the flow, in order, as [`Progress`] names them.
pub const STEPS: [&str; 4] = ["generate", "synthesize", "place and route", "pack"];

/// Runs the flow on `top` (its pins constrained with rust-hdl `add_location`) into `out_dir`
/// for `part` with every clock targeted at `target_mhz`. Errors name the step that failed and
/// its log file.
pub fn run_flow<B: Block>(
    mut top: B,
    out_dir: &Path,
    part: &Ice40Part,
    target_mhz: f64,
    mut progress: impl FnMut(Progress),
) -> Result<FlowReport, String> {
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mut report = FlowReport {
        part: part.name(),
        flow: "yosys synth_ice40 → nextpnr-ice40 → icepack".into(),
        ..Default::default()
    };
    let progress: &mut dyn FnMut(Progress) = &mut progress;

    // 1. Verilog and pin constraints.
    report.step(&STEPS, 0, progress, |_| {
        top.connect_all();
        check_all(&top).map_err(|e| format!("the design does not check: {e:?}"))?;
        write(out_dir, "top.v", &generate_verilog(&top))?;
        write(out_dir, "top.pcf", &generate_pcf(&top))?;
        Ok((
            "rust-hdl generate_verilog, generate_pcf".into(),
            String::new(),
        ))
    })?;

    // 2. Synthesis.
    let mut synth = SynthReport::default();
    report.step(&STEPS, 1, progress, |_| {
        let script = "read_verilog top.v; synth_ice40 -top top -json top.json; \
                      tee -q -o yosys_stat.txt stat";
        let ran = run_tool(out_dir, "yosys", &["-p", script], "yosys.log")?;
        let log = read(out_dir, "yosys.log")?;
        synth = SynthReport::from_stat(&read(out_dir, "yosys_stat.txt")?);
        if log.contains("Latch inferred") || synth.latches > 0 {
            return Err(format!(
                "latches inferred; see {}",
                out_dir.join("yosys.log").display()
            ));
        }
        Ok(ran)
    })?;

    // 3. Place and route.
    report.step(&STEPS, 2, progress, |_| {
        let freq = format!("{target_mhz}");
        let device = format!("--{}", part.device);
        run_tool(
            out_dir,
            "nextpnr-ice40",
            &[
                &device,
                "--package",
                part.package,
                "--pcf",
                "top.pcf",
                "--json",
                "top.json",
                "--asc",
                "top.asc",
                "--freq",
                &freq,
                "--timing-allow-fail",
                "--report",
                "nextpnr_report.json",
            ],
            "nextpnr.log",
        )
        .map_err(|e| {
            // Packing reports the device use before placement: say what did not fit.
            let log = std::fs::read_to_string(out_dir.join("nextpnr.log")).unwrap_or_default();
            let packed: Vec<String> = packed_utilisation(&log)
                .iter()
                .filter(|(_, used, _)| *used > 0)
                .map(|(cell, used, available)| {
                    let pct = 100.0 * *used as f64 / (*available).max(1) as f64;
                    format!("{cell} {used}/{available} ({pct:.0} %)")
                })
                .collect();
            format!(
                "{e}\npacked design: {}\nsynthesis: {} SB_LUT4, {} flip-flops, {} SB_RAM40_4K",
                if packed.is_empty() {
                    "-".to_string()
                } else {
                    packed.join(", ")
                },
                synth.luts,
                synth.flip_flops,
                synth.block_rams,
            )
        })
    })?;
    let pnr_json = read(out_dir, "nextpnr_report.json")?;
    let pnr_log = read(out_dir, "nextpnr.log")?;
    let pnr = NextpnrReport::parse(&pnr_json)?;

    // 4. Bitstream.
    report.step(&STEPS, 3, progress, |_| {
        run_tool(out_dir, "icepack", &["top.asc", "top.bin"], "icepack.log")
    })?;

    let (lc, lc_avail) = pnr.cell("ICESTORM_LC").unwrap_or((0, part.logic_cells));
    let (ram, ram_avail) = pnr.cell("ICESTORM_RAM").unwrap_or((0, part.block_rams));
    let (io, _) = pnr.cell("SB_IO").unwrap_or((0, 0));
    let (gb, gb_avail) = pnr.cell("SB_GB").unwrap_or((0, 8));
    report.utilization = vec![
        Utilization::new("logic cells (ICESTORM_LC)", lc, lc_avail),
        Utilization::new("LUT4 (SB_LUT4)", synth.luts as u64, part.logic_cells),
        Utilization::new(
            "flip-flops (SB_DFF*)",
            synth.flip_flops as u64,
            part.logic_cells,
        ),
        Utilization::new("block RAM (ICESTORM_RAM, 4 kbit)", ram, ram_avail),
        Utilization::new("I/O pins (SB_IO)", io, part.io_pins),
        Utilization::new("global buffers (SB_GB)", gb, gb_avail),
    ];
    report.clocks = clock_reports(&pnr, target_mhz);
    let missed: Vec<String> = report
        .clocks
        .iter()
        .filter(|c| !c.met)
        .filter_map(|c| critical_path(&pnr_log, &c.net))
        .collect();
    if !missed.is_empty() {
        report.critical_path = Some(missed.join("\n\n"));
    }
    for (kind, file) in [
        ("bitstream", "top.bin"),
        ("verilog", "top.v"),
        ("constraints", "top.pcf"),
        ("netlist", "top.json"),
        ("placed and routed", "top.asc"),
        ("timing and utilization (nextpnr)", "nextpnr_report.json"),
    ] {
        report
            .outputs
            .push(OutputFile::of(kind, &out_dir.join(file)));
    }
    Ok(report)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn read(dir: &Path, name: &str) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Runs one tool in `dir` with stdout and stderr to `log`; returns the command line and the
/// log's path, or an error naming the tool, the log and its last lines.
fn run_tool(dir: &Path, tool: &str, args: &[&str], log: &str) -> Result<(String, String), String> {
    let log_path: PathBuf = dir.join(log);
    let file = File::create(&log_path)
        .map_err(|e| format!("cannot create {}: {e}", log_path.display()))?;
    let err_file = file
        .try_clone()
        .map_err(|e| format!("{}: {e}", log_path.display()))?;
    let status = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(file)
        .stderr(err_file)
        .status()
        .map_err(|e| format!("cannot run {tool}: {e} (install it with scripts/setup-tools.sh)"))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!(
            "{tool} failed ({status}); see {}\n{}",
            log_path.display(),
            tail.join("\n")
        ));
    }
    Ok((
        format!("{tool} {}", args.join(" ")),
        log_path.display().to_string(),
    ))
}

/// The clocks of nextpnr's report as the flow reports them. A clock's name is its net up to
/// the first `$` (`clock$SB_IO_IN_$glb_clk` is `clock`); it met timing if it reached
/// `target_mhz` (or the constraint nextpnr recorded).
pub fn clock_reports(pnr: &NextpnrReport, target_mhz: f64) -> Vec<ClockReport> {
    pnr.clocks
        .iter()
        .map(|c| {
            let target = c.constraint_mhz.unwrap_or(target_mhz);
            ClockReport {
                name: c.net.split('$').next().unwrap_or(&c.net).to_string(),
                net: c.net.clone(),
                target_mhz: target,
                achieved_mhz: c.achieved_mhz,
                met: c.achieved_mhz.is_some_and(|a| a >= target),
            }
        })
        .collect()
}

/// The "Device utilisation" table nextpnr prints after packing (the last one in the log):
/// (cell type, used, available). Present even when placement then fails.
pub fn packed_utilisation(log: &str) -> Vec<(String, u64, u64)> {
    let lines: Vec<&str> = log.lines().collect();
    let Some(start) = lines
        .iter()
        .rposition(|l| l.contains("Device utilisation:"))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for l in &lines[start + 1..] {
        let l = l.strip_prefix("Info:").unwrap_or(l).trim();
        let Some((cell, rest)) = l.split_once(':') else {
            break;
        };
        let mut nums = rest
            .split(|c: char| c == '/' || c.is_whitespace())
            .filter(|w| !w.is_empty());
        match (
            nums.next().and_then(|w| w.parse().ok()),
            nums.next().and_then(|w| w.parse().ok()),
        ) {
            (Some(used), Some(available)) => out.push((cell.trim().to_string(), used, available)),
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{"critical_paths": [], "fmax": {"clock$SB_IO_IN_$glb_clk":
        {"achieved": 87.5, "constraint": 100}}, "utilization": {"ICESTORM_LC": {"available":
        7680, "used": 43}, "ICESTORM_RAM": {"available": 32, "used": 4}, "SB_IO": {"available":
        256, "used": 11}}}"#;

    #[test]
    fn clocks_are_named_and_judged_against_their_target() {
        let r = NextpnrReport::parse(REPORT).unwrap();
        let clocks = clock_reports(&r, 100.0);
        assert_eq!(clocks.len(), 1);
        let c = &clocks[0];
        assert_eq!(
            (c.name.as_str(), c.achieved_mhz, c.met),
            ("clock", Some(87.5), false)
        );
    }

    #[test]
    fn reads_the_packed_device_use_from_the_log() {
        let log = "Info: Device utilisation:\nInfo: \t         ICESTORM_LC:  8736/ 7680   113%\n\
                   Info: \t        ICESTORM_RAM:    55/   32   171%\n\nInfo: Placed 11 cells\n";
        assert_eq!(
            packed_utilisation(log),
            [
                ("ICESTORM_LC".to_string(), 8736, 7680),
                ("ICESTORM_RAM".to_string(), 55, 32)
            ]
        );
        assert!(packed_utilisation("nothing").is_empty());
    }
}
