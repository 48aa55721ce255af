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

/// A port of a module, as declared in rust-hdl's Verilog (`input wire [7:0] name;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub input: bool,
    pub width: usize,
}

/// The ports of module `top` in `verilog`, in declaration order.
pub fn module_ports(verilog: &str, top: &str) -> Vec<Port> {
    let mut ports = Vec::new();
    let mut inside = false;
    for line in verilog.lines() {
        let line = line.trim();
        if !inside {
            inside = line.starts_with(&format!("module {top}("));
            continue;
        }
        if line.starts_with("endmodule") {
            break;
        }
        let words: Vec<&str> = line.trim_end_matches(';').split_whitespace().collect();
        let input = match words.first() {
            Some(&"input") => true,
            Some(&"output") => false,
            _ => continue,
        };
        let width = words
            .iter()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(":0]")))
            .and_then(|msb| msb.parse::<usize>().ok())
            .map_or(1, |msb| msb + 1);
        if let Some(name) = words.last() {
            ports.push(Port {
                name: name.to_string(),
                input,
                width,
            });
        }
    }
    ports
}

/// Bits of the pseudo-random source that drives a placed module's inputs.
const HARNESS_SOURCE_BITS: usize = 64;

/// Verilog of a module `vassa_place_harness(clk, din, dout)` that instantiates `top` (whose
/// clock input is `clock`) with every other input driven from a 64-bit shift register fed by
/// pin `din` (input bit `i` is shift bit `i % 64`) and every output XOR-folded, four bits per
/// LUT and register per level, into pin `dout`: few pins, every core path between registers.
pub fn place_harness(verilog: &str, top: &str) -> Result<String, String> {
    let ports = module_ports(verilog, top);
    if !ports
        .iter()
        .any(|p| p.input && p.name == "clock" && p.width == 1)
    {
        return Err(format!("module {top} has no 1-bit input `clock`"));
    }
    let n = HARNESS_SOURCE_BITS;
    let mut v = format!(
        "module vassa_place_harness(input wire clk, input wire din, output wire dout);\n\
         reg [{m}:0] src = {n}'h0;\nalways @(posedge clk) src <= {{src[{m2}:0], din}};\n",
        m = n - 1,
        m2 = n - 2
    );
    let mut conns = vec![".clock(clk)".to_string()];
    let (mut next_in, mut outs) = (0usize, Vec::new());
    for p in ports.iter().filter(|p| p.name != "clock") {
        if p.input {
            let bits: Vec<String> = (0..p.width)
                .rev()
                .map(|b| format!("src[{}]", (next_in + b) % n))
                .collect();
            next_in += p.width;
            conns.push(format!(".{}({{{}}})", p.name, bits.join(", ")));
        } else {
            v += &format!("wire [{}:0] o_{};\n", p.width - 1, p.name);
            conns.push(format!(".{0}(o_{0})", p.name));
            outs.extend((0..p.width).map(|b| format!("o_{}[{b}]", p.name)));
        }
    }
    v += &format!("{top} core({});\n", conns.join(", "));
    let mut level = 0;
    while outs.len() > 1 {
        let next: Vec<String> = (0..outs.len().div_ceil(4))
            .map(|i| format!("x{level}[{i}]"))
            .collect();
        v += &format!(
            "reg [{}:0] x{level} = 0;\nalways @(posedge clk) begin\n",
            next.len() - 1
        );
        for (i, group) in outs.chunks(4).enumerate() {
            v += &format!("    x{level}[{i}] <= {};\n", group.join(" ^ "));
        }
        v += "end\n";
        outs = next;
        level += 1;
    }
    let last = outs.pop().ok_or("module has no outputs")?;
    v += &format!("assign dout = {last};\nendmodule\n");
    Ok(v)
}

/// What nextpnr-ice40 reports for a placed and routed design.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceReport {
    /// `ICESTORM_LC` used (LUT4 + flip-flop + carry cells after packing).
    pub logic_cells: u32,
    /// `ICESTORM_RAM` used.
    pub block_rams: u32,
    /// Achieved fmax in MHz per clock, as nextpnr names the clock nets.
    pub fmax_mhz: Vec<(String, f64)>,
    /// nextpnr's critical path report(s), verbatim.
    pub critical_path: String,
}

