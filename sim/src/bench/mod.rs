//! Measurements behind `vassa bench sim`: simulator speed, link efficiency, one-way latency
//! and the RX miss path. Every function runs a fresh simulation and returns plain numbers;
//! [`Report::markdown`] prints them as the tables of BENCHMARKS.md. Cycle counts are exact
//! (the simulation is deterministic); only the speed figures depend on the machine.

use crate::network::Network;
use crate::{Card, LinkWord, VerilatedCore};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::Instant;
use vassa_spec::packet::packet_words;
use vassa_spec::params::{CoreParams, PAGE_SHIFT};
use vassa_spec::regmap as rm;

#[cfg(feature = "native")]
pub mod native;

/// Bytes of memory per card.
pub const MEM: usize = 1 << 20;
const PAGE: u32 = 1 << PAGE_SHIFT;
/// Physical page a sender's messages come from, and the NVA page it is mapped to.
const SRC_PAGE: u32 = 0x20;
const NVA_PAGE: u32 = 0x500;
/// Physical page the receiver maps [`NVA_PAGE`] to.
const DST_PAGE: u32 = 0x60;
/// A second source page, mapped to an NVA page the receiver has no mapping for.
const MISS_SRC_PAGE: u32 = 0x21;
const MISS_NVA_PAGE: u32 = 0x600;

// ---- Speed: the same two-card workload in every simulator ----------------------------------

/// One side of the two-card workload: setup register writes, then a doorbell every
/// `db_period` cycles (message `k` at `db_base + (k * db_stride) % db_span`, `db_length`
/// bytes). Same layout as `VassaLoopSide` in `csrc/two_cards.cpp`.
#[derive(Debug, Clone)]
pub struct Side {
    pub setup: Vec<(u32, u32)>,
    pub db_base: u32,
    pub db_length: u32,
    pub db_stride: u32,
    pub db_span: u32,
    pub db_period: u64,
}

impl Side {
    /// Address of doorbell `k`.
    pub fn db_addr(&self, k: u64) -> u32 {
        self.db_base + ((k * self.db_stride as u64) % self.db_span as u64) as u32
    }
}

/// The workload of the speed comparison: card A sends a 1024-byte message to B every 300
/// cycles and B a 256-byte message to A every 100 cycles (links about 90 % and 67 % busy;
/// both receivers write memory). Messages start at varying offsets of their source page.
pub fn two_card_workload() -> [Side; 2] {
    let side = |node: u32, src: u32, nva: u32, rx_nva: u32, dst: u32, length: u32, period: u64| {
        let mut setup = vec![(rm::NODE_ID.offset, node)];
        setup.extend(rm::install_writes(
            true,
            0,
            src,
            nva,
            rm::map_attr(false, false, 1, 3),
        ));
        setup.extend(rm::install_writes(
            false,
            0,
            rx_nva,
            dst,
            rm::map_attr(true, false, 2, 3),
        ));
        Side {
            setup,
            db_base: src << PAGE_SHIFT,
            db_length: length,
            db_stride: 68,
            db_span: PAGE - length,
            db_period: period,
        }
    };
    [
        side(1, SRC_PAGE, NVA_PAGE, NVA_PAGE + 1, DST_PAGE, 1024, 300),
        side(2, SRC_PAGE + 1, NVA_PAGE + 1, NVA_PAGE, DST_PAGE, 256, 100),
    ]
}

/// Memories for the workload: each card's source page holds a byte pattern.
pub fn workload_memories(sides: &[Side; 2]) -> [Vec<u8>; 2] {
    std::array::from_fn(|i| {
        let mut mem = vec![0u8; MEM];
        let base = sides[i].db_base as usize;
        for (j, b) in mem[base..base + PAGE as usize].iter_mut().enumerate() {
            *b = (j as u32 * 7 + i as u32 * 101 + (j as u32 >> 8)) as u8;
        }
        mem
    })
}

/// What one card did in a workload run. Same layout as `VassaLoopStats` in C++.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoopStats {
    pub tx_words: u64,
    /// FNV-1a-style hash of every TX word with its cycle and framing.
    pub tx_hash: u64,
    pub write_beats: u64,
    pub memory_faults: u64,
    pub doorbells: u64,
}

impl Default for LoopStats {
    fn default() -> Self {
        LoopStats {
            tx_words: 0,
            tx_hash: 0xcbf2_9ce4_8422_2325,
            write_beats: 0,
            memory_faults: 0,
            doorbells: 0,
        }
    }
}

