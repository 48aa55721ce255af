//! `UartBridge`: the Alchitry Cu's host link. A UART (8N1) carries the request frames of
//! [`crate::spec::board::uart`] to a card's register bus and host memory word port, and
//! carries one reply back for every request.
//!
//! rust-hdl-widgets 0.46 has no UART, so the receiver and transmitter are here. The line rate is
//! a constructor argument in core clocks per bit (100 at 1 Mbaud and 100 MHz).
//!
//! ## Receiver
//! The RX pin goes through two synchronizer flip-flops. A falling edge in idle (low after the
//! line was seen high) starts a byte; it is confirmed half a bit later (else it was a glitch),
//! then the 8 data bits and the stop bit are sampled in the middle of their bit times. The
//! receiver is idle again right after the middle of the stop bit, so the next start bit is never
//! missed. A byte whose stop bit is low is a *framing error*; the receiver then waits for the
//! line to go high, so a break (line held low) is one framing error, not a stream of them.
//!
//! ## Frames, replies and resynchronisation
//! Bytes assemble into a frame: the opcode, then [`uart::request_len`] − 1 bytes of
//! little-endian address and data. The executor takes a completed frame at once; it waits for
//! the reply register to be free before it starts the operation, so the result goes straight
//! into it. Every request gets exactly one reply, in request order:
//! - `r`/`m`/`i`: 4 little-endian data bytes; `w`/`M`: ACK; refused: NAK.
//! - **Unknown opcode**: a byte in the opcode position that is no opcode is a one-byte request
//!   and gets one NAK.
//! - **Address refused**: a register address ≥ 4096 or not a multiple of 4; a memory address
//!   not below the card's memory size or not a multiple of 4.
//! - **Framing error**: the frame in progress (or the lone byte, in the opcode position) ends
//!   and gets one NAK.
//! - **Idle gap**: a frame started but left incomplete for [`DEFAULT_TIMEOUT_BITS`] bit times
//!   (constructor argument) ends and gets one NAK.
//! - **No answer**: a bus read or memory operation not answered within 65 535 clocks gets a NAK
//!   (the card always answers; this only keeps the one-reply rule unconditional).
//!
//! So a host that lost track sends nothing for longer than the idle gap, reads the replies
//! still coming (NAKs), and starts again on a frame boundary.
//!
//! A frame that completes while the executor is still busy with the previous one is not
//! executed: it is counted, and the same number of NAKs follow the busy frame's reply, so the
//! count and order of replies still match the requests. The count saturates at 255. A host
//! streaming well-formed requests never sees this: every reply is shorter on the line than its
//! request, so the executor is free again before the next frame completes. Lone garbage bytes
//! (one NAK each, as long as the byte) or a card that stalls can make it happen. (A one-deep
//! pending register absorbed one such frame; it cost 81 flip-flops, a logic cell each.)

use crate::interfaces::{HostWordController, RegBusController};
use crate::spec::board::{uart, BOARD_MAGIC};
use rust_hdl::prelude::*;

/// Default idle gap, in bit times, after which an incomplete frame is abandoned with a NAK:
/// 1 ms at 1 Mbaud.
pub const DEFAULT_TIMEOUT_BITS: u32 = 1000;

/// Clocks the bridge waits for the card to take or answer an operation before it NAKs.
const WAIT_LIMIT: u64 = 0xFFFF;

/// Register bus addresses are 12 bits: the register address space is 4 KiB.
const REG_SPACE: u64 = 1 << 12;

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum UartRxState {
    Idle,
    Start,
    Data,
    Stop,
}

#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum BridgeState {
    /// Waiting for a completed frame.
    Idle,
    /// Once the reply register is free: start the bus or memory operation, or queue the reply.
    Decode,
    /// Register read issued; waiting for `bus.rvalid`.
    RegRead,
    /// Memory request held until `host.ready`.
    MemRequest,
    /// Memory read taken; waiting for `host.rvalid`.
    MemRead,
    /// NAKs owed for frames that completed while the executor was busy.
    Naks,
}

#[derive(LogicBlock)]
pub struct UartBridge {
    pub clock: Signal<In, Clock>,
    /// Serial input (idle high), from the host's TX.
    pub rx: Signal<In, Bit>,
    /// Serial output (idle high), to the host's RX.
    pub tx: Signal<Out, Bit>,

