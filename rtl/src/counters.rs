//! Traffic counters: per-slot TX/RX packet and byte counts and the global event counts, all in
//! block RAM, all read-and-clear from the host register bus.
//!
//! # Why one engine
//! The card must fit an iCE40-HX8K (32 block RAMs, 7,680 logic cells). Two lanes with their own
//! RAMs (so that TX and RX may both count in every cycle) took 8 block RAMs, and ten 32-bit
//! global counters with their own adders and read mux took about 800 LUTs and flip-flops.
//! Here every counter lives in two RAMs sharing one address (a *packets* word and a *bytes*
//! word), updated by a single read-modify-write engine: one op per cycle, two 32-bit adders.
//! RAM words: TX slot `s` at `s`, RX slot `s` at `64 + s`, global pair `j` at `128 + j`
//! (global `2j` in the packets word, `2j + 1` in the bytes word): addresses are bit fields, no
//! adders, and the RAMs are 256 words deep so that no read needs a range check. Four block RAMs
//! (256 × 16 bits each) at any slot count.
//!
//! # The engine
//! Stage 0 picks one op and reads both RAMs; stage 1 adds its increments to the words read and
//! writes them back (a clear writes 0 instead, and answers the host with the sum). Priority:
//! 1. the RX hold register (the RX event of the previous cycle): RX never waits, so one
//!    register is enough at any RX rate;
//! 2. the head of a two-entry TX queue;
//! 3. the host read, or a global flush (these two alternate when both are ready).
//!
//! The RAM returns undefined data for a word written in the same cycle, so no op may read the
//! word stage 1 writes. Two events of one slot issued back to back would: instead, when the op
//! issued is an event, the next event of the same slot and direction (the RX event arriving
//! now; the second TX queue entry, or the TX event arriving now when there is none) is merged
//! into it (increments 2 and the summed lengths), so the next event op is always for another
//! word. Host reads and flushes wait a cycle when they would collide. No forwarding registers.
//!
//! Global events are counted in 7-bit pending counters (one per global) and added to the RAM
//! by a flush of their pair; a rotating pointer visits the pairs, skipping pairs with nothing
//! pending at no cost.
//!
//! # No event is lost
//! - RX: the hold register issues in the cycle after the event, always (merge instead of
//!   collision).
//! - TX: `sent.valid` comes from the packetizer's trailer state, which a packet reaches through
//!   `Idle → Header1 → Payload → Trailer`: TX events are at least four cycles apart. A TX
//!   event waits only while RX ops issue. RX events are the line writer's `done` pulses (one
//!   cycle later): one job per pulse, each job at least one beat, and the next job is taken
//!   at the earliest in the cycle of the last beat; ring jobs leave the job queue (a
//!   three-row `RowFifo`) at least three cycles apart and retried jobs at least five cycles
//!   apart (retry FSM: lookup, two result stages, ready). So no three consecutive cycles take a
//!   job, and RX events come in runs of at most three cycles. The queue loses a TX event only
//!   when three are waiting, which needs RX ops in eight consecutive cycles.
//! - Globals: a pending counter holds the events since its pair's last flush (that flush's
//!   own cycle included: at most one more). In any `W`
//!   cycles there are at most `W/3 + W/5 + 2` RX ops and `W/4 + 3` TX ops, so at least
//!   `13W/60 - 5` cycles without an event op. A flush needs at most three of those (the host
//!   may win one, and the cycle after a host read of the same pair is blocked), and a pair
//!   is flushed within [`GLOBAL_PAIRS`] (5) flushes of the pointer, 15 such cycles: within
//!   `W = 92` cycles, so a pending count stays below 101 < 127 (long-run RX is at most one per
//!   four cycles, one link packet each, so the real bound is lower still; the worst-case test
//!   `hammered_globals_lose_nothing` sees 28). The tests check before every clock edge that
//!   no event would be dropped.
//!
//! # Host read-and-clear
//! A read waits while an event of its own slot and direction is held or queued (or arrives in
//! that cycle), so every event up to the strobe cycle is in the value and none can follow the
//! clear in the next cycle. A global read is one flush of its pair that also clears its
//! word: the answer includes the events pending before the clearing cycle (so those of the
//! strobe cycle); the clearing cycle's own stay pending for the next read. An op takes a
//! pair's pending counts as registered, so that no adder follows the choice of op.
//!
//! Latency: [`READ_LATENCY`] cycles from strobe to `read.valid` when nothing is in flight;
//! each cycle with an event op adds one, as does a flush the host yields to, a collision, or
//! an event of the read slot in flight. The bound follows from the event spacing above (18
//! cycles in the worst-case test); the register file waits for `read.valid` however long.
//! Addresses outside both windows answer 0 after [`UNMAPPED_READ_LATENCY`] cycle. Counters
//! wrap at 32 bits.

