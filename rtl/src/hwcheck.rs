//! External hardware checks on generated Verilog: Verilator lint and yosys synthesis reports.
//!
//! Used by the test suite and by `vassa gen --lint`. Each call works in its own temporary
//! directory so tests can run in parallel.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Verilator configuration holding every lint waiver, each with its reason.
pub const VERILATOR_WAIVERS: &str = include_str!("../lint/verilator_waivers.vlt");

fn scratch_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vassa_{tag}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

fn run(cmd: &mut Command, what: &str) -> Result<(String, String), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {what}: {e} (install it with scripts/setup-tools.sh)"))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok((stdout, stderr))
    } else {
        Err(format!("{what} failed:\n{stdout}\n{stderr}"))
    }
}

/// Renames rust-hdl's fixed top module `top` (and its `top$child` sub-modules) to `name`.
pub fn rename_top(verilog: &str, name: &str) -> String {
    verilog
        .replace("module top(", &format!("module {name}("))
        .replace("endmodule // top\n", &format!("endmodule // {name}\n"))
        .replace("top$", &format!("{name}$"))
}

/// `verilator --lint-only -Wall` with only the waivers of [`VERILATOR_WAIVERS`].
pub fn verilator_lint(verilog: &str, top: &str) -> Result<(), String> {
    let dir = scratch_dir("lint");
    std::fs::write(dir.join("waivers.vlt"), VERILATOR_WAIVERS).map_err(|e| e.to_string())?;
    // The file is named after the top module so DECLFILENAME holds for it.
    let file = format!("{top}.v");
    std::fs::write(dir.join(&file), verilog).map_err(|e| e.to_string())?;
    let result = run(
        Command::new("verilator").current_dir(&dir).args([
            "--lint-only",
            "-Wall",
            "--top-module",
            top,
            "waivers.vlt",
            &file,
        ]),
        "verilator --lint-only",
    );
    let _ = std::fs::remove_dir_all(&dir);
    result.map(|_| ())
}

/// FPGA families the open flow synthesizes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Spartan-6 (the XEM6010's xc6slx45), `synth_xilinx -family xc6s`.
    Xc6s,
    /// iCE40 (HX8K), `synth_ice40`.
    Ice40,
}

impl Family {
    fn script(self, top: &str) -> String {
        match self {
            Family::Xc6s => format!("synth_xilinx -family xc6s -flatten -top {top}"),
            Family::Ice40 => format!("synth_ice40 -top {top}"),
        }
    }
}

/// Resource use after synthesis.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SynthReport {
    pub luts: u32,
    pub flip_flops: u32,
    pub block_rams: u32,
    /// Distributed (LUT) RAM primitives (Xilinx `RAM32M`, `RAM64X1D`, ...).
    pub lut_rams: u32,
    pub latches: u32,
    /// Every cell type and count, as yosys printed them.
    pub cells: Vec<(String, u32)>,
}

impl SynthReport {
    /// Parses the cell list of yosys `stat` output.
    pub fn from_stat(stat: &str) -> Self {
        let mut report = SynthReport::default();
        let mut in_cells = false;
        for line in stat.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            if line.contains("Number of cells:") {
                in_cells = true;
                continue;
            }
            if !in_cells || words.len() != 2 {
                in_cells = in_cells && !words.is_empty();
                continue;
            }
            let (cell, count) = (words[0], words[1].parse::<u32>().unwrap_or(0));
            report.cells.push((cell.to_string(), count));
            let upper = cell.to_ascii_uppercase();
            if upper.starts_with("SB_LUT") || upper.starts_with("LUT") {
                report.luts += count;
            } else if upper.starts_with("SB_DFF") || upper.starts_with("FD") {
                report.flip_flops += count;
            } else if upper.starts_with("SB_RAM") || upper.starts_with("RAMB") {
                report.block_rams += count;
            } else if upper.starts_with("RAM") {
                report.lut_rams += count;
            } else if upper.contains("LATCH") || upper.starts_with("LD") {
                report.latches += count;
            }
        }
        report
    }
}

/// Synthesizes `verilog` for `family` and returns the resource report. Fails if yosys fails
/// or if any latch is inferred.
pub fn yosys_synth(verilog: &str, top: &str, family: Family) -> Result<SynthReport, String> {
    let dir = scratch_dir("synth");
    std::fs::write(dir.join("design.v"), verilog).map_err(|e| e.to_string())?;
    let script = format!(
        "read_verilog design.v; {}; tee -q -o stat.txt stat",
        family.script(top)
    );
    let result = run(
        Command::new("yosys")
            .current_dir(&dir)
            .args(["-q", "-l", "yosys.log", "-p", &script]),
        "yosys",
    )
    .and_then(|_| {
        let log = std::fs::read_to_string(dir.join("yosys.log")).unwrap_or_default();
        let stat = std::fs::read_to_string(dir.join("stat.txt")).map_err(|e| e.to_string())?;
        let report = SynthReport::from_stat(&stat);
        if log.contains("Latch inferred") || report.latches > 0 {
            return Err(format!("latches inferred in {top}:\n{stat}"));
        }
        Ok(report)
    });
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTER: &str = "module top(input wire clock, output reg [7:0] q);\n\
        initial q = 0;\nalways @(posedge clock) q <= q + 8'd1;\nendmodule // top\n";

    #[test]
    fn synth_counts_flip_flops() {
        let r = yosys_synth(COUNTER, "top", Family::Ice40).unwrap();
        assert_eq!(r.flip_flops, 8);
        assert!(r.luts > 0);
        let r = yosys_synth(COUNTER, "top", Family::Xc6s).unwrap();
        assert_eq!(r.flip_flops, 8);
    }

    #[test]
    fn synth_rejects_latches() {
        let latch = "module top(input wire en, input wire d, output reg q);\n\
            always @(*) if (en) q = d;\nendmodule\n";
        let err = yosys_synth(latch, "top", Family::Ice40).unwrap_err();
        assert!(err.contains("latch"), "{err}");
    }

    #[test]
    fn lint_catches_real_problems_and_passes_clean_code() {
        verilator_lint(COUNTER, "top").unwrap();
        // An unused input is a real lint warning that no waiver covers.
        let unused = "module top(input wire clock, input wire spare, output reg q);\n\
            initial q = 0;\nalways @(posedge clock) q <= ~q;\nendmodule\n";
        assert!(verilator_lint(unused, "top").is_err());
    }

    #[test]
    fn rename_keeps_submodules_unique() {
        let v = "module top(a);\nendmodule // top\nmodule top$x(a);\nendmodule // top$x\n";
        let r = rename_top(v, "vassa_core");
        assert!(r.contains("module vassa_core(a)") && r.contains("module vassa_core$x(a)"));
        assert!(!r.contains("top"));
    }
}
