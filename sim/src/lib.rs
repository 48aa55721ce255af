//! VASSA cards simulated cycle-accurately by Verilator.
//!
//! [`Model`] is the Verilated core with one accessor per port (generated from the core's
//! Verilog by `build.rs`). [`Card`] wraps it with what surrounds a card: a memory port served
//! from a byte slice the caller owns (a `Vec`, or a memory-mapped file), the link, and a
//! queued register bus. Each `Card` owns its own Verilator context, so any number of cards can
//! live in one process.

use std::collections::VecDeque;
use std::ffi::c_void;

pub mod model;
pub mod network;

/// The Verilated `vassa_core`, generated port by port.
pub struct Model {
    raw: *mut c_void,
    /// Rising edges applied (the trace time base: two time units a cycle).
    edges: u64,
    tracing: bool,
}

include!(concat!(env!("OUT_DIR"), "/ports.rs"));

extern "C" {
    fn vassa_new() -> *mut c_void;
    fn vassa_free(p: *mut c_void);
    fn vassa_eval(p: *mut c_void);
    fn vassa_trace_open(p: *mut c_void, path: *const std::os::raw::c_char) -> i32;
    fn vassa_trace_dump(p: *mut c_void, time: u64);
    fn vassa_trace_close(p: *mut c_void);
}

impl Model {
    /// A fresh core in its power-up state.
    pub fn new() -> Self {
        let raw = unsafe { vassa_new() };
        assert!(!raw.is_null());
        let mut m = Model {
            raw,
            edges: 0,
            tracing: false,
        };
        m.set_clock(0);
        m.eval();
        m
    }

    /// Settles combinational logic after inputs changed.
    pub fn eval(&mut self) {
        unsafe { vassa_eval(self.raw) }
    }

    /// One rising clock edge (inputs must be set and settled with the clock low).
    pub fn rising_edge(&mut self) {
        if self.tracing {
            unsafe { vassa_trace_dump(self.raw, 2 * self.edges) };
        }
        self.set_clock(1);
        self.eval();
        if self.tracing {
            unsafe { vassa_trace_dump(self.raw, 2 * self.edges + 1) };
        }
        self.set_clock(0);
        self.eval();
        self.edges += 1;
    }

    /// Starts writing a VCD trace of every signal to `path` (two time units per cycle).
    pub fn trace_to(&mut self, path: &std::path::Path) -> Result<(), String> {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("trace path {} contains a NUL byte", path.display()))?;
        if self.tracing {
            return Err("this card is already tracing".into());
        }
        if unsafe { vassa_trace_open(self.raw, c_path.as_ptr()) } == 0 {
            return Err(format!("cannot open trace file {}", path.display()));
        }
        self.tracing = true;
        Ok(())
    }

    /// Flushes and closes the trace file, if one is open.
    pub fn trace_close(&mut self) {
        if self.tracing {
            unsafe { vassa_trace_close(self.raw) };
            self.tracing = false;
        }
    }
}

impl Default for Model {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { vassa_free(self.raw) }
    }
}

// The model is a plain C++ object owned by this handle; it may move between threads.
unsafe impl Send for Model {}

/// One link word with its framing, or an idle cycle (`valid == false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkWord {
    pub valid: bool,
    pub sop: bool,
    pub eop: bool,
    pub data: u32,
}

/// A register-bus access waiting to be issued.
#[derive(Debug, Clone, Copy)]
enum BusOp {
    Write(u32, u32),
    Read(u32),
}

/// A card: the core plus its memory port, link and register bus.
pub struct Card {
    model: Model,
    /// Cycles from a read request to its first data beat (at least 1).
    pub read_latency: u64,
    /// Outstanding read bursts: (cycle the first beat may return, byte address, beats left).
    reads: VecDeque<(u64, u32, u32)>,
    bus_queue: VecDeque<BusOp>,
    bus_busy: bool,
    /// Values of completed register reads, in issue order.
    read_results: VecDeque<u32>,
    /// Memory accesses outside the caller's buffer (reads return 0, writes are ignored).
    pub memory_faults: u64,
    /// Rising edges so far.
    pub cycle: u64,
}

impl Default for Card {
    fn default() -> Self {
        Self::new()
    }
}

