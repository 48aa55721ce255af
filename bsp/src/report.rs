//! What a board flow produced: tool steps and their times, resource use against the part's
//! resources, the frequency every clock reached against its target, the critical path of a
//! clock that missed, and the output files. Shared by every board; printed as tables by
//! [`FlowReport::to_table`] and serialized with serde for `vassa synth --json`.

use serde::Serialize;
use std::fmt::Write as _;

/// Progress of a flow, reported to a callback as each step starts and ends (the CLI drives a
/// progress bar with it).
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// `step` (1-based `index` of `total`) started.
    Started {
        step: &'static str,
        index: usize,
        total: usize,
    },
    /// `step` ended successfully after `seconds`.
    Finished { step: &'static str, seconds: f64 },
}

/// One tool step of a flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepReport {
    pub name: String,
    /// The command line, as run.
    pub command: String,
    pub seconds: f64,
    /// The step's log file.
    pub log: String,
}

/// Use of one kind of resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Utilization {
    /// What is counted, e.g. "logic cells (ICESTORM_LC)".
    pub resource: String,
    pub used: u64,
    pub available: u64,
    /// `used` as a percentage of `available`.
    pub percent: f64,
}

impl Utilization {
    pub fn new(resource: &str, used: u64, available: u64) -> Self {
        let percent = if available == 0 {
            0.0
        } else {
            100.0 * used as f64 / available as f64
        };
        Utilization {
            resource: resource.to_string(),
            used,
            available,
            percent,
        }
    }
}

/// Timing of one clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockReport {
    /// The clock as the design names it (e.g. `clock`).
    pub name: String,
    /// The net the tools timed (e.g. `clock$SB_IO_IN_$glb_clk`).
    pub net: String,
    pub target_mhz: f64,
    /// Maximum frequency after routing (`None` if the tools gave none).
    pub achieved_mhz: Option<f64>,
    pub met: bool,
}

/// A file the flow wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputFile {
    /// What it is: "bitstream", "verilog", "constraints", ...
    pub kind: String,
    pub path: String,
    pub bytes: u64,
}

impl OutputFile {
    /// The file at `path`, with its size now (0 if it is missing).
    pub fn of(kind: &str, path: &std::path::Path) -> Self {
        OutputFile {
            kind: kind.into(),
            path: path.display().to_string(),
            bytes: std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        }
    }
}

/// The result of a board flow.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct FlowReport {
    pub board: String,
    pub part: String,
    /// The flow, e.g. "yosys → nextpnr-ice40 → icepack".
    pub flow: String,
    pub steps: Vec<StepReport>,
    pub utilization: Vec<Utilization>,
    pub clocks: Vec<ClockReport>,
    /// The critical path of each clock that missed its target, as the timing tool printed it.
    pub critical_path: Option<String>,
    pub outputs: Vec<OutputFile>,
    pub notes: Vec<String>,
}

