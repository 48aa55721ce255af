//! What became of every packet copy a simulated network carried: the *ledger*.
//!
//! A copy is one packet on its way to one destination: its identity is the packet's source
//! node and number among the packets that node sent (or an injection's index) and the
//! destination. The switch opens a record when it routes a copy and closes it when it drops
//! the copy; the receiving card decides the rest. On the Verilated core the card's
//! `rx_trace` port says it ([`vassa_spec::trace`]): one verdict per link packet in the
//! order packets ended on its link, one per retry of a parked packet (by miss buffer), host
//! drops by miss buffer, and a pulse per packet written. The golden model reports the same
//! events through the same [`Ledger::trace`], so both backends keep one ledger the same way.
//!
//! The ledger is what makes loss accounting exact: a runner can say of every message and
//! reader whether a copy of it was dropped (and why), is still in flight, or arrived whole —
//! and the ledger's drop counts per card and reason are checked against the cards' own drop
//! counters, so the observation itself is checked.

use std::collections::{HashMap, VecDeque};
use vassa_spec::trace::{RxTrace, Verdict};

/// Where a packet came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    /// Sent by this node's card.
    Node(usize),
    /// Words injected on a link by a test or scenario.
    Injected,
}

/// A packet: its source and its number among the packets of that source (from 0, in the
/// order the switch framed them; injections in the order they were queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PacketId {
    pub src: Source,
    pub number: u64,
}

/// Why a copy was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropCause {
    /// The switch's fault hook dropped it.
    SwitchFault,
    /// The receiving card dropped it by this verdict (never `Accepted` or `Parked`).
    Card(Verdict),
    /// The receiving card dropped it parked, at its host's request (`drop_miss_dropped`).
    HostDrop,
}

impl DropCause {
    /// The counter that counts it: a global counter of the card, or `switch_fault_dropped`.
    pub fn counter(self) -> &'static str {
        match self {
            DropCause::SwitchFault => "switch_fault_dropped",
            DropCause::Card(v) => v.drop_counter().unwrap_or("none"),
            DropCause::HostDrop => "drop_miss_dropped",
        }
    }
}

/// Where a copy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyState {
    /// Routed, not yet on the destination's link (or on it, not yet ended).
    InSwitch,
    /// Ended on the destination's link; the card has not decided.
    OnCard,
    /// Parked in this miss buffer of the card, waiting for its host.
    Parked(u32),
    /// The card accepted it: it is (or is about to be) in memory.
    Accepted,
    Dropped(DropCause),
}

impl CopyState {
    /// No more can happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, CopyState::Accepted | CopyState::Dropped(_))
    }
}

/// One copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copy {
    pub packet: PacketId,
    pub dst: usize,
    pub state: CopyState,
    /// Cycle of the latest change of state.
    pub at: u64,
}

/// What a ledger found inconsistent with the card's trace (a bug in the simulator or the core).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerError(pub String);

/// Per node: what the card still has to decide.
#[derive(Debug, Clone, Default)]
struct NodeBook {
    /// Link packets ended on the card's link, no verdict yet, oldest first.
    awaiting: VecDeque<usize>,
    /// Copies parked by miss buffer.
    parked: HashMap<u32, usize>,
    accepted: u64,
    written: u64,
}

/// Every copy of a network's traffic and its state.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    /// Per source node: packets numbered so far (the next one's number).
    numbered: Vec<u64>,
    copies: Vec<Copy>,
    by_packet: HashMap<PacketId, Vec<usize>>,
    nodes: Vec<NodeBook>,
    /// Trace events that matched no copy (must stay empty).
    errors: Vec<LedgerError>,
}

impl Ledger {
    pub fn new(nodes: usize) -> Self {
        Ledger {
            numbered: vec![0; nodes],
            nodes: vec![NodeBook::default(); nodes],
            ..Ledger::default()
        }
    }

    /// Numbers the next packet the switch framed from `src`.
    pub fn number(&mut self, src: usize) -> PacketId {
        let number = self.numbered[src];
        self.numbered[src] += 1;
        PacketId {
            src: Source::Node(src),
            number,
        }
    }

