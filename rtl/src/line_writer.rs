//! Line writer: copies one received payload from the receive buffer RAM to host memory.
//!
//! A job names the buffer word holding payload byte 0 (`job_base`), the destination physical
//! byte address (`job_addr`, any alignment) and the payload length. A job with `job_ring` reads
//! from the receive ring at the bottom of the RAM (`rx_ring_words()` words): its read address
//! wraps from the last ring word to word 0; other jobs (miss buffers) read contiguously. The writer reads payload
//! words from the [`PacketRam`](crate::packet_ram::PacketRam) read port (registered read: data
//! arrives the cycle after the address), shifts them to the destination byte lane and drives the
//! memory write port one beat per cycle: `wr_addr` word-aligned, `mem_wr.strb` set only on payload
//! bytes, `mem_wr.last` on the last beat of a burst (a burst ends at every line boundary and at the
//! end of the job). `mem_wr.ready` may drop at any time; the beat on the port then holds still.
//!
//! Data path: beat `k` of a job whose destination starts at byte lane `s` carries payload word
//! `k` in lanes `s..4` and the upper bytes of word `k-1` in lanes `0..s`. The RAM address is
//! held while the beat stalls (the RAM re-reads the same word), and advances combinationally on
//! the accepting cycle, so there is no bubble between beats; the next job is accepted in the
//! cycle of the previous job's last beat, so there is none between jobs either.

use crate::interfaces::MemWriteController;
use crate::packet_ram::PACKET_RAM_ADDR_BITS;
use crate::spec::params::CoreParams;
use rust_hdl::prelude::*;

/// Width of the beat counter: enough for `ceil((3 + 4096) / 4)` beats.
const BEAT_BITS: usize = 11;

#[derive(LogicBlock)]
pub struct LineWriter {
    pub clock: Signal<In, Clock>,
    // Job in (valid/ready).
    pub job_valid: Signal<In, Bit>,
    pub job_ready: Signal<Out, Bit>,
    pub job_base: Signal<In, Bits<PACKET_RAM_ADDR_BITS>>,
    pub job_addr: Signal<In, Bits<32>>,
    pub job_length: Signal<In, Bits<13>>,
    /// The payload is in the receive ring (read address wraps at the ring's end).
    pub job_ring: Signal<In, Bit>,
    // Receive buffer read port.
    pub ram_read_address: Signal<Out, Bits<PACKET_RAM_ADDR_BITS>>,
    pub ram_read_data: Signal<In, Bits<32>>,
    // Memory write port.
    /// The words written, with byte strobes.
    pub mem_wr: MemWriteController,
    /// Pulse in the cycle the job's last beat is accepted.
    pub done: Signal<Out, Bit>,
    // State.
    active: DFF<Bit>,
    raddr: DFF<Bits<PACKET_RAM_ADDR_BITS>>,
    ring: DFF<Bit>,
    prev: DFF<Bits<32>>,
    waddr: DFF<Bits<32>>,
    beats: DFF<Bits<BEAT_BITS>>,
    shift: DFF<Bits<2>>,
    first: DFF<Bit>,
    first_strb: DFF<Bits<4>>,
    last_strb: DFF<Bits<4>>,
    // Combinational helpers.
    is_last: Signal<Local, Bit>,
    advance: Signal<Local, Bit>,
    rnext: Signal<Local, Bits<PACKET_RAM_ADDR_BITS>>,
    strb_first: Signal<Local, Bits<4>>,
    strb_last: Signal<Local, Bits<4>>,
    end_off: Signal<Local, Bits<PACKET_RAM_ADDR_BITS>>,
    /// The read address, settled here and driven to the port once: an output assigned several
    /// times in one pass glitches in event-driven simulators (Icarus), and a glitch that wakes
    /// the parent, whose job inputs glitch back, never settles.
    read_addr: Signal<Local, Bits<PACKET_RAM_ADDR_BITS>>,
    start_lane: Signal<Local, Bits<2>>,
    end_lane: Signal<Local, Bits<2>>,
    /// `line_bytes - 4`: a word address with all these bits set is the last word of a line.
    line_mask: Constant<Bits<32>>,
    /// `rx_ring_words() - 1`.
    ring_mask: Constant<Bits<PACKET_RAM_ADDR_BITS>>,
}

