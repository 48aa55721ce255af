//! The simulated networks behind the driver's [`Fabric`]:
//! - [`RtlFabric`]: Verilated cards behind the store-and-forward switch
//!   (`vassa_sim::network::Network`), cycle-accurate, at any core parameters.
//! - [`ModelFabric`]: golden models behind the same switch, timed per link
//!   (`vassa_model::network::ModelNetwork`).
//!
//! Both add the [`Switch`]: its fault hook, injections, counts, and the ledger of every packet
//! copy, which a real network does not give a host.

use std::collections::VecDeque;
pub use vassa_driver::fabric::{Fabric, Ticket};
use vassa_driver::memory::Memory;
use vassa_model::ledger::Ledger;
use vassa_model::network::{Answer, ModelNetwork};
use vassa_sim::network::{Network, SwitchStats};
use vassa_sim::LinkWord;
use vassa_spec::params::CoreParams;

pub use vassa_sim::network::FaultHook;

/// What a simulated network has beyond a [`Fabric`], on both backends: faults applied to
/// packet copies, raw words injected on a link, what the switch did, and the ledger of every
/// copy.
pub trait Switch: Fabric {
    /// Sets the hook that sees (cycle, copy) for every packet copy the switch routes, before
    /// it is queued to its destination, and decides its fate (it may also change its words).
    fn set_fault_hook(&mut self, hook: FaultHook);
    /// Puts `words` (framed as one packet: start on the first, end on the last) on `node`'s
    /// link RX no earlier than cycle `at`, bypassing the fault hook.
    fn inject(&mut self, node: usize, words: &[u32], at: u64);
    /// Packets routed, copies sent, unroutable, fault drops and duplicates, injections.
    fn switch_stats(&self) -> SwitchStats;

    /// What became of every packet copy.
    fn ledger(&self) -> &Ledger;

    /// Stops the switch: it starts no copy on a destination's link any more (copies on their
    /// way finish), so what it holds stays in flight. For the end of a run cut short.
    fn hold_switch(&mut self);

    /// Nothing moves on any link and no card has work it could do (the switch may hold copies
    /// after [`Switch::hold_switch`]).
    fn links_idle(&self) -> bool;
}

fn range(mem: &[u8], node: usize, addr: u32, len: usize) -> std::ops::Range<usize> {
    let a = addr as usize;
    assert!(
        a.checked_add(len).is_some_and(|end| end <= mem.len()),
        "node {node}: memory access {a:#x}+{len:#x} outside {:#x} bytes",
        mem.len()
    );
    a..a + len
}

/// The [`Fabric`] methods that are the same on both backends: each holds its network in this
/// process, as `self.net`, with each card's memory as `self.net.nodes[node].mem`.
macro_rules! in_process_network {
    () => {
        fn nodes(&self) -> usize {
            self.net.nodes.len()
        }

        fn cycle(&self) -> u64 {
            self.net.cycle
        }

        fn mem_size(&self, node: usize) -> usize {
            self.net.nodes[node].mem.len()
        }

        fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]) {
            let mem = &self.net.nodes[node].mem;
            buf.copy_from_slice(&mem[range(mem, node, addr, buf.len())]);
        }

        fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]) {
            let mem = &mut self.net.nodes[node].mem;
            let r = range(mem, node, addr, bytes.len());
            mem[r].copy_from_slice(bytes);
        }

        fn mem_slice(&mut self, node: usize) -> Option<&mut [u8]> {
            Some(&mut self.net.nodes[node].mem)
        }
    };
}

// ---- Verilated cards ------------------------------------------------------------------------

/// An access waiting to arrive on a Verilated card's bus.
#[derive(Debug, Clone, Copy)]
enum Pending {
    Write(u32, u32),
    Read(u32, Ticket),
}

/// Verilated cards behind the simulated switch. Time is the network's cycle; accesses enter
/// each card's register bus at their arrival cycle (one at a time, a read waiting for its
/// answer, as the card's bus does).
pub struct RtlFabric {
    net: Network<Memory>,
    /// Cycles without a link word (and since the last write arrived) after which the fabric
    /// counts as [`Fabric::quiet`]: longer than any doorbell-to-first-word or
    /// end-of-packet-to-last-write delay of the core.
    pub quiet_window: u64,
    /// Per node: accesses not yet on the card's bus, by arrival cycle.
    pending: Vec<VecDeque<(u64, Pending)>>,
    queued: usize,
    /// Writes among `queued`.
    queued_writes: usize,
    /// Per node: reads on the card's bus, oldest first.
    reads: Vec<VecDeque<Ticket>>,
    outstanding: usize,
    next_ticket: Ticket,
    answers: Vec<(Ticket, u64, u32)>,
    irq: Vec<bool>,
    last_write: u64,
}

