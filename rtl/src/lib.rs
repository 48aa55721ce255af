//! VASSA interface core: the RustHDL blocks that implement the specification (`vassa-spec`,
//! re-exported as [`spec`]).

/// The specification, its own crate (`vassa-spec`) so software uses it without rust-hdl.
pub use vassa_spec as spec;

pub mod board;
pub mod cam_ram;
pub mod core;
pub mod counters;
pub mod crc32;
pub mod depacketizer;
pub mod interfaces;
pub mod lean_fifo;
pub mod line_writer;
pub mod mapping_cache;
pub mod miss_queue;
pub mod notify_queue;
pub mod packet_ram;
pub mod packetizer;
pub mod regfile;
pub mod row_fifo;
pub mod tx_mmu;
