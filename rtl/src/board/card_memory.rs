//! `CardMemory`: a card's physical memory in block RAM, serving the core's memory port and a
//! host word port in the core clock domain.
//!
//! - Core read port: a request (`mem_rd.req_valid` + byte address + `len` beats) is taken when
//!   `mem_rd.req_ready` is high; its beats come back one per cycle, in order, the first one two
//!   cycles after the request was taken — the latency of `vassa_sim::Card`
//!   (`READ_LATENCY`). `mem_rd.req_ready` is high while idle and in the cycle that reads a
//!   burst's last word, so back-to-back requests stream without a gap: the core never waits
//!   longer than with the software card (which queues requests but also serves one beat a
//!   cycle).
//! - Core write port: `mem_wr.ready` is always high; a beat is written in the cycle it is valid,
//!   with its byte strobes.
//! - Host word port: `host.read` / `host.write` are taken in a cycle where
//!   `host.ready` is high; `host.ready` is high when neither core port uses the RAM
//!   this cycle (no core burst reading, no core write beat): the core has priority. A read is
//!   answered by `host.rvalid` + `host.rdata` the next cycle. A read and a write in the
//!   same cycle are both taken (the read returns the old word).
//! - Byte addresses at or beyond `mem_bytes`: writes are ignored, reads return 0.
//!
//! The RAM is one [`ByteRam`] (four byte lanes); memory words are little-endian like the
//! core's memory port.

use super::byte_ram::{ByteRam, WORD_ADDR_BITS};
use crate::interfaces::{HostWordResponder, MemReadResponder, MemWriteResponder};
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct CardMemory {
    pub clock: Signal<In, Clock>,
    // Core read port.
    /// The core's payload reads.
    pub mem_rd: MemReadResponder,
    // Core write port.
    /// The core's payload writes (`last` is not needed here).
    pub mem_wr: MemWriteResponder,
    // Host word port.
    /// The host bridge's word port.
    pub host: HostWordResponder,

    ram: ByteRam,
    /// A core burst is being read: next word address and beats left.
    burst: DFF<Bit>,
    burst_addr: DFF<Bits<32>>,
    burst_left: DFF<Bits<8>>,
    /// The RAM read issued last cycle was a core beat / a host read, and was in range.
    core_beat: DFF<Bit>,
    host_beat: DFF<Bit>,
    read_in_range: DFF<Bit>,
    read_addr: Signal<Local, Bits<32>>,
    write_addr: Signal<Local, Bits<32>>,
    host_take_read: Signal<Local, Bit>,
    host_take_write: Signal<Local, Bit>,
    out_data: Signal<Local, Bits<32>>,
    /// Bits of a byte address that must be zero for it to be inside memory.
    outside_mask: Constant<Bits<32>>,
    _mem_bytes: usize,
}

impl CardMemory {
    /// `mem_bytes`: a power of two, at least 4096.
    pub fn new(mem_bytes: usize) -> Self {
        assert!(
            mem_bytes.is_power_of_two() && (4096..=1 << 31).contains(&mem_bytes),
            "card memory of {mem_bytes} bytes: must be a power of two from 4096 to 2^31"
        );
        CardMemory {
            clock: Default::default(),
            mem_rd: Default::default(),
            mem_wr: Default::default(),
            host: Default::default(),
            ram: ByteRam::new(mem_bytes / 4),
            burst: Default::default(),
            burst_addr: Default::default(),
            burst_left: Default::default(),
            core_beat: Default::default(),
            host_beat: Default::default(),
            read_in_range: Default::default(),
            read_addr: Default::default(),
            write_addr: Default::default(),
            host_take_read: Default::default(),
            host_take_write: Default::default(),
            out_data: Default::default(),
            outside_mask: Constant::new((!(mem_bytes as u64 - 1) & 0xFFFF_FFFF).into()),
            _mem_bytes: mem_bytes,
        }
    }

    pub fn mem_bytes(&self) -> usize {
        self._mem_bytes
    }
}

