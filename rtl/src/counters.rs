//! Traffic counters: per-slot TX/RX packet and byte counts in block RAM, global event counts in
//! registers, all read-and-clear from the host register bus.
//!
//! Each direction has a [`SlotCounterLane`]: two RAMs (packets, bytes) indexed by slot, updated
//! read-modify-write in two stages (read in stage 0, add and write back in stage 1). TX and RX
//! therefore never compete for a RAM port and both may count every cycle. The RAM returns the
//! old word when stage 0 reads the slot stage 1 is writing in the same cycle; a forwarding
//! register holding the last write supplies the new value instead, so events on consecutive
//! cycles to the same slot are all counted.
//!
//! A host read-and-clear of a slot counter is one more read-modify-write in its lane (read the
//! value, write 0). Events are never delayed (they cannot be back-pressured and must not be
//! lost), so the clear takes the first cycle in which the lane has no event. An event stands
//! for a whole packet (at least four link cycles), so a lane is mostly idle and the wait only
//! lasts through a burst; with an idle lane a slot read answers [`SLOT_READ_LATENCY`] cycles
//! after the strobe (a lane with an event in every cycle would hold the read off for as long).
//! Global counters are read and
//! cleared in the cycle after the strobe and answer after [`GLOBAL_READ_LATENCY`] cycles, as do
//! addresses outside both windows (which read 0).
//!
//! Atomicity: the value returned counts every event before the clearing cycle. An increment in
//! the clearing cycle stays in the counter (globals restart from it; a slot clear never shares
//! its cycle with an event of its lane). Counters wrap at 32 bits.

use crate::packet_ram::{PacketRam, PACKET_RAM_ADDR_BITS};
use crate::spec::packet::H1_LENGTH;
use crate::spec::regmap::{
    global_counter_addr, slot_counter_addr, ADDR_BITS, GLOBAL_COUNTERS, GLOBAL_COUNTER_BASE,
    MAP_ATTR_SLOT, SLOT_COUNTERS, SLOT_COUNTER_BASE, SLOT_COUNTER_STRIDE,
};
use rust_hdl::prelude::*;

/// Width of a counter slot number.
pub const SLOT_BITS: usize = MAP_ATTR_SLOT.width as usize;
/// Width of a packet length in bytes.
pub const LENGTH_BITS: usize = H1_LENGTH.width as usize;
/// Width of the `global_events` input: one bit per global counter.
pub const GLOBAL_EVENT_BITS: usize = GLOBAL_COUNTERS.len();
/// Width of the register bus address.
pub const BUS_ADDR_BITS: usize = ADDR_BITS as usize;
/// Most counter slots (every slot number is addressable).
pub const MAX_COUNTER_SLOTS: usize = 1 << SLOT_BITS;
/// Cycles from `read_strobe` to `read_valid` for a global counter or an unmapped address.
pub const GLOBAL_READ_LATENCY: usize = 2;
/// Cycles from `read_strobe` to `read_valid` for a slot counter whose lane has no event in the
/// cycle after the strobe (each cycle with an event adds one).
pub const SLOT_READ_LATENCY: usize = 3;
/// Width of a shift amount for bus addresses.
const SHIFT_BITS: usize = 4;
/// Bytes per register (the address step between two counters).
const BUS_WORD: u32 = global_counter_addr(1) - global_counter_addr(0);
/// Index in `SLOT_COUNTERS` of a direction's packet counter (its byte counter follows it);
/// `TrafficCounters::new` checks the order.
const TX_PACKETS: usize = 0;
const RX_PACKETS: usize = 2;
// `pend_index` (SLOT_BITS wide) holds a global counter index too.
const _: () = assert!(GLOBAL_EVENT_BITS <= MAX_COUNTER_SLOTS);