impl LoopStats {
    /// Counts a TX word sent in cycle `now` (the C++ loop does the same).
    pub fn sent(&mut self, now: u64, w: LinkWord) {
        if w.valid {
            self.tx_words += 1;
            let x = (now << 35) ^ ((w.sop as u64) << 33) ^ ((w.eop as u64) << 32) ^ w.data as u64;
            self.tx_hash = (self.tx_hash ^ x).wrapping_mul(0x100_0000_01b3);
        }
    }
}

/// A timed run of the two-card workload.
#[derive(Debug, Clone)]
pub struct LoopRun {
    pub cycles: u64,
    pub seconds: f64,
    pub stats: [LoopStats; 2],
    pub mems: [Vec<u8>; 2],
}

impl LoopRun {
    pub fn cycles_per_second(&self) -> f64 {
        self.cycles as f64 / self.seconds
    }

    /// Same link words in the same cycles, same memory writes, same final memories.
    pub fn same_work(&self, other: &LoopRun) -> bool {
        self.cycles == other.cycles && self.stats == other.stats && self.mems == other.mems
    }
}

/// The workload on two [`Card`]s stepped from Rust (the API every test uses).
pub fn two_cards_rust(sides: &[Side; 2], cycles: u64) -> LoopRun {
    drive([Card::new(), Card::new()], sides, cycles, |_| {})
}

/// Runs the workload on two cards of any core for `cycles` cycles, timing the loop;
/// `finish` runs on the cards after the last cycle, before the clock stops.
pub fn drive<C: crate::Core>(
    mut cards: [Card<C>; 2],
    sides: &[Side; 2],
    cycles: u64,
    finish: impl FnOnce(&mut [Card<C>; 2]),
) -> LoopRun {
    let mut mems = workload_memories(sides);
    for (card, side) in cards.iter_mut().zip(sides) {
        for &(a, v) in &side.setup {
            card.queue_write(a, v);
        }
    }
    let mut stats = [LoopStats::default(); 2];
    let mut prev = [LinkWord::default(); 2];
    let start = Instant::now();
    for now in 0..cycles {
        let mut out = [LinkWord::default(); 2];
        for i in 0..2 {
            let side = &sides[i];
            if side.db_period != 0 && now % side.db_period == 0 {
                let k = stats[i].doorbells;
                stats[i].doorbells += 1;
                cards[i].queue_write(rm::DB_ADDR.offset, side.db_addr(k));
                cards[i].queue_write(rm::DB_PUSH.offset, side.db_length);
            }
            out[i] = cards[i].step(&mut mems[i], prev[1 - i]);
            stats[i].sent(now, out[i]);
        }
        prev = out;
    }
    let seconds = start.elapsed().as_secs_f64();
    for (s, card) in stats.iter_mut().zip(&cards) {
        s.write_beats = card.activity.write_beats;
        s.memory_faults = card.memory_faults;
    }
    finish(&mut cards);
    LoopRun {
        cycles,
        seconds,
        stats,
        mems,
    }
}

#[repr(C)]
struct CLoopSide {
    mem: *mut u8,
    mem_len: u64,
    setup: *const u32,
    setup_pairs: u64,
    db_addr_reg: u32,
    db_push_reg: u32,
    map_cmd_reg: u32,
    db_base: u32,
    db_length: u32,
    db_stride: u32,
    db_span: u32,
    db_period: u64,
}

extern "C" {
    fn vassa_two_card_loop(
        a: *mut std::ffi::c_void,
        b: *mut std::ffi::c_void,
        sides: *const CLoopSide,
        cycles: u64,
        read_latency: u64,
        stats: *mut LoopStats,
    );
}

