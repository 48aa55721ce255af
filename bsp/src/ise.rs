//! The Xilinx ISE 14.7 project for the XEM6010 and, where ISE is missing, yosys utilization.
//!
//! `write_project` writes top.v, top.ucf and top.tcl (an xtclsh script: Spartan-6 xc6slx45
//! fgg484 -2, the sources, "Generate Programming File") and copies Opal Kelly's HDL assets
//! (okLibrary.v and the endpoint netlists) from the FrontPanel install. `run_xtclsh` runs
//! the script and reads the map report (utilization) and timing report (clock periods).

use std::path::{Path, PathBuf};
use std::process::Command;

/// An FPGA part in ISE's terms.
#[derive(Debug, Clone, Copy)]
pub struct Part {
    pub family: &'static str,
    pub device: &'static str,
    pub package: &'static str,
    pub speed: &'static str,
}

/// The XEM6010-LX45's FPGA.
pub const XEM6010_LX45: Part = Part {
    family: "Spartan6",
    device: "xc6slx45",
    package: "fgg484",
    speed: "-2",
};

/// Opal Kelly's FrontPanel HDL files an XEM6010-LX45 design needs (FrontPanel 4.x layout:
/// `$FP_PATH/XEM6010-LX45/`).
pub const OK_ASSETS: [&str; 11] = [
    "okLibrary.v",
    "okCoreHarness.ngc",
    "okWireIn.ngc",
    "TFIFO64x8a_64x8b.ngc",
    "okWireOut.ngc",
    "okTriggerIn.ngc",
    "okTriggerOut.ngc",
    "okPipeIn.ngc",
    "okPipeOut.ngc",
    "okBTPipeIn.ngc",
    "okBTPipeOut.ngc",
];

/// Where the tools are: `ISE_PATH` (the directory holding `xtclsh`, as rust-hdl's XEM6010
/// flow expects) or `xtclsh` on `PATH`; `FP_PATH` (FrontPanel's HDL directory).
#[derive(Debug, Clone, Default)]
pub struct Tools {
    pub xtclsh: Option<PathBuf>,
    pub frontpanel_hdl: Option<PathBuf>,
}

impl Tools {
    pub fn from_env() -> Self {
        let xtclsh = std::env::var_os("ISE_PATH")
            .map(|dir| PathBuf::from(dir).join("xtclsh"))
            .filter(|p| p.is_file())
            .or_else(|| find_on_path("xtclsh"));
        let frontpanel_hdl = std::env::var_os("FP_PATH")
            .map(|dir| PathBuf::from(dir).join("XEM6010-LX45"))
            .filter(|p| p.is_dir());
        Tools {
            xtclsh,
            frontpanel_hdl,
        }
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The xtclsh script building `top` from top.v, top.ucf and `assets`.
pub fn tcl_script(part: &Part, assets: &[&str]) -> String {
    format!(
        "project new top.xise\n\
         project set family {}\n\
         project set device {}\n\
         project set package {}\n\
         project set speed {}\n\
         xfile add top.v top.ucf {}\n\
         project set top top\n\
         process run \"Generate Programming File\" -force rerun_all\n\
         project close\n",
        part.family,
        part.device,
        part.package,
        part.speed,
        assets.join(" ")
    )
}

/// Writes the project into `dir`. Returns the assets that could not be copied (all of them
/// when `frontpanel_hdl` is None): ISE cannot build without them.
pub fn write_project(
    dir: &Path,
    verilog: &str,
    ucf: &str,
    frontpanel_hdl: Option<&Path>,
) -> Result<Vec<&'static str>, String> {
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| format!("writing {}: {e}", dir.join(name).display()))
    };
    write("top.v", verilog)?;
    write("top.ucf", ucf)?;
    write("top.tcl", &tcl_script(&XEM6010_LX45, &OK_ASSETS))?;
    let mut missing = Vec::new();
    for asset in OK_ASSETS {
        match frontpanel_hdl {
            Some(src) if std::fs::copy(src.join(asset), dir.join(asset)).is_ok() => {}
            _ => missing.push(asset),
        }
    }
    Ok(missing)
}

