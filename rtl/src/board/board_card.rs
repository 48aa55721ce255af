//! `BoardCard`: a card on an FPGA board — `VassaCore` with its memory in block RAM
//! ([`CardMemory`]), a loopback switch on the link and activity outputs for LEDs. One clock
//! (the core clock); the board's host link (FrontPanel, UART) drives the register bus and the
//! host word port.
//!
//! Link: `link_tx_*` are the core's TX outputs (registered in the packetizer). The core's RX
//! takes, through one register stage, either the external `link_rx_*` pins (`loopback` = 0) or
//! its own TX (`loopback` = 1): one cycle of latency either way.
//!
//! `activity` (LEDs): each event bit is stretched to between `stretch_cycles` and 1.5 ×
//! `stretch_cycles` cycles (a prescaler ticks every `stretch_cycles / 2` cycles; an event loads
//! a 2-bit count per LED that each tick decrements):
//! - bit 0: a packet sent (TX end of packet);
//! - bit 1: a packet received (RX end of packet into the core);
//! - bit 2: the interrupt line is high (stretched after it falls);
//! - bit 3: a packet or descriptor was dropped (`VassaCore::drop_event`: any `drop_*` counter
//!   counted);
//! - bit 4: loopback is on (a level, not stretched);
//! - bit 5: the host accessed memory (a host word-port read or write was taken);
//! - bit 6: the host accessed a register (bus read or write);
//! - bit 7: heartbeat, toggling every 4 × `stretch_cycles` (the bitstream is running).

use super::card_memory::CardMemory;
use crate::core::VassaCore;
use crate::spec::params::CoreParams;
use rust_hdl::prelude::*;

pub use crate::spec::board::led;

#[derive(LogicBlock)]
pub struct BoardCard {
    pub clock: Signal<In, Clock>,
    // Register bus (as VassaCore's).
    pub bus_addr: Signal<In, Bits<12>>,
    pub bus_wdata: Signal<In, Bits<32>>,
    pub bus_write: Signal<In, Bit>,
    pub bus_read: Signal<In, Bit>,
    pub bus_rdata: Signal<Out, Bits<32>>,
    pub bus_rvalid: Signal<Out, Bit>,
    pub irq: Signal<Out, Bit>,
    // Host word port (see CardMemory).
    pub host_mem_addr: Signal<In, Bits<32>>,
    pub host_mem_wdata: Signal<In, Bits<32>>,
    pub host_mem_write: Signal<In, Bit>,
    pub host_mem_read: Signal<In, Bit>,
    pub host_mem_ready: Signal<Out, Bit>,
    pub host_mem_rdata: Signal<Out, Bits<32>>,
    pub host_mem_rvalid: Signal<Out, Bit>,
    pub loopback: Signal<In, Bit>,
    // Link pins.
    pub link_tx_valid: Signal<Out, Bit>,
    pub link_tx_sop: Signal<Out, Bit>,
    pub link_tx_eop: Signal<Out, Bit>,
    pub link_tx_data: Signal<Out, Bits<32>>,
    pub link_rx_valid: Signal<In, Bit>,
    pub link_rx_sop: Signal<In, Bit>,
    pub link_rx_eop: Signal<In, Bit>,
    pub link_rx_data: Signal<In, Bits<32>>,
    pub activity: Signal<Out, Bits<8>>,

    core: VassaCore,
    mem: CardMemory,
    // RX register stage (pins or loopback).
    rx_valid: DFF<Bit>,
    rx_sop: DFF<Bit>,
    rx_eop: DFF<Bit>,
    rx_data: DFF<Bits<32>>,
    // LED stretchers: a prescaler and a 2-bit down-count per LED (bit planes c1:c0).
    prescale: DFF<Bits<32>>,
    tick: Signal<Local, Bit>,
    count_lo: DFF<Bits<8>>,
    count_hi: DFF<Bits<8>>,
    beat: DFF<Bits<3>>,
    events: Signal<Local, Bits<8>>,
    tick_period: Constant<Bits<32>>,
    m_sent: Constant<Bits<8>>,
    m_received: Constant<Bits<8>>,
    m_irq: Constant<Bits<8>>,
    m_drop: Constant<Bits<8>>,
    m_loopback: Constant<Bits<8>>,
    m_host_mem: Constant<Bits<8>>,
    m_host_reg: Constant<Bits<8>>,
    m_heartbeat: Constant<Bits<8>>,
    _mem_bytes: usize,
}

fn led_mask(bit: u32) -> Constant<Bits<8>> {
    Constant::new((1u64 << bit).into())
}

