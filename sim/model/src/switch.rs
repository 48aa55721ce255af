//! The switch's routing, shared by the Verilated network (`vassa_sim::network::Network`) and the
//! golden model's ([`crate::network::ModelNetwork`]): subscriptions by NVA page, packets
//! numbered per source, the fault hook that decides each copy's fate, the counts of what it
//! did, and the [`Ledger`] record of every copy. The networks differ only in how copies move
//! on their links.

use crate::ledger::{Ledger, PacketId, Source};
use std::collections::{BTreeMap, BTreeSet};
use vassa_spec::link::LinkWord;
use vassa_spec::params::PAGE_SHIFT;

/// A packet copy on its way to one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    /// Sending node (`None` for injected words).
    pub src: Option<usize>,
    /// The packet's number among its source's packets (from 0).
    pub number: u64,
    pub dst: usize,
    /// Link words, first with `sop`, last with `eop` (injected words may break that rule).
    pub words: Vec<LinkWord>,
}

/// What the fault hook decides for a packet copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    Deliver,
    Drop,
    /// Deliver it twice, back to back.
    Duplicate,
}

/// What the switch did with the traffic it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchStats {
    /// Packets framed from the cards' link TX.
    pub packets_in: u64,
    /// Copies queued to destinations (fan-out included, duplicates included).
    pub copies_out: u64,
    /// Packets whose NVA page has no subscriber.
    pub unroutable: u64,
    /// Copies the fault hook dropped.
    pub fault_dropped: u64,
    /// Extra copies the fault hook added.
    pub fault_duplicated: u64,
    /// Words from a card's link TX outside a packet (no start of packet), discarded.
    pub stray_words: u64,
    /// Raw word runs injected.
    pub injected: u64,
}

/// What decides the fate of each packet copy: called with the cycle and the copy.
pub type FaultHook = Box<dyn FnMut(u64, &mut InFlight) -> Fate>;

/// Subscriptions, numbering, faults, counts and the ledger of one switch.
pub struct Router {
    nodes: usize,
    subscribers: BTreeMap<u32, BTreeSet<usize>>,
    fault: Option<FaultHook>,
    pub stats: SwitchStats,
    pub ledger: Ledger,
    /// The switch starts no copy on a destination's link (one on its way finishes): what is
    /// queued stays queued, in flight.
    pub held: bool,
}

impl Router {
    pub fn new(nodes: usize) -> Self {
        Router {
            nodes,
            subscribers: BTreeMap::new(),
            fault: None,
            stats: SwitchStats::default(),
            ledger: Ledger::new(nodes),
            held: false,
        }
    }

    /// Packets for `nva_page` go to `node` too.
    pub fn subscribe(&mut self, nva_page: u32, node: usize) {
        assert!(node < self.nodes, "no node {node}");
        self.subscribers.entry(nva_page).or_default().insert(node);
    }

    pub fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        if let Some(set) = self.subscribers.get_mut(&nva_page) {
            set.remove(&node);
        }
    }

    /// Sets the hook that sees (cycle, copy) for every packet copy before it is queued.
    pub fn set_fault_hook(&mut self, hook: FaultHook) {
        self.fault = Some(hook);
    }

    /// Counts an injection for `dst` at `cycle` and opens its ledger record (its index).
    pub fn injected(&mut self, dst: usize, cycle: u64) -> usize {
        assert!(dst < self.nodes, "no node {dst}");
        let packet = PacketId {
            src: Source::Injected,
            number: self.stats.injected,
        };
        self.stats.injected += 1;
        self.ledger.routed(packet, dst, cycle)
    }

    /// Routes a packet framed from `src` at cycle `now` to every subscriber of its NVA page,
    /// through the fault hook: the copies to queue, as (destination, ledger index, words), a
    /// duplicated copy twice.
    pub fn route(
        &mut self,
        src: usize,
        words: Vec<LinkWord>,
        now: u64,
    ) -> Vec<(usize, usize, Vec<LinkWord>)> {
        self.stats.packets_in += 1;
        let packet = self.ledger.number(src);
        let number = packet.number;
        let page = words[0].data >> PAGE_SHIFT;
        let Some(dsts) = self.subscribers.get(&page).filter(|s| !s.is_empty()) else {
            self.stats.unroutable += 1;
            return Vec::new();
        };
        let mut out = Vec::new();
        for dst in dsts.clone() {
            let mut copy = InFlight {
                src: Some(src),
                number,
                dst,
                words: words.clone(),
            };
            let fate = match &mut self.fault {
                Some(hook) => hook(now, &mut copy),
                None => Fate::Deliver,
            };
            let first = self.ledger.routed(packet, copy.dst, now);
            match fate {
                Fate::Drop => {
                    self.stats.fault_dropped += 1;
                    self.ledger.switch_dropped(first, now);
                }
                Fate::Deliver => {
                    self.stats.copies_out += 1;
                    out.push((copy.dst, first, copy.words));
                }
                Fate::Duplicate => {
                    self.stats.copies_out += 2;
                    self.stats.fault_duplicated += 1;
                    let second = self.ledger.routed(packet, copy.dst, now);
                    out.push((copy.dst, first, copy.words.clone()));
                    out.push((copy.dst, second, copy.words));
                }
            }
        }
        out
    }
}
