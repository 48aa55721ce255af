//! `Core`: the interface core joining the register file, both mapping caches, the TX MMU and
//! packetizer, the depacketizer (RX MMU) and the traffic counters; [`VassaCore`] (`flat.rs`) is
//! the same core with flat ports, the Verilog top `vassa_core`.
//!
//! External ports: the host register bus and interrupt line, a generic memory port (read
//! requests answered by a read-data stream; writes with byte strobes) and the link (one 32-bit
//! word per cycle with valid, start- and end-of-packet, in each direction). Observation ports
//! for boards and the simulator: `drop_event` and `rx_trace` (the depacketizer's trace).

use crate::counters::{TrafficCounters, GLOBAL_EVENT_BITS};
use crate::depacketizer::Depacketizer;
use crate::interfaces::{
    CounterReadController, DoorbellController, LinkReceiver, LinkSender, LookupController,
    MapOpController, MemReadController, MemWriteController, NotifySender, PacketEventSender,
    RegBusResponder, RxMissReporter, TxCommandController, TxMissReporter,
};
use crate::mapping_cache::MappingCache;
use crate::packetizer::Packetizer;
use crate::regfile::RegFile;
use crate::spec::params::CoreParams;
use crate::spec::regmap::{global_counter_index, GLOBAL_COUNTERS};
use crate::spec::trace::RX_TRACE_BITS;
use crate::tx_mmu::TxMmu;
use rust_hdl::prelude::*;

mod flat;
pub use flat::VassaCore;

const RX_TRACE_PORT_BITS: usize = RX_TRACE_BITS as usize;

/// The core with its outside as interfaces (board cards join them); [`VassaCore`] is the
/// same core with flat ports.
#[derive(LogicBlock)]
pub struct Core {
    pub clock: Signal<In, Clock>,
    /// Host register bus.
    pub bus: RegBusResponder,
    pub irq: Signal<Out, Bit>,
    /// A MAP_CMD written now could be refused: a cache is installing (or about to, from the
    /// MAP_CMD of the previous cycle). Fast bus masters (the simulated card) wait on it; a
    /// board bridge is hundreds of cycles per register write and never sees it high.
    pub map_busy: Signal<Out, Bit>,
    /// High in each cycle a `drop_*` global counter counts (a packet or descriptor dropped), for
    /// a board's activity LED: the counters themselves are read-and-clear and belong to the host.
    pub drop_event: Signal<Out, Bit>,
    /// What became of every received packet, cycle by cycle (`spec::trace`): an observation
    /// port for the simulator and debug; board tops leave it unconnected.
    pub rx_trace: Signal<Out, Bits<RX_TRACE_PORT_BITS>>,
    /// Payload reads (TX).
    pub mem_rd: MemReadController,
    /// Payload writes (RX).
    pub mem_wr: MemWriteController,
    pub link_tx: LinkSender,
    pub link_rx: LinkReceiver,

    regs: RegFile,
    tx_cache: MappingCache,
    rx_cache: MappingCache,
    tx_mmu: TxMmu,
    packetizer: Packetizer,
    depacketizer: Depacketizer,
    counters: TrafficCounters,
    // One bit per global counter, in GLOBAL_COUNTERS order.
    events: Signal<Local, Bits<GLOBAL_EVENT_BITS>>,
    // Event bit masks, from the counter order in the spec.
    m_misses: Constant<Bits<GLOBAL_EVENT_BITS>>,
    // Every `drop_*` global counter.
    m_drops: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_crc_epoch: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_protection: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_miss_dropped: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_miss_overflow: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_tx_cancel: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_malformed: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_rx_overrun: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_notify_lost: Constant<Bits<GLOBAL_EVENT_BITS>>,
    m_bad_doorbell: Constant<Bits<GLOBAL_EVENT_BITS>>,
    _params: CoreParams,
}

fn event_mask(name: &str) -> Constant<Bits<GLOBAL_EVENT_BITS>> {
    Constant::new((1u64 << global_counter_index(name)).into())
}

/// One bit per global counter whose name starts with `drop_`.
fn drop_counters_mask() -> u64 {
    GLOBAL_COUNTERS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name.starts_with("drop_"))
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

