//! Generator parameters of the core: defaults, limits and validation.
//!
//! Widths inside the core are fixed (32-bit datapath and addresses, 4 KiB pages, 6-bit slot
//! numbers); the parameters below choose how many of each resource the generated Verilog has.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Bytes moved per cycle on the link and the memory port.
pub const DATAPATH_BYTES: u32 = 4;
/// log2 of the page size shared by physical and network virtual address spaces.
pub const PAGE_SHIFT: u32 = 12;
/// Page size in bytes.
pub const PAGE_SIZE: u32 = 1 << PAGE_SHIFT;
/// Bits of a page number (32-bit addresses).
pub const PAGE_NUMBER_BITS: u32 = 32 - PAGE_SHIFT;
/// Largest packets the receive ring holds besides one per miss buffer: packets that hit the
/// RX cache are stored there back to back while the line writer drains it. The writer is
/// faster than the link, so one packet being written plus one arriving always fit; each
/// parked packet's retry keeps the writer busy for one more packet time, during which a packet
/// arrives at line rate — hence one more per miss buffer (see `CoreParams::rx_ring_words`).
pub const RX_WORK_SLOTS: u32 = 2;
/// Most words of receive buffer RAM (its address is 14 bits wide).
pub const RX_BUFFER_WORDS_MAX: u32 = 1 << 14;
/// Entries of the doorbell FIFO (descriptors the host can queue).
pub const DOORBELL_FIFO_DEPTH: u32 = 16;
/// Entries of the notification FIFO (signal-on-write records).
pub const NOTIFY_FIFO_DEPTH: u32 = 16;
/// Most entries of the miss FIFO ([`CoreParams::miss_fifo_depth`] at the largest
/// `miss_buffer_packets`).
pub const MISS_FIFO_DEPTH_MAX: u32 = 9;
/// Latency in cycles from a lookup request to its response in the mapping cache.
pub const LOOKUP_LATENCY: u32 = 2;

/// One generator parameter: its name, documentation and allowed range.
#[derive(Debug, Clone, Copy)]
pub struct ParamInfo {
    pub name: &'static str,
    pub default: u32,
    pub min: u32,
    pub max: u32,
    pub power_of_two: bool,
    pub doc: &'static str,
}

/// All parameters, in the order of the parameters report and the PARAM registers.
pub const PARAMS: [ParamInfo; 6] = [
    ParamInfo {
        name: "tx_cache_entries",
        default: 16,
        min: 2,
        max: 64,
        power_of_two: true,
        doc: "entries of the TX mapping cache (physical page -> NVA page)",
    },
    ParamInfo {
        name: "rx_cache_entries",
        default: 16,
        min: 2,
        max: 64,
        power_of_two: true,
        doc: "entries of the RX mapping cache (NVA page -> physical page)",
    },
    ParamInfo {
        name: "line_bytes",
        default: 32,
        min: 4,
        max: 128,
        power_of_two: true,
        doc: "cache-line size of the memory port; bursts never cross a line",
    },
    ParamInfo {
        name: "max_payload",
        default: 256,
        min: 4,
        max: PAGE_SIZE,
        power_of_two: false,
        doc: "largest packet payload in bytes (a multiple of the 4-byte datapath)",
    },
    ParamInfo {
        name: "miss_buffer_packets",
        default: 2,
        min: 1,
        max: 8,
        power_of_two: false,
        doc: "received packets that can be parked while the host services a miss",
    },
    ParamInfo {
        name: "counter_slots",
        default: 32,
        min: 1,
        max: 64,
        power_of_two: true,
        doc: "traffic counter slots (TX/RX packets and bytes each)",
    },
];

/// The [`PARAMS`] entry of a parameter, by name.
///
/// # Panics
/// If no parameter has that name (names are the constants' own, so a typo is a bug).
pub fn param_info(name: &str) -> &'static ParamInfo {
    PARAMS
        .iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no generator parameter named {name}"))
}

/// The generator parameters of one core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoreParams {
    pub tx_cache_entries: u32,
    pub rx_cache_entries: u32,
    pub line_bytes: u32,
    pub max_payload: u32,
    pub miss_buffer_packets: u32,
    pub counter_slots: u32,
}

