//! The links between blocks, each declared once as a pair of rust-hdl interfaces that
//! `#[join]` each other: the side that starts a transfer is the `…Controller` (or `…Sender`),
//! the side that answers the `…Responder` (or `…Receiver`). A parent wires a pair with one
//! line, `Iface::join(&mut self.a.port, &mut self.b.port)`, and passes a port of its own
//! down with `Iface::link(&mut self.port, &mut self.child.port)`.
//!
//! Widths come from the spec (`vassa-spec`): page numbers and attributes from the register map,
//! lengths from the packet header. In the Verilog a field is `port$field`; a field a block does
//! not read (the TX MMU ignores a mapping's writable flag) is waived by the lint rule for
//! rust-hdl's `$` names (rtl/lint/verilator_waivers.vlt), and synthesis removes what drives it.
//!
//! The core's own ports stay flat (`mem_wr_valid`, `link_rx_data`, …): they are the contract
//! with the simulator shim, the C++ bench loop and the board tops.

use crate::spec::packet::H1_LENGTH;
use crate::spec::regmap::{
    ADDR_BITS, DB_PUSH_LENGTH, MAP_ATTR_EPOCH, MAP_ATTR_SLOT, MAP_CMD_OP, MAP_CMD_SLOT,
    MAP_KEY_PAGE, MISS_TAG, NODE_ID_ID, NOTIFY_LENGTH, STATUS_PARKED,
};
use rust_hdl::prelude::*;

/// A data word on the link, the memory ports and the register bus.
pub const WORD_BITS: usize = 32;
/// Byte enables of a data word.
pub const STROBE_BITS: usize = WORD_BITS / 8;
/// A register-bus address.
pub const BUS_ADDR_BITS: usize = ADDR_BITS as usize;
/// A page number: a mapping's key or target.
pub const PAGE_BITS: usize = MAP_KEY_PAGE.width as usize;
/// A mapping-cache entry number.
pub const CACHE_SLOT_BITS: usize = MAP_CMD_SLOT.width as usize;
/// A mapping-cache operation code (`MAP_OP_*`).
pub const MAP_OP_BITS: usize = MAP_CMD_OP.width as usize;
/// A traffic-counter slot number.
pub const COUNTER_SLOT_BITS: usize = MAP_ATTR_SLOT.width as usize;
/// A mapping epoch.
pub const EPOCH_BITS: usize = MAP_ATTR_EPOCH.width as usize;
/// A lookup tag (the RX miss buffer's index, echoed in miss records).
pub const TAG_BITS: usize = MISS_TAG.width as usize;
/// A packet's payload length in bytes.
pub const PACKET_LENGTH_BITS: usize = H1_LENGTH.width as usize;
/// A message length in bytes, as pushed to the doorbell.
pub const MESSAGE_LENGTH_BITS: usize = DB_PUSH_LENGTH.width as usize;
/// The count of received packets parked on a miss.
pub const PARKED_COUNT_BITS: usize = STATUS_PARKED.width as usize;
/// A node id.
pub const NODE_ID_BITS: usize = NODE_ID_ID.width as usize;
/// A memory read burst's length in words (a burst never crosses a cache line).
pub const BURST_BITS: usize = 8;
const _: () = assert!(NOTIFY_LENGTH.width as usize == PACKET_LENGTH_BITS);

/// Host register bus, bridge or core side that issues reads and writes. A read answers with
/// `rvalid` and `rdata` some cycles later; a write takes one cycle.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "RegBusResponder"]
pub struct RegBusController {
    pub addr: Signal<Out, Bits<BUS_ADDR_BITS>>,
    pub wdata: Signal<Out, Bits<WORD_BITS>>,
    pub write: Signal<Out, Bit>,
    pub read: Signal<Out, Bit>,
    pub rdata: Signal<In, Bits<WORD_BITS>>,
    pub rvalid: Signal<In, Bit>,
}

