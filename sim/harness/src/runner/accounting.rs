//! Where every message went, per reader: the per-message side of a run's accounting.
//!
//! The fabric's ledger knows what became of every packet copy; the runner knows which packets
//! make up each message (the writer's card sends the packets of its doorbells in order, so a
//! packet's number on its node names it). For each message and reader this module takes the
//! reader's own view — delivered, or given up and why ([`Skip`]) — and the ledger's — were all
//! its packets accepted at the reader's card, was one dropped (and why), is one still in
//! flight — and says which of delivered, dropped, lapped or in flight the message is, and
//! where the two views disagree (a defect: a message given up while it could still land, or
//! given up as never arrived while it had landed whole).

use std::collections::{BTreeMap, HashMap};
use vassa_driver::segment::Skip;
use vassa_model::ledger::{CopyState, DropCause, Ledger, PacketId, Source};

/// One packet the host asked a card to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asked {
    /// Scenario index of the channel.
    pub channel: usize,
    /// The message's sequence number among its writer's.
    pub seq: u64,
    /// Header NVA and length the packet must carry.
    pub nva: u32,
    pub length: u32,
    /// Cycle its message's doorbell was rung.
    pub cycle: u64,
}

/// What became of one message at one reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Delivered,
    /// A copy of one of its packets was dropped (the first such packet's cause).
    Dropped(DropCause),
    /// It arrived whole and was overwritten before the reader read it.
    Lapped,
    /// On its way, parked, or arrived and unread.
    InFlight,
}

/// A reader's view of one writer's messages.
#[derive(Debug, Clone, Default)]
pub struct ReaderView {
    /// The next sequence number the reader wants from this writer.
    pub next: u64,
    /// Messages given up: why, and the cycle the reader gave each up.
    pub skipped: HashMap<u64, (Skip, u64)>,
}

impl ReaderView {
    fn delivered(&self, seq: u64) -> bool {
        seq < self.next && !self.skipped.contains_key(&seq)
    }
}

/// The packets of each message: (channel, writer node, seq) → packet numbers on the writer's
/// node, from every node's asked packets in doorbell order.
pub fn packets_of(asked: &[Vec<Asked>]) -> HashMap<(usize, usize, u64), Vec<u64>> {
    let mut out: HashMap<(usize, usize, u64), Vec<u64>> = HashMap::new();
    for (node, packets) in asked.iter().enumerate() {
        for (number, a) in packets.iter().enumerate() {
            out.entry((a.channel, node, a.seq))
                .or_default()
                .push(number as u64);
        }
    }
    out
}

/// How the copies of one packet to one reader ended: accepted (the cycle of the first
/// accepted copy), still open, or dropped (the first dropped copy's cause); a packet never
/// routed is open (not yet sent).
fn packet_fate(ledger: &Ledger, packet: PacketId, reader: usize) -> Result<u64, Option<DropCause>> {
    let mut dropped = None;
    let mut open = false;
    let mut accepted: Option<u64> = None;
    let mut any = false;
    for c in ledger.copies_of(packet).filter(|c| c.dst == reader) {
        any = true;
        match c.state {
            CopyState::Accepted => accepted = Some(accepted.map_or(c.at, |a| a.min(c.at))),
            CopyState::Dropped(cause) => dropped = dropped.or(Some(cause)),
            _ => open = true,
        }
    }
    match accepted {
        Some(at) => Ok(at),
        None if open || !any => Err(None),
        None => Err(dropped),
    }
}

/// The fate of message `seq` of `writer` at `reader`, with a defect if the reader's view
/// contradicts the ledger.
pub fn fate(
    ledger: &Ledger,
    packets: &[u64],
    writer: usize,
    reader: usize,
    seq: u64,
    view: &ReaderView,
) -> (Fate, Option<String>) {
    if view.delivered(seq) {
        return (Fate::Delivered, None);
    }
    let mut dropped = None;
    let mut open = packets.is_empty();
    // When the last of its packets landed (if all did).
    let mut whole_at = 0;
    for &number in packets {
        let packet = PacketId {
            src: Source::Node(writer),
            number,
        };
        match packet_fate(ledger, packet, reader) {
            Ok(at) => whole_at = whole_at.max(at),
            Err(Some(cause)) => {
                dropped.get_or_insert(cause);
            }
            Err(None) => open = true,
        }
    }
    let skip = view.skipped.get(&seq).copied();
    let (fate, defect) = match (dropped, skip) {
        (Some(cause), _) => (Fate::Dropped(cause), None),
        // Its slot held a newer record: overwritten by a lap, gone whatever became of its
        // copies (a packet parked on a miss may even land after a newer lap).
        (None, Some((Skip::Lapped, _))) => (Fate::Lapped, None),
        (None, Some((Skip::Missing, at))) if open => (
            Fate::InFlight,
            Some(format!(
                "message {seq} of node {writer} given up at cycle {at} while still on its way"
            )),
        ),
        (None, Some((Skip::Missing, at))) => (
            // Landed whole, then torn by a later record (whose first packet was lost): lapped.
            Fate::Lapped,
            (whole_at > at).then(|| {
                format!(
                    "message {seq} of node {writer} given up at cycle {at}, before it landed whole at {whole_at}"
                )
            }),
        ),
        // Not given up: on its way, or arrived and not read yet.
        (None, None) => (Fate::InFlight, None),
    };
    (fate, defect)
}

