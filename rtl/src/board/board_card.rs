//! `BoardCard`: a card on an FPGA board — [`Core`] with its memory in block RAM
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
//! - bit 3: a packet or descriptor was dropped (`Core::drop_event`: any `drop_*` counter
//!   counted);
//! - bit 4: loopback is on (a level, not stretched);
//! - bit 5: the host accessed memory (a host word-port read or write was taken);
//! - bit 6: the host accessed a register (bus read or write);
//! - bit 7: heartbeat, toggling every 4 × `stretch_cycles` (the bitstream is running).

use super::card_memory::CardMemory;
use crate::core::Core;
use crate::interfaces::{
    HostWordResponder, LinkReceiver, LinkSender, MemReadController, MemWriteController,
    RegBusResponder,
};
use crate::spec::params::CoreParams;
use rust_hdl::prelude::*;

pub use crate::spec::board::led;

#[derive(LogicBlock)]
pub struct BoardCard {
    pub clock: Signal<In, Clock>,
    /// Register bus (the core's).
    pub bus: RegBusResponder,
    pub irq: Signal<Out, Bit>,
    /// Host word port into card memory (see CardMemory).
    pub host: HostWordResponder,
    pub loopback: Signal<In, Bit>,
    /// Link pins, TX (the core's TX outputs).
    pub link_tx: LinkSender,
    /// Link pins, RX (ignored while `loopback`).
    pub link_rx: LinkReceiver,
    pub activity: Signal<Out, Bits<8>>,

    core: Core,
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
    leds: Constant<LedMasks>,
    _mem_bytes: usize,
}

/// One `activity` bit per event, at its position in [`led`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, LogicStruct)]
struct LedMasks {
    sent: Bits<8>,
    received: Bits<8>,
    irq: Bits<8>,
    drop: Bits<8>,
    loopback: Bits<8>,
    host_mem: Bits<8>,
    host_reg: Bits<8>,
    heartbeat: Bits<8>,
}

