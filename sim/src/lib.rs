//! VASSA cards simulated cycle-accurately by Verilator.
//!
//! [`VerilatedCore`] is the Verilated core with one accessor per port (generated from the core's
//! Verilog by `build.rs`), at the default parameters or, with the cargo feature
//! `build-models`, at any valid parameters ([`VerilatedCore::for_params`], built and cached by
//! [`dynamic`]). [`Card`] wraps it with what surrounds a card: a memory port served
//! from a byte slice the caller owns (a `Vec`, or a memory-mapped file), the link, and a
//! queued register bus. Each `Card` owns its own Verilator context, so any number of cards can
//! live in one process.
//!
//! Tracing ([`VerilatedCore::trace_to`]) writes VCD, or FST when vassa-sim is built with the cargo
//! feature `fst`: one Verilated model supports one format (see `build.rs`).

use std::collections::VecDeque;
use std::ffi::c_void;
use vassa_spec::params::CoreParams;
use vassa_spec::regmap as rm;

pub mod bench;
pub mod board;
pub mod dynamic;
pub mod network;
#[cfg(feature = "build-models")]
mod shim_gen;

pub use dynamic::ModelError;
pub use vassa_spec::link::LinkWord;

/// The Verilated `vassa_core`, generated port by port: the statically linked default core
/// ([`VerilatedCore::new`]) or a core at other parameters loaded from a shared library
/// ([`VerilatedCore::for_params`]). Both are driven through the same function table, so they behave
/// the same.
pub struct VerilatedCore {
    raw: *mut c_void,
    t: &'static Table,
    /// The library the table comes from (`None`: the static model).
    lib: Option<&'static dynamic::Library>,
    /// Rising edges applied (the trace time base: two time units a cycle).
    edges: u64,
    tracing: bool,
    /// The clock input is high ([`VerilatedCore::cycle`] leaves it so).
    clock_high: bool,
}

include!(concat!(env!("OUT_DIR"), "/ports.rs"));

impl VerilatedCore {
    /// A fresh core at the default parameters, in its power-up state (the statically linked
    /// model).
    pub fn new() -> Self {
        Self::with_table(static_table(), None)
    }

    /// A fresh core at `params`. The default parameters give the static model ([`VerilatedCore::new`]);
    /// others need the cargo feature `build-models`: the first call for a parameter set may
    /// build its library (minutes), later ones load it from the on-disk cache, and within a
    /// process a loaded library is reused (see [`dynamic`]).
    pub fn for_params(params: &CoreParams) -> Result<Self, ModelError> {
        params.validate()?;
        if *params == CoreParams::default() {
            return Ok(Self::new());
        }
        Self::loaded(params)
    }

    /// A fresh core at `params` from a library built at run time, even at the default
    /// parameters: for comparing the two ways a model is made (behaviour and speed). Needs the
    /// cargo feature `build-models`.
    pub fn loaded(params: &CoreParams) -> Result<Self, ModelError> {
        params.validate()?;
        let lib = dynamic::library(params)?;
        Ok(Self::with_table(lib.table, Some(lib)))
    }

    fn with_table(t: &'static Table, lib: Option<&'static dynamic::Library>) -> Self {
        let raw = unsafe { (t.new)() };
        assert!(!raw.is_null());
        let mut m = VerilatedCore {
            raw,
            t,
            lib,
            edges: 0,
            tracing: false,
            clock_high: false,
        };
        m.set_clock(0);
        m.eval();
        m
    }

    /// The generator parameters of this core.
    pub fn params(&self) -> CoreParams {
        self.lib.map_or_else(CoreParams::default, |l| l.params)
    }

