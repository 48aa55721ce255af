//! Opal Kelly XEM6010 (Spartan-6 xc6slx45-2fgg484) top: the card behind FrontPanel endpoints.
//!
//! `okHost` turns the USB interface pins into `ti_clk` (48 MHz) and the endpoint bus. One
//! endpoint block per entry of the endpoint map in `vassa_spec::board::fp` connects to
//! the port of the same name on [`FrontPanelCard`], which holds the bridge, its clock-domain
//! crossing, the core and the card memory, all on the 100 MHz system clock (pin AB13) except
//! the pipe FIFOs' host side. Trigger endpoints are clocked by the system clock (the OK
//! blocks do that crossing). LEDs (active low on this board) show the card's activity.
//!
//! ## Link pin-out
//! The link port is registered at the pins and runs on the system clock: two boards joined by
//! a cable must share that clock (or the link needs an elastic buffer, not built yet); a
//! single board uses the `loopback` control bit instead. The balls are I/Os wired to the
//! XEM6010's expansion connectors JP2/JP3 (taken from a published XEM6010 design); check the
//! connector pin numbers against Opal Kelly's XEM6010 pin list before making a cable.
//! The table is [`LINK_TX_PINS`] / [`LINK_RX_PINS`]; README "Boards" prints it.

use crate::ise::{self, Tools, XEM6010_LX45};
use crate::ok::*;
use crate::report::{ClockReport, FlowReport, OutputFile, Progress, Utilization};
use rust_hdl::prelude::*;
use std::path::Path;
use vassa_hdl_tools::hwcheck::{yosys_synth, Family};
use vassa_rtl::board::frontpanel_card::FrontPanelCard;
use vassa_rtl::board::{LED_STRETCH_CYCLES, XEM6010_MEM_BYTES};
use vassa_spec::board::fp;
use vassa_spec::params::CoreParams;

/// Balls of the link's TX pins: data 0..31, then valid, sop, eop.
pub const LINK_TX_PINS: [&str; 35] = [
    "U22", "R20", "R22", "N20", "N22", "M20", "L19", "K21", "K22", "G20", "G22", "E20", "E22",
    "C20", "C22", "A20", "G19", "F20", "H20", "J19", "D19", "D20", "F18", "F19", "M16", "L15",
    "G16", "G17", "U20", "H18", "F16", "F17", "H19", "B14", "D9",
];
/// Balls of the link's RX pins: data 0..31, then valid, sop, eop.
pub const LINK_RX_PINS: [&str; 35] = [
    "P22", "M21", "M22", "L20", "L22", "H21", "H22", "F21", "F22", "D21", "D22", "B21", "B22",
    "A21", "J20", "J22", "K20", "K19", "K17", "K16", "J16", "V21", "V22", "T21", "T22", "P21",
    "W20", "W22", "U19", "V20", "C5", "A5", "D14", "C14", "E16",
];
const LED_PINS: [&str; 8] = [
    "Y17", "AB17", "AA14", "AB14", "AA16", "AB16", "AA10", "AB10",
];
const CLOCK_PIN: &str = "AB13";

/// A signal on `pins` (bit i on `pins[i]`), 3.3 V LVCMOS like every XEM6010 user I/O.
pub(crate) fn lvcmos33<D: Direction, T: Synth>(pins: &[&str]) -> Signal<D, T> {
    let mut signal = Signal::default();
    for (ndx, pin) in pins.iter().enumerate() {
        signal.add_location(ndx, pin);
        signal.add_signal_type(ndx, SignalType::LowVoltageCMOS_3v3);
    }
    signal
}

fn system_clock() -> Signal<In, Clock> {
    let mut clock = lvcmos33(&[CLOCK_PIN]);
    clock.add_constraint(PinConstraint {
        index: 0,
        constraint: Constraint::Timing(Timing::Periodic(PeriodicTiming {
            net: "SystemClk".into(),
            period_nanoseconds: 10.0,
            duty_cycle: 50.0,
        })),
    });
    clock
}

