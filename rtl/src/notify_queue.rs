//! Notification queue: signal-on-write records (NVA, length) waiting for the host.
//!
//! The depacketizer posts a record for every packet it delivers into a page mapped with
//! `signal`; the host reads `NOTIFY_NVA` (the head's NVA) and then `NOTIFY_POP` (the length,
//! which removes the head). The record has no counter slot: the host finds the mapping (and
//! its slot) from the NVA, and 45 bits take three iCE40 block RAMs where 51 took four.
//!
//! A record that finds the queue full is not stored: `lost` pulses so that it is counted
//! (`notify_lost`) and flagged (`ERROR.notify_overflow`), never dropped silently.

use crate::lean_fifo::LeanFifo;
use crate::spec::params::NOTIFY_FIFO_DEPTH;
use crate::spec::regmap::{NOTIFY_LENGTH, STATUS_NOTIFY_USED};
use rust_hdl::prelude::*;

// The literal widths below must match the spec.
const _: () = {
    assert!(NOTIFY_FIFO_DEPTH == 16);
    assert!(NOTIFY_LENGTH.lsb == 0 && NOTIFY_LENGTH.width == 13);
    assert!(STATUS_NOTIFY_USED.width == 5);
};

/// One 16-entry FIFO of whole records (NVA in 31:0, length in 44:32). A record may arrive
/// every cycle and a block RAM writes 16 bits a cycle, so 45 bits take three block RAMs.
type RecordFifo = LeanFifo<RECORD_BITS, 4, 5>;
const RECORD_BITS: usize = 45;

#[derive(LogicBlock)]
pub struct NotifyQueue {
    pub clock: Signal<In, Clock>,
    // Producer.
    pub push: Signal<In, Bit>,
    pub nva: Signal<In, Bits<32>>,
    pub length: Signal<In, Bits<13>>,
    /// Pulse: the record was stored.
    pub pushed: Signal<Out, Bit>,
    /// Pulse: the record was lost because the queue was full.
    pub lost: Signal<Out, Bit>,
    // Consumer.
    pub pop: Signal<In, Bit>,
    /// A record is at the head (`head_*` are meaningful only then).
    pub head_valid: Signal<Out, Bit>,
    pub head_nva: Signal<Out, Bits<32>>,
    /// Length of the head at its `NOTIFY_POP` position (valid bit clear).
    pub head_meta: Signal<Out, Bits<32>>,
    /// Records stored (0..=16).
    pub level: Signal<Out, Bits<5>>,

    records: RecordFifo,
    used: DFF<Bits<5>>,
    store: Signal<Local, Bit>,
    take: Signal<Local, Bit>,
    rec_length_lsb: Constant<Bits<8>>,
}

impl Default for NotifyQueue {
    fn default() -> Self {
        NotifyQueue {
            clock: Default::default(),
            push: Default::default(),
            nva: Default::default(),
            length: Default::default(),
            pushed: Default::default(),
            lost: Default::default(),
            pop: Default::default(),
            head_valid: Default::default(),
            head_nva: Default::default(),
            head_meta: Default::default(),
            level: Default::default(),
            records: Default::default(),
            used: Default::default(),
            store: Default::default(),
            take: Default::default(),
            rec_length_lsb: Constant::new(32u64.into()),
        }
    }
}

impl Logic for NotifyQueue {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, used);
        clock!(self, clock, records);
        self.store.next = self.push.val() & !self.records.full.val();
        self.take.next = self.pop.val() & !self.records.empty.val();
        self.records.write.next = self.store.val();
        self.records.data_in.next = bit_cast::<RECORD_BITS, 32>(self.nva.val())
            | (bit_cast::<RECORD_BITS, 13>(self.length.val()) << self.rec_length_lsb.val());
        self.records.read.next = self.take.val();
        self.pushed.next = self.store.val();
        self.lost.next = self.push.val() & self.records.full.val();
        self.head_valid.next = !self.records.empty.val();
        self.head_nva.next = self.records.data_out.val().get_bits::<32>(0);
        self.head_meta.next = bit_cast::<32, 13>(
            self.records
                .data_out
                .val()
                .get_bits::<13>(self.rec_length_lsb.val().index()),
        );
        self.level.next = self.used.q.val();
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

    #[test]
    fn verilog_is_clean() {
        yosys_check("notify_queue", NotifyQueue::default());
        lint_check("notify_queue", NotifyQueue::default());
    }

    /// Random pushes and pops against a queue model: order, level, and every record either
    /// stored or reported lost. The run is replayed on the generated Verilog.
    #[test]
    fn matches_a_queue_model_and_reports_every_lost_record() {
        let mut b = Bench::new(NotifyQueue::default(), |q| &mut q.clock);
        b.record();
        let mut rng = XorShift(0x5EED);
        let mut model: VecDeque<(u32, u32)> = VecDeque::new();
        // Records become visible two cycles after their push (LeanFifo latency).
        let mut visible = 0usize;
        let mut pending: VecDeque<u64> = VecDeque::new();
        let (mut lost, mut stored) = (0, 0);
        for cycle in 0..3000u64 {
            while pending.front().is_some_and(|&at| at <= cycle) {
                pending.pop_front();
                visible += 1;
            }
            // Bursts of pushes fill the queue now and then.
            let push = rng.chance(if cycle % 400 < 100 { 90 } else { 40 });
            let pop = rng.chance(45);
            let rec = (rng.next_u64() as u32, (rng.next_u64() % 4096) as u32 + 1);
            b.uut.push.next = push;
            b.uut.nva.next = (rec.0 as u64).into();
            b.uut.length.next = (rec.1 as u64).into();
            b.uut.pop.next = pop;
            b.settle();
            assert_eq!(b.uut.level.val().index(), model.len(), "cycle {cycle}");
            assert_eq!(b.uut.head_valid.val(), visible > 0, "cycle {cycle}");
            if visible > 0 {
                let (nva, length) = model[0];
                assert_eq!(b.uut.head_nva.val().to_u64() as u32, nva);
                let meta = b.uut.head_meta.val().to_u64() as u32;
                assert_eq!(meta, NOTIFY_LENGTH.put(0, length), "only the length");
            }
            let full = model.len() == NOTIFY_FIFO_DEPTH as usize;
            assert_eq!(b.uut.lost.val(), push && full, "cycle {cycle}");
            assert_eq!(b.uut.pushed.val(), push && !full, "cycle {cycle}");
            if pop && visible > 0 {
                model.pop_front();
                visible -= 1;
            }
            if push && !full {
                model.push_back(rec);
                pending.push_back(cycle + 2);
                stored += 1;
            }
            lost += (push && full) as u32;
            b.step();
        }
        assert!(
            lost > 20 && stored > 500,
            "stimulus too weak: {lost} lost, {stored} stored"
        );
        b.replay_qualified(
            "notify_queue",
            &[("head_nva", "head_valid"), ("head_meta", "head_valid")],
        );
    }
}