/// A reader's tally of fates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub delivered: u64,
    pub dropped_by: BTreeMap<String, u64>,
    pub lapped: u64,
    pub in_flight: u64,
    /// Contradictions between the reader's view and the ledger (at most a few, for the
    /// report), and how many there were.
    pub defects: Vec<String>,
    pub defect_count: u64,
}

impl Tally {
    pub fn add(&mut self, fate: Fate, defect: Option<String>) {
        match fate {
            Fate::Delivered => self.delivered += 1,
            Fate::Dropped(cause) => *self.dropped_by.entry(cause_name(cause)).or_default() += 1,
            Fate::Lapped => self.lapped += 1,
            Fate::InFlight => self.in_flight += 1,
        }
        if let Some(d) = defect {
            self.defect_count += 1;
            if self.defects.len() < 3 {
                self.defects.push(d);
            }
        }
    }

    pub fn dropped(&self) -> u64 {
        self.dropped_by.values().sum()
    }
}

/// How a drop cause is named in reports.
pub fn cause_name(cause: DropCause) -> String {
    match cause {
        DropCause::SwitchFault => "switch_fault".to_string(),
        c => c.counter().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_spec::trace::{RxTrace, Verdict};

    fn verdict(v: Verdict) -> u32 {
        RxTrace {
            verdict: Some((true, v, 0)),
            ..RxTrace::default()
        }
        .encode()
    }

    /// Messages 1–4 of node 0 to reader node 1, two packets each: 1 whole, 2 with a packet
    /// dropped by the card, 3 whole, 4 with a packet still in the switch.
    fn ledger() -> (Ledger, HashMap<u64, Vec<u64>>) {
        let mut l = Ledger::new(2);
        let mut packets = HashMap::new();
        let p = |n| PacketId {
            src: Source::Node(0),
            number: n,
        };
        for seq in 1..=4u64 {
            let numbers = vec![2 * (seq - 1), 2 * (seq - 1) + 1];
            for &n in &numbers {
                let i = l.routed(p(n), 1, 0);
                if seq == 4 && n % 2 == 1 {
                    continue;
                }
                l.arrived(i, 4, 1);
                let v = if seq == 2 && n % 2 == 1 {
                    Verdict::CrcEpoch
                } else {
                    Verdict::Accepted
                };
                l.trace(1, verdict(v), 2);
            }
            packets.insert(seq, numbers);
        }
        (l, packets)
    }

    #[test]
    fn fates_follow_the_ledger_and_contradictions_are_defects() {
        let (l, packets) = ledger();
        let fate_of = |view: &ReaderView, seq: u64| fate(&l, &packets[&seq], 0, 1, seq, view);
        // The reader got 1, gave 2 up as missing and 3 as lapped, waits for 4.
        let view = ReaderView {
            next: 4,
            skipped: [(2, (Skip::Missing, 5)), (3, (Skip::Lapped, 5))].into(),
        };
        assert_eq!(fate_of(&view, 1), (Fate::Delivered, None));
        assert_eq!(
            fate_of(&view, 2),
            (Fate::Dropped(DropCause::Card(Verdict::CrcEpoch)), None)
        );
        assert_eq!(fate_of(&view, 3), (Fate::Lapped, None));
        assert_eq!(fate_of(&view, 4), (Fate::InFlight, None));
        // Giving 3 up as never arrived before it landed (cycle 2), or 4 while it is on its way:
        // defects. Giving 3 up after it landed is a lap, whatever the reader saw in its slot.
        let wrong = ReaderView {
            next: 5,
            skipped: [(3, (Skip::Missing, 1)), (4, (Skip::Missing, 5))].into(),
        };
        assert!(fate_of(&wrong, 3).1.is_some());
        assert!(fate_of(&wrong, 4).1.is_some());
        let torn = ReaderView {
            next: 5,
            skipped: [(3, (Skip::Missing, 2))].into(),
        };
        assert_eq!(fate_of(&torn, 3), (Fate::Lapped, None));
        let mut t = Tally::default();
        for seq in 1..=4 {
            let (f, d) = fate_of(&view, seq);
            t.add(f, d);
        }
        assert_eq!(
            (t.delivered, t.dropped(), t.lapped, t.in_flight),
            (1, 1, 1, 1)
        );
        assert_eq!(t.dropped_by["drop_crc_epoch"], 1);
    }
}
