//! Tools that check the Verilog the RTL generates, for its tests and for `vassa gen`:
//!
//! - [`testbench`]: [`testbench::Bench`], a single-threaded cycle stepper for rust-hdl blocks
//!   that records every cycle's top-level port values.
//! - [`vectors`]: those recordings ([`vectors::Vectors`]) replayed on the block's Verilog in
//!   Icarus Verilog and Verilator, cycle by cycle.
//! - [`hwcheck`]: Verilator lint with the documented waivers (`rtl/lint/`), yosys synthesis
//!   and nextpnr placement reports, and the one reader of a module's Verilog ports.

pub mod hwcheck;
pub mod testbench;
pub mod vectors;
