//! The register map of the host bus.
//!
//! The bus is 32 bits wide with byte addresses ([`ADDR_BITS`] bits, word aligned). Reads are
//! answered by `read valid` one or more cycles after the read strobe; software must wait for it.

use crate::params::DOORBELL_FIFO_DEPTH;
use crate::{field as f, Field};

/// Width of the register bus address (byte address).
pub const ADDR_BITS: u32 = 12;
/// Value of the ID register: "VASS".
pub const MAGIC: u32 = 0x5641_5353;
/// Value of the VERSION register: major << 16 | minor.
pub const VERSION: u32 = 0x0001_0000;

/// How software may access a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only.
    Ro,
    /// Read and write.
    Rw,
    /// Write only; reads return 0.
    Wo,
    /// Write 1 to clear a bit.
    W1c,
    /// Reading returns the head of a FIFO and removes it (bit 31 says whether it was valid).
    Pop,
    /// Reading returns the counter and clears it in the same cycle; an increment in that cycle
    /// is kept (the counter restarts from it).
    ReadClear,
}

impl Access {
    pub fn label(self) -> &'static str {
        match self {
            Access::Ro => "RO",
            Access::Rw => "RW",
            Access::Wo => "WO",
            Access::W1c => "W1C",
            Access::Pop => "RO/pop",
            Access::ReadClear => "RO/clear",
        }
    }
}

/// One register.
#[derive(Debug, Clone, Copy)]
pub struct Register {
    pub name: &'static str,
    pub offset: u32,
    pub access: Access,
    pub reset: u32,
    pub fields: &'static [Field],
    pub doc: &'static str,
}

impl Register {
    /// The bits its fields define (a register stores and reads back only these).
    pub const fn defined_mask(&self) -> u32 {
        let mut mask = 0;
        let mut i = 0;
        while i < self.fields.len() {
            mask |= self.fields[i].mask();
            i += 1;
        }
        mask
    }
}

const fn whole(name: &'static str, doc: &'static str) -> [Field; 1] {
    [f(name, 0, 32, doc)]
}

// ---- Fields shared by the RTL and software -------------------------------------------------

pub const NODE_ID_ID: Field = f("node_id", 0, 8, "this card's node id, sent in every header");
pub const CONTROL_TX_ENABLE: Field = f(
    "tx_enable",
    0,
    1,
    "start descriptors from the doorbell FIFO (descriptors queue while 0)",
);
pub const STATUS_TX_BUSY: Field = f(
    "tx_busy",
    0,
    1,
    "a descriptor is being sent or waits on a miss",
);
/// A packet counts until it is in memory or dropped, so a reader that finds a newer message
/// of a writer complete and an older one missing knows, when this reads 0, that the older one
/// will never come.
pub const STATUS_PARKED: Field = f(
    "rx_parked",
    4,
    4,
    "received packets parked on a miss, each counted from its miss until its retry is written \
     to memory or it is dropped (at its retry, or by a resolve with drop)",
);
pub const STATUS_DB_USED: Field = f(
    "doorbell_used",
    8,
    5,
    "descriptors queued in the doorbell FIFO",
);
pub const STATUS_MISS_USED: Field = f("miss_used", 16, 5, "records in the miss FIFO");
pub const STATUS_NOTIFY_USED: Field = f("notify_used", 24, 5, "records in the notification FIFO");

pub const PARAM0_TX_CACHE: Field = f("tx_cache_entries", 0, 8, "generator parameter");
pub const PARAM0_RX_CACHE: Field = f("rx_cache_entries", 8, 8, "generator parameter");
pub const PARAM0_SLOTS: Field = f("counter_slots", 16, 8, "generator parameter");
pub const PARAM0_MISS_BUF: Field = f("miss_buffer_packets", 24, 8, "generator parameter");
pub const PARAM1_MAX_PAYLOAD: Field = f("max_payload", 0, 16, "generator parameter (bytes)");
pub const PARAM1_LINE: Field = f("line_bytes", 16, 8, "generator parameter (bytes)");
pub const PARAM1_PAGE_SHIFT: Field = f("page_shift", 24, 8, "log2 of the page size");

pub const IRQ_MISS: Field = f("miss", 0, 1, "a miss record was posted");
pub const IRQ_SIGNAL: Field = f("signal", 1, 1, "a signal-on-write notification was posted");
pub const IRQ_ERROR: Field = f("error", 2, 1, "a bit of ERROR is set");

