//! Board backend: one card on an FPGA board behind Opal Kelly FrontPanel endpoints (XEM6010),
//! as a [`crate::Fabric`].
//!
//! - [`endpoints`]: the [`Endpoints`] trait, the FrontPanel API shape (wires, triggers, pipes)
//!   plus time in core cycles.
//! - [`fabric`]: [`BoardFabric`], the protocol: registers over wires and triggers, memory over
//!   pipes, events, irq, loopback (contract: `vassa_rtl::spec::board::fp`,
//!   docs/host_link.md). The same code runs over both endpoint implementations:
//! - [`sim`]: [`SimEndpoints`], a Verilated simulation of the card behind its FrontPanel
//!   bridge (`vassa_sim::board::BoardSim`), which the tests use;
//! - `frontpanel` (feature `frontpanel`): `FrontPanel`, the real device through
//!   `rust-hdl-ok-frontpanel-sys` (needs Opal Kelly's SDK to build: `OK_FRONTPANEL_DIR`).

pub mod endpoints;
pub mod fabric;
#[cfg(feature = "frontpanel")]
pub mod frontpanel;
pub mod sim;

#[cfg(test)]
mod fake;

pub use endpoints::{EndpointError, Endpoints, CORE_CLOCK_HZ};
pub use fabric::{BoardConfig, BoardError, BoardFabric, BoardStats, CHUNK_BYTES};
#[cfg(feature = "frontpanel")]
pub use frontpanel::FrontPanel;
pub use sim::SimEndpoints;
