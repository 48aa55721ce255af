//! Unit tests beside the block: its Verilog passes yosys and Verilator lint, and the framing
//! and model basics. The behaviour tests are in `rtl/tests/rx_path.rs`.

use super::*;
use crate::spec::params::CoreParams;
use vassa_hdl_tools::testbench::yosys_check;

#[test]
fn verilog_is_clean() {
    yosys_check("depacketizer", Depacketizer::new(&CoreParams::default()));
    vassa_hdl_tools::testbench::lint_check(
        "depacketizer",
        Depacketizer::new(&CoreParams::default()),
    );
    // Ten buffers, a 16-entry job queue (payload size kept moderate: yosys unrolls the RAM
    // initialisation).
    let big = CoreParams {
        miss_buffer_packets: 8,
        max_payload: 1024,
        line_bytes: 128,
        ..Default::default()
    };
    yosys_check("depacketizer_big", Depacketizer::new(&big));
    let small = CoreParams {
        miss_buffer_packets: 1,
        max_payload: 4,
        line_bytes: 4,
        ..Default::default()
    };
    yosys_check("depacketizer_small", Depacketizer::new(&small));
}
