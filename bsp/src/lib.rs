//! VASSA board tops, their pin constraints and their synthesis flows.
//!
//! - [`xem6010`]: Opal Kelly XEM6010 (Spartan-6 xc6slx45): the core behind FrontPanel
//!   endpoints, ISE 14.7 project or yosys `synth_xilinx` utilization.
//! - [`cu`]: Alchitry Cu (iCE40-HX8K): the core behind a UART bridge, open flow
//!   yosys → nextpnr-ice40 → icepack.

pub mod constraints;
pub mod cu;
pub mod ice40;
pub mod ise;
pub mod ok;
pub mod report;
pub mod xem6010;