    // Register bus master.
    /// Register reads and writes the host asked for.
    pub bus: RegBusController,

    // Host memory word port master (a request is taken when asserted with ready).
    /// Card memory words the host reads and writes.
    pub host: HostWordController,

    /// One-cycle pulse per request answered (its reply queued), for LEDs.
    pub replied: Signal<Out, Bit>,
    /// One-cycle pulse per NAK queued.
    pub refused: Signal<Out, Bit>,

    receiver: DFF<Receiver>,
    frame: DFF<Frame>,

    // Executor, and the NAKs owed for frames that completed while it was busy.
    state: DFF<BridgeState>,
    x_addr: DFF<Bits<32>>,
    x_data: DFF<Bits<32>>,
    x_naks: DFF<Bits<8>>,
    x_wait: DFF<Bits<16>>,
    x_op: DFF<Decoded>,

    // Reply register: bytes left to send, least significant first.
    r_data: DFF<Bits<32>>,
    r_left: DFF<Bits<3>>,

    // Transmitter. `tx_low` holds the inverted line so that its reset value 0 is idle.
    tx_busy: DFF<Bit>,
    tx_low: DFF<Bit>,
    tx_shift: DFF<Bits<9>>,
    tx_timer: DFF<Bits<16>>,
    tx_bits: DFF<Bits<4>>,
    replied_q: DFF<Bit>,
    refused_q: DFF<Bit>,

    rx_byte: Signal<Local, Bit>,
    rx_framing: Signal<Local, Bit>,
    owed: Signal<Local, Bit>,
    nak_sent: Signal<Local, Bit>,
    // The reply the executor queues this cycle: `rp_data` (1 byte, or 4 with `rp_four`), or a
    // NAK (`rp_nak`, a refusal).
    rp_go: Signal<Local, Bit>,
    rp_nak: Signal<Local, Bit>,
    rp_four: Signal<Local, Bit>,
    rp_data: Signal<Local, Bits<32>>,
    reply_free: Signal<Local, Bit>,
    reg_ok: Signal<Local, Bit>,
    mem_ok: Signal<Local, Bit>,
    tx_free: Signal<Local, Bit>,

    half_bit: Constant<Bits<16>>,
    bit_time: Constant<Bits<16>>,
    timeout: Constant<Bits<24>>,
    wait_limit: Constant<Bits<16>>,
    mem_refused: Constant<Bits<32>>,
    reg_refused: Constant<Bits<32>>,
    info: Constant<Bits<32>>,
    op_reg_read: Constant<Bits<8>>,
    op_reg_write: Constant<Bits<8>>,
    op_mem_read: Constant<Bits<8>>,
    op_mem_write: Constant<Bits<8>>,
    op_info: Constant<Bits<8>>,
    short_len: Constant<Bits<4>>,
    long_len: Constant<Bits<4>>,
    ack: Constant<Bits<32>>,
    nak: Constant<Bits<32>>,
    stop_bit: Constant<Bits<9>>,
}

/// The receiver's registers. The synchronizers (`low1`, `low`) hold the inverted line so that
/// their reset value 0 is idle.
#[derive(Copy, Clone, Debug, Default, PartialEq, LogicStruct)]
struct Receiver {
    low1: Bit,
    low: Bit,
    armed: Bit,
    state: UartRxState,
    timer: Bits<16>,
    bits: Bits<4>,
    shift: Bits<8>,
}

/// The frame being assembled: bytes in (`count`) of the `need` its opcode takes.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, LogicStruct)]
struct Frame {
    count: Bits<4>,
    need: Bits<4>,
    op: Bits<8>,
    addr: Bits<32>,
    data: Bits<32>,
    idle: Bits<24>,
    done: Bit,
}

/// The frame decoded when the executor took it (keeps the address compares off the bus
/// outputs).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, LogicStruct)]
struct Decoded {
    reg_read: Bit,
    reg_write: Bit,
    mem_read: Bit,
    mem_write: Bit,
    info: Bit,
}