use crate::interfaces::{CounterReadResponder, PacketEventReceiver};
use crate::packet_ram::{PacketRam, PACKET_RAM_ADDR_BITS};
use crate::spec::packet::H1_LENGTH;
use crate::spec::regmap::{
    global_counter_addr, slot_counter_addr, ADDR_BITS, GLOBAL_COUNTERS, GLOBAL_COUNTER_BASE,
    MAP_ATTR_SLOT, SLOT_COUNTERS, SLOT_COUNTER_BASE, SLOT_COUNTER_STRIDE,
};
use rust_hdl::prelude::*;

/// Widths of the counters' ports, as the interfaces declare them.
pub use crate::interfaces::{
    BUS_ADDR_BITS, COUNTER_SLOT_BITS as SLOT_BITS, PACKET_LENGTH_BITS as LENGTH_BITS,
};
/// Width of the `global_events` input: one bit per global counter.
pub const GLOBAL_EVENT_BITS: usize = GLOBAL_COUNTERS.len();
/// Most counter slots (every slot number is addressable).
pub const MAX_COUNTER_SLOTS: usize = 1 << SLOT_BITS;
/// Cycles from `read.strobe` to `read.valid` for a counter when the engine is idle.
pub const READ_LATENCY: usize = 2;
/// Cycles from `read.strobe` to `read.valid` for an address outside both counter windows.
pub const UNMAPPED_READ_LATENCY: usize = 1;
/// Width of a global's pending-event counter (see the module doc for why it cannot wrap).
pub const PEND_BITS: usize = 7;
/// Global counters share RAM words in pairs (packets word, bytes word).
pub const GLOBAL_PAIRS: usize = GLOBAL_EVENT_BITS.div_ceil(2);
/// Width of a shift amount for bus addresses.
const SHIFT_BITS: usize = 4;
/// Counter RAM address: TX slots, RX slots, global pairs.
const WORD_BITS: usize = SLOT_BITS + 2;
/// First RX word and first global pair word.
const RX_WORDS: u32 = MAX_COUNTER_SLOTS as u32;
const PAIR_WORDS: u32 = 2 * MAX_COUNTER_SLOTS as u32;
/// Width of a pair index.
const PAIR_BITS: usize = 3;
/// Width of a byte increment: two merged packet lengths.
const INC_BITS: usize = LENGTH_BITS + 1;
/// Bytes per register (the address step between two counters).
const BUS_WORD: u32 = global_counter_addr(1) - global_counter_addr(0);
/// Index in `SLOT_COUNTERS` of a direction's packet counter (its byte counter follows it);
/// `TrafficCounters::new` checks the order.
const TX_PACKETS: usize = 0;
const RX_PACKETS: usize = 2;
const _: () = assert!(GLOBAL_EVENT_BITS.is_multiple_of(2) && GLOBAL_PAIRS <= 1 << PAIR_BITS);
const _: () = assert!(2 * MAX_COUNTER_SLOTS + GLOBAL_PAIRS <= 1 << WORD_BITS);
const _: () = assert!(PEND_BITS <= INC_BITS && PEND_BITS <= 32);

