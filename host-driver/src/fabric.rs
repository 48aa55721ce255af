//! Card access: a *fabric* is the cards of a network plus the switch that joins them.
//!
//! A driver takes the whole fabric, not one card, because in simulation time is global:
//! stepping one card steps all of them and the switch (a register read on a Verilated card
//! waits cycles in which every other card runs too). A board backend would implement the same
//! trait over its host interface; memory is therefore moved by copy in and out
//! ([`Fabric::mem_read`], [`Fabric::mem_write`]), which a USB pipe can do, and a direct slice
//! ([`Fabric::mem_slice`]) is only an option for backends that have one.
//!
//! Two backends:
//! - [`RtlFabric`]: Verilated cards behind the store-and-forward switch
//!   (`vassa_sim::network::Network`), cycle-accurate.
//! - [`ModelFabric`]: golden models (`vassa_sim::model::CardModel`) and a router; untimed, with
//!   a simple clock described on the type.

use crate::memory::Memory;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use vassa_rtl::spec::params::{CoreParams, PAGE_SHIFT};
use vassa_sim::model::CardModel;
use vassa_sim::network::{Fate, InFlight, Network, SwitchStats};
use vassa_sim::LinkWord;

/// What decides the fate of each packet copy (see [`Switch::set_fault_hook`]): called with
/// the cycle and the copy.
pub type FaultHook = Box<dyn FnMut(u64, &mut InFlight) -> Fate>;

/// Cards, their memories and the switch, with one clock.
pub trait Fabric {
    /// Number of cards (nodes are `0..nodes()`).
    fn nodes(&self) -> usize;

    /// A register read on `node`'s bus (with its side effects: pops, read-and-clear). It may
    /// take simulated time; register writes queued before it on the same node take effect
    /// first.
    fn read_reg(&mut self, node: usize, addr: u32) -> u32;
    /// A register write on `node`'s bus. It may be queued: it takes effect before any later
    /// access to the same node and before time advances by more than a few cycles.
    fn write_reg(&mut self, node: usize, addr: u32, value: u32);

    /// Bytes of `node`'s physical memory.
    fn mem_size(&self, node: usize) -> usize;
    /// Copies `buf.len()` bytes of `node`'s memory from physical address `addr` into `buf`.
    /// Panics when the range is outside the memory.
    fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]);
    /// Copies `bytes` into `node`'s memory at physical address `addr`. Panics when the range is
    /// outside the memory.
    fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]);
    /// The whole memory of `node`, where the backend holds it in this process.
    fn mem_slice(&mut self, _node: usize) -> Option<&mut [u8]> {
        None
    }

    /// `node`'s interrupt line.
    fn irq(&self, node: usize) -> bool;

    /// The switch delivers packets for `nva_page` to `node` too.
    fn subscribe(&mut self, nva_page: u32, node: usize);
    /// The switch stops delivering packets for `nva_page` to `node`.
    fn unsubscribe(&mut self, nva_page: u32, node: usize);

    /// The current simulated cycle.
    fn cycle(&self) -> u64;
    /// Advances time by at least `cycles` (a backend may overshoot by the length of one
    /// indivisible step).
    fn run(&mut self, cycles: u64);
    /// Nothing is in flight: no packet queued or on a link, no register access pending, no
    /// card busy with work the host started. A card waiting for its miss to be serviced is
    /// quiet (its irq line says so).
    fn quiet(&self) -> bool;

    /// Advances until `stop` holds (checked before each step) or `limit` cycles have passed;
    /// returns whether `stop` held.
    fn run_until(&mut self, limit: u64, mut stop: impl FnMut(&Self) -> bool) -> bool
    where
        Self: Sized,
    {
        let end = self.cycle().saturating_add(limit);
        loop {
            if stop(self) {
                return true;
            }
            if self.cycle() >= end {
                return false;
            }
            self.run(1);
        }
    }
}