impl Core {
    /// Builds the core; `params` must already be validated.
    pub fn new(params: &CoreParams) -> Self {
        params
            .validate()
            .expect("Core::new needs validated parameters");
        Core {
            clock: Default::default(),
            bus: Default::default(),
            irq: Default::default(),
            map_busy: Default::default(),
            drop_event: Default::default(),
            rx_trace: Default::default(),
            mem_rd: Default::default(),
            mem_wr: Default::default(),
            link_tx: Default::default(),
            link_rx: Default::default(),
            regs: RegFile::new(params),
            tx_cache: MappingCache::new(params.tx_cache_entries as usize),
            rx_cache: MappingCache::new(params.rx_cache_entries as usize),
            tx_mmu: TxMmu::new(params),
            packetizer: Packetizer::new(params),
            depacketizer: Depacketizer::new(params),
            counters: TrafficCounters::new(params.counter_slots as usize),
            events: Default::default(),
            m_misses: event_mask("misses"),
            m_drops: Constant::new(drop_counters_mask().into()),
            m_crc_epoch: event_mask("drop_crc_epoch"),
            m_protection: event_mask("drop_protection"),
            m_miss_dropped: event_mask("drop_miss_dropped"),
            m_miss_overflow: event_mask("drop_miss_overflow"),
            m_tx_cancel: event_mask("drop_tx_cancel"),
            m_malformed: event_mask("drop_malformed"),
            m_rx_overrun: event_mask("drop_rx_overrun"),
            m_notify_lost: event_mask("notify_lost"),
            m_bad_doorbell: event_mask("bad_doorbells"),
            _params: *params,
        }
    }

    pub fn params(&self) -> &CoreParams {
        &self._params
    }
}

impl Logic for Core {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(
            self,
            clock,
            regs,
            tx_cache,
            rx_cache,
            tx_mmu,
            packetizer,
            depacketizer,
            counters
        );

        // ---- Host bus.
        RegBusResponder::link(&mut self.bus, &mut self.regs.bus);
        self.irq.next = self.regs.irq.val();
        self.map_busy.next = self.regs.map_rx.valid.val()
            | self.regs.map_tx.valid.val()
            | self.rx_cache.op.busy.val()
            | self.tx_cache.op.busy.val();

        // ---- Host operations on both caches.
        MapOpController::join(&mut self.regs.map_tx, &mut self.tx_cache.op);
        MapOpController::join(&mut self.regs.map_rx, &mut self.rx_cache.op);

        // ---- TX: doorbell FIFO -> TX MMU (TX cache) -> packetizer -> link.
        self.tx_mmu.enable.next = self.regs.tx_enable.val();
        DoorbellController::join(&mut self.regs.doorbell, &mut self.tx_mmu.doorbell);
        LookupController::join(&mut self.tx_mmu.lookup, &mut self.tx_cache.lookup);
        TxMissReporter::join(&mut self.tx_mmu.miss, &mut self.regs.tx_miss);
        self.regs.tx_busy.next = self.tx_mmu.busy.val();
        self.regs.bad_doorbell.next = self.tx_mmu.bad_doorbell_event.val();

        TxCommandController::join(&mut self.tx_mmu.cmd, &mut self.packetizer.cmd);
        self.packetizer.node_id.next = self.regs.node_id.val();

        MemReadController::link(&mut self.mem_rd, &mut self.packetizer.mem_rd);

        LinkSender::link(&mut self.link_tx, &mut self.packetizer.link);

        // ---- RX: link -> depacketizer (RX cache) -> memory writes.
        LinkReceiver::link(&mut self.link_rx, &mut self.depacketizer.link);
        LookupController::join(&mut self.depacketizer.lookup, &mut self.rx_cache.lookup);
        RxMissReporter::join(&mut self.depacketizer.miss, &mut self.regs.rx_miss);
        self.rx_trace.next = self.depacketizer.trace.val();

        MemWriteController::link(&mut self.mem_wr, &mut self.depacketizer.mem_wr);

        NotifySender::join(&mut self.depacketizer.notify, &mut self.regs.notify);