#[derive(LogicBlock)]
pub struct TrafficCounters {
    pub clock: Signal<In, Clock>,
    /// Packets sent (TX slot counters).
    pub sent: PacketEventReceiver,
    /// Packets delivered (RX slot counters).
    pub delivered: PacketEventReceiver,
    pub global_events: Signal<In, Bits<GLOBAL_EVENT_BITS>>,
    /// Read-and-clear by register address.
    pub read: CounterReadResponder,
    packets: PacketRam,
    octets: PacketRam,
    // Events of slots that have a RAM word.
    rx_in: Signal<Local, Bit>,
    tx_in: Signal<Local, Bit>,
    // The RX event of the previous cycle.
    rxh_valid: DFF<Bit>,
    rxh_slot: DFF<Bits<SLOT_BITS>>,
    rxh_bytes: DFF<Bits<LENGTH_BITS>>,
    // TX queue: head (0) and second entry (1).
    tx0_valid: DFF<Bit>,
    tx0_slot: DFF<Bits<SLOT_BITS>>,
    tx0_bytes: DFF<Bits<LENGTH_BITS>>,
    tx1_valid: DFF<Bit>,
    tx1_slot: DFF<Bits<SLOT_BITS>>,
    tx1_bytes: DFF<Bits<LENGTH_BITS>>,
    // The TX event after the head: the second entry, else this cycle's.
    txn_valid: Signal<Local, Bit>,
    txn_slot: Signal<Local, Bits<SLOT_BITS>>,
    txn_bytes: Signal<Local, Bits<LENGTH_BITS>>,
    tx_push: Signal<Local, Bit>,
    /// The head is occupied after this cycle's pop (a pushed event goes behind it).
    tx_head_full: Signal<Local, Bit>,
    // Stage 0: the op issued this cycle.
    rx_go: Signal<Local, Bit>,
    tx_go: Signal<Local, Bit>,
    /// An event op issues (RX or TX).
    ev_go: Signal<Local, Bit>,
    host_go: Signal<Local, Bit>,
    flush_go: Signal<Local, Bit>,
    rx_merge: Signal<Local, Bit>,
    tx_merge: Signal<Local, Bit>,
    ev_first: Signal<Local, Bits<INC_BITS>>,
    ev_second: Signal<Local, Bits<INC_BITS>>,
    ev_merge: Signal<Local, Bit>,
    op_addr: Signal<Local, Bits<WORD_BITS>>,
    // Globals: pending events of each pair's packets (even) and bytes (odd) global.
    pend_p: Vec<DFF<Bits<PEND_BITS>>>,
    pend_b: Vec<DFF<Bits<PEND_BITS>>>,
    /// Something of the pair is pending.
    pend_any: Vec<DFF<Bit>>,
    ptr: DFF<Bits<PAIR_BITS>>,
    host_first: DFF<Bit>,
    gsel: Signal<Local, Bits<PAIR_BITS>>,
    f_pend_p: Signal<Local, Bits<PEND_BITS>>,
    f_pend_b: Signal<Local, Bits<PEND_BITS>>,
    h_pend_p: Signal<Local, Bits<PEND_BITS>>,
    h_pend_b: Signal<Local, Bits<PEND_BITS>>,
    g_inc_p: Signal<Local, Bits<PEND_BITS>>,
    g_inc_b: Signal<Local, Bits<PEND_BITS>>,
    g_take: Signal<Local, Bit>,
    flush_want: Signal<Local, Bit>,
    flush_ok: Signal<Local, Bit>,
    flush_addr: Signal<Local, Bits<WORD_BITS>>,
    // The pending host read (reads never overlap: the bus waits for read_valid).
    global_offset: Signal<Local, Bits<BUS_ADDR_BITS>>,
    slot_offset: Signal<Local, Bits<BUS_ADDR_BITS>>,
    slot_kind: Signal<Local, Bits<2>>,
    global_index: Signal<Local, Bits<BUS_ADDR_BITS>>,
    slot_index: Signal<Local, Bits<SLOT_BITS>>,
    pend_valid: DFF<Bit>,
    pend_mapped: DFF<Bit>,
    pend_global: DFF<Bit>,
    pend_rx: DFF<Bit>,
    pend_bytes: DFF<Bit>,
    pend_slot: DFF<Bits<SLOT_BITS>>,
    pend_pair: DFF<Bits<PAIR_BITS>>,
    pend_addr: DFF<Bits<WORD_BITS>>,
    slot_busy: Signal<Local, Bit>,
    host_ok: Signal<Local, Bit>,
    // Stage 1: the op whose RAM words are being read.
    s1_valid: DFF<Bit>,
    s1_addr: DFF<Bits<WORD_BITS>>,
    s1_inc_p: DFF<Bits<PEND_BITS>>,
    s1_inc_b: DFF<Bits<INC_BITS>>,
    s1_clear_p: DFF<Bit>,
    s1_clear_b: DFF<Bit>,
    s1_resp: DFF<Bit>,
    sum_p: Signal<Local, Bits<32>>,
    sum_b: Signal<Local, Bits<32>>,
    global_base: Constant<Bits<BUS_ADDR_BITS>>,
    global_span: Constant<Bits<BUS_ADDR_BITS>>,
    slot_base: Constant<Bits<BUS_ADDR_BITS>>,
    /// Offset bits inside each window's aligned block.
    global_low: Constant<Bits<BUS_ADDR_BITS>>,
    slot_low: Constant<Bits<BUS_ADDR_BITS>>,
    word_shift: Constant<Bits<SHIFT_BITS>>,
    slot_shift: Constant<Bits<SHIFT_BITS>>,
    /// The RX words' base.
    rx_base: Constant<Bits<WORD_BITS>>,
    /// Slot number bits that must be 0 (slots beyond `counter_slots` are not counted).
    slot_high: Constant<Bits<SLOT_BITS>>,
    /// `2 * counter_slots`: the first global pair's word.
    pair_base: Constant<Bits<WORD_BITS>>,
    last_pair: Constant<Bits<PAIR_BITS>>,
    _slots: usize,
}