/// The same workload run by a loop written entirely in C++ (`csrc/two_cards.cpp`) on the
/// same Verilated model: the best a hand-written C++ testbench does.
pub fn two_cards_cpp(sides: &[Side; 2], cycles: u64) -> LoopRun {
    let mut mems = workload_memories(sides);
    let mut models = [VerilatedCore::new(), VerilatedCore::new()];
    let setups: Vec<Vec<u32>> = sides
        .iter()
        .map(|s| s.setup.iter().flat_map(|&(a, v)| [a, v]).collect())
        .collect();
    let [m0, m1] = &mut mems;
    let c_sides =
        [(m0, &setups[0], &sides[0]), (m1, &setups[1], &sides[1])].map(|(mem, setup, s)| {
            CLoopSide {
                mem: mem.as_mut_ptr(),
                mem_len: mem.len() as u64,
                setup: setup.as_ptr(),
                setup_pairs: s.setup.len() as u64,
                db_addr_reg: rm::DB_ADDR.offset,
                db_push_reg: rm::DB_PUSH.offset,
                map_cmd_reg: rm::MAP_CMD.offset,
                db_base: s.db_base,
                db_length: s.db_length,
                db_stride: s.db_stride,
                db_span: s.db_span,
                db_period: s.db_period,
            }
        });
    let mut stats = [LoopStats::default(); 2];
    let (a, b) = {
        let [x, y] = &mut models;
        (x.raw(), y.raw())
    };
    let start = Instant::now();
    // Safety: both models and memories outlive the call; the C++ side only touches them.
    unsafe {
        vassa_two_card_loop(
            a,
            b,
            c_sides.as_ptr(),
            cycles,
            crate::READ_LATENCY,
            stats.as_mut_ptr(),
        )
    };
    let seconds = start.elapsed().as_secs_f64();
    LoopRun {
        cycles,
        seconds,
        stats,
        mems,
    }
}

// ---- Link efficiency ------------------------------------------------------------------------

/// Back-to-back packets of one message size on one link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Efficiency {
    pub message_bytes: u32,
    pub messages: u32,
    pub packets: u64,
    pub payload_bytes: u64,
    /// Link TX cycles from the first word to the last, inclusive.
    pub link_cycles: u64,
    pub words: u64,
    /// Cycles in that window without a word.
    pub idle_cycles: u64,
    /// All bytes arrived at the receiver, at the right place.
    pub delivered: bool,
}

impl Efficiency {
    pub fn efficiency(&self) -> f64 {
        self.payload_bytes as f64 / (4 * self.link_cycles) as f64
    }
    pub fn words_per_packet(&self) -> f64 {
        self.words as f64 / self.packets as f64
    }
    /// What the packet format allows: payload / (payload + 12 bytes of header and trailer)
    /// per packet of min(size, max_payload) bytes (sizes that are multiples of 4).
    pub fn format_bound(message_bytes: u32, max_payload: u32) -> f64 {
        let p = message_bytes.min(max_payload);
        p as f64 / (4 * packet_words(p)) as f64
    }
}

/// Writes that install a mapping, as (offset, value).
fn install(card: &mut Card, tx: bool, slot: u32, key: u32, page: u32, attr: u32) {
    for (a, v) in rm::install_writes(tx, slot, key, page, attr) {
        card.queue_write(a, v);
    }
}

/// The mappings of a [`Pair`]: sender `a`, receiver `b`.
fn map_pair(a: &mut Card, b: &mut Card) {
    let tx = rm::map_attr(false, false, 1, 3);
    install(a, true, 0, SRC_PAGE, NVA_PAGE, tx);
    install(a, true, 1, MISS_SRC_PAGE, MISS_NVA_PAGE, tx);
    install(
        b,
        false,
        0,
        NVA_PAGE,
        DST_PAGE,
        rm::map_attr(true, false, 2, 3),
    );
}

/// A sender A and a receiver B: A maps its pages [`SRC_PAGE`] → [`NVA_PAGE`] and
/// [`MISS_SRC_PAGE`] → [`MISS_NVA_PAGE`]; B maps [`NVA_PAGE`] → [`DST_PAGE`] only. A's
/// source pages hold a pattern.
struct Pair {
    a: Card,
    b: Card,
    mem_a: Vec<u8>,
    mem_b: Vec<u8>,
    /// Words on their way from A to B: a delay line of `link_delay` cycles.
    line: VecDeque<LinkWord>,
    /// Cycle of every packet end seen on B's link RX, with its header's NVA.
    rx_ends: Vec<(u64, u32)>,
    rx_nva: u32,
    /// Every TX word of A: (cycle, word).
    tx_log: Vec<(u64, LinkWord)>,
}

