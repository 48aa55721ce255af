//! Miss queue: the register file's miss records (direction and tag), oldest first, in
//! flip-flops.
//!
//! At most `miss_buffer_packets + 1` misses are outstanding (one per miss buffer, one for the
//! TX MMU) and the driver pops a record before it resolves its miss, so the queue has exactly
//! that many entries ([`CoreParams::miss_fifo_depth`]): 3 × 5 flip-flops by default, where a
//! 16-record FIFO took one of the HX8K's 32 block RAMs. A record that finds the queue full (a
//! host that resolves misses without popping their records) is not stored: `lost` pulses and
//! the register file raises `ERROR.miss_overflow`, so it is never lost silently.
//!
//! A ring of `depth` registers with read and write pointers that wrap at `depth`; a record
//! pushed in cycle `t` is at the head from `t + 1`. A push into a full queue is lost even when
//! the head is popped in the same cycle (`pushed` and `lost` depend on `push` and registers
//! only, not on `pop`): with `miss_buffer_packets + 1` entries the queue is full only for a
//! host that does not pop, and no path from `pop` to an output is simpler to reason about.

use crate::spec::params::{CoreParams, MISS_FIFO_DEPTH_MAX};
use rust_hdl::prelude::*;

/// Bits of a record: the tag in 3:0, the direction (1 = TX) in bit 4.
pub const MISS_RECORD_BITS: usize = 5;
/// Width of the pointers (entries `0..depth`).
const PTR_BITS: usize = 4;
/// Width of the level (`0..=depth`).
pub const LEVEL_BITS: usize = 5;
const _: () = assert!(MISS_FIFO_DEPTH_MAX <= 1 << PTR_BITS);

#[derive(LogicBlock)]
pub struct MissQueue {
    pub clock: Signal<In, Clock>,
    pub push: Signal<In, Bit>,
    pub record: Signal<In, Bits<MISS_RECORD_BITS>>,
    /// Pulse: the record was stored.
    pub pushed: Signal<Out, Bit>,
    /// Pulse: the record was not stored, the queue was full.
    pub lost: Signal<Out, Bit>,
    /// Removes the head (ignored while empty).
    pub pop: Signal<In, Bit>,
    pub head: Signal<Out, Bits<MISS_RECORD_BITS>>,
    pub head_valid: Signal<Out, Bit>,
    /// Records stored.
    pub level: Signal<Out, Bits<LEVEL_BITS>>,
    slots: Vec<DFF<Bits<MISS_RECORD_BITS>>>,
    rptr: DFF<Bits<PTR_BITS>>,
    wptr: DFF<Bits<PTR_BITS>>,
    used: DFF<Bits<LEVEL_BITS>>,
    take: Signal<Local, Bit>,
    head_sel: Signal<Local, Bits<MISS_RECORD_BITS>>,
    store: Signal<Local, Bit>,
    last: Constant<Bits<PTR_BITS>>,
    depth: Constant<Bits<LEVEL_BITS>>,
    _depth: usize,
}

impl MissQueue {
    pub fn new(params: &CoreParams) -> Self {
        let depth = params.miss_fifo_depth() as usize;
        assert!((1..=MISS_FIFO_DEPTH_MAX as usize).contains(&depth));
        MissQueue {
            clock: Default::default(),
            push: Default::default(),
            record: Default::default(),
            pushed: Default::default(),
            lost: Default::default(),
            pop: Default::default(),
            head: Default::default(),
            head_valid: Default::default(),
            level: Default::default(),
            slots: (0..depth).map(|_| Default::default()).collect(),
            rptr: Default::default(),
            wptr: Default::default(),
            used: Default::default(),
            take: Default::default(),
            head_sel: Default::default(),
            store: Default::default(),
            last: Constant::new((depth as u64 - 1).into()),
            depth: Constant::new((depth as u64).into()),
            _depth: depth,
        }
    }
}

