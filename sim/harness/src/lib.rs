//! The host driver (`vassa-driver`) on simulated networks, and what runs on them:
//!
//! - [`fabric`]: [`RtlFabric`] (Verilated cards, any core parameters) and [`ModelFabric`]
//!   (golden models timed per link) behind the simulated switch, with its [`Switch`] hooks:
//!   faults, injections, counts and the ledger of every packet copy.
//! - [`board_sim`]: [`board_sim::SimEndpoints`], the Verilated card behind its FrontPanel
//!   bridge, for the driver's `BoardFabric`.
//! - [`scenario`]: scenario files for `vassa sim` (format, reading, validation, one-line
//!   errors naming file, line and field).
//! - [`runner`]: runs a scenario on either backend: traffic, faults, reading and checking
//!   every message, the report with its accounting and checks, memory dumps.
//! - [`mod@bench`]: measurements behind `vassa bench channels` (send cost, end-to-end rates).

pub mod bench;
pub mod board_sim;
pub mod fabric;
pub mod runner;
pub mod scenario;

pub use fabric::{ModelFabric, RtlFabric, Switch};