#[derive(LogicBlock)]
pub struct Xem6010Top {
    pub hi: OpalKellyHostInterface,
    pub ok_host: OpalKellyHost,
    pub clock: Signal<In, Clock>,
    pub led: Signal<Out, Bits<8>>,
    pub link_tx_data: Signal<Out, Bits<32>>,
    pub link_tx_valid: Signal<Out, Bit>,
    pub link_tx_sop: Signal<Out, Bit>,
    pub link_tx_eop: Signal<Out, Bit>,
    pub link_rx_data: Signal<In, Bits<32>>,
    pub link_rx_valid: Signal<In, Bit>,
    pub link_rx_sop: Signal<In, Bit>,
    pub link_rx_eop: Signal<In, Bit>,
    wi_reg_addr: WireIn,
    wi_reg_wdata_lo: WireIn,
    wi_reg_wdata_hi: WireIn,
    wi_mem_addr_lo: WireIn,
    wi_mem_addr_hi: WireIn,
    wi_mem_words: WireIn,
    wi_control: WireIn,
    wo_reg_rdata_lo: WireOut,
    wo_reg_rdata_hi: WireOut,
    wo_status: WireOut,
    wo_pipe_in_words: WireOut,
    wo_pipe_out_words: WireOut,
    wo_mem_kib: WireOut,
    wo_magic: WireOut,
    wo_errors: WireOut,
    ti_command: TriggerIn,
    to_events: TriggerOut,
    pipe_in: PipeIn,
    pipe_out: PipeOut,
    card: FrontPanelCard,
    // Pin registers (packed into the IOBs).
    tx_data: DFF<Bits<32>>,
    tx_valid: DFF<Bit>,
    tx_sop: DFF<Bit>,
    tx_eop: DFF<Bit>,
    rx_data: DFF<Bits<32>>,
    rx_valid: DFF<Bit>,
    rx_sop: DFF<Bit>,
    rx_eop: DFF<Bit>,
}

impl Xem6010Top {
    /// The top with `params` for the core and `mem_bytes` of card memory.
    pub fn new(params: &CoreParams, mem_bytes: usize) -> Self {
        Xem6010Top {
            hi: OpalKellyHostInterface::xem_6010(),
            ok_host: OpalKellyHost::xem_6010(),
            clock: system_clock(),
            led: lvcmos33(&LED_PINS),
            link_tx_data: lvcmos33(&LINK_TX_PINS[..32]),
            link_tx_valid: lvcmos33(&LINK_TX_PINS[32..33]),
            link_tx_sop: lvcmos33(&LINK_TX_PINS[33..34]),
            link_tx_eop: lvcmos33(&LINK_TX_PINS[34..35]),
            link_rx_data: lvcmos33(&LINK_RX_PINS[..32]),
            link_rx_valid: lvcmos33(&LINK_RX_PINS[32..33]),
            link_rx_sop: lvcmos33(&LINK_RX_PINS[33..34]),
            link_rx_eop: lvcmos33(&LINK_RX_PINS[34..35]),
            wi_reg_addr: WireIn::new(fp::WI_REG_ADDR.addr),
            wi_reg_wdata_lo: WireIn::new(fp::WI_REG_WDATA_LO.addr),
            wi_reg_wdata_hi: WireIn::new(fp::WI_REG_WDATA_HI.addr),
            wi_mem_addr_lo: WireIn::new(fp::WI_MEM_ADDR_LO.addr),
            wi_mem_addr_hi: WireIn::new(fp::WI_MEM_ADDR_HI.addr),
            wi_mem_words: WireIn::new(fp::WI_MEM_WORDS.addr),
            wi_control: WireIn::new(fp::WI_CONTROL.addr),
            wo_reg_rdata_lo: WireOut::new(fp::WO_REG_RDATA_LO.addr),
            wo_reg_rdata_hi: WireOut::new(fp::WO_REG_RDATA_HI.addr),
            wo_status: WireOut::new(fp::WO_STATUS.addr),
            wo_pipe_in_words: WireOut::new(fp::WO_PIPE_IN_WORDS.addr),
            wo_pipe_out_words: WireOut::new(fp::WO_PIPE_OUT_WORDS.addr),
            wo_mem_kib: WireOut::new(fp::WO_MEM_KIB.addr),
            wo_magic: WireOut::new(fp::WO_MAGIC.addr),
            wo_errors: WireOut::new(fp::WO_ERRORS.addr),
            ti_command: TriggerIn::new(fp::TI_COMMAND.addr),
            to_events: TriggerOut::new(fp::TO_EVENTS.addr),
            pipe_in: PipeIn::new(fp::PIPE_IN_MEM.addr),
            pipe_out: PipeOut::new(fp::PIPE_OUT_MEM.addr),
            card: FrontPanelCard::new(params, mem_bytes, LED_STRETCH_CYCLES),
            tx_data: Default::default(),
            tx_valid: Default::default(),
            tx_sop: Default::default(),
            tx_eop: Default::default(),
            rx_data: Default::default(),
            rx_valid: Default::default(),
            rx_sop: Default::default(),
            rx_eop: Default::default(),
        }
    }
}