pub const ERROR_DB_OVERFLOW: Field = f(
    "doorbell_overflow",
    0,
    1,
    "a doorbell was pushed while the doorbell FIFO was full; it was discarded",
);
pub const ERROR_NOTIFY_OVERFLOW: Field = f(
    "notify_overflow",
    1,
    1,
    "a notification was lost because the notification FIFO was full (counted in notify_lost)",
);
pub const ERROR_BAD_DOORBELL: Field = f(
    "bad_doorbell",
    2,
    1,
    "a doorbell had length 0; it was discarded (counted in bad_doorbells)",
);
pub const ERROR_MAP_BUSY: Field = f(
    "map_busy",
    3,
    1,
    "MAP_CMD was written while that cache was still installing; the op was refused",
);
pub const ERROR_MISS_OVERFLOW: Field = f(
    "miss_overflow",
    4,
    1,
    "a miss record found the miss FIFO full (misses resolved without popping their records); \
     it was not stored",
);

pub const MISS_PAGE: Field = f(
    "page",
    0,
    20,
    "missing page: NVA page for RX, physical page for TX",
);
pub const MISS_TAG: Field = f(
    "tag",
    24,
    4,
    "RX: receive buffer holding the parked packet (an opaque handle: echo it in MISS_RESOLVE); TX: 0",
);
pub const MISS_DIR_TX: Field = f("tx", 30, 1, "1 = TX cache miss, 0 = RX cache miss");
pub const POP_VALID: Field = f("valid", 31, 1, "1 when the FIFO was not empty");

pub const RESOLVE_DROP: Field = f(
    "drop",
    0,
    1,
    "0 = look the page up again (after installing a mapping), 1 = drop the packet (RX) or cancel the descriptor (TX)",
);
pub const RESOLVE_TX: Field = f("tx", 1, 1, "1 = resolve the TX miss, 0 = an RX miss");
pub const RESOLVE_TAG: Field = f("tag", 4, 4, "RX: the tag of the miss record being resolved");

pub const MAP_KEY_PAGE: Field = f("page", 0, 20, "RX: NVA page; TX: physical page");
pub const MAP_PAGE_PAGE: Field = f("page", 0, 20, "RX: physical page; TX: NVA page");
pub const MAP_ATTR_WRITABLE: Field = f("writable", 0, 1, "RX: packets may write the page");
pub const MAP_ATTR_SIGNAL: Field = f(
    "signal",
    1,
    1,
    "RX: each delivered packet posts a notification (signal-on-write)",
);
pub const MAP_ATTR_SLOT: Field = f(
    "counter_slot",
    8,
    6,
    "traffic counter slot charged for this page",
);
pub const MAP_ATTR_EPOCH: Field = f("epoch", 16, 8, "mapping epoch (seeds the trailer checksum)");
pub const MAP_CMD_OP: Field = f(
    "op",
    0,
    2,
    "1 = install, 2 = invalidate slot, 3 = flush all",
);
pub const MAP_CMD_TX: Field = f("tx", 4, 1, "1 = TX cache, 0 = RX cache");
pub const MAP_CMD_SLOT: Field = f("slot", 8, 6, "cache entry to install into or invalidate");
pub const MAP_OP_INSTALL: u32 = 1;
pub const MAP_OP_INVALIDATE: u32 = 2;
pub const MAP_OP_FLUSH: u32 = 3;

pub const DB_PUSH_LENGTH: Field = f("length", 0, 16, "message bytes (1..=65535)");
pub const DB_PUSH_USER: Field = f("user", 16, 1, "copied into every packet's user flag");
pub const DB_STATUS_FREE: Field = f("free", 0, 5, "descriptors that can be pushed now");

pub const NOTIFY_LENGTH: Field = f("length", 0, 13, "bytes written");

/// The MAP_ATTR value for a mapping's attributes (values wider than a field are cut).
pub const fn map_attr(writable: bool, signal: bool, counter_slot: u32, epoch: u8) -> u32 {
    let w = MAP_ATTR_WRITABLE.put(0, writable as u32);
    let w = MAP_ATTR_SIGNAL.put(w, signal as u32);
    let w = MAP_ATTR_SLOT.put(w, counter_slot);
    MAP_ATTR_EPOCH.put(w, epoch as u32)
}

/// The MAP_CMD value for `op` (MAP_OP_*) on the TX or RX cache and `slot`.
pub const fn map_cmd(op: u32, tx: bool, slot: u32) -> u32 {
    MAP_CMD_SLOT.put(MAP_CMD_TX.put(MAP_CMD_OP.put(0, op), tx as u32), slot)
}