        // ---- Counters.
        PacketEventSender::join(&mut self.packetizer.sent, &mut self.counters.sent);
        PacketEventSender::join(
            &mut self.depacketizer.delivered,
            &mut self.counters.delivered,
        );
        CounterReadController::join(&mut self.regs.counter_read, &mut self.counters.read);

        self.events.next = 0.into();
        if self.regs.miss_pushed.val() {
            self.events.next = self.events.val() | self.m_misses.val();
        }
        if self.depacketizer.drop_crc_epoch.val() {
            self.events.next = self.events.val() | self.m_crc_epoch.val();
        }
        if self.depacketizer.drop_protection.val() {
            self.events.next = self.events.val() | self.m_protection.val();
        }
        if self.depacketizer.drop_miss_dropped.val() {
            self.events.next = self.events.val() | self.m_miss_dropped.val();
        }
        if self.depacketizer.drop_miss_overflow.val() {
            self.events.next = self.events.val() | self.m_miss_overflow.val();
        }
        if self.tx_mmu.cancel_event.val() {
            self.events.next = self.events.val() | self.m_tx_cancel.val();
        }
        if self.depacketizer.drop_malformed.val() {
            self.events.next = self.events.val() | self.m_malformed.val();
        }
        if self.depacketizer.drop_rx_overrun.val() {
            self.events.next = self.events.val() | self.m_rx_overrun.val();
        }
        if self.regs.notify_lost.val() {
            self.events.next = self.events.val() | self.m_notify_lost.val();
        }
        if self.tx_mmu.bad_doorbell_event.val() {
            self.events.next = self.events.val() | self.m_bad_doorbell.val();
        }
        self.counters.global_events.next = self.events.val();
        self.drop_event.next = (self.events.val() & self.m_drops.val()).any();
    }
}

