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

#[test]
fn framing_split_and_model_basics() {
    let p = CoreParams::default();
    let w = |sop, eop, data| LinkWord { sop, eop, data };
    // stray word, a packet cut by a sop, a one-word packet, an open packet.
    let s = [
        w(false, false, 1),
        w(false, true, 2),
        w(true, false, 3),
        w(true, true, 4),
        w(true, false, 5),
    ];
    let (units, open) = split_link_units(&s);
    assert_eq!(units.len(), 3);
    assert!(!units[0].has_sop && units[0].complete);
    assert!(units[1].has_sop && !units[1].complete && units[1].words == vec![3]);
    assert!(units[2].has_sop && units[2].complete && units[2].start == 3);
    assert_eq!(open.unwrap().words, vec![5]);
    let mut m = RxModel::new(&p);
    let none = |_: u32| None;
    for u in &units {
        assert_eq!(
            m.receive(u, false, &none),
            RxEvent::Dropped(RxDrop::Malformed)
        );
    }
    assert_eq!(
        m.receive(&units[2], true, &none),
        RxEvent::Dropped(RxDrop::RxOverrun)
    );
}
