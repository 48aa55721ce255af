//! The host links of the boards: how a host reaches a card's register bus and memory.
//!
//! Two links share one model: the register bus (12-bit byte address, 32-bit data) and the
//! card's physical memory (block RAM on the FPGA) moved by 32-bit words.
//! - **FrontPanel** (Opal Kelly XEM6010, USB 2.0): 16-bit wires and triggers for register
//!   operations and status, 16-bit pipes for memory. The bridge (rtl `board::frontpanel_bridge`)
//!   and the driver's board backend both read every endpoint address and bit from here.
//! - **UART** (Alchitry Cu, the board's USB-serial): byte frames (see [`uart`]).

/// One endpoint or one bit of a trigger endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub name: &'static str,
    pub addr: u8,
    pub doc: &'static str,
}

const fn ep(name: &'static str, addr: u8, doc: &'static str) -> Endpoint {
    Endpoint { name, addr, doc }
}

/// FrontPanel endpoint map. Address ranges are fixed by Opal Kelly: wire-ins 0x00–0x1F,
/// wire-outs 0x20–0x3F, trigger-ins 0x40–0x5F, trigger-outs 0x60–0x7F, pipe-ins 0x80–0x9F,
/// pipe-outs 0xA0–0xBF. Wires and pipe words are 16 bits (USB 2.0).
pub mod fp {
    use super::{ep, Endpoint};
    use crate::Field;

    /// Register byte address (12 bits used).
    pub const WI_REG_ADDR: Endpoint = ep("reg_addr", 0x00, "register byte address");
    pub const WI_REG_WDATA_LO: Endpoint =
        ep("reg_wdata_lo", 0x01, "register write data, bits 15:0");
    pub const WI_REG_WDATA_HI: Endpoint =
        ep("reg_wdata_hi", 0x02, "register write data, bits 31:16");
    pub const WI_MEM_ADDR_LO: Endpoint = ep(
        "mem_addr_lo",
        0x03,
        "memory byte address of the next memory operation, bits 15:0 (a multiple of 4)",
    );
    pub const WI_MEM_ADDR_HI: Endpoint = ep("mem_addr_hi", 0x04, "memory byte address, bits 31:16");
    pub const WI_MEM_WORDS: Endpoint = ep(
        "mem_words",
        0x05,
        "32-bit words of the next memory operation, 1 to PIPE_CHUNK_WORDS",
    );
    pub const WI_CONTROL: Endpoint = ep("control", 0x06, "board control bits (below)");

    pub const WO_REG_RDATA_LO: Endpoint = ep(
        "reg_rdata_lo",
        0x20,
        "data of the last register read, bits 15:0",
    );
    pub const WO_REG_RDATA_HI: Endpoint = ep(
        "reg_rdata_hi",
        0x21,
        "data of the last register read, bits 31:16",
    );
    pub const WO_STATUS: Endpoint = ep("status", 0x22, "bridge status bits (below)");
    pub const WO_PIPE_IN_WORDS: Endpoint = ep(
        "pipe_in_words",
        0x23,
        "16-bit words waiting in the pipe-in FIFO",
    );
    pub const WO_PIPE_OUT_WORDS: Endpoint = ep(
        "pipe_out_words",
        0x24,
        "16-bit words ready in the pipe-out FIFO",
    );
    pub const WO_MEM_KIB: Endpoint = ep("mem_kib", 0x25, "size of the card memory in KiB");
    pub const WO_MAGIC: Endpoint = ep("magic", 0x26, "BOARD_MAGIC: identifies a VASSA bitstream");
    pub const WO_ERRORS: Endpoint = ep(
        "errors",
        0x27,
        "commands refused since configuration (saturates at 0xFFFF)",
    );

    /// Trigger-in endpoint, clocked by the core clock (the OK block does the crossing).
    pub const TI_COMMAND: Endpoint = ep("command", 0x40, "one bit per command (below)");
    /// Trigger-out endpoint, clocked by the core clock.
    pub const TO_EVENTS: Endpoint = ep("events", 0x60, "one bit per event (below)");
    pub const PIPE_IN_MEM: Endpoint = ep(
        "mem_write_data",
        0x80,
        "memory write data: 16-bit words, the low half of each 32-bit word first",
    );
    pub const PIPE_OUT_MEM: Endpoint =
        ep("mem_read_data", 0xA0, "memory read data, in the same order");

