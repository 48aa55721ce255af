//! The Alchitry Cu's full open flow (yosys → nextpnr-ice40 → icepack) on the board top.
//!
//! `default_params_fit_the_cu_with_spare_logic` is the board's acceptance check: a bitstream,
//! at most 80 % of the HX8K's 7,680 logic cells (the 20 % spare the board build requires), at
//! most its 32 block RAMs, and a maximum frequency for the core clock (recorded, not asserted
//! against the 100 MHz goal: the report says whether it met it and shows the critical path if
//! not). It takes a few minutes (place and route of the whole core).

use std::path::PathBuf;
use vassa_bsp::cu::{self, CU_MEM_BYTES};
use vassa_bsp::ice40;
use vassa_bsp::report::{FlowReport, Progress};
use vassa_spec::params::CoreParams;

fn out_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn run(name: &str, params: &CoreParams) -> FlowReport {
    let dir = out_dir(name);
    let mut events = Vec::new();
    let report = cu::synth_cu(&dir, params, |p| events.push(p))
        .unwrap_or_else(|e| panic!("Cu flow failed: {e}"));
    println!("{}", report.to_table());
    // Every step reported its start and its end, in order.
    let started: Vec<&str> = events
        .iter()
        .filter_map(|p| match p {
            Progress::Started { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    assert_eq!(started, ice40::STEPS);
    assert_eq!(events.len(), 2 * started.len());
    report
}

fn check_bitstream(report: &FlowReport) {
    let bin = report.output("bitstream").expect("a bitstream entry");
    let bytes = std::fs::metadata(&bin.path).map(|m| m.len()).unwrap_or(0);
    assert!(bytes > 0, "{} is missing or empty", bin.path);
    assert_eq!(bytes, bin.bytes);
}

#[test]
fn default_params_fit_the_cu_with_spare_logic() {
    let report = run("cu_flow_default", &CoreParams::default());
    check_bitstream(&report);
    let lc = report.resource("ICESTORM_LC").expect("logic cells");
    assert_eq!(lc.available, 7680);
    assert!(
        lc.percent <= 80.0,
        "logic cells {} of {} ({:.1} %): less than 20 % spare",
        lc.used,
        lc.available,
        lc.percent
    );
    let ram = report.resource("ICESTORM_RAM").expect("block RAM");
    assert!(ram.used <= 32, "{} block RAMs", ram.used);
    let clock = report
        .clocks
        .iter()
        .find(|c| c.name == "clock")
        .expect("the core clock is timed");
    let fmax = clock.achieved_mhz.expect("a maximum frequency");
    assert!(fmax > 0.0);
    if !clock.met {
        assert!(
            report.critical_path.is_some(),
            "a missed clock shows its path"
        );
    }
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains(&format!("{} KiB", CU_MEM_BYTES / 1024))));
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["board"], "Alchitry Cu");
}

/// The UART bridge alone on the Cu's pins, its bus answered by one register and its memory port
/// by another: the flow end to end (bitstream, utilization, fmax) on a small design, and the
/// bridge's own timing (`--nocapture` prints the report).
#[test]
fn bridge_only_flow() {
    let dir = out_dir("cu_flow_bridge");
    let report = ice40::run_flow(BridgeTop::new(), &dir, &ice40::HX8K_CB132, 100.0, |_| {})
        .unwrap_or_else(|e| panic!("flow failed: {e}"));
    println!("{}", report.to_table());
    check_bitstream(&report);
    let clock = &report.clocks[0];
    assert!(clock.achieved_mhz.is_some_and(|f| f > 0.0));
    assert!(report.resource("ICESTORM_LC").unwrap().used > 100);
}

use rust_hdl::prelude::*;
use vassa_rtl::board::uart_bridge::UartBridge;

#[derive(LogicBlock)]
struct BridgeTop {
    clock: Signal<In, Clock>,
    usb_rx: Signal<In, Bit>,
    usb_tx: Signal<Out, Bit>,
    leds: Signal<Out, Bits<8>>,
    bridge: UartBridge,
    held: DFF<Bits<32>>,
    word: DFF<Bits<32>>,
    rvalid: DFF<Bit>,
    mvalid: DFF<Bit>,
}

impl BridgeTop {
    fn new() -> Self {
        let (usb_rx, usb_tx) = cu::usb_serial_pins();
        BridgeTop {
            clock: rust_hdl_bsp_alchitry_cu::pins::clock(),
            usb_rx,
            usb_tx,
            leds: rust_hdl_bsp_alchitry_cu::pins::leds(),
            bridge: UartBridge::new(cu::CLOCKS_PER_BIT, CU_MEM_BYTES),
            held: Default::default(),
            word: Default::default(),
            rvalid: Default::default(),
            mvalid: Default::default(),
        }
    }
}

impl Logic for BridgeTop {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, held, word, rvalid, mvalid);
        clock!(self, clock, bridge);
        self.bridge.rx.next = self.usb_rx.val();
        self.usb_tx.next = self.bridge.tx.val();
        if self.bridge.bus.write.val() {
            self.held.d.next =
                self.bridge.bus.wdata.val() ^ bit_cast::<32, 12>(self.bridge.bus.addr.val());
        }
        self.rvalid.d.next = self.bridge.bus.read.val();
        self.bridge.bus.rvalid.next = self.rvalid.q.val();
        self.bridge.bus.rdata.next = self.held.q.val();
        self.bridge.host.ready.next = true;
        if self.bridge.host.write.val() {
            self.word.d.next = self.bridge.host.wdata.val() ^ self.bridge.host.addr.val();
        }
        self.mvalid.d.next = self.bridge.host.read.val();
        self.bridge.host.rvalid.next = self.mvalid.q.val();
        self.bridge.host.rdata.next = self.word.q.val();
        self.leds.next = self.held.q.val().get_bits::<8>(0)
            | bit_cast::<8, 1>(self.bridge.replied.val().into())
            | (bit_cast::<8, 1>(self.bridge.refused.val().into()) << 1);
    }
}
