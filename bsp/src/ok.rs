//! Opal Kelly FrontPanel host and endpoint blocks for the XEM6010 top.
//!
//! With the cargo feature `frontpanel` these are rust-hdl-ok-core's blocks. That crate
//! needs the proprietary FrontPanel SDK to compile, so by default [`standin`] provides
//! blocks with the same names, ports, pins and generated Verilog. Their Verilog instantiates
//! Opal Kelly's `okHost`/`okWireIn`/... primitives, which only ISE with the FrontPanel HDL
//! library (`okLibrary.v` and netlists) can build. Neither kind can be simulated: their
//! `update` is empty. The logic behind the endpoints, `FrontPanelCard`, is simulated with
//! Verilator instead (`vassa_sim::board`).

#[cfg(feature = "frontpanel")]
pub use rust_hdl_ok_core::core::prelude::{
    OpalKellyHost, OpalKellyHostInterface, PipeIn, PipeOut, TriggerIn, TriggerOut, WireIn, WireOut,
};

#[cfg(not(feature = "frontpanel"))]
pub use standin::*;

/// Black-box declarations of the Opal Kelly primitives the endpoint wrappers instantiate, for
/// tools that have no FrontPanel HDL library (yosys). The wrappers' own copies are removed
/// by `filter_blackbox_directives`, so each primitive is declared once.
pub const OK_PRIMITIVES: &str = r#"
(* blackbox *)
module okHost(input wire [7:0] hi_in, output wire [1:0] hi_out, inout wire [15:0] hi_inout,
    inout wire hi_aa, output wire ti_clk, output wire [30:0] ok1, input wire [16:0] ok2);
endmodule
(* blackbox *)
module okWireIn(input wire [30:0] ok1, input wire [7:0] ep_addr, output wire [15:0] ep_dataout);
endmodule
(* blackbox *)
module okWireOut(input wire [30:0] ok1, output wire [16:0] ok2, input wire [7:0] ep_addr,
    input wire [15:0] ep_datain);
endmodule
(* blackbox *)
module okTriggerIn(input wire [30:0] ok1, input wire [7:0] ep_addr, input wire ep_clk,
    output wire [15:0] ep_trigger);
endmodule
(* blackbox *)
module okTriggerOut(input wire [30:0] ok1, output wire [16:0] ok2, input wire [7:0] ep_addr,
    input wire ep_clk, input wire [15:0] ep_trigger);
endmodule
(* blackbox *)
module okPipeIn(input wire [30:0] ok1, output wire [16:0] ok2, input wire [7:0] ep_addr,
    output wire ep_write, output wire [15:0] ep_dataout);
endmodule
(* blackbox *)
module okPipeOut(input wire [30:0] ok1, output wire [16:0] ok2, input wire [7:0] ep_addr,
    output wire ep_read, input wire [15:0] ep_datain);
endmodule
"#;

#[cfg(not(feature = "frontpanel"))]
pub mod standin {
    //! Port-for-port stand-ins of rust-hdl-ok-core's blocks (see the module above).

    use crate::xem6010::lvcmos33;
    use rust_hdl::prelude::*;

    /// The XEM6010's FrontPanel host interface pins.
    #[derive(Clone, Debug, LogicInterface)]
    pub struct OpalKellyHostInterface {
        pub sig_in: Signal<In, Bits<8>>,
        pub sig_out: Signal<Out, Bits<2>>,
        pub sig_inout: Signal<InOut, Bits<16>>,
        pub sig_aa: Signal<InOut, Bit>,
        pub sig_mux: Signal<Out, Bit>,
    }

    /// Adds `timing` to bits `from..count` of `signal`.
    fn constrain<D: Direction, T: Synth>(
        signal: &mut Signal<D, T>,
        from: usize,
        count: usize,
        timing: Timing,
    ) {
        for index in from..count {
            signal.add_constraint(PinConstraint {
                index,
                constraint: Constraint::Timing(timing.clone()),
            });
        }
    }

