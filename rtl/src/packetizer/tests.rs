//! Tests of the `packetizer` block: behaviour against its reference, replay in Icarus, synthesis checks.
use super::*;
// One packet command as the TX MMU presents it.
use crate::interfaces::TxCommand as Cmd;
use crate::spec::packet::{encode, Header};
use crate::spec::params::PAGE_SHIFT;
use proptest::prelude::*;
use std::collections::VecDeque;
use vassa_hdl_tools::testbench::{yosys_check, Bench, XorShift};

/// How the memory model answers.
#[derive(Debug, Clone, Copy)]
struct MemTiming {
    /// Cycles from the request cycle to the first beat's cycle (>= 1).
    latency: u64,
    /// Random extra latency per request, random gaps between beats and random
    /// `rd_req_ready` deassertion.
    jitter: bool,
    seed: u64,
}

impl MemTiming {
    fn fixed(latency: u64) -> Self {
        MemTiming {
            latency,
            jitter: false,
            seed: 1,
        }
    }
}

/// A byte array serving read bursts in order, one beat per cycle at most.
struct Memory {
    base: u32,
    bytes: Vec<u8>,
    timing: MemTiming,
    rng: XorShift,
    /// (next word address, beats left, first cycle a beat may be returned).
    queue: VecDeque<(u32, u32, u64)>,
    last_ready: u64,
}

impl Memory {
    fn word(&self, addr: u32) -> u32 {
        let i = addr
            .checked_sub(self.base)
            .expect("read below the memory model") as usize;
        assert!(i + 4 <= self.bytes.len(), "read beyond the memory model");
        u32::from_le_bytes(self.bytes[i..i + 4].try_into().unwrap())
    }
}

/// Link words with tx_valid high: (cycle, sop, eop, data).
type LinkWord = (u64, bool, bool, u32);

struct Harness {
    bench: Bench<Packetizer>,
    params: CoreParams,
    node_id: u8,
    mem: Memory,
    /// Commands not yet accepted, each with the first cycle it may be presented.
    pending: VecDeque<(Cmd, u64)>,
    accepted: Vec<(Cmd, u64)>,
    requests: Vec<(u32, u32, u64)>,
    /// rd_req fields offered and not accepted in the previous cycle.
    offered: Option<(u32, u32)>,
    link: Vec<LinkWord>,
    sent: Vec<(u64, u32, u32)>,
}

