//! The two-card workload on rust-hdl's own simulation of `VassaCore` (no Verilog): the
//! single-threaded stepper of the RTL tests (`vassa_hdl_tools::testbench::Bench`) and rust-hdl's
//! threaded `Simulation`. Both are [`Core`]s, so the cards around them are the same
//! [`Card`] code as around the Verilated model.

use super::{drive, LoopRun, Side};
use crate::{Card, Core, Inputs, Outputs};
use rust_hdl::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use vassa_hdl_tools::testbench::Bench;
use vassa_rtl::core::VassaCore;
use vassa_spec::params::CoreParams;

fn bits<const N: usize>(v: u32) -> Bits<N> {
    Bits::from(v as u64 & ((1u64 << N) - 1))
}

fn word<const N: usize>(b: Bits<N>) -> u32 {
    b.to_u64() as u32
}

/// Drives every input of the core (`.next`), as `vassa_cycle` does for the Verilated model.
fn apply(c: &mut VassaCore, i: &Inputs) {
    c.bus_addr.next = bits(i.bus_addr);
    c.bus_wdata.next = bits(i.bus_wdata);
    c.bus_write.next = i.bus_write & 1 != 0;
    c.bus_read.next = i.bus_read & 1 != 0;
    c.mem_rd_req_ready.next = i.mem_rd_req_ready & 1 != 0;
    c.mem_rd_data_valid.next = i.mem_rd_data_valid & 1 != 0;
    c.mem_rd_data.next = bits(i.mem_rd_data);
    c.mem_wr_ready.next = i.mem_wr_ready & 1 != 0;
    c.link_rx_valid.next = i.link_rx_valid & 1 != 0;
    c.link_rx_sop.next = i.link_rx_sop & 1 != 0;
    c.link_rx_eop.next = i.link_rx_eop & 1 != 0;
    c.link_rx_data.next = bits(i.link_rx_data);
}

/// Every output of the core.
fn sample(c: &VassaCore) -> Outputs {
    Outputs {
        bus_rdata: word(c.bus_rdata.val()),
        bus_rvalid: c.bus_rvalid.val() as u32,
        irq: c.irq.val() as u32,
        drop_event: c.drop_event.val() as u32,
        rx_trace: word(c.rx_trace.val()),
        map_busy: c.map_busy.val() as u32,
        mem_rd_req_valid: c.mem_rd_req_valid.val() as u32,
        mem_rd_req_addr: word(c.mem_rd_req_addr.val()),
        mem_rd_req_len: word(c.mem_rd_req_len.val()),
        mem_wr_valid: c.mem_wr_valid.val() as u32,
        mem_wr_addr: word(c.mem_wr_addr.val()),
        mem_wr_data: word(c.mem_wr_data.val()),
        mem_wr_strb: word(c.mem_wr_strb.val()),
        mem_wr_last: c.mem_wr_last.val() as u32,
        link_tx_valid: c.link_tx_valid.val() as u32,
        link_tx_sop: c.link_tx_sop.val() as u32,
        link_tx_eop: c.link_tx_eop.val() as u32,
        link_tx_data: word(c.link_tx_data.val()),
    }
}

/// `VassaCore` stepped by the RTL tests' single-threaded stepper.
pub struct Stepped(Bench<VassaCore>);

impl Stepped {
    pub fn new() -> Self {
        Stepped(Bench::new(VassaCore::new(&CoreParams::default()), |c| {
            &mut c.clock
        }))
    }
}

impl Default for Stepped {
    fn default() -> Self {
        Self::new()
    }
}

impl Core for Stepped {
    fn cycle(&mut self, inputs: &Inputs) -> Outputs {
        apply(&mut self.0.uut, inputs);
        self.0.settle();
        let out = sample(&self.0.uut);
        self.0.step();
        out
    }
    fn irq(&self) -> bool {
        self.0.uut.irq.val()
    }
}

/// The workload on two `VassaCore`s in rust-hdl's single-threaded stepper.
pub fn two_cards_stepped(sides: &[Side; 2], cycles: u64) -> LoopRun {
    let cards = [
        Card::with_core(Stepped::new()),
        Card::with_core(Stepped::new()),
    ];
    drive(cards, sides, cycles, |_| {})
}