impl LineWriter {
    pub fn new(params: &CoreParams) -> Self {
        assert!(params.line_bytes.is_power_of_two() && params.line_bytes >= 4);
        LineWriter {
            clock: Default::default(),
            job_valid: Default::default(),
            job_ready: Default::default(),
            job_base: Default::default(),
            job_addr: Default::default(),
            job_length: Default::default(),
            job_ring: Default::default(),
            ram_read_address: Default::default(),
            ram_read_data: Default::default(),
            mem_wr: Default::default(),
            done: Default::default(),
            active: Default::default(),
            raddr: Default::default(),
            ring: Default::default(),
            prev: Default::default(),
            waddr: Default::default(),
            beats: Default::default(),
            shift: Default::default(),
            first: Default::default(),
            first_strb: Default::default(),
            last_strb: Default::default(),
            is_last: Default::default(),
            advance: Default::default(),
            rnext: Default::default(),
            strb_first: Default::default(),
            strb_last: Default::default(),
            end_off: Default::default(),
            read_addr: Default::default(),
            start_lane: Default::default(),
            end_lane: Default::default(),
            line_mask: Constant::new(((params.line_bytes - 4) as u64).into()),
            ring_mask: Constant::new(((params.rx_ring_words() - 1) as u64).into()),
        }
    }
}

impl Logic for LineWriter {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, active, raddr, ring, prev, waddr, beats, shift, first, first_strb,
            last_strb
        );
        self.is_last.next = self.beats.q.val() == 1;
        self.advance.next = self.active.q.val() & self.mem_wr.ready.val();
        self.done.next = self.advance.val() & self.is_last.val();
        self.job_ready.next = !self.active.q.val() | (self.advance.val() & self.is_last.val());

        // The beat on the port.
        self.mem_wr.valid.next = self.active.q.val();
        self.mem_wr.addr.next = self.waddr.q.val();
        if self.shift.q.val() == 1 {
            self.mem_wr.data.next = (self.ram_read_data.val() << 8) | (self.prev.q.val() >> 24);
        } else if self.shift.q.val() == 2 {
            self.mem_wr.data.next = (self.ram_read_data.val() << 16) | (self.prev.q.val() >> 16);
        } else if self.shift.q.val() == 3 {
            self.mem_wr.data.next = (self.ram_read_data.val() << 24) | (self.prev.q.val() >> 8);
        } else {
            self.mem_wr.data.next = self.ram_read_data.val();
        }
        self.strb_first.next = 15.into();
        if self.first.q.val() {
            self.strb_first.next = self.first_strb.q.val();
        }
        self.strb_last.next = 15.into();
        if self.is_last.val() {
            self.strb_last.next = self.last_strb.q.val();
        }
        self.mem_wr.strb.next = self.strb_first.val() & self.strb_last.val();
        self.mem_wr.last.next = self.is_last.val()
            | ((self.waddr.q.val() & self.line_mask.val()) == self.line_mask.val());

        // Read address: held while the beat stalls, next word when it is accepted.
        self.read_addr.next = self.raddr.q.val();
        self.rnext.next = self.raddr.q.val() + 1;
        if self.ring.q.val() {
            self.rnext.next = (self.raddr.q.val() + 1) & self.ring_mask.val();
        }
        if self.advance.val() {
            self.raddr.d.next = self.rnext.val();
            self.read_addr.next = self.rnext.val();
            self.prev.d.next = self.ram_read_data.val();
            self.waddr.d.next = self.waddr.q.val() + 4;
            self.beats.d.next = self.beats.q.val() - 1;
            self.first.d.next = false;
            if self.is_last.val() {
                self.active.d.next = false;
            }
        }

        // A new job (possibly in the cycle of the previous job's last beat).
        self.start_lane.next = self.job_addr.val().get_bits::<2>(0);
        self.end_off.next = bit_cast::<PACKET_RAM_ADDR_BITS, 13>(self.job_length.val())
            + bit_cast::<PACKET_RAM_ADDR_BITS, 2>(self.start_lane.val())
            - 1;
        self.end_lane.next = self.end_off.val().get_bits::<2>(0);
        if self.job_valid.val() & self.job_ready.val() {
            self.active.d.next = true;
            self.raddr.d.next = self.job_base.val();
            self.ring.d.next = self.job_ring.val();
            self.read_addr.next = self.job_base.val();
            self.waddr.d.next = (self.job_addr.val() >> 2) << 2;
            self.beats.d.next =
                bit_cast::<BEAT_BITS, PACKET_RAM_ADDR_BITS>(self.end_off.val() >> 2) + 1;
            self.first.d.next = true;
            self.shift.d.next = self.start_lane.val();
            if self.start_lane.val() == 1 {
                self.first_strb.d.next = 14.into();
            } else if self.start_lane.val() == 2 {
                self.first_strb.d.next = 12.into();
            } else if self.start_lane.val() == 3 {
                self.first_strb.d.next = 8.into();
            } else {
                self.first_strb.d.next = 15.into();
            }
            if self.end_lane.val() == 0 {
                self.last_strb.d.next = 1.into();
            } else if self.end_lane.val() == 1 {
                self.last_strb.d.next = 3.into();
            } else if self.end_lane.val() == 2 {
                self.last_strb.d.next = 7.into();
            } else {
                self.last_strb.d.next = 15.into();
            }
        }
        self.ram_read_address.next = self.read_addr.val();
    }
}