/// Runs `xtclsh top.tcl` in `dir`; ISE's output goes to top.out / top.err there.
pub fn run_xtclsh(xtclsh: &Path, dir: &Path) -> Result<IseResults, String> {
    let out = Command::new(xtclsh)
        .current_dir(dir)
        .arg("top.tcl")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", xtclsh.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(dir.join("top.out"), &stdout).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("top.err"), &out.stderr).map_err(|e| e.to_string())?;
    if !stdout.contains("Process \"Generate Programming File\" completed successfully") {
        return Err(format!(
            "ISE did not produce a bitstream; see {}",
            dir.join("top.out").display()
        ));
    }
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    Ok(IseResults {
        constraints_met: stdout.contains("All constraints were met"),
        utilization: parse_map_report(&read("top_map.mrp")),
        min_period_ns: parse_min_period(&read("top.twr")),
        bitstream: dir.join("top.bit"),
    })
}

/// What an ISE run produced.
#[derive(Debug, Clone)]
pub struct IseResults {
    pub constraints_met: bool,
    /// (resource, used, available) from the map report's design summary.
    pub utilization: Vec<(String, u64, u64)>,
    pub min_period_ns: Option<f64>,
    pub bitstream: PathBuf,
}

fn number(text: &str) -> Option<u64> {
    text.replace(',', "").parse().ok()
}

/// Reads "Number of `<resource>`: `<used>` out of `<available>`" lines of a map report.
pub fn parse_map_report(mrp: &str) -> Vec<(String, u64, u64)> {
    mrp.lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("Number of ")?;
            let (name, counts) = rest.split_once(':')?;
            let mut words = counts.split_whitespace();
            let used = number(words.next()?)?;
            (words.next()? == "out").then_some(())?;
            (words.next()? == "of").then_some(())?;
            let available = number(words.next()?)?;
            Some((name.trim().to_string(), used, available))
        })
        .collect()
}

/// Reads "Minimum period: 9.876ns" from a timing report.
pub fn parse_min_period(twr: &str) -> Option<f64> {
    let rest = twr.split("Minimum period:").nth(1)?;
    let value: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    value.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_report_lines_are_read_with_thousands_separators() {
        let mrp = "Design Summary\n\
                   Slice Logic Utilization:\n\
                   \x20 Number of Slice Registers:             3,442 out of  54,576    6%\n\
                   \x20 Number of Slice LUTs:                  3,954 out of  27,288   14%\n\
                   \x20   Number used as logic:               3,600 out of  27,288   13%\n\
                   \x20 Number of RAMB16BWERs:                    34 out of     116   29%\n\
                   \x20 Number of bonded IOBs:                   110 out of     316   34%\n\
                   \x20 Number of LOCed IOBs: 110\n";
        let rows = parse_map_report(mrp);
        assert_eq!(rows[0], ("Slice Registers".into(), 3442, 54576));
        assert_eq!(rows[1], ("Slice LUTs".into(), 3954, 27288));
        assert_eq!(rows[2], ("RAMB16BWERs".into(), 34, 116));
        assert_eq!(
            rows.len(),
            4,
            "sub-rows and lines without 'out of' are skipped"
        );
    }

    #[test]
    fn timing_report_minimum_period() {
        let twr = "Design statistics:\n   Minimum period:   9.832ns{1}   (Maximum frequency: 101.709MHz)\n";
        assert_eq!(parse_min_period(twr), Some(9.832));
        assert_eq!(parse_min_period("no timing here"), None);
    }

    #[test]
    fn tcl_names_the_part_and_every_asset() {
        let tcl = tcl_script(&XEM6010_LX45, &OK_ASSETS);
        for needle in [
            "xc6slx45",
            "fgg484",
            "-2",
            "Spartan6",
            "okLibrary.v",
            "okPipeOut.ngc",
        ] {
            assert!(tcl.contains(needle), "{needle} missing from\n{tcl}");
        }
    }

    #[test]
    fn project_without_frontpanel_lists_every_asset_missing() {
        let dir = std::env::temp_dir().join(format!("vassa_ise_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = write_project(&dir, "module top; endmodule\n", "# ucf\n", None).unwrap();
        assert_eq!(missing, OK_ASSETS.to_vec());
        for f in ["top.v", "top.ucf", "top.tcl"] {
            assert!(dir.join(f).is_file(), "{f}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