impl TrafficCounters {
    /// Counters for `counter_slots` slots (1..=64), all zero.
    pub fn new(counter_slots: usize) -> Self {
        assert!(
            (1..=MAX_COUNTER_SLOTS).contains(&counter_slots),
            "counter_slots {counter_slots} out of range"
        );
        // The decode below takes the slot number from the address bits above the stride and
        // the kind (bit 0: bytes, bit 1: RX) from the word index inside it.
        let names: Vec<_> = SLOT_COUNTERS.iter().map(|c| c.name).collect();
        assert_eq!(names, ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"]);
        assert_eq!(
            (names[TX_PACKETS], names[RX_PACKETS]),
            ("tx_packets", "rx_packets")
        );
        assert!(BUS_WORD.is_power_of_two() && SLOT_COUNTER_STRIDE.is_power_of_two());
        assert_eq!(slot_counter_addr(0, 1) - slot_counter_addr(0, 0), BUS_WORD);
        assert_eq!(SLOT_COUNTER_STRIDE, BUS_WORD * SLOT_COUNTERS.len() as u32);
        let global_span = global_counter_addr(GLOBAL_EVENT_BITS as u32) - GLOBAL_COUNTER_BASE;
        let global_block = global_span.next_power_of_two();
        let slot_block = slot_counter_addr(counter_slots as u32, 0) - SLOT_COUNTER_BASE;
        assert!(slot_block.is_power_of_two());
        assert_eq!(GLOBAL_COUNTER_BASE % global_block, 0);
        assert_eq!(SLOT_COUNTER_BASE % slot_block, 0);
        let c = constant::<BUS_ADDR_BITS>;
        let shift = constant::<SHIFT_BITS>;
        assert!(counter_slots.is_power_of_two());
        let words = 1 << WORD_BITS;
        TrafficCounters {
            clock: Default::default(),
            sent: Default::default(),
            delivered: Default::default(),
            global_events: Default::default(),
            read: Default::default(),
            packets: PacketRam::without_collisions(words),
            octets: PacketRam::without_collisions(words),
            rx_in: Default::default(),
            tx_in: Default::default(),
            rxh_valid: Default::default(),
            rxh_slot: Default::default(),
            rxh_bytes: Default::default(),
            tx0_valid: Default::default(),
            tx0_slot: Default::default(),
            tx0_bytes: Default::default(),
            tx1_valid: Default::default(),
            tx1_slot: Default::default(),
            tx1_bytes: Default::default(),
            txn_valid: Default::default(),
            txn_slot: Default::default(),
            txn_bytes: Default::default(),
            tx_push: Default::default(),
            tx_head_full: Default::default(),
            rx_go: Default::default(),
            tx_go: Default::default(),
            ev_go: Default::default(),
            host_go: Default::default(),
            flush_go: Default::default(),
            rx_merge: Default::default(),
            tx_merge: Default::default(),
            ev_first: Default::default(),
            ev_second: Default::default(),
            ev_merge: Default::default(),
            op_addr: Default::default(),
            pend_p: (0..GLOBAL_PAIRS).map(|_| Default::default()).collect(),
            pend_b: (0..GLOBAL_PAIRS).map(|_| Default::default()).collect(),
            pend_any: (0..GLOBAL_PAIRS).map(|_| Default::default()).collect(),
            ptr: Default::default(),
            host_first: Default::default(),
            gsel: Default::default(),
            f_pend_p: Default::default(),
            f_pend_b: Default::default(),
            h_pend_p: Default::default(),
            h_pend_b: Default::default(),
            g_inc_p: Default::default(),
            g_inc_b: Default::default(),
            g_take: Default::default(),
            flush_want: Default::default(),
            flush_ok: Default::default(),
            flush_addr: Default::default(),
            global_offset: Default::default(),
            slot_offset: Default::default(),
            slot_kind: Default::default(),
            global_index: Default::default(),
            slot_index: Default::default(),
            pend_valid: Default::default(),
            pend_mapped: Default::default(),
            pend_global: Default::default(),
            pend_rx: Default::default(),
            pend_bytes: Default::default(),
            pend_slot: Default::default(),
            pend_pair: Default::default(),
            pend_addr: Default::default(),
            slot_busy: Default::default(),
            host_ok: Default::default(),
            s1_valid: Default::default(),
            s1_addr: Default::default(),
            s1_inc_p: Default::default(),
            s1_inc_b: Default::default(),
            s1_clear_p: Default::default(),
            s1_clear_b: Default::default(),
            s1_resp: Default::default(),
            sum_p: Default::default(),
            sum_b: Default::default(),
            global_base: c(GLOBAL_COUNTER_BASE),
            global_span: c(global_span),
            slot_base: c(SLOT_COUNTER_BASE),
            global_low: c(global_block - 1),
            slot_low: c(slot_block - 1),
            word_shift: shift(BUS_WORD.trailing_zeros()),
            slot_shift: shift(SLOT_COUNTER_STRIDE.trailing_zeros()),
            rx_base: constant::<WORD_BITS>(RX_WORDS),
            slot_high: constant::<SLOT_BITS>(
                (MAX_COUNTER_SLOTS as u32 - 1) & !(counter_slots as u32 - 1),
            ),
            pair_base: constant::<WORD_BITS>(PAIR_WORDS),
            last_pair: constant::<PAIR_BITS>(GLOBAL_PAIRS as u32 - 1),
            _slots: counter_slots,
        }
    }

    pub fn counter_slots(&self) -> usize {
        self._slots
    }
}

impl Logic for TrafficCounters {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            rxh_valid,
            rxh_slot,
            rxh_bytes,
            tx0_valid,
            tx0_slot,
            tx0_bytes,
            tx1_valid,
            tx1_slot,
            tx1_bytes,
            ptr,
            host_first,
            pend_valid,
            pend_mapped,
            pend_global,
            pend_rx,
            pend_bytes,
            pend_slot,
            pend_pair,
            pend_addr,
            s1_valid,
            s1_addr,
            s1_inc_p,
            s1_inc_b,
            s1_clear_p,
            s1_clear_b,
            s1_resp
        );
        self.packets.clock.next = self.clock.val();
        self.octets.clock.next = self.clock.val();