/// Switch latency of [`RtlFabric::with_heap`] (cycles from a packet's last word leaving its
/// source to its first word at a destination).
pub const DEFAULT_LINK_LATENCY: u64 = 3;
/// [`RtlFabric::quiet_window`] of a new fabric.
pub const DEFAULT_QUIET_WINDOW: u64 = 300;

impl RtlFabric {
    /// One Verilated card (default parameters) per memory.
    pub fn new(mems: Vec<Memory>, link_latency: u64) -> Self {
        Self::with_network(Network::with_memories(mems, link_latency))
    }

    /// One Verilated card at `params` per memory: the prebuilt core at the default
    /// parameters, otherwise one built once per parameter set and cached on disk
    /// (`vassa_sim::dynamic`; the first build takes seconds to a minute).
    pub fn with_params(
        params: &CoreParams,
        mems: Vec<Memory>,
        link_latency: u64,
    ) -> Result<Self, vassa_sim::ModelError> {
        Ok(Self::with_network(Network::with_memories_for(
            mems,
            link_latency,
            params,
        )?))
    }

    fn with_network(net: Network<Memory>) -> Self {
        let n = net.nodes.len();
        RtlFabric {
            net,
            quiet_window: DEFAULT_QUIET_WINDOW,
            pending: vec![VecDeque::new(); n],
            queued: 0,
            queued_writes: 0,
            reads: vec![VecDeque::new(); n],
            outstanding: 0,
            next_ticket: 0,
            answers: Vec::new(),
            irq: vec![false; n],
            last_write: 0,
        }
    }

    /// `nodes` cards with `mem_bytes` of zeroed heap memory each.
    pub fn with_heap(nodes: usize, mem_bytes: usize) -> Self {
        let mems = (0..nodes).map(|_| Memory::zeroed(mem_bytes)).collect();
        Self::new(mems, DEFAULT_LINK_LATENCY)
    }

    /// The simulated network (switch statistics, fault hooks, raw injection).
    pub fn network(&self) -> &Network<Memory> {
        &self.net
    }

    pub fn network_mut(&mut self) -> &mut Network<Memory> {
        &mut self.net
    }

    fn queue(&mut self, node: usize, at: u64, access: Pending) {
        let q = &mut self.pending[node];
        let at = at.max(self.net.cycle).max(q.back().map_or(0, |b| b.0));
        self.queued_writes += matches!(access, Pending::Write(..)) as usize;
        q.push_back((at, access));
        self.queued += 1;
    }

    /// Puts accesses due now on their cards' buses.
    fn feed_buses(&mut self) {
        let now = self.net.cycle;
        for (n, q) in self.pending.iter_mut().enumerate() {
            while q.front().is_some_and(|a| a.0 <= now) {
                let card = &mut self.net.nodes[n].card;
                match q.pop_front().unwrap().1 {
                    Pending::Write(addr, value) => {
                        card.queue_write(addr, value);
                        self.queued_writes -= 1;
                        self.last_write = now;
                    }
                    Pending::Read(addr, ticket) => {
                        card.queue_read(addr);
                        self.reads[n].push_back(ticket);
                        self.outstanding += 1;
                    }
                }
                self.queued -= 1;
            }
        }
    }

    /// Answers of the cycle just simulated, and irq changes; returns whether there were any.
    fn collect(&mut self) -> bool {
        let mut event = false;
        if self.outstanding > 0 {
            for (n, tickets) in self.reads.iter_mut().enumerate() {
                while !tickets.is_empty() {
                    let Some(v) = self.net.nodes[n].card.take_read() else {
                        break;
                    };
                    let ticket = tickets.pop_front().unwrap();
                    self.answers.push((ticket, self.net.cycle, v));
                    self.outstanding -= 1;
                    event = true;
                }
            }
        }
        for (n, node) in self.net.nodes.iter().enumerate() {
            let irq = node.card.irq_sampled();
            if irq != self.irq[n] {
                self.irq[n] = irq;
                event = true;
            }
        }
        event
    }
}

impl Fabric for RtlFabric {
    in_process_network!();

    fn bus_write(&mut self, node: usize, at: u64, addr: u32, value: u32) {
        self.queue(node, at, Pending::Write(addr, value));
    }

    fn bus_read(&mut self, node: usize, at: u64, addr: u32) -> Ticket {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.queue(node, at, Pending::Read(addr, ticket));
        ticket
    }

    fn take_answers(&mut self, out: &mut Vec<(Ticket, u64, u32)>) {
        out.append(&mut self.answers);
    }