/// The register file's side of [`RegBusController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "RegBusController"]
pub struct RegBusResponder {
    pub addr: Signal<In, Bits<BUS_ADDR_BITS>>,
    pub wdata: Signal<In, Bits<WORD_BITS>>,
    pub write: Signal<In, Bit>,
    pub read: Signal<In, Bit>,
    pub rdata: Signal<Out, Bits<WORD_BITS>>,
    pub rvalid: Signal<Out, Bit>,
}

/// A host bridge's word port into card memory: one read or write held until `ready`; a read's
/// data follows with `rvalid`.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "HostWordResponder"]
pub struct HostWordController {
    pub addr: Signal<Out, Bits<WORD_BITS>>,
    pub wdata: Signal<Out, Bits<WORD_BITS>>,
    pub write: Signal<Out, Bit>,
    pub read: Signal<Out, Bit>,
    pub ready: Signal<In, Bit>,
    pub rdata: Signal<In, Bits<WORD_BITS>>,
    pub rvalid: Signal<In, Bit>,
}

/// Card memory's side of [`HostWordController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "HostWordController"]
pub struct HostWordResponder {
    pub addr: Signal<In, Bits<WORD_BITS>>,
    pub wdata: Signal<In, Bits<WORD_BITS>>,
    pub write: Signal<In, Bit>,
    pub read: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub rdata: Signal<Out, Bits<WORD_BITS>>,
    pub rvalid: Signal<Out, Bit>,
}

/// Memory read requests (a burst of `req_len` words from byte address `req_addr`, taken when
/// `req_ready`) and their data, one word a cycle in request order.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MemReadResponder"]
pub struct MemReadController {
    pub req_valid: Signal<Out, Bit>,
    pub req_addr: Signal<Out, Bits<WORD_BITS>>,
    pub req_len: Signal<Out, Bits<BURST_BITS>>,
    pub req_ready: Signal<In, Bit>,
    pub data_valid: Signal<In, Bit>,
    pub data: Signal<In, Bits<WORD_BITS>>,
}

/// Memory's side of [`MemReadController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MemReadController"]
pub struct MemReadResponder {
    pub req_valid: Signal<In, Bit>,
    pub req_addr: Signal<In, Bits<WORD_BITS>>,
    pub req_len: Signal<In, Bits<BURST_BITS>>,
    pub req_ready: Signal<Out, Bit>,
    pub data_valid: Signal<Out, Bit>,
    pub data: Signal<Out, Bits<WORD_BITS>>,
}

/// Memory writes, one word with byte strobes a cycle, taken when `ready`; `last` marks a
/// packet's final beat.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MemWriteResponder"]
pub struct MemWriteController {
    pub valid: Signal<Out, Bit>,
    pub addr: Signal<Out, Bits<WORD_BITS>>,
    pub data: Signal<Out, Bits<WORD_BITS>>,
    pub strb: Signal<Out, Bits<STROBE_BITS>>,
    pub last: Signal<Out, Bit>,
    pub ready: Signal<In, Bit>,
}

/// Memory's side of [`MemWriteController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MemWriteController"]
pub struct MemWriteResponder {
    pub valid: Signal<In, Bit>,
    pub addr: Signal<In, Bits<WORD_BITS>>,
    pub data: Signal<In, Bits<WORD_BITS>>,
    pub strb: Signal<In, Bits<STROBE_BITS>>,
    pub last: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
}

/// One direction of the link: a word a cycle while `valid`, no backpressure, `sop`/`eop` on a
/// packet's first and last word (`spec::link`).
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "LinkReceiver"]
pub struct LinkSender {
    pub valid: Signal<Out, Bit>,
    pub sop: Signal<Out, Bit>,
    pub eop: Signal<Out, Bit>,
    pub data: Signal<Out, Bits<WORD_BITS>>,
}

/// The receiving end of [`LinkSender`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "LinkSender"]
pub struct LinkReceiver {
    pub valid: Signal<In, Bit>,
    pub sop: Signal<In, Bit>,
    pub eop: Signal<In, Bit>,
    pub data: Signal<In, Bits<WORD_BITS>>,
}

