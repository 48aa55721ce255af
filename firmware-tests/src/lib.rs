//! RTL regression for VASSA: the Verilated core (`vassa_sim::network::Network`) run side by
//! side with the golden model (`vassa_model::card::CardModel`) on the same traffic.
//!
//! [`Twin`] is that pair: every register access, memory fill, doorbell, subscription, fault
//! and injected packet goes to both; [`Twin::settle`] runs both until nothing moves and
//! [`Twin::compare_all`] asserts they agree on every memory byte, every counter, IRQ state,
//! ERROR and the miss and notification FIFOs. The tests in `tests/` drive it: hand-written
//! scenarios (`scenarios.rs`) and random operation sequences (`differential.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use vassa_model::card::CardModel;
use vassa_sim::network::{Fate, Network};
use vassa_sim::LinkWord;
use vassa_spec::params::{CoreParams, MISS_FIFO_DEPTH_MAX, PAGE_SHIFT};
use vassa_spec::regmap as rm;

/// Bytes of memory per node.
pub const MEM: usize = 1 << 20;
/// Cycles without a link word after which a network counts as settled (longer than any
/// doorbell-to-first-word or end-of-packet-to-write delay).
pub const QUIET: u64 = 300;

/// A fault applied to a packet copy on its way to node `dst`: it may change the link data
/// words and decides the copy's fate. It must be a function of its arguments only: both sides
/// call it on the same copies.
pub type Fault = Rc<dyn Fn(usize, &mut Vec<u32>) -> Fate>;

/// The same network twice: Verilated cards and golden models.
pub struct Twin {
    pub net: Network,
    pub models: Vec<CardModel>,
    /// The models' memories (the cards' are `net.nodes[i].mem`).
    pub mems: Vec<Vec<u8>>,
    subs: BTreeMap<u32, BTreeSet<usize>>,
    fault: Option<Fault>,
}

impl Twin {
    pub fn new(nodes: usize) -> Self {
        let params = CoreParams::default();
        Twin {
            net: Network::new(nodes, MEM, 3),
            models: (0..nodes).map(|_| CardModel::new(&params)).collect(),
            mems: vec![vec![0; MEM]; nodes],
            subs: BTreeMap::new(),
            fault: None,
        }
    }

    /// Applies `f` to every packet copy from now on, on both sides.
    pub fn set_fault(&mut self, f: impl Fn(usize, &mut Vec<u32>) -> Fate + 'static) {
        let f: Fault = Rc::new(f);
        self.fault = Some(f.clone());
        self.net.set_fault_hook(move |_, copy| {
            let mut words: Vec<u32> = copy.words.iter().map(|w| w.data).collect();
            let fate = f(copy.dst, &mut words);
            for (w, d) in copy.words.iter_mut().zip(words) {
                w.data = d;
            }
            fate
        });
    }

    pub fn subscribe(&mut self, page: u32, node: usize) {
        self.net.subscribe(page, node);
        self.subs.entry(page).or_default().insert(node);
    }

    pub fn unsubscribe(&mut self, page: u32, node: usize) {
        self.net.unsubscribe(page, node);
        if let Some(set) = self.subs.get_mut(&page) {
            set.remove(&node);
        }
    }

    pub fn write(&mut self, node: usize, addr: u32, value: u32) {
        self.net.nodes[node].card.queue_write(addr, value);
        self.models[node].write(addr, value);
    }

    pub fn install(&mut self, node: usize, tx: bool, slot: u32, key: u32, page: u32, attr: u32) {
        for (addr, value) in rm::install_writes(tx, slot, key, page, attr) {
            self.write(node, addr, value);
        }
    }

    pub fn fill(&mut self, node: usize, addr: u32, bytes: &[u8]) {
        let a = addr as usize;
        self.net.nodes[node].mem[a..a + bytes.len()].copy_from_slice(bytes);
        self.mems[node][a..a + bytes.len()].copy_from_slice(bytes);
    }

    pub fn send(&mut self, node: usize, addr: u32, length: u32) {
        self.write(node, rm::DB_ADDR.offset, addr);
        self.write(node, rm::DB_PUSH.offset, length);
    }

    /// Fills `pattern(len, seed)` at `addr` of `node` and sends it as one message; returns
    /// the message.
    pub fn send_pattern(&mut self, node: usize, addr: u32, len: usize, seed: u32) -> Vec<u8> {
        let bytes = pattern(len, seed);
        self.fill(node, addr, &bytes);
        self.send(node, addr, len as u32);
        bytes
    }

    /// Writes MAP_CMD `op` (`rm::MAP_OP_*`) for `slot` of the TX or RX cache of `node`.
    pub fn map_cmd(&mut self, node: usize, op: u32, tx: bool, slot: u32) {
        self.write(node, rm::MAP_CMD.offset, rm::map_cmd(op, tx, slot));
    }