    impl OpalKellyHostInterface {
        /// Pins and timing of the XEM6010's host interface (Opal Kelly's XEM6010 UCF).
        pub fn xem_6010() -> Self {
            let mut hi_in: Signal<In, Bits<8>> =
                lvcmos33(&["Y12", "AB20", "AB7", "AB8", "AA4", "AB4", "Y3", "AB3"]);
            let host_clock = hi_in.id();
            let input = |offset_nanoseconds: f64, valid_duration_nanoseconds: f64| {
                Timing::InputTiming(InputTimingConstraint {
                    offset_nanoseconds,
                    valid_duration_nanoseconds,
                    relative: TimingRelative::Before,
                    edge_sense: TimingRelativeEdge::Rising,
                    to_signal_id: host_clock,
                    to_signal_bit: Some(0),
                })
            };
            let output = |offset_nanoseconds: f64| {
                Timing::OutputTiming(OutputTimingConstraint {
                    offset_nanoseconds,
                    relative: TimingRelative::After,
                    edge_sense: TimingRelativeEdge::Rising,
                    to_signal_id: host_clock,
                    to_signal_bit: Some(0),
                })
            };
            hi_in.add_constraint(PinConstraint {
                index: 0,
                constraint: Constraint::Timing(Timing::Periodic(PeriodicTiming {
                    net: "okHostClk".into(),
                    period_nanoseconds: 20.83,
                    duty_cycle: 50.0,
                })),
            });
            constrain(&mut hi_in, 1, 8, input(14.3, 20.83));
            let mut hi_out: Signal<Out, Bits<2>> = lvcmos33(&["Y19", "AA8"]);
            constrain(&mut hi_out, 0, 2, output(11.93));
            let mut hi_inout: Signal<InOut, Bits<16>> = lvcmos33(&[
                "AB12", "AA12", "Y13", "AB18", "AA18", "V15", "AB2", "AA2", "Y7", "Y4", "W4",
                "AB6", "AA6", "U13", "U14", "AA20",
            ]);
            constrain(&mut hi_inout, 0, 16, output(11.63));
            constrain(&mut hi_inout, 0, 16, input(9.83, 9.83));
            let hi_aa: Signal<InOut, Bit> = lvcmos33(&["W11"]);
            let hi_mux: Signal<Out, Bit> = lvcmos33(&["AA22"]);
            OpalKellyHostInterface {
                sig_in: hi_in,
                sig_out: hi_out,
                sig_inout: hi_inout,
                sig_aa: hi_aa,
                sig_mux: hi_mux,
            }
        }
    }

    /// `okHost`: the USB host interface, source of `ti_clk` and the endpoint bus `ok1`.
    #[derive(Clone, Debug, LogicBlock)]
    pub struct OpalKellyHost {
        pub hi: OpalKellyHostInterface,
        pub ok1: Signal<Out, Bits<31>>,
        pub ok2: Signal<In, Bits<17>>,
        pub ti_clk: Signal<Out, Clock>,
    }

    impl OpalKellyHost {
        pub fn xem_6010() -> Self {
            OpalKellyHost {
                hi: OpalKellyHostInterface::xem_6010(),
                ok1: Default::default(),
                ok2: Default::default(),
                ti_clk: Default::default(),
            }
        }
    }

    impl Logic for OpalKellyHost {
        fn update(&mut self) {}
        fn connect(&mut self) {
            self.ok1.connect();
            self.ok2.connect();
            self.hi.sig_in.connect();
            self.hi.sig_out.connect();
            self.hi.sig_inout.connect();
            self.hi.sig_aa.connect();
            self.hi.sig_mux.connect();
            self.ti_clk.connect();
        }
        fn hdl(&self) -> Verilog {
            Verilog::Blackbox(BlackBox {
                code: r#"
module OpalKellyHost
    (
    input  wire [7:0]  hi$sig_in,
    output wire [1:0]  hi$sig_out,
    inout  wire [15:0] hi$sig_inout,
    inout  wire        hi$sig_aa,
    output wire        hi$sig_mux,
    output wire        ti_clk,
    output wire [30:0] ok1,
    input  wire [16:0] ok2
    );

    assign hi$sig_mux = 1'b0;

    okHost host(.hi_in(hi$sig_in),
                .hi_out(hi$sig_out),
                .hi_inout(hi$sig_inout),
                .hi_aa(hi$sig_aa),
                .ti_clk(ti_clk),
                .ok1(ok1),
                .ok2(ok2));
endmodule
"#
                .into(),
                name: "OpalKellyHost".into(),
            })
        }
    }

    /// The wrapper module of one endpoint: `name_<addr>` instantiating `primitive` with
    /// `ep_addr` fixed. `ports` are the block's ports besides `ok1` as (name, output, bits);
    /// the primitive calls each one `ep_<name>`, except `ok2`.
    fn wrapper(kind: &str, addr: u8, primitive: &str, ports: &[(&str, bool, usize)]) -> Verilog {
        let name = format!("{kind}_{addr:x}");
        let mut decls = Vec::new();
        let mut binds = String::new();
        for &(port, output, bits) in ports {
            let dir = if output { "output" } else { "input" };
            let range = if bits > 1 {
                format!(" [{}:0]", bits - 1)
            } else {
                String::new()
            };
            decls.push(format!("    {dir} wire{range} {port}"));
            let ep = if port == "ok2" {
                port.to_string()
            } else {
                format!("ep_{port}")
            };
            binds.push_str(&format!(", .{ep}({port})"));
        }
        let ports = decls.join(",\n");
        Verilog::Blackbox(BlackBox {
            code: format!(
                "\nmodule {name}\n    (\n    input wire [30:0] ok1,\n{ports}\n    );\n\n    \
                 {primitive} mod_ep(.ok1(ok1), .ep_addr({}){binds});\nendmodule\n",
                VerilogLiteral::from(addr)
            ),
            name,
        })
    }