/// The read-modify-write pipeline of one direction's packet and byte counters.
#[derive(LogicBlock)]
pub struct SlotCounterLane {
    pub clock: Signal<In, Clock>,
    pub event_valid: Signal<In, bool>,
    pub event_slot: Signal<In, Bits<SLOT_BITS>>,
    pub event_bytes: Signal<In, Bits<LENGTH_BITS>>,
    /// A host read-and-clear waits for this lane (held until `host_taken`).
    pub host_req: Signal<In, bool>,
    pub host_slot: Signal<In, Bits<SLOT_BITS>>,
    /// Clear the byte counter (else the packet counter).
    pub host_bytes: Signal<In, bool>,
    /// The host request entered the pipeline this cycle.
    pub host_taken: Signal<Out, bool>,
    /// One cycle after `host_taken`: the counter's value before the clear.
    pub resp_valid: Signal<Out, bool>,
    pub resp_data: Signal<Out, Bits<32>>,
    packets: PacketRam,
    octets: PacketRam,
    addr: Signal<Local, Bits<SLOT_BITS>>,
    // Stage 1 (the RAM read of stage 0 is in flight).
    s1_valid: DFF<bool>,
    s1_slot: DFF<Bits<SLOT_BITS>>,
    s1_inc: DFF<bool>,
    s1_bytes: DFF<Bits<LENGTH_BITS>>,
    s1_clear_packets: DFF<bool>,
    s1_clear_bytes: DFF<bool>,
    old_packets: Signal<Local, Bits<32>>,
    old_bytes: Signal<Local, Bits<32>>,
    new_packets: Signal<Local, Bits<32>>,
    new_bytes: Signal<Local, Bits<32>>,
    // The write of the previous cycle, which the RAM read of this cycle's stage 1 missed.
    fw_valid: DFF<bool>,
    fw_slot: DFF<Bits<SLOT_BITS>>,
    fw_packets: DFF<Bits<32>>,
    fw_bytes: DFF<Bits<32>>,
}

impl SlotCounterLane {
    pub fn new(counter_slots: usize) -> Self {
        SlotCounterLane {
            clock: Default::default(),
            event_valid: Default::default(),
            event_slot: Default::default(),
            event_bytes: Default::default(),
            host_req: Default::default(),
            host_slot: Default::default(),
            host_bytes: Default::default(),
            host_taken: Default::default(),
            resp_valid: Default::default(),
            resp_data: Default::default(),
            packets: PacketRam::without_collisions(counter_slots),
            octets: PacketRam::without_collisions(counter_slots),
            addr: Default::default(),
            s1_valid: Default::default(),
            s1_slot: Default::default(),
            s1_inc: Default::default(),
            s1_bytes: Default::default(),
            s1_clear_packets: Default::default(),
            s1_clear_bytes: Default::default(),
            old_packets: Default::default(),
            old_bytes: Default::default(),
            new_packets: Default::default(),
            new_bytes: Default::default(),
            fw_valid: Default::default(),
            fw_slot: Default::default(),
            fw_packets: Default::default(),
            fw_bytes: Default::default(),
        }
    }
}