impl BoardCard {
    /// `params`: validated core parameters; `mem_bytes`: card memory (a power of two ≥ 4096);
    /// `stretch_cycles`: how long an activity pulse stays visible (≥ 1; 10,000,000 is 0.1 s at
    /// 100 MHz).
    pub fn new(params: &CoreParams, mem_bytes: usize, stretch_cycles: u32) -> Self {
        assert!(stretch_cycles >= 1, "stretch_cycles must be at least 1");
        BoardCard {
            clock: Default::default(),
            bus_addr: Default::default(),
            bus_wdata: Default::default(),
            bus_write: Default::default(),
            bus_read: Default::default(),
            bus_rdata: Default::default(),
            bus_rvalid: Default::default(),
            irq: Default::default(),
            host_mem_addr: Default::default(),
            host_mem_wdata: Default::default(),
            host_mem_write: Default::default(),
            host_mem_read: Default::default(),
            host_mem_ready: Default::default(),
            host_mem_rdata: Default::default(),
            host_mem_rvalid: Default::default(),
            loopback: Default::default(),
            link_tx_valid: Default::default(),
            link_tx_sop: Default::default(),
            link_tx_eop: Default::default(),
            link_tx_data: Default::default(),
            link_rx_valid: Default::default(),
            link_rx_sop: Default::default(),
            link_rx_eop: Default::default(),
            link_rx_data: Default::default(),
            activity: Default::default(),
            core: VassaCore::new(params),
            mem: CardMemory::new(mem_bytes),
            rx_valid: Default::default(),
            rx_sop: Default::default(),
            rx_eop: Default::default(),
            rx_data: Default::default(),
            prescale: Default::default(),
            tick: Default::default(),
            count_lo: Default::default(),
            count_hi: Default::default(),
            beat: Default::default(),
            events: Default::default(),
            m_sent: led_mask(led::SENT),
            m_received: led_mask(led::RECEIVED),
            m_irq: led_mask(led::IRQ),
            m_drop: led_mask(led::DROP),
            m_loopback: led_mask(led::LOOPBACK),
            m_host_mem: led_mask(led::HOST_MEM),
            m_host_reg: led_mask(led::HOST_REG),
            m_heartbeat: led_mask(led::HEARTBEAT),
            tick_period: Constant::new(((stretch_cycles / 2).max(1) as u64 - 1).into()),
            _mem_bytes: mem_bytes,
        }
    }

    pub fn mem_bytes(&self) -> usize {
        self._mem_bytes
    }
}