impl Harness {
    fn new(params: CoreParams, node_id: u8, mem: Memory) -> Self {
        Harness {
            bench: Bench::new(Packetizer::new(&params), |p| &mut p.clock),
            params,
            node_id,
            mem,
            pending: VecDeque::new(),
            accepted: Vec::new(),
            requests: Vec::new(),
            offered: None,
            link: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn push(&mut self, cmd: Cmd, not_before: u64) {
        self.pending.push_back((cmd, not_before));
    }

    fn cycle(&mut self) {
        let now = self.bench.cycle;
        let jitter = self.mem.timing.jitter;
        let u = &mut self.bench.uut;
        // Command port.
        let offer = self
            .pending
            .front()
            .filter(|(_, t)| *t <= now)
            .map(|(c, _)| *c);
        u.cmd.valid.next = offer.is_some();
        let c = offer.unwrap_or(Cmd {
            addr: 0xDEAD_BEEF,
            length: 0x1FFF,
            nva: 0xDEAD_BEEF,
            epoch: 0xAA,
            slot: 0x3F,
            first: true,
            last: true,
            user: true,
        });
        c.drive(&mut u.cmd);
        u.node_id.next = (self.node_id as u64).into();
        // Memory: one beat at most, in order.
        let mut beat = None;
        if let Some(&(addr, left, ready)) = self.mem.queue.front() {
            if ready <= now && !(jitter && self.mem.rng.chance(25)) {
                beat = Some(self.mem.word(addr));
                if left == 1 {
                    self.mem.queue.pop_front();
                } else {
                    self.mem.queue[0] = (addr + 4, left - 1, ready);
                }
            }
        }
        let u = &mut self.bench.uut;
        u.mem_rd.data_valid.next = beat.is_some();
        u.mem_rd.data.next = (beat.unwrap_or(0x5A5A_5A5A) as u64).into();
        let ready = !(jitter && self.mem.rng.chance(30));
        u.mem_rd.req_ready.next = ready;
        self.bench.settle();

        let u = &self.bench.uut;
        for (write, full, read, empty) in [
            (
                &u.payload.write,
                &u.payload.full,
                &u.payload.read,
                &u.payload.empty,
            ),
            (
                &u.cmd_queue.write,
                &u.cmd_queue.full,
                &u.cmd_queue.read,
                &u.cmd_queue.empty,
            ),
        ] {
            assert!(!(write.val() && full.val()), "FIFO overflow at cycle {now}");
            assert!(
                !(read.val() && empty.val()),
                "FIFO underflow at cycle {now}"
            );
        }
        if u.cmd.valid.val() && u.cmd.ready.val() {
            let (cmd, _) = self.pending.pop_front().unwrap();
            self.accepted.push((cmd, now));
        }
        if u.mem_rd.req_valid.val() {
            let addr = u.mem_rd.req_addr.val().to_u64() as u32;
            let len = u.mem_rd.req_len.val().to_u64() as u32;
            if let Some(prev) = self.offered {
                assert_eq!(prev, (addr, len), "rd_req changed while waiting for ready");
            }
            if ready {
                let mut at = now + self.mem.timing.latency;
                if jitter {
                    at += self.mem.rng.next_u64() % 8;
                }
                at = at.max(self.mem.last_ready);
                self.mem.last_ready = at;
                self.mem.queue.push_back((addr, len, at));
                self.requests.push((addr, len, now));
                self.offered = None;
            } else {
                self.offered = Some((addr, len));
            }
        } else {
            assert!(self.offered.is_none(), "rd_req_valid dropped before ready");
        }
        if u.link.valid.val() {
            self.link.push((
                now,
                u.link.sop.val(),
                u.link.eop.val(),
                u.link.data.val().to_u64() as u32,
            ));
        } else {
            assert!(
                !u.link.sop.val() && !u.link.eop.val(),
                "sop/eop without valid"
            );
        }
        if u.sent.valid.val() {
            self.sent.push((
                now,
                u.sent.slot.val().to_u64() as u32,
                u.sent.bytes.val().to_u64() as u32,
            ));
        }
        self.bench.step();
    }

    /// Runs until every command has been sent (or panics after `limit` cycles).
    fn run(&mut self, limit: u64) {
        let total = self.pending.len() + self.accepted.len();
        let start = self.bench.cycle;
        while self.link.iter().filter(|w| w.2).count() < total {
            assert!(
                self.bench.cycle - start < limit,
                "timeout: {} of {} packets sent",
                self.link.iter().filter(|w| w.2).count(),
                total
            );
            self.cycle();
        }
        // A few more cycles: nothing else may appear on the link or the read port.
        let (links, reqs) = (self.link.len(), self.requests.len());
        for _ in 0..8 {
            self.cycle();
        }
        assert_eq!(self.link.len(), links, "link words after the last packet");
        assert_eq!(
            self.requests.len(),
            reqs,
            "read requests after the last packet"
        );
    }

    fn expected_packet(&self, c: &Cmd) -> Vec<u32> {
        let h = Header {
            nva: c.nva,
            length: c.length,
            first: c.first,
            last: c.last,
            user: c.user,
            src_node: self.node_id,
            epoch: c.epoch,
        };
        let i = (c.addr - self.mem.base) as usize;
        encode(&h, &self.mem.bytes[i..i + c.length as usize])
    }

    /// Packets on the link, split by sop/eop (checks framing).
    fn packets(&self) -> Vec<Vec<LinkWord>> {
        let mut out: Vec<Vec<LinkWord>> = Vec::new();
        let mut open = false;
        for w in &self.link {
            assert_eq!(w.1, !open, "sop must start exactly every packet: {w:?}");
            if w.1 {
                out.push(Vec::new());
            }
            out.last_mut().unwrap().push(*w);
            open = !w.2;
        }
        assert!(!open, "last packet not closed");
        out
    }

    /// Checks every packet, read request and counter event against the commands.
    fn check(&self) {
        let packets = self.packets();
        assert_eq!(packets.len(), self.accepted.len());
        for (p, (c, _)) in packets.iter().zip(&self.accepted) {
            let words: Vec<u32> = p.iter().map(|w| w.3).collect();
            assert_eq!(words, self.expected_packet(c), "packet for {c:x?}");
        }
        // Reads: exactly the covered words of each command, in order, in line-bounded bursts.
        let line = self.params.line_bytes;
        let mut got = Vec::new();
        for &(addr, len, _) in &self.requests {
            assert_eq!(addr % 4, 0, "unaligned read {addr:#x}");
            assert!(len >= 1 && len <= self.params.line_words(), "burst {len}");
            assert_eq!(
                addr / line,
                (addr + 4 * len - 1) / line,
                "burst crosses a line"
            );
            got.extend((0..len).map(|k| addr + 4 * k));
        }
        let mut want = Vec::new();
        for (c, _) in &self.accepted {
            let first = c.addr & !3;
            let last = (c.addr + c.length - 1) & !3;
            want.extend((first..=last).step_by(4));
        }
        assert_eq!(got, want, "read words");
        // Counter events with the trailers.
        assert_eq!(self.sent.len(), packets.len());
        for ((s, p), (c, _)) in self.sent.iter().zip(&packets).zip(&self.accepted) {
            assert_eq!(s.0, p.last().unwrap().0, "sent_event not with the trailer");
            assert_eq!((s.1, s.2), (c.slot as u32, c.length), "sent slot/bytes");
        }
    }

    /// Cycles without a link word between the first sop and the last eop.
    fn idle_cycles(&self) -> u64 {
        let first = self.link.first().unwrap().0;
        let last = self.link.last().unwrap().0;
        last + 1 - first - self.link.len() as u64
    }
}

fn random_memory(base: u32, size: usize, timing: MemTiming) -> Memory {
    let mut rng = XorShift(timing.seed | 1);
    Memory {
        base,
        bytes: (0..size).map(|_| rng.next_u64() as u8).collect(),
        timing,
        rng: XorShift(timing.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        queue: VecDeque::new(),
        last_ready: 0,
    }
}

/// Back-to-back commands of `length` bytes at byte offset `align` in consecutive slots.
fn stream(params: CoreParams, length: u32, align: u32, count: usize, latency: u64) -> Harness {
    let base = 0x4000_0000;
    let mut h = Harness::new(
        params,
        0x17,
        random_memory(base, 64 * 1024, MemTiming::fixed(latency)),
    );
    let stride = (length + align + 3) & !3;
    let mut addr = base + align;
    for i in 0..count {
        // Keep every packet inside one page, as the TX MMU does.
        if (addr & 0xFFF) + length > 0x1000 {
            addr = ((addr + 0xFFF) & !0xFFF) + align;
        }
        h.push(
            Cmd {
                addr,
                length,
                nva: 0x1234_5000 + addr - base,
                epoch: i as u8,
                slot: (i % 64) as u8,
                first: i == 0,
                last: i == count - 1,
                user: i % 3 == 0,
            },
            0,
        );
        addr += stride;
    }
    h.run(100_000);
    h.check();
    h
}

#[test]
fn verilog_is_clean() {
    let v = yosys_check("packetizer", Packetizer::new(&CoreParams::default()));
    vassa_hdl_tools::testbench::lint_check("packetizer", Packetizer::new(&CoreParams::default()));
    // For synthesis experiments: VASSA_DUMP_VERILOG=path writes the default block's Verilog.
    if let Some(path) = std::env::var_os("VASSA_DUMP_VERILOG") {
        std::fs::write(path, &v).unwrap();
    }
    yosys_check(
        "packetizer_lines",
        Packetizer::new(&CoreParams {
            line_bytes: 4,
            max_payload: 4096,
            ..Default::default()
        }),
    );
}

/// The generated Verilog, run by Icarus Verilog, reproduces the Rust model cycle for cycle
/// on a run with jittery memory, every alignment and back-to-back packets.
#[test]
fn verilog_matches_the_model_under_iverilog() {
    let params = CoreParams {
        line_bytes: 16,
        ..Default::default()
    };
    yosys_check("packetizer_replay", Packetizer::new(&params));
    let base = 0x7654_3000;
    let timing = MemTiming {
        latency: 3,
        jitter: true,
        seed: 99,
    };
    let mut h = Harness::new(params, 0x42, random_memory(base, 16 * 1024, timing));
    h.bench.record();
    let mut at = 0;
    for i in 0..40u32 {
        let offset = (i * 0x3F1 + i * i) % 0x3000;
        let room = PAGE_SIZE - (offset & (PAGE_SIZE - 1));
        let length = (1 + (i * 37) % 256).min(room);
        at += if i % 5 == 4 { 60 } else { 0 };
        h.push(
            Cmd {
                addr: base + offset,
                length,
                nva: 0x9000_0000 ^ (i << 7),
                epoch: (i * 13) as u8,
                slot: (i % 64) as u8,
                first: i % 2 == 0,
                last: i % 3 == 0,
                user: i % 5 == 0,
            },
            at,
        );
    }
    h.run(100_000);
    h.check();
    h.bench.replay("packetizer");
}

#[test]
fn single_packets_every_alignment_and_tail() {
    for align in 0..4 {
        for length in [1, 2, 3, 4, 5, 6, 7, 8, 9, 31, 32, 33] {
            let mut h = Harness::new(
                CoreParams::default(),
                0xC3,
                random_memory(0x10_0000, 4096, MemTiming::fixed(3)),
            );
            h.push(
                Cmd {
                    addr: 0x10_0000 + 0x3C + align,
                    length,
                    nva: 0xABCD_E03C + align,
                    epoch: 0x5A,
                    slot: 9,
                    first: true,
                    last: length % 2 == 0,
                    user: true,
                },
                0,
            );
            h.run(1000);
            h.check();
        }
    }
}

#[test]
fn latency_and_line_rate() {
    let p = CoreParams::default();
    for latency in [1u64, 8, 20] {
        let mut h = Harness::new(p, 1, random_memory(0x2000, 4096, MemTiming::fixed(latency)));
        h.push(
            Cmd {
                addr: 0x2000 + 0x101,
                length: 32,
                nva: 0x101,
                epoch: 1,
                slot: 1,
                first: true,
                last: true,
                user: false,
            },
            5,
        );
        h.run(1000);
        h.check();
        let accepted = h.accepted[0].1;
        let first_word = h.link[0].0;
        let first_req = h.requests[0].2;
        println!(
                "memory latency {latency:2}: command accepted at {accepted}, first read request at {first_req}, \
                 first link word at {first_word}: {} cycles command -> first word ({} beyond the memory latency)",
                first_word - accepted,
                first_word - accepted - latency
            );
        // The command queue shows a command five cycles after it is taken (four RAM rows),
        // which is what a memory faster than three cycles waits for.
        assert_eq!(first_word - accepted, (latency + 3).max(6));
    }
    for (length, align) in [(32u32, 0u32), (32, 1), (256, 0), (256, 3)] {
        let count = 16;
        let h = stream(p, length, align, count, 8);
        let cycles = h.link.last().unwrap().0 + 1 - h.link[0].0;
        let payload_words = count as u64 * length.div_ceil(4) as u64;
        println!(
                "{count} x {length} B (offset {align}), memory latency 8: {cycles} link cycles, {} idle, \
                 link busy {:.1} %, payload efficiency {:.1} % (ideal {:.1} %)",
                h.idle_cycles(),
                100.0 * h.link.len() as f64 / cycles as f64,
                100.0 * payload_words as f64 / cycles as f64,
                100.0 * length.div_ceil(4) as f64 / (length.div_ceil(4) + 3) as f64
            );
        assert_eq!(
            h.idle_cycles(),
            0,
            "idle link cycles between back-to-back packets"
        );
    }
}

/// For the report: the longest fixed memory latency that still gives an idle-free link for
/// back-to-back packets of several sizes (run with `--ignored --nocapture`).
#[test]
#[ignore]
fn line_rate_latency_sweep() {
    for line_bytes in [32, 128] {
        let p = CoreParams {
            line_bytes,
            ..Default::default()
        };
        for length in [1u32, 4, 32, 64, 256] {
            let mut best = 0;
            for latency in 1..=120u64 {
                if stream(p, length, 1, 24, latency).idle_cycles() != 0 {
                    break;
                }
                best = latency;
            }
            println!(
                    "line {line_bytes:3} B, packets of {length:3} B at offset 1: idle-free up to memory latency {best}"
                );
        }
    }
}

const LINE_CHOICES: [u32; 6] = [4, 8, 16, 32, 64, 128];
const MEM_PAGES: u32 = 16;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_commands_match_the_spec(
        line_sel in 0usize..LINE_CHOICES.len(),
        max_words in 1u32..=128,
        node_id in any::<u8>(),
        latency in 1u64..=24,
        jitter in any::<bool>(),
        spaced in any::<bool>(),
        seed in any::<u64>(),
        base_page in 0u32..((1 << (32 - PAGE_SHIFT)) - MEM_PAGES),
        raw in proptest::collection::vec(
            (0..MEM_PAGES << PAGE_SHIFT, any::<u32>(), any::<u32>(), any::<u8>(), 0u8..64,
             any::<bool>(), any::<bool>(), any::<bool>(), 0u64..40),
            1..=12),
    ) {
        let params = CoreParams {
            line_bytes: LINE_CHOICES[line_sel],
            max_payload: max_words * 4,
            ..Default::default()
        };
        let base = base_page << PAGE_SHIFT;
        let timing = MemTiming { latency, jitter, seed };
        let mut h = Harness::new(params, node_id,
            random_memory(base, (MEM_PAGES << PAGE_SHIFT) as usize, timing));
        let mut at = 0;
        for &(offset, len_seed, nva, epoch, slot, first, last, user, gap) in &raw {
            // Never cross a page, as the TX MMU guarantees.
            let room = PAGE_SIZE - (offset & (PAGE_SIZE - 1));
            let length = 1 + len_seed % params.max_payload.min(room);
            if spaced {
                at += gap * 4;
            }
            h.push(Cmd { addr: base + offset, length, nva, epoch, slot, first, last, user }, at);
        }
        h.run(200_000);
        h.check();
        if !jitter && !spaced {
            prop_assert_eq!(h.idle_cycles(), 0, "idle link cycles with fixed-latency memory");
        }
    }
}