    fn advance(&mut self, until: u64) {
        while self.net.cycle < until {
            if self.queued > 0 {
                self.feed_buses();
            }
            self.net.step();
            if self.collect() {
                return;
            }
        }
    }

    fn irq(&self, node: usize) -> bool {
        self.irq[node]
    }

    fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.net.subscribe(nva_page, node);
    }

    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.net.unsubscribe(nva_page, node);
    }

    fn quiet(&self) -> bool {
        self.queued_writes == 0
            && self.net.switch_idle()
            && self.net.nodes.iter().all(|n| n.card.writes_idle())
            && self.net.cycle >= self.net.last_activity().max(self.last_write) + self.quiet_window
    }
}

impl Switch for RtlFabric {
    fn set_fault_hook(&mut self, hook: FaultHook) {
        self.net.set_fault_hook(hook);
    }

    fn inject(&mut self, node: usize, words: &[u32], at: u64) {
        self.net.inject(node, LinkWord::framed(words), at);
    }

    fn switch_stats(&self) -> SwitchStats {
        self.net.stats()
    }

    fn ledger(&self) -> &Ledger {
        self.net.ledger()
    }

    fn hold_switch(&mut self) {
        self.net.router.held = true;
    }

    fn links_idle(&self) -> bool {
        self.queued_writes == 0
            && self.net.links_idle()
            && self.net.nodes.iter().all(|n| n.card.writes_idle())
            && self.net.cycle >= self.net.last_activity().max(self.last_write) + self.quiet_window
    }
}

// ---- Golden models ----------------------------------------------------------------------------

/// Golden models of the cards behind the same switch as [`RtlFabric`]'s, timed per link (see
/// `vassa_model::network`): each card sends on its own link and each destination's copies
/// arrive on its own, so a multicast takes about as long as on the Verilated network. The
/// cards are untimed inside: a packet is decided in the cycle its last word arrives.
pub struct ModelFabric {
    net: ModelNetwork<Memory>,
    answers: Vec<Answer>,
}

impl ModelFabric {
    /// One model card with `params` per memory.
    pub fn new(params: &CoreParams, mems: Vec<Memory>) -> Self {
        Self::with_latency(params, mems, DEFAULT_LINK_LATENCY)
    }

    pub fn with_latency(params: &CoreParams, mems: Vec<Memory>, link_latency: u64) -> Self {
        ModelFabric {
            net: ModelNetwork::with_memories(params, mems, link_latency),
            answers: Vec::new(),
        }
    }

    /// `nodes` cards at default parameters with `mem_bytes` of zeroed heap memory each.
    pub fn with_heap(nodes: usize, mem_bytes: usize) -> Self {
        let mems = (0..nodes).map(|_| Memory::zeroed(mem_bytes)).collect();
        Self::new(&CoreParams::default(), mems)
    }

    pub fn network(&self) -> &ModelNetwork<Memory> {
        &self.net
    }

    pub fn network_mut(&mut self) -> &mut ModelNetwork<Memory> {
        &mut self.net
    }

    pub fn model(&self, node: usize) -> &vassa_model::card::CardModel {
        &self.net.nodes[node].card
    }
}

impl Switch for ModelFabric {
    fn set_fault_hook(&mut self, hook: FaultHook) {
        self.net.router.set_fault_hook(hook);
    }

    fn inject(&mut self, node: usize, words: &[u32], at: u64) {
        self.net.inject(node, words.to_vec(), at);
    }

    fn switch_stats(&self) -> SwitchStats {
        self.net.router.stats
    }

    fn ledger(&self) -> &Ledger {
        &self.net.router.ledger
    }

    fn hold_switch(&mut self) {
        self.net.router.held = true;
    }

    fn links_idle(&self) -> bool {
        self.net.links_idle()
    }
}

impl Fabric for ModelFabric {
    in_process_network!();

    fn bus_write(&mut self, node: usize, at: u64, addr: u32, value: u32) {
        self.net.write(node, at, addr, value);
    }

    fn bus_read(&mut self, node: usize, at: u64, addr: u32) -> Ticket {
        self.net.read(node, at, addr)
    }

    fn take_answers(&mut self, out: &mut Vec<(Ticket, u64, u32)>) {
        self.net.take_answers(&mut self.answers);
        out.extend(self.answers.drain(..).map(|a| (a.ticket, a.cycle, a.value)));
    }

    fn advance(&mut self, until: u64) {
        self.net.advance(until);
    }

    fn irq(&self, node: usize) -> bool {
        self.net.irq(node)
    }

    fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.net.router.subscribe(nva_page, node);
    }

    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.net.router.unsubscribe(nva_page, node);
    }

    fn quiet(&self) -> bool {
        self.net.quiet()
    }
}