    fn check_range(kind: &str, addr: u8, range: std::ops::Range<u8>) -> u8 {
        assert!(
            range.contains(&addr),
            "{kind} endpoint address 0x{addr:02X} is outside 0x{:02X}..0x{:02X}",
            range.start,
            range.end
        );
        addr
    }

    /// Endpoint blocks: `Name(kind, address range) => primitive { ports besides ok1 }`.
    /// Each gets `new(n)`, which checks `n` against the range, `connect` of its outputs and
    /// the `wrapper` Verilog.
    macro_rules! is_output {
        (Out) => {
            true
        };
        (In) => {
            false
        };
    }

    macro_rules! endpoints {
        ($(
            $(#[$doc:meta])*
            $name:ident($kind:literal, $range:expr) => $primitive:ident {
                $($field:ident: $dir:ident<$ty:ty>),*
            }
        )*) => {$(
            $(#[$doc])*
            #[derive(Clone, Debug, LogicBlock)]
            pub struct $name {
                pub ok1: Signal<In, Bits<31>>,
                $(pub $field: Signal<$dir, $ty>,)*
                _n: u8,
            }

            impl $name {
                pub fn new(n: u8) -> Self {
                    $name {
                        ok1: Default::default(),
                        $($field: Default::default(),)*
                        _n: check_range($kind, n, $range),
                    }
                }
            }

            impl Logic for $name {
                fn update(&mut self) {}
                fn connect(&mut self) {
                    $(if is_output!($dir) {
                        self.$field.connect();
                    })*
                }
                fn hdl(&self) -> Verilog {
                    let ports = [$((stringify!($field), is_output!($dir), <$ty>::BITS)),*];
                    wrapper(stringify!($name), self._n, stringify!($primitive), &ports)
                }
            }
        )*};
    }

    endpoints! {
        /// `okWireIn`: a 16-bit value set by the host (`ti_clk` domain).
        WireIn("wire-in", 0x00..0x20) => okWireIn { dataout: Out<Bits<16>> }
        /// `okWireOut`: a 16-bit value the host samples (`ti_clk` domain).
        WireOut("wire-out", 0x20..0x40) => okWireOut { ok2: Out<Bits<17>>, datain: In<Bits<16>> }
        /// `okTriggerIn`: one-cycle pulses in the `clk` domain.
        TriggerIn("trigger-in", 0x40..0x60) => okTriggerIn { clk: In<Clock>, trigger: Out<Bits<16>> }
        /// `okTriggerOut`: pulses in the `clk` domain that the host latches.
        TriggerOut("trigger-out", 0x60..0x80) => okTriggerOut {
            ok2: Out<Bits<17>>, clk: In<Clock>, trigger: In<Bits<16>>
        }
        /// `okPipeIn`: 16-bit words from the host, one per `write` (`ti_clk` domain).
        PipeIn("pipe-in", 0x80..0xA0) => okPipeIn {
            ok2: Out<Bits<17>>, write: Out<Bit>, dataout: Out<Bits<16>>
        }
        /// `okPipeOut`: 16-bit words to the host, one per `read` (`ti_clk` domain).
        PipeOut("pipe-out", 0xA0..0xC0) => okPipeOut {
            ok2: Out<Bits<17>>, read: Out<Bit>, datain: In<Bits<16>>
        }
    }
}

#[cfg(all(test, not(feature = "frontpanel")))]
mod tests {
    use super::*;
    use rust_hdl::prelude::*;

    #[test]
    fn endpoint_wrappers_instantiate_the_ok_primitives_at_their_addresses() {
        let mut uut = TopWrap::new(WireIn::new(0x06));
        uut.uut.ok1.connect();
        uut.connect_all();
        let verilog = filter_blackbox_directives(&generate_verilog(&uut));
        assert!(verilog.contains("module WireIn_6"), "{verilog}");
        assert!(
            verilog.contains("okWireIn mod_ep(.ok1(ok1), .ep_addr(8'h6)"),
            "{verilog}"
        );
        let report = vassa_hdl_tools::hwcheck::yosys_synth(
            &format!("{verilog}\n{OK_PRIMITIVES}"),
            "top",
            vassa_hdl_tools::hwcheck::Family::Xc6s,
        );
        assert!(report.is_ok(), "{report:?}");
    }

    #[test]
    #[should_panic(expected = "outside 0x20..0x40")]
    fn an_endpoint_outside_its_range_is_refused() {
        WireOut::new(0x06);
    }
}
