//! VASSA interface core: the specification shared with software, and (feature `hdl`) the
//! RustHDL blocks that implement it.

pub mod spec;

#[cfg(feature = "hdl")]
pub mod crc32;
#[cfg(feature = "hdl")]
pub mod depacketizer;
#[cfg(feature = "hdl")]
pub mod line_writer;
#[cfg(feature = "hdl")]
pub mod packet_ram;
#[cfg(feature = "hdl")]
pub mod testbench;
