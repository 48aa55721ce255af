//! A single-threaded cycle stepper for unit tests of blocks.
//!
//! rust-hdl's `Simulation` runs every clock and testbench as a thread and passes the circuit
//! over channels (≈ 6 k cycles/s). For unit tests we step the circuit directly: the caller sets
//! input `.next` values, then [`Bench::step`] applies one rising clock edge and lets the
//! combinational logic settle. Behaviour is the same as rust-hdl's simulator (same
//! `update_all` fixed point), without the threads.

use rust_hdl::prelude::*;

/// A block under test with a function that reaches its clock input.
pub struct Bench<T: Block> {
    pub uut: T,
    clock: fn(&mut T) -> &mut Signal<In, Clock>,
    /// Rising edges applied so far.
    pub cycle: u64,
    /// Per-cycle snapshots of the top-level ports, when recording (see [`Bench::record`]).
    trace: Option<Vec<Vec<PortValue>>>,
    /// The block's Verilog as it was when recording started (memories whose generated
    /// Verilog carries their simulated contents must start the replay from that state).
    recorded_verilog: String,
}

/// One top-level port's value just before a rising edge.
#[derive(Debug, Clone)]
struct PortValue {
    name: String,
    input: bool,
    bits: usize,
    literal: String,
}

/// Whether a Verilog literal such as `1'b0` or `32'h0` is zero.
fn literal_is_zero(literal: &str) -> bool {
    let digits = literal
        .split('\'')
        .nth(1)
        .map(|d| &d[1..])
        .unwrap_or(literal);
    digits.chars().all(|c| c == '0' || c == '_')
}

/// Collects the top-level ports of a block (not those of its sub-blocks).
#[derive(Default)]
struct PortSampler {
    depth: usize,
    ports: Vec<PortValue>,
}

impl Probe for PortSampler {
    fn visit_start_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth += 1;
    }
    fn visit_end_scope(&mut self, _name: &str, _node: &dyn Block) {
        self.depth -= 1;
    }
    fn visit_atom(&mut self, name: &str, signal: &dyn Atom) {
        let input = match signal.kind() {
            AtomKind::InputParameter => true,
            AtomKind::OutputParameter => false,
            _ => return,
        };
        if self.depth != 1 || name == "clock" {
            return;
        }
        self.ports.push(PortValue {
            name: name.to_string(),
            input,
            bits: signal.bits(),
            literal: signal.verilog().to_string(),
        });
    }
}

impl<T: Block> Bench<T> {
    pub fn new(mut uut: T, clock: fn(&mut T) -> &mut Signal<In, Clock>) -> Self {
        uut.connect_all();
        let mut bench = Bench {
            uut,
            clock,
            cycle: 0,
            trace: None,
            recorded_verilog: String::new(),
        };
        bench.settle();
        bench
    }

    /// Propagates combinational logic after inputs changed.
    pub fn settle(&mut self) {
        assert!(
            simulate(&mut self.uut, 100_000),
            "circuit did not settle (combinational loop?)"
        );
    }

    /// One clock cycle: inputs set before the call are sampled at the rising edge; on return
    /// registers hold their new values and combinational outputs are settled.
    pub fn step(&mut self) {
        self.settle();
        (self.clock)(&mut self.uut).next = Clock::from(false);
        self.settle();
        if let Some(trace) = &mut self.trace {
            let mut sampler = PortSampler::default();
            self.uut.accept("top", &mut sampler);
            trace.push(sampler.ports);
        }
        (self.clock)(&mut self.uut).next = Clock::from(true);
        self.settle();
        self.cycle += 1;
    }

    /// Starts recording every cycle's top-level inputs and outputs for [`Bench::replay`].
    pub fn record(&mut self) {
        self.trace = Some(Vec::new());
        self.recorded_verilog = generate_verilog(&self.uut);
    }

    /// Replays the recorded inputs on the block's generated Verilog in Icarus Verilog and
    /// checks every output in every cycle against the simulation: proof that the Verilog
    /// rust-hdl generates behaves like the simulation the tests ran. Bits that are `x` in
    /// Verilog (memory never written, which rust-hdl simulates as 0) are not compared.
    /// Panics on the first mismatches.
    pub fn replay(&self, name: &str) {
        self.replay_qualified(name, &[]);
    }