impl BoardCard {
    /// `params`: validated core parameters; `mem_bytes`: card memory (a power of two ≥ 4096);
    /// `stretch_cycles`: how long an activity pulse stays visible (≥ 1; 10,000,000 is 0.1 s at
    /// 100 MHz).
    pub fn new(params: &CoreParams, mem_bytes: usize, stretch_cycles: u32) -> Self {
        assert!(stretch_cycles >= 1, "stretch_cycles must be at least 1");
        let bit = |b: u32| Bits::<8>::from(1u64 << b);
        BoardCard {
            clock: Default::default(),
            bus: Default::default(),
            irq: Default::default(),
            host: Default::default(),
            loopback: Default::default(),
            link_tx: Default::default(),
            link_rx: Default::default(),
            activity: Default::default(),
            core: Core::new(params),
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
            tick_period: Constant::new(((stretch_cycles / 2).max(1) as u64 - 1).into()),
            leds: Constant::new(LedMasks {
                sent: bit(led::SENT),
                received: bit(led::RECEIVED),
                irq: bit(led::IRQ),
                drop: bit(led::DROP),
                loopback: bit(led::LOOPBACK),
                host_mem: bit(led::HOST_MEM),
                host_reg: bit(led::HOST_REG),
                heartbeat: bit(led::HEARTBEAT),
            }),
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

        RegBusResponder::link(&mut self.bus, &mut self.core.bus);
        self.irq.next = self.core.irq.val();
        MemReadController::join(&mut self.core.mem_rd, &mut self.mem.mem_rd);
        MemWriteController::join(&mut self.core.mem_wr, &mut self.mem.mem_wr);
        HostWordResponder::link(&mut self.host, &mut self.mem.host);

        // ---- Link: TX to the pins; RX from the pins or from TX, registered.
        // A linked sub-block port has no wire of its own in the Verilog: read `self.link_tx`.
        LinkSender::link(&mut self.link_tx, &mut self.core.link_tx);
        self.rx_valid.d.next = self.link_rx.valid.val();
        self.rx_sop.d.next = self.link_rx.sop.val();
        self.rx_eop.d.next = self.link_rx.eop.val();
        self.rx_data.d.next = self.link_rx.data.val();
        if self.loopback.val() {
            self.rx_valid.d.next = self.link_tx.valid.val();
            self.rx_sop.d.next = self.link_tx.sop.val();
            self.rx_eop.d.next = self.link_tx.eop.val();
            self.rx_data.d.next = self.link_tx.data.val();
        }
        self.core.link_rx.valid.next = self.rx_valid.q.val();
        self.core.link_rx.sop.next = self.rx_sop.q.val();
        self.core.link_rx.eop.next = self.rx_eop.q.val();
        self.core.link_rx.data.next = self.rx_data.q.val();

        // ---- Activity.
        self.tick.next = self.prescale.q.val() == self.tick_period.val();
        self.prescale.d.next = self.prescale.q.val() + 1;
        if self.tick.val() {
            self.prescale.d.next = 0.into();
            self.beat.d.next = self.beat.q.val() + 1;
        }
        self.events.next = 0.into();
        if self.link_tx.valid.val() & self.link_tx.eop.val() {
            self.events.next = self.events.val() | self.leds.val().sent;
        }
        if self.rx_valid.q.val() & self.rx_eop.q.val() {
            self.events.next = self.events.val() | self.leds.val().received;
        }
        if self.core.irq.val() {
            self.events.next = self.events.val() | self.leds.val().irq;
        }
        if self.core.drop_event.val() {
            self.events.next = self.events.val() | self.leds.val().drop;
        }
        if self.host.ready.val() & (self.host.read.val() | self.host.write.val()) {
            self.events.next = self.events.val() | self.leds.val().host_mem;
        }
        if self.bus.read.val() | self.bus.write.val() {
            self.events.next = self.events.val() | self.leds.val().host_reg;
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
            self.activity.next = self.activity.val() | self.leds.val().loopback;
        }
        if self.beat.q.val().get_bit(2) {
            self.activity.next = self.activity.val() | self.leds.val().heartbeat;
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
        b.uut.bus.addr.next = (addr as u64).into();
        b.uut.bus.wdata.next = (value as u64).into();
        b.uut.bus.write.next = true;
        b.step();
        b.uut.bus.write.next = false;
    }

    fn read(b: &mut Bench<BoardCard>, addr: u32) -> u32 {
        b.uut.bus.addr.next = (addr as u64).into();
        b.uut.bus.read.next = true;
        b.step();
        b.uut.bus.read.next = false;
        for _ in 0..20 {
            if b.uut.bus.rvalid.val() {
                return b.uut.bus.rdata.val().to_u64() as u32;
            }
            b.step();
        }
        panic!("register read of {addr:#x} timed out");
    }

    /// One host word-port request at `addr`, held until the card takes it.
    fn host_request(b: &mut Bench<BoardCard>, addr: u32, write: bool) {
        b.uut.host.addr.next = (addr as u64).into();
        b.uut.host.write.next = write;
        b.uut.host.read.next = !write;
        b.settle();
        while !b.uut.host.ready.val() {
            b.step();
        }
        b.step();
        b.uut.host.write.next = false;
        b.uut.host.read.next = false;
    }

    fn host_write(b: &mut Bench<BoardCard>, addr: u32, value: u32) {
        b.uut.host.wdata.next = (value as u64).into();
        host_request(b, addr, true);
    }

    fn host_read(b: &mut Bench<BoardCard>, addr: u32) -> u32 {
        host_request(b, addr, false);
        assert!(b.uut.host.rvalid.val());
        b.uut.host.rdata.val().to_u64() as u32
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
        b.uut.bus.addr.next = (rm::ID.offset as u64).into();
        b.uut.bus.read.next = true;
        b.step();
        b.uut.bus.read.next = false;
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