/// Two cores on one clock, for rust-hdl's threaded `Simulation` (their links are joined by
/// the testbench, like every other loop of the benchmark).
#[derive(LogicBlock)]
pub struct TwoCores {
    pub clock: Signal<In, Clock>,
    pub a: VassaCore,
    pub b: VassaCore,
}

impl Logic for TwoCores {
    #[hdl_gen]
    fn update(&mut self) {
        clock!(self, clock, a, b);
    }
}

/// The threaded simulation seen from one testbench: the circuit in flight between calls.
struct Shared {
    sim: Sim<TwoCores>,
    x: Option<Box<TwoCores>>,
}

fn pick(x: &mut TwoCores, b: bool) -> &mut VassaCore {
    if b {
        &mut x.b
    } else {
        &mut x.a
    }
}

/// One of the two cores of a threaded simulation. The benchmark loop steps card A then card
/// B each cycle: A's `cycle` waits for the clock to fall, applies A's inputs and samples its
/// outputs one time unit later; B's does the same for B and then waits for the rising edge.
struct Half {
    shared: Rc<RefCell<Shared>>,
    b: bool,
}

impl Core for Half {
    fn cycle(&mut self, inputs: &Inputs) -> Outputs {
        let mut s = self.shared.borrow_mut();
        let mut x = s.x.take().expect("circuit");
        if !self.b {
            x = s.sim.watch(|x| !x.clock.val().clk, x).expect("clock falls");
        }
        apply(pick(&mut x, self.b), inputs);
        x = s.sim.wait(1, x).expect("settle");
        let out = sample(pick(&mut x, self.b));
        if self.b {
            x = s.sim.watch(|x| x.clock.val().clk, x).expect("clock rises");
        }
        s.x = Some(x);
        out
    }
    fn irq(&self) -> bool {
        let s = self.shared.borrow();
        let x = s.x.as_ref().expect("circuit");
        if self.b {
            x.b.irq.val()
        } else {
            x.a.irq.val()
        }
    }
}

/// The workload on two `VassaCore`s in rust-hdl's threaded `Simulation` (a clock thread and a
/// testbench thread exchanging the circuit over channels).
pub fn two_cards_threaded(sides: &[Side; 2], cycles: u64) -> LoopRun {
    let params = CoreParams::default();
    let mut top = TwoCores {
        clock: Default::default(),
        a: VassaCore::new(&params),
        b: VassaCore::new(&params),
    };
    // The testbench drives the cores' inputs: mark them driven for rust-hdl's checks.
    for c in [&mut top.a, &mut top.b] {
        c.bus_addr.connect();
        c.bus_wdata.connect();
        c.bus_write.connect();
        c.bus_read.connect();
        c.mem_rd_req_ready.connect();
        c.mem_rd_data_valid.connect();
        c.mem_rd_data.connect();
        c.mem_wr_ready.connect();
        c.link_rx_valid.connect();
        c.link_rx_sop.connect();
        c.link_rx_eop.connect();
        c.link_rx_data.connect();
    }
    top.connect_all();
    let result: Arc<Mutex<Option<LoopRun>>> = Arc::new(Mutex::new(None));
    let out = result.clone();
    let sides = sides.clone();
    let mut sim = Simulation::new();
    sim.add_clock(5, |x: &mut Box<TwoCores>| x.clock.next = !x.clock.val());
    sim.add_testbench(move |ep: Sim<TwoCores>| {
        let x = ep.init()?;
        let shared = Rc::new(RefCell::new(Shared {
            sim: ep,
            x: Some(x),
        }));
        let half = |b| Half {
            shared: shared.clone(),
            b,
        };
        let run = drive(
            [Card::with_core(half(false)), Card::with_core(half(true))],
            &sides,
            cycles,
            |_| {},
        );
        *out.lock().unwrap() = Some(run);
        let Shared { sim, x } = Rc::try_unwrap(shared)
            .ok()
            .expect("cards dropped")
            .into_inner();
        sim.done(x.expect("circuit"))
    });
    sim.run(Box::new(top), cycles * 10 + 100)
        .expect("threaded simulation");
    let run = result.lock().unwrap().take().expect("testbench finished");
    run
}
