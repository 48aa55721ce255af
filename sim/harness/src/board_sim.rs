//! [`Endpoints`] over a simulated board: `vassa_sim::board::BoardSim`, the Verilated card
//! behind its FrontPanel bridge, with the `ti_clk` (48 MHz) and core (100 MHz) clocks.
//!
//! The calls keep FrontPanel's semantics: wire-ins are held here until
//! [`Endpoints::update_wire_ins`], which hands the changed ones to the simulation (each takes
//! effect at a `ti_clk` edge before the next call); [`Endpoints::update_trigger_outs`] fetches
//! the `events` bits that pulsed since the previous fetch; pipes move one 16-bit word per
//! `ti_clk` cycle. Every simulated call costs a few `ti_clk` cycles, and the simulation only
//! has one call per wire, so to keep tests fast a wire-out is sampled at its first
//! [`Endpoints::get_wire_out`] after [`Endpoints::update_wire_outs`] (a few `ti_clk` cycles
//! after the update, where the real API samples all of them at the update: the protocol reads
//! a wire-out only while it is stable). Time is the simulation's core clock.

use std::cell::{Cell, RefCell};
use vassa_driver::board::endpoints::{check_pipe_len, EndpointError, Endpoints};
use vassa_sim::board::BoardSim;
use vassa_spec::board::fp;

/// FrontPanel `ok_InvalidEndpoint`.
const INVALID_ENDPOINT: i32 = -9;

/// The endpoints of a simulated board.
pub struct SimEndpoints {
    sim: RefCell<BoardSim>,
    /// Wire-ins as set, and as last handed to the simulation.
    wire_ins: [Option<u16>; 0x20],
    applied: [Option<u16>; 0x20],
    /// Wire-outs sampled since the last update (index: address − 0x20).
    wire_outs: [Cell<Option<u16>>; 0x20],
    /// `events` bits of the last trigger-out fetch.
    events: u16,
}

impl Default for SimEndpoints {
    fn default() -> Self {
        Self::new()
    }
}

fn in_range(op: &'static str, addr: u8, lo: u8) -> Result<(), EndpointError> {
    if (lo..lo + 0x20).contains(&addr) {
        Ok(())
    } else {
        Err(EndpointError::Device {
            op,
            addr: Some(addr),
            code: INVALID_ENDPOINT,
        })
    }
}

impl SimEndpoints {
    /// A board simulated at its nominal clocks.
    pub fn new() -> Self {
        Self::with_sim(BoardSim::new())
    }

    pub fn with_sim(sim: BoardSim) -> Self {
        SimEndpoints {
            sim: RefCell::new(sim),
            wire_ins: [None; 0x20],
            applied: [None; 0x20],
            wire_outs: Default::default(),
            events: 0,
        }
    }

    /// The simulation (link words, LEDs, memory size).
    pub fn sim(&self) -> std::cell::Ref<'_, BoardSim> {
        self.sim.borrow()
    }

    pub fn sim_mut(&mut self) -> &mut BoardSim {
        self.sim.get_mut()
    }
}

impl Endpoints for SimEndpoints {
    fn set_wire_in(&mut self, addr: u8, value: u16) -> Result<(), EndpointError> {
        in_range("SetWireInValue", addr, 0x00)?;
        self.wire_ins[addr as usize] = Some(value);
        Ok(())
    }

    fn update_wire_ins(&mut self) -> Result<(), EndpointError> {
        let sim = self.sim.get_mut();
        for (addr, (set, applied)) in self.wire_ins.iter().zip(&mut self.applied).enumerate() {
            if let Some(v) = *set {
                if *applied != Some(v) {
                    sim.set_wire_in(addr as u8, v);
                    *applied = Some(v);
                }
            }
        }
        Ok(())
    }

    fn update_wire_outs(&mut self) -> Result<(), EndpointError> {
        for w in &self.wire_outs {
            w.set(None);
        }
        Ok(())
    }

    fn get_wire_out(&self, addr: u8) -> u16 {
        // The bridge drives only the contract's wire-outs; the others read 0, as on the board.
        if !fp::WIRE_OUTS.iter().any(|w| w.addr == addr) {
            return 0;
        }
        let i = addr - 0x20;
        let cached = &self.wire_outs[i as usize];
        cached.get().unwrap_or_else(|| {
            let v = self.sim.borrow_mut().wire_out(addr);
            cached.set(Some(v));
            v
        })
    }

    fn activate_trigger_in(&mut self, addr: u8, bit: u32) -> Result<(), EndpointError> {
        in_range("ActivateTriggerIn", addr, 0x40)?;
        if bit >= 16 {
            return Err(EndpointError::Device {
                op: "ActivateTriggerIn",
                addr: Some(addr),
                code: INVALID_ENDPOINT,
            });
        }
        self.sim.get_mut().activate_trigger_in(addr, bit);
        Ok(())
    }

    fn update_trigger_outs(&mut self) -> Result<(), EndpointError> {
        self.events = self.sim.get_mut().trigger_out(fp::TO_EVENTS.addr);
        Ok(())
    }

    fn is_triggered(&self, addr: u8, mask: u16) -> bool {
        addr == fp::TO_EVENTS.addr && self.events & mask != 0
    }

    fn write_to_pipe_in(&mut self, addr: u8, data: &[u8]) -> Result<(), EndpointError> {
        const OP: &str = "WriteToPipeIn";
        in_range(OP, addr, 0x80)?;
        check_pipe_len(OP, addr, data.len())?;
        let words: Vec<u16> = (data.chunks(2))
            .map(|h| u16::from_le_bytes([h[0], h[1]]))
            .collect();
        self.sim.get_mut().write_pipe_in(addr, &words);
        Ok(())
    }

    fn read_from_pipe_out(&mut self, addr: u8, data: &mut [u8]) -> Result<(), EndpointError> {
        const OP: &str = "ReadFromPipeOut";
        in_range(OP, addr, 0xA0)?;
        check_pipe_len(OP, addr, data.len())?;
        let words = self.sim.get_mut().read_pipe_out(addr, data.len() / 2);
        if words.len() * 2 != data.len() {
            return Err(EndpointError::Short {
                op: OP,
                addr,
                wanted: data.len(),
                moved: words.len() * 2,
            });
        }
        for (h, w) in data.chunks_mut(2).zip(words) {
            h.copy_from_slice(&w.to_le_bytes());
        }
        Ok(())
    }

    fn now_core_cycles(&self) -> u64 {
        self.sim.borrow().core_cycles()
    }

    fn advance(&mut self, core_cycles: u64) {
        self.sim.get_mut().run(core_cycles);
    }
}
