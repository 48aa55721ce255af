//! The XEM6010 board simulated: the Verilated `FrontPanelCard` (everything behind the Opal
//! Kelly FrontPanel endpoints: the bridge, the core, its block-RAM memory) with a behavioural
//! stand-in for the Opal Kelly host and endpoint blocks at their user-side ports (the real
//! ones are netlists that cannot be simulated).
//!
//! Two clocks run at their own periods (`ti_clk` 48 MHz and the core's 100 MHz by default, any
//! ratio with [`BoardSim::with_clocks`]); time advances edge by edge. What the stand-in does,
//! per FrontPanel call (each takes a few `ti_clk` cycles, as the USB transaction would take
//! some time — far less here than on a real board):
//! - `set_wire_in` (SetWireInValue + UpdateWireIns): the value appears on the `wi_*` port right
//!   after the next `ti_clk` rising edge and stays there.
//! - `wire_out` (UpdateWireOuts + GetWireOutValue): the `wo_*` port's value at a `ti_clk`
//!   rising edge.
//! - `activate_trigger_in`: `ti_command` high for exactly one core clock cycle (okTriggerIn
//!   with `ep_clk` = the core clock).
//! - `trigger_out` (UpdateTriggerOuts + IsTriggered): the bits of `to_events` seen high at any
//!   core clock edge since the previous call for that endpoint.
//! - `write_pipe_in`: `pipe_in_write` high with one word on `pipe_in_data` per `ti_clk` cycle.
//! - `read_pipe_out`: `pipe_out_read` high for `words` `ti_clk` cycles; the word for the strobe
//!   of cycle t is taken from `pipe_out_data` in cycle t + 1 (okPipeOut's timing as rust-hdl
//!   uses it: `datain` fed from a registered read that `read` advances).
//!
//! A wrong endpoint address or trigger bit is a programming error and panics with the address;
//! data never makes the stand-in panic.

use crate::LinkWord;
use std::collections::VecDeque;
use std::ffi::c_void;
use vassa_spec::board::fp;

/// The Verilated `FrontPanelCard`, generated port by port (see `build.rs`).
pub struct FpModel {
    raw: *mut c_void,
    t: &'static Table,
}

include!(concat!(env!("OUT_DIR"), "/fp_ports.rs"));
include!(concat!(env!("OUT_DIR"), "/fp_consts.rs"));

impl FpModel {
    pub fn new() -> Self {
        let t = static_table();
        let raw = unsafe { (t.new)() };
        assert!(!raw.is_null());
        FpModel { raw, t }
    }

    pub fn eval(&mut self) {
        unsafe { (self.t.eval)(self.raw) }
    }
}

impl Default for FpModel {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FpModel {
    fn drop(&mut self) {
        unsafe { (self.t.free)(self.raw) }
    }
}

// A plain C++ object owned by this handle.
unsafe impl Send for FpModel {}

type Setter = fn(&mut FpModel, u32);
type Getter = fn(&FpModel) -> u32;

/// Wire-in endpoints and their ports, in `fp::WIRE_INS` order.
const WIRE_IN_PORTS: [Setter; 7] = [
    FpModel::set_wi_reg_addr,
    FpModel::set_wi_reg_wdata_lo,
    FpModel::set_wi_reg_wdata_hi,
    FpModel::set_wi_mem_addr_lo,
    FpModel::set_wi_mem_addr_hi,
    FpModel::set_wi_mem_words,
    FpModel::set_wi_control,
];

/// Wire-out endpoints and their ports, in `fp::WIRE_OUTS` order.
const WIRE_OUT_PORTS: [Getter; 8] = [
    FpModel::wo_reg_rdata_lo,
    FpModel::wo_reg_rdata_hi,
    FpModel::wo_status,
    FpModel::wo_pipe_in_words,
    FpModel::wo_pipe_out_words,
    FpModel::wo_mem_kib,
    FpModel::wo_magic,
    FpModel::wo_errors,
];

/// `ti_clk` cycles one FrontPanel call takes besides its data transfer.
pub const CALL_TI_CYCLES: u64 = 4;

/// The default clocks: `ti_clk` 48 MHz, core 100 MHz (periods in picoseconds).
pub const TI_PERIOD_PS: u64 = 20_833;
pub const CORE_PERIOD_PS: u64 = 10_000;

/// A simulated XEM6010 carrying a VASSA card (see the module documentation).
pub struct BoardSim {
    m: FpModel,
    ti_period: u64,
    core_period: u64,
    /// Time of the next rising edge of each clock (ps).
    next_ti: u64,
    next_core: u64,
    core_cycles: u64,
    ti_cycles: u64,
    /// `to_events` bits seen since the last `trigger_out`.
    events: u16,
    /// A trigger-in pulse to apply in the next core cycle.
    trigger: u16,
    tx: Vec<LinkWord>,
    rx: VecDeque<LinkWord>,
}

impl Default for BoardSim {
    fn default() -> Self {
        Self::new()
    }
}

impl BoardSim {
    /// `ti_clk` 48 MHz, core clock 100 MHz.
    pub fn new() -> Self {
        Self::with_clocks(TI_PERIOD_PS, CORE_PERIOD_PS)
    }