impl FlowReport {
    /// Runs step `index` of a flow whose steps are `steps`: tells `progress` when it starts
    /// and ends and records it with its time. `run` returns the command it ran and its log
    /// file; an error is prefixed with the step's name and stops the flow.
    pub fn step<F>(
        &mut self,
        steps: &[&'static str],
        index: usize,
        progress: &mut dyn FnMut(Progress),
        run: F,
    ) -> Result<(), String>
    where
        F: FnOnce(&mut Self) -> Result<(String, String), String>,
    {
        let step = steps[index];
        progress(Progress::Started {
            step,
            index: index + 1,
            total: steps.len(),
        });
        let started = std::time::Instant::now();
        let (command, log) = run(self).map_err(|e| format!("{step}: {e}"))?;
        let seconds = started.elapsed().as_secs_f64();
        self.steps.push(StepReport {
            name: step.into(),
            command,
            seconds,
            log,
        });
        progress(Progress::Finished { step, seconds });
        Ok(())
    }

    /// The row for a resource whose name contains `key` (e.g. "ICESTORM_LC").
    pub fn resource(&self, key: &str) -> Option<&Utilization> {
        self.utilization.iter().find(|u| u.resource.contains(key))
    }

    /// The output file of `kind`.
    pub fn output(&self, kind: &str) -> Option<&OutputFile> {
        self.outputs.iter().find(|o| o.kind == kind)
    }

    /// True when every clock reached its target.
    pub fn timing_met(&self) -> bool {
        self.clocks.iter().all(|c| c.met)
    }

    /// Seconds of all steps.
    pub fn total_seconds(&self) -> f64 {
        self.steps.iter().map(|s| s.seconds).sum()
    }

    /// The report as markdown: a heading line, then tables of resources, clocks, steps and
    /// files, the critical path (if any) and notes.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "## {} ({}), {}\n", self.board, self.part, self.flow);
        s.push_str("| resource | used | available | % |\n|---|---:|---:|---:|\n");
        for u in &self.utilization {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1} |",
                u.resource, u.used, u.available, u.percent
            );
        }
        s.push_str("\n| clock | target MHz | achieved MHz | met |\n|---|---:|---:|---|\n");
        for c in &self.clocks {
            let achieved = c
                .achieved_mhz
                .map_or_else(|| "—".to_string(), |f| format!("{f:.2}"));
            let met = if c.met { "yes" } else { "**no**" };
            let _ = writeln!(
                s,
                "| {} | {:.2} | {achieved} | {met} |",
                c.name, c.target_mhz
            );
        }
        s.push_str("\n| step | seconds | log |\n|---|---:|---|\n");
        for st in &self.steps {
            let _ = writeln!(s, "| {} | {:.1} | {} |", st.name, st.seconds, st.log);
        }
        let _ = writeln!(s, "| total | {:.1} | |", self.total_seconds());
        s.push_str("\n| output | bytes | path |\n|---|---:|---|\n");
        for o in &self.outputs {
            let _ = writeln!(s, "| {} | {} | {} |", o.kind, o.bytes, o.path);
        }
        if let Some(path) = &self.critical_path {
            let _ = writeln!(s, "\nCritical path:\n\n```text\n{}\n```", path.trim_end());
        }
        if !self.notes.is_empty() {
            s.push('\n');
            for n in &self.notes {
                let _ = writeln!(s, "- {n}");
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FlowReport {
        FlowReport {
            board: "Alchitry Cu".into(),
            part: "iCE40-HX8K cb132".into(),
            flow: "yosys → nextpnr-ice40 → icepack".into(),
            steps: vec![StepReport {
                name: "place and route".into(),
                command: "nextpnr-ice40 --hx8k".into(),
                seconds: 12.34,
                log: "out/nextpnr.log".into(),
            }],
            utilization: vec![Utilization::new("logic cells (ICESTORM_LC)", 3840, 7680)],
            clocks: vec![ClockReport {
                name: "clock".into(),
                net: "clock$SB_IO_IN_$glb_clk".into(),
                target_mhz: 100.0,
                achieved_mhz: Some(87.5),
                met: false,
            }],
            critical_path: Some("Info: 1.0 ns logic".into()),
            outputs: vec![OutputFile {
                kind: "bitstream".into(),
                path: "out/top.bin".into(),
                bytes: 135100,
            }],
            notes: vec!["a note".into()],
        }
    }

    #[test]
    fn table_shows_every_part() {
        let r = sample();
        let t = r.to_table();
        for want in [
            "## Alchitry Cu (iCE40-HX8K cb132)",
            "| logic cells (ICESTORM_LC) | 3840 | 7680 | 50.0 |",
            "| clock | 100.00 | 87.50 | **no** |",
            "| place and route | 12.3 | out/nextpnr.log |",
            "| bitstream | 135100 | out/top.bin |",
            "Critical path:",
            "- a note",
        ] {
            assert!(t.contains(want), "{want:?} missing from\n{t}");
        }
        assert!(!r.timing_met());
        assert_eq!(r.resource("ICESTORM_LC").unwrap().used, 3840);
    }

    #[test]
    fn serializes_for_scripts() {
        let v = serde_json::to_value(sample()).unwrap();
        assert_eq!(v["clocks"][0]["achieved_mhz"], 87.5);
        assert_eq!(v["utilization"][0]["available"], 7680);
        assert_eq!(v["outputs"][0]["kind"], "bitstream");
    }
}