    /// Packets the switch has framed from `src` so far.
    pub fn packets_from(&self, src: usize) -> u64 {
        self.numbered[src]
    }

    /// Opens the record of a copy the switch routed (or an injection) at `cycle`; returns its
    /// index.
    pub fn routed(&mut self, packet: PacketId, dst: usize, cycle: u64) -> usize {
        let i = self.copies.len();
        self.copies.push(Copy {
            packet,
            dst,
            state: CopyState::InSwitch,
            at: cycle,
        });
        self.by_packet.entry(packet).or_default().push(i);
        i
    }

    /// The switch dropped copy `i`.
    pub fn switch_dropped(&mut self, i: usize, cycle: u64) {
        self.set(i, CopyState::Dropped(DropCause::SwitchFault), cycle);
    }

    /// Copy `i`, `words` long and framed as one packet, ended on its destination's link at
    /// `cycle`. A one-word packet is malformed at once (the card decides no verdict for it).
    pub fn arrived(&mut self, i: usize, words: usize, cycle: u64) {
        if words < 2 {
            self.set(
                i,
                CopyState::Dropped(DropCause::Card(Verdict::Malformed)),
                cycle,
            );
        } else {
            self.set(i, CopyState::OnCard, cycle);
            let dst = self.copies[i].dst;
            self.nodes[dst].awaiting.push_back(i);
        }
    }

    /// One cycle of `node`'s receive trace.
    pub fn trace(&mut self, node: usize, word: u32, cycle: u64) {
        if word == 0 {
            return;
        }
        let t = RxTrace::decode(word);
        if let Some((link, verdict, tag)) = t.verdict {
            let i = if link {
                self.nodes[node].awaiting.pop_front()
            } else {
                self.nodes[node].parked.remove(&tag)
            };
            match i {
                Some(i) => self.decide(node, i, verdict, tag, cycle),
                None => self.errors.push(LedgerError(format!(
                    "node {node}, cycle {cycle}: a {} verdict {verdict:?} (buffer {tag}) for no copy",
                    if link { "link" } else { "retry" }
                ))),
            }
        }
        if let Some(tag) = t.host_drop {
            match self.nodes[node].parked.remove(&tag) {
                Some(i) => self.set(i, CopyState::Dropped(DropCause::HostDrop), cycle),
                None => self.errors.push(LedgerError(format!(
                    "node {node}, cycle {cycle}: a host drop of buffer {tag}, which holds no copy"
                ))),
            }
        }
        if t.written {
            self.nodes[node].written += 1;
        }
    }

    fn decide(&mut self, node: usize, i: usize, verdict: Verdict, tag: u32, cycle: u64) {
        let state = match verdict {
            Verdict::Accepted => {
                self.nodes[node].accepted += 1;
                CopyState::Accepted
            }
            Verdict::Parked => {
                self.nodes[node].parked.insert(tag, i);
                CopyState::Parked(tag)
            }
            v => CopyState::Dropped(DropCause::Card(v)),
        };
        self.set(i, state, cycle);
    }

    fn set(&mut self, i: usize, state: CopyState, cycle: u64) {
        let c = &mut self.copies[i];
        c.state = state;
        c.at = cycle;
    }

    /// Every copy, in the order they were routed.
    pub fn copies(&self) -> &[Copy] {
        &self.copies
    }

    /// The copies of `packet` (to every destination).
    pub fn copies_of(&self, packet: PacketId) -> impl Iterator<Item = &Copy> {
        self.by_packet
            .get(&packet)
            .into_iter()
            .flatten()
            .map(|&i| &self.copies[i])
    }

