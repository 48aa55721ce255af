//! VASSA interface core: the specification shared with software, and (feature `hdl`) the
//! RustHDL blocks that implement it.

pub mod spec;

#[cfg(feature = "hdl")]
pub mod board;
#[cfg(feature = "hdl")]
pub mod cam_ram;
#[cfg(feature = "hdl")]
pub mod core;
#[cfg(feature = "hdl")]
pub mod counters;
#[cfg(feature = "hdl")]
pub mod crc32;
#[cfg(feature = "hdl")]
pub mod depacketizer;
#[cfg(feature = "hdl")]
pub mod hwcheck;
#[cfg(feature = "hdl")]
pub mod lean_fifo;
#[cfg(feature = "hdl")]
pub mod line_writer;
#[cfg(feature = "hdl")]
pub mod mapping_cache;
#[cfg(feature = "hdl")]
pub mod miss_queue;
#[cfg(feature = "hdl")]
pub mod notify_queue;
#[cfg(feature = "hdl")]
pub mod packet_ram;
#[cfg(feature = "hdl")]
pub mod packetizer;
#[cfg(feature = "hdl")]
pub mod regfile;
#[cfg(feature = "hdl")]
pub mod row_fifo;
#[cfg(feature = "hdl")]
pub mod testbench;
#[cfg(feature = "hdl")]
pub mod tx_mmu;
#[cfg(feature = "hdl")]
pub mod vectors;