/// The switch's test hooks, on both backends: faults applied to packet copies, raw words
/// injected on a link, and what the switch did.
pub trait Switch {
    /// Sets the hook that sees (cycle, copy) for every packet copy the switch routes, before
    /// it is queued to its destination, and decides its fate (it may also change its words).
    fn set_fault_hook(&mut self, hook: FaultHook);
    /// Puts `words` (framed as one packet: start on the first, end on the last) on `node`'s
    /// link RX no earlier than cycle `at`, bypassing the fault hook.
    fn inject(&mut self, node: usize, words: &[u32], at: u64);
    /// Packets routed, copies sent, unroutable, fault drops and duplicates, injections.
    fn switch_stats(&self) -> SwitchStats;
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

// ---- Verilated cards ------------------------------------------------------------------------

/// Verilated cards behind the simulated switch. Time is the network's cycle; every register
/// access goes over the card's queued register bus (a read waits for its answer, stepping the
/// whole network).
pub struct RtlFabric {
    net: Network<Memory>,
    /// Cycles without a link word (and since the last register write) after which the fabric
    /// counts as [`Fabric::quiet`]: longer than any doorbell-to-first-word or
    /// end-of-packet-to-last-write delay of the core.
    pub quiet_window: u64,
    last_write: u64,
}

/// Switch latency of [`RtlFabric::with_heap`] (cycles from a packet's last word leaving its
/// source to its first word at a destination).
pub const DEFAULT_LINK_LATENCY: u64 = 3;
/// [`RtlFabric::quiet_window`] of a new fabric.
pub const DEFAULT_QUIET_WINDOW: u64 = 300;
/// Cycles a register read may take before the card counts as hung.
const READ_TIMEOUT: u64 = 10_000;

impl RtlFabric {
    /// One Verilated card per memory.
    pub fn new(mems: Vec<Memory>, link_latency: u64) -> Self {
        RtlFabric {
            net: Network::with_memories(mems, link_latency),
            quiet_window: DEFAULT_QUIET_WINDOW,
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
}

impl Fabric for RtlFabric {
    fn nodes(&self) -> usize {
        self.net.nodes.len()
    }

    fn read_reg(&mut self, node: usize, addr: u32) -> u32 {
        self.net.nodes[node].card.queue_read(addr);
        for _ in 0..READ_TIMEOUT {
            self.net.step();
            if let Some(v) = self.net.nodes[node].card.take_read() {
                return v;
            }
        }
        panic!("node {node}: register read {addr:#x} not answered in {READ_TIMEOUT} cycles");
    }

    fn write_reg(&mut self, node: usize, addr: u32, value: u32) {
        self.net.nodes[node].card.queue_write(addr, value);
        self.last_write = self.net.cycle;
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

    fn irq(&self, node: usize) -> bool {
        self.net.nodes[node].card.irq()
    }

    fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.net.subscribe(nva_page, node);
    }

    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.net.unsubscribe(nva_page, node);
    }

    fn cycle(&self) -> u64 {
        self.net.cycle
    }

    fn run(&mut self, cycles: u64) {
        for _ in 0..cycles {
            self.net.step();
        }
    }

    fn quiet(&self) -> bool {
        self.net.switch_idle()
            && self.net.nodes.iter().all(|n| n.card.bus_idle())
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
        self.net.stats
    }
}

// ---- Golden models ----------------------------------------------------------------------------

/// Golden models of the cards and a router doing what the switch does (copies by NVA page to
/// every subscribed node).
///
/// Time: the models are untimed, so the fabric keeps a plain cycle counter and moves work in
/// indivisible steps. Register accesses take no time. Each step first applies the RX miss
/// resolves written since the last step (on every node), then, when registers were written,
/// collects the packets the cards can send now (routing a copy to every node subscribed to the
/// packet's NVA page at that moment, in one shared queue), then delivers *one* queued copy to
/// its card and advances the clock by that packet's link words (header, payload, trailer),
/// as if the packets crossed one link one after the other. With nothing queued, time jumps to
/// the end of the requested run. So a driver that checks the irq lines between steps services
/// every miss before the next packet arrives, and rates measured on this backend are those of
/// one fully loaded link (no card, switch or miss-service latency). Injected words join the
/// queue when the clock reaches their cycle; the fault hook sees each routed copy as the
/// switch of [`RtlFabric`] does.
pub struct ModelFabric {
    models: Vec<CardModel>,
    mems: Vec<Memory>,
    subs: BTreeMap<u32, BTreeSet<usize>>,
    /// Routed copies not yet received: (destination, link words).
    queue: VecDeque<(usize, Vec<u32>)>,
    /// Injected runs not yet due: (cycle, destination, words), in injection order.
    injections: Vec<(u64, usize, Vec<u32>)>,
    fault: Option<FaultHook>,
    /// Registers were written since the cards' TX paths were last run.
    dirty: bool,
    cycle: u64,
    /// The router's counts (`stray_words` stays 0: model packets are always framed).
    pub stats: SwitchStats,
}

impl ModelFabric {
    /// One model card with `params` per memory.
    pub fn new(params: &CoreParams, mems: Vec<Memory>) -> Self {
        ModelFabric {
            models: mems.iter().map(|_| CardModel::new(params)).collect(),
            mems,
            subs: BTreeMap::new(),
            queue: VecDeque::new(),
            injections: Vec::new(),
            fault: None,
            dirty: false,
            cycle: 0,
            stats: SwitchStats::default(),
        }
    }

    /// `nodes` cards at default parameters with `mem_bytes` of zeroed heap memory each.
    pub fn with_heap(nodes: usize, mem_bytes: usize) -> Self {
        let mems = (0..nodes).map(|_| Memory::zeroed(mem_bytes)).collect();
        Self::new(&CoreParams::default(), mems)
    }