    pub const WIRE_INS: [Endpoint; 7] = [
        WI_REG_ADDR,
        WI_REG_WDATA_LO,
        WI_REG_WDATA_HI,
        WI_MEM_ADDR_LO,
        WI_MEM_ADDR_HI,
        WI_MEM_WORDS,
        WI_CONTROL,
    ];
    pub const WIRE_OUTS: [Endpoint; 8] = [
        WO_REG_RDATA_LO,
        WO_REG_RDATA_HI,
        WO_STATUS,
        WO_PIPE_IN_WORDS,
        WO_PIPE_OUT_WORDS,
        WO_MEM_KIB,
        WO_MAGIC,
        WO_ERRORS,
    ];

    /// Bits of `command` (trigger-in 0x40).
    pub const CMD_REG_WRITE: Field = Field {
        name: "reg_write",
        lsb: 0,
        width: 1,
        doc: "write reg_wdata to reg_addr; `reg_done` when the bus took it (`error` if \
              reg_addr has bits above the 12-bit bus address)",
    };
    pub const CMD_REG_READ: Field = Field {
        name: "reg_read",
        lsb: 1,
        width: 1,
        doc: "read reg_addr; `reg_done` when reg_rdata holds the value (`error` if reg_addr \
              has bits above the 12-bit bus address)",
    };
    pub const CMD_MEM_WRITE: Field = Field {
        name: "mem_write",
        lsb: 2,
        width: 1,
        doc: "move mem_words words from the pipe-in FIFO to memory at mem_addr; `mem_done` \
              (or `error` if the FIFO holds fewer than 2·mem_words halves, the range leaves \
              memory, mem_words is 0 or above PIPE_CHUNK_WORDS, mem_addr is not a multiple of \
              4 or `pipe_in_overflow` is set: nothing is written then and the FIFO is \
              emptied)",
    };
    pub const CMD_MEM_READ: Field = Field {
        name: "mem_read",
        lsb: 3,
        width: 1,
        doc: "read mem_words words at mem_addr into the pipe-out FIFO; `mem_done` when all \
              are there (or `error` if the range is invalid as for `mem_write` or the FIFO is \
              not empty)",
    };
    pub const CMD_FLUSH: Field = Field {
        name: "flush",
        lsb: 4,
        width: 1,
        doc: "empty both pipe FIFOs and clear the pipe error status bits (after a \
              host-side error); `mem_done` when done",
    };
    pub const COMMAND_BITS: [Field; 5] = [
        CMD_REG_WRITE,
        CMD_REG_READ,
        CMD_MEM_WRITE,
        CMD_MEM_READ,
        CMD_FLUSH,
    ];

    /// Bits of `events` (trigger-out 0x60).
    pub const EV_REG_DONE: Field = Field {
        name: "reg_done",
        lsb: 0,
        width: 1,
        doc: "a register command finished",
    };
    pub const EV_MEM_DONE: Field = Field {
        name: "mem_done",
        lsb: 1,
        width: 1,
        doc: "a memory command finished",
    };
    pub const EV_IRQ: Field = Field {
        name: "irq",
        lsb: 2,
        width: 1,
        doc: "the core's interrupt line rose",
    };
    pub const EV_ERROR: Field = Field {
        name: "error",
        lsb: 3,
        width: 1,
        doc: "a command was refused (see its bit above; also any command while one is in \
              progress, and a trigger with several bits or an unknown bit); nothing was \
              done for it; `errors` counts them",
    };
    pub const EVENT_BITS: [Field; 4] = [EV_REG_DONE, EV_MEM_DONE, EV_IRQ, EV_ERROR];

    /// Bits of `control` (wire-in 0x06).
    pub const CONTROL_LOOPBACK: Field = Field {
        name: "loopback",
        lsb: 0,
        width: 1,
        doc: "1 = the card's TX link feeds its own RX link; 0 = the expansion-connector pins",
    };
    pub const CONTROL_BITS: [Field; 1] = [CONTROL_LOOPBACK];

    /// Bits of `status` (wire-out 0x22), synchronized to `ti_clk`.
    pub const STATUS_IRQ: Field = Field {
        name: "irq",
        lsb: 0,
        width: 1,
        doc: "the core's interrupt line",
    };
    pub const STATUS_BUSY: Field = Field {
        name: "busy",
        lsb: 1,
        width: 1,
        doc: "a command is in progress",
    };
    pub const STATUS_LOOPBACK: Field = Field {
        name: "loopback",
        lsb: 2,
        width: 1,
        doc: "loopback is on",
    };
    pub const STATUS_PIPE_IN_OVERFLOW: Field = Field {
        name: "pipe_in_overflow",
        lsb: 3,
        width: 1,
        doc: "pipe-in data arrived while its FIFO was full and was lost; `mem_write` is \
              refused until a `flush` clears this",
    };
    pub const STATUS_PIPE_OUT_UNDERFLOW: Field = Field {
        name: "pipe_out_underflow",
        lsb: 4,
        width: 1,
        doc: "the host read the pipe-out while its FIFO was empty (those words are not \
              data); a `flush` clears this",
    };
    pub const STATUS_BITS: [Field; 5] = [
        STATUS_IRQ,
        STATUS_BUSY,
        STATUS_LOOPBACK,
        STATUS_PIPE_IN_OVERFLOW,
        STATUS_PIPE_OUT_UNDERFLOW,
    ];

