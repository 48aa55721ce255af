//! Whole-core hardware checks: Verilator lint, yosys validation and synthesis for both FPGA
//! families, at the default parameters and at a small and a large parameter set.

use vassa_hdl_tools::hwcheck::{verilator_lint, yosys_synth, Family};
use vassa_rtl::core::core_verilog;
use vassa_spec::params::CoreParams;

fn small() -> CoreParams {
    CoreParams {
        tx_cache_entries: 2,
        rx_cache_entries: 4,
        line_bytes: 16,
        max_payload: 64,
        miss_buffer_packets: 1,
        counter_slots: 4,
    }
}

#[test]
fn core_lints_clean_with_documented_waivers_only() {
    for params in [CoreParams::default(), small()] {
        let verilog = core_verilog(&params);
        verilator_lint(&verilog, "vassa_core").unwrap_or_else(|e| panic!("{params:?}:\n{e}"));
    }
}

#[test]
fn core_synthesizes_for_spartan6_without_latches() {
    let report = yosys_synth(
        &core_verilog(&CoreParams::default()),
        "vassa_core",
        Family::Xc6s,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("xc6s: {report:?}");
    assert!(report.luts > 0 && report.flip_flops > 0);
}

#[test]
fn core_synthesizes_for_ice40_without_latches() {
    let report = yosys_synth(
        &core_verilog(&CoreParams::default()),
        "vassa_core",
        Family::Ice40,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("ice40: {report:?}");
    // The receive buffers and counters must land in block RAM, not in flip-flops.
    assert!(report.block_rams > 0, "{report:?}");
}