    /// The shared library this core was loaded from (`None` for the static model).
    pub fn library_path(&self) -> Option<&'static std::path::Path> {
        self.lib.map(|l| l.path.as_path())
    }

    /// Settles combinational logic after inputs changed.
    pub fn eval(&mut self) {
        unsafe { (self.t.eval)(self.raw) }
    }

    /// The raw handle, for the C++ loop of [`bench`] (compiled against the static model).
    pub(crate) fn raw(&mut self) -> *mut c_void {
        assert!(
            self.lib.is_none(),
            "the C++ loop runs the static model only"
        );
        self.raw
    }

    /// One clock cycle in one call: applies every input with the clock low, settles, samples
    /// every output, then applies the rising edge (the clock is left high; outputs read
    /// through the accessors afterwards show the state after the edge). Two evaluations and
    /// one FFI call per cycle; traced like [`VerilatedCore::rising_edge`].
    pub fn cycle(&mut self, inputs: &Inputs) -> Outputs {
        let mut out = Outputs::default();
        unsafe { (self.t.cycle)(self.raw, inputs, &mut out, 2 * self.edges) };
        self.edges += 1;
        self.clock_high = true;
        out
    }

    /// One rising clock edge (inputs must be set and settled with the clock low).
    pub fn rising_edge(&mut self) {
        if self.clock_high {
            self.set_clock(0);
            self.eval();
            self.clock_high = false;
        }
        if self.tracing {
            unsafe { (self.t.trace_dump)(self.raw, 2 * self.edges) };
        }
        self.set_clock(1);
        self.eval();
        if self.tracing {
            unsafe { (self.t.trace_dump)(self.raw, 2 * self.edges + 1) };
        }
        self.set_clock(0);
        self.eval();
        self.edges += 1;
    }

    /// The trace format this build writes: `"fst"` with the cargo feature `fst`, else `"vcd"`.
    pub const TRACE_FORMAT: &'static str = if cfg!(feature = "fst") { "fst" } else { "vcd" };

    /// Starts writing a trace of every signal to `path` (two time units per cycle). The
    /// format follows the extension: `.fst` is FST, anything else VCD; a format this build
    /// does not support (see [`VerilatedCore::TRACE_FORMAT`]) is an error that says how to get it.
    pub fn trace_to(&mut self, path: &std::path::Path) -> Result<(), String> {
        use std::os::unix::ffi::OsStrExt;
        let wants_fst = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("fst"));
        match (wants_fst, cfg!(feature = "fst")) {
            (true, false) => {
                return Err(format!(
                    "{}: FST tracing needs vassa-sim built with the cargo feature `fst` \
                     (this build writes VCD)",
                    path.display()
                ))
            }
            (false, true) => {
                return Err(format!(
                    "{}: this vassa-sim is built with the feature `fst` and writes FST only; \
                     name the file *.fst (or build without the feature for VCD)",
                    path.display()
                ))
            }
            _ => {}
        }
        let c_path = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| format!("trace path {} contains a NUL byte", path.display()))?;
        if self.tracing {
            return Err("this card is already tracing".into());
        }
        if unsafe { (self.t.trace_open)(self.raw, c_path.as_ptr()) } == 0 {
            return Err(format!("cannot open trace file {}", path.display()));
        }
        self.tracing = true;
        Ok(())
    }

    /// Flushes and closes the trace file, if one is open.
    pub fn trace_close(&mut self) {
        if self.tracing {
            unsafe { (self.t.trace_close)(self.raw) };
            self.tracing = false;
        }
    }
}

impl Default for VerilatedCore {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for VerilatedCore {
    fn drop(&mut self) {
        unsafe { (self.t.free)(self.raw) }
    }
}

// The model is a plain C++ object owned by this handle; it may move between threads.
unsafe impl Send for VerilatedCore {}

/// A register-bus access waiting to be issued.
#[derive(Debug, Clone, Copy)]
enum BusOp {
    Write(u32, u32),
    Read(u32),
}

/// What a card did, for measurements: counts, and the cycle of the latest event of each kind
/// (`None` until the first). Outputs are those sampled in a cycle, before its rising edge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Activity {
    /// Link TX words sent.
    pub tx_words: u64,
    /// Link RX words received (`valid` high).
    pub rx_words: u64,
    /// Memory write beats.
    pub write_beats: u64,
    pub tx_sop: Option<u64>,
    pub tx_eop: Option<u64>,
    pub rx_sop: Option<u64>,
    pub rx_eop: Option<u64>,
    /// Latest memory write beat, and its word address.
    pub write: Option<u64>,
    pub write_addr: u32,
    /// Latest cycle in which `irq` was high after a cycle in which it was low.
    pub irq_rise: Option<u64>,
    irq: bool,
}

