//! `FrontPanelCard`: everything behind the Opal Kelly FrontPanel endpoints of the XEM6010 —
//! a [`FrontPanelBridge`] and a [`BoardCard`]. The XEM6010 top (bsp) instantiates okHost and
//! one OK endpoint block per endpoint of [`crate::spec::board::fp`] and wires their user-side
//! ports to the ports of the same names here:
//! - `wi_<name>` ← okWireIn `ep_dataout`, `wo_<name>` → okWireOut `ep_datain` (`ti_clk`);
//! - `ti_command` ← okTriggerIn `ep_trigger` with `ep_clk` = the core clock; `to_events` →
//!   okTriggerOut `ep_trigger` with `ep_clk` = the core clock;
//! - `pipe_in_write` / `pipe_in_data` ← okPipeIn `ep_write` / `ep_dataout`;
//!   `pipe_out_read` ← okPipeOut `ep_read`, `pipe_out_data` → its `ep_datain` (`ti_clk`);
//! - `ti_clk` ← okHost `ti_clk`; `core_clock` ← the board's 100 MHz clock;
//! - `link_*` → the expansion-connector pins, `leds` → the board LEDs (see
//!   [`BoardCard`]'s `activity`).

use super::board_card::BoardCard;
use super::frontpanel_bridge::FrontPanelBridge;
use crate::interfaces::{HostWordController, RegBusController};
use crate::spec::params::CoreParams;
use rust_hdl::prelude::*;

#[derive(LogicBlock)]
pub struct FrontPanelCard {
    pub core_clock: Signal<In, Clock>,
    pub ti_clk: Signal<In, Clock>,
    pub wi_reg_addr: Signal<In, Bits<16>>,
    pub wi_reg_wdata_lo: Signal<In, Bits<16>>,
    pub wi_reg_wdata_hi: Signal<In, Bits<16>>,
    pub wi_mem_addr_lo: Signal<In, Bits<16>>,
    pub wi_mem_addr_hi: Signal<In, Bits<16>>,
    pub wi_mem_words: Signal<In, Bits<16>>,
    pub wi_control: Signal<In, Bits<16>>,
    pub wo_reg_rdata_lo: Signal<Out, Bits<16>>,
    pub wo_reg_rdata_hi: Signal<Out, Bits<16>>,
    pub wo_status: Signal<Out, Bits<16>>,
    pub wo_pipe_in_words: Signal<Out, Bits<16>>,
    pub wo_pipe_out_words: Signal<Out, Bits<16>>,
    pub wo_mem_kib: Signal<Out, Bits<16>>,
    pub wo_magic: Signal<Out, Bits<16>>,
    pub wo_errors: Signal<Out, Bits<16>>,
    pub ti_command: Signal<In, Bits<16>>,
    pub to_events: Signal<Out, Bits<16>>,
    pub pipe_in_write: Signal<In, Bit>,
    pub pipe_in_data: Signal<In, Bits<16>>,
    pub pipe_out_read: Signal<In, Bit>,
    pub pipe_out_data: Signal<Out, Bits<16>>,
    pub link_tx_valid: Signal<Out, Bit>,
    pub link_tx_sop: Signal<Out, Bit>,
    pub link_tx_eop: Signal<Out, Bit>,
    pub link_tx_data: Signal<Out, Bits<32>>,
    pub link_rx_valid: Signal<In, Bit>,
    pub link_rx_sop: Signal<In, Bit>,
    pub link_rx_eop: Signal<In, Bit>,
    pub link_rx_data: Signal<In, Bits<32>>,
    pub leds: Signal<Out, Bits<8>>,
    bridge: FrontPanelBridge,
    card: BoardCard,
}

impl FrontPanelCard {
    /// `params`: validated core parameters; `mem_bytes`: card memory (a power of two, 4 KiB to
    /// 64 MiB; the XEM6010 build uses [`super::XEM6010_MEM_BYTES`]); `stretch_cycles`: LED
    /// pulse length in core cycles ([`super::LED_STRETCH_CYCLES`] on the board).
    pub fn new(params: &CoreParams, mem_bytes: usize, stretch_cycles: u32) -> Self {
        FrontPanelCard {
            core_clock: Default::default(),
            ti_clk: Default::default(),
            wi_reg_addr: Default::default(),
            wi_reg_wdata_lo: Default::default(),
            wi_reg_wdata_hi: Default::default(),
            wi_mem_addr_lo: Default::default(),
            wi_mem_addr_hi: Default::default(),
            wi_mem_words: Default::default(),
            wi_control: Default::default(),
            wo_reg_rdata_lo: Default::default(),
            wo_reg_rdata_hi: Default::default(),
            wo_status: Default::default(),
            wo_pipe_in_words: Default::default(),
            wo_pipe_out_words: Default::default(),
            wo_mem_kib: Default::default(),
            wo_magic: Default::default(),
            wo_errors: Default::default(),
            ti_command: Default::default(),
            to_events: Default::default(),
            pipe_in_write: Default::default(),
            pipe_in_data: Default::default(),
            pipe_out_read: Default::default(),
            pipe_out_data: Default::default(),
            link_tx_valid: Default::default(),
            link_tx_sop: Default::default(),
            link_tx_eop: Default::default(),
            link_tx_data: Default::default(),
            link_rx_valid: Default::default(),
            link_rx_sop: Default::default(),
            link_rx_eop: Default::default(),
            link_rx_data: Default::default(),
            leds: Default::default(),
            bridge: FrontPanelBridge::new(mem_bytes),
            card: BoardCard::new(params, mem_bytes, stretch_cycles),
        }
    }
}