impl Logic for Xem6010Top {
    #[hdl_gen]
    fn update(&mut self) {
        OpalKellyHostInterface::link(&mut self.hi, &mut self.ok_host.hi);
        dff_setup!(
            self, clock, tx_data, tx_valid, tx_sop, tx_eop, rx_data, rx_valid, rx_sop, rx_eop
        );
        self.card.core_clock.next = self.clock.val();
        self.card.ti_clk.next = self.ok_host.ti_clk.val();

        // Every endpoint listens on the host's bus; their replies are OR-ed back.
        self.wi_reg_addr.ok1.next = self.ok_host.ok1.val();
        self.wi_reg_wdata_lo.ok1.next = self.ok_host.ok1.val();
        self.wi_reg_wdata_hi.ok1.next = self.ok_host.ok1.val();
        self.wi_mem_addr_lo.ok1.next = self.ok_host.ok1.val();
        self.wi_mem_addr_hi.ok1.next = self.ok_host.ok1.val();
        self.wi_mem_words.ok1.next = self.ok_host.ok1.val();
        self.wi_control.ok1.next = self.ok_host.ok1.val();
        self.wo_reg_rdata_lo.ok1.next = self.ok_host.ok1.val();
        self.wo_reg_rdata_hi.ok1.next = self.ok_host.ok1.val();
        self.wo_status.ok1.next = self.ok_host.ok1.val();
        self.wo_pipe_in_words.ok1.next = self.ok_host.ok1.val();
        self.wo_pipe_out_words.ok1.next = self.ok_host.ok1.val();
        self.wo_mem_kib.ok1.next = self.ok_host.ok1.val();
        self.wo_magic.ok1.next = self.ok_host.ok1.val();
        self.wo_errors.ok1.next = self.ok_host.ok1.val();
        self.ti_command.ok1.next = self.ok_host.ok1.val();
        self.to_events.ok1.next = self.ok_host.ok1.val();
        self.pipe_in.ok1.next = self.ok_host.ok1.val();
        self.pipe_out.ok1.next = self.ok_host.ok1.val();
        self.ok_host.ok2.next = self.wo_reg_rdata_lo.ok2.val()
            | self.wo_reg_rdata_hi.ok2.val()
            | self.wo_status.ok2.val()
            | self.wo_pipe_in_words.ok2.val()
            | self.wo_pipe_out_words.ok2.val()
            | self.wo_mem_kib.ok2.val()
            | self.wo_magic.ok2.val()
            | self.wo_errors.ok2.val()
            | self.to_events.ok2.val()
            | self.pipe_in.ok2.val()
            | self.pipe_out.ok2.val();

        // Endpoints <-> the card, port by port.
        self.card.wi_reg_addr.next = self.wi_reg_addr.dataout.val();
        self.card.wi_reg_wdata_lo.next = self.wi_reg_wdata_lo.dataout.val();
        self.card.wi_reg_wdata_hi.next = self.wi_reg_wdata_hi.dataout.val();
        self.card.wi_mem_addr_lo.next = self.wi_mem_addr_lo.dataout.val();
        self.card.wi_mem_addr_hi.next = self.wi_mem_addr_hi.dataout.val();
        self.card.wi_mem_words.next = self.wi_mem_words.dataout.val();
        self.card.wi_control.next = self.wi_control.dataout.val();
        self.wo_reg_rdata_lo.datain.next = self.card.wo_reg_rdata_lo.val();
        self.wo_reg_rdata_hi.datain.next = self.card.wo_reg_rdata_hi.val();
        self.wo_status.datain.next = self.card.wo_status.val();
        self.wo_pipe_in_words.datain.next = self.card.wo_pipe_in_words.val();
        self.wo_pipe_out_words.datain.next = self.card.wo_pipe_out_words.val();
        self.wo_mem_kib.datain.next = self.card.wo_mem_kib.val();
        self.wo_magic.datain.next = self.card.wo_magic.val();
        self.wo_errors.datain.next = self.card.wo_errors.val();
        self.ti_command.clk.next = self.clock.val();
        self.card.ti_command.next = self.ti_command.trigger.val();
        self.to_events.clk.next = self.clock.val();
        self.to_events.trigger.next = self.card.to_events.val();
        self.card.pipe_in_write.next = self.pipe_in.write.val();
        self.card.pipe_in_data.next = self.pipe_in.dataout.val();
        self.card.pipe_out_read.next = self.pipe_out.read.val();
        self.pipe_out.datain.next = self.card.pipe_out_data.val();

        // The link, registered at the pins.
        self.tx_data.d.next = self.card.link_tx_data.val();
        self.tx_valid.d.next = self.card.link_tx_valid.val();
        self.tx_sop.d.next = self.card.link_tx_sop.val();
        self.tx_eop.d.next = self.card.link_tx_eop.val();
        self.link_tx_data.next = self.tx_data.q.val();
        self.link_tx_valid.next = self.tx_valid.q.val();
        self.link_tx_sop.next = self.tx_sop.q.val();
        self.link_tx_eop.next = self.tx_eop.q.val();
        self.rx_data.d.next = self.link_rx_data.val();
        self.rx_valid.d.next = self.link_rx_valid.val();
        self.rx_sop.d.next = self.link_rx_sop.val();
        self.rx_eop.d.next = self.link_rx_eop.val();
        self.card.link_rx_data.next = self.rx_data.q.val();
        self.card.link_rx_valid.next = self.rx_valid.q.val();
        self.card.link_rx_sop.next = self.rx_sop.q.val();
        self.card.link_rx_eop.next = self.rx_eop.q.val();

        // The board's LEDs light when driven low.
        self.led.next = !self.card.leds.val();
    }
}