impl Logic for BoardCard {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, rx_valid, rx_sop, rx_eop, rx_data, prescale, count_lo, count_hi, beat
        );
        clock!(self, clock, core, mem);

        // ---- Register bus.
        self.core.bus_addr.next = self.bus_addr.val();
        self.core.bus_wdata.next = self.bus_wdata.val();
        self.core.bus_write.next = self.bus_write.val();
        self.core.bus_read.next = self.bus_read.val();
        self.bus_rdata.next = self.core.bus_rdata.val();
        self.bus_rvalid.next = self.core.bus_rvalid.val();
        self.irq.next = self.core.irq.val();

        // ---- Memory.
        self.mem.mem_rd_req_valid.next = self.core.mem_rd_req_valid.val();
        self.mem.mem_rd_req_addr.next = self.core.mem_rd_req_addr.val();
        self.mem.mem_rd_req_len.next = self.core.mem_rd_req_len.val();
        self.core.mem_rd_req_ready.next = self.mem.mem_rd_req_ready.val();
        self.core.mem_rd_data_valid.next = self.mem.mem_rd_data_valid.val();
        self.core.mem_rd_data.next = self.mem.mem_rd_data.val();
        self.mem.mem_wr_valid.next = self.core.mem_wr_valid.val();
        self.mem.mem_wr_addr.next = self.core.mem_wr_addr.val();
        self.mem.mem_wr_data.next = self.core.mem_wr_data.val();
        self.mem.mem_wr_strb.next = self.core.mem_wr_strb.val();
        self.core.mem_wr_ready.next = self.mem.mem_wr_ready.val();
        self.mem.host_mem_addr.next = self.host_mem_addr.val();
        self.mem.host_mem_wdata.next = self.host_mem_wdata.val();
        self.mem.host_mem_write.next = self.host_mem_write.val();
        self.mem.host_mem_read.next = self.host_mem_read.val();
        self.host_mem_ready.next = self.mem.host_mem_ready.val();
        self.host_mem_rdata.next = self.mem.host_mem_rdata.val();
        self.host_mem_rvalid.next = self.mem.host_mem_rvalid.val();

        // ---- Link: TX to the pins; RX from the pins or from TX, registered.
        self.link_tx_valid.next = self.core.link_tx_valid.val();
        self.link_tx_sop.next = self.core.link_tx_sop.val();
        self.link_tx_eop.next = self.core.link_tx_eop.val();
        self.link_tx_data.next = self.core.link_tx_data.val();
        self.rx_valid.d.next = self.link_rx_valid.val();
        self.rx_sop.d.next = self.link_rx_sop.val();
        self.rx_eop.d.next = self.link_rx_eop.val();
        self.rx_data.d.next = self.link_rx_data.val();
        if self.loopback.val() {
            self.rx_valid.d.next = self.core.link_tx_valid.val();
            self.rx_sop.d.next = self.core.link_tx_sop.val();
            self.rx_eop.d.next = self.core.link_tx_eop.val();
            self.rx_data.d.next = self.core.link_tx_data.val();
        }
        self.core.link_rx_valid.next = self.rx_valid.q.val();
        self.core.link_rx_sop.next = self.rx_sop.q.val();
        self.core.link_rx_eop.next = self.rx_eop.q.val();
        self.core.link_rx_data.next = self.rx_data.q.val();

        // ---- Activity.
        self.tick.next = self.prescale.q.val() == self.tick_period.val();
        self.prescale.d.next = self.prescale.q.val() + 1;
        if self.tick.val() {
            self.prescale.d.next = 0.into();
            self.beat.d.next = self.beat.q.val() + 1;
        }
        self.events.next = 0.into();
        if self.core.link_tx_valid.val() & self.core.link_tx_eop.val() {
            self.events.next = self.events.val() | self.m_sent.val();
        }
        if self.rx_valid.q.val() & self.rx_eop.q.val() {
            self.events.next = self.events.val() | self.m_received.val();
        }
        if self.core.irq.val() {
            self.events.next = self.events.val() | self.m_irq.val();
        }
        if self.core.drop_event.val() {
            self.events.next = self.events.val() | self.m_drop.val();
        }
        if self.mem.host_mem_ready.val() & (self.host_mem_read.val() | self.host_mem_write.val()) {
            self.events.next = self.events.val() | self.m_host_mem.val();
        }
        if self.bus_read.val() | self.bus_write.val() {
            self.events.next = self.events.val() | self.m_host_reg.val();
        }
        self.count_lo.d.next = self.count_lo.q.val() | self.events.val();
        self.count_hi.d.next = self.count_hi.q.val() | self.events.val();
        if self.tick.val() {
            // 3 -> 2 -> 1 -> 0 on each bit plane pair.
            self.count_lo.d.next =
                (!self.count_lo.q.val() & self.count_hi.q.val()) | self.events.val();
            self.count_hi.d.next =
                (self.count_hi.q.val() & self.count_lo.q.val()) | self.events.val();
        }
        self.activity.next = self.count_lo.q.val() | self.count_hi.q.val();
        if self.loopback.val() {
            self.activity.next = self.activity.val() | self.m_loopback.val();
        }
        if self.beat.q.val().get_bit(2) {
            self.activity.next = self.activity.val() | self.m_heartbeat.val();
        }
    }
}