impl UartBridge {
    /// A bridge at `clocks_per_bit` core clocks a bit (4 ..= 65 535) to a card with
    /// `mem_bytes` of memory (a power of two, 1 KiB to 2 GiB), abandoning incomplete
    /// frames after [`DEFAULT_TIMEOUT_BITS`] idle bit times.
    pub fn new(clocks_per_bit: u32, mem_bytes: usize) -> Self {
        Self::with_timeout(clocks_per_bit, mem_bytes, DEFAULT_TIMEOUT_BITS)
    }

    /// Like [`UartBridge::new`] with the idle gap in bit times (at least 20: two bytes).
    pub fn with_timeout(clocks_per_bit: u32, mem_bytes: usize, timeout_bits: u32) -> Self {
        assert!(
            (4..=0xFFFF).contains(&clocks_per_bit),
            "clocks_per_bit = {clocks_per_bit} must be 4 ..= 65535"
        );
        assert!(
            mem_bytes.is_power_of_two() && mem_bytes >= 1024 && (mem_bytes as u64) < (1 << 32),
            "mem_bytes = {mem_bytes} must be a power of two from 1 KiB to 2 GiB"
        );
        let timeout = clocks_per_bit as u64 * timeout_bits as u64;
        assert!(
            timeout_bits >= 20 && timeout < (1 << 24),
            "timeout of {timeout_bits} bits must be at least 20 bits and below 2^24 clocks"
        );
        let mem_kib = (mem_bytes / 1024) as u64;
        assert!(mem_kib < 1 << 16, "memory size in KiB must fit 16 bits");
        let len = |op| uart::request_len(op).expect("an opcode of the spec") as u64;
        assert!(len(uart::OP_REG_READ) == len(uart::OP_MEM_READ));
        assert!(len(uart::OP_REG_READ) == len(uart::OP_INFO));
        assert!(len(uart::OP_REG_WRITE) == len(uart::OP_MEM_WRITE));
        let byte = |b: u8| Constant::new((b as u64).to_bits());
        let word = |w: u64| Constant::new(w.to_bits());
        UartBridge {
            clock: Default::default(),
            rx: Default::default(),
            tx: Default::default(),
            bus: Default::default(),
            host: Default::default(),
            replied: Default::default(),
            refused: Default::default(),
            receiver: Default::default(),
            frame: Default::default(),
            state: Default::default(),
            x_addr: Default::default(),
            x_data: Default::default(),
            x_naks: Default::default(),
            x_wait: Default::default(),
            x_op: Default::default(),
            r_data: Default::default(),
            r_left: Default::default(),
            tx_busy: Default::default(),
            tx_low: Default::default(),
            tx_shift: Default::default(),
            tx_timer: Default::default(),
            tx_bits: Default::default(),
            replied_q: Default::default(),
            refused_q: Default::default(),
            rx_byte: Default::default(),
            rx_framing: Default::default(),
            owed: Default::default(),
            nak_sent: Default::default(),
            rp_go: Default::default(),
            rp_nak: Default::default(),
            rp_four: Default::default(),
            rp_data: Default::default(),
            reply_free: Default::default(),
            reg_ok: Default::default(),
            mem_ok: Default::default(),
            tx_free: Default::default(),
            half_bit: Constant::new(((clocks_per_bit / 2 - 1) as u64).to_bits()),
            bit_time: Constant::new(((clocks_per_bit - 1) as u64).to_bits()),
            timeout: Constant::new(timeout.to_bits()),
            wait_limit: Constant::new(WAIT_LIMIT.to_bits()),
            mem_refused: word(!(mem_bytes as u64 - 1) & 0xFFFF_FFFF | 3),
            reg_refused: word(!(REG_SPACE - 1) & 0xFFFF_FFFF | 3),
            info: word(BOARD_MAGIC as u64 | mem_kib << 16),
            op_reg_read: byte(uart::OP_REG_READ),
            op_reg_write: byte(uart::OP_REG_WRITE),
            op_mem_read: byte(uart::OP_MEM_READ),
            op_mem_write: byte(uart::OP_MEM_WRITE),
            op_info: byte(uart::OP_INFO),
            short_len: Constant::new(len(uart::OP_REG_READ).to_bits()),
            long_len: Constant::new(len(uart::OP_REG_WRITE).to_bits()),
            ack: word(uart::ACK as u64),
            nak: word(uart::NAK as u64),
            stop_bit: Constant::new(0x100u64.to_bits()),
        }
    }
}

