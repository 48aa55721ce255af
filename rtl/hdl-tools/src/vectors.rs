//! Recorded port vectors, and the simulators they can be replayed on.
//!
//! A [`Vectors`] holds every cycle's top-level port values of a block, sampled just before the
//! rising edge (as [`crate::testbench::Bench`] records them), with the Verilog the block
//! generated. The recorded inputs can be replayed on that Verilog in Icarus Verilog
//! ([`Vectors::icarus`]) or Verilator ([`Vectors::verilator`]), or re-applied to the block in
//! rust-hdl's own threaded `Simulation` ([`simulation_vectors`]); each gives back its outputs,
//! and [`Vectors::check_agreement`] compares them, cycle by cycle and port by port, with the
//! recording.

use rust_hdl::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A top-level port of a block (the clock is not one: every simulator drives it itself).
pub use crate::hwcheck::Port;

/// Output values of every cycle, in the order of the output ports of [`Vectors::ports`].
/// Values are lowercase hex without leading zeros; `x`/`z` digits only come from Icarus.
pub type Outputs = Vec<Vec<String>>;

/// Every cycle's top-level port values, and the Verilog to replay them on.
#[derive(Debug, Clone)]
pub struct Vectors {
    pub verilog: String,
    pub ports: Vec<Port>,
    /// One value per port, in the order of `ports`, per cycle.
    pub cycles: Vec<Vec<String>>,
}

/// Collects the top-level ports of a block (not those of its sub-blocks). A port inside an
/// interface is named as in the Verilog: `iface$field`.
#[derive(Default)]
struct PortSampler {
    depth: usize,
    namespace: Vec<String>,
    ports: Vec<(Port, String)>,
}

impl Probe for PortSampler {
    fn visit_start_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth += 1;
    }
    fn visit_end_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth -= 1;
    }
    fn visit_start_namespace(&mut self, name: &str, _node: &dyn Block) {
        self.namespace.push(name.to_string());
    }
    fn visit_end_namespace(&mut self, _name: &str, _node: &dyn Block) {
        self.namespace.pop();
    }
    fn visit_atom(&mut self, name: &str, signal: &dyn Atom) {
        let input = match signal.kind() {
            AtomKind::InputParameter => true,
            AtomKind::OutputParameter => false,
            _ => return,
        };
        if self.depth != 1 || (name == "clock" && self.namespace.is_empty()) {
            return;
        }
        // `{:x}` of a Verilog literal is `<bits>'h<hex>`.
        let literal = format!("{:x}", signal.verilog());
        let hex = literal.split_once('h').map_or(literal.as_str(), |(_, h)| h);
        let name = self
            .namespace
            .iter()
            .map(String::as_str)
            .chain(std::iter::once(name))
            .collect::<Vec<_>>()
            .join("$");
        let port = Port {
            name,
            input,
            bits: signal.bits(),
        };
        self.ports.push((port, normalize(hex)));
    }
}

/// The block's top-level ports and their current values.
pub fn sample_ports<T: Block>(uut: &T) -> Vec<(Port, String)> {
    let mut sampler = PortSampler::default();
    uut.accept("top", &mut sampler);
    sampler.ports
}

/// A Verilog port's member name in Verilator's C++ model (`$` is written `__024`).
fn verilator_name(port: &str) -> String {
    port.replace('$', "__024")
}

/// A hex value in lowercase without leading zeros.
fn normalize(hex: &str) -> String {
    let hex = hex.trim().to_ascii_lowercase();
    let digits = hex.trim_start_matches('0');
    if digits.is_empty() {
        "0".into()
    } else {
        digits.into()
    }
}

fn is_zero(value: &str) -> bool {
    value == "0"
}