/// The top with default parameters and memory, connected and checked.
pub fn top() -> Xem6010Top {
    let mut top = Xem6010Top::new(&CoreParams::default(), XEM6010_MEM_BYTES);
    top.connect_all();
    top
}

/// The top's Verilog for tools: the endpoint wrappers' black-box declarations of the Opal
/// Kelly primitives removed (ISE takes them from `okLibrary.v`; see [`crate::ok::OK_PRIMITIVES`]).
pub fn verilog(top: &Xem6010Top) -> String {
    filter_blackbox_directives(&generate_verilog(top))
}

/// The UCF: pins and I/O standards from the blocks' constraints, the clock periods, VCCAUX.
pub fn ucf(top: &Xem6010Top) -> String {
    let mut ucf = String::from(
        "# Generated by vassa-bsp (bsp/src/xem6010.rs) from the board description. \
         Do not edit by hand.\n",
    );
    ucf.push_str(&rust_hdl::fpga::toolchains::ise::generate_ucf(top));
    ucf.push_str("\nCONFIG VCCAUX = \"3.3\"; // Required for Spartan-6\n");
    ucf
}

/// Resources of the xc6slx45 (DS160): 6-input LUTs, slice flip-flops, 18-Kbit block RAMs.
const LX45_LUTS: u64 = 27_288;
const LX45_FLIP_FLOPS: u64 = 54_576;
const LX45_RAMB16: u64 = 116;