/// A host operation on a mapping cache (`MAP_OP_*` on entry `slot`), one cycle of `valid`;
/// `busy` while the cache cannot take one.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MapOpResponder"]
pub struct MapOpController {
    pub valid: Signal<Out, Bit>,
    pub code: Signal<Out, Bits<MAP_OP_BITS>>,
    pub slot: Signal<Out, Bits<CACHE_SLOT_BITS>>,
    pub key: Signal<Out, Bits<PAGE_BITS>>,
    pub page: Signal<Out, Bits<PAGE_BITS>>,
    pub writable: Signal<Out, Bit>,
    pub signal: Signal<Out, Bit>,
    pub counter_slot: Signal<Out, Bits<COUNTER_SLOT_BITS>>,
    pub epoch: Signal<Out, Bits<EPOCH_BITS>>,
    pub busy: Signal<In, Bit>,
}

/// The cache's side of [`MapOpController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "MapOpController"]
pub struct MapOpResponder {
    pub valid: Signal<In, Bit>,
    pub code: Signal<In, Bits<MAP_OP_BITS>>,
    pub slot: Signal<In, Bits<CACHE_SLOT_BITS>>,
    pub key: Signal<In, Bits<PAGE_BITS>>,
    pub page: Signal<In, Bits<PAGE_BITS>>,
    pub writable: Signal<In, Bit>,
    pub signal: Signal<In, Bit>,
    pub counter_slot: Signal<In, Bits<COUNTER_SLOT_BITS>>,
    pub epoch: Signal<In, Bits<EPOCH_BITS>>,
    pub busy: Signal<Out, Bit>,
}

/// A mapping-cache lookup: `key` with a `tag` in one cycle of `valid`, answered exactly
/// `spec::params::LOOKUP_LATENCY` cycles later by `result_*` (hit or miss, the entry's
/// mapping). `hold` (the cache is installing) asks the requester not to issue a lookup.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "LookupResponder"]
pub struct LookupController {
    pub valid: Signal<Out, Bit>,
    pub key: Signal<Out, Bits<PAGE_BITS>>,
    pub tag: Signal<Out, Bits<TAG_BITS>>,
    pub hold: Signal<In, Bit>,
    pub result_valid: Signal<In, Bit>,
    pub result_tag: Signal<In, Bits<TAG_BITS>>,
    pub result_key: Signal<In, Bits<PAGE_BITS>>,
    pub result_hit: Signal<In, Bit>,
    pub result_slot: Signal<In, Bits<CACHE_SLOT_BITS>>,
    pub result_page: Signal<In, Bits<PAGE_BITS>>,
    pub result_writable: Signal<In, Bit>,
    pub result_signal: Signal<In, Bit>,
    pub result_counter_slot: Signal<In, Bits<COUNTER_SLOT_BITS>>,
    pub result_epoch: Signal<In, Bits<EPOCH_BITS>>,
}

/// The cache's side of [`LookupController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "LookupController"]
pub struct LookupResponder {
    pub valid: Signal<In, Bit>,
    pub key: Signal<In, Bits<PAGE_BITS>>,
    pub tag: Signal<In, Bits<TAG_BITS>>,
    pub hold: Signal<Out, Bit>,
    pub result_valid: Signal<Out, Bit>,
    pub result_tag: Signal<Out, Bits<TAG_BITS>>,
    pub result_key: Signal<Out, Bits<PAGE_BITS>>,
    pub result_hit: Signal<Out, Bit>,
    pub result_slot: Signal<Out, Bits<CACHE_SLOT_BITS>>,
    pub result_page: Signal<Out, Bits<PAGE_BITS>>,
    pub result_writable: Signal<Out, Bit>,
    pub result_signal: Signal<Out, Bit>,
    pub result_counter_slot: Signal<Out, Bits<COUNTER_SLOT_BITS>>,
    pub result_epoch: Signal<Out, Bits<EPOCH_BITS>>,
}

