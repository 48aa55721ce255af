//! The golden model's network: model cards ([`CardModel`]) joined by a switch like
//! the Verilated network (`vassa_sim::network::Network`), timed per link.
//!
//! The cards are untimed, so the network keeps the time: a discrete-event simulation that
//! jumps from one event to the next. Each card has its own TX link and its own RX link, one
//! word a cycle each, as the Verilated network's cards have:
//! - A card starts sending [`TX_START_CYCLES`] after TX work appears (a doorbell, a resolved TX
//!   miss), the doorbell-to-first-word time of the core, then sends its packets back to back;
//!   each packet's payload is read from memory, and counted, when the packet starts.
//! - The switch is store-and-forward: a packet is routed in the cycle its last word leaves the
//!   source, and each copy may start on its destination's link `link_latency + 1` cycles
//!   later; every destination link carries its own copies, one after the other.
//! - A card decides a packet in the cycle its last word arrives (the core takes a few cycles
//!   more, and writes memory later) and applies a host's access in the cycle it arrives.
//!
//! Packets are numbered per source as the Verilated network numbers them, so the fault hook
//! sees the same copy identities on both networks, and the ledger is kept from the
//! model's outcomes through the same trace words the core's `rx_trace` port shows.

use crate::card::CardModel;
use crate::switch::Router;
use std::collections::VecDeque;
use vassa_spec::link::LinkWord;
use vassa_spec::params::CoreParams;

/// Cycles from TX work appearing on an idle card to its first link word: the core's doorbell
/// to first word at default parameters (BENCHMARKS.md, one-way latency).
pub const TX_START_CYCLES: u64 = 12;
/// Cycles from a register read's arrival on the bus to its answer.
pub const READ_CYCLES: u64 = 2;

/// A host's register access, queued to arrive at a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Write { addr: u32, value: u32 },
    Read { addr: u32, ticket: u64 },
}

/// An answered register read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub ticket: u64,
    pub node: usize,
    /// Cycle the answer is on the bus.
    pub cycle: u64,
    pub value: u32,
}

/// A model card and the memory it owns.
pub struct ModelNode<M> {
    pub card: CardModel,
    pub mem: M,
}

/// One node's two links.
#[derive(Debug, Default)]
struct Port {
    /// The TX link is free from this cycle.
    tx_free: u64,
    /// The card may start its next packet from this cycle (set when TX work appears).
    tx_wake: Option<u64>,
    /// The packet on the TX link: the cycle of its last word, and its words.
    tx_packet: Option<(u64, Vec<u32>)>,
    /// Copies waiting for the RX link: (earliest start, ledger index, words).
    egress: VecDeque<(u64, usize, Vec<u32>)>,
    /// The RX link is free from this cycle.
    rx_free: u64,
    /// The copy on the RX link: the cycle of its last word, ledger index, words.
    rx_packet: Option<(u64, usize, Vec<u32>)>,
}

/// Model cards joined by a switch, with per-link timing.
pub struct ModelNetwork<M = Vec<u8>> {
    pub nodes: Vec<ModelNode<M>>,
    /// Cycles from a packet's last word leaving its source to the first word of a copy.
    pub link_latency: u64,
    /// Subscriptions, numbering, faults, counts and the ledger (the Verilated network's).
    pub router: Router,
    ports: Vec<Port>,
    /// Per node: host accesses not yet arrived, by arrival cycle (non-decreasing).
    bus: Vec<VecDeque<(u64, Access)>>,
    answers: Vec<Answer>,
    next_ticket: u64,
    /// Injected runs not yet due: (cycle, destination, ledger index, words).
    injections: Vec<(u64, usize, usize, Vec<u32>)>,
    irq: Vec<bool>,
    /// The next cycle to simulate: everything before it has happened.
    pub cycle: u64,
    last_activity: u64,
}

impl ModelNetwork {
    /// `nodes` model cards at `params`, each with `mem_bytes` of zeroed memory.
    pub fn new(params: &CoreParams, nodes: usize, mem_bytes: usize, link_latency: u64) -> Self {
        ModelNetwork::with_memories(params, vec![vec![0; mem_bytes]; nodes], link_latency)
    }
}