/// The register writes, as (offset, value) in order, that install a mapping of `key` to
/// `page` with attributes `attr` (see [`map_attr`]) into `slot` of the TX or RX cache.
pub const fn install_writes(
    tx: bool,
    slot: u32,
    key: u32,
    page: u32,
    attr: u32,
) -> [(u32, u32); 4] {
    [
        (MAP_KEY.offset, key),
        (MAP_PAGE.offset, page),
        (MAP_ATTR.offset, attr),
        (MAP_CMD.offset, map_cmd(MAP_OP_INSTALL, tx, slot)),
    ]
}

// ---- Registers ------------------------------------------------------------------------------

const ID_FIELDS: [Field; 1] = whole("magic", "0x56415353 (\"VASS\")");
const VERSION_FIELDS: [Field; 1] = whole("version", "major << 16 | minor");
const DB_ADDR_FIELDS: [Field; 1] = whole("addr", "physical byte address of the message");
const NOTIFY_NVA_FIELDS: [Field; 1] = whole("nva", "NVA of the first byte written");

pub const ID: Register = reg(
    "ID",
    0x000,
    Access::Ro,
    MAGIC,
    &ID_FIELDS,
    "identifies a VASSA core",
);
pub const VERSION_REG: Register = reg(
    "VERSION",
    0x004,
    Access::Ro,
    VERSION,
    &VERSION_FIELDS,
    "core version",
);
pub const NODE_ID: Register = reg("NODE_ID", 0x008, Access::Rw, 0, &[NODE_ID_ID], "node id");
pub const CONTROL: Register = reg(
    "CONTROL",
    0x00C,
    Access::Rw,
    1,
    &[CONTROL_TX_ENABLE],
    "control",
);
pub const STATUS: Register = reg(
    "STATUS",
    0x010,
    Access::Ro,
    0,
    &[
        STATUS_TX_BUSY,
        STATUS_PARKED,
        STATUS_DB_USED,
        STATUS_MISS_USED,
        STATUS_NOTIFY_USED,
    ],
    "status",
);
pub const PARAM0: Register = reg(
    "PARAM0",
    0x020,
    Access::Ro,
    0,
    &[
        PARAM0_TX_CACHE,
        PARAM0_RX_CACHE,
        PARAM0_SLOTS,
        PARAM0_MISS_BUF,
    ],
    "generator parameters (reset value depends on them)",
);
pub const PARAM1: Register = reg(
    "PARAM1",
    0x024,
    Access::Ro,
    0,
    &[PARAM1_MAX_PAYLOAD, PARAM1_LINE, PARAM1_PAGE_SHIFT],
    "generator parameters (reset value depends on them)",
);
pub const IRQ_STATUS: Register = reg(
    "IRQ_STATUS",
    0x030,
    Access::Ro,
    0,
    &[IRQ_MISS, IRQ_SIGNAL, IRQ_ERROR],
    "latched interrupt causes; the irq line is high while (IRQ_STATUS & IRQ_MASK) != 0",
);
pub const IRQ_MASK: Register = reg(
    "IRQ_MASK",
    0x034,
    Access::Rw,
    0,
    &[IRQ_MISS, IRQ_SIGNAL, IRQ_ERROR],
    "interrupt enables",
);
pub const IRQ_ACK: Register = reg(
    "IRQ_ACK",
    0x038,
    Access::Wo,
    0,
    &[IRQ_MISS, IRQ_SIGNAL],
    "write 1 to clear a latched cause (error clears through ERROR)",
);
pub const ERROR: Register = reg(
    "ERROR",
    0x03C,
    Access::W1c,
    0,
    &[
        ERROR_DB_OVERFLOW,
        ERROR_NOTIFY_OVERFLOW,
        ERROR_BAD_DOORBELL,
        ERROR_MAP_BUSY,
        ERROR_MISS_OVERFLOW,
    ],
    "sticky error flags",
);
pub const MISS_POP: Register = reg(
    "MISS_POP",
    0x040,
    Access::Pop,
    0,
    &[MISS_PAGE, MISS_TAG, MISS_DIR_TX, POP_VALID],
    "next miss record",
);
pub const MISS_RESOLVE: Register = reg(
    "MISS_RESOLVE",
    0x044,
    Access::Wo,
    0,
    &[RESOLVE_DROP, RESOLVE_TX, RESOLVE_TAG],
    "tell the card how a miss was handled",
);
pub const MAP_KEY: Register = reg(
    "MAP_KEY",
    0x050,
    Access::Rw,
    0,
    &[MAP_KEY_PAGE],
    "mapping key for MAP_CMD",
);
pub const MAP_PAGE: Register = reg(
    "MAP_PAGE",
    0x054,
    Access::Rw,
    0,
    &[MAP_PAGE_PAGE],
    "mapped page for MAP_CMD",
);
pub const MAP_ATTR: Register = reg(
    "MAP_ATTR",
    0x058,
    Access::Rw,
    0,
    &[
        MAP_ATTR_WRITABLE,
        MAP_ATTR_SIGNAL,
        MAP_ATTR_SLOT,
        MAP_ATTR_EPOCH,
    ],
    "mapping attributes for MAP_CMD",
);
pub const MAP_CMD: Register = reg(
    "MAP_CMD",
    0x05C,
    Access::Wo,
    0,
    &[MAP_CMD_OP, MAP_CMD_TX, MAP_CMD_SLOT],
    "install MAP_KEY/MAP_PAGE/MAP_ATTR into a cache entry, invalidate an entry, or flush a cache",
);
pub const DB_ADDR: Register = reg(
    "DB_ADDR",
    0x060,
    Access::Rw,
    0,
    &DB_ADDR_FIELDS,
    "doorbell address",
);
pub const DB_PUSH: Register = reg(
    "DB_PUSH",
    0x064,
    Access::Wo,
    0,
    &[DB_PUSH_LENGTH, DB_PUSH_USER],
    "writing pushes the descriptor (DB_ADDR, length, user) to the doorbell FIFO",
);
pub const DB_STATUS: Register = reg(
    "DB_STATUS",
    0x068,
    Access::Ro,
    DOORBELL_FIFO_DEPTH,
    &[DB_STATUS_FREE],
    "doorbell FIFO space",
);
pub const NOTIFY_NVA: Register = reg(
    "NOTIFY_NVA",
    0x070,
    Access::Ro,
    0,
    &NOTIFY_NVA_FIELDS,
    "head of the notification FIFO (read before NOTIFY_POP)",
);
pub const NOTIFY_POP: Register = reg(
    "NOTIFY_POP",
    0x074,
    Access::Pop,
    0,
    &[NOTIFY_LENGTH, POP_VALID],
    "removes the head of the notification FIFO",
);