impl Default for CoreParams {
    fn default() -> Self {
        let d = |i: usize| PARAMS[i].default;
        CoreParams {
            tx_cache_entries: d(0),
            rx_cache_entries: d(1),
            line_bytes: d(2),
            max_payload: d(3),
            miss_buffer_packets: d(4),
            counter_slots: d(5),
        }
    }
}

/// Why a parameter set was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    #[error("{name} = {value} is out of range {min}..={max}")]
    OutOfRange {
        name: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("{name} = {value} must be a power of two")]
    NotPowerOfTwo { name: &'static str, value: u32 },
    #[error("{name} = {value} must be a multiple of the {DATAPATH_BYTES}-byte datapath")]
    NotDatapathMultiple { name: &'static str, value: u32 },
    #[error(
        "max_payload = {max_payload} with miss_buffer_packets = {miss_buffer_packets} needs \
         {words} words of receive RAM, more than {RX_BUFFER_WORDS_MAX}: lower one of them"
    )]
    ReceiveRamTooLarge {
        max_payload: u32,
        miss_buffer_packets: u32,
        words: u32,
    },
    #[error("invalid parameter file: {0}")]
    Parse(String),
}

impl CoreParams {
    /// Values in the order of [`PARAMS`].
    pub fn values(&self) -> [u32; 6] {
        [
            self.tx_cache_entries,
            self.rx_cache_entries,
            self.line_bytes,
            self.max_payload,
            self.miss_buffer_packets,
            self.counter_slots,
        ]
    }

    /// Checks every parameter against its range and shape; the first violation is returned.
    pub fn validate(&self) -> Result<(), ParamError> {
        for (info, value) in PARAMS.iter().zip(self.values()) {
            if value < info.min || value > info.max {
                return Err(ParamError::OutOfRange {
                    name: info.name,
                    value,
                    min: info.min,
                    max: info.max,
                });
            }
            if info.power_of_two && !value.is_power_of_two() {
                return Err(ParamError::NotPowerOfTwo {
                    name: info.name,
                    value,
                });
            }
        }
        for (name, value) in [
            ("line_bytes", self.line_bytes),
            ("max_payload", self.max_payload),
        ] {
            if value % DATAPATH_BYTES != 0 {
                return Err(ParamError::NotDatapathMultiple { name, value });
            }
        }
        if self.rx_buffer_words() > RX_BUFFER_WORDS_MAX {
            return Err(ParamError::ReceiveRamTooLarge {
                max_payload: self.max_payload,
                miss_buffer_packets: self.miss_buffer_packets,
                words: self.rx_buffer_words(),
            });
        }
        Ok(())
    }

