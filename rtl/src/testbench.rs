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
}

impl<T: Block> Bench<T> {
    pub fn new(mut uut: T, clock: fn(&mut T) -> &mut Signal<In, Clock>) -> Self {
        uut.connect_all();
        let mut bench = Bench {
            uut,
            clock,
            cycle: 0,
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
        (self.clock)(&mut self.uut).next = Clock::from(true);
        self.settle();
        self.cycle += 1;
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
        panic!("yosys rejected {name}: {e:?}");
    }
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