/// One memory write beat as the writer should produce it (software model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub addr: u32,
    pub data: u32,
    pub strb: u8,
    pub last: bool,
}

/// The beats the writer produces for `payload` written at `addr` with lines of `line_bytes`;
/// bytes outside the payload are zero in `data` and off in `strb`.
pub fn model_beats(addr: u32, payload: &[u8], line_bytes: u32) -> Vec<Beat> {
    assert!(!payload.is_empty());
    let first = addr & !3;
    let end = addr as u64 + payload.len() as u64; // one past the last byte
    let n = ((end - first as u64).div_ceil(4)) as u32;
    (0..n)
        .map(|k| {
            let wa = first.wrapping_add(4 * k);
            let mut data = 0u32;
            let mut strb = 0u8;
            for lane in 0..4u32 {
                let byte_addr = wa as u64 + lane as u64;
                if byte_addr >= addr as u64 && byte_addr < end {
                    data |= (payload[(byte_addr - addr as u64) as usize] as u32) << (8 * lane);
                    strb |= 1 << lane;
                }
            }
            let line_end = wa.wrapping_add(4) & (line_bytes - 1) == 0;
            Beat {
                addr: wa,
                data,
                strb,
                last: k == n - 1 || line_end,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::packet::bytes_to_words;
    use proptest::prelude::*;
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::{yosys_check, Bench};

    /// A job for the bench: payload placed at `base` in the buffer RAM, written to `addr`.
    #[derive(Debug, Clone)]
    struct Job {
        base: u32,
        /// In the receive ring: the payload wraps at `rx_ring_words()`.
        ring: bool,
        addr: u32,
        payload: Vec<u8>,
    }

    /// Result of running jobs through the writer.
    struct Run {
        mem: Vec<u8>,
        cycles: u64,
    }

    /// Memory window the jobs write into (byte address `MEM_BASE..MEM_BASE + mem.len()`).
    const MEM_BASE: u32 = 0x0010_0000;

    /// Runs `jobs` through a `LineWriter`: the buffer RAM is modelled with a registered read,
    /// `ready(cycle)` drives `mem_wr.ready`, `gap(cycle)` withholds `job_valid` (before a job is
    /// offered; an offered job stays valid until taken). Checks every beat against
    /// [`model_beats`], the stability of a stalled beat, `done` and the RAM addresses.
    fn run(
        params: &CoreParams,
        jobs: &[Job],
        mem_init: &[u8],
        mut ready: impl FnMut(u64) -> bool,
        mut gap: impl FnMut(u64) -> bool,
    ) -> Run {
        let mut ram = vec![0u32; 1 << 14];
        for (i, w) in ram.iter_mut().enumerate() {
            *w = (i as u32).wrapping_mul(0x9E37_79B9) ^ 0xA5A5_0000; // filler outside payloads
        }
        let mut mem = mem_init.to_vec();
        let mut b = Bench::new(LineWriter::new(params), |w| &mut w.clock);
        let mut pending: VecDeque<&Job> = jobs.iter().collect();
        let mut offered = false;
        // Beats expected from accepted jobs, in order, with the job index they close.
        let mut expected: VecDeque<(Beat, Option<usize>)> = VecDeque::new();
        let mut accepted = 0usize;
        let mut finished = 0usize;
        let mut stalled: Option<Beat> = None;
        let limit = 200
            + jobs
                .iter()
                .map(|j| j.payload.len() as u64 * 20 + 50)
                .sum::<u64>();
        while finished < jobs.len() {
            assert!(b.cycle < limit, "writer hung");
            let cycle = b.cycle;
            // Job source.
            if !offered && !pending.is_empty() && !gap(cycle) {
                offered = true;
                // The job's payload is placed in the RAM when it is offered.
                let j = pending[0];
                let ring_mask = params.rx_ring_words() as usize - 1;
                for (i, w) in bytes_to_words(&j.payload).iter().enumerate() {
                    let a = j.base as usize + i;
                    ram[if j.ring { a & ring_mask } else { a }] = *w;
                }
            }
            b.uut.job_valid.next = offered;
            if let Some(j) = pending.front() {
                b.uut.job_base.next = (j.base as u64).into();
                b.uut.job_ring.next = j.ring;
                b.uut.job_addr.next = (j.addr as u64).into();
                b.uut.job_length.next = (j.payload.len() as u64).into();
            }
            let rdy = ready(cycle);
            b.uut.mem_wr.ready.next = rdy;
            b.settle();
            // Memory port.
            let valid = b.uut.mem_wr.valid.val();
            if stalled.take().is_some() {
                assert!(valid, "wr_valid dropped while stalled");
            }
            let mut done_expected = false;
            if valid {
                let beat = Beat {
                    addr: b.uut.mem_wr.addr.val().to_u32(),
                    data: b.uut.mem_wr.data.val().to_u32(),
                    strb: b.uut.mem_wr.strb.val().to_u32() as u8,
                    last: b.uut.mem_wr.last.val(),
                };
                let (want, closes) = *expected.front().expect("beat without a job");
                let mut masked = beat;
                let mut m = 0u32;
                for lane in 0..4 {
                    if beat.strb & (1 << lane) != 0 {
                        m |= 0xFF << (8 * lane);
                    }
                }
                masked.data &= m;
                assert_eq!(masked, want, "cycle {cycle}");
                if rdy {
                    expected.pop_front();
                    for lane in 0..4u32 {
                        if beat.strb & (1 << lane) != 0 {
                            let a = (beat.addr + lane - MEM_BASE) as usize;
                            mem[a] = (beat.data >> (8 * lane)) as u8;
                        }
                    }
                    if let Some(idx) = closes {
                        assert_eq!(idx, finished);
                        finished += 1;
                        done_expected = true;
                    }
                } else {
                    stalled = Some(beat);
                }
            }
            assert_eq!(b.uut.done.val(), done_expected, "done at cycle {cycle}");
            if offered && b.uut.job_ready.val() {
                let j = pending.pop_front().unwrap();
                offered = false;
                let beats = model_beats(j.addr, &j.payload, params.line_bytes);
                let n = beats.len();
                for (k, beat) in beats.into_iter().enumerate() {
                    expected.push_back((beat, (k == n - 1).then_some(accepted)));
                }
                accepted += 1;
            }
            let read_addr = b.uut.ram_read_address.val().index();
            let stalled_beat = stalled;
            b.step();
            b.uut.ram_read_data.next = (ram[read_addr] as u64).into();
            b.settle();
            if let Some(s) = stalled_beat {
                assert_eq!(b.uut.mem_wr.addr.val().to_u32(), s.addr);
                assert_eq!(
                    b.uut.mem_wr.data.val().to_u32(),
                    s.data,
                    "data changed while stalled"
                );
                assert_eq!(b.uut.mem_wr.strb.val().to_u32() as u8, s.strb);
                assert_eq!(b.uut.mem_wr.last.val(), s.last);
            }
        }
        Run {
            mem,
            cycles: b.cycle,
        }
    }

    fn expected_image(jobs: &[Job], mem_init: &[u8]) -> Vec<u8> {
        let mut mem = mem_init.to_vec();
        for j in jobs {
            let off = (j.addr - MEM_BASE) as usize;
            mem[off..off + j.payload.len()].copy_from_slice(&j.payload);
        }
        mem
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check("line_writer", LineWriter::new(&CoreParams::default()));
        vassa_hdl_tools::testbench::lint_check(
            "line_writer",
            LineWriter::new(&CoreParams::default()),
        );
    }

    #[test]
    fn model_beats_example() {
        // 6 bytes at offset 3 of a word, 8-byte lines: lanes 3 | 0..3 | 0..1, line break after
        // the second word.
        let beats = model_beats(0x1003, &[1, 2, 3, 4, 5, 6], 8);
        assert_eq!(beats.len(), 3);
        assert_eq!(beats[0].strb, 0b1000);
        assert_eq!(beats[0].data, 0x0100_0000);
        assert!(!beats[0].last);
        assert_eq!(beats[1].strb, 0b1111);
        assert_eq!(beats[1].data, 0x0504_0302);
        assert!(beats[1].last); // 0x1004..0x1008 ends the 8-byte line
        assert_eq!(beats[2].strb, 0b0001);
        assert!(beats[2].last);
    }

    #[test]
    fn back_to_back_jobs_have_no_bubble() {
        let params = CoreParams::default();
        let ring = params.rx_ring_words();
        let mem_init = vec![0u8; 4096];
        let jobs: Vec<Job> = (0..4)
            .map(|i| Job {
                // Jobs 1 and 3 in the ring (job 1 wraps at its end), 0 and 2 above it.
                base: [ring, ring - 8, ring + 64, 8][i as usize],
                ring: i % 2 == 1,
                addr: MEM_BASE + 200 * i + i, // mixed alignments
                payload: (0..61 + i).map(|x| (x * 7 + i) as u8).collect(),
            })
            .collect();
        let total_beats: usize = jobs
            .iter()
            .map(|j| model_beats(j.addr, &j.payload, params.line_bytes).len())
            .sum();
        let r = run(&params, &jobs, &mem_init, |_| true, |_| false);
        // One cycle to take the first job, then one beat per cycle.
        assert_eq!(r.cycles as usize, total_beats + 1);
        assert_eq!(r.mem, expected_image(&jobs, &mem_init));
    }

    fn arb_case() -> impl Strategy<Value = (CoreParams, Vec<Job>, Vec<u8>, u64, u8, u8)> {
        (
            2u32..=7, // line bytes log2
            proptest::collection::vec((0u32..8192, 1usize..=300, any::<bool>()), 1..6),
            any::<u64>(), // seed for payload, memory and ready patterns
            0u8..=3,      // ready probability: 0 always ready, else 1/(k+1) stalls
            0u8..=2,      // job gap pattern
        )
            .prop_map(|(line_log2, specs, seed, ready_kind, gap_kind)| {
                let params = CoreParams {
                    line_bytes: 1 << line_log2,
                    max_payload: 4096,
                    ..Default::default()
                };
                let mut rng = seed;
                let mut next = move || {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    rng
                };
                let mem_init: Vec<u8> = (0..8192 + 4200).map(|_| next() as u8).collect();
                let mut base = 0u32;
                let ring_words = params.rx_ring_words();
                let mut ring_base = next() as u32 % ring_words;
                let jobs = specs
                    .into_iter()
                    .map(|(off, len, long)| {
                        // Occasionally a long payload (up to the page size).
                        let len = if long && len < 30 { 4096 - len } else { len };
                        let payload: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                        let words = (len as u32).div_ceil(4);
                        // Ring jobs follow each other around the ring (wrapping); the others
                        // read contiguously above it.
                        let ring = next() % 2 == 0;
                        let j = Job {
                            base: if ring { ring_base } else { ring_words + base },
                            ring,
                            addr: MEM_BASE + off,
                            payload,
                        };
                        if ring {
                            ring_base = (ring_base + words) % ring_words;
                        } else {
                            base = (base + words + (next() % 3) as u32)
                                % ((1 << 14) - 1100 - ring_words);
                        }
                        j
                    })
                    .collect();
                (params, jobs, mem_init, seed, ready_kind, gap_kind)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn writes_exactly_the_payload((params, jobs, mem_init, seed, ready_kind, gap_kind) in arb_case()) {
            let mut r1 = seed | 1;
            let mut r2 = seed.rotate_left(17) | 1;
            let step = |r: &mut u64| { *r ^= *r << 13; *r ^= *r >> 7; *r ^= *r << 17; *r };
            let ready = move |_c: u64| ready_kind == 0 || step(&mut r1) % (ready_kind as u64 + 1) != 0;
            let gap = move |_c: u64| gap_kind != 0 && step(&mut r2) % (gap_kind as u64 + 1) == 0;
            let r = run(&params, &jobs, &mem_init, ready, gap);
            prop_assert_eq!(r.mem, expected_image(&jobs, &mem_init));
        }
    }
}