        // Events of slots beyond counter_slots have no word and are not counted.
        self.rx_in.next =
            self.delivered.valid.val() && !(self.delivered.slot.val() & self.slot_high.val()).any();
        self.tx_in.next =
            self.sent.valid.val() && !(self.sent.slot.val() & self.slot_high.val()).any();

        // ---- Stage 0: event ops first (RX, then TX), merging the next event of their slot.
        self.rx_go.next = self.rxh_valid.q.val();
        self.tx_go.next = self.tx0_valid.q.val() && !self.rxh_valid.q.val();
        self.ev_go.next = self.rx_go.val() || self.tx_go.val();
        self.rx_merge.next = self.rx_go.val()
            && self.rx_in.val()
            && (self.delivered.slot.val() == self.rxh_slot.q.val());
        self.txn_valid.next = self.tx_in.val();
        self.txn_slot.next = self.sent.slot.val();
        self.txn_bytes.next = self.sent.bytes.val();
        if self.tx1_valid.q.val() {
            self.txn_valid.next = true;
            self.txn_slot.next = self.tx1_slot.q.val();
            self.txn_bytes.next = self.tx1_bytes.q.val();
        }
        self.tx_merge.next = self.tx_go.val()
            && self.txn_valid.val()
            && (self.txn_slot.val() == self.tx0_slot.q.val());
        self.ev_first.next = bit_cast::<INC_BITS, LENGTH_BITS>(self.tx0_bytes.q.val());
        self.ev_second.next = bit_cast::<INC_BITS, LENGTH_BITS>(self.txn_bytes.val());
        self.ev_merge.next = self.tx_merge.val();
        if self.rx_go.val() {
            self.ev_first.next = bit_cast::<INC_BITS, LENGTH_BITS>(self.rxh_bytes.q.val());
            self.ev_second.next = bit_cast::<INC_BITS, LENGTH_BITS>(self.delivered.bytes.val());
            self.ev_merge.next = self.rx_merge.val();
        }
        if !self.ev_merge.val() {
            self.ev_second.next = 0.into();
        }

        // RX hold: this cycle's event unless merged.
        self.rxh_valid.d.next = self.rx_in.val() && !self.rx_merge.val();
        self.rxh_slot.d.next = self.delivered.slot.val();
        self.rxh_bytes.d.next = self.delivered.bytes.val();
        // TX queue: pop the head (and the merged event), then append this cycle's event.
        self.tx_push.next = self.tx_in.val() && (self.tx1_valid.q.val() || !self.tx_merge.val());
        self.tx_head_full.next = self.tx0_valid.q.val();
        if self.tx_go.val() {
            self.tx_head_full.next = self.tx1_valid.q.val() && !self.tx_merge.val();
            self.tx0_valid.d.next = self.tx_head_full.val();
            self.tx0_slot.d.next = self.tx1_slot.q.val();
            self.tx0_bytes.d.next = self.tx1_bytes.q.val();
            self.tx1_valid.d.next = false;
        }
        if self.tx_push.val() {
            if self.tx_head_full.val() {
                self.tx1_valid.d.next = true;
                self.tx1_slot.d.next = self.sent.slot.val();
                self.tx1_bytes.d.next = self.sent.bytes.val();
            } else {
                self.tx0_valid.d.next = true;
                self.tx0_slot.d.next = self.sent.slot.val();
                self.tx0_bytes.d.next = self.sent.bytes.val();
            }
        }