impl PlaceReport {
    /// Parses nextpnr-ice40's log: the last utilization and fmax lines win (nextpnr prints
    /// them after placement and again after routing).
    pub fn from_log(log: &str) -> Self {
        let mut report = PlaceReport::default();
        let mut critical = Vec::new();
        let (mut in_path, mut batch_done) = (false, false);
        for line in log.lines() {
            // A clock that misses its target is reported after routing as a warning.
            let text = line
                .trim_start_matches("Info:")
                .trim_start_matches("Warning:")
                .trim();
            let count = |t: &str| {
                t.split_whitespace()
                    .nth(1)
                    .and_then(|w| w.trim_end_matches('/').parse::<u32>().ok())
            };
            if text.starts_with("ICESTORM_LC:") {
                report.logic_cells = count(text).unwrap_or(0);
            } else if text.starts_with("ICESTORM_RAM:") {
                report.block_rams = count(text).unwrap_or(0);
            } else if let Some(rest) = text.strip_prefix("Max frequency for clock '") {
                if let Some((clock, tail)) = rest.split_once("': ") {
                    if let Some(mhz) = tail.split_whitespace().next().and_then(|w| w.parse().ok()) {
                        report.fmax_mhz.retain(|(c, _)| c != clock);
                        report.fmax_mhz.push((clock.to_string(), mhz));
                    }
                }
            }
            // A batch of critical path reports is followed by the fmax lines; a later batch
            // (after routing) replaces an earlier one (after placement).
            if text.starts_with("Critical path report for clock") {
                if batch_done {
                    critical.clear();
                    batch_done = false;
                }
                in_path = true;
            } else if in_path && text.is_empty() {
                in_path = false;
            } else if text.starts_with("Max frequency for clock") {
                batch_done = true;
            }
            if in_path {
                critical.push(text.to_string());
            }
        }
        report.critical_path = critical.join("\n");
        report
    }

    /// The lowest fmax over all clocks.
    pub fn fmax(&self) -> Option<f64> {
        self.fmax_mhz.iter().map(|c| c.1).reduce(f64::min)
    }
}

/// Places and routes `verilog` (top module `top`, clock input `clock`) on an iCE40-HX8K in
/// the cb132 package inside [`place_harness`]: yosys `synth_ice40`, then `nextpnr-ice40 --hx8k`
/// with a 100 MHz target (timing failures allowed, so the report shows what was reached).
/// The counts include the harness: 64 source flip-flops and about one logic cell per four
/// output bits.
pub fn ice40_place(verilog: &str, top: &str) -> Result<PlaceReport, String> {
    let harness = place_harness(verilog, top)?;
    let dir = scratch_dir("place");
    let result = (|| {
        std::fs::write(dir.join("design.v"), verilog).map_err(|e| e.to_string())?;
        std::fs::write(dir.join("harness.v"), &harness).map_err(|e| e.to_string())?;
        run(
            Command::new("yosys").current_dir(&dir).args([
                "-q",
                "-l",
                "yosys.log",
                "-p",
                "read_verilog design.v harness.v; \
                 synth_ice40 -top vassa_place_harness -json design.json",
            ]),
            "yosys",
        )?;
        let (_, log) = run(
            Command::new("nextpnr-ice40").current_dir(&dir).args([
                "--hx8k",
                "--package",
                "cb132",
                "--json",
                "design.json",
                "--freq",
                "100",
                "--timing-allow-fail",
                "--seed",
                "1",
            ]),
            "nextpnr-ice40",
        )?;
        Ok(PlaceReport::from_log(&log))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTER: &str = "module top(input wire clock, output reg [7:0] q);\n\
        initial q = 0;\nalways @(posedge clock) q <= q + 8'd1;\nendmodule // top\n";

    /// With `--timing-allow-fail`, the routed fmax of a failing clock is a warning line; it,
    /// not the placement estimate before it, is the result.
    #[test]
    fn the_routed_fmax_wins_even_when_it_fails() {
        let log = "Info: Max frequency for clock 'clk': 48.77 MHz (FAIL at 100.00 MHz)\n\
                   Info: Critical path report for clock 'clk' (posedge -> posedge):\n\
                   Info:  0.5  0.5  Source a.O\n\nInfo: Program finished normally.\n\
                   Warning: Max frequency for clock 'clk': 56.40 MHz (FAIL at 100.00 MHz)\n";
        let r = PlaceReport::from_log(log);
        assert_eq!(r.fmax_mhz, vec![("clk".to_string(), 56.40)]);
        assert!(
            r.critical_path.contains("Source a.O"),
            "{}",
            r.critical_path
        );
    }

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
    fn ports_are_parsed_and_the_harness_places() {
        // rust-hdl declares ports after a plain port list.
        let counter = "module top(clock,q);\n    input wire  clock;\n    output reg  [7:0] q;\n\
            initial q = 0;\nalways @(posedge clock) q <= q + 8'd1;\nendmodule // top\n";
        let ports = module_ports(counter, "top");
        assert_eq!(
            ports,
            vec![
                Port {
                    name: "clock".into(),
                    input: true,
                    width: 1
                },
                Port {
                    name: "q".into(),
                    input: false,
                    width: 8
                },
            ]
        );
        let r = ice40_place(counter, "top").unwrap();
        assert!(r.logic_cells >= 8 && r.logic_cells < 200, "{r:?}");
        assert_eq!(r.block_rams, 0);
        let fmax = r.fmax().expect("an fmax");
        assert!(fmax > 50.0, "{r:?}");
        assert!(r.critical_path.contains("Critical path"), "{r:?}");
    }

    #[test]
    fn rename_keeps_submodules_unique() {
        let v = "module top(a);\nendmodule // top\nmodule top$x(a);\nendmodule // top$x\n";
        let r = rename_top(v, "vassa_core");
        assert!(r.contains("module vassa_core(a)") && r.contains("module vassa_core$x(a)"));
        assert!(!r.contains("top"));
    }
}
