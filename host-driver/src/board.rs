//! Board backend: one card on an FPGA board behind Opal Kelly FrontPanel endpoints (XEM6010),
//! as a [`crate::Fabric`].
//!
//! - [`endpoints`]: the [`Endpoints`] trait, the FrontPanel API shape (wires, triggers, pipes)
//!   plus time in core cycles.
//! - [`board_fabric`]: [`BoardFabric`], the protocol: registers over wires and triggers, memory over
//!   pipes, events, irq, loopback (contract: `vassa_spec::board::fp`,
//!   docs/host_link.md). The same code runs over every endpoint implementation:
//! - `frontpanel` (feature `frontpanel`): `FrontPanel`, the real device through
//!   `rust-hdl-ok-frontpanel-sys` (needs Opal Kelly's SDK to build: `OK_FRONTPANEL_DIR`);
//! - `vassa_harness::board_sim::SimEndpoints`, a Verilated simulation of the card behind its
//!   FrontPanel bridge, which the tests use.

pub mod board_fabric;
pub mod endpoints;
#[cfg(feature = "frontpanel")]
pub mod frontpanel;

#[cfg(test)]
mod fake;

pub use board_fabric::{BoardConfig, BoardError, BoardFabric, BoardStats, CHUNK_BYTES};
pub use endpoints::{EndpointError, Endpoints, CORE_CLOCK_HZ};
#[cfg(feature = "frontpanel")]
pub use frontpanel::FrontPanel;