/// A scratch directory that parallel tests (and test processes) do not share.
fn scratch(tool: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vassa_{tool}_{name}_{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a tool in `dir`, panicking with its output if it fails.
fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): scripts/setup-tools.sh installs it")
        });
    assert!(
        out.status.success(),
        "{program} failed in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Vectors {
    pub fn new(verilog: String) -> Self {
        Vectors {
            verilog,
            ports: Vec::new(),
            cycles: Vec::new(),
        }
    }

    /// Appends one cycle's sample (from [`sample_ports`]).
    pub fn push(&mut self, sample: Vec<(Port, String)>) {
        let (ports, values): (Vec<Port>, Vec<String>) = sample.into_iter().unzip();
        if self.cycles.is_empty() {
            self.ports = ports;
        }
        self.cycles.push(values);
    }

    fn columns(&self, input: bool) -> Vec<usize> {
        (0..self.ports.len())
            .filter(|&i| self.ports[i].input == input)
            .collect()
    }

    fn output_port(&self, name: &str) -> usize {
        let outputs = self.columns(false);
        outputs
            .iter()
            .position(|&i| self.ports[i].name == name)
            .unwrap_or_else(|| panic!("no output port {name}"))
    }

    /// The recorded outputs.
    pub fn outputs(&self) -> Outputs {
        let outputs = self.columns(false);
        self.cycles
            .iter()
            .map(|c| outputs.iter().map(|&i| c[i].clone()).collect())
            .collect()
    }

    /// Writes the inputs, one line a cycle, for the Verilog testbenches to read.
    fn write_inputs(&self, dir: &Path) {
        let inputs = self.columns(true);
        let mut text = String::new();
        for c in &self.cycles {
            let line: Vec<&str> = inputs.iter().map(|&i| c[i].as_str()).collect();
            text += &line.join(" ");
            text += "\n";
        }
        std::fs::write(dir.join("in.txt"), text).unwrap();
        std::fs::write(dir.join("dut.v"), &self.verilog).unwrap();
    }

    /// Reads the outputs a testbench wrote, one line a cycle.
    fn read_outputs(&self, dir: &Path, tool: &str) -> Outputs {
        let text = std::fs::read_to_string(dir.join("out.txt")).unwrap_or_default();
        let rows: Outputs = text
            .lines()
            .map(|l| l.split_whitespace().map(normalize).collect())
            .collect();
        let width = self.columns(false).len();
        assert!(
            rows.len() == self.cycles.len() && rows.iter().all(|r| r.len() == width),
            "{tool} wrote {} lines for {} cycles (files in {})",
            rows.len(),
            self.cycles.len(),
            dir.display()
        );
        let _ = std::fs::remove_dir_all(dir);
        rows
    }

    /// Replays the recorded inputs on the Verilog in Icarus Verilog and returns its outputs.
    pub fn icarus(&self, name: &str) -> Outputs {
        let dir = scratch("icarus", name);
        self.write_inputs(&dir);
        let mut tb =
            String::from("`timescale 1ns/1ps\nmodule tb;\nreg clock = 0;\ninteger fi, fo, n;\n");
        for p in &self.ports {
            let kind = if p.input { "reg" } else { "wire" };
            tb += &format!("{kind} [{}:0] {};\n", p.bits - 1, p.name);
        }
        let conns: Vec<String> = std::iter::once(".clock(clock)".to_string())
            .chain(self.ports.iter().map(|p| format!(".{0}({0})", p.name)))
            .collect();
        tb += &format!("top dut({});\n", conns.join(", "));
        tb += "initial begin\nfi = $fopen(\"in.txt\", \"r\");\nfo = $fopen(\"out.txt\", \"w\");\n";
        tb += "while (!$feof(fi)) begin\n";
        for p in self.ports.iter().filter(|p| p.input) {
            tb += &format!("n = $fscanf(fi, \"%h\", {});\n", p.name);
        }
        // `n` is 0 or -1 only after the last line.
        tb += "if (n == 1) begin\n#1;\n";
        for p in self.ports.iter().filter(|p| !p.input) {
            tb += &format!("$fwrite(fo, \"%h \", {});\n", p.name);
        }
        tb += "$fwrite(fo, \"\\n\");\nclock = 1; #1; clock = 0; #1;\nend\nend\n";
        tb += "$fclose(fo);\n$finish;\nend\nendmodule\n";
        std::fs::write(dir.join("tb.v"), tb).unwrap();
        run(&dir, "iverilog", &["-g2005", "-o", "sim", "tb.v", "dut.v"]);
        run(&dir, "vvp", &["-n", "sim"]);
        self.read_outputs(&dir, "icarus")
    }

    /// Replays the recorded inputs on the Verilog compiled by Verilator (with the project's
    /// lint waivers) and returns its outputs. Ports wider than 64 bits are not supported.
    pub fn verilator(&self, name: &str) -> Outputs {
        let dir = scratch("verilator", name);
        self.write_inputs(&dir);
        std::fs::write(dir.join("waivers.vlt"), crate::hwcheck::VERILATOR_WAIVERS).unwrap();
        let mut cpp = String::from(
            "#include \"Vdut.h\"\n#include \"verilated.h\"\n#include <cstdio>\n\
             int main(int argc, char** argv) {\n\
             VerilatedContext ctx;\nctx.commandArgs(argc, argv);\nVdut dut{&ctx};\n\
             FILE* fi = std::fopen(\"in.txt\", \"r\");\nFILE* fo = std::fopen(\"out.txt\", \"w\");\n\
             unsigned long long v;\nfor (;;) {\n",
        );
        for p in &self.ports {
            assert!(p.bits <= 64, "port {} is wider than 64 bits", p.name);
            if p.input {
                cpp += &format!(
                    "if (std::fscanf(fi, \"%llx\", &v) != 1) break;\ndut.{} = v;\n",
                    verilator_name(&p.name)
                );
            }
        }
        // One cycle as Bench steps it: settle with the clock low, sample, rising edge.
        cpp += "dut.clock = 0;\ndut.eval();\n";
        for p in self.ports.iter().filter(|p| !p.input) {
            cpp += &format!(
                "std::fprintf(fo, \"%llx \", (unsigned long long)dut.{});\n",
                verilator_name(&p.name)
            );
        }
        cpp += "std::fputs(\"\\n\", fo);\ndut.clock = 1;\ndut.eval();\n}\n\
                dut.final();\nstd::fclose(fo);\nreturn 0;\n}\n";
        std::fs::write(dir.join("tb.cpp"), cpp).unwrap();
        // Unoptimised C++: the build is the cost (seconds), a few thousand cycles run at once.
        let opt = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0";
        run(
            &dir,
            "verilator",
            &[
                "--cc",
                "--exe",
                "--build",
                "-j",
                "2",
                "--top-module",
                "top",
                "--prefix",
                "Vdut",
                "-MAKEFLAGS",
                opt,
                "waivers.vlt",
                "dut.v",
                "tb.cpp",
            ],
        );
        run(&dir, "obj_dir/Vdut", &[]);
        self.read_outputs(&dir, "verilator")
    }

    /// The agreement check: `native` (from [`simulation_vectors`] on the same inputs) must have
    /// seen exactly the recorded inputs, and rust-hdl's `Simulation`, Icarus Verilog and
    /// Verilator must all give the recorded outputs (see [`Vectors::check_agreement`]).
    pub fn check_simulators(&self, name: &str, native: &Vectors) {
        assert_eq!(native.ports, self.ports, "{name}: ports differ");
        assert_eq!(
            native.cycles.len(),
            self.cycles.len(),
            "{name}: cycle counts differ"
        );
        let inputs = self.columns(true);
        for (cycle, (a, b)) in self.cycles.iter().zip(&native.cycles).enumerate() {
            let differ: Vec<&str> = inputs
                .iter()
                .filter(|&&i| a[i] != b[i])
                .map(|&i| self.ports[i].name.as_str())
                .collect();
            assert!(
                differ.is_empty(),
                "{name}: Simulation inputs {differ:?} differ in cycle {cycle}"
            );
        }
        let timed = |what: &str, f: &dyn Fn() -> Outputs| {
            let start = std::time::Instant::now();
            let outputs = f();
            println!("{name}: {what} {:.1} s", start.elapsed().as_secs_f64());
            outputs
        };
        let icarus = timed("icarus", &|| self.icarus(name));
        let verilator = timed("verilator (build and run)", &|| self.verilator(name));
        let unknown = icarus
            .iter()
            .flatten()
            .filter(|v| v.contains(['x', 'z']))
            .count();
        println!(
            "{name}: {} cycles x {} outputs compared, {unknown} Icarus values with x/z bits",
            self.cycles.len(),
            self.columns(false).len()
        );
        let others = [
            ("simulation", &native.outputs()),
            ("icarus", &icarus),
            ("verilator", &verilator),
        ];
        self.check_agreement(name, &[], &others);
    }

    /// Compares the outputs of other simulators with the recorded ones, every port every cycle,
    /// and panics listing the first mismatches with every simulator's value.
    ///
    /// Rules (those of the Icarus replay the block tests have always used):
    /// - a value with an `x` or `z` bit is not compared: only Icarus has them, for memory never
    ///   written, which rust-hdl simulates as 0;
    /// - an output named first in a `(output, qualifier)` pair is compared only in cycles where
    ///   the recorded `qualifier` is nonzero (see [`crate::testbench::Bench::replay_qualified`]).
    pub fn check_agreement(
        &self,
        name: &str,
        qualifiers: &[(&str, &str)],
        others: &[(&str, &Outputs)],
    ) {
        let outputs = self.columns(false);
        let recorded = self.outputs();
        let qualifier: Vec<Option<usize>> = outputs
            .iter()
            .map(|&i| {
                let q = qualifiers.iter().find(|q| q.0 == self.ports[i].name);
                q.map(|q| self.output_port(q.1))
            })
            .collect();
        let mut mismatches = Vec::new();
        let mut disagreeing = Vec::new();
        for (cycle, want) in recorded.iter().enumerate() {
            for (k, &port) in outputs.iter().enumerate() {
                if qualifier[k].is_some_and(|q| is_zero(&want[q])) {
                    continue;
                }
                let wrong = others.iter().filter(|(_, got)| {
                    let v = &got[cycle][k];
                    v != &want[k] && v.chars().all(|c| c.is_ascii_hexdigit())
                });
                let wrong: Vec<&str> = wrong.map(|o| o.0).collect();
                if !wrong.is_empty() {
                    for sim in wrong {
                        if !disagreeing.contains(&sim) {
                            disagreeing.push(sim);
                        }
                    }
                    let values: Vec<String> = others
                        .iter()
                        .map(|(sim, got)| format!("{sim} {}", got[cycle][k]))
                        .collect();
                    mismatches.push(format!(
                        "cycle {cycle} {}: recorded {}, {}",
                        self.ports[port].name,
                        want[k],
                        values.join(", ")
                    ));
                }
            }
        }
        assert!(
            mismatches.is_empty(),
            "{name}: {:?} disagree with the recording (Bench) in {} port-cycles over {} cycles; \
             first:\n{}",
            disagreeing,
            mismatches.len(),
            recorded.len(),
            mismatches[..mismatches.len().min(20)].join("\n")
        );
    }
}