impl Logic for SlotCounterLane {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            s1_valid,
            s1_slot,
            s1_inc,
            s1_bytes,
            s1_clear_packets,
            s1_clear_bytes,
            fw_valid,
            fw_slot,
            fw_packets,
            fw_bytes
        );
        self.packets.clock.next = self.clock.val();
        self.octets.clock.next = self.clock.val();

        // Stage 0: an event has priority; the host takes a cycle without one.
        self.host_taken.next = self.host_req.val() && !self.event_valid.val();
        self.addr.next = self.host_slot.val();
        if self.event_valid.val() {
            self.addr.next = self.event_slot.val();
        }
        self.packets.read_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, SLOT_BITS>(self.addr.val());
        self.octets.read_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, SLOT_BITS>(self.addr.val());
        self.s1_valid.d.next = self.event_valid.val() || self.host_req.val();
        self.s1_slot.d.next = self.addr.val();
        self.s1_inc.d.next = self.event_valid.val();
        self.s1_bytes.d.next = self.event_bytes.val();
        self.s1_clear_packets.d.next = self.host_taken.val() && !self.host_bytes.val();
        self.s1_clear_bytes.d.next = self.host_taken.val() && self.host_bytes.val();

        // Stage 1: current value (RAM, or the write the RAM read missed), then write back.
        self.old_packets.next = self.packets.read_data.val();
        self.old_bytes.next = self.octets.read_data.val();
        if self.fw_valid.q.val() && (self.fw_slot.q.val() == self.s1_slot.q.val()) {
            self.old_packets.next = self.fw_packets.q.val();
            self.old_bytes.next = self.fw_bytes.q.val();
        }
        self.new_packets.next = self.old_packets.val();
        self.new_bytes.next = self.old_bytes.val();
        if self.s1_inc.q.val() {
            self.new_packets.next = self.old_packets.val() + 1;
            self.new_bytes.next =
                self.old_bytes.val() + bit_cast::<32, LENGTH_BITS>(self.s1_bytes.q.val());
        }
        if self.s1_clear_packets.q.val() {
            self.new_packets.next = 0.into();
        }
        if self.s1_clear_bytes.q.val() {
            self.new_bytes.next = 0.into();
        }
        // Both RAMs are written on every op (a clear writes the other counter back unchanged),
        // so one forwarding compare serves both.
        self.packets.write_enable.next = self.s1_valid.q.val();
        self.octets.write_enable.next = self.s1_valid.q.val();
        self.packets.write_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, SLOT_BITS>(self.s1_slot.q.val());
        self.octets.write_address.next =
            bit_cast::<PACKET_RAM_ADDR_BITS, SLOT_BITS>(self.s1_slot.q.val());
        self.packets.write_data.next = self.new_packets.val();
        self.octets.write_data.next = self.new_bytes.val();
        self.fw_valid.d.next = self.s1_valid.q.val();
        self.fw_slot.d.next = self.s1_slot.q.val();
        self.fw_packets.d.next = self.new_packets.val();
        self.fw_bytes.d.next = self.new_bytes.val();
        self.resp_valid.next = self.s1_clear_packets.q.val() || self.s1_clear_bytes.q.val();
        self.resp_data.next = self.old_packets.val();
        if self.s1_clear_bytes.q.val() {
            self.resp_data.next = self.old_bytes.val();
        }
    }
}

#[derive(LogicBlock)]
pub struct TrafficCounters {
    pub clock: Signal<In, Clock>,
    pub tx_event: Signal<In, bool>,
    pub tx_slot: Signal<In, Bits<SLOT_BITS>>,
    pub tx_bytes: Signal<In, Bits<LENGTH_BITS>>,
    pub rx_event: Signal<In, bool>,
    pub rx_slot: Signal<In, Bits<SLOT_BITS>>,
    pub rx_bytes: Signal<In, Bits<LENGTH_BITS>>,
    pub global_events: Signal<In, Bits<GLOBAL_EVENT_BITS>>,
    pub read_strobe: Signal<In, bool>,
    pub read_addr: Signal<In, Bits<BUS_ADDR_BITS>>,
    pub read_valid: Signal<Out, bool>,
    /// The value in the `read_valid` cycle, 0 otherwise.
    pub read_data: Signal<Out, Bits<32>>,
    tx: SlotCounterLane,
    rx: SlotCounterLane,
    globals: Vec<DFF<Bits<32>>>,
    // Address decode of the strobe cycle.
    global_offset: Signal<Local, Bits<BUS_ADDR_BITS>>,
    slot_offset: Signal<Local, Bits<BUS_ADDR_BITS>>,
    slot_kind: Signal<Local, Bits<2>>,
    // The pending read (reads never overlap: the bus waits for read_valid).
    pend_valid: DFF<bool>,
    pend_global: DFF<bool>,
    pend_slots: DFF<bool>,
    pend_rx: DFF<bool>,
    pend_bytes: DFF<bool>,
    pend_index: DFF<Bits<SLOT_BITS>>,
    resp_valid: DFF<bool>,
    resp_data: DFF<Bits<32>>,
    global_base: Constant<Bits<BUS_ADDR_BITS>>,
    global_span: Constant<Bits<BUS_ADDR_BITS>>,
    slot_base: Constant<Bits<BUS_ADDR_BITS>>,
    slot_span: Constant<Bits<BUS_ADDR_BITS>>,
    word_shift: Constant<Bits<SHIFT_BITS>>,
    slot_shift: Constant<Bits<SHIFT_BITS>>,
    _globals: usize,
    _slots: usize,
}