    /// Copies dropped at `node` (the switch's drops count at their destination), by counter.
    pub fn drops_at(&self, node: usize) -> HashMap<&'static str, u64> {
        let mut out = HashMap::new();
        for c in self.copies.iter().filter(|c| c.dst == node) {
            if let CopyState::Dropped(cause) = c.state {
                *out.entry(cause.counter()).or_default() += 1;
            }
        }
        out
    }

    /// Copies whose fate is not final, plus copies `node`s accepted and have not yet written:
    /// the copies in flight.
    pub fn in_flight(&self) -> u64 {
        let open = self.copies.iter().filter(|c| !c.state.is_final()).count() as u64;
        let unwritten: u64 = self
            .nodes
            .iter()
            .map(|n| n.accepted.saturating_sub(n.written))
            .sum();
        open + unwritten
    }

    /// Packets `node`'s card wrote to memory (its `written` pulses).
    pub fn written(&self, node: usize) -> u64 {
        self.nodes[node].written
    }

    /// Trace events that matched no copy: each one a defect of the simulator or the core.
    pub fn errors(&self) -> &[LedgerError] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(verdict: Option<(bool, Verdict, u32)>, host_drop: Option<u32>, written: bool) -> u32 {
        RxTrace {
            verdict,
            host_drop,
            written,
        }
        .encode()
    }

    #[test]
    fn verdicts_follow_link_order_and_parked_packets_their_buffer() {
        let mut l = Ledger::new(2);
        let p = |n| PacketId {
            src: Source::Node(0),
            number: n,
        };
        let a = l.routed(p(0), 1, 10);
        let b = l.routed(p(1), 1, 11);
        let c = l.routed(p(2), 1, 12);
        let d = l.routed(p(3), 1, 13);
        l.switch_dropped(d, 13);
        for (i, at) in [(a, 20), (b, 30), (c, 40)] {
            l.arrived(i, 8, at);
        }
        // a parks in buffer 1, b is dropped for its CRC, c is accepted.
        l.trace(1, trace(Some((true, Verdict::Parked, 1)), None, false), 22);
        l.trace(
            1,
            trace(Some((true, Verdict::CrcEpoch, 0)), None, false),
            32,
        );
        l.trace(
            1,
            trace(Some((true, Verdict::Accepted, 0)), None, false),
            42,
        );
        assert_eq!(l.copies()[a].state, CopyState::Parked(1));
        assert_eq!(l.in_flight(), 2, "a parked, c accepted but not written");
        l.trace(1, trace(None, None, true), 45);
        // The retry of buffer 1 is written.
        l.trace(
            1,
            trace(Some((false, Verdict::Accepted, 1)), None, false),
            60,
        );
        l.trace(1, trace(None, None, true), 70);
        assert_eq!(l.in_flight(), 0);
        let states: Vec<_> = l.copies().iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            [
                CopyState::Accepted,
                CopyState::Dropped(DropCause::Card(Verdict::CrcEpoch)),
                CopyState::Accepted,
                CopyState::Dropped(DropCause::SwitchFault),
            ]
        );
        let drops = l.drops_at(1);
        assert_eq!(drops["drop_crc_epoch"], 1);
        assert_eq!(drops["switch_fault_dropped"], 1);
        assert_eq!(l.copies_of(p(2)).count(), 1);
        assert!(l.errors().is_empty());
    }

    #[test]
    fn host_drops_and_unmatched_events() {
        let mut l = Ledger::new(1);
        let p = PacketId {
            src: Source::Injected,
            number: 0,
        };
        let a = l.routed(p, 0, 0);
        l.arrived(a, 5, 5);
        l.trace(0, trace(Some((true, Verdict::Parked, 2)), None, false), 7);
        l.trace(0, trace(None, Some(2), false), 9);
        assert_eq!(l.copies()[a].state, CopyState::Dropped(DropCause::HostDrop));
        // A verdict with nothing awaiting, a host drop of an empty buffer: both reported.
        l.trace(
            0,
            trace(Some((true, Verdict::Accepted, 0)), Some(3), false),
            10,
        );
        assert_eq!(l.errors().len(), 2);
        // A one-word packet is malformed without a verdict.
        let b = l.routed(p, 0, 11);
        l.arrived(b, 1, 12);
        assert_eq!(l.drops_at(0)["drop_malformed"], 1);
    }
}