/// Card memory one RAMB16 holds: 512 words of 32 bits (its parity bits go unused).
const RAMB16_BYTES: u64 = 2048;
/// RAMB16 the top takes besides the card memory with the default core (yosys
/// `synth_xilinx -family xc6s`: 48 with 64 KiB of card memory; the receive buffer and the
/// mapping caches' CAM rows). `tests/xem6010.rs` checks the figure.
pub const RAMB16_BESIDE_MEMORY: u64 = 16;
/// Most card memory: the largest power of two whose RAMB16 fit in the part beside the rest of
/// the top, 128 KiB (64 RAMB16; 256 KiB would take 128, more than the xc6slx45's 116).
pub const MAX_MEM_BYTES: usize =
    1 << (u64::BITS - 1 - ((LX45_RAMB16 - RAMB16_BESIDE_MEMORY) * RAMB16_BYTES).leading_zeros());
/// Least card memory (the FrontPanel bridge's memory window).
pub const MIN_MEM_BYTES: usize = 4096;

/// `mem_bytes` if the XEM6010 build can have that much card memory: a power of two from
/// [`MIN_MEM_BYTES`] to [`MAX_MEM_BYTES`]; otherwise why not, naming the bound.
pub fn check_mem_bytes(mem_bytes: u64) -> Result<usize, String> {
    let (min, max) = (MIN_MEM_BYTES as u64, MAX_MEM_BYTES as u64);
    if mem_bytes > max {
        let next = 2 * max;
        return Err(format!(
            "more than the XEM6010 holds: at most {max} ({} KiB); card memory is block RAM \
             ({} KiB a RAMB16), and {next} would need {} RAMB16 besides the core's \
             {RAMB16_BESIDE_MEMORY}, more than the xc6slx45's {LX45_RAMB16}",
            max / 1024,
            RAMB16_BYTES / 1024,
            next / RAMB16_BYTES
        ));
    }
    if mem_bytes < min || !mem_bytes.is_power_of_two() {
        return Err(format!(
            "must be a power of two from {min} to {max} ({} KiB to {} KiB)",
            min / 1024,
            max / 1024
        ));
    }
    Ok(mem_bytes as usize)
}

/// Steps of [`synth()`], as [`Progress`] names them.
pub const STEPS: [&str; 3] = ["generate", "ISE project", "implement"];