/// The core's Verilog with the top module named `vassa_core`.
pub fn core_verilog(params: &CoreParams) -> String {
    let mut core = VassaCore::new(params);
    core.connect_all();
    vassa_hdl_tools::hwcheck::rename_top(&generate_verilog(&core), "vassa_core")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::regmap::{self as rm, GLOBAL_COUNTERS};
    use crate::spec::trace::{RxTrace, Verdict};
    use std::collections::VecDeque;
    use vassa_hdl_tools::testbench::Bench;

    /// One core with a byte-array memory (reads answered after a fixed latency, one beat per
    /// cycle) and its link TX looped back to its link RX.
    struct LoopbackCard {
        b: Bench<VassaCore>,
        mem: Vec<u8>,
        /// Outstanding read bursts: (cycle the first beat may return, word address, beats).
        reads: VecDeque<(u64, u32, u32)>,
        read_latency: u64,
        /// Words the card sent, in order: (cycle, sop, eop, data).
        sent: Vec<(u64, bool, bool, u32)>,
        /// The receive trace's non-idle cycles, decoded.
        trace: Vec<RxTrace>,
    }

    impl LoopbackCard {
        fn new(params: &CoreParams) -> Self {
            let mut b = Bench::new(VassaCore::new(params), |c| &mut c.clock);
            b.uut.mem_rd_req_ready.next = true;
            b.uut.mem_wr_ready.next = true;
            LoopbackCard {
                b,
                mem: vec![0; 1 << 20],
                reads: VecDeque::new(),
                read_latency: 2,
                sent: Vec::new(),
                trace: Vec::new(),
            }
        }

        /// One cycle of the card and its environment.
        fn cycle(&mut self) {
            let now = self.b.cycle;
            self.b.settle();
            let c = &mut self.b.uut;
            let trace = c.rx_trace.val().to_u64() as u32;
            if !RxTrace::is_idle(trace) {
                self.trace.push(RxTrace::decode(trace));
            }
            // Memory writes.
            if c.mem_wr_valid.val() {
                let addr = c.mem_wr_addr.val().to_u64() as usize;
                assert_eq!(addr % 4, 0, "write address not word aligned");
                let data = (c.mem_wr_data.val().to_u64() as u32).to_le_bytes();
                let strb = c.mem_wr_strb.val().to_u64();
                for (i, byte) in data.iter().enumerate() {
                    if strb & (1 << i) != 0 {
                        self.mem[addr + i] = *byte;
                    }
                }
            }
            // Memory reads: accept every request, return beats in order after the latency.
            if c.mem_rd_req_valid.val() {
                let addr = c.mem_rd_req_addr.val().to_u64() as u32;
                let len = c.mem_rd_req_len.val().to_u64() as u32;
                self.reads.push_back((now + self.read_latency, addr, len));
            }
            c.mem_rd_data_valid.next = false;
            if let Some((ready, addr, len)) = self.reads.front_mut() {
                if *ready <= now {
                    let a = *addr as usize;
                    let word = u32::from_le_bytes(self.mem[a..a + 4].try_into().unwrap());
                    c.mem_rd_data_valid.next = true;
                    c.mem_rd_data.next = (word as u64).into();
                    *addr += 4;
                    *len -= 1;
                    if *len == 0 {
                        self.reads.pop_front();
                    }
                }
            }
            // Link loopback (registered: what the card sends now arrives next cycle).
            c.link_rx_valid.next = c.link_tx_valid.val();
            c.link_rx_sop.next = c.link_tx_sop.val();
            c.link_rx_eop.next = c.link_tx_eop.val();
            c.link_rx_data.next = c.link_tx_data.val();
            if c.link_tx_valid.val() {
                self.sent.push((
                    now,
                    c.link_tx_sop.val(),
                    c.link_tx_eop.val(),
                    c.link_tx_data.val().to_u64() as u32,
                ));
            }
            self.b.step();
        }

        fn cycles(&mut self, n: usize) {
            for _ in 0..n {
                self.cycle();
            }
        }

        fn write(&mut self, addr: u32, value: u32) {
            let c = &mut self.b.uut;
            c.bus_addr.next = (addr as u64).into();
            c.bus_wdata.next = (value as u64).into();
            c.bus_write.next = true;
            self.cycle();
            self.b.uut.bus_write.next = false;
        }

        fn read(&mut self, addr: u32) -> u32 {
            self.b.uut.bus_addr.next = (addr as u64).into();
            self.b.uut.bus_read.next = true;
            self.cycle();
            self.b.uut.bus_read.next = false;
            for _ in 0..50 {
                if self.b.uut.bus_rvalid.val() {
                    return self.b.uut.bus_rdata.val().to_u64() as u32;
                }
                self.cycle();
            }
            panic!("register read of {addr:#x} timed out");
        }

        #[allow(clippy::too_many_arguments)]
        fn map(
            &mut self,
            tx: bool,
            slot: u32,
            key: u32,
            page: u32,
            writable: bool,
            signal: bool,
            counter: u32,
            epoch: u32,
        ) {
            let attr = rm::map_attr(writable, signal, counter, epoch as u8);
            for (addr, value) in rm::install_writes(tx, slot, key, page, attr) {
                self.write(addr, value);
            }
        }

        fn send(&mut self, addr: u32, length: u32) {
            self.write(rm::DB_ADDR.offset, addr);
            self.write(rm::DB_PUSH.offset, length);
        }

        /// Runs until `done` holds, at most `limit` cycles.
        fn run_until(&mut self, limit: usize, done: impl Fn(&mut Self) -> bool) {
            for _ in 0..limit {
                if done(self) {
                    return;
                }
                self.cycle();
            }
            panic!("condition not reached in {limit} cycles");
        }
    }

    #[test]
    fn verilog_is_clean() {
        vassa_hdl_tools::testbench::yosys_check(
            "vassa_core",
            VassaCore::new(&CoreParams::default()),
        );
        // Whole-core Verilator lint and synthesis: rtl/tests/core_hardware.rs.
    }

    #[test]
    fn loopback_delivers_an_unaligned_message_and_counts_it() {
        let mut card = LoopbackCard::new(&CoreParams::default());
        card.b.record();
        assert_eq!(card.read(rm::ID.offset), rm::MAGIC);
        card.write(rm::NODE_ID.offset, 7);
        card.write(
            rm::IRQ_MASK.offset,
            rm::IRQ_SIGNAL.mask() | rm::IRQ_MISS.mask(),
        );
        // TX: physical page 0x10 -> NVA page 0x200; RX: NVA page 0x200 -> physical page 0x30.
        card.map(true, 0, 0x10, 0x200, false, false, 1, 5);
        card.map(false, 3, 0x200, 0x30, true, true, 2, 5);
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        let src = 0x10_0F3;
        card.mem[src as usize..src as usize + msg.len()].copy_from_slice(&msg);
        card.send(src, msg.len() as u32);
        card.run_until(3000, |c| c.b.uut.irq.val());
        // max_payload 256: two packets.
        card.cycles(200);
        let dst = 0x30_0F3usize;
        assert_eq!(&card.mem[dst..dst + msg.len()], &msg[..]);
        assert_eq!(card.mem[dst - 1], 0, "byte before the message untouched");
        assert_eq!(
            card.mem[dst + msg.len()],
            0,
            "byte after the message untouched"
        );
        // Both packets were well-formed and carry the node id.
        let sops = card.sent.iter().filter(|w| w.1).count();
        assert_eq!(sops, 2);
        // The trace: both link verdicts (the second packet ends while the first is written),
        // then both writes.
        let traced: Vec<_> = card
            .trace
            .iter()
            .map(|t| (t.verdict.map(|(link, code, _)| (link, code)), t.written))
            .collect();
        let accepted = (Some((true, Verdict::Accepted)), false);
        assert_eq!(traced, [accepted, accepted, (None, true), (None, true)]);
        // Notifications: one per delivered packet.
        let mut lengths = vec![];
        for _ in 0..2 {
            let nva = card.read(rm::NOTIFY_NVA.offset);
            let pop = card.read(rm::NOTIFY_POP.offset);
            assert_eq!(rm::POP_VALID.get(pop), 1);
            assert_eq!(
                pop,
                rm::POP_VALID.put(rm::NOTIFY_LENGTH.get(pop), 1),
                "length only"
            );
            assert_eq!(nva >> 12, 0x200);
            lengths.push(rm::NOTIFY_LENGTH.get(pop));
        }
        assert_eq!(lengths.iter().sum::<u32>(), 300);
        // Counters, read-and-clear.
        assert_eq!(card.read(rm::slot_counter_addr(1, 0)), 2);
        assert_eq!(card.read(rm::slot_counter_addr(1, 1)), 300);
        assert_eq!(card.read(rm::slot_counter_addr(2, 2)), 2);
        assert_eq!(card.read(rm::slot_counter_addr(2, 3)), 300);
        assert_eq!(card.read(rm::slot_counter_addr(2, 3)), 0, "read cleared it");
        // The generated Verilog of the whole core behaves like the simulation, cycle by cycle
        // (write data beside a low `mem_wr_valid` is don't-care: the receive RAM has no
        // collision bypass, see the depacketizer).
        card.b
            .replay_qualified("core_loopback", &[("mem_wr_data", "mem_wr_valid")]);
        for i in 0..GLOBAL_COUNTERS.len() as u32 {
            assert_eq!(
                card.read(rm::global_counter_addr(i)),
                0,
                "global counter {i}"
            );
        }
    }

    #[test]
    fn rx_miss_is_serviced_and_tx_miss_can_be_cancelled() {
        let mut card = LoopbackCard::new(&CoreParams::default());
        card.map(true, 0, 0x10, 0x200, false, false, 0, 1);
        let src = 0x10_000;
        for i in 0..64 {
            card.mem[src + i] = i as u8 ^ 0x5A;
        }
        // No RX mapping yet: the packet parks and a miss is posted.
        card.send(src as u32, 64);
        card.run_until(500, |c| {
            rm::STATUS_MISS_USED.get(c.read(rm::STATUS.offset)) == 1
        });
        let miss = card.read(rm::MISS_POP.offset);
        assert_eq!(rm::MISS_DIR_TX.get(miss), 0);
        assert_eq!(rm::MISS_PAGE.get(miss), 0x200);
        assert_eq!(rm::STATUS_PARKED.get(card.read(rm::STATUS.offset)), 1);
        card.map(false, 0, 0x200, 0x40, true, false, 0, 1);
        let tag = rm::MISS_TAG.get(miss);
        card.write(rm::MISS_RESOLVE.offset, rm::RESOLVE_TAG.put(0, tag));
        card.cycles(100);
        assert_eq!(rm::STATUS_PARKED.get(card.read(rm::STATUS.offset)), 0);
        // The trace: parked under the miss's tag, retried from it, written.
        let verdict = |link, code| RxTrace {
            verdict: Some((link, code, tag)),
            ..Default::default()
        };
        let written = RxTrace {
            written: true,
            ..Default::default()
        };
        assert_eq!(
            card.trace,
            [
                verdict(true, Verdict::Parked),
                verdict(false, Verdict::Accepted),
                written
            ]
        );
        assert_eq!(
            &card.mem[0x40_000..0x40_040],
            &card.mem[src..src + 64].to_vec()[..]
        );
        assert_eq!(
            card.read(rm::global_counter_addr(
                global_counter_index("misses") as u32
            )),
            1
        );
        // A TX miss: the descriptor waits, the host cancels, it is counted.
        card.send(0x77_000, 16);
        card.run_until(200, |c| {
            rm::STATUS_MISS_USED.get(c.read(rm::STATUS.offset)) == 1
        });
        let miss = card.read(rm::MISS_POP.offset);
        assert_eq!(rm::MISS_DIR_TX.get(miss), 1);
        assert_eq!(rm::MISS_PAGE.get(miss), 0x77);
        card.write(
            rm::MISS_RESOLVE.offset,
            rm::RESOLVE_TX.mask() | rm::RESOLVE_DROP.mask(),
        );
        card.cycles(20);
        let cancels = rm::global_counter_addr(global_counter_index("drop_tx_cancel") as u32);
        assert_eq!(card.read(cancels), 1);
        assert_eq!(rm::STATUS_TX_BUSY.get(card.read(rm::STATUS.offset)), 0);
    }

    /// Through the whole TX path (doorbell FIFO, TX MMU and cache, packetizer), queued
    /// messages leave back to back: no idle link cycle from the first word to the last, and
    /// every packet arrives intact at the receiver.
    #[test]
    fn queued_messages_leave_at_line_rate() {
        let mut card = LoopbackCard::new(&CoreParams::default());
        card.map(true, 0, 0x10, 0x200, false, false, 1, 9);
        card.map(false, 0, 0x200, 0x30, true, false, 2, 9);
        card.write(rm::CONTROL.offset, 0);
        let sizes = [32u32, 32, 8, 100, 256, 32, 4, 64];
        let mut at = 0x10_000u32;
        let mut expected = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            for k in 0..size {
                card.mem[(at + k) as usize] = (i as u32 * 31 + k) as u8;
            }
            card.send(at, size);
            expected.push((at, size));
            at += size + 3; // unaligned starts
        }
        assert!(card.sent.is_empty(), "nothing leaves while TX is disabled");
        card.write(rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
        card.run_until(2000, |c| {
            c.sent.iter().filter(|w| w.2).count() == sizes.len()
        });
        let first = card.sent.first().unwrap().0;
        let last = card.sent.last().unwrap().0;
        let words: u32 = sizes
            .iter()
            .map(|&n| crate::spec::packet::packet_words(n))
            .sum();
        assert_eq!(card.sent.len() as u32, words);
        assert_eq!(
            last - first + 1,
            words as u64,
            "idle link cycles between back-to-back packets"
        );
        card.cycles(100);
        for (addr, size) in expected {
            let dst = (addr - 0x10_000 + 0x30_000) as usize;
            let src = addr as usize;
            assert_eq!(
                &card.mem[dst..dst + size as usize],
                &card.mem[src..src + size as usize].to_vec()[..]
            );
        }
        assert_eq!(card.read(rm::slot_counter_addr(2, 2)), sizes.len() as u32);
        assert_eq!(
            card.read(rm::slot_counter_addr(2, 3)),
            sizes.iter().sum::<u32>()
        );
    }
}