impl<M: AsMut<[u8]> + AsRef<[u8]>> ModelNetwork<M> {
    /// One model card at `params` for each of `mems`.
    pub fn with_memories(params: &CoreParams, mems: Vec<M>, link_latency: u64) -> Self {
        let n = mems.len();
        ModelNetwork {
            nodes: mems
                .into_iter()
                .map(|mem| ModelNode {
                    card: CardModel::new(params),
                    mem,
                })
                .collect(),
            link_latency,
            router: Router::new(n),
            ports: (0..n).map(|_| Port::default()).collect(),
            bus: vec![VecDeque::new(); n],
            answers: Vec::new(),
            next_ticket: 0,
            injections: Vec::new(),
            irq: vec![false; n],
            cycle: 0,
            last_activity: 0,
        }
    }

    /// Puts `words` (framed as one packet) on `node`'s RX link no earlier than cycle `at`.
    pub fn inject(&mut self, node: usize, words: Vec<u32>, at: u64) {
        let i = self.router.injected(node, self.cycle);
        self.injections.push((at.max(self.cycle), node, i, words));
    }

    /// Queues a register write to arrive on `node`'s bus at cycle `at` (not before the node's
    /// earlier accesses, nor before the present).
    pub fn write(&mut self, node: usize, at: u64, addr: u32, value: u32) {
        self.queue(node, at, Access::Write { addr, value });
    }

