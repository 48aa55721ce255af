//! TX MMU: turns doorbell descriptors into packet commands for the packetizer.
//!
//! For each descriptor popped from the doorbell FIFO (only while `enable` is high) the block
//! walks the message exactly like [`split_message`](crate::spec::packet::split_message): at
//! most `max_payload` bytes per packet, never across a 4 KiB page. Every packet's physical page
//! is looked up in the TX mapping cache; a hit becomes a command (`cmd_nva` = NVA page of the
//! mapping with the page offset of the physical address), a miss posts one `miss.valid` pulse
//! and waits for the host's resolve: retry (look up again, a new miss pulse if it still misses)
//! or drop (one `cancel_event`; the rest of the descriptor is discarded). A zero-length
//! descriptor is popped and discarded with a `bad_doorbell_event` pulse.
//!
//! # Timing
//!
//! One lookup is in flight at a time (tag always 0), so lookups are at least 2 cycles apart
//! and the cache never preempts one (a lookup in the cycle right after another would). No
//! lookup is presented while the cache raises `lookup.hold`. States:
//!
//! - `Idle`: pops a descriptor and presents the lookup of its first page in the same cycle;
//!   pops nothing (`doorbell.ready` low) while `lookup.hold` is high.
//! - `Pending`: the cycle between lookup and result.
//! - `Answer`: the result (`LOOKUP_LATENCY` = 2 cycles after the lookup) is on `result_*`.
//!   A hit, when the command register is free or being emptied in this cycle, is captured into
//!   the command register, the walk advances and, if the message has more packets, the next
//!   packet's lookup is presented in the same cycle (with `lookup.hold` high: `Hold` instead).
//!   A hit that finds the command register still occupied is dropped (`Hold`) and looked up
//!   again once the register empties, so the walk never needs more than one command of
//!   buffering.
//! - `Hold`: waits for the command register to empty and `lookup.hold` low, then looks the
//!   packet up (again).
//! - `MissWait`: a miss was posted; the first `miss.resolve_valid` after the miss pulse decides.
//!   Resolve pulses in any other state, or in the cycle of the miss pulse itself, are ignored.
//!   A retry looks the packet up in the same cycle (with `lookup.hold` high: `Hold`, so the
//!   pulse is not lost). On drop, a command of the same descriptor already in the command
//!   register (a hit before the miss) is still delivered; nothing after it is.
//!
//! With `cmd.ready` held high and `lookup.hold` low, consecutive packets of one descriptor are emitted every 2
//! cycles and single-packet descriptors every 3 cycles; when the command sink stalls, the next
//! command is valid at most 3 cycles after the handshake that empties the register, so a sink
//! taking one command every k >= 2 cycles is never kept waiting within a descriptor (measured
//! in the `cycles_per_command` test).
//!
//! The packet size and the next packet's start are computed one cycle after the walk position
//! changes (`pkt_len`, `pkt_last`, `next_at` registers): every change is followed by a
//! `Pending` cycle, so the registered values are always current in `Answer`, and the next
//! lookup's key comes from a register there. The lookup key is chosen by the state alone (the
//! cache ignores it without `lookup.valid`), which keeps the walk's conditions off the path to
//! the cache's RAM address.
//!
//! `busy` is high while a descriptor is in progress (anything but `Idle`) or a command waits
//! in the command register. Of the cache's result signals it takes only those it uses (valid,
//! hit, page, counter slot, epoch).

use crate::interfaces::{DoorbellResponder, LookupController, TxCommandController, TxMissReporter};
use crate::spec::params::{CoreParams, LOOKUP_LATENCY, PAGE_SIZE};
use rust_hdl::prelude::*;

// The walk waits exactly one `Pending` cycle between a lookup and its result.
const _: () = assert!(LOOKUP_LATENCY == 2, "TxMmu assumes a 2-cycle cache lookup");

/// State of the descriptor walk (see the module documentation).
#[derive(Copy, Clone, PartialEq, Debug, LogicState)]
pub enum TxMmuState {
    Idle,
    Pending,
    Answer,
    Hold,
    MissWait,
}

#[derive(LogicBlock)]
pub struct TxMmu {
    pub clock: Signal<In, Clock>,
    /// Start new descriptors only while high (a descriptor in progress always finishes).
    pub enable: Signal<In, Bit>,

    // Doorbell FIFO (a transfer is `db_valid & db_ready`).
    /// Send descriptors (a transfer is `valid & ready`).
    pub doorbell: DoorbellResponder,

    /// TX cache lookups by physical page (the tag is unused: one lookup at a time).
    pub lookup: LookupController,

    // Miss record out, host decision in.
    /// A miss posted once per lookup that misses; the host's answer.
    pub miss: TxMissReporter,

    // Packet command to the packetizer (valid/ready).
    /// One translated packet at a time to the packetizer.
    pub cmd: TxCommandController,

    // Events.
    pub cancel_event: Signal<Out, Bit>,
    pub bad_doorbell_event: Signal<Out, Bit>,
    pub busy: Signal<Out, Bit>,