    /// Like [`Bench::replay`], but an output named first in a `(output, qualifier)` pair is
    /// compared only in cycles where the output `qualifier` is nonzero in the simulation: data
    /// beside a low valid is don't-care (rust-hdl passes clocks through combinational stubs,
    /// so in an event-driven simulator a RAM written on an edge may already show the new word
    /// in a read of that same edge, e.g. a FIFO's `data_out` while it is empty).
    pub fn replay_qualified(&self, name: &str, qualifiers: &[(&str, &str)]) {
        let trace = self.trace.as_ref().expect("call record() before the run");
        assert!(!trace.is_empty(), "nothing recorded");
        let verilog = &self.recorded_verilog;
        let ports = &trace[0];
        let mut tb =
            String::from("`timescale 1ns/1ps\nmodule tb;\nreg clock = 0;\ninteger errors = 0;\n");
        for p in ports {
            let kind = if p.input { "reg" } else { "wire" };
            tb += &format!("{kind} [{}:0] {};\n", p.bits - 1, p.name);
        }
        let conns: Vec<String> = std::iter::once(".clock(clock)".to_string())
            .chain(ports.iter().map(|p| format!(".{0}({0})", p.name)))
            .collect();
        tb += &format!("top dut({});\ninitial begin\n", conns.join(", "));
        for (cycle, snapshot) in trace.iter().enumerate() {
            for p in snapshot.iter().filter(|p| p.input) {
                tb += &format!("{} = {};\n", p.name, p.literal);
            }
            tb += "#1;\n";
            for p in snapshot.iter().filter(|p| !p.input) {
                let qualifier = qualifiers.iter().find(|q| q.0 == p.name).map(|q| q.1);
                if let Some(q) = qualifier {
                    let valid = snapshot
                        .iter()
                        .find(|o| o.name == q)
                        .unwrap_or_else(|| panic!("no output {q} to qualify {}", p.name));
                    if literal_is_zero(&valid.literal) {
                        continue;
                    }
                }
                tb += &format!(
                    "if ((^{n} !== 1'bx) && {n} !== {v}) begin errors = errors + 1; \
                     if (errors < 20) $display(\"MISMATCH cycle {cycle} {n}: verilog %h, simulation {v}\", {n}); end\n",
                    n = p.name,
                    v = p.literal
                );
            }
            tb += "clock = 1; #1; clock = 0; #1;\n";
        }
        tb += "$display(\"REPLAY errors=%0d\", errors);\n$finish;\nend\nendmodule\n";
        let dir = std::env::temp_dir().join(format!("vassa_replay_{name}_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("dut.v"), verilog).unwrap();
        std::fs::write(dir.join("tb.v"), &tb).unwrap();
        let compile = std::process::Command::new("iverilog")
            .current_dir(&dir)
            .args(["-g2005", "-o", "sim", "tb.v", "dut.v"])
            .output()
            .expect("iverilog runs (scripts/setup-tools.sh installs it)");
        assert!(
            compile.status.success(),
            "iverilog failed for {name}: {}",
            String::from_utf8_lossy(&compile.stderr)
        );
        let run = std::process::Command::new("vvp")
            .current_dir(&dir)
            .arg("sim")
            .output()
            .expect("vvp runs");
        let out = String::from_utf8_lossy(&run.stdout);
        assert!(
            out.contains("REPLAY errors=0"),
            "{name}: generated Verilog disagrees with the simulation over {} cycles:\n{out}",
            trace.len()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Steps `n` cycles.
    pub fn steps(&mut self, n: usize) {
        for _ in 0..n {
            self.step();
        }
    }
}

/// Generates Verilog for a block (all inputs treated as driven) and checks it with yosys
/// (`hierarchy -check; proc`: undriven wires, implicit declarations, latches).
pub fn yosys_check<T: Block>(name: &str, mut uut: T) -> String {
    uut.connect_all();
    let verilog = generate_verilog(&uut);
    // Tests run in parallel; give each check its own directory under the temp dir.
    let prefix = format!("vassa_{}_{}", name, std::process::id());
    if let Err(e) = yosys_validate(&prefix, &verilog) {
        panic!(
            "yosys rejected {name} (files kept in {}): {e:?}",
            std::env::temp_dir().join(&prefix).display()
        );
    }
    let _ = std::fs::remove_dir_all(std::env::temp_dir().join(&prefix));
    verilog
}

/// Generates Verilog for a block and runs `verilator --lint-only -Wall` on it with the
/// project's documented waivers only.
pub fn lint_check<T: Block>(name: &str, mut uut: T) {
    uut.connect_all();
    let verilog = crate::hwcheck::rename_top(&generate_verilog(&uut), name);
    if let Err(e) = crate::hwcheck::verilator_lint(&verilog, name) {
        panic!("verilator lint of {name}:\n{e}");
    }
}

/// Small deterministic generator for test stimulus (timing jitter, random strobes).
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}