    /// Queues a register read to arrive on `node`'s bus at cycle `at`; its answer comes out
    /// of [`ModelNetwork::take_answers`] with the returned ticket.
    pub fn read(&mut self, node: usize, at: u64, addr: u32) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue(node, at, Access::Read { addr, ticket });
        ticket
    }

    fn queue(&mut self, node: usize, at: u64, access: Access) {
        let q = &mut self.bus[node];
        let at = at.max(self.cycle).max(q.back().map_or(0, |b| b.0));
        q.push_back((at, access));
    }

    /// Moves the reads answered so far into `out`.
    pub fn take_answers(&mut self, out: &mut Vec<Answer>) {
        out.append(&mut self.answers);
    }

    /// `node`'s interrupt line.
    pub fn irq(&self, node: usize) -> bool {
        self.irq[node]
    }

    /// The last cycle in which a link word moved.
    pub fn last_activity(&self) -> u64 {
        self.last_activity
    }

    /// Nothing on any link and no card with work it could do (with [`Router::held`] the
    /// switch may still hold copies).
    pub fn links_idle(&self) -> bool {
        self.ports
            .iter()
            .all(|p| p.tx_packet.is_none() && p.tx_wake.is_none() && p.rx_packet.is_none())
    }

    /// Nothing in flight: no write queued (a read starts no work), no packet on a link or
    /// queued for one, no injection due, no card with TX work it could do now.
    pub fn quiet(&self) -> bool {
        self.bus
            .iter()
            .flatten()
            .all(|a| matches!(a.1, Access::Read { .. }))
            && self.injections.is_empty()
            && self.ports.iter().all(|p| {
                p.tx_packet.is_none()
                    && p.tx_wake.is_none()
                    && p.egress.is_empty()
                    && p.rx_packet.is_none()
            })
            && self
                .nodes
                .iter()
                .all(|n| !n.card.has_tx_work() && !n.card.has_pending_resolves())
    }

    /// Simulates up to cycle `until`, stopping early after a cycle in which a read was
    /// answered or an interrupt line changed; returns whether it stopped for one.
    pub fn advance(&mut self, until: u64) -> bool {
        while self.cycle < until {
            match self.next_event() {
                Some(t) if t < until => {
                    let event = self.process(t.max(self.cycle));
                    self.cycle = t.max(self.cycle) + 1;
                    if event {
                        return true;
                    }
                }
                _ => self.cycle = until,
            }
        }
        false
    }

    /// The cycle of the next thing that happens, if anything is due.
    pub fn next_event(&self) -> Option<u64> {
        let bus = self.bus.iter().filter_map(|q| q.front().map(|a| a.0));
        let injections = self.injections.iter().map(|i| i.0);
        let links = self.ports.iter().flat_map(|p| {
            let tx_end = p.tx_packet.as_ref().map(|t| t.0);
            let tx_start = match (&p.tx_packet, p.tx_wake) {
                (None, Some(w)) => Some(w.max(p.tx_free)),
                _ => None,
            };
            let rx_end = p.rx_packet.as_ref().map(|r| r.0);
            let rx_start = match (&p.rx_packet, p.egress.front()) {
                (None, Some(e)) if !self.router.held => Some(e.0.max(p.rx_free)),
                _ => None,
            };
            [tx_end, tx_start, rx_end, rx_start].into_iter().flatten()
        });
        bus.chain(injections).chain(links).min()
    }

    /// Everything due at cycle `t`; returns whether a read was answered or an irq changed.
    fn process(&mut self, t: u64) -> bool {
        let answered = self.answers.len();
        for n in 0..self.nodes.len() {
            self.arrive_accesses(n, t);
        }
        for n in 0..self.nodes.len() {
            if self.ports[n].rx_packet.as_ref().is_some_and(|r| r.0 == t) {
                self.receive(n, t);
            }
        }
        for n in 0..self.nodes.len() {
            if self.ports[n].tx_packet.as_ref().is_some_and(|p| p.0 == t) {
                let (_, words) = self.ports[n].tx_packet.take().unwrap();
                self.route(n, words, t);
            }
        }
        let mut i = 0;
        while i < self.injections.len() {
            if self.injections[i].0 <= t {
                let (_, dst, copy, words) = self.injections.remove(i);
                self.ports[dst].egress.push_back((t, copy, words));
            } else {
                i += 1;
            }
        }
        for n in 0..self.nodes.len() {
            self.start_tx(n, t);
            self.start_rx(n, t);
        }
        let mut event = self.answers.len() > answered;
        for n in 0..self.nodes.len() {
            let irq = self.nodes[n].card.irq();
            if irq != self.irq[n] {
                self.irq[n] = irq;
                event = true;
            }
        }
        event
    }

    fn arrive_accesses(&mut self, n: usize, t: u64) {
        let mut wrote = false;
        while self.bus[n].front().is_some_and(|a| a.0 <= t) {
            let (_, access) = self.bus[n].pop_front().unwrap();
            let card = &mut self.nodes[n].card;
            match access {
                Access::Write { addr, value } => {
                    card.write(addr, value);
                    wrote = true;
                }
                Access::Read { addr, ticket } => self.answers.push(Answer {
                    ticket,
                    node: n,
                    cycle: t + READ_CYCLES,
                    value: card.read(addr),
                }),
            }
        }
        if !wrote {
            return;
        }
        let node = &mut self.nodes[n];
        for (tag, outcome) in node.card.service(node.mem.as_mut()) {
            self.router.ledger.trace(n, outcome.trace(Some(tag)), t);
        }
        let port = &mut self.ports[n];
        if port.tx_wake.is_none() && node.card.has_tx_work() {
            port.tx_wake = Some((t + TX_START_CYCLES).max(port.tx_free));
        }
    }

    fn receive(&mut self, n: usize, t: u64) {
        let (_, copy, words) = self.ports[n].rx_packet.take().unwrap();
        let ledger = &mut self.router.ledger;
        ledger.arrived(copy, words.len(), t);
        let node = &mut self.nodes[n];
        let outcome = node.card.receive(&words, node.mem.as_mut());
        // A one-word run gets no verdict (the ledger has called it malformed).
        if words.len() >= 2 {
            ledger.trace(n, outcome.trace(None), t);
        }
        self.last_activity = t;
    }

    fn start_tx(&mut self, n: usize, t: u64) {
        let port = &mut self.ports[n];
        if port.tx_packet.is_some() || port.tx_wake.is_none_or(|w| w.max(port.tx_free) > t) {
            return;
        }
        let node = &mut self.nodes[n];
        match node.card.next_tx_packet(node.mem.as_ref()) {
            Some(words) => {
                let len = words.len() as u64;
                port.tx_packet = Some((t + len - 1, words));
                port.tx_free = t + len;
                // Back to back: the next packet may start right after this one.
                port.tx_wake = Some(t + len);
                self.last_activity = t;
            }
            None => port.tx_wake = None,
        }
    }

    fn start_rx(&mut self, n: usize, t: u64) {
        let port = &mut self.ports[n];
        if self.router.held
            || port.rx_packet.is_some()
            || port
                .egress
                .front()
                .is_none_or(|e| e.0.max(port.rx_free) > t)
        {
            return;
        }
        let (_, copy, words) = port.egress.pop_front().unwrap();
        if words.is_empty() {
            return;
        }
        let len = words.len() as u64;
        port.rx_packet = Some((t + len - 1, copy, words));
        port.rx_free = t + len;
        self.last_activity = t;
    }

    /// Copies for every subscriber of the packet's NVA page, through the fault hook.
    fn route(&mut self, src: usize, words: Vec<u32>, t: u64) {
        let at = t + 1 + self.link_latency;
        for (dst, copy, words) in self.router.route(src, LinkWord::framed(&words), t) {
            let words = words.iter().map(|w| w.data).collect();
            self.ports[dst].egress.push_back((at, copy, words));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::CopyState;
    use vassa_spec::regmap as rm;

    /// Node 0 multicasts one page to `readers` nodes: TX page 1 → NVA page 0x100 → page 2.
    fn fanout(readers: usize) -> ModelNetwork {
        let p = CoreParams::default();
        let mut net = ModelNetwork::new(&p, readers + 1, 1 << 16, 3);
        let attr = rm::map_attr(true, false, 1, 1);
        let install = |net: &mut ModelNetwork, n: usize, tx: bool, key: u32, page: u32| {
            for (addr, value) in rm::install_writes(tx, 0, key, page, attr) {
                net.write(n, 0, addr, value);
            }
        };
        install(&mut net, 0, true, 1, 0x100);
        for r in 1..=readers {
            install(&mut net, r, false, 0x100, 2);
            net.router.subscribe(0x100, r);
        }
        for n in 0..=readers {
            net.write(n, 0, rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
        }
        net
    }

    fn send(net: &mut ModelNetwork, at: u64, len: u32) {
        net.nodes[0].mem[4096..8192].fill(0x5a);
        net.write(0, at, rm::DB_ADDR.offset, 4096);
        let push = rm::DB_PUSH_LENGTH.put(0, len);
        net.write(0, at, rm::DB_PUSH.offset, push);
    }

    #[test]
    fn every_reader_link_carries_its_copies_in_parallel() {
        let mut one = fanout(1);
        let mut eight = fanout(8);
        for net in [&mut one, &mut eight] {
            send(net, 10, 4096);
            while !net.quiet() {
                let until = net.cycle + 1000;
                net.advance(until);
            }
        }
        // 16 packets of 64 + 3 words, back to back: the same finish with 1 or 8 readers.
        let last = |net: &ModelNetwork| net.last_activity();
        assert_eq!(last(&one), last(&eight));
        assert!(
            last(&one) >= 10 + TX_START_CYCLES + 16 * 67,
            "{}",
            last(&one)
        );
        for r in 1..=8 {
            assert!(eight.nodes[r].mem[8192..12288].iter().all(|&b| b == 0x5a));
        }
        assert_eq!(eight.router.ledger.copies().len(), 16 * 8);
        assert!(eight
            .router
            .ledger
            .copies()
            .iter()
            .all(|c| c.state == CopyState::Accepted));
        assert_eq!(eight.router.ledger.in_flight(), 0);
    }

    #[test]
    fn reads_answer_after_their_arrival_and_irq_changes_stop_advance() {
        let mut net = fanout(1);
        let t = net.read(1, 50, rm::ID.offset);
        assert!(!net.advance(50));
        assert!(net.advance(100), "the answer stops it");
        let mut got = vec![];
        net.take_answers(&mut got);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].ticket, got[0].value), (t, rm::MAGIC));
        assert_eq!(got[0].cycle, 50 + READ_CYCLES);
        // A packet to an unmapped page parks on a miss: the irq line rises.
        net.write(1, 60, rm::IRQ_MASK.offset, rm::IRQ_MISS.mask());
        net.write(
            1,
            60,
            rm::MAP_CMD.offset,
            rm::map_cmd(rm::MAP_OP_FLUSH, false, 0),
        );
        send(&mut net, 60, 64);
        while !net.irq(1) {
            assert!(net.cycle < 10_000);
            net.advance(net.cycle + 100);
        }
        assert!(matches!(
            net.router.ledger.copies()[0].state,
            CopyState::Parked(_)
        ));
    }
}