/// Runs `uut` in rust-hdl's threaded `Simulation` (clock and testbench as threads), applying
/// `drive(uut, s)` for each stimulus `s` in turn, one cycle each, and sampling the ports as
/// [`crate::testbench::Bench`] does: inputs applied and settled with the clock low, then the
/// rising edge.
pub fn simulation_vectors<T, S>(
    mut uut: T,
    clock: fn(&mut T) -> &mut Signal<In, Clock>,
    stimulus: Vec<S>,
    drive: fn(&mut T, &S),
) -> Vectors
where
    T: Block + Send + 'static,
    S: Send + Sync + std::panic::RefUnwindSafe + 'static,
{
    uut.connect_all();
    let vectors = Arc::new(Mutex::new(Vectors::new(generate_verilog(&uut))));
    let cycles = stimulus.len() as u64;
    let mut sim = Simulation::<T>::new();
    // Half period 5: rising edges at 5, 15, 25, ...; the testbench works at 1 and 2 mod 10,
    // while the clock is low, so no event of it ties with a clock edge.
    sim.add_clock(5, move |x: &mut Box<T>| {
        let c = clock(x.as_mut());
        c.next = !c.val();
    });
    let out = vectors.clone();
    sim.add_testbench(move |mut sim: Sim<T>| {
        let mut x = sim.init()?;
        x = sim.wait(1, x)?;
        for s in &stimulus {
            drive(x.as_mut(), s);
            // The engine settles the circuit when the testbench hands it back.
            x = sim.wait(1, x)?;
            out.lock().unwrap().push(sample_ports(x.as_ref()));
            x = sim.wait(9, x)?;
        }
        sim.done(x)
    });
    sim.run(Box::new(uut), 10 * cycles + 20)
        .expect("rust-hdl Simulation run");
    let vectors = vectors.lock().unwrap().clone();
    vectors
}