    /// Clock periods in picoseconds (each at least 2).
    pub fn with_clocks(ti_period_ps: u64, core_period_ps: u64) -> Self {
        assert!(
            ti_period_ps >= 2 && core_period_ps >= 2,
            "clock periods must be at least 2 ps"
        );
        let mut m = FpModel::new();
        m.set_ti_clk(0);
        m.set_core_clock(0);
        m.eval();
        BoardSim {
            m,
            ti_period: ti_period_ps,
            core_period: core_period_ps,
            next_ti: ti_period_ps,
            next_core: core_period_ps,
            core_cycles: 0,
            ti_cycles: 0,
            events: 0,
            trigger: 0,
            tx: Vec::new(),
            rx: VecDeque::new(),
        }
    }

    /// Bytes of card memory.
    pub fn mem_bytes(&self) -> usize {
        FP_MEM_BYTES
    }

    /// The raw Verilated model, for tests that look at ports directly.
    pub fn model(&mut self) -> &mut FpModel {
        &mut self.m
    }

    /// Advances to the next rising edge of either clock (both if they coincide).
    fn edge(&mut self) {
        let t = self.next_ti.min(self.next_core);
        let ti = self.next_ti == t;
        let core = self.next_core == t;
        if core {
            // Core-domain inputs for this cycle, then sample the outputs before the edge.
            let w = self.rx.pop_front().unwrap_or_default();
            self.m.set_link_rx_valid(w.valid as u32);
            self.m.set_link_rx_sop(w.sop as u32);
            self.m.set_link_rx_eop(w.eop as u32);
            self.m.set_link_rx_data(w.data);
            self.m.set_ti_command(self.trigger as u32);
            self.trigger = 0;
            self.m.set_core_clock(0);
        }
        if ti {
            self.m.set_ti_clk(0);
        }
        self.m.eval();
        if core {
            self.events |= self.m.to_events() as u16;
            if self.m.link_tx_valid() != 0 {
                self.tx.push(LinkWord {
                    valid: true,
                    sop: self.m.link_tx_sop() != 0,
                    eop: self.m.link_tx_eop() != 0,
                    data: self.m.link_tx_data(),
                });
            }
            self.m.set_core_clock(1);
            self.next_core += self.core_period;
            self.core_cycles += 1;
        }
        if ti {
            self.m.set_ti_clk(1);
            self.next_ti += self.ti_period;
            self.ti_cycles += 1;
        }
        self.m.eval();
        if core {
            // The trigger pulse lasts one core cycle.
            self.m.set_ti_command(0);
        }
    }

    /// Runs until `n` more `ti_clk` rising edges have passed.
    fn ti_edges(&mut self, n: u64) {
        let until = self.ti_cycles + n;
        while self.ti_cycles < until {
            self.edge();
        }
    }

    fn wire_in_index(addr: u8) -> usize {
        fp::WIRE_INS
            .iter()
            .position(|e| e.addr == addr)
            .unwrap_or_else(|| panic!("no wire-in endpoint at {addr:#04x} (see spec::board::fp)"))
    }

    /// SetWireInValue + UpdateWireIns: `value` is on the wire from the next `ti_clk` edge on.
    pub fn set_wire_in(&mut self, addr: u8, value: u16) {
        let i = Self::wire_in_index(addr);
        self.ti_edges(1);
        WIRE_IN_PORTS[i](&mut self.m, value as u32);
        self.m.eval();
        self.ti_edges(CALL_TI_CYCLES);
    }

    /// UpdateWireOuts + GetWireOutValue: the wire's value at a `ti_clk` edge.
    pub fn wire_out(&mut self, addr: u8) -> u16 {
        let i = fp::WIRE_OUTS
            .iter()
            .position(|e| e.addr == addr)
            .unwrap_or_else(|| panic!("no wire-out endpoint at {addr:#04x} (see spec::board::fp)"));
        self.ti_edges(CALL_TI_CYCLES);
        // Outputs settled after the latest edge are what the next edge samples.
        let value = WIRE_OUT_PORTS[i](&self.m) as u16;
        self.ti_edges(1);
        value
    }