impl Logic for UartBridge {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, receiver, frame, state, x_addr, x_data, x_naks, x_wait, x_op, r_data,
            r_left, tx_busy, tx_low, tx_shift, tx_timer, tx_bits, replied_q, refused_q
        );

        // ---- Receiver ----
        self.receiver.d.next.low1 = !self.rx.val();
        self.receiver.d.next.low = self.receiver.q.val().low1;
        self.rx_byte.next = false;
        self.rx_framing.next = false;
        if self.receiver.q.val().timer.any() {
            self.receiver.d.next.timer = self.receiver.q.val().timer - 1;
        }
        match self.receiver.q.val().state {
            UartRxState::Idle => {
                if !self.receiver.q.val().low {
                    self.receiver.d.next.armed = true;
                } else if self.receiver.q.val().armed {
                    self.receiver.d.next.armed = false;
                    self.receiver.d.next.timer = self.half_bit.val();
                    self.receiver.d.next.state = UartRxState::Start;
                }
            }
            UartRxState::Start => {
                if !self.receiver.q.val().timer.any() {
                    if self.receiver.q.val().low {
                        self.receiver.d.next.timer = self.bit_time.val();
                        self.receiver.d.next.bits = 8.into();
                        self.receiver.d.next.state = UartRxState::Data;
                    } else {
                        self.receiver.d.next.state = UartRxState::Idle;
                    }
                }
            }
            UartRxState::Data => {
                if !self.receiver.q.val().timer.any() {
                    self.receiver.d.next.shift = (self.receiver.q.val().shift >> 1)
                        | (bit_cast::<8, 1>((!self.receiver.q.val().low).into()) << 7);
                    self.receiver.d.next.bits = self.receiver.q.val().bits - 1;
                    self.receiver.d.next.timer = self.bit_time.val();
                    if self.receiver.q.val().bits == 1 {
                        self.receiver.d.next.state = UartRxState::Stop;
                    }
                }
            }
            UartRxState::Stop => {
                if !self.receiver.q.val().timer.any() {
                    self.rx_byte.next = true;
                    self.rx_framing.next = self.receiver.q.val().low;
                    self.receiver.d.next.state = UartRxState::Idle;
                }
            }
            _ => {
                self.receiver.d.next.state = UartRxState::Idle;
            }
        }

        // ---- Frame assembly ----
        // A completed frame (or a refused byte) sets `frame.done`; the next cycle hands it on.
        self.frame.d.next.done = false;
        if self.frame.q.val().count.any() {
            self.frame.d.next.idle = self.frame.q.val().idle + 1;
        }
        if self.rx_byte.val() {
            self.frame.d.next.idle = 0.into();
            if self.rx_framing.val() {
                // Not an opcode: the executor refuses it.
                self.frame.d.next.op = 0.into();
                self.frame.d.next.count = 0.into();
                self.frame.d.next.done = true;
            } else if !self.frame.q.val().count.any() {
                self.frame.d.next.op = self.receiver.q.val().shift;
                if (self.receiver.q.val().shift == self.op_reg_read.val())
                    | (self.receiver.q.val().shift == self.op_mem_read.val())
                    | (self.receiver.q.val().shift == self.op_info.val())
                {
                    self.frame.d.next.need = self.short_len.val();
                    self.frame.d.next.count = 1.into();
                } else if (self.receiver.q.val().shift == self.op_reg_write.val())
                    | (self.receiver.q.val().shift == self.op_mem_write.val())
                {
                    self.frame.d.next.need = self.long_len.val();
                    self.frame.d.next.count = 1.into();
                } else {
                    self.frame.d.next.done = true;
                }
            } else {
                if self.frame.q.val().count < self.short_len.val() {
                    self.frame.d.next.addr = (self.frame.q.val().addr >> 8)
                        | (bit_cast::<32, 8>(self.receiver.q.val().shift) << 24);
                } else {
                    self.frame.d.next.data = (self.frame.q.val().data >> 8)
                        | (bit_cast::<32, 8>(self.receiver.q.val().shift) << 24);
                }
                if (self.frame.q.val().count + 1) == self.frame.q.val().need {
                    self.frame.d.next.count = 0.into();
                    self.frame.d.next.done = true;
                } else {
                    self.frame.d.next.count = self.frame.q.val().count + 1;
                }
            }
        } else if self.frame.q.val().idle == self.timeout.val() {
            // Idle gap inside a frame: abandon it.
            self.frame.d.next.op = 0.into();
            self.frame.d.next.count = 0.into();
            self.frame.d.next.idle = 0.into();
            self.frame.d.next.done = true;
        }

        // ---- Executor ----
        self.bus.addr.next = self.x_addr.q.val().get_bits::<12>(0);
        self.bus.wdata.next = self.x_data.q.val();
        self.host.addr.next = self.x_addr.q.val();
        self.host.wdata.next = self.x_data.q.val();
        self.bus.write.next = false;
        self.bus.read.next = false;
        self.host.write.next = false;
        self.host.read.next = false;
        self.replied_q.d.next = false;
        self.refused_q.d.next = false;
        self.reply_free.next = !self.r_left.q.val().any();
        // A frame completing while the executor is busy is owed a NAK after its reply.
        self.owed.next = self.frame.q.val().done & (self.state.q.val() != BridgeState::Idle);
        self.nak_sent.next = false;
        self.rp_go.next = false;
        self.rp_nak.next = false;
        self.rp_four.next = false;
        self.rp_data.next = 0.into();
        // Both spaces are powers of two: an address is in range and aligned when none of the
        // refused bits (above the space, and the two low ones) is set. No comparator chains.
        self.reg_ok.next = !(self.frame.q.val().addr & self.reg_refused.val()).any();
        self.mem_ok.next = !(self.frame.q.val().addr & self.mem_refused.val()).any();
        self.x_wait.d.next = self.x_wait.q.val() + 1;
        match self.state.q.val() {
            BridgeState::Idle => {
                if self.frame.q.val().done {
                    self.x_addr.d.next = self.frame.q.val().addr;
                    self.x_data.d.next = self.frame.q.val().data;
                    self.x_op.d.next.reg_read =
                        (self.frame.q.val().op == self.op_reg_read.val()) & self.reg_ok.val();
                    self.x_op.d.next.reg_write =
                        (self.frame.q.val().op == self.op_reg_write.val()) & self.reg_ok.val();
                    self.x_op.d.next.mem_read =
                        (self.frame.q.val().op == self.op_mem_read.val()) & self.mem_ok.val();
                    self.x_op.d.next.mem_write =
                        (self.frame.q.val().op == self.op_mem_write.val()) & self.mem_ok.val();
                    self.x_op.d.next.info = self.frame.q.val().op == self.op_info.val();
                    self.state.d.next = BridgeState::Decode;
                }
            }
            BridgeState::Decode => {
                // The reply goes straight into the reply register: start once it is free.
                if self.reply_free.val() {
                    self.x_wait.d.next = 0.into();
                    if self.x_op.q.val().reg_read {
                        self.bus.read.next = true;
                        self.state.d.next = BridgeState::RegRead;
                    } else if self.x_op.q.val().reg_write {
                        self.bus.write.next = true;
                        self.rp_go.next = true;
                        self.rp_data.next = self.ack.val();
                    } else if self.x_op.q.val().mem_read | self.x_op.q.val().mem_write {
                        self.state.d.next = BridgeState::MemRequest;
                    } else if self.x_op.q.val().info {
                        self.rp_go.next = true;
                        self.rp_data.next = self.info.val();
                        self.rp_four.next = true;
                    } else {
                        self.rp_nak.next = true;
                    }
                }
            }
            BridgeState::RegRead => {
                if self.bus.rvalid.val() {
                    self.rp_go.next = true;
                    self.rp_data.next = self.bus.rdata.val();
                    self.rp_four.next = true;
                } else if self.x_wait.q.val() == self.wait_limit.val() {
                    self.rp_nak.next = true;
                }
            }
            BridgeState::MemRequest => {
                self.host.write.next = self.x_op.q.val().mem_write;
                self.host.read.next = self.x_op.q.val().mem_read;
                if self.host.ready.val() {
                    self.x_wait.d.next = 0.into();
                    if self.x_op.q.val().mem_write {
                        self.rp_go.next = true;
                        self.rp_data.next = self.ack.val();
                    } else {
                        self.state.d.next = BridgeState::MemRead;
                    }
                } else if self.x_wait.q.val() == self.wait_limit.val() {
                    self.rp_nak.next = true;
                }
            }
            BridgeState::MemRead => {
                if self.host.rvalid.val() {
                    self.rp_go.next = true;
                    self.rp_data.next = self.host.rdata.val();
                    self.rp_four.next = true;
                } else if self.x_wait.q.val() == self.wait_limit.val() {
                    self.rp_nak.next = true;
                }
            }
            BridgeState::Naks => {
                // Back to idle only with nothing owed (a frame completing now is owed too).
                if !self.x_naks.q.val().any() {
                    if !self.owed.val() {
                        self.state.d.next = BridgeState::Idle;
                    }
                } else if self.reply_free.val() {
                    self.rp_nak.next = true;
                    self.nak_sent.next = true;
                }
            }
            _ => {
                self.state.d.next = BridgeState::Idle;
            }
        }
        // Queue the reply chosen above (only ever while the reply register is free); then the
        // NAKs owed, if any.
        if self.rp_go.val() | self.rp_nak.val() {
            self.r_data.d.next = self.rp_data.val();
            self.r_left.d.next = 1.into();
            if self.rp_four.val() {
                self.r_left.d.next = 4.into();
            }
            if self.rp_nak.val() {
                self.r_data.d.next = self.nak.val();
            }
            self.replied_q.d.next = true;
            self.refused_q.d.next = self.rp_nak.val();
            self.state.d.next = BridgeState::Naks;
        }
        if self.owed.val() & !self.nak_sent.val() & (self.x_naks.q.val() != 255) {
            self.x_naks.d.next = self.x_naks.q.val() + 1;
        }
        if self.nak_sent.val() & !self.owed.val() {
            self.x_naks.d.next = self.x_naks.q.val() - 1;
        }

        // ---- Transmitter ----
        self.tx.next = !self.tx_low.q.val();
        self.replied.next = self.replied_q.q.val();
        self.refused.next = self.refused_q.q.val();
        if self.tx_timer.q.val().any() {
            self.tx_timer.d.next = self.tx_timer.q.val() - 1;
        }
        self.tx_free.next =
            !self.tx_busy.q.val() | (!self.tx_timer.q.val().any() & !self.tx_bits.q.val().any());
        if self.tx_free.val() & self.r_left.q.val().any() {
            // Start bit, then 8 data bits from the reply's low byte and the stop bit.
            self.tx_busy.d.next = true;
            self.tx_low.d.next = true;
            self.tx_shift.d.next =
                bit_cast::<9, 8>(self.r_data.q.val().get_bits::<8>(0)) | self.stop_bit.val();
            self.tx_timer.d.next = self.bit_time.val();
            self.tx_bits.d.next = 9.into();
            self.r_data.d.next = self.r_data.q.val() >> 8;
            self.r_left.d.next = self.r_left.q.val() - 1;
        } else if self.tx_busy.q.val() & !self.tx_timer.q.val().any() {
            if self.tx_bits.q.val().any() {
                self.tx_low.d.next = !self.tx_shift.q.val().get_bit(0);
                self.tx_shift.d.next = self.tx_shift.q.val() >> 1;
                self.tx_bits.d.next = self.tx_bits.q.val() - 1;
                self.tx_timer.d.next = self.bit_time.val();
            } else {
                self.tx_busy.d.next = false;
                self.tx_low.d.next = false;
            }
        }
    }
}

