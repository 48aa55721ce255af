//! [`Endpoints`] over a simulated board: `vassa_sim::board::BoardSim`, the Verilated card
//! behind its FrontPanel bridge, with the `ti_clk` (48 MHz) and core (100 MHz) clocks.
//!
//! The calls keep FrontPanel's semantics: wire-ins are held here until
//! [`Endpoints::update_wire_ins`], which hands them to the simulation and lets them reach the
//! FPGA (a real update is a USB transaction that completes before the next call starts);
//! [`Endpoints::update_wire_outs`] samples every wire-out of the contract at once and
//! [`Endpoints::get_wire_out`] reads that sample; [`Endpoints::update_trigger_outs`] fetches
//! the `events` bits that pulsed since the previous fetch. Pipes move one 16-bit word per
//! `ti_clk` cycle. Time is the simulation's core clock.

use super::endpoints::{check_pipe_len, EndpointError, Endpoints};
use vassa_rtl::spec::board::fp;
use vassa_sim::board::BoardSim;

/// Core cycles [`SimEndpoints::update_wire_ins`] runs so that the new values have crossed a
/// `ti_clk` edge (two `ti_clk` periods at 48 MHz, rounded up).
pub const WIRE_SETTLE_CYCLES: u64 = 5;

/// FrontPanel `ok_InvalidEndpoint`.
const INVALID_ENDPOINT: i32 = -9;

/// The endpoints of a simulated board.
pub struct SimEndpoints {
    sim: BoardSim,
    /// Wire-ins set since the last update.
    pending: Vec<(u8, u16)>,
    /// Wire-outs as sampled by the last update (index: address − 0x20).
    wire_outs: [u16; 0x20],
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
            sim,
            pending: Vec::new(),
            wire_outs: [0; 0x20],
            events: 0,
        }
    }

    /// The simulation (link words, LEDs, memory size).
    pub fn sim(&self) -> &BoardSim {
        &self.sim
    }

    pub fn sim_mut(&mut self) -> &mut BoardSim {
        &mut self.sim
    }
}

impl Endpoints for SimEndpoints {
    fn set_wire_in(&mut self, addr: u8, value: u16) -> Result<(), EndpointError> {
        in_range("SetWireInValue", addr, 0x00)?;
        self.pending.retain(|&(a, _)| a != addr);
        self.pending.push((addr, value));
        Ok(())
    }

    fn update_wire_ins(&mut self) -> Result<(), EndpointError> {
        for (addr, value) in self.pending.drain(..) {
            self.sim.set_wire_in(addr, value);
        }
        self.sim.run(WIRE_SETTLE_CYCLES);
        Ok(())
    }

    fn update_wire_outs(&mut self) -> Result<(), EndpointError> {
        for w in fp::WIRE_OUTS {
            self.wire_outs[(w.addr - 0x20) as usize] = self.sim.wire_out(w.addr);
        }
        Ok(())
    }

    fn get_wire_out(&self, addr: u8) -> u16 {
        match addr.checked_sub(0x20) {
            Some(i) if i < 0x20 => self.wire_outs[i as usize],
            _ => 0,
        }
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
        self.sim.activate_trigger_in(addr, bit);
        Ok(())
    }

    fn update_trigger_outs(&mut self) -> Result<(), EndpointError> {
        self.events = self.sim.trigger_out(fp::TO_EVENTS.addr);
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
        self.sim.write_pipe_in(addr, &words);
        Ok(())
    }

    fn read_from_pipe_out(&mut self, addr: u8, data: &mut [u8]) -> Result<(), EndpointError> {
        const OP: &str = "ReadFromPipeOut";
        in_range(OP, addr, 0xA0)?;
        check_pipe_len(OP, addr, data.len())?;
        let words = self.sim.read_pipe_out(addr, data.len() / 2);
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
        self.sim.core_cycles()
    }

    fn advance(&mut self, core_cycles: u64) {
        self.sim.run(core_cycles);
    }
}