/// BoardCard's Verilog with the top module named `vassa_board_card`.
pub fn board_card_verilog(params: &CoreParams, mem_bytes: usize, stretch_cycles: u32) -> String {
    let mut card = BoardCard::new(params, mem_bytes, stretch_cycles);
    card.connect_all();
    vassa_hdl_tools::hwcheck::rename_top(&generate_verilog(&card), "vassa_board_card")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::regmap as rm;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check, Bench};

    fn bench(stretch: u32) -> Bench<BoardCard> {
        Bench::new(
            BoardCard::new(&CoreParams::default(), 16384, stretch),
            |c| &mut c.clock,
        )
    }

    fn write(b: &mut Bench<BoardCard>, addr: u32, value: u32) {
        b.uut.bus_addr.next = (addr as u64).into();
        b.uut.bus_wdata.next = (value as u64).into();
        b.uut.bus_write.next = true;
        b.step();
        b.uut.bus_write.next = false;
    }

    fn read(b: &mut Bench<BoardCard>, addr: u32) -> u32 {
        b.uut.bus_addr.next = (addr as u64).into();
        b.uut.bus_read.next = true;
        b.step();
        b.uut.bus_read.next = false;
        for _ in 0..20 {
            if b.uut.bus_rvalid.val() {
                return b.uut.bus_rdata.val().to_u64() as u32;
            }
            b.step();
        }
        panic!("register read of {addr:#x} timed out");
    }

    fn host_write(b: &mut Bench<BoardCard>, addr: u32, value: u32) {
        b.uut.host_mem_addr.next = (addr as u64).into();
        b.uut.host_mem_wdata.next = (value as u64).into();
        b.uut.host_mem_write.next = true;
        b.settle();
        while !b.uut.host_mem_ready.val() {
            b.step();
        }
        b.step();
        b.uut.host_mem_write.next = false;
    }

    fn host_read(b: &mut Bench<BoardCard>, addr: u32) -> u32 {
        b.uut.host_mem_addr.next = (addr as u64).into();
        b.uut.host_mem_read.next = true;
        b.settle();
        while !b.uut.host_mem_ready.val() {
            b.step();
        }
        b.step();
        b.uut.host_mem_read.next = false;
        assert!(b.uut.host_mem_rvalid.val());
        b.uut.host_mem_rdata.val().to_u64() as u32
    }

    /// Maps physical page 1 -> NVA page 0x40 (TX) and NVA page 0x40 -> physical page 2 (RX,
    /// writable or not), writes ten words into page 1, rings a doorbell for 32 bytes at 0x1004
    /// and runs 150 cycles. Returns the words and the activity bits seen.
    fn send_through_loopback(b: &mut Bench<BoardCard>, rx_writable: bool) -> (Vec<u32>, u8) {
        b.uut.loopback.next = true;
        assert_eq!(read(b, rm::ID.offset), rm::MAGIC);
        for (addr, value) in rm::install_writes(true, 0, 1, 0x40, rm::map_attr(false, false, 0, 3))
            .into_iter()
            .chain(rm::install_writes(
                false,
                0,
                0x40,
                2,
                rm::map_attr(rx_writable, false, 0, 3),
            ))
        {
            write(b, addr, value);
        }
        write(b, rm::CONTROL.offset, rm::CONTROL_TX_ENABLE.mask());
        let words: Vec<u32> = (0..10u32).map(|i| 0x0101_0101 * i + 0x00C0_FFEE).collect();
        for (i, w) in words.iter().enumerate() {
            host_write(b, 0x1000 + 4 * i as u32, *w);
        }
        write(b, rm::DB_ADDR.offset, 0x1004);
        write(b, rm::DB_PUSH.offset, 32);
        let mut seen = 0u8;
        for _ in 0..150 {
            b.step();
            seen |= (b.uut.activity.val().to_u64() as u8) & 0x7F;
        }
        (words, seen)
    }

    /// A message written through the host port is sent by a doorbell, comes back through the
    /// loopback, lands in memory at the RX mapping and lights the activity LEDs.
    #[test]
    fn loopback_delivers_a_message_into_block_ram() {
        let mut b = bench(8);
        let (words, seen) = send_through_loopback(&mut b, true);
        for (i, w) in words[1..9].iter().enumerate() {
            assert_eq!(host_read(&mut b, 0x2004 + 4 * i as u32), *w, "word {i}");
        }
        assert_eq!(host_read(&mut b, 0x2000), 0);
        assert_eq!(host_read(&mut b, 0x2024), 0);
        let want = (1 << led::SENT)
            | (1 << led::RECEIVED)
            | (1 << led::LOOPBACK)
            | (1 << led::HOST_MEM)
            | (1 << led::HOST_REG);
        assert_eq!(seen & want, want, "activity seen: {seen:#010b}");
        assert_eq!(seen & (1 << led::DROP), 0, "no drop");
        // Loopback off: the core's TX goes to the pins only, the pins feed RX.
        b.uut.loopback.next = false;
        b.steps(20);
        assert_eq!(b.uut.activity.val().to_u64() & 0x3F, 0, "LEDs go dark");
    }

    /// A packet for a read-only RX mapping is dropped: the drop LED lights, and the drop is the
    /// one the host's counter reports.
    #[test]
    fn a_dropped_packet_lights_the_drop_led() {
        let mut b = bench(8);
        let (_, seen) = send_through_loopback(&mut b, false);
        assert_ne!(seen & (1 << led::RECEIVED), 0, "received: {seen:#010b}");
        assert_ne!(seen & (1 << led::DROP), 0, "drop: {seen:#010b}");
        let protection =
            rm::global_counter_addr(rm::global_counter_index("drop_protection") as u32);
        assert_eq!(read(&mut b, protection), 1);
        assert_eq!(host_read(&mut b, 0x2004), 0, "nothing written");
    }

    #[test]
    fn activity_pulse_lasts_between_one_and_one_and_a_half_stretches() {
        let mut b = bench(20);
        b.steps(3);
        b.uut.bus_addr.next = (rm::ID.offset as u64).into();
        b.uut.bus_read.next = true;
        b.step();
        b.uut.bus_read.next = false;
        let mut lit = 0;
        for _ in 0..100 {
            if b.uut.activity.val().get_bit(led::HOST_REG as usize) {
                lit += 1;
            }
            b.step();
        }
        assert!((20..=30).contains(&lit), "lit {lit} cycles");
    }

    #[test]
    fn verilog_is_clean() {
        yosys_check(
            "board_card",
            BoardCard::new(&CoreParams::default(), 4096, 100),
        );
        lint_check(
            "board_card",
            BoardCard::new(&CoreParams::default(), 65536, 1_000_000),
        );
    }
}