        // ---- The host read: decode the strobe; wait while its counter has events in flight.
        // Both windows are aligned blocks: offsets are low address bits, no subtraction.
        self.global_offset.next = self.read.addr.val() & self.global_low.val();
        self.slot_offset.next = self.read.addr.val() & self.slot_low.val();
        self.slot_kind.next =
            bit_cast::<2, BUS_ADDR_BITS>(self.slot_offset.val() >> self.word_shift.val());
        self.global_index.next = self.global_offset.val() >> self.word_shift.val();
        self.slot_index.next =
            bit_cast::<SLOT_BITS, BUS_ADDR_BITS>(self.slot_offset.val() >> self.slot_shift.val());
        self.slot_busy.next = (self.rxh_valid.q.val()
            && (self.rxh_slot.q.val() == self.pend_slot.q.val()))
            || (self.rx_in.val() && (self.delivered.slot.val() == self.pend_slot.q.val()));
        if !self.pend_rx.q.val() {
            self.slot_busy.next = (self.tx0_valid.q.val()
                && (self.tx0_slot.q.val() == self.pend_slot.q.val()))
                || (self.tx1_valid.q.val() && (self.tx1_slot.q.val() == self.pend_slot.q.val()))
                || (self.tx_in.val() && (self.sent.slot.val() == self.pend_slot.q.val()));
        }
        if self.pend_global.q.val() {
            self.slot_busy.next = false;
        }
        self.host_ok.next = self.pend_valid.q.val()
            && self.pend_mapped.q.val()
            && !self.ev_go.val()
            && !self.slot_busy.val()
            && !(self.s1_valid.q.val() && (self.s1_addr.q.val() == self.pend_addr.q.val()));

        // ---- Global flush: the pointed pair if anything is pending.
        self.flush_want.next = false;
        for j in 0..GLOBAL_PAIRS {
            if self.ptr.q.val() == j.to_bits::<PAIR_BITS>() {
                self.flush_want.next = self.pend_any[j].q.val();
            }
        }
        self.flush_addr.next =
            self.pair_base.val() | bit_cast::<WORD_BITS, PAIR_BITS>(self.ptr.q.val());
        self.flush_ok.next = self.flush_want.val()
            && !self.ev_go.val()
            && !(self.s1_valid.q.val() && (self.s1_addr.q.val() == self.flush_addr.val()));
        self.host_go.next = self.host_ok.val() && (self.host_first.q.val() || !self.flush_ok.val());
        self.flush_go.next = self.flush_ok.val() && !self.host_go.val();
        if self.host_go.val() {
            self.host_first.d.next = false;
        }
        if self.flush_go.val() {
            self.host_first.d.next = true;
        }
        if self.flush_go.val() || !self.flush_want.val() {
            self.ptr.d.next = self.ptr.q.val() + 1;
            if self.ptr.q.val() == self.last_pair.val() {
                self.ptr.d.next = 0.into();
            }
        }
        // The pair an op takes the pending events of (a flush, or a global read).
        self.gsel.next = self.ptr.q.val();
        self.g_take.next = self.flush_go.val();
        if self.host_go.val() {
            self.gsel.next = self.pend_pair.q.val();
            self.g_take.next = self.pend_global.q.val();
        }
        // The pending counts a flush (the pointed pair) and a host read (its pair; nothing for
        // a slot counter) would take, both from registers: the op's choice only selects.
        self.f_pend_p.next = 0.into();
        self.f_pend_b.next = 0.into();
        self.h_pend_p.next = 0.into();
        self.h_pend_b.next = 0.into();
        for j in 0..GLOBAL_PAIRS {
            self.pend_p[j].clock.next = self.clock.val();
            self.pend_b[j].clock.next = self.clock.val();
            self.pend_any[j].clock.next = self.clock.val();
            self.pend_p[j].d.next =
                self.pend_p[j].q.val() + self.global_events.val().get_bit(j + j);
            self.pend_b[j].d.next =
                self.pend_b[j].q.val() + self.global_events.val().get_bit(j + j + 1);
            self.pend_any[j].d.next = self.pend_any[j].q.val()
                || self.global_events.val().get_bit(j + j)
                || self.global_events.val().get_bit(j + j + 1);
            if self.ptr.q.val() == j.to_bits::<PAIR_BITS>() {
                self.f_pend_p.next = self.pend_p[j].q.val();
                self.f_pend_b.next = self.pend_b[j].q.val();
            }
            if self.pend_global.q.val() && (self.pend_pair.q.val() == j.to_bits::<PAIR_BITS>()) {
                self.h_pend_p.next = self.pend_p[j].q.val();
                self.h_pend_b.next = self.pend_b[j].q.val();
            }
            // Taken: the events of this cycle stay pending (no adder after the choice).
            if self.g_take.val() && (self.gsel.val() == j.to_bits::<PAIR_BITS>()) {
                self.pend_p[j].d.next = 0.into();
                if self.global_events.val().get_bit(j + j) {
                    self.pend_p[j].d.next = 1.into();
                }
                self.pend_b[j].d.next = 0.into();
                if self.global_events.val().get_bit(j + j + 1) {
                    self.pend_b[j].d.next = 1.into();
                }
                self.pend_any[j].d.next = self.global_events.val().get_bit(j + j)
                    || self.global_events.val().get_bit(j + j + 1);
            }
        }
        self.g_inc_p.next = self.f_pend_p.val();
        self.g_inc_b.next = self.f_pend_b.val();
        if self.host_go.val() {
            self.g_inc_p.next = self.h_pend_p.val();
            self.g_inc_b.next = self.h_pend_b.val();
        }