impl Logic for CardMemory {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            burst,
            burst_addr,
            burst_left,
            core_beat,
            host_beat,
            read_in_range
        );
        clock!(self, clock, ram);

        // ---- Read port: a core burst word, else a host read.
        self.mem_rd.req_ready.next = !self.burst.q.val() | (self.burst_left.q.val() == 1);
        self.host.ready.next = !self.burst.q.val() & !self.mem_wr.valid.val();
        self.host_take_read.next = self.host.read.val() & self.host.ready.val();
        self.host_take_write.next = self.host.write.val() & self.host.ready.val();
        self.read_addr.next = self.host.addr.val();
        if self.burst.q.val() {
            self.read_addr.next = self.burst_addr.q.val();
            self.burst_addr.d.next = self.burst_addr.q.val() + 4;
            self.burst_left.d.next = self.burst_left.q.val() - 1;
            if self.burst_left.q.val() == 1 {
                self.burst.d.next = false;
            }
        }
        if self.mem_rd.req_valid.val() & self.mem_rd.req_ready.val() {
            self.burst.d.next = self.mem_rd.req_len.val() != 0;
            self.burst_addr.d.next = self.mem_rd.req_addr.val();
            self.burst_left.d.next = self.mem_rd.req_len.val();
        }
        self.ram.read_address.next = bit_cast::<WORD_ADDR_BITS, 32>(self.read_addr.val() >> 2);
        self.core_beat.d.next = self.burst.q.val();
        self.host_beat.d.next = self.host_take_read.val();
        self.read_in_range.d.next = (self.read_addr.val() & self.outside_mask.val()) == 0;
        self.out_data.next = 0.into();
        if self.read_in_range.q.val() {
            self.out_data.next = self.ram.read_data.val();
        }
        self.mem_rd.data_valid.next = self.core_beat.q.val();
        self.mem_rd.data.next = self.out_data.val();
        self.host.rvalid.next = self.host_beat.q.val();
        self.host.rdata.next = self.out_data.val();

        // ---- Write port: a core beat, else a host write.
        self.mem_wr.ready.next = true;
        self.write_addr.next = self.host.addr.val();
        self.ram.write_data.next = self.host.wdata.val();
        self.ram.write_strobe.next = 0.into();
        if self.host_take_write.val() {
            self.ram.write_strobe.next = 15.into();
        }
        if self.mem_wr.valid.val() {
            self.write_addr.next = self.mem_wr.addr.val();
            self.ram.write_data.next = self.mem_wr.data.val();
            self.ram.write_strobe.next = self.mem_wr.strb.val();
        }
        if (self.write_addr.val() & self.outside_mask.val()) != 0 {
            self.ram.write_strobe.next = 0.into();
        }
        self.ram.write_address.next = bit_cast::<WORD_ADDR_BITS, 32>(self.write_addr.val() >> 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench, XorShift};

    fn bench(mem_bytes: usize) -> Bench<CardMemory> {
        Bench::new(CardMemory::new(mem_bytes), |m| &mut m.clock)
    }

    fn set32(s: &mut Signal<In, Bits<32>>, v: u32) {
        s.next = (v as u64).into();
    }

    /// Random traffic on all three ports against a byte-array model: core read bursts
    /// (back to back when the stimulus allows), core writes with random strobes, host reads
    /// and writes; checks every returned word, the two-cycle read latency, that host requests
    /// are only taken while the core leaves the RAM free, and that read bursts stream without
    /// a gap.
    #[test]
    fn serves_core_and_host_like_a_byte_array() {
        const BYTES: usize = 4096;
        let mut b = bench(BYTES);
        b.record();
        let mut model = vec![0u8; BYTES];
        let mut rng = XorShift(0x1234_5678_9ABC);
        // Expected core beats: (cycle due, value); expected host reads: (cycle due, value).
        let mut core_due: VecDeque<(u64, Option<u32>)> = VecDeque::new();
        let mut host_due: VecDeque<(u64, u32)> = VecDeque::new();
        let mut burst_words: VecDeque<u32> = VecDeque::new(); // addresses of words not yet read
        let read_word = |m: &[u8], a: u32| -> u32 {
            let a = a as usize;
            if a + 4 <= m.len() {
                u32::from_le_bytes(m[a..a + 4].try_into().unwrap())
            } else {
                0
            }
        };
        let mut req_pending = false;
        for _ in 0..3000 {
            let now = b.cycle;
            let u = &mut b.uut;
            // Core read request: aligned, within 32-byte lines, sometimes outside memory.
            if !req_pending && rng.chance(40) {
                let base = (rng.next_u64() % (BYTES as u64 + 512)) as u32 & !31;
                let first = (rng.next_u64() % 8) as u32;
                let len = 1 + (rng.next_u64() % (8 - first as u64)) as u32;
                set32(&mut u.mem_rd.req_addr, base + 4 * first);
                u.mem_rd.req_len.next = (len as u64).into();
                u.mem_rd.req_valid.next = true;
                req_pending = true;
            }
            // Core write beat.
            let core_write = rng.chance(30);
            u.mem_wr.valid.next = core_write;
            let waddr = (rng.next_u64() % (BYTES as u64 + 64)) as u32 & !3;
            let wdata = rng.next_u64() as u32;
            let wstrb = (rng.next_u64() % 16) as u32;
            set32(&mut u.mem_wr.addr, waddr);
            set32(&mut u.mem_wr.data, wdata);
            u.mem_wr.strb.next = (wstrb as u64).into();
            // Host request.
            let hread = rng.chance(30);
            let hwrite = rng.chance(30);
            let haddr = (rng.next_u64() % (BYTES as u64 + 64)) as u32 & !3;
            let hdata = rng.next_u64() as u32;
            u.host.read.next = hread;
            u.host.write.next = hwrite;
            set32(&mut u.host.addr, haddr);
            set32(&mut u.host.wdata, hdata);
            b.settle();
            let u = &mut b.uut;
            // Outputs this cycle.
            if u.mem_rd.data_valid.val() {
                let (due, want) = core_due.pop_front().expect("unexpected read beat");
                assert_eq!(due, now, "read beat late or early");
                assert_eq!(
                    Some(u.mem_rd.data.val().to_u64() as u32),
                    want,
                    "read beat at {now}"
                );
            } else {
                assert!(
                    core_due.front().is_none_or(|d| d.0 > now),
                    "missing beat at {now}"
                );
            }
            if u.host.rvalid.val() {
                let (due, want) = host_due.pop_front().expect("unexpected host data");
                assert_eq!(due, now);
                assert_eq!(u.host.rdata.val().to_u64() as u32, want);
            }
            assert!(u.mem_wr.ready.val());
            let core_reading = !burst_words.is_empty();
            assert_eq!(u.host.ready.val(), !core_reading && !core_write);
            // The words read this cycle (reads see memory before this cycle's writes).
            if let Some(a) = burst_words.pop_front() {
                core_due.push_back((now + 1, Some(read_word(&model, a))));
            }
            let ready = u.host.ready.val();
            if hread && ready {
                host_due.push_back((now + 1, read_word(&model, haddr)));
            }
            if req_pending && u.mem_rd.req_ready.val() {
                assert!(
                    burst_words.is_empty(),
                    "ready before the last word was read"
                );
                let a = u.mem_rd.req_addr.val().to_u64() as u32;
                let len = u.mem_rd.req_len.val().to_u64() as u32;
                burst_words.extend((0..len).map(|k| a + 4 * k));
                req_pending = false;
            }
            let write = |m: &mut [u8], a: u32, d: u32, s: u32| {
                for (i, byte) in d.to_le_bytes().iter().enumerate() {
                    if s & (1 << i) != 0 && (a as usize + i) < m.len() {
                        m[a as usize + i] = *byte;
                    }
                }
            };
            if core_write {
                write(&mut model, waddr, wdata, wstrb);
            } else if hwrite && ready {
                write(&mut model, haddr, hdata, 15);
            }
            b.step();
            if !req_pending {
                b.uut.mem_rd.req_valid.next = false;
            }
        }
        b.replay_qualified(
            "card_memory",
            &[
                ("mem_rd$data", "mem_rd$data_valid"),
                ("host$rdata", "host$rvalid"),
            ],
        );
    }

    #[test]
    fn back_to_back_bursts_stream_without_gaps() {
        let mut b = bench(8192);
        let mut beats = Vec::new();
        let mut requests = vec![(0x100u32, 8u32), (0x120, 8), (0x140, 3), (0x200, 1)];
        requests.reverse();
        for _ in 0..40 {
            if let Some(&(a, n)) = requests.last() {
                set32(&mut b.uut.mem_rd.req_addr, a);
                b.uut.mem_rd.req_len.next = (n as u64).into();
                b.uut.mem_rd.req_valid.next = true;
            } else {
                b.uut.mem_rd.req_valid.next = false;
            }
            b.settle();
            if b.uut.mem_rd.data_valid.val() {
                beats.push(b.cycle);
            }
            if b.uut.mem_rd.req_valid.val() && b.uut.mem_rd.req_ready.val() {
                requests.pop();
            }
            b.step();
        }
        assert_eq!(beats.len(), 20);
        assert_eq!(beats[0], 2, "first beat two cycles after the request");
        assert_eq!(beats[19] - beats[0], 19, "gap between bursts: {beats:?}");
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check("card_memory", CardMemory::new(4096));
        lint_check("card_memory", CardMemory::new(65536));
    }
}
