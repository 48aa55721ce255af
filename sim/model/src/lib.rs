//! The golden model of a network of VASSA cards, pure Rust from the spec (`vassa-spec`):
//!
//! - [`card`]: [`card::CardModel`], one card's register bus, TX and RX paths, untimed.
//! - [`switch`]: the switch's routing by NVA page and its fault hook, shared with the Verilated
//!   network (`vassa-sim`).
//! - [`ledger`]: what became of every packet copy, kept the same way on both networks.
//! - [`network`]: [`network::ModelNetwork`], model cards joined by the switch, timed per link.

pub mod card;
pub mod ledger;
pub mod network;
pub mod switch;
