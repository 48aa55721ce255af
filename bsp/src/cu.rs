//! Alchitry Cu (Lattice iCE40-HX8K, cb132): one VASSA card reached over the board's USB-serial
//! port, built with the open flow (yosys → nextpnr-ice40 → icepack).
//!
//! `CuTop` is a [`BoardCard`] (core, card memory in block RAM, loopback, activity) behind a
//! [`UartBridge`] (8N1 at [`uart::DEFAULT_BAUD`], the frames of `spec::board::uart`), all on
//! the 100 MHz board clock.
//!
//! | signal | pad | direction | what |
//! |---|---|---|---|
//! | `clock` | P7 | in | 100 MHz oscillator |
//! | `usb_rx` | P14 | in | USB-serial (FT2232 channel B) data to the FPGA |
//! | `usb_tx` | M9 | out | FPGA data to the USB-serial |
//! | `leds[0..8]` | J11 K11 K12 K14 L12 L14 M12 N14 | out | `BoardCard` activity (below) |
//!
//! LEDs (`board_card::led`): 0 packet sent, 1 packet received, 2 interrupt, 3 packet or
//! descriptor dropped, 4 loopback on, 5 host memory access, 6 host register access, 7 heartbeat.
//!
//! **Loopback only.** The card's link TX feeds its own RX (`loopback` is tied on): the link is
//! 32 bits wide with valid, start and end in each direction, 70 pins a card, which the Cu's
//! headers could carry but not at 100 MHz single-ended between boards, and a second card needs
//! a second board. Traffic therefore goes from the card to itself (map a TX page and an RX page
//! on the same card); the LEDs show it.
//!
//! Pads: clock and LEDs from rust-hdl-bsp-alchitry-cu's `pins`. The USB-serial pads follow
//! Alchitry's constraint names `usb_rx` (FPGA input) / `usb_tx` (FPGA output) on the Cu: P14 and
//! M9, as in Alchitry-style Cu constraint files (`uart_rx P14`, `uart_tx M9`) and a
//! hardware-verified Cu project note (`usb_rx P14`, `usb_tx M9`). LiteX-boards' `alchitry_cu`
//! platform lists them the other way round (`tx` P14, `rx` M9); we follow Alchitry's naming.

use crate::ice40::{self, HX8K_CB132};
use crate::report::{FlowReport, Progress};
use rust_hdl::fpga::toolchains::icestorm::generate_pcf;
use rust_hdl::prelude::*;
use rust_hdl_bsp_alchitry_cu::pins;
use std::path::Path;
use vassa_rtl::board::board_card::BoardCard;
use vassa_rtl::board::uart_bridge::UartBridge;
use vassa_rtl::board::LED_STRETCH_CYCLES;
use vassa_rtl::interfaces::{HostWordController, RegBusController};
use vassa_spec::board::uart;
use vassa_spec::params::CoreParams;

/// Board clock: 100 MHz on P7.
pub const CLOCK_HZ: u64 = pins::CLOCK_SPEED_100MHZ;
/// Core clock target of the flow, in MHz.
pub const TARGET_MHZ: f64 = 100.0;
/// Card memory of the Cu build: 4 KiB, 8 of the HX8K's 32 block RAMs (SB_RAM40_4K); the
/// default core takes the other 24. That is one page: enough for register-level use and
/// loopback traffic, but the driver's channels place segments from page 1 on, so they need a
/// board with more memory (the XEM6010 has 64 KiB).
pub const CU_MEM_BYTES: usize = 4 * 1024;
/// `mem_bytes` if it is the Cu build's card memory, [`CU_MEM_BYTES`] (the only size it has);
/// otherwise why not.
pub fn check_mem_bytes(mem_bytes: u64) -> Result<usize, String> {
    if mem_bytes == CU_MEM_BYTES as u64 {
        return Ok(CU_MEM_BYTES);
    }
    Err(format!(
        "the Cu's card memory is fixed at {CU_MEM_BYTES} ({} KiB: 8 of the iCE40-HX8K's 32 block \
         RAMs, the default core takes the other 24)",
        CU_MEM_BYTES / 1024
    ))
}

/// Clocks per UART bit at the default line rate.
pub const CLOCKS_PER_BIT: u32 = (CLOCK_HZ / uart::DEFAULT_BAUD as u64) as u32;
/// USB-serial pads (Alchitry names: `usb_rx` into the FPGA, `usb_tx` out of it).
pub const USB_RX_PAD: &str = "P14";
pub const USB_TX_PAD: &str = "M9";