const fn reg(
    name: &'static str,
    offset: u32,
    access: Access,
    reset: u32,
    fields: &'static [Field],
    doc: &'static str,
) -> Register {
    Register {
        name,
        offset,
        access,
        reset,
        fields,
        doc,
    }
}

/// Every fixed register, by offset.
pub const REGISTERS: [Register; 22] = [
    ID,
    VERSION_REG,
    NODE_ID,
    CONTROL,
    STATUS,
    PARAM0,
    PARAM1,
    IRQ_STATUS,
    IRQ_MASK,
    IRQ_ACK,
    ERROR,
    MISS_POP,
    MISS_RESOLVE,
    MAP_KEY,
    MAP_PAGE,
    MAP_ATTR,
    MAP_CMD,
    DB_ADDR,
    DB_PUSH,
    DB_STATUS,
    NOTIFY_NVA,
    NOTIFY_POP,
];

// ---- Counters -------------------------------------------------------------------------------

/// Base of the global counters (read-and-clear, one word each).
pub const GLOBAL_COUNTER_BASE: u32 = 0x100;

/// A global event counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalCounter {
    pub name: &'static str,
    pub doc: &'static str,
}

/// Global counters, in address order (`GLOBAL_COUNTER_BASE + 4 * index`).
pub const GLOBAL_COUNTERS: [GlobalCounter; 10] = [
    GlobalCounter {
        name: "misses",
        doc: "miss records posted to the miss FIFO (RX and TX)",
    },
    GlobalCounter {
        name: "drop_crc_epoch",
        doc: "received packets whose trailer or epoch did not match",
    },
    GlobalCounter {
        name: "drop_protection",
        doc: "received packets for a page not writable, or running past the page end",
    },
    GlobalCounter {
        name: "drop_miss_dropped",
        doc: "parked packets the host told the card to drop",
    },
    GlobalCounter {
        name: "drop_miss_overflow",
        doc: "received packets that missed while the miss buffer was full",
    },
    GlobalCounter {
        name: "drop_tx_cancel",
        doc: "descriptors the host cancelled after a TX miss",
    },
    GlobalCounter {
        name: "drop_malformed",
        doc: "received packets with bad framing or length",
    },
    GlobalCounter {
        name: "drop_rx_overrun",
        doc: "received packets lost because no receive buffer was free",
    },
    GlobalCounter {
        name: "notify_lost",
        doc: "signal-on-write notifications lost to a full notification FIFO",
    },
    GlobalCounter {
        name: "bad_doorbells",
        doc: "zero-length doorbell descriptors, discarded",
    },
];

