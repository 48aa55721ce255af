//! The XEM6010 top: every endpoint of the spec's map is instantiated at its address and wired
//! to the `FrontPanelCard` port of the same name; without ISE, `synth` writes the ISE project
//! and reports yosys utilization for the xc6slx45.

use vassa_bsp::xem6010;
use vassa_spec::board::fp;

fn wrapper_addr(verilog: &str, module: &str) -> String {
    let body = verilog
        .split(&format!("module {module}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("module {module} missing"));
    let body = &body[..body.find("endmodule").unwrap()];
    let at = body.find(".ep_addr(").expect("ep_addr") + ".ep_addr(".len();
    body[at..at + body[at..].find(')').unwrap()].to_string()
}

#[test]
fn every_endpoint_sits_at_its_spec_address_and_reaches_its_card_port() {
    let verilog = xem6010::verilog(&xem6010::top());
    let check = |kind: &str, addr: u8, instance: &str, link: &str| {
        let module = format!("{kind}_{addr:x}");
        assert!(
            verilog.contains(&format!("{module} {instance}(")),
            "{module} {instance} not instantiated"
        );
        assert_eq!(wrapper_addr(&verilog, &module), format!("8'h{addr:x}"));
        assert!(verilog.contains(link), "{instance}: `{link}` missing");
    };
    for e in fp::WIRE_INS {
        let name = format!("wi_{}", e.name);
        let link = format!("card${name} = {name}$dataout;");
        check("WireIn", e.addr, &name, &link);
    }
    for e in fp::WIRE_OUTS {
        let name = format!("wo_{}", e.name);
        let link = format!("{name}$datain = card${name};");
        check("WireOut", e.addr, &name, &link);
    }
    check(
        "TriggerIn",
        fp::TI_COMMAND.addr,
        "ti_command",
        "card$ti_command = ti_command$trigger;",
    );
    check(
        "TriggerOut",
        fp::TO_EVENTS.addr,
        "to_events",
        "to_events$trigger = card$to_events;",
    );
    check(
        "PipeIn",
        fp::PIPE_IN_MEM.addr,
        "pipe_in",
        "card$pipe_in_data = pipe_in$dataout;",
    );
    check(
        "PipeOut",
        fp::PIPE_OUT_MEM.addr,
        "pipe_out",
        "pipe_out$datain = card$pipe_out_data;",
    );
    // The primitives' own declarations are gone: ISE takes them from okLibrary.v.
    assert!(!verilog.contains("(* blackbox *)"));
}

#[test]
fn ucf_constrains_both_clocks_the_leds_and_every_link_pin() {
    let ucf = xem6010::ucf(&xem6010::top());
    assert!(ucf.contains("PERIOD SystemClk 10 ns"), "{ucf}");
    assert!(ucf.contains("PERIOD okHostClk 20.83 ns"), "{ucf}");
    assert!(ucf.contains("NET clock LOC=AB13;"));
    assert!(ucf.contains("CONFIG VCCAUX = \"3.3\";"));
    for pin in xem6010::LINK_TX_PINS.iter().chain(&xem6010::LINK_RX_PINS) {
        assert_eq!(
            ucf.matches(&format!("LOC={pin};")).count(),
            1,
            "link pin {pin} must be placed exactly once"
        );
    }
}

#[test]
fn without_ise_synth_writes_the_project_and_reports_yosys_utilization() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xem6010_synth");
    let _ = std::fs::remove_dir_all(&dir);
    let mut steps = Vec::new();
    let report = xem6010::synth(
        &dir,
        &Default::default(),
        vassa_rtl::board::XEM6010_MEM_BYTES,
        &vassa_bsp::ise::Tools::default(),
        |p| steps.push(p),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("{}", report.to_table());
    assert_eq!(steps.len(), 2 * xem6010::STEPS.len());
    for f in ["top.v", "top.ucf", "top.tcl"] {
        assert!(report.output(f).is_some_and(|o| o.bytes > 0), "{f}");
    }
    assert!(report
        .notes
        .iter()
        .any(|n| n.contains("ISE 14.7 not found")));
    let luts = report.resource("LUTs").expect("LUT row");
    assert_eq!(luts.available, 27_288);
    assert!(luts.used > 1000 && luts.percent < 100.0, "{luts:?}");
    // 64 KiB of card memory alone is 32 RAMB16; the rest stays within what
    // `xem6010::MAX_MEM_BYTES` leaves it.
    let ram = report.resource("RAMB16").expect("block RAM row");
    assert!(ram.used >= 32 && ram.used <= ram.available, "{ram:?}");
    assert!(
        ram.used - 32 <= xem6010::RAMB16_BESIDE_MEMORY,
        "the top besides its card memory takes {} RAMB16; MAX_MEM_BYTES assumes at most {}",
        ram.used - 32,
        xem6010::RAMB16_BESIDE_MEMORY
    );
}