/// The host's side of the UART link for simulations: a serial line model that turns request
/// bytes into RX levels and decodes the bridge's TX, and helpers to build frames. Used by the
/// bridge's tests and by board tops' tests.
pub mod host_model {
    use crate::spec::board::uart;
    use std::collections::VecDeque;

    /// The host's end of the serial line: turns bytes into line levels, one per clock, and
    /// decodes the bridge's TX line back into bytes.
    pub struct SerialHost {
        cpb: usize,
        out: VecDeque<bool>,
        /// Clocks since the falling edge of the start bit being decoded.
        decoding: Option<usize>,
        shift: u8,
        last: bool,
        pub received: Vec<u8>,
    }

    impl SerialHost {
        pub fn new(cpb: usize) -> Self {
            SerialHost {
                cpb,
                out: VecDeque::new(),
                decoding: None,
                shift: 0,
                last: true,
                received: Vec::new(),
            }
        }

        fn push_bit(&mut self, level: bool) {
            self.out.extend(std::iter::repeat_n(level, self.cpb));
        }

        /// Queues a break: the line low for `bits` bit times, then high for one.
        pub fn send_break(&mut self, bits: usize) {
            for _ in 0..bits {
                self.push_bit(false);
            }
            self.push_bit(true);
        }

        /// Queues a byte, 8N1; `stop` false sends a low stop bit (a framing error).
        pub fn send_byte(&mut self, byte: u8, stop: bool) {
            self.push_bit(false);
            for i in 0..8 {
                self.push_bit(byte >> i & 1 == 1);
            }
            self.push_bit(stop);
            if !stop {
                // Give the line back: high for a bit so the next start bit is an edge.
                self.push_bit(true);
            }
        }