impl Pair {
    fn new(link_delay: usize) -> Self {
        let mut a = Card::new();
        let mut b = Card::new();
        map_pair(&mut a, &mut b);
        let mut mem_a = vec![0u8; MEM];
        for page in [SRC_PAGE, MISS_SRC_PAGE] {
            let base = (page << PAGE_SHIFT) as usize;
            for (j, x) in mem_a[base..base + PAGE as usize].iter_mut().enumerate() {
                *x = (j * 13 + 5 + (j >> 8)) as u8;
            }
        }
        Pair {
            a,
            b,
            mem_a,
            mem_b: vec![0; MEM],
            line: std::iter::repeat_n(LinkWord::default(), link_delay).collect(),
            rx_ends: Vec::new(),
            rx_nva: 0,
            tx_log: Vec::new(),
        }
    }

    fn step(&mut self) {
        let now = self.a.cycle;
        let out = self.a.step(&mut self.mem_a, LinkWord::default());
        if out.valid {
            self.tx_log.push((now, out));
        }
        self.line.push_back(out);
        let rx = self.line.pop_front().unwrap();
        if rx.valid && rx.sop {
            self.rx_nva = rx.data;
        }
        if rx.valid && rx.eop {
            self.rx_ends.push((now, self.rx_nva));
        }
        self.b.step(&mut self.mem_b, rx);
    }

    fn steps(&mut self, n: u64) {
        for _ in 0..n {
            self.step();
        }
    }

    /// Steps until both buses are idle, then `extra` cycles.
    fn settle_bus(&mut self, extra: u64) {
        for _ in 0..10_000 {
            if self.a.bus_idle() && self.b.bus_idle() {
                break;
            }
            self.step();
        }
        self.steps(extra);
    }

    /// Reads a register of A (`on_a`) or B.
    fn read(&mut self, on_a: bool, addr: u32) -> u32 {
        let card = if on_a { &mut self.a } else { &mut self.b };
        card.queue_read(addr);
        for _ in 0..1000 {
            self.step();
            let card = if on_a { &mut self.a } else { &mut self.b };
            if let Some(v) = card.take_read() {
                return v;
            }
        }
        panic!("read of {addr:#x} not answered");
    }

    /// Queues a doorbell on A; returns the cycle its DB_PUSH write is on A's bus (the bus must
    /// be idle: DB_ADDR goes out in the next step, DB_PUSH in the one after).
    fn doorbell(&mut self, addr: u32, length: u32) -> u64 {
        assert!(self.a.bus_idle());
        self.a.queue_write(rm::DB_ADDR.offset, addr);
        self.a.queue_write(rm::DB_PUSH.offset, length);
        self.a.cycle + 1
    }

    /// Whether B's memory at `DST_PAGE + offset` holds what A's source page has at `offset`.
    fn delivered(&self, offset: usize, len: usize) -> bool {
        let s = (SRC_PAGE << PAGE_SHIFT) as usize + offset;
        let d = (DST_PAGE << PAGE_SHIFT) as usize + offset;
        self.mem_a[s..s + len] == self.mem_b[d..d + len]
    }
}

/// Sends `messages` messages of `size` bytes (a multiple of 4 dividing the page) from A to B
/// as fast as a driver can ring doorbells: it reads DB_STATUS and pushes as many as there is
/// room for (the first 16 queued while TX is disabled), and measures A's link TX.
pub fn link_efficiency(size: u32, messages: u32) -> Efficiency {
    assert_eq!(size % 4, 0, "whole words");
    assert_eq!(PAGE % size, 0, "messages tile the page");
    let mut p = Pair::new(0);
    p.a.queue_write(rm::CONTROL.offset, 0);
    p.settle_bus(0);
    let mut next = 0u32;
    let mut enabled = false;
    while next < messages {
        let free = rm::DB_STATUS_FREE.get(p.read(true, rm::DB_STATUS.offset));
        for _ in 0..free.min(messages - next) {
            let offset = (next * size) % PAGE;
            p.a.queue_write(rm::DB_ADDR.offset, (SRC_PAGE << PAGE_SHIFT) + offset);
            p.a.queue_write(rm::DB_PUSH.offset, size);
            next += 1;
        }
        if !enabled {
            p.a.queue_write(rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
            enabled = true;
        }
        p.settle_bus(0);
    }
    // Until the last packet is written at B.
    let packets_per_message = size.div_ceil(CoreParams::default().max_payload) as u64;
    let packets = packets_per_message * messages as u64;
    for _ in 0..200_000 {
        if p.rx_ends.len() as u64 == packets {
            break;
        }
        p.step();
    }
    p.steps(100);
    let first = p.tx_log.first().map_or(0, |w| w.0);
    let last = p.tx_log.last().map_or(0, |w| w.0);
    let link_cycles = last - first + 1;
    let words = p.tx_log.len() as u64;
    let span = (size as usize * messages as usize).min(PAGE as usize);
    Efficiency {
        message_bytes: size,
        messages,
        packets: p.tx_log.iter().filter(|w| w.1.sop).count() as u64,
        payload_bytes: size as u64 * messages as u64,
        link_cycles,
        words,
        idle_cycles: link_cycles - words,
        delivered: p.rx_ends.len() as u64 == packets
            && p.delivered(0, span)
            && p.a.memory_faults + p.b.memory_faults == 0,
    }
}

// ---- Latency --------------------------------------------------------------------------------

/// One message's way from doorbell to the receiver's memory, in cycles after the doorbell
/// (the cycle its DB_PUSH write is on the sender's bus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub message_bytes: u32,
    /// Sender's first and last link TX word.
    pub tx_first: u64,
    pub tx_last: u64,
    /// Receiver's first and last link RX word.
    pub rx_first: u64,
    pub rx_last: u64,
    /// Receiver's last memory write beat.
    pub last_write: u64,
    pub delivered: bool,
}