/// [`Card::read_latency`] of a new card.
pub const READ_LATENCY: u64 = 2;

/// A cycle-accurate simulation of the core: the Verilated [`VerilatedCore`] or, in `bench` (feature
/// `native`), rust-hdl's own simulation of the same `VassaCore`.
pub trait Core {
    /// One clock cycle: applies `inputs` (clock low), returns the outputs settled with them,
    /// then applies the rising edge.
    fn cycle(&mut self, inputs: &Inputs) -> Outputs;
    /// The interrupt line after the latest rising edge.
    fn irq(&self) -> bool;
}

impl Core for VerilatedCore {
    fn cycle(&mut self, inputs: &Inputs) -> Outputs {
        VerilatedCore::cycle(self, inputs)
    }
    fn irq(&self) -> bool {
        VerilatedCore::irq(self) != 0
    }
}

/// A card: the core plus its memory port, link and register bus. The core is the Verilated
/// [`VerilatedCore`] unless a card is built [`Card::with_core`].
pub struct Card<C: Core = VerilatedCore> {
    model: C,
    /// This cycle's inputs (kept between cycles: the ports hold their values).
    inputs: Inputs,
    /// Cycles from a read request to its first data beat (at least 1).
    pub read_latency: u64,
    /// Outstanding read bursts: (cycle the first beat may return, byte address, beats left).
    reads: VecDeque<(u64, u32, u32)>,
    bus_queue: VecDeque<BusOp>,
    bus_busy: bool,
    /// The core's `map_busy` in the last cycle, and whether that cycle wrote MAP_CMD.
    map_busy: bool,
    map_cmd_last: bool,
    /// Values of completed register reads, in issue order.
    read_results: VecDeque<u32>,
    /// Memory accesses outside the caller's buffer (reads return 0, writes are ignored).
    pub memory_faults: u64,
    /// Rising edges so far.
    pub cycle: u64,
    pub activity: Activity,
    /// The `rx_trace` output of the latest cycle.
    rx_trace: u32,
}

impl Default for Card {
    fn default() -> Self {
        Self::new()
    }
}

impl Card {
    pub fn new() -> Self {
        Card::with_core(VerilatedCore::new())
    }

    /// A card whose core has the generator parameters `params` ([`VerilatedCore::for_params`]).
    pub fn with_params(params: &CoreParams) -> Result<Self, ModelError> {
        Ok(Card::with_core(VerilatedCore::for_params(params)?))
    }

    /// The raw model, for tests that drive ports directly. [`Card::step`] drives every input
    /// from the card's own state each cycle.
    pub fn core(&mut self) -> &mut VerilatedCore {
        &mut self.model
    }
}

impl<C: Core> Card<C> {
    /// A card around any simulation of the core.
    pub fn with_core(core: C) -> Self {
        Card {
            model: core,
            inputs: Inputs {
                mem_rd_req_ready: 1,
                mem_wr_ready: 1,
                ..Inputs::default()
            },
            read_latency: READ_LATENCY,
            reads: VecDeque::new(),
            bus_queue: VecDeque::new(),
            bus_busy: false,
            map_busy: false,
            map_cmd_last: false,
            read_results: VecDeque::new(),
            memory_faults: 0,
            cycle: 0,
            activity: Activity::default(),
            rx_trace: 0,
        }
    }

    /// The interrupt line (after the latest rising edge).
    pub fn irq(&self) -> bool {
        self.model.irq()
    }

    /// The interrupt line as sampled in the latest [`Card::step`] (no FFI call).
    pub fn irq_sampled(&self) -> bool {
        self.activity.irq
    }