/// `vassa synth --board xem6010`: writes the ISE 14.7 project into `out_dir` and, when ISE
/// and the FrontPanel HDL are found ([`Tools`]), builds the bitstream with xtclsh; otherwise
/// says so in the report's notes and synthesizes with yosys `synth_xilinx -family xc6s` for
/// a utilization report (the OK primitives as black boxes).
pub fn synth(
    out_dir: &Path,
    params: &CoreParams,
    mem_bytes: usize,
    tools: &Tools,
    mut progress: impl FnMut(Progress),
) -> Result<FlowReport, String> {
    check_mem_bytes(mem_bytes as u64).map_err(|why| format!("mem_bytes = {mem_bytes}: {why}"))?;
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    let mut report = FlowReport {
        board: "Opal Kelly XEM6010".into(),
        part: format!(
            "{}-{}{}",
            XEM6010_LX45.device, XEM6010_LX45.package, XEM6010_LX45.speed
        ),
        ..Default::default()
    };
    let progress: &mut dyn FnMut(Progress) = &mut progress;

    let (mut verilog, mut ucf) = (String::new(), String::new());
    report.step(&STEPS, 0, progress, |_| {
        let mut top = Xem6010Top::new(params, mem_bytes);
        top.connect_all();
        verilog = self::verilog(&top);
        ucf = self::ucf(&top);
        Ok((
            "rust-hdl generate_verilog, generate_ucf".into(),
            String::new(),
        ))
    })?;
    let mut missing = Vec::new();
    report.step(&STEPS, 1, progress, |report| {
        missing = ise::write_project(out_dir, &verilog, &ucf, tools.frontpanel_hdl.as_deref())?;
        if !missing.is_empty() {
            report.notes.push(format!(
                "FrontPanel HDL not found (set FP_PATH to the FrontPanel HDL directory holding \
                 XEM6010-LX45/): copy {} into {} before running ISE.",
                missing.join(", "),
                out_dir.display()
            ));
        }
        Ok((
            "top.v, top.ucf, top.tcl for xtclsh; Opal Kelly assets from FP_PATH".into(),
            out_dir.join("top.tcl").display().to_string(),
        ))
    })?;
    match (&tools.xtclsh, missing.is_empty()) {
        (Some(xtclsh), true) => {
            report.flow = "ISE 14.7 (xtclsh)".into();
            report.step(&STEPS, 2, progress, |report| {
                let r = ise::run_xtclsh(xtclsh, out_dir)?;
                for (name, used, available) in &r.utilization {
                    report
                        .utilization
                        .push(Utilization::new(name, *used, *available));
                }
                report.clocks.push(ClockReport {
                    name: "core (SystemClk)".into(),
                    net: "SystemClk".into(),
                    target_mhz: 100.0,
                    achieved_mhz: r.min_period_ns.map(|p| 1000.0 / p),
                    met: r.constraints_met,
                });
                report
                    .outputs
                    .push(OutputFile::of("bitstream", &r.bitstream));
                Ok((
                    format!("{} top.tcl", xtclsh.display()),
                    out_dir.join("top.out").display().to_string(),
                ))
            })?;
        }
        (xtclsh, _) => {
            report.flow = "yosys synth_xilinx -family xc6s (utilization only)".into();
            report.notes.push(match xtclsh {
                None => "ISE 14.7 not found (set ISE_PATH to the directory holding xtclsh): \
                         no bitstream and no timing; utilization from yosys instead."
                    .into(),
                Some(_) => "ISE found but the FrontPanel HDL is missing: no bitstream; \
                            utilization from yosys instead."
                    .into(),
            });
            report.step(&STEPS, 2, progress, |report| {
                let design = format!("{verilog}\n{}", crate::ok::OK_PRIMITIVES);
                let r = yosys_synth(&design, "top", Family::Xc6s)?;
                let ramb16 = r
                    .cells
                    .iter()
                    .fold(0.0, |sum, (cell, n)| match cell.as_str() {
                        "RAMB16BWER" => sum + f64::from(*n),
                        "RAMB8BWER" => sum + f64::from(*n) / 2.0,
                        _ => sum,
                    });
                report.utilization = vec![
                    Utilization::new("LUTs", r.luts.into(), LX45_LUTS),
                    Utilization::new("flip-flops", r.flip_flops.into(), LX45_FLIP_FLOPS),
                    Utilization::new("RAMB16 (RAMB8 = ½)", ramb16.ceil() as u64, LX45_RAMB16),
                ];
                report.notes.push(format!(
                    "{} LUT RAM cells (RAM32M/RAM64X1D…) besides the LUTs. yosys has no \
                     Spartan-6 place and route: no clock figures (targets: core 100 MHz, \
                     ti_clk 48 MHz).",
                    r.lut_rams
                ));
                Ok((
                    "yosys synth_xilinx -family xc6s -flatten (OK primitives as black boxes)"
                        .into(),
                    String::new(),
                ))
            })?;
        }
    }
    for name in ["top.v", "top.ucf", "top.tcl"] {
        report
            .outputs
            .push(OutputFile::of(name, &out_dir.join(name)));
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_memory_is_bounded_by_the_parts_block_ram() {
        assert_eq!(MAX_MEM_BYTES, 128 << 10);
        assert_eq!(check_mem_bytes(4096), Ok(4096));
        assert_eq!(
            check_mem_bytes(XEM6010_MEM_BYTES as u64),
            Ok(XEM6010_MEM_BYTES)
        );
        assert_eq!(check_mem_bytes(128 << 10), Ok(128 << 10));
        for bad in [0, 2048, 4097, 12_288, 256 << 10, 128 << 20, u64::MAX] {
            assert!(check_mem_bytes(bad).is_err(), "{bad}");
        }
        assert!(check_mem_bytes(256 << 10)
            .unwrap_err()
            .contains("at most 131072 (128 KiB)"));
    }
}
