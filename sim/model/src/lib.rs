//! The golden model of a network of VASSA cards, pure Rust from the spec (`vassa-spec`):
//!
//! - [`card`]: [`card::CardModel`], one card's register bus, TX and RX paths, untimed.
//! - [`mapping_cache`]: [`mapping_cache::MappingCacheModel`], the mapping cache without
//!   timing, shared with the RTL block's tests.
//! - [`rx`]: [`rx::RxModel`], the receive path without timing, shared with the RTL block's
//!   tests; [`rx::hit_checks`], the checks of a packet whose page hit.
//! - [`switch`]: the switch's routing by NVA page and its fault hook, shared with the Verilated
//!   network (`vassa-sim`).
//! - [`ledger`]: what became of every packet copy, kept the same way on both networks.
//! - [`network`]: [`network::ModelNetwork`], model cards joined by the switch, timed per link.

pub mod card;
pub mod ledger;
pub mod mapping_cache;
pub mod network;
pub mod rx;
pub mod switch;