/// Index of a global counter by name (panics on an unknown name: a programming error).
pub fn global_counter_index(name: &str) -> usize {
    GLOBAL_COUNTERS
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no global counter named {name}"))
}

/// Base of the per-slot counters: slot `s` occupies `SLOT_COUNTER_BASE + SLOT_COUNTER_STRIDE * s`.
pub const SLOT_COUNTER_BASE: u32 = 0x800;
/// Bytes between the counter blocks of two slots.
pub const SLOT_COUNTER_STRIDE: u32 = 16;
/// The four counters of a slot, in address order (read-and-clear, one word each).
pub const SLOT_COUNTERS: [GlobalCounter; 4] = [
    GlobalCounter {
        name: "tx_packets",
        doc: "packets sent with a TX mapping charged to this slot",
    },
    GlobalCounter {
        name: "tx_bytes",
        doc: "payload bytes of those packets",
    },
    GlobalCounter {
        name: "rx_packets",
        doc: "packets written to memory through an RX mapping charged to this slot",
    },
    GlobalCounter {
        name: "rx_bytes",
        doc: "payload bytes of those packets",
    },
];

/// Address of counter `kind` (index into [`SLOT_COUNTERS`]) of `slot`.
pub const fn slot_counter_addr(slot: u32, kind: u32) -> u32 {
    SLOT_COUNTER_BASE + SLOT_COUNTER_STRIDE * slot + 4 * kind
}

/// Address of global counter `index`.
pub const fn global_counter_addr(index: u32) -> u32 {
    GLOBAL_COUNTER_BASE + 4 * index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::{param_info, MISS_FIFO_DEPTH_MAX, NOTIFY_FIFO_DEPTH};

    #[test]
    fn registers_do_not_overlap_and_fields_fit() {
        let regs = REGISTERS;
        for (i, a) in regs.iter().enumerate() {
            assert_eq!(a.offset % 4, 0, "{}", a.name);
            assert!(a.offset < GLOBAL_COUNTER_BASE, "{}", a.name);
            for b in &regs[i + 1..] {
                assert_ne!(a.offset, b.offset, "{} and {}", a.name, b.name);
            }
            let mut used = 0u32;
            for field in a.fields {
                assert!(field.lsb + field.width <= 32, "{}.{}", a.name, field.name);
                assert_eq!(used & field.mask(), 0, "{}.{} overlaps", a.name, field.name);
                used |= field.mask();
            }
        }
    }

    #[test]
    fn map_encoders_place_every_field() {
        let a = map_attr(true, false, 33, 0x7E);
        assert_eq!(MAP_ATTR_WRITABLE.get(a), 1);
        assert_eq!(MAP_ATTR_SIGNAL.get(a), 0);
        assert_eq!(MAP_ATTR_SLOT.get(a), 33);
        assert_eq!(MAP_ATTR_EPOCH.get(a), 0x7E);
        let w = install_writes(false, 3, 0x123, 0x456, a);
        assert_eq!(
            w.map(|(addr, _)| addr),
            [MAP_KEY, MAP_PAGE, MAP_ATTR, MAP_CMD].map(|r| r.offset)
        );
        assert_eq!(w[3].1, map_cmd(MAP_OP_INSTALL, false, 3));
        let c = map_cmd(MAP_OP_INVALIDATE, true, 9);
        assert_eq!(MAP_CMD_OP.get(c), MAP_OP_INVALIDATE);
        assert_eq!(MAP_CMD_TX.get(c), 1);
        assert_eq!(MAP_CMD_SLOT.get(c), 9);
    }

    #[test]
    fn counter_windows_fit_the_bus() {
        let max_slots = param_info("counter_slots").max;
        assert!(global_counter_addr(GLOBAL_COUNTERS.len() as u32) <= SLOT_COUNTER_BASE);
        assert!(slot_counter_addr(max_slots, 0) <= 1 << ADDR_BITS);
    }

    #[test]
    fn fifo_levels_fit_status_fields() {
        for (depth, field) in [
            (DOORBELL_FIFO_DEPTH, STATUS_DB_USED),
            (MISS_FIFO_DEPTH_MAX, STATUS_MISS_USED),
            (NOTIFY_FIFO_DEPTH, STATUS_NOTIFY_USED),
            (DOORBELL_FIFO_DEPTH, DB_STATUS_FREE),
        ] {
            assert!(depth <= field.max(), "{}", field.name);
        }
    }
}