    // Walk state: address and bytes left of the next packet to emit.
    state: DFF<TxMmuState>,
    at: DFF<Bits<32>>,
    left: DFF<Bits<16>>,
    at_first: DFF<Bit>,
    user_flag: DFF<Bit>,
    // Size of the packet at `at`, and whether it ends the message (one cycle behind `at`).
    pkt_len: DFF<Bits<13>>,
    pkt_last: DFF<Bit>,
    // Bytes from `at` to its page end (1..=4096), set with `at`.
    room: DFF<Bits<13>>,
    // Where the packet after it starts and its room (one cycle behind `at`; meaningless after
    // the last).
    next_at: DFF<Bits<32>>,
    next_room: DFF<Bits<13>>,
    // The command register.
    c_valid: DFF<Bit>,
    c_addr: DFF<Bits<32>>,
    c_length: DFF<Bits<13>>,
    c_page: DFF<Bits<20>>,
    c_epoch: DFF<Bits<8>>,
    c_slot: DFF<Bits<6>>,
    c_first: DFF<Bit>,
    c_last: DFF<Bit>,
    c_user: DFF<Bit>,
    // Registered event pulses.
    miss_q: DFF<Bit>,
    cancel_q: DFF<Bit>,
    bad_q: DFF<Bit>,

    payload_fits: Signal<Local, Bit>,
    limit: Signal<Local, Bits<13>>,
    fits: Signal<Local, Bit>,
    slot_free: Signal<Local, Bit>,

    max_payload: Constant<Bits<13>>,
    max_payload16: Constant<Bits<16>>,
    page_size: Constant<Bits<13>>,
}

impl TxMmu {
    pub fn new(params: &CoreParams) -> Self {
        assert!(
            params.max_payload >= 1 && params.max_payload <= PAGE_SIZE,
            "max_payload {} out of range",
            params.max_payload
        );
        TxMmu {
            clock: Default::default(),
            enable: Default::default(),
            doorbell: Default::default(),
            lookup: Default::default(),
            miss: Default::default(),
            cmd: Default::default(),
            cancel_event: Default::default(),
            bad_doorbell_event: Default::default(),
            busy: Default::default(),
            state: Default::default(),
            at: Default::default(),
            left: Default::default(),
            at_first: Default::default(),
            user_flag: Default::default(),
            pkt_len: Default::default(),
            pkt_last: Default::default(),
            room: Default::default(),
            next_at: Default::default(),
            next_room: Default::default(),
            c_valid: Default::default(),
            c_addr: Default::default(),
            c_length: Default::default(),
            c_page: Default::default(),
            c_epoch: Default::default(),
            c_slot: Default::default(),
            c_first: Default::default(),
            c_last: Default::default(),
            c_user: Default::default(),
            miss_q: Default::default(),
            cancel_q: Default::default(),
            bad_q: Default::default(),
            payload_fits: Default::default(),
            limit: Default::default(),
            fits: Default::default(),
            slot_free: Default::default(),
            max_payload: Constant::new((params.max_payload as u64).to_bits()),
            max_payload16: Constant::new((params.max_payload as u64).to_bits()),
            page_size: Constant::new((PAGE_SIZE as u64).to_bits()),
        }
    }
}