/// A send descriptor from the doorbell FIFO: `length` bytes at physical byte address `addr`,
/// taken when `ready`.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "DoorbellResponder"]
pub struct DoorbellController {
    pub valid: Signal<Out, Bit>,
    pub addr: Signal<Out, Bits<WORD_BITS>>,
    pub length: Signal<Out, Bits<MESSAGE_LENGTH_BITS>>,
    pub user: Signal<Out, Bit>,
    pub ready: Signal<In, Bit>,
}

/// The TX MMU's side of [`DoorbellController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "DoorbellController"]
pub struct DoorbellResponder {
    pub valid: Signal<In, Bit>,
    pub addr: Signal<In, Bits<WORD_BITS>>,
    pub length: Signal<In, Bits<MESSAGE_LENGTH_BITS>>,
    pub user: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
}

/// One packet to send, translated: payload at physical `addr`, header fields (`nva`, `epoch`,
/// flags) and the counter slot to charge; taken when `ready`.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "TxCommandResponder"]
pub struct TxCommandController {
    pub valid: Signal<Out, Bit>,
    pub ready: Signal<In, Bit>,
    pub addr: Signal<Out, Bits<WORD_BITS>>,
    pub length: Signal<Out, Bits<PACKET_LENGTH_BITS>>,
    pub nva: Signal<Out, Bits<WORD_BITS>>,
    pub epoch: Signal<Out, Bits<EPOCH_BITS>>,
    pub counter_slot: Signal<Out, Bits<COUNTER_SLOT_BITS>>,
    pub first: Signal<Out, Bit>,
    pub last: Signal<Out, Bit>,
    pub user: Signal<Out, Bit>,
}

/// The packetizer's side of [`TxCommandController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "TxCommandController"]
pub struct TxCommandResponder {
    pub valid: Signal<In, Bit>,
    pub ready: Signal<Out, Bit>,
    pub addr: Signal<In, Bits<WORD_BITS>>,
    pub length: Signal<In, Bits<PACKET_LENGTH_BITS>>,
    pub nva: Signal<In, Bits<WORD_BITS>>,
    pub epoch: Signal<In, Bits<EPOCH_BITS>>,
    pub counter_slot: Signal<In, Bits<COUNTER_SLOT_BITS>>,
    pub first: Signal<In, Bit>,
    pub last: Signal<In, Bit>,
    pub user: Signal<In, Bit>,
}

/// A packet sent or delivered, for the traffic counters: one cycle of `valid` with the slot
/// to charge and the payload bytes.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "PacketEventReceiver"]
pub struct PacketEventSender {
    pub valid: Signal<Out, Bit>,
    pub slot: Signal<Out, Bits<COUNTER_SLOT_BITS>>,
    pub bytes: Signal<Out, Bits<PACKET_LENGTH_BITS>>,
}

/// The counters' side of [`PacketEventSender`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "PacketEventSender"]
pub struct PacketEventReceiver {
    pub valid: Signal<In, Bit>,
    pub slot: Signal<In, Bits<COUNTER_SLOT_BITS>>,
    pub bytes: Signal<In, Bits<PACKET_LENGTH_BITS>>,
}

/// A counter read (and clear) by register address: `strobe` one cycle, the value with
/// `valid` a fixed number of cycles later.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "CounterReadResponder"]
pub struct CounterReadController {
    pub strobe: Signal<Out, Bit>,
    pub addr: Signal<Out, Bits<BUS_ADDR_BITS>>,
    pub valid: Signal<In, Bit>,
    pub data: Signal<In, Bits<WORD_BITS>>,
}

/// The counters' side of [`CounterReadController`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "CounterReadController"]
pub struct CounterReadResponder {
    pub strobe: Signal<In, Bit>,
    pub addr: Signal<In, Bits<BUS_ADDR_BITS>>,
    pub valid: Signal<Out, Bit>,
    pub data: Signal<Out, Bits<WORD_BITS>>,
}

/// A signal-on-write notification: `length` bytes were written from `nva`.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "NotifyReceiver"]
pub struct NotifySender {
    pub valid: Signal<Out, Bit>,
    pub nva: Signal<Out, Bits<WORD_BITS>>,
    pub length: Signal<Out, Bits<PACKET_LENGTH_BITS>>,
}