    /// Parses and validates a TOML parameter file; missing keys take their defaults.
    pub fn from_toml(text: &str) -> Result<Self, ParamError> {
        let params: CoreParams =
            toml::from_str(text).map_err(|e| ParamError::Parse(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// 32-bit words in a cache line.
    pub fn line_words(&self) -> u32 {
        self.line_bytes / DATAPATH_BYTES
    }

    /// 32-bit words in the largest payload.
    pub fn max_payload_words(&self) -> u32 {
        self.max_payload / DATAPATH_BYTES
    }

    /// Max-payload strides of receive buffer RAM: the ring (`RX_WORK_SLOTS` strides) plus one
    /// miss buffer per parkable packet.
    pub fn rx_buffer_slots(&self) -> u32 {
        self.miss_buffer_packets + RX_WORK_SLOTS
    }

    /// log2 of the word stride of one receive packet buffer (payload rounded up to a power of 2).
    pub fn rx_slot_shift(&self) -> u32 {
        self.max_payload_words()
            .next_power_of_two()
            .trailing_zeros()
    }

    /// Words of the receive ring: `RX_WORK_SLOTS + miss_buffer_packets` strides, rounded up to
    /// a power of two (the ring's addresses wrap); the miss buffers follow it in the receive
    /// buffer RAM.
    pub fn rx_ring_words(&self) -> u32 {
        (RX_WORK_SLOTS + self.miss_buffer_packets).next_power_of_two() << self.rx_slot_shift()
    }

    /// Entries of the miss FIFO: at most `miss_buffer_packets + 1` misses are outstanding (one
    /// per miss buffer, one in the TX MMU), and a driver pops a miss's record before it
    /// resolves the miss, so that many records are ever queued.
    pub fn miss_fifo_depth(&self) -> u32 {
        self.miss_buffer_packets + 1
    }

    /// Words of receive buffer RAM: the ring and the miss buffers.
    pub fn rx_buffer_words(&self) -> u32 {
        self.rx_ring_words() + (self.miss_buffer_packets << self.rx_slot_shift())
    }

    /// A short human-readable report of the parameters and what they cost in storage.
    pub fn report(&self) -> String {
        let mut out = String::from("VASSA core parameters\n");
        for (info, value) in PARAMS.iter().zip(self.values()) {
            out += &format!("  {:<20} {:>6}   {}\n", info.name, value, info.doc);
        }
        out += &format!(
            "  {:<20} {:>6}   page size in bytes (fixed)\n  {:<20} {:>6}   receive RAM words: a ring of {} for packets that hit, {} miss buffers of {}\n",
            "page_size",
            PAGE_SIZE,
            "rx_buffer_words",
            self.rx_buffer_words(),
            self.rx_ring_words(),
            self.miss_buffer_packets,
            1u32 << self.rx_slot_shift()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        CoreParams::default().validate().unwrap();
        for info in PARAMS {
            assert!(
                info.min <= info.default && info.default <= info.max,
                "{}",
                info.name
            );
        }
    }

    #[test]
    fn miss_fifo_depth_max_is_the_largest_depth() {
        let p = CoreParams {
            miss_buffer_packets: param_info("miss_buffer_packets").max,
            ..CoreParams::default()
        };
        assert_eq!(p.miss_fifo_depth(), MISS_FIFO_DEPTH_MAX);
    }

    #[test]
    fn rejects_non_power_of_two_cache() {
        let p = CoreParams {
            rx_cache_entries: 12,
            ..Default::default()
        };
        assert_eq!(
            p.validate(),
            Err(ParamError::NotPowerOfTwo {
                name: "rx_cache_entries",
                value: 12
            })
        );
    }

    #[test]
    fn rejects_payload_not_multiple_of_datapath() {
        let p = CoreParams {
            max_payload: 250,
            ..Default::default()
        };
        assert!(matches!(
            p.validate(),
            Err(ParamError::NotDatapathMultiple { .. })
        ));
    }

    #[test]
    fn toml_fills_defaults_and_rejects_unknown_keys() {
        let p = CoreParams::from_toml("tx_cache_entries = 8\n").unwrap();
        assert_eq!(p.tx_cache_entries, 8);
        assert_eq!(p.rx_cache_entries, 16);
        let err = CoreParams::from_toml("cache_entries = 8\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        assert!(CoreParams::from_toml("line_bytes = 2\n").is_err());
    }

    #[test]
    fn rx_buffer_geometry() {
        let p = CoreParams::default();
        assert_eq!(p.rx_slot_shift(), 6); // 64 words
                                          // A ring of 2 + 2 largest packets, then 2 miss buffers.
        assert_eq!(p.rx_ring_words(), 4 * 64);
        assert_eq!(p.rx_buffer_words(), 6 * 64);
        let three = CoreParams {
            miss_buffer_packets: 3,
            ..Default::default()
        };
        assert_eq!(three.rx_ring_words(), 8 * 64);
        let too_big = CoreParams {
            max_payload: 4096,
            miss_buffer_packets: 8,
            ..Default::default()
        };
        assert!(matches!(
            too_big.validate(),
            Err(ParamError::ReceiveRamTooLarge { words: 24576, .. })
        ));
        let odd = CoreParams {
            max_payload: 100,
            ..Default::default()
        };
        assert_eq!(odd.rx_slot_shift(), 5); // 25 words -> 32
    }
}