impl Logic for TxMmu {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, state, at, left, at_first, user_flag, pkt_len, pkt_last, room, next_at,
            next_room, c_valid, c_addr, c_length, c_page, c_epoch, c_slot, c_first, c_last, c_user,
            miss_q, cancel_q, bad_q
        );

        // Size of the packet starting at `at`: min(left, max_payload, room), with `room` (bytes
        // to the page end) kept in a register beside `at`, so that this is one comparison deep.
        // Strictly less: a packet that ends at the page end leaves the next one a whole page.
        self.payload_fits.next = self.max_payload.val() < self.room.q.val();
        if self.payload_fits.val() {
            self.limit.next = self.max_payload.val();
        } else {
            self.limit.next = self.room.q.val();
        }
        self.fits.next = (self.left.q.val() <= self.max_payload16.val())
            & (self.left.q.val() <= bit_cast::<16, 13>(self.room.q.val()));
        self.pkt_last.d.next = self.fits.val();
        if self.fits.val() {
            self.pkt_len.d.next = bit_cast::<13, 16>(self.left.q.val());
        } else {
            self.pkt_len.d.next = self.limit.val();
        }
        // Where the next packet starts, and its room, unless this one is the last: registers,
        // so that the next packet's lookup key in `Answer` comes straight from a flip-flop.
        self.next_at.d.next = self.at.q.val() + bit_cast::<32, 13>(self.limit.val());
        self.next_room.d.next = self.page_size.val();
        if self.payload_fits.val() {
            self.next_room.d.next = self.room.q.val() - self.max_payload.val();
        }

        // Command register: emptied by a handshake, refilled below on a hit.
        self.slot_free.next = !self.c_valid.q.val() | self.cmd.ready.val();
        if self.c_valid.q.val() & self.cmd.ready.val() {
            self.c_valid.d.next = false;
        }

        self.doorbell.ready.next = false;
        self.lookup.valid.next = false;
        self.lookup.key.next = self.at.q.val().get_bits::<20>(12);
        self.lookup.tag.next = 0.into();
        self.miss_q.d.next = false;
        self.cancel_q.d.next = false;
        self.bad_q.d.next = false;
        self.busy.next = true;

        match self.state.q.val() {
            TxMmuState::Idle => {
                // The key follows the state alone, not the conditions of the lookup: it is on
                // the path to the cache's RAM address.
                self.lookup.key.next = self.doorbell.addr.val().get_bits::<20>(12);
                self.busy.next = self.c_valid.q.val();
                if self.enable.val() & self.doorbell.valid.val() & !self.lookup.hold.val() {
                    self.doorbell.ready.next = true;
                    if self.doorbell.length.val().any() {
                        self.at.d.next = self.doorbell.addr.val();
                        self.room.d.next = self.page_size.val()
                            - bit_cast::<13, 12>(self.doorbell.addr.val().get_bits::<12>(0));
                        self.left.d.next = self.doorbell.length.val();
                        self.at_first.d.next = true;
                        self.user_flag.d.next = self.doorbell.user.val();
                        self.lookup.valid.next = true;
                        self.state.d.next = TxMmuState::Pending;
                    } else {
                        self.bad_q.d.next = true;
                    }
                }
            }
            TxMmuState::Pending => {
                self.state.d.next = TxMmuState::Answer;
            }
            TxMmuState::Answer => {
                self.lookup.key.next = self.next_at.q.val().get_bits::<20>(12);
                if self.lookup.result_valid.val()
                    & self.lookup.result_hit.val()
                    & self.slot_free.val()
                {
                    self.c_valid.d.next = true;
                    self.c_addr.d.next = self.at.q.val();
                    self.c_length.d.next = self.pkt_len.q.val();
                    self.c_page.d.next = self.lookup.result_page.val();
                    self.c_epoch.d.next = self.lookup.result_epoch.val();
                    self.c_slot.d.next = self.lookup.result_counter_slot.val();
                    self.c_first.d.next = self.at_first.q.val();
                    self.c_last.d.next = self.pkt_last.q.val();
                    self.c_user.d.next = self.user_flag.q.val();
                    self.at.d.next = self.next_at.q.val();
                    self.room.d.next = self.next_room.q.val();
                    self.left.d.next = self.left.q.val() - bit_cast::<16, 13>(self.pkt_len.q.val());
                    self.at_first.d.next = false;
                    if self.pkt_last.q.val() {
                        self.state.d.next = TxMmuState::Idle;
                    } else if self.lookup.hold.val() {
                        self.state.d.next = TxMmuState::Hold;
                    } else {
                        self.lookup.valid.next = true;
                        self.state.d.next = TxMmuState::Pending;
                    }
                } else if self.lookup.result_valid.val() & !self.lookup.result_hit.val() {
                    self.miss_q.d.next = true;
                    self.state.d.next = TxMmuState::MissWait;
                } else {
                    // Hit with the command register full (or no result): look up again later.
                    self.state.d.next = TxMmuState::Hold;
                }
            }
            TxMmuState::Hold => {
                if self.slot_free.val() & !self.lookup.hold.val() {
                    self.lookup.valid.next = true;
                    self.state.d.next = TxMmuState::Pending;
                }
            }
            TxMmuState::MissWait => {
                // The miss is pending from the cycle after its pulse.
                if self.miss.resolve_valid.val() & !self.miss_q.q.val() {
                    if self.miss.resolve_drop.val() {
                        self.cancel_q.d.next = true;
                        self.state.d.next = TxMmuState::Idle;
                    } else if self.lookup.hold.val() {
                        // The resolve is a pulse: keep it as a lookup to do.
                        self.state.d.next = TxMmuState::Hold;
                    } else {
                        self.lookup.valid.next = true;
                        self.state.d.next = TxMmuState::Pending;
                    }
                }
            }
            _ => {
                self.state.d.next = TxMmuState::Idle;
            }
        }

        self.miss.valid.next = self.miss_q.q.val();
        self.miss.page.next = self.at.q.val().get_bits::<20>(12);
        self.cancel_event.next = self.cancel_q.q.val();
        self.bad_doorbell_event.next = self.bad_q.q.val();

        self.cmd.valid.next = self.c_valid.q.val();
        self.cmd.addr.next = self.c_addr.q.val();
        self.cmd.length.next = self.c_length.q.val();
        self.cmd.nva.next = (bit_cast::<32, 20>(self.c_page.q.val()) << 12)
            | bit_cast::<32, 12>(self.c_addr.q.val().get_bits::<12>(0));
        self.cmd.epoch.next = self.c_epoch.q.val();
        self.cmd.counter_slot.next = self.c_slot.q.val();
        self.cmd.first.next = self.c_first.q.val();
        self.cmd.last.next = self.c_last.q.val();
        self.cmd.user.next = self.c_user.q.val();
    }
}

#[cfg(test)]
mod tests;