impl Card {
    pub fn new() -> Self {
        let mut model = Model::new();
        model.set_mem_rd_req_ready(1);
        model.set_mem_wr_ready(1);
        Card {
            model,
            read_latency: 2,
            reads: VecDeque::new(),
            bus_queue: VecDeque::new(),
            bus_busy: false,
            read_results: VecDeque::new(),
            memory_faults: 0,
            cycle: 0,
        }
    }

    /// The raw model, for tests that drive ports directly.
    pub fn model(&mut self) -> &mut Model {
        &mut self.model
    }

    /// The interrupt line.
    pub fn irq(&self) -> bool {
        self.model.irq() != 0
    }

    /// Queues a register write; it is issued in a later [`Card::step`].
    pub fn queue_write(&mut self, addr: u32, value: u32) {
        self.bus_queue.push_back(BusOp::Write(addr, value));
    }

    /// Queues a register read; its value appears in [`Card::take_read`] once answered.
    pub fn queue_read(&mut self, addr: u32) {
        self.bus_queue.push_back(BusOp::Read(addr));
    }

    /// The oldest answered register read.
    pub fn take_read(&mut self) -> Option<u32> {
        self.read_results.pop_front()
    }

    /// No register access queued or in flight.
    pub fn bus_idle(&self) -> bool {
        self.bus_queue.is_empty() && !self.bus_busy
    }

    /// One clock cycle. `link_in` is what arrives on the card's link RX this cycle; the
    /// return value is what the card drives on its link TX this cycle. The memory port reads
    /// and writes `mem`, byte address = index.
    pub fn step(&mut self, mem: &mut [u8], link_in: LinkWord) -> LinkWord {
        let m = &mut self.model;
        m.set_link_rx_valid(link_in.valid as u32);
        m.set_link_rx_sop(link_in.sop as u32);
        m.set_link_rx_eop(link_in.eop as u32);
        m.set_link_rx_data(link_in.data);
        // Register bus: one access at a time; a read waits for read valid.
        m.set_bus_write(0);
        m.set_bus_read(0);
        if !self.bus_busy {
            match self.bus_queue.pop_front() {
                Some(BusOp::Write(addr, value)) => {
                    m.set_bus_addr(addr);
                    m.set_bus_wdata(value);
                    m.set_bus_write(1);
                }
                Some(BusOp::Read(addr)) => {
                    m.set_bus_addr(addr);
                    m.set_bus_read(1);
                    self.bus_busy = true;
                }
                None => {}
            }
        }
        // Read data: one beat per cycle, in order, after the latency.
        m.set_mem_rd_data_valid(0);
        if let Some((ready, addr, beats)) = self.reads.front_mut() {
            if *ready <= self.cycle {
                let a = *addr as usize;
                let word = match mem.get(a..a + 4) {
                    Some(bytes) => u32::from_le_bytes(bytes.try_into().unwrap()),
                    None => {
                        self.memory_faults += 1;
                        0
                    }
                };
                m.set_mem_rd_data_valid(1);
                m.set_mem_rd_data(word);
                *addr = addr.wrapping_add(4);
                *beats -= 1;
                if *beats == 0 {
                    self.reads.pop_front();
                }
            }
        }
        m.eval();
        // Sample this cycle's outputs before the edge.
        if m.mem_rd_req_valid() != 0 {
            self.reads.push_back((
                self.cycle + self.read_latency,
                m.mem_rd_req_addr(),
                m.mem_rd_req_len(),
            ));
        }
        if m.mem_wr_valid() != 0 {
            let addr = m.mem_wr_addr() as usize;
            let data = m.mem_wr_data().to_le_bytes();
            let strobes = m.mem_wr_strb();
            for (i, byte) in data.iter().enumerate() {
                if strobes & (1 << i) != 0 {
                    match mem.get_mut(addr + i) {
                        Some(b) => *b = *byte,
                        None => self.memory_faults += 1,
                    }
                }
            }
        }
        if self.bus_busy && m.bus_rvalid() != 0 {
            self.read_results.push_back(m.bus_rdata());
            self.bus_busy = false;
        }
        let out = LinkWord {
            valid: m.link_tx_valid() != 0,
            sop: m.link_tx_sop() != 0,
            eop: m.link_tx_eop() != 0,
            data: m.link_tx_data(),
        };
        m.rising_edge();
        self.cycle += 1;
        out
    }
}