impl Logic for MissQueue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, rptr, wptr, used);
        self.take.next = self.pop.val() & self.used.q.val().any();
        self.store.next = self.push.val() & (self.used.q.val() != self.depth.val());
        self.pushed.next = self.store.val();
        self.lost.next = self.push.val() & !self.store.val();
        self.head_valid.next = self.used.q.val().any();
        self.level.next = self.used.q.val();
        // The head is chosen in a local and assigned once: an output assigned a default and
        // then overridden glitches in event-driven simulators, and the register file, which
        // drives `push` and `pop` from the same process that reads `head`, answered every
        // glitch with one of its own (Icarus looped forever at one time step).
        self.head_sel.next = 0.into();
        for i in 0..self._depth {
            self.slots[i].clock.next = self.clock.val();
            self.slots[i].d.next = self.slots[i].q.val();
            if self.rptr.q.val() == i.to_bits() {
                self.head_sel.next = self.slots[i].q.val();
            }
            if self.store.val() & (self.wptr.q.val() == i.to_bits()) {
                self.slots[i].d.next = self.record.val();
            }
        }
        self.head.next = self.head_sel.val();
        if self.take.val() {
            self.rptr.d.next = self.rptr.q.val() + 1;
            if self.rptr.q.val() == self.last.val() {
                self.rptr.d.next = 0.into();
            }
        }
        if self.store.val() {
            self.wptr.d.next = self.wptr.q.val() + 1;
            if self.wptr.q.val() == self.last.val() {
                self.wptr.d.next = 0.into();
            }
        }
        if self.store.val() & !self.take.val() {
            self.used.d.next = self.used.q.val() + 1;
        }
        if !self.store.val() & self.take.val() {
            self.used.d.next = self.used.q.val() - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench, XorShift};

    fn params(miss_buffer_packets: u32) -> CoreParams {
        CoreParams {
            miss_buffer_packets,
            ..CoreParams::default()
        }
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check("miss_queue", MissQueue::new(&params(2)));
        lint_check("miss_queue", MissQueue::new(&params(2)));
    }

    #[test]
    fn default_depth_takes_no_block_ram() {
        use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
        let mut q = MissQueue::new(&CoreParams::default());
        q.connect_all();
        let r = yosys_synth(&generate_verilog(&q), "top", Family::Ice40).unwrap();
        assert_eq!(r.block_rams, 0, "{r:?}");
        assert!(r.flip_flops <= 32, "{r:?}");
    }

    /// Random pushes and pops against a queue model at the smallest, default and largest
    /// depths: order, level, head, and every record either stored or reported lost. The
    /// default-depth run is replayed on the generated Verilog.
    #[test]
    fn matches_a_queue_model_and_reports_every_lost_record() {
        for buffers in [1, 2, 8] {
            let p = params(buffers);
            let depth = p.miss_fifo_depth() as usize;
            let mut b = Bench::new(MissQueue::new(&p), |q| &mut q.clock);
            b.record();
            let mut rng = XorShift(0xB0B + buffers as u64);
            let mut model: VecDeque<u32> = VecDeque::new();
            let (mut lost, mut stored, mut full_pops) = (0, 0, 0);
            for cycle in 0..3000u64 {
                // Phases that fill the queue and phases that drain it.
                let push = rng.chance(if cycle % 300 < 150 { 70 } else { 25 });
                let pop = rng.chance(if cycle % 300 < 150 { 25 } else { 70 });
                let rec = (rng.next_u64() % 32) as u32;
                b.uut.push.next = push;
                b.uut.record.next = (rec as u64).into();
                b.uut.pop.next = pop;
                b.settle();
                let u = &b.uut;
                assert_eq!(u.level.val().index(), model.len(), "cycle {cycle}");
                assert_eq!(u.head_valid.val(), !model.is_empty(), "cycle {cycle}");
                if let Some(&h) = model.front() {
                    assert_eq!(u.head.val().index() as u32, h, "cycle {cycle}");
                }
                let full = model.len() == depth;
                let take = pop && !model.is_empty();
                let accept = push && !full;
                assert_eq!(u.pushed.val(), accept, "cycle {cycle}");
                assert_eq!(u.lost.val(), push && !accept, "cycle {cycle}");
                full_pops += (full && take && push) as u32;
                if take {
                    model.pop_front();
                }
                if accept {
                    model.push_back(rec);
                    stored += 1;
                }
                lost += (push && !accept) as u32;
                b.step();
            }
            assert!(
                lost > 20 && stored > 500 && full_pops > 5,
                "stimulus too weak at depth {depth}: {lost} lost, {stored} stored, {full_pops} push+pop when full"
            );
            if buffers == 2 {
                b.replay_qualified("miss_queue", &[("head", "head_valid")]);
            }
        }
    }
}