/// The USB-serial pins, constrained to their pads: (`usb_rx`, `usb_tx`).
pub fn usb_serial_pins() -> (Signal<In, Bit>, Signal<Out, Bit>) {
    let mut usb_rx = Signal::<In, Bit>::default();
    usb_rx.add_location(0, USB_RX_PAD);
    let mut usb_tx = Signal::<Out, Bit>::default();
    usb_tx.add_location(0, USB_TX_PAD);
    (usb_rx, usb_tx)
}

#[derive(LogicBlock)]
pub struct CuTop {
    pub clock: Signal<In, Clock>,
    pub usb_rx: Signal<In, Bit>,
    pub usb_tx: Signal<Out, Bit>,
    pub leds: Signal<Out, Bits<8>>,
    bridge: UartBridge,
    card: BoardCard,
}

impl CuTop {
    /// The Cu top with `params`, `mem_bytes` of card memory, the UART at `clocks_per_bit` and
    /// LED pulses stretched to `stretch_cycles` (tests use a fast line and short pulses).
    pub fn new(
        params: &CoreParams,
        mem_bytes: usize,
        clocks_per_bit: u32,
        stretch_cycles: u32,
    ) -> Self {
        let (usb_rx, usb_tx) = usb_serial_pins();
        CuTop {
            clock: pins::clock(),
            usb_rx,
            usb_tx,
            leds: pins::leds(),
            bridge: UartBridge::new(clocks_per_bit, mem_bytes),
            card: BoardCard::new(params, mem_bytes, stretch_cycles),
        }
    }
}

impl Logic for CuTop {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, bridge, card);
        self.bridge.rx.next = self.usb_rx.val();
        self.usb_tx.next = self.bridge.tx.val();
        self.leds.next = self.card.activity.val();

        RegBusController::join(&mut self.bridge.bus, &mut self.card.bus);

        HostWordController::join(&mut self.bridge.host, &mut self.card.host);

        // Loopback only (see the module documentation).
        self.card.loopback.next = true;
        self.card.link_rx.valid.next = false;
        self.card.link_rx.sop.next = false;
        self.card.link_rx.eop.next = false;
        self.card.link_rx.data.next = 0.into();
    }
}

/// The Cu top as built: default core parameters, [`CU_MEM_BYTES`], 1 Mbaud, 0.1 s LEDs.
pub fn top() -> CuTop {
    top_with(&CoreParams::default())
}

/// The Cu top with other core parameters (everything else as [`top`]).
pub fn top_with(params: &CoreParams) -> CuTop {
    CuTop::new(params, CU_MEM_BYTES, CLOCKS_PER_BIT, LED_STRETCH_CYCLES)
}

/// The pin constraints of [`top`] (`constraints/alchitry_cu.pcf`).
pub fn pcf() -> String {
    generate_pcf(&top())
}

/// Runs the open flow on the Cu top with `params` into `out_dir`: bitstream `top.bin`, logs
/// and the report. `progress` hears each step start and end.
pub fn synth_cu(
    out_dir: &Path,
    params: &CoreParams,
    progress: impl FnMut(Progress),
) -> Result<FlowReport, String> {
    params.validate().map_err(|e| e.to_string())?;
    let mut report = ice40::run_flow(top_with(params), out_dir, &HX8K_CB132, TARGET_MHZ, progress)?;
    report.board = "Alchitry Cu".into();
    report.notes.push(format!(
        "card memory {} KiB; UART {} baud ({} clocks a bit); link in loopback",
        CU_MEM_BYTES / 1024,
        uart::DEFAULT_BAUD,
        CLOCKS_PER_BIT
    ));
    if params != &CoreParams::default() {
        report.notes.push(format!(
            "core parameters differ from the defaults: {params:?}"
        ));
    }
    if let Some(lc) = report.resource("ICESTORM_LC") {
        if lc.percent > 80.0 {
            report.notes.push(format!(
                "logic use {:.1} % is above 80 %: less than the 20 % spare the board build needs",
                lc.percent
            ));
        }
    }
    if !report.timing_met() {
        report
            .notes
            .push("a clock missed its target: see the critical path".into());
    }
    Ok(report)
}
