//! External hardware checks on generated Verilog: Verilator lint and yosys synthesis reports.
//!
//! Used by the test suite and by `vassa gen --lint`. Each call works in its own temporary
//! directory so tests can run in parallel.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The Verilator configuration holding every lint waiver, each with its reason.
pub const VERILATOR_WAIVERS: &str = include_str!("../../lint/verilator_waivers.vlt");

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

/// A port of a module: read from rust-hdl's Verilog (`input wire [7:0] name;`, see
/// [`module_ports`]) or sampled from a block ([`crate::vectors`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    pub name: String,
    pub input: bool,
    pub bits: usize,
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
        let bits = words
            .iter()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(":0]")))
            .and_then(|msb| msb.parse::<usize>().ok())
            .map_or(1, |msb| msb + 1);
        if let Some(name) = words.last() {
            ports.push(Port {
                name: name.to_string(),
                input,
                bits,
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
        .any(|p| p.input && p.name == "clock" && p.bits == 1)
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
            let bits: Vec<String> = (0..p.bits)
                .rev()
                .map(|b| format!("src[{}]", (next_in + b) % n))
                .collect();
            next_in += p.bits;
            conns.push(format!(".{}({{{}}})", p.name, bits.join(", ")));
        } else {
            v += &format!("wire [{}:0] o_{};\n", p.bits - 1, p.name);
            conns.push(format!(".{0}(o_{0})", p.name));
            outs.extend((0..p.bits).map(|b| format!("o_{}[{b}]", p.name)));
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

/// What nextpnr's `--report` JSON holds that we use. The JSON, unlike the log, gives each
/// clock's fmax after routing in one place whether or not it met its target.
#[derive(Debug, Clone, PartialEq)]
pub struct NextpnrReport {
    /// (cell type, used, available), in the report's order.
    pub cells: Vec<(String, u64, u64)>,
    pub clocks: Vec<NextpnrClock>,
}

/// One clock net of a [`NextpnrReport`].
#[derive(Debug, Clone, PartialEq)]
pub struct NextpnrClock {
    /// The net nextpnr timed (e.g. `clock$SB_IO_IN_$glb_clk`).
    pub net: String,
    /// Maximum frequency after routing, MHz.
    pub achieved_mhz: Option<f64>,
    /// The target nextpnr timed against, MHz.
    pub constraint_mhz: Option<f64>,
}

impl NextpnrReport {
    /// Parses the JSON (`utilization`, `fmax`); a report without utilization is an error.
    pub fn parse(json: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(json).map_err(|e| format!("nextpnr report: {e}"))?;
        let mut cells = Vec::new();
        if let Some(u) = v["utilization"].as_object() {
            for (k, c) in u {
                let used = c["used"].as_u64().unwrap_or(0);
                let available = c["available"].as_u64().unwrap_or(0);
                cells.push((k.clone(), used, available));
            }
        }
        if cells.is_empty() {
            return Err("nextpnr report: no utilization".into());
        }
        let clocks = v["fmax"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(net, c)| NextpnrClock {
                net: net.clone(),
                achieved_mhz: c["achieved"].as_f64(),
                constraint_mhz: c["constraint"].as_f64(),
            })
            .collect();
        Ok(NextpnrReport { cells, clocks })
    }

    /// (used, available) of a cell type.
    pub fn cell(&self, kind: &str) -> Option<(u64, u64)> {
        self.cells.iter().find(|c| c.0 == kind).map(|c| (c.1, c.2))
    }
}

/// The last "Critical path report for clock '`<net>`'" block of a nextpnr log (after routing),
/// without the `Info: ` prefixes and the source locations of each cell ("Defined in:" and the
/// `file:line` lines under it), ending with its logic/routing summary line.
pub fn critical_path(log: &str, net: &str) -> Option<String> {
    let head = format!("Critical path report for clock '{net}'");
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.iter().rposition(|l| l.contains(&head))?;
    let mut out = Vec::new();
    for l in &lines[start..] {
        let l = l.strip_prefix("Info: ").unwrap_or(l);
        let t = l.trim();
        if t.is_empty() && out.len() > 1 {
            break;
        }
        if t == "Defined in:" || (!t.contains(' ') && t.contains(".v:")) {
            continue;
        }
        out.push(l.to_string());
        if l.contains("ns logic,") && l.contains("ns routing") {
            break;
        }
    }
    Some(out.join("\n"))
}

/// Target of [`ice40_place`], MHz.
pub const PLACE_TARGET_MHZ: u32 = 100;

/// What [`ice40_place`] reached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlaceReport {
    /// `ICESTORM_LC` (LUT4 + flip-flop + carry cells after packing): used, available.
    pub logic_cells: (u64, u64),
    /// `ICESTORM_RAM`: used, available.
    pub block_rams: (u64, u64),
    /// Achieved fmax in MHz per clock, as nextpnr names the clock nets.
    pub fmax_mhz: Vec<(String, f64)>,
    /// nextpnr's critical path report of each clock (see [`critical_path`]).
    pub critical_path: String,
}

impl PlaceReport {
    /// From nextpnr's `--report` JSON and its log (for the critical paths).
    pub fn new(report: &NextpnrReport, log: &str) -> Self {
        PlaceReport {
            logic_cells: report.cell("ICESTORM_LC").unwrap_or_default(),
            block_rams: report.cell("ICESTORM_RAM").unwrap_or_default(),
            fmax_mhz: report
                .clocks
                .iter()
                .filter_map(|c| Some((c.net.clone(), c.achieved_mhz?)))
                .collect(),
            critical_path: report
                .clocks
                .iter()
                .filter_map(|c| critical_path(log, &c.net))
                .collect::<Vec<_>>()
                .join("\n\n"),
        }
    }

    /// The lowest fmax over all clocks.
    pub fn fmax(&self) -> Option<f64> {
        self.fmax_mhz.iter().map(|c| c.1).reduce(f64::min)
    }
}

/// Places and routes `verilog` (top module `top`, clock input `clock`) on an iCE40-HX8K in
/// the cb132 package inside [`place_harness`]: yosys `synth_ice40`, then `nextpnr-ice40 --hx8k`
/// at [`PLACE_TARGET_MHZ`] (timing failures allowed, so the report shows what was reached).
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
        let freq = PLACE_TARGET_MHZ.to_string();
        let (_, log) = run(
            Command::new("nextpnr-ice40").current_dir(&dir).args([
                "--hx8k",
                "--package",
                "cb132",
                "--json",
                "design.json",
                "--freq",
                &freq,
                "--timing-allow-fail",
                "--seed",
                "1",
                "--report",
                "report.json",
            ]),
            "nextpnr-ice40",
        )?;
        let json = std::fs::read_to_string(dir.join("report.json")).map_err(|e| e.to_string())?;
        Ok(PlaceReport::new(&NextpnrReport::parse(&json)?, &log))
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTER: &str = "module top(input wire clock, output reg [7:0] q);\n\
        initial q = 0;\nalways @(posedge clock) q <= q + 8'd1;\nendmodule // top\n";

    const REPORT: &str = r#"{"critical_paths": [], "fmax": {"clock$SB_IO_IN_$glb_clk":
        {"achieved": 56.4, "constraint": 100}}, "utilization": {"ICESTORM_LC": {"available":
        7680, "used": 43}, "ICESTORM_RAM": {"available": 32, "used": 4}, "SB_IO": {"available":
        256, "used": 11}}}"#;

    #[test]
    fn parses_utilization_and_fmax() {
        let r = NextpnrReport::parse(REPORT).unwrap();
        assert!(r.cells.contains(&("ICESTORM_LC".into(), 43, 7680)));
        assert_eq!(r.cell("ICESTORM_RAM"), Some((4, 32)));
        assert_eq!(
            r.clocks,
            [NextpnrClock {
                net: "clock$SB_IO_IN_$glb_clk".into(),
                achieved_mhz: Some(56.4),
                constraint_mhz: Some(100.0)
            }]
        );
        assert!(NextpnrReport::parse("{}").is_err());
        assert!(NextpnrReport::parse("not json").is_err());
    }

    /// A clock that missed its target still reports its routed fmax and its critical path.
    #[test]
    fn a_failing_clock_reports_its_fmax_and_path() {
        let log = "Info: Critical path report for clock 'clock$SB_IO_IN_$glb_clk' (posedge -> \
                   posedge):\nInfo:  0.5  0.5  Source a.O\nInfo: 5.8 ns logic, 11.9 ns routing\n\n\
                   Warning: Max frequency for clock 'clock$SB_IO_IN_$glb_clk': 56.40 MHz\n";
        let r = PlaceReport::new(&NextpnrReport::parse(REPORT).unwrap(), log);
        assert_eq!(r.logic_cells, (43, 7680));
        assert_eq!(r.block_rams, (4, 32));
        assert_eq!(r.fmax(), Some(56.4));
        assert!(
            r.critical_path.contains("Source a.O"),
            "{}",
            r.critical_path
        );
    }

    #[test]
    fn takes_the_last_critical_path_of_a_clock() {
        let log = "Info: Critical path report for clock 'c$g' (posedge -> posedge):\n\
                   Info: old\nInfo: 1.0 ns logic, 2.0 ns routing\n\n\
                   Info: Critical path report for clock 'c$g' (posedge -> posedge):\n\
                   Info: curr total\nInfo:  0.5  0.5  Source a\n\
                   Info:                Defined in:\nInfo:                  top.v:44.16-63.6\n\
                   Info: 3.0 ns logic, 9.0 ns routing\n\nInfo: Max frequency\n";
        let p = critical_path(log, "c$g").unwrap();
        assert!(p.starts_with("Critical path report for clock 'c$g'"), "{p}");
        assert!(p.contains("Source a") && p.ends_with("3.0 ns logic, 9.0 ns routing"));
        assert!(!p.contains("old") && !p.contains("Defined") && !p.contains("top.v"));
        assert_eq!(critical_path(log, "other"), None);
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
                    bits: 1
                },
                Port {
                    name: "q".into(),
                    input: false,
                    bits: 8
                },
            ]
        );
        let r = ice40_place(counter, "top").unwrap();
        assert!(r.logic_cells.0 >= 8 && r.logic_cells.0 < 200, "{r:?}");
        assert_eq!(r.block_rams.0, 0);
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