    pub fn model(&self, node: usize) -> &CardModel {
        &self.models[node]
    }

    /// Applies pending RX resolves and collects the packets the cards can send.
    fn collect(&mut self) {
        for (model, mem) in self.models.iter_mut().zip(self.mems.iter_mut()) {
            if model.has_pending_resolves() {
                model.service(mem);
            }
        }
        if !std::mem::take(&mut self.dirty) {
            return;
        }
        for src in 0..self.models.len() {
            for words in self.models[src].tx_packets(&self.mems[src]) {
                self.stats.packets_in += 1;
                let page = words[0] >> PAGE_SHIFT;
                match self.subs.get(&page).filter(|s| !s.is_empty()) {
                    None => self.stats.unroutable += 1,
                    Some(dsts) => {
                        for dst in dsts.clone() {
                            self.route(src, dst, words.clone());
                        }
                    }
                }
            }
        }
    }

    /// Queues one copy, through the fault hook.
    fn route(&mut self, src: usize, dst: usize, words: Vec<u32>) {
        let Some(hook) = self.fault.as_mut() else {
            self.stats.copies_out += 1;
            self.queue.push_back((dst, words));
            return;
        };
        let mut copy = InFlight {
            src: Some(src),
            dst,
            words: LinkWord::framed(&words),
        };
        let fate = hook(self.cycle, &mut copy);
        let words: Vec<u32> = copy.words.iter().map(|w| w.data).collect();
        match fate {
            Fate::Drop => self.stats.fault_dropped += 1,
            Fate::Deliver => {
                self.stats.copies_out += 1;
                self.queue.push_back((copy.dst, words));
            }
            Fate::Duplicate => {
                self.stats.copies_out += 2;
                self.stats.fault_duplicated += 1;
                self.queue.push_back((copy.dst, words.clone()));
                self.queue.push_back((copy.dst, words));
            }
        }
    }

    /// Moves injected runs that are due into the queue; returns the cycle of the next one.
    fn due_injections(&mut self) -> Option<u64> {
        let now = self.cycle;
        let mut i = 0;
        while i < self.injections.len() {
            if self.injections[i].0 <= now {
                let (_, dst, words) = self.injections.remove(i);
                self.queue.push_back((dst, words));
            } else {
                i += 1;
            }
        }
        self.injections.iter().map(|j| j.0).min()
    }
}

impl Switch for ModelFabric {
    fn set_fault_hook(&mut self, hook: FaultHook) {
        self.fault = Some(hook);
    }

    fn inject(&mut self, node: usize, words: &[u32], at: u64) {
        assert!(node < self.models.len(), "no node {node}");
        self.stats.injected += 1;
        self.injections.push((at, node, words.to_vec()));
    }

    fn switch_stats(&self) -> SwitchStats {
        self.stats
    }
}

impl Fabric for ModelFabric {
    fn nodes(&self) -> usize {
        self.models.len()
    }

    fn read_reg(&mut self, node: usize, addr: u32) -> u32 {
        self.models[node].read(addr)
    }

    fn write_reg(&mut self, node: usize, addr: u32, value: u32) {
        self.models[node].write(addr, value);
        self.dirty = true;
    }

    fn mem_size(&self, node: usize) -> usize {
        self.mems[node].len()
    }

    fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]) {
        let mem = &self.mems[node];
        buf.copy_from_slice(&mem[range(mem, node, addr, buf.len())]);
    }

    fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]) {
        let mem = &mut self.mems[node];
        let r = range(mem, node, addr, bytes.len());
        mem[r].copy_from_slice(bytes);
    }

    fn mem_slice(&mut self, node: usize) -> Option<&mut [u8]> {
        Some(&mut self.mems[node])
    }

    fn irq(&self, node: usize) -> bool {
        self.models[node].irq()
    }

    fn subscribe(&mut self, nva_page: u32, node: usize) {
        assert!(node < self.models.len(), "no node {node}");
        self.subs.entry(nva_page).or_default().insert(node);
    }

    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        if let Some(set) = self.subs.get_mut(&nva_page) {
            set.remove(&node);
        }
    }

    fn cycle(&self) -> u64 {
        self.cycle
    }

    fn run(&mut self, cycles: u64) {
        let end = self.cycle.saturating_add(cycles);
        while self.cycle < end {
            self.collect();
            let next_injection = self.due_injections();
            match self.queue.pop_front() {
                Some((dst, words)) => {
                    self.models[dst].receive(&words, &mut self.mems[dst]);
                    self.cycle += words.len() as u64;
                }
                None => self.cycle = next_injection.map_or(end, |at| at.min(end)),
            }
        }
    }

    fn quiet(&self) -> bool {
        self.queue.is_empty()
            && self.injections.iter().all(|j| j.0 > self.cycle)
            && !self.dirty
            && self.models.iter().all(|m| !m.has_pending_resolves())
    }
}