impl Latency {
    /// Doorbell → first TX word.
    pub fn to_first_word(&self) -> u64 {
        self.tx_first
    }
    /// First → last TX word.
    pub fn tx_packet(&self) -> u64 {
        self.tx_last - self.tx_first
    }
    /// Last TX word → last RX word (the link, or the switch).
    pub fn link(&self) -> u64 {
        self.rx_last - self.tx_last
    }
    /// Last RX word (end of packet) → last memory write.
    pub fn rx_to_write(&self) -> u64 {
        self.last_write - self.rx_last
    }
    pub fn total(&self) -> u64 {
        self.last_write
    }
}

fn since(t: Option<u64>, db: u64) -> u64 {
    t.expect("event happened") - db
}

impl Latency {
    /// From the sender's and receiver's activity after a doorbell in cycle `db`.
    fn measure(
        size: u32,
        a: &crate::Activity,
        b: &crate::Activity,
        db: u64,
        delivered: bool,
    ) -> Self {
        Latency {
            message_bytes: size,
            tx_first: since(a.tx_sop, db),
            tx_last: since(a.tx_eop, db),
            rx_first: since(b.rx_sop, db),
            rx_last: since(b.rx_eop, db),
            last_write: since(b.write, db),
            delivered,
        }
    }
}

/// A `size`-byte message (page aligned) from A to B through a wire delaying each word by
/// `link_delay` cycles (0: a word A sends in cycle t is on B's RX in cycle t).
pub fn latency_direct(size: u32, link_delay: usize) -> Latency {
    let mut p = Pair::new(link_delay);
    p.settle_bus(20);
    let db = p.doorbell(SRC_PAGE << PAGE_SHIFT, size);
    p.steps(500);
    let (a, b) = (p.a.activity, p.b.activity);
    let delivered = p.delivered(0, size as usize) && a.tx_words == packet_words(size) as u64;
    Latency::measure(size, &a, &b, db, delivered)
}

/// The same through [`Network`]'s store-and-forward switch with `link_latency`.
pub fn latency_network(size: u32, link_latency: u64) -> Latency {
    let mut net = Network::new(2, MEM, link_latency);
    net.subscribe(NVA_PAGE, 1);
    let [x, y] = &mut net.nodes[..] else {
        unreachable!("two nodes")
    };
    map_pair(&mut x.card, &mut y.card);
    let src = (SRC_PAGE << PAGE_SHIFT) as usize;
    for (j, x) in net.nodes[0].mem[src..src + size as usize]
        .iter_mut()
        .enumerate()
    {
        *x = (j * 13 + 5) as u8;
    }
    net.run_until(10_000, |n| n.nodes.iter().all(|x| x.card.bus_idle()));
    for _ in 0..20 {
        net.step();
    }
    let a = &mut net.nodes[0].card;
    a.queue_write(rm::DB_ADDR.offset, src as u32);
    a.queue_write(rm::DB_PUSH.offset, size);
    let db = a.cycle + 1;
    for _ in 0..500 {
        net.step();
    }
    let (a, b) = (net.nodes[0].card.activity, net.nodes[1].card.activity);
    let dst = (DST_PAGE << PAGE_SHIFT) as usize;
    let delivered =
        net.nodes[0].mem[src..src + size as usize] == net.nodes[1].mem[dst..dst + size as usize];
    Latency::measure(size, &a, &b, db, delivered)
}