        // ---- The op into stage 1 and the RAM reads.
        self.op_addr.next = self.flush_addr.val();
        self.s1_inc_p.d.next = self.g_inc_p.val();
        self.s1_inc_b.d.next = bit_cast::<INC_BITS, PEND_BITS>(self.g_inc_b.val());
        self.s1_clear_p.d.next = false;
        self.s1_clear_b.d.next = false;
        self.s1_resp.d.next = false;
        if self.host_go.val() {
            self.op_addr.next = self.pend_addr.q.val();
            self.s1_clear_p.d.next = !self.pend_bytes.q.val();
            self.s1_clear_b.d.next = self.pend_bytes.q.val();
            self.s1_resp.d.next = true;
        }
        if self.tx_go.val() {
            self.op_addr.next = bit_cast::<WORD_BITS, SLOT_BITS>(self.tx0_slot.q.val());
        }
        if self.rx_go.val() {
            self.op_addr.next =
                self.rx_base.val() | bit_cast::<WORD_BITS, SLOT_BITS>(self.rxh_slot.q.val());
        }
        if self.ev_go.val() {
            self.s1_inc_p.d.next = 1.into();
            if self.ev_merge.val() {
                self.s1_inc_p.d.next = 2.into();
            }
            self.s1_inc_b.d.next = self.ev_first.val() + self.ev_second.val();
        }
        self.s1_valid.d.next = self.ev_go.val() || self.host_go.val() || self.flush_go.val();
        self.s1_addr.d.next = self.op_addr.val();
        self.packets.read_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, WORD_BITS>(self.op_addr.val());
        self.octets.read_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, WORD_BITS>(self.op_addr.val());

        // The pending read register (set last: a strobe never meets a pending read).
        if self.host_go.val() || !self.pend_mapped.q.val() {
            self.pend_valid.d.next = false;
        }
        if self.read.strobe.val() {
            self.pend_valid.d.next = true;
            self.pend_mapped.d.next = false;
            self.pend_global.d.next = false;
            self.pend_rx.d.next = self.slot_kind.val().get_bit(1);
            self.pend_bytes.d.next = self.slot_kind.val().get_bit(0);
            self.pend_slot.d.next = self.slot_index.val();
            self.pend_pair.d.next =
                bit_cast::<PAIR_BITS, BUS_ADDR_BITS>(self.global_index.val() >> 1);
            self.pend_addr.d.next = bit_cast::<WORD_BITS, SLOT_BITS>(self.slot_index.val());
            if self.slot_kind.val().get_bit(1) {
                self.pend_addr.d.next =
                    self.rx_base.val() | bit_cast::<WORD_BITS, SLOT_BITS>(self.slot_index.val());
            }
            if (self.read.addr.val() & !self.slot_low.val()) == self.slot_base.val() {
                self.pend_mapped.d.next = true;
            }
            if ((self.read.addr.val() & !self.global_low.val()) == self.global_base.val())
                && (self.global_offset.val() < self.global_span.val())
            {
                self.pend_mapped.d.next = true;
                self.pend_global.d.next = true;
                self.pend_bytes.d.next = self.global_index.val().get_bit(0);
                self.pend_addr.d.next = self.pair_base.val()
                    | bit_cast::<WORD_BITS, BUS_ADDR_BITS>(self.global_index.val() >> 1);
            }
        }

        // ---- Stage 1: add, write back (a clear writes 0), answer the host.
        self.sum_p.next =
            self.packets.read_data.val() + bit_cast::<32, PEND_BITS>(self.s1_inc_p.q.val());
        self.sum_b.next =
            self.octets.read_data.val() + bit_cast::<32, INC_BITS>(self.s1_inc_b.q.val());
        self.packets.write_enable.next = self.s1_valid.q.val();
        self.octets.write_enable.next = self.s1_valid.q.val();
        self.packets.write_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, WORD_BITS>(self.s1_addr.q.val());
        self.octets.write_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, WORD_BITS>(self.s1_addr.q.val());
        self.packets.write_data.next = self.sum_p.val();
        if self.s1_clear_p.q.val() {
            self.packets.write_data.next = 0.into();
        }
        self.octets.write_data.next = self.sum_b.val();
        if self.s1_clear_b.q.val() {
            self.octets.write_data.next = 0.into();
        }
        self.read.valid.next =
            self.s1_resp.q.val() || (self.pend_valid.q.val() && !self.pend_mapped.q.val());
        self.read.data.next = 0.into();
        if self.s1_resp.q.val() {
            self.read.data.next = self.sum_p.val();
            if self.s1_clear_b.q.val() {
                self.read.data.next = self.sum_b.val();
            }
        }
    }
}