impl TrafficCounters {
    /// Counters for `counter_slots` slots (1..=64), all zero.
    pub fn new(counter_slots: usize) -> Self {
        assert!(
            (1..=MAX_COUNTER_SLOTS).contains(&counter_slots),
            "counter_slots {counter_slots} out of range"
        );
        let n_globals = GLOBAL_COUNTERS.len();
        assert!(n_globals <= GLOBAL_EVENT_BITS);
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
        let c = constant::<BUS_ADDR_BITS>;
        let shift = constant::<SHIFT_BITS>;
        TrafficCounters {
            clock: Default::default(),
            tx_event: Default::default(),
            tx_slot: Default::default(),
            tx_bytes: Default::default(),
            rx_event: Default::default(),
            rx_slot: Default::default(),
            rx_bytes: Default::default(),
            global_events: Default::default(),
            read_strobe: Default::default(),
            read_addr: Default::default(),
            read_valid: Default::default(),
            read_data: Default::default(),
            tx: SlotCounterLane::new(counter_slots),
            rx: SlotCounterLane::new(counter_slots),
            globals: (0..n_globals).map(|_| Default::default()).collect(),
            global_offset: Default::default(),
            slot_offset: Default::default(),
            slot_kind: Default::default(),
            pend_valid: Default::default(),
            pend_global: Default::default(),
            pend_slots: Default::default(),
            pend_rx: Default::default(),
            pend_bytes: Default::default(),
            pend_index: Default::default(),
            resp_valid: Default::default(),
            resp_data: Default::default(),
            global_base: c(GLOBAL_COUNTER_BASE),
            global_span: c(global_counter_addr(n_globals as u32) - GLOBAL_COUNTER_BASE),
            slot_base: c(SLOT_COUNTER_BASE),
            slot_span: c(slot_counter_addr(counter_slots as u32, 0) - SLOT_COUNTER_BASE),
            word_shift: shift(BUS_WORD.trailing_zeros()),
            slot_shift: shift(SLOT_COUNTER_STRIDE.trailing_zeros()),
            _globals: n_globals,
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
            pend_valid,
            pend_global,
            pend_slots,
            pend_rx,
            pend_bytes,
            pend_index,
            resp_valid,
            resp_data
        );
        clock!(self, clock, tx, rx);
        self.tx.event_valid.next = self.tx_event.val();
        self.tx.event_slot.next = self.tx_slot.val();
        self.tx.event_bytes.next = self.tx_bytes.val();
        self.rx.event_valid.next = self.rx_event.val();
        self.rx.event_slot.next = self.rx_slot.val();
        self.rx.event_bytes.next = self.rx_bytes.val();

        // Decode the strobe into the pending-read registers (offsets wrap, so one unsigned
        // compare per window also rejects addresses below its base; low address bits ignored).
        self.global_offset.next = self.read_addr.val() - self.global_base.val();
        self.slot_offset.next = self.read_addr.val() - self.slot_base.val();
        self.slot_kind.next =
            bit_cast::<2, BUS_ADDR_BITS>(self.slot_offset.val() >> self.word_shift.val());
        // Served: a global or unmapped read in its first pending cycle, a slot read when its
        // lane takes it.
        if self.pend_valid.q.val()
            && (!self.pend_slots.q.val() || self.tx.host_taken.val() || self.rx.host_taken.val())
        {
            self.pend_valid.d.next = false;
        }
        if self.read_strobe.val() {
            self.pend_valid.d.next = true;
            self.pend_global.d.next = self.global_offset.val() < self.global_span.val();
            self.pend_slots.d.next = self.slot_offset.val() < self.slot_span.val();
            self.pend_rx.d.next = self.slot_kind.val().get_bit(1);
            self.pend_bytes.d.next = self.slot_kind.val().get_bit(0);
            self.pend_index.d.next = bit_cast::<SLOT_BITS, BUS_ADDR_BITS>(
                self.slot_offset.val() >> self.slot_shift.val(),
            );
            if self.global_offset.val() < self.global_span.val() {
                self.pend_index.d.next = bit_cast::<SLOT_BITS, BUS_ADDR_BITS>(
                    self.global_offset.val() >> self.word_shift.val(),
                );
            }
        }
        self.tx.host_req.next =
            self.pend_valid.q.val() && self.pend_slots.q.val() && !self.pend_rx.q.val();
        self.rx.host_req.next =
            self.pend_valid.q.val() && self.pend_slots.q.val() && self.pend_rx.q.val();
        self.tx.host_slot.next = self.pend_index.q.val();
        self.rx.host_slot.next = self.pend_index.q.val();
        self.tx.host_bytes.next = self.pend_bytes.q.val();
        self.rx.host_bytes.next = self.pend_bytes.q.val();

        // Response: global and unmapped reads answer from the pending register (data 0 unless
        // a global matches below); slot reads when their lane returns the old value.
        self.resp_valid.d.next = self.pend_valid.q.val() && !self.pend_slots.q.val();
        self.resp_data.d.next = 0.into();
        for i in 0..self._globals {
            self.globals[i].clock.next = self.clock.val();
            self.globals[i].d.next = self.globals[i].q.val() + self.global_events.val().get_bit(i);
            if self.pend_valid.q.val()
                && self.pend_global.q.val()
                && (self.pend_index.q.val() == i.to_bits::<SLOT_BITS>())
            {
                // Read and clear; this cycle's event is kept.
                self.resp_data.d.next = self.globals[i].q.val();
                self.globals[i].d.next = 0.into();
                if self.global_events.val().get_bit(i) {
                    self.globals[i].d.next = 1.into();
                }
            }
        }
        if self.tx.resp_valid.val() {
            self.resp_valid.d.next = true;
            self.resp_data.d.next = self.tx.resp_data.val();
        }
        if self.rx.resp_valid.val() {
            self.resp_valid.d.next = true;
            self.resp_data.d.next = self.rx.resp_data.val();
        }
        self.read_valid.next = self.resp_valid.q.val();
        self.read_data.next = self.resp_data.q.val();
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
/// returns the count and clears it. (In hardware an event in the clearing cycle stays in the
/// counter, which is the same as applying it after the read.)
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
mod tests {
    use super::*;
    use crate::spec::regmap::global_counter_index;
    use crate::testbench::{yosys_check, Bench};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use std::collections::BTreeMap;

    fn bench(slots: usize) -> Bench<TrafficCounters> {
        Bench::new(TrafficCounters::new(slots), |c| &mut c.clock)
    }

    /// One cycle of stimulus.
    #[derive(Debug, Clone, Copy, Default)]
    struct Cycle {
        tx: Option<(u32, u32)>,
        rx: Option<(u32, u32)>,
        globals: u32,
        read: Option<u32>,
    }

    fn drive(b: &mut Bench<TrafficCounters>, c: &Cycle) {
        let u = &mut b.uut;
        let (slot, bytes) = c.tx.unwrap_or_default();
        u.tx_event.next = c.tx.is_some();
        u.tx_slot.next = (slot as u64).into();
        u.tx_bytes.next = (bytes as u64).into();
        let (slot, bytes) = c.rx.unwrap_or_default();
        u.rx_event.next = c.rx.is_some();
        u.rx_slot.next = (slot as u64).into();
        u.rx_bytes.next = (bytes as u64).into();
        u.global_events.next = (c.globals as u64).into();
        u.read_strobe.next = c.read.is_some();
        u.read_addr.next = (c.read.unwrap_or_default() as u64).into();
    }

    fn apply(model: &mut TrafficCountersModel, c: &Cycle) {
        if let Some((slot, bytes)) = c.tx {
            model.tx_event(slot, bytes);
        }
        if let Some((slot, bytes)) = c.rx {
            model.rx_event(slot, bytes);
        }
        model.global_events(c.globals);
    }

    fn read_out(b: &Bench<TrafficCounters>) -> Option<u32> {
        b.uut
            .read_valid
            .val()
            .then(|| b.uut.read_data.val().to_u64() as u32)
    }

    /// Strobes a read and steps until `read_valid`: (value, cycles from strobe to valid).
    fn read(b: &mut Bench<TrafficCounters>, addr: u32, during: &[Cycle]) -> (u32, usize) {
        for n in 0..50 {
            let mut c = during.get(n).copied().unwrap_or_default();
            c.read = (n == 0).then_some(addr);
            drive(b, &c);
            b.step();
            if let Some(v) = read_out(b) {
                return (v, n + 1);
            }
        }
        panic!("no answer to a read of {addr:#x}");
    }

    /// Runs random traffic with reads at random times. For each counter, the running sum of
    /// the values read must lie between the model's total before the cycle after the strobe
    /// (the earliest clearing cycle) and its total before the answer cycle; at the end every
    /// counter is read once more and the sum must equal the model's total exactly.
    fn check_totals(slots: usize, cycles: &[Cycle]) -> Result<(), TestCaseError> {
        let mut b = bench(slots);
        // history[t]: totals of the events of cycles < t (the model is never cleared).
        let mut totals = TrafficCountersModel::new(slots);
        let mut history = vec![totals.clone()];
        let mut sums: BTreeMap<CounterId, u32> = BTreeMap::new();
        let mut outstanding: Option<(u32, usize)> = None;
        let drain = [Cycle::default(); 12];
        for (t, c) in cycles.iter().chain(drain.iter()).enumerate() {
            let mut c = *c;
            if outstanding.is_some() {
                c.read = None; // the bus waits for read_valid
            } else if let Some(addr) = c.read {
                outstanding = Some((addr, t));
            }
            drive(&mut b, &c);
            apply(&mut totals, &c);
            history.push(totals.clone());
            b.step();
            // Outputs now show cycle t + 1.
            let answer = read_out(&b);
            match (answer, outstanding) {
                (None, _) => {}
                (Some(_), None) => prop_assert!(false, "read_valid without a read (cycle {})", t),
                (Some(v), Some((addr, strobe))) => {
                    outstanding = None;
                    match totals.counter_at(addr) {
                        None => prop_assert_eq!(v, 0, "unmapped {:#x}", addr),
                        Some(id) => {
                            let sum = sums.entry(id).or_default();
                            *sum = sum.wrapping_add(v);
                            let lo = history[strobe + 1].get(id);
                            let hi = history[t].get(id);
                            prop_assert!(
                                lo <= *sum && *sum <= hi,
                                "{:?} read at {}..{}: sum {} not in {}..={}",
                                id,
                                strobe,
                                t + 1,
                                *sum,
                                lo,
                                hi
                            );
                        }
                    }
                }
            }
        }
        prop_assert!(outstanding.is_none(), "a read was never answered");
        for id in totals.counter_ids() {
            let (v, _) = read(&mut b, TrafficCountersModel::addr_of(id), &[]);
            let sum = sums.entry(id).or_default().wrapping_add(v);
            prop_assert_eq!(sum, totals.get(id), "{:?}", id);
        }
        Ok(())
    }

    fn event(slots: u32) -> impl Strategy<Value = Option<(u32, u32)>> {
        // Slot `slots` is beyond the RAM: counted nowhere, must not disturb the others.
        proptest::option::weighted(0.55, (0..slots + 1, 0u32..(1 << LENGTH_BITS)))
    }

    fn address(slots: u32) -> impl Strategy<Value = u32> {
        let globals = GLOBAL_COUNTERS.len() as u32;
        prop_oneof![
            3 => (0..globals, 0u32..4).prop_map(|(i, low)| global_counter_addr(i) + low),
            6 => (0..slots, 0u32..4).prop_map(|(s, k)| slot_counter_addr(s, k)),
            1 => 0u32..(1 << ADDR_BITS),
        ]
    }

    fn cycle(slots: u32) -> impl Strategy<Value = Cycle> {
        (
            event(slots),
            event(slots),
            prop_oneof![0u32..(1 << GLOBAL_EVENT_BITS), Just(0)],
            proptest::option::weighted(0.3, address(slots)),
        )
            .prop_map(|(tx, rx, globals, read)| Cycle {
                tx,
                rx,
                globals,
                read,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn nothing_is_lost_or_counted_twice(cycles in proptest::collection::vec(cycle(4), 40..80)) {
            check_totals(4, &cycles)?;
        }
    }

    #[test]
    fn read_latency_and_clearing_cycle() {
        let mut b = bench(8);
        let misses = global_counter_index("misses");
        let m_bit = 1 << misses;
        let m_addr = global_counter_addr(misses as u32);
        // Events in the strobe cycle count in the value; an event in the clearing cycle (the
        // next one) stays in the counter.
        let ev = Cycle {
            globals: m_bit,
            ..Default::default()
        };
        drive(&mut b, &ev);
        b.step();
        let (v, lat) = read(&mut b, m_addr, &[ev, ev]);
        assert_eq!((v, lat), (2, GLOBAL_READ_LATENCY));
        assert_eq!(read(&mut b, m_addr, &[]), (1, GLOBAL_READ_LATENCY));
        // Unmapped addresses read 0.
        assert_eq!(read(&mut b, 0x0FC, &[]), (0, GLOBAL_READ_LATENCY));
        assert_eq!(
            read(&mut b, slot_counter_addr(8, 0), &[]),
            (0, GLOBAL_READ_LATENCY)
        );

        // A slot counter with an idle lane.
        let tx = |slot, bytes| Cycle {
            tx: Some((slot, bytes)),
            ..Default::default()
        };
        for c in [tx(3, 100), tx(3, 20)] {
            drive(&mut b, &c);
            b.step();
        }
        let tx_bytes = slot_counter_addr(3, 1);
        assert_eq!(read(&mut b, tx_bytes, &[]), (120, SLOT_READ_LATENCY));
        // Events of the other direction do not delay it; events of its own direction do, and
        // the ones before the clearing cycle are in the value.
        let rx_busy = [Cycle {
            rx: Some((3, 1)),
            ..Default::default()
        }; 8];
        assert_eq!(
            read(&mut b, slot_counter_addr(3, 0), &rx_busy),
            (2, SLOT_READ_LATENCY)
        );
        let tx_busy = [tx(3, 7), tx(3, 7), tx(3, 7), tx(3, 7)];
        // Strobe in cycle 0; the lane is busy in cycles 0..=3 and clears in cycle 4.
        assert_eq!(
            read(&mut b, tx_bytes, &tx_busy),
            (28, SLOT_READ_LATENCY + 3)
        );
        assert_eq!(read(&mut b, tx_bytes, &[]), (0, SLOT_READ_LATENCY));
        // The three RX events driven while the first slot read was in flight.
        assert_eq!(
            read(&mut b, slot_counter_addr(3, 2), &[]),
            (3, SLOT_READ_LATENCY)
        );
        assert_eq!(
            read(&mut b, slot_counter_addr(3, 3), &[]),
            (3, SLOT_READ_LATENCY)
        );
    }

    #[test]
    fn counters_wrap_at_32_bits() {
        let mut b = bench(2);
        // Global: preset the register to the top value.
        b.uut.globals[0].q.next = u32::MAX.to_bits();
        let ev = Cycle {
            globals: 1,
            ..Default::default()
        };
        for _ in 0..2 {
            drive(&mut b, &ev);
            b.step();
        }
        assert_eq!(read(&mut b, global_counter_addr(0), &[]).0, 1);
        // Slot: an event reads the RAM; replace the word it read by the top values.
        drive(
            &mut b,
            &Cycle {
                rx: Some((1, 0x20)),
                ..Default::default()
            },
        );
        b.step();
        b.uut.rx.packets.read_data.next = u32::MAX.to_bits();
        b.uut.rx.octets.read_data.next = (u32::MAX - 0xF).to_bits();
        drive(&mut b, &Cycle::default());
        b.step();
        assert_eq!(read(&mut b, slot_counter_addr(1, 2), &[]).0, 0);
        assert_eq!(read(&mut b, slot_counter_addr(1, 3), &[]).0, 0x10);
    }

    #[test]
    fn verilog_matches_the_simulation() {
        let slots = 4;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let cycles = proptest::collection::vec(cycle(slots as u32), 2000)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut b = bench(slots);
        b.record();
        let mut answers = 0;
        let mut waiting = false;
        for c in &cycles {
            let mut c = *c;
            if waiting {
                c.read = None;
            }
            waiting |= c.read.is_some();
            drive(&mut b, &c);
            b.step();
            waiting &= !b.uut.read_valid.val();
            answers += (b.uut.read_valid.val() && b.uut.read_data.val().any()) as usize;
        }
        assert!(
            answers > 100,
            "only {answers} non-zero answers: stimulus too weak"
        );
        b.replay("traffic_counters");
    }

    #[test]
    fn verilog_is_clean() {
        let v = yosys_check("traffic_counters", TrafficCounters::new(32));
        assert!(v.contains("mem[0:31]"));
        crate::testbench::lint_check("traffic_counters", TrafficCounters::new(32));
    }
}