    /// 32-bit words one memory command moves at most: the depth of each pipe FIFO in 32-bit
    /// words (the FIFOs hold 16-bit halves, twice as many).
    pub const PIPE_CHUNK_WORDS: u32 = 256;
}

/// Bits of a board card's activity output (the LEDs; rtl `board::board_card`). Event bits
/// stay lit for one to one and a half LED stretch times after the event.
pub mod led {
    /// A packet was sent (TX end of packet).
    pub const SENT: u32 = 0;
    /// A packet was received (RX end of packet into the core).
    pub const RECEIVED: u32 = 1;
    /// The interrupt line is high.
    pub const IRQ: u32 = 2;
    /// A packet or descriptor was dropped (any `drop_*` counter counted it).
    pub const DROP: u32 = 3;
    /// Loopback is on (a level).
    pub const LOOPBACK: u32 = 4;
    /// The host read or wrote card memory.
    pub const HOST_MEM: u32 = 5;
    /// The host read or wrote a register.
    pub const HOST_REG: u32 = 6;
    /// Heartbeat: toggles every 4 stretch times while the bitstream runs.
    pub const HEARTBEAT: u32 = 7;
}

/// Value of the `magic` wire-out and of the UART `info` reply: "VA".
pub const BOARD_MAGIC: u16 = 0x5641;

/// UART link (8N1): every request is one frame of an opcode byte, a 4-byte little-endian
/// address and, for writes, 4 bytes of little-endian data. Every request gets exactly one reply:
/// 4 data bytes for reads and `info`, the byte [`uart::ACK`] for writes, or [`uart::NAK`] for a
/// request the bridge refused (unknown opcode, address outside memory); nothing is dropped
/// silently.
pub mod uart {
    /// Default line rate: 1 Mbaud, 100 core clocks a bit at 100 MHz.
    pub const DEFAULT_BAUD: u32 = 1_000_000;
    pub const OP_REG_READ: u8 = b'r';
    pub const OP_REG_WRITE: u8 = b'w';
    pub const OP_MEM_READ: u8 = b'm';
    pub const OP_MEM_WRITE: u8 = b'M';
    /// Reply: `BOARD_MAGIC` in the low half, memory size in KiB in the high half.
    pub const OP_INFO: u8 = b'i';
    pub const ACK: u8 = 0x06;
    pub const NAK: u8 = 0x15;

    /// Bytes of a request with `op` (None for an unknown opcode).
    pub const fn request_len(op: u8) -> Option<usize> {
        match op {
            OP_REG_READ | OP_MEM_READ | OP_INFO => Some(5),
            OP_REG_WRITE | OP_MEM_WRITE => Some(9),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fp::*;

    #[test]
    fn endpoint_addresses_are_in_their_ranges_and_unique() {
        for w in WIRE_INS {
            assert!(w.addr < 0x20, "{}", w.name);
        }
        for w in WIRE_OUTS {
            assert!((0x20..0x40).contains(&w.addr), "{}", w.name);
        }
        assert!((0x40..0x60).contains(&TI_COMMAND.addr));
        assert!((0x60..0x80).contains(&TO_EVENTS.addr));
        assert!((0x80..0xA0).contains(&PIPE_IN_MEM.addr));
        assert!((0xA0..0xC0).contains(&PIPE_OUT_MEM.addr));
        let mut all: Vec<u8> = WIRE_INS
            .iter()
            .chain(WIRE_OUTS.iter())
            .map(|e| e.addr)
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), WIRE_INS.len() + WIRE_OUTS.len());
    }

    #[test]
    fn trigger_bits_fit_sixteen_and_do_not_overlap() {
        for bits in [
            &COMMAND_BITS[..],
            &EVENT_BITS[..],
            &CONTROL_BITS[..],
            &STATUS_BITS[..],
        ] {
            let mut seen = 0u32;
            for f in bits {
                assert!(f.lsb + f.width <= 16, "{}", f.name);
                assert_eq!(seen & f.mask(), 0, "{}", f.name);
                seen |= f.mask();
            }
        }
    }
}