fn constant<const N: usize>(value: u32) -> Constant<Bits<N>> {
    Constant::new((value as u64).into())
}

// ---- Software reference model ----------------------------------------------------------------

/// A counter, as addressed on the register bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterId {
    /// Index into `GLOBAL_COUNTERS`.
    Global(usize),
    /// `kind` indexes `SLOT_COUNTERS` (tx_packets, tx_bytes, rx_packets, rx_bytes).
    Slot { slot: usize, kind: usize },
}

/// Reference model of [`TrafficCounters`] without timing: events count at once, a read
/// returns the count and clears it. (In hardware the clearing cycle comes after the strobe,
/// so the value may include events after the strobe, never events after the answer.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficCountersModel {
    /// Per slot, in `SLOT_COUNTERS` order.
    pub slots: Vec<[u32; SLOT_COUNTERS.len()]>,
    /// In `GLOBAL_COUNTERS` order.
    pub globals: Vec<u32>,
}

impl TrafficCountersModel {
    pub fn new(counter_slots: usize) -> Self {
        TrafficCountersModel {
            slots: vec![[0; SLOT_COUNTERS.len()]; counter_slots],
            globals: vec![0; GLOBAL_COUNTERS.len()],
        }
    }

    fn count(&mut self, slot: u32, bytes: u32, kind: usize) {
        let bytes = bytes & H1_LENGTH.max();
        // Slots beyond counter_slots have no RAM word: their events are dropped.
        if let Some(s) = self.slots.get_mut((slot & MAP_ATTR_SLOT.max()) as usize) {
            s[kind] = s[kind].wrapping_add(1);
            s[kind + 1] = s[kind + 1].wrapping_add(bytes);
        }
    }

    pub fn tx_event(&mut self, slot: u32, bytes: u32) {
        self.count(slot, bytes, TX_PACKETS);
    }

    pub fn rx_event(&mut self, slot: u32, bytes: u32) {
        self.count(slot, bytes, RX_PACKETS);
    }

    /// Bit i of `bits` counts one event of global counter i.
    pub fn global_events(&mut self, bits: u32) {
        for (i, g) in self.globals.iter_mut().enumerate() {
            *g = g.wrapping_add((bits >> i) & 1);
        }
    }

    /// The counter at a bus address (the byte-in-word address bits are ignored, like the
    /// hardware).
    pub fn counter_at(&self, addr: u32) -> Option<CounterId> {
        let addr = addr & ((1 << ADDR_BITS) - 1) & !(BUS_WORD - 1);
        let g = addr.wrapping_sub(GLOBAL_COUNTER_BASE);
        let s = addr.wrapping_sub(SLOT_COUNTER_BASE);
        if g < global_counter_addr(self.globals.len() as u32) - GLOBAL_COUNTER_BASE {
            Some(CounterId::Global((g / BUS_WORD) as usize))
        } else if s < slot_counter_addr(self.slots.len() as u32, 0) - SLOT_COUNTER_BASE {
            Some(CounterId::Slot {
                slot: (s / SLOT_COUNTER_STRIDE) as usize,
                kind: (s % SLOT_COUNTER_STRIDE / BUS_WORD) as usize,
            })
        } else {
            None
        }
    }

    /// Bus address of a counter.
    pub fn addr_of(id: CounterId) -> u32 {
        match id {
            CounterId::Global(i) => global_counter_addr(i as u32),
            CounterId::Slot { slot, kind } => slot_counter_addr(slot as u32, kind as u32),
        }
    }

    /// Every counter of this configuration.
    pub fn counter_ids(&self) -> Vec<CounterId> {
        let globals = (0..self.globals.len()).map(CounterId::Global);
        let slots = (0..self.slots.len()).flat_map(|slot| {
            (0..SLOT_COUNTERS.len()).map(move |kind| CounterId::Slot { slot, kind })
        });
        globals.chain(slots).collect()
    }

    pub fn get(&self, id: CounterId) -> u32 {
        match id {
            CounterId::Global(i) => self.globals[i],
            CounterId::Slot { slot, kind } => self.slots[slot][kind],
        }
    }

    /// The value at `addr` without clearing (0 outside both windows).
    pub fn peek(&self, addr: u32) -> u32 {
        self.counter_at(addr).map_or(0, |id| self.get(id))
    }

    /// A host read: returns the value at `addr` and clears it.
    pub fn read_clear(&mut self, addr: u32) -> u32 {
        match self.counter_at(addr) {
            Some(CounterId::Global(i)) => std::mem::take(&mut self.globals[i]),
            Some(CounterId::Slot { slot, kind }) => std::mem::take(&mut self.slots[slot][kind]),
            None => 0,
        }
    }
}

#[cfg(test)]
#[cfg(test)]
mod tests;