    /// Steps the cards until every queued register access has been issued (the model applies
    /// them when written).
    pub fn bus_sync(&mut self) {
        assert!(
            self.net
                .run_until(10_000, |n| n.nodes.iter().all(|x| x.card.bus_idle())),
            "register bus did not drain"
        );
    }

    /// Runs both sides until nothing moves.
    pub fn settle(&mut self) {
        // `run_until_quiet` measures quiet from the last link word, which may be long before
        // the accesses just queued: let them take effect first.
        self.bus_sync();
        for _ in 0..QUIET {
            self.net.step();
        }
        assert!(
            self.net.run_until_quiet(QUIET, 100_000),
            "network did not go quiet"
        );
        loop {
            let mut moved = false;
            // RX resolves first, on every node: on the cards they take effect as soon as they
            // are written, before any packet sent in response to other writes can arrive.
            for node in 0..self.models.len() {
                if self.models[node].has_pending_resolves() {
                    self.models[node].service(&mut self.mems[node]);
                    moved = true;
                }
            }
            for src in 0..self.models.len() {
                let pkts = self.models[src].tx_packets(&self.mems[src]);
                for p in pkts {
                    moved = true;
                    let page = p[0] >> PAGE_SHIFT;
                    let dsts = self.subs.get(&page).cloned().unwrap_or_default();
                    for dst in dsts {
                        let mut copy = p.clone();
                        let fate = match &self.fault {
                            Some(f) => f(dst, &mut copy),
                            None => Fate::Deliver,
                        };
                        let times = match fate {
                            Fate::Drop => 0,
                            Fate::Deliver => 1,
                            Fate::Duplicate => 2,
                        };
                        for _ in 0..times {
                            self.models[dst].receive(&copy, &mut self.mems[dst]);
                        }
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Reads a register on both sides (RTL first answered, then the model).
    pub fn read(&mut self, node: usize, addr: u32) -> (u32, u32) {
        self.net.nodes[node].card.queue_read(addr);
        let mut rtl = None;
        for _ in 0..500 {
            self.net.step();
            if let Some(v) = self.net.nodes[node].card.take_read() {
                rtl = Some(v);
                break;
            }
        }
        let rtl = rtl.unwrap_or_else(|| panic!("read {addr:#x} on node {node} not answered"));
        (rtl, self.models[node].read(addr))
    }

    pub fn assert_reg(&mut self, node: usize, addr: u32, what: &str) -> u32 {
        let (r, m) = self.read(node, addr);
        assert_eq!(
            r, m,
            "node {node} {what} ({addr:#x}): rtl {r:#x} model {m:#x}"
        );
        r
    }

    /// Pops a FIFO on both sides until empty; returns the RTL's records.
    pub fn drain(&mut self, node: usize, addr: u32, head: Option<u32>, what: &str) -> Vec<u32> {
        let mut out = vec![];
        for _ in 0..20 {
            if let Some(h) = head {
                out.push(self.assert_reg(node, h, what));
            }
            let v = self.assert_reg(node, addr, what);
            if rm::POP_VALID.get(v) == 0 {
                return out;
            }
            out.push(v);
        }
        panic!("{what} FIFO of node {node} does not empty");
    }

    /// Injects one framed run of words (start of packet on the first, end on the last) into
    /// `node`'s link RX on the RTL side and into the model's receive path.
    pub fn inject(&mut self, node: usize, words: &[u32]) {
        // The model applied every register write already: let the cards catch up first.
        self.bus_sync();
        let run = LinkWord::framed(words);
        let at = self.net.cycle;
        self.net.inject(node, run, at);
        self.models[node].receive(words, &mut self.mems[node]);
    }

    /// Reads global counter `name` on both sides (clearing it); both must equal `value`.
    pub fn expect_counter(&mut self, node: usize, name: &str, value: u32) {
        let addr = rm::global_counter_addr(rm::global_counter_index(name) as u32);
        let v = self.assert_reg(node, addr, name);
        assert_eq!(v, value, "node {node} {name}");
    }

    /// Pops one miss record on both sides; they must agree except for the RX tag, which names
    /// an implementation buffer (the RTL's receive buffer number) and is opaque to the host.
    pub fn pop_miss(&mut self, node: usize) -> (u32, u32) {
        let (r, m) = self.read(node, rm::MISS_POP.offset);
        let strip = |v: u32| rm::MISS_TAG.put(v, 0);
        assert_eq!(
            strip(r),
            strip(m),
            "node {node} miss record: rtl {r:#x} model {m:#x}"
        );
        (r, m)
    }

    /// Pops every miss record on both sides. The order of TX records among themselves and of
    /// RX records among themselves must agree (RX tags aside); how TX and RX records
    /// interleave depends on timing the model does not have (a card that misses on the TX
    /// side while its own earlier packets come back and miss on the RX side), so it is not
    /// compared. Returns (rtl, model) pairs in the RTL's order.
    pub fn pop_all_misses(&mut self, node: usize) -> Vec<(u32, u32)> {
        let (mut rtl, mut model) = (vec![], vec![]);
        for _ in 0..=MISS_FIFO_DEPTH_MAX {
            let (r, m) = self.read(node, rm::MISS_POP.offset);
            if rm::POP_VALID.get(r) != 0 {
                rtl.push(r);
            }
            if rm::POP_VALID.get(m) != 0 {
                model.push(m);
            }
        }
        let strip = |v: u32| rm::MISS_TAG.put(v, 0);
        let by_dir = |v: &[u32], tx: u32| -> Vec<u32> {
            v.iter()
                .copied()
                .filter(|&x| rm::MISS_DIR_TX.get(x) == tx)
                .collect()
        };
        for tx in [0, 1] {
            let (r, m) = (by_dir(&rtl, tx), by_dir(&model, tx));
            assert_eq!(
                r.iter().map(|&x| strip(x)).collect::<Vec<_>>(),
                m.iter().map(|&x| strip(x)).collect::<Vec<_>>(),
                "node {node} {} miss records: rtl {r:x?} model {m:x?}",
                if tx == 1 { "TX" } else { "RX" }
            );
        }
        let mut next = [0usize; 2];
        rtl.iter()
            .map(|&r| {
                let tx = rm::MISS_DIR_TX.get(r);
                let m = by_dir(&model, tx)[next[tx as usize]];
                next[tx as usize] += 1;
                (r, m)
            })
            .collect()
    }

    /// Resolves an RX miss on both sides, each with its own tag from [`Twin::pop_miss`].
    pub fn resolve_rx(&mut self, node: usize, rec: (u32, u32), drop: bool) {
        let word = |v: u32| {
            let w = rm::RESOLVE_TAG.put(0, rm::MISS_TAG.get(v));
            rm::RESOLVE_DROP.put(w, drop as u32)
        };
        self.net.nodes[node]
            .card
            .queue_write(rm::MISS_RESOLVE.offset, word(rec.0));
        self.models[node].write(rm::MISS_RESOLVE.offset, word(rec.1));
    }

    /// Whether an RTL receiver lost a packet for want of a receive buffer since the last check
    /// (reads and clears `drop_rx_overrun` on both sides; the model, which has no timing,
    /// never counts one).
    pub fn rtl_overran(&mut self) -> bool {
        let addr = rm::global_counter_addr(rm::global_counter_index("drop_rx_overrun") as u32);
        let mut overran = false;
        for node in 0..self.models.len() {
            let (rtl, model) = self.read(node, addr);
            assert_eq!(model, 0, "the model never overruns");
            overran |= rtl != 0;
        }
        overran
    }

    /// Compares everything observable on every node (clearing counters, draining FIFOs) and
    /// returns the sums over nodes of the counters read, by name (slot counters summed over
    /// slots), so callers can check what their traffic exercised.
    pub fn compare_all(&mut self) -> BTreeMap<&'static str, u64> {
        let mut tally = BTreeMap::new();
        for node in 0..self.models.len() {
            assert!(
                self.net.nodes[node].mem == self.mems[node],
                "node {node}: memory differs at byte {:#x}",
                self.net.nodes[node]
                    .mem
                    .iter()
                    .zip(&self.mems[node])
                    .position(|(a, b)| a != b)
                    .unwrap()
            );
            assert_eq!(self.net.nodes[node].card.irq(), self.models[node].irq());
            self.assert_reg(node, rm::IRQ_STATUS.offset, "IRQ_STATUS");
            self.assert_reg(node, rm::ERROR.offset, "ERROR");
            for (i, c) in rm::GLOBAL_COUNTERS.iter().enumerate() {
                let v = self.assert_reg(node, rm::global_counter_addr(i as u32), c.name);
                *tally.entry(c.name).or_default() += v as u64;
            }
            for slot in 0..CoreParams::default().counter_slots {
                for (k, c) in rm::SLOT_COUNTERS.iter().enumerate() {
                    let what = format!("slot {slot} {}", c.name);
                    let v = self.assert_reg(node, rm::slot_counter_addr(slot, k as u32), &what);
                    *tally.entry(c.name).or_default() += v as u64;
                }
            }
            let pending_misses = self.pop_all_misses(node).len() as u64;
            *tally.entry("pending_misses").or_default() += pending_misses;
            let notes = self.drain(
                node,
                rm::NOTIFY_POP.offset,
                Some(rm::NOTIFY_NVA.offset),
                "NOTIFY",
            );
            *tally.entry("notifications").or_default() += notes.len() as u64 / 2;
        }
        tally
    }
}

/// A deterministic byte pattern of length `n`.
pub fn pattern(n: usize, seed: u32) -> Vec<u8> {
    (0..n as u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(seed) ^ (i >> 8)) as u8)
        .collect()
}