/// The register file's side of [`NotifySender`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "NotifySender"]
pub struct NotifyReceiver {
    pub valid: Signal<In, Bit>,
    pub nva: Signal<In, Bits<WORD_BITS>>,
    pub length: Signal<In, Bits<PACKET_LENGTH_BITS>>,
}

/// A TX cache miss (the packet's physical page, one at a time) and the host's answer: retry,
/// or drop the rest of the descriptor.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "TxMissHandler"]
pub struct TxMissReporter {
    pub valid: Signal<Out, Bit>,
    pub page: Signal<Out, Bits<PAGE_BITS>>,
    pub resolve_valid: Signal<In, Bit>,
    pub resolve_drop: Signal<In, Bit>,
}

/// The register file's side of [`TxMissReporter`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "TxMissReporter"]
pub struct TxMissHandler {
    pub valid: Signal<In, Bit>,
    pub page: Signal<In, Bits<PAGE_BITS>>,
    pub resolve_valid: Signal<Out, Bit>,
    pub resolve_drop: Signal<Out, Bit>,
}

/// An RX cache miss: the packet waits (parked) in the miss buffer under `tag`. The host reads
/// the page parked under `parked_tag` and resolves a tag (retry or drop); `parked` counts the
/// packets waiting.
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "RxMissHandler"]
pub struct RxMissReporter {
    pub valid: Signal<Out, Bit>,
    pub tag: Signal<Out, Bits<TAG_BITS>>,
    pub parked_tag: Signal<In, Bits<TAG_BITS>>,
    pub parked_page: Signal<Out, Bits<PAGE_BITS>>,
    pub parked: Signal<Out, Bits<PARKED_COUNT_BITS>>,
    pub resolve_valid: Signal<In, Bit>,
    pub resolve_drop: Signal<In, Bit>,
    pub resolve_tag: Signal<In, Bits<TAG_BITS>>,
}

/// The register file's side of [`RxMissReporter`].
#[derive(Clone, Debug, Default, LogicInterface)]
#[join = "RxMissReporter"]
pub struct RxMissHandler {
    pub valid: Signal<In, Bit>,
    pub tag: Signal<In, Bits<TAG_BITS>>,
    pub parked_tag: Signal<Out, Bits<TAG_BITS>>,
    pub parked_page: Signal<In, Bits<PAGE_BITS>>,
    pub parked: Signal<In, Bits<PARKED_COUNT_BITS>>,
    pub resolve_valid: Signal<Out, Bit>,
    pub resolve_drop: Signal<Out, Bit>,
    pub resolve_tag: Signal<Out, Bits<TAG_BITS>>,
}

/// The fields of one TX command as plain values: what a testbench drives into a
/// [`TxCommandResponder`] or samples from a [`TxCommandController`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxCommand {
    pub addr: u32,
    pub length: u32,
    pub nva: u32,
    pub epoch: u8,
    pub slot: u8,
    pub first: bool,
    pub last: bool,
    pub user: bool,
}

impl TxCommand {
    /// Drives the command's fields (not `valid`) into a responder's inputs.
    pub fn drive(&self, port: &mut TxCommandResponder) {
        port.addr.next = (self.addr as u64).into();
        port.length.next = (self.length as u64).into();
        port.nva.next = (self.nva as u64).into();
        port.epoch.next = (self.epoch as u64).into();
        port.counter_slot.next = (self.slot as u64).into();
        port.first.next = self.first;
        port.last.next = self.last;
        port.user.next = self.user;
    }

    /// The command a controller presents now (whether or not `valid` is high).
    pub fn sample(port: &TxCommandController) -> Self {
        TxCommand {
            addr: port.addr.val().to_u64() as u32,
            length: port.length.val().to_u64() as u32,
            nva: port.nva.val().to_u64() as u32,
            epoch: port.epoch.val().to_u64() as u8,
            slot: port.counter_slot.val().to_u64() as u8,
            first: port.first.val(),
            last: port.last.val(),
            user: port.user.val(),
        }
    }
}