    /// ActivateTriggerIn: bit `bit` of trigger-in `addr` high for one core clock cycle.
    pub fn activate_trigger_in(&mut self, addr: u8, bit: u32) {
        assert!(
            addr == fp::TI_COMMAND.addr,
            "no trigger-in endpoint at {addr:#04x} (see spec::board::fp)"
        );
        assert!(bit < 16, "trigger-in bit {bit} out of range 0..16");
        self.ti_edges(CALL_TI_CYCLES);
        self.trigger = 1 << bit;
        let until = self.core_cycles + 1;
        while self.core_cycles < until {
            self.edge();
        }
    }

    /// UpdateTriggerOuts + IsTriggered: the bits of trigger-out `addr` that pulsed since the
    /// previous call.
    pub fn trigger_out(&mut self, addr: u8) -> u16 {
        assert!(
            addr == fp::TO_EVENTS.addr,
            "no trigger-out endpoint at {addr:#04x} (see spec::board::fp)"
        );
        self.ti_edges(CALL_TI_CYCLES);
        std::mem::take(&mut self.events)
    }

    /// WriteToPipeIn: one 16-bit word per `ti_clk` cycle.
    pub fn write_pipe_in(&mut self, addr: u8, words: &[u16]) {
        assert!(
            addr == fp::PIPE_IN_MEM.addr,
            "no pipe-in endpoint at {addr:#04x} (see spec::board::fp)"
        );
        self.ti_edges(CALL_TI_CYCLES);
        for &w in words {
            self.m.set_pipe_in_write(1);
            self.m.set_pipe_in_data(w as u32);
            self.m.eval();
            self.ti_edges(1);
        }
        self.m.set_pipe_in_write(0);
        self.m.eval();
        self.ti_edges(CALL_TI_CYCLES);
    }

    /// ReadFromPipeOut: `words` read strobes, one per `ti_clk` cycle; each word is taken in
    /// the cycle after its strobe.
    pub fn read_pipe_out(&mut self, addr: u8, words: usize) -> Vec<u16> {
        assert!(
            addr == fp::PIPE_OUT_MEM.addr,
            "no pipe-out endpoint at {addr:#04x} (see spec::board::fp)"
        );
        self.ti_edges(CALL_TI_CYCLES);
        let mut out = Vec::with_capacity(words);
        for _ in 0..words {
            self.m.set_pipe_out_read(1);
            self.m.eval();
            self.ti_edges(1);
            // After the strobe's edge: the word on `datain` during the next cycle.
            out.push(self.m.pipe_out_data() as u16);
        }
        self.m.set_pipe_out_read(0);
        self.m.eval();
        self.ti_edges(CALL_TI_CYCLES);
        out
    }

    /// Advances time by `core_cycles` core clock cycles (`ti_clk` runs alongside).
    pub fn run(&mut self, core_cycles: u64) {
        let until = self.core_cycles + core_cycles;
        while self.core_cycles < until {
            self.edge();
        }
    }

    /// Core clock rising edges so far.
    pub fn core_cycles(&self) -> u64 {
        self.core_cycles
    }

    /// `ti_clk` rising edges so far.
    pub fn ti_cycles(&self) -> u64 {
        self.ti_cycles
    }

    /// Words the card drove on its link TX pins since the previous call.
    pub fn link_tx(&mut self) -> Vec<LinkWord> {
        std::mem::take(&mut self.tx)
    }

    /// Words to present on the link RX pins, one per core cycle from the next one on (after
    /// those queued before); idle cycles are words with `valid == false`.
    pub fn push_link_rx(&mut self, words: &[LinkWord]) {
        self.rx.extend(words.iter().copied());
    }

    /// The LED outputs (BoardCard's `activity`).
    pub fn leds(&self) -> u8 {
        self.m.leds() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_tables_follow_the_spec_order() {
        // The tables are indexed by the spec lists' positions: same lengths, and every wire
        // answers at its own address.
        assert_eq!(WIRE_IN_PORTS.len(), fp::WIRE_INS.len());
        assert_eq!(WIRE_OUT_PORTS.len(), fp::WIRE_OUTS.len());
        let mut b = BoardSim::new();
        assert_eq!(
            b.wire_out(fp::WO_MAGIC.addr),
            vassa_spec::board::BOARD_MAGIC
        );
        assert_eq!(
            b.wire_out(fp::WO_MEM_KIB.addr) as usize * 1024,
            b.mem_bytes()
        );
    }
}