impl Logic for FrontPanelCard {
    #[hdl_gen]
    fn update(&mut self) {
        self.bridge.core_clock.next = self.core_clock.val();
        self.bridge.ti_clk.next = self.ti_clk.val();
        self.card.clock.next = self.core_clock.val();
        self.bridge.wi_reg_addr.next = self.wi_reg_addr.val();
        self.bridge.wi_reg_wdata_lo.next = self.wi_reg_wdata_lo.val();
        self.bridge.wi_reg_wdata_hi.next = self.wi_reg_wdata_hi.val();
        self.bridge.wi_mem_addr_lo.next = self.wi_mem_addr_lo.val();
        self.bridge.wi_mem_addr_hi.next = self.wi_mem_addr_hi.val();
        self.bridge.wi_mem_words.next = self.wi_mem_words.val();
        self.bridge.wi_control.next = self.wi_control.val();
        self.wo_reg_rdata_lo.next = self.bridge.wo_reg_rdata_lo.val();
        self.wo_reg_rdata_hi.next = self.bridge.wo_reg_rdata_hi.val();
        self.wo_status.next = self.bridge.wo_status.val();
        self.wo_pipe_in_words.next = self.bridge.wo_pipe_in_words.val();
        self.wo_pipe_out_words.next = self.bridge.wo_pipe_out_words.val();
        self.wo_mem_kib.next = self.bridge.wo_mem_kib.val();
        self.wo_magic.next = self.bridge.wo_magic.val();
        self.wo_errors.next = self.bridge.wo_errors.val();
        self.bridge.ti_command.next = self.ti_command.val();
        self.to_events.next = self.bridge.to_events.val();
        self.bridge.pipe_in_write.next = self.pipe_in_write.val();
        self.bridge.pipe_in_data.next = self.pipe_in_data.val();
        self.bridge.pipe_out_read.next = self.pipe_out_read.val();
        self.pipe_out_data.next = self.bridge.pipe_out_data.val();
        // Bridge <-> card.
        RegBusController::join(&mut self.bridge.bus, &mut self.card.bus);
        self.bridge.irq.next = self.card.irq.val();
        HostWordController::join(&mut self.bridge.host, &mut self.card.host);
        self.card.loopback.next = self.bridge.loopback.val();
        // Link pins and LEDs.
        self.link_tx_valid.next = self.card.link_tx.valid.val();
        self.link_tx_sop.next = self.card.link_tx.sop.val();
        self.link_tx_eop.next = self.card.link_tx.eop.val();
        self.link_tx_data.next = self.card.link_tx.data.val();
        self.card.link_rx.valid.next = self.link_rx_valid.val();
        self.card.link_rx.sop.next = self.link_rx_sop.val();
        self.card.link_rx.eop.next = self.link_rx_eop.val();
        self.card.link_rx.data.next = self.link_rx_data.val();
        self.leds.next = self.card.activity.val();
    }
}

/// The FrontPanelCard's Verilog with the top module named `name`.
pub fn frontpanel_card_verilog(
    params: &CoreParams,
    mem_bytes: usize,
    stretch_cycles: u32,
    name: &str,
) -> String {
    let mut card = FrontPanelCard::new(params, mem_bytes, stretch_cycles);
    card.connect_all();
    vassa_hdl_tools::hwcheck::rename_top(&generate_verilog(&card), name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{LED_STRETCH_CYCLES, XEM6010_MEM_BYTES};
    use vassa_hdl_tools::hwcheck::{verilator_lint, yosys_synth, Family};

    #[test]
    fn lints_clean_and_synthesizes_without_latches() {
        let v = frontpanel_card_verilog(
            &CoreParams::default(),
            XEM6010_MEM_BYTES,
            LED_STRETCH_CYCLES,
            "vassa_fp_card",
        );
        verilator_lint(&v, "vassa_fp_card").unwrap_or_else(|e| panic!("{e}"));
        vassa_hdl_tools::testbench::yosys_check(
            "frontpanel_card",
            FrontPanelCard::new(&CoreParams::default(), 4096, 100),
        );
        for family in [Family::Xc6s, Family::Ice40] {
            let r = yosys_synth(&v, "vassa_fp_card", family).unwrap_or_else(|e| panic!("{e}"));
            println!(
                "{family:?}: {} LUTs, {} FFs, {} block RAMs, {} LUT RAMs",
                r.luts, r.flip_flops, r.block_rams, r.lut_rams
            );
            assert!(r.block_rams > 0);
        }
    }
}