        pub fn send(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.send_byte(b, true);
            }
        }

        pub fn sending(&self) -> bool {
            !self.out.is_empty()
        }

        /// The RX level for the next clock.
        pub fn level(&mut self) -> bool {
            self.out.pop_front().unwrap_or(true)
        }

        /// Samples the bridge's TX line once a clock.
        pub fn observe(&mut self, tx: bool) {
            match self.decoding {
                None => {
                    if self.last && !tx {
                        self.decoding = Some(0);
                    }
                }
                Some(t) => {
                    let t = t + 1;
                    self.decoding = Some(t);
                    let half = self.cpb / 2;
                    if t == half {
                        assert!(!tx, "start bit glitch on TX");
                    } else if t > half && (t - half).is_multiple_of(self.cpb) {
                        let bit = (t - half) / self.cpb;
                        if bit <= 8 {
                            self.shift = self.shift >> 1 | (tx as u8) << 7;
                        } else {
                            assert!(tx, "framing error on TX");
                            self.received.push(self.shift);
                            self.decoding = None;
                        }
                    }
                }
            }
            self.last = tx;
        }
    }

    /// Something with a UART on one clock: takes the RX level of a clock, returns TX after it.
    pub trait UartDut {
        fn cycle(&mut self, rx: bool) -> bool;
    }

    /// Sends `bytes`, then runs until `replies` reply bytes arrived in all (panics after
    /// `limit` clocks) and returns the new bytes.
    pub fn exchange<D: UartDut>(
        dut: &mut D,
        host: &mut SerialHost,
        bytes: &[u8],
        replies: usize,
        limit: usize,
    ) -> Vec<u8> {
        let start = host.received.len();
        host.send(bytes);
        for _ in 0..limit {
            let level = host.level();
            let tx = dut.cycle(level);
            host.observe(tx);
            if host.received.len() >= start + replies && !host.sending() {
                // Run on a little to catch stray extra replies.
                for _ in 0..12 * host.cpb {
                    let tx = dut.cycle(true);
                    host.observe(tx);
                }
                return host.received[start..].to_vec();
            }
        }
        panic!(
            "no reply in {limit} clocks: got {:02x?}",
            &host.received[start..]
        );
    }

    pub fn frame(op: u8, addr: u32, data: Option<u32>) -> Vec<u8> {
        let mut f = vec![op];
        f.extend(addr.to_le_bytes());
        if let Some(d) = data {
            f.extend(d.to_le_bytes());
        }
        f
    }

    pub fn word(bytes: &[u8]) -> u32 {
        u32::from_le_bytes(bytes.try_into().expect("a 4-byte reply"))
    }

    /// The reply bytes a request gets when it is accepted.
    pub fn reply_len(op: u8) -> usize {
        match op {
            uart::OP_REG_WRITE | uart::OP_MEM_WRITE => 1,
            _ => 4,
        }
    }
}

#[cfg(test)]
mod tests;
