//! A single-threaded cycle stepper for unit tests of blocks.
//!
//! rust-hdl's `Simulation` runs every clock and testbench as a thread and passes the circuit
//! over channels (≈ 6 k cycles/s). For unit tests we step the circuit directly: the caller sets
//! input `.next` values, then [`Bench::step`] applies one rising clock edge and lets the
//! combinational logic settle. Behaviour is the same as rust-hdl's simulator (same
//! `update_all` fixed point), without the threads.

use rust_hdl::prelude::*;

use crate::vectors::{sample_ports, Vectors};

/// A block under test with a function that reaches its clock input.
pub struct Bench<T: Block> {
    pub uut: T,
    clock: fn(&mut T) -> &mut Signal<In, Clock>,
    /// Rising edges applied so far.
    pub cycle: u64,
    /// Every cycle's top-level ports, when recording (see [`Bench::record`]).
    vectors: Option<Vectors>,
}

impl<T: Block> Bench<T> {
    pub fn new(mut uut: T, clock: fn(&mut T) -> &mut Signal<In, Clock>) -> Self {
        uut.connect_all();
        let mut bench = Bench {
            uut,
            clock,
            cycle: 0,
            vectors: None,
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
        if let Some(vectors) = &mut self.vectors {
            vectors.push(sample_ports(&self.uut));
        }
        (self.clock)(&mut self.uut).next = Clock::from(true);
        self.settle();
        self.cycle += 1;
    }

    /// Starts recording every cycle's top-level inputs and outputs for [`Bench::replay`].
    pub fn record(&mut self) {
        // Memories whose generated Verilog carries their simulated contents must start the
        // replay from the state the recording starts from.
        self.vectors = Some(Vectors::new(generate_verilog(&self.uut)));
    }

    /// What [`Bench::record`] recorded so far.
    pub fn vectors(&self) -> &Vectors {
        let vectors = self.vectors.as_ref().expect("call record() before the run");
        assert!(!vectors.cycles.is_empty(), "nothing recorded");
        vectors
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
        let vectors = self.vectors();
        let icarus = vectors.icarus(name);
        vectors.check_agreement(name, qualifiers, &[("icarus", &icarus)]);
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