    /// The `rx_trace` output sampled in the latest [`Card::step`]: what the card decided for
    /// received packets ([`vassa_spec::trace`]).
    pub fn rx_trace(&self) -> u32 {
        self.rx_trace
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

    /// No register write queued (reads start no work on the card).
    pub fn writes_idle(&self) -> bool {
        !self
            .bus_queue
            .iter()
            .any(|op| matches!(op, BusOp::Write(..)))
    }

    /// One clock cycle. `link_in` is what arrives on the card's link RX this cycle; the
    /// return value is what the card drives on its link TX this cycle. The memory port reads
    /// and writes `mem`, byte address = index. All ports cross the FFI in one call
    /// ([`VerilatedCore::cycle`]); `csrc/two_cards.cpp` mirrors this function.
    pub fn step(&mut self, mem: &mut [u8], link_in: LinkWord) -> LinkWord {
        let now = self.cycle;
        let i = &mut self.inputs;
        i.link_rx_valid = link_in.valid as u32;
        i.link_rx_sop = link_in.sop as u32;
        i.link_rx_eop = link_in.eop as u32;
        i.link_rx_data = link_in.data;
        // Register bus: one access at a time; a read waits for read valid.
        i.bus_write = 0;
        i.bus_read = 0;
        // A MAP_CMD waits while a cache installs (it would be refused): what a host over a
        // board bridge, hundreds of cycles per write, gets for free.
        let map_wait = matches!(self.bus_queue.front(), Some(BusOp::Write(a, _)) if *a == rm::MAP_CMD.offset)
            && (self.map_busy || self.map_cmd_last);
        self.map_cmd_last = false;
        if !self.bus_busy && !map_wait {
            match self.bus_queue.pop_front() {
                Some(BusOp::Write(addr, value)) => {
                    self.map_cmd_last = addr == rm::MAP_CMD.offset;
                    i.bus_addr = addr;
                    i.bus_wdata = value;
                    i.bus_write = 1;
                }
                Some(BusOp::Read(addr)) => {
                    i.bus_addr = addr;
                    i.bus_read = 1;
                    self.bus_busy = true;
                }
                None => {}
            }
        }
        // Read data: one beat per cycle, in order, after the latency.
        i.mem_rd_data_valid = 0;
        if let Some((ready, addr, beats)) = self.reads.front_mut() {
            if *ready <= now {
                let a = *addr as usize;
                let word = match mem.get(a..a + 4) {
                    Some(bytes) => u32::from_le_bytes(bytes.try_into().unwrap()),
                    None => {
                        self.memory_faults += 1;
                        0
                    }
                };
                i.mem_rd_data_valid = 1;
                i.mem_rd_data = word;
                *addr = addr.wrapping_add(4);
                *beats -= 1;
                if *beats == 0 {
                    self.reads.pop_front();
                }
            }
        }
        // This cycle's outputs, sampled before the edge.
        let o = self.model.cycle(&self.inputs);
        if o.mem_rd_req_valid != 0 {
            self.reads
                .push_back((now + self.read_latency, o.mem_rd_req_addr, o.mem_rd_req_len));
        }
        let act = &mut self.activity;
        if o.mem_wr_valid != 0 {
            let addr = o.mem_wr_addr as usize;
            let data = o.mem_wr_data.to_le_bytes();
            for (i, byte) in data.iter().enumerate() {
                if o.mem_wr_strb & (1 << i) != 0 {
                    match mem.get_mut(addr + i) {
                        Some(b) => *b = *byte,
                        None => self.memory_faults += 1,
                    }
                }
            }
            act.write_beats += 1;
            act.write = Some(now);
            act.write_addr = o.mem_wr_addr;
        }
        self.map_busy = o.map_busy != 0;
        if self.bus_busy && o.bus_rvalid != 0 {
            self.read_results.push_back(o.bus_rdata);
            self.bus_busy = false;
        }
        if link_in.valid {
            act.rx_words += 1;
            if link_in.sop {
                act.rx_sop = Some(now);
            }
            if link_in.eop {
                act.rx_eop = Some(now);
            }
        }
        self.rx_trace = o.rx_trace;
        let irq = o.irq != 0;
        if irq && !act.irq {
            act.irq_rise = Some(now);
        }
        act.irq = irq;
        let out = LinkWord {
            valid: o.link_tx_valid != 0,
            sop: o.link_tx_sop != 0,
            eop: o.link_tx_eop != 0,
            data: o.link_tx_data,
        };
        if out.valid {
            act.tx_words += 1;
            if out.sop {
                act.tx_sop = Some(now);
            }
            if out.eop {
                act.tx_eop = Some(now);
            }
        }
        self.cycle += 1;
        out
    }
}