// ---- Miss path ------------------------------------------------------------------------------

/// An RX miss: cycles from the packet's first word at the receiver to its irq line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissIrq {
    pub packet_bytes: u32,
    /// RX start of packet → irq high.
    pub sop_to_irq: u64,
    /// RX end of packet → irq high.
    pub eop_to_irq: u64,
    /// The packet is parked (STATUS.rx_parked == 1) and nothing was written.
    pub parked: bool,
}

/// A `size`-byte packet to a page B has no mapping for; B's IRQ_MASK enables the miss cause.
pub fn miss_irq(size: u32) -> MissIrq {
    let mut p = Pair::new(0);
    p.b.queue_write(rm::IRQ_MASK.offset, rm::IRQ_MISS.mask());
    p.settle_bus(20);
    p.doorbell(MISS_SRC_PAGE << PAGE_SHIFT, size);
    p.steps(300);
    let b = p.b.activity;
    let irq = b.irq_rise.expect("miss interrupt");
    let status = p.read(false, rm::STATUS.offset);
    MissIrq {
        packet_bytes: size,
        sop_to_irq: irq - b.rx_sop.unwrap(),
        eop_to_irq: irq - b.rx_eop.unwrap(),
        parked: rm::STATUS_PARKED.get(status) == 1 && b.write_beats == 0,
    }
}

/// Hit packets delivered behind a parked miss, or alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HitRun {
    /// Per hit packet: RX end of packet → its last memory write.
    pub eop_to_write: Vec<u64>,
    /// Per hit packet: TX enable → its last memory write.
    pub delivery: Vec<u64>,
    /// Receiver's parked packets at the end.
    pub parked: u32,
    pub delivered: bool,
}

/// `hits` 64-byte packets to a mapped page, queued back to back, preceded (if `with_miss`) by
/// a 64-byte packet to a page B has no mapping for, which B parks.
pub fn hits_behind_miss(hits: u32, with_miss: bool) -> HitRun {
    const SIZE: u32 = 64;
    let mut p = Pair::new(0);
    p.a.queue_write(rm::CONTROL.offset, 0);
    if with_miss {
        p.a.queue_write(rm::DB_ADDR.offset, MISS_SRC_PAGE << PAGE_SHIFT);
        p.a.queue_write(rm::DB_PUSH.offset, SIZE);
    }
    for k in 0..hits {
        p.a.queue_write(rm::DB_ADDR.offset, (SRC_PAGE << PAGE_SHIFT) + k * SIZE);
        p.a.queue_write(rm::DB_PUSH.offset, SIZE);
    }
    p.settle_bus(0);
    p.a.queue_write(rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
    let enable = p.a.cycle;
    let mut last_write = vec![None; hits as usize];
    let dst = DST_PAGE << PAGE_SHIFT;
    for _ in 0..(hits as u64 + 2) * 40 + 200 {
        p.step();
        let b = p.b.activity;
        if b.write == Some(p.b.cycle - 1) && b.write_addr >= dst {
            let k = ((b.write_addr - dst) / SIZE) as usize;
            if k < last_write.len() {
                last_write[k] = b.write;
            }
        }
    }
    let ends: Vec<u64> = p
        .rx_ends
        .iter()
        .filter(|e| e.1 >> PAGE_SHIFT == NVA_PAGE)
        .map(|e| e.0)
        .collect();
    let writes: Vec<u64> = last_write.iter().map(|w| w.unwrap_or(0)).collect();
    let status = p.read(false, rm::STATUS.offset);
    HitRun {
        eop_to_write: ends.iter().zip(&writes).map(|(e, w)| w - e).collect(),
        delivery: writes.iter().map(|w| w - enable).collect(),
        parked: rm::STATUS_PARKED.get(status),
        delivered: ends.len() == hits as usize
            && last_write.iter().all(Option::is_some)
            && p.delivered(0, (hits * SIZE) as usize),
    }
}

// ---- The whole report -----------------------------------------------------------------------

mod report;
pub use report::{run, Options, Report, Speed, SIZES};

#[cfg(test)]
mod tests;
