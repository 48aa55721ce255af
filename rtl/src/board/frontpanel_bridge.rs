//! `FrontPanelBridge`: the user side of the Opal Kelly FrontPanel endpoints (XEM6010) turned
//! into register-bus and memory-word operations on a [`BoardCard`](super::board_card), with
//! the crossing between the FrontPanel host clock `ti_clk` (48 MHz) and the core clock.
//!
//! Every endpoint address and bit comes from [`crate::spec::board::fp`]; this block has one
//! port per endpoint, named `wi_<name>` / `wo_<name>` after the spec.
//!
//! Clock domains and what crosses:
//! - `ti_clk`: the wire-ins and wire-outs (the OK blocks sample wire-outs on `ti_clk`), the
//!   pipe-in (`pipe_in_write` + `pipe_in_data` in the same cycle) and pipe-out ports.
//! - core clock: `ti_command` (the okTriggerIn's `trigger`, clocked by the core clock: the OK
//!   block crosses it) and `to_events` (the okTriggerOut's `trigger`, one-cycle pulses), the
//!   card's register bus and host word port.
//! - Pipe data crosses in two `AsynchronousFIFO`s of 2·PIPE_CHUNK_WORDS 16-bit halves.
//! - Wire-in values are captured into the core domain in the cycle a command arrives (the host
//!   set them before it activated the trigger, so they are stable then); the decode works on
//!   the captured copy one cycle later.
//! - `reg_rdata_*` and `errors` are core-domain registers read by the ti-domain wire-outs
//!   directly: they change only while a command is in progress, before its event, so they
//!   are stable whenever the host reads them after the event (multicycle / false path for
//!   timing). `magic` and `mem_kib` are constants; `pipe_in_words` and `pipe_out_words` are
//!   the FIFOs' ti-side fill levels.
//! - Status bits from the core domain (`irq`, `busy`, `loopback`) pass two flip-flops on
//!   `ti_clk`; `control.loopback` passes two flip-flops on the core clock. The pipe error
//!   flags live in the ti domain; `pipe_in_overflow` passes two core flip-flops to the command
//!   engine.
//! - `flush` reaches the ti side as a toggle through two flip-flops and comes back as an
//!   acknowledge toggle the same way.
//!
//! FIFO pointers cross inside the FIFOs with a handshake, so each side sees the other's
//! progress some cycles late. Hence: `mem_write` waits up to [`CHECK_TIMEOUT_CYCLES`] for the
//! pipe-in data it needs to become visible (and is refused if it does not), `mem_read` waits
//! as long for the pipe-out FIFO to be seen empty, and `mem_read`'s and `flush`'s `mem_done`
//! come [`CDC_SETTLE_CYCLES`] after the last FIFO write, when the ti side sees every word.
//!
//! Pipe-out timing (assumed from Opal Kelly's okPipeOut and rust-hdl's usage, where a RAM with
//! a registered read feeds `datain` and `read` advances its address): the word for a `read`
//! strobe in ti cycle t is on `pipe_out_data` in cycle t + 1. The bridge pops its FIFO on
//! `read` and registers the popped word.

use crate::interfaces::{HostWordController, RegBusController};
use crate::spec::board::{fp, BOARD_MAGIC};
use crate::spec::Field;
use rust_hdl::prelude::*;

/// log2 of each pipe FIFO's depth in 16-bit halves (2·PIPE_CHUNK_WORDS).
pub const PIPE_FIFO_BITS: usize = 9;
const _: () = assert!(1 << PIPE_FIFO_BITS == 2 * fp::PIPE_CHUNK_WORDS);

/// A pipe FIFO: 2·PIPE_CHUNK_WORDS halves, written in one clock domain, read in the other.
pub type PipeFifo = AsynchronousFIFO<Bits<16>, PIPE_FIFO_BITS, { PIPE_FIFO_BITS + 1 }, 1>;

/// Core cycles a memory command waits for FIFO levels to become visible across the clock
/// crossing before it is refused (`mem_write`: enough pipe-in data; `mem_read`: an empty
/// pipe-out FIFO). 20 µs at 100 MHz: far more than the crossing takes at any ti_clk ≥ 1 MHz.
pub const CHECK_TIMEOUT_CYCLES: u32 = 2000;

/// Core cycles from the last pipe-out FIFO write to `mem_done`, and from a flush's start to
/// its request to the ti side: the FIFO pointer crossing (two handshakes of two flip-flops
/// each way) is done by then for any ti_clk ≥ 12 MHz at a 100 MHz core clock.
pub const CDC_SETTLE_CYCLES: u32 = 64;

/// Consecutive empty cycles after which a FIFO drain (a refused `mem_write`, a `flush`) stops.
pub const DRAIN_QUIET_CYCLES: u32 = 16;

#[derive(Copy, Clone, Debug, PartialEq, Eq, LogicState)]
pub enum BridgeState {
    Idle,
    Decode,
    RegRead,
    WriteCheck,
    Writing,
    ReadCheck,
    Reading,
    Settle,
    Drain,
    Refuse,
    Flush,
    FlushWait,
}

/// Core-domain flip-flops the ti side reads, each through two ti_clk flip-flops.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, LogicStruct)]
struct ToTi {
    irq: Bit,
    busy: Bit,
    loopback: Bit,
    flush_req: Bit,
}

/// What the core side reads from the ti domain (and the loopback wire-in), each through two
/// core flip-flops.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, LogicStruct)]
struct ToCore {
    loopback: Bit,
    overflow: Bit,
    flush_ack: Bit,
}

#[derive(LogicBlock)]
pub struct FrontPanelBridge {
    pub core_clock: Signal<In, Clock>,
    pub ti_clk: Signal<In, Clock>,
    // Wire-ins (ti_clk domain, quasi-static).
    pub wi_reg_addr: Signal<In, Bits<16>>,
    pub wi_reg_wdata_lo: Signal<In, Bits<16>>,
    pub wi_reg_wdata_hi: Signal<In, Bits<16>>,
    pub wi_mem_addr_lo: Signal<In, Bits<16>>,
    pub wi_mem_addr_hi: Signal<In, Bits<16>>,
    pub wi_mem_words: Signal<In, Bits<16>>,
    pub wi_control: Signal<In, Bits<16>>,
    // Wire-outs (sampled on ti_clk).
    pub wo_reg_rdata_lo: Signal<Out, Bits<16>>,
    pub wo_reg_rdata_hi: Signal<Out, Bits<16>>,
    pub wo_status: Signal<Out, Bits<16>>,
    pub wo_pipe_in_words: Signal<Out, Bits<16>>,
    pub wo_pipe_out_words: Signal<Out, Bits<16>>,
    pub wo_mem_kib: Signal<Out, Bits<16>>,
    pub wo_magic: Signal<Out, Bits<16>>,
    pub wo_errors: Signal<Out, Bits<16>>,
    // Triggers (core clock domain).
    pub ti_command: Signal<In, Bits<16>>,
    pub to_events: Signal<Out, Bits<16>>,
    // Pipes (ti_clk domain).
    pub pipe_in_write: Signal<In, Bit>,
    pub pipe_in_data: Signal<In, Bits<16>>,
    pub pipe_out_read: Signal<In, Bit>,
    pub pipe_out_data: Signal<Out, Bits<16>>,
    // To the BoardCard (core clock domain).
    /// Register reads and writes (core clock domain).
    pub bus: RegBusController,
    pub irq: Signal<In, Bit>,
    /// Card memory words (core clock domain).
    pub host: HostWordController,
    pub loopback: Signal<Out, Bit>,

    pipe_in: PipeFifo,
    pipe_out: PipeFifo,
    // ---- Core domain.
    state: DFF<BridgeState>,
    cmd: DFF<Bits<16>>,
    reg_addr: DFF<Bits<16>>,
    reg_wdata: DFF<Bits<32>>,
    mem_addr: DFF<Bits<32>>,
    mem_words: DFF<Bits<16>>,
    words_left: DFF<Bits<16>>,
    reg_rdata: DFF<Bits<32>>,
    timer: DFF<Bits<16>>,
    bus_write_q: DFF<Bit>,
    bus_read_q: DFF<Bit>,
    host_write_q: DFF<Bit>,
    host_read_q: DFF<Bit>,
    host_addr_q: DFF<Bits<32>>,
    host_wdata_q: DFF<Bits<32>>,
    have_lo: DFF<Bit>,
    lo_half: DFF<Bits<16>>,
    hi_half: DFF<Bits<16>>,
    hi_pending: DFF<Bit>,
    events: DFF<Bits<16>>,
    errors: DFF<Bits<16>>,
    irq_prev: DFF<Bit>,
    busy: DFF<Bit>,
    flush_req: DFF<Bit>,
    core_s1: DFF<ToCore>,
    core_s2: DFF<ToCore>,
    ev: Signal<Local, Bits<16>>,
    refuse: Signal<Local, Bit>,
    range_ok: Signal<Local, Bit>,
    mem_end: Signal<Local, Bits<32>>,
    in_fill: Signal<Local, Bits<16>>,
    unused_control_bits: Signal<Local, Bit>,
    // ---- ti_clk domain.
    in_overflow: DFF<Bit>,
    out_underflow: DFF<Bit>,
    out_word: DFF<Bits<16>>,
    ti_s1: DFF<ToTi>,
    ti_s2: DFF<ToTi>,
    flush_ack: DFF<Bit>,
    drain_quiet: DFF<Bits<8>>,
    draining: Signal<Local, Bit>,
    // ---- Constants from the spec.
    c_reg_write: Constant<Bits<16>>,
    c_reg_read: Constant<Bits<16>>,
    c_mem_write: Constant<Bits<16>>,
    c_mem_read: Constant<Bits<16>>,
    c_flush: Constant<Bits<16>>,
    e_reg_done: Constant<Bits<16>>,
    e_mem_done: Constant<Bits<16>>,
    e_irq: Constant<Bits<16>>,
    e_error: Constant<Bits<16>>,
    s_irq: Constant<Bits<16>>,
    s_busy: Constant<Bits<16>>,
    s_loopback: Constant<Bits<16>>,
    s_in_overflow: Constant<Bits<16>>,
    s_out_underflow: Constant<Bits<16>>,
    control_loopback_bit: Constant<Bits<16>>,
    chunk_words: Constant<Bits<16>>,
    mem_bytes_c: Constant<Bits<32>>,
    outside_mask: Constant<Bits<32>>,
    mem_kib: Constant<Bits<16>>,
    magic: Constant<Bits<16>>,
    check_timeout: Constant<Bits<16>>,
    settle_cycles: Constant<Bits<16>>,
    quiet_cycles: Constant<Bits<8>>,
    _mem_bytes: usize,
}

fn mask16(f: Field) -> Constant<Bits<16>> {
    assert_eq!(f.width, 1, "{}: one-bit field expected", f.name);
    Constant::new((f.mask() as u64).into())
}

impl FrontPanelBridge {
    /// A bridge to a card with `mem_bytes` of memory (a power of two, 4 KiB to 64 MiB).
    pub fn new(mem_bytes: usize) -> Self {
        assert!(
            mem_bytes.is_power_of_two() && (4096..=64 << 20).contains(&mem_bytes),
            "FrontPanelBridge: mem_bytes {mem_bytes}"
        );
        FrontPanelBridge {
            core_clock: Default::default(),
            ti_clk: Default::default(),
            wi_reg_addr: Default::default(),
            wi_reg_wdata_lo: Default::default(),
            wi_reg_wdata_hi: Default::default(),
            wi_mem_addr_lo: Default::default(),
            wi_mem_addr_hi: Default::default(),
            wi_mem_words: Default::default(),
            wi_control: Default::default(),
            wo_reg_rdata_lo: Default::default(),
            wo_reg_rdata_hi: Default::default(),
            wo_status: Default::default(),
            wo_pipe_in_words: Default::default(),
            wo_pipe_out_words: Default::default(),
            wo_mem_kib: Default::default(),
            wo_magic: Default::default(),
            wo_errors: Default::default(),
            ti_command: Default::default(),
            to_events: Default::default(),
            pipe_in_write: Default::default(),
            pipe_in_data: Default::default(),
            pipe_out_read: Default::default(),
            pipe_out_data: Default::default(),
            bus: Default::default(),
            irq: Default::default(),
            host: Default::default(),
            loopback: Default::default(),
            pipe_in: Default::default(),
            pipe_out: Default::default(),
            state: Default::default(),
            cmd: Default::default(),
            reg_addr: Default::default(),
            reg_wdata: Default::default(),
            mem_addr: Default::default(),
            mem_words: Default::default(),
            words_left: Default::default(),
            reg_rdata: Default::default(),
            timer: Default::default(),
            bus_write_q: Default::default(),
            bus_read_q: Default::default(),
            host_write_q: Default::default(),
            host_read_q: Default::default(),
            host_addr_q: Default::default(),
            host_wdata_q: Default::default(),
            have_lo: Default::default(),
            lo_half: Default::default(),
            hi_half: Default::default(),
            hi_pending: Default::default(),
            events: Default::default(),
            errors: Default::default(),
            irq_prev: Default::default(),
            busy: Default::default(),
            flush_req: Default::default(),
            core_s1: Default::default(),
            core_s2: Default::default(),
            ev: Default::default(),
            refuse: Default::default(),
            range_ok: Default::default(),
            mem_end: Default::default(),
            in_fill: Default::default(),
            unused_control_bits: Default::default(),
            in_overflow: Default::default(),
            out_underflow: Default::default(),
            out_word: Default::default(),
            ti_s1: Default::default(),
            ti_s2: Default::default(),
            flush_ack: Default::default(),
            drain_quiet: Default::default(),
            draining: Default::default(),
            c_reg_write: mask16(fp::CMD_REG_WRITE),
            c_reg_read: mask16(fp::CMD_REG_READ),
            c_mem_write: mask16(fp::CMD_MEM_WRITE),
            c_mem_read: mask16(fp::CMD_MEM_READ),
            c_flush: mask16(fp::CMD_FLUSH),
            e_reg_done: mask16(fp::EV_REG_DONE),
            e_mem_done: mask16(fp::EV_MEM_DONE),
            e_irq: mask16(fp::EV_IRQ),
            e_error: mask16(fp::EV_ERROR),
            s_irq: mask16(fp::STATUS_IRQ),
            s_busy: mask16(fp::STATUS_BUSY),
            s_loopback: mask16(fp::STATUS_LOOPBACK),
            s_in_overflow: mask16(fp::STATUS_PIPE_IN_OVERFLOW),
            s_out_underflow: mask16(fp::STATUS_PIPE_OUT_UNDERFLOW),
            control_loopback_bit: mask16(fp::CONTROL_LOOPBACK),
            chunk_words: Constant::new((fp::PIPE_CHUNK_WORDS as u64).into()),
            mem_bytes_c: Constant::new((mem_bytes as u64).into()),
            outside_mask: Constant::new((!(mem_bytes as u64 - 1) & 0xFFFF_FFFF).into()),
            mem_kib: Constant::new(((mem_bytes / 1024) as u64).into()),
            magic: Constant::new((BOARD_MAGIC as u64).into()),
            check_timeout: Constant::new((CHECK_TIMEOUT_CYCLES as u64).into()),
            settle_cycles: Constant::new((CDC_SETTLE_CYCLES as u64).into()),
            quiet_cycles: Constant::new((DRAIN_QUIET_CYCLES as u64).into()),
            _mem_bytes: mem_bytes,
        }
    }
}

impl Logic for FrontPanelBridge {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            core_clock,
            state,
            cmd,
            reg_addr,
            reg_wdata,
            mem_addr,
            mem_words,
            words_left,
            reg_rdata,
            timer,
            bus_write_q,
            bus_read_q,
            host_write_q,
            host_read_q,
            host_addr_q,
            host_wdata_q,
            have_lo,
            lo_half,
            hi_half,
            hi_pending,
            events,
            errors,
            irq_prev,
            busy,
            flush_req,
            core_s1,
            core_s2
        );
        dff_setup!(
            self,
            ti_clk,
            in_overflow,
            out_underflow,
            out_word,
            ti_s1,
            ti_s2,
            flush_ack,
            drain_quiet
        );
        // Pipe-in FIFO: written on ti_clk, read in the core domain.
        self.pipe_in.write_clock.next = self.ti_clk.val();
        self.pipe_in.read_clock.next = self.core_clock.val();
        self.pipe_in.write.next = self.pipe_in_write.val();
        self.pipe_in.data_in.next = self.pipe_in_data.val();
        self.pipe_in.read.next = false;
        // Pipe-out FIFO: written in the core domain, read on ti_clk.
        self.pipe_out.write_clock.next = self.core_clock.val();
        self.pipe_out.read_clock.next = self.ti_clk.val();
        self.pipe_out.write.next = false;
        self.pipe_out.data_in.next = self.host.rdata.val().get_bits::<16>(0);

        // ================= ti_clk domain =================
        // Sources are core-domain flip-flops (no logic between domains).
        self.ti_s1.d.next.irq = self.irq_prev.q.val();
        self.ti_s1.d.next.busy = self.busy.q.val();
        self.ti_s1.d.next.loopback = self.core_s2.q.val().loopback;
        self.ti_s1.d.next.flush_req = self.flush_req.q.val();
        self.ti_s2.d.next = self.ti_s1.q.val();
        // Flush on the ti side: drain the pipe-out FIFO, clear the pipe error flags, then
        // acknowledge.
        self.draining.next = self.ti_s2.q.val().flush_req != self.flush_ack.q.val();
        if self.pipe_in_write.val() & self.pipe_in.full.val() {
            self.in_overflow.d.next = true;
        }
        if self.pipe_out_read.val() {
            self.pipe_out.read.next = true;
            self.out_word.d.next = self.pipe_out.data_out.val();
            if self.pipe_out.empty.val() {
                self.out_underflow.d.next = true;
            }
        } else {
            self.pipe_out.read.next = false;
        }
        if self.draining.val() {
            self.in_overflow.d.next = false;
            self.out_underflow.d.next = false;
            self.pipe_out.read.next = true;
            self.drain_quiet.d.next = 0.into();
            if self.pipe_out.empty.val() {
                self.drain_quiet.d.next = self.drain_quiet.q.val() + 1;
                if self.drain_quiet.q.val() == self.quiet_cycles.val() {
                    self.flush_ack.d.next = self.ti_s2.q.val().flush_req;
                }
            }
        } else {
            self.drain_quiet.d.next = 0.into();
        }
        self.pipe_out_data.next = self.out_word.q.val();
        self.wo_status.next = 0.into();
        if self.ti_s2.q.val().irq {
            self.wo_status.next = self.wo_status.val() | self.s_irq.val();
        }
        if self.ti_s2.q.val().busy {
            self.wo_status.next = self.wo_status.val() | self.s_busy.val();
        }
        if self.ti_s2.q.val().loopback {
            self.wo_status.next = self.wo_status.val() | self.s_loopback.val();
        }
        if self.in_overflow.q.val() {
            self.wo_status.next = self.wo_status.val() | self.s_in_overflow.val();
        }
        if self.out_underflow.q.val() {
            self.wo_status.next = self.wo_status.val() | self.s_out_underflow.val();
        }
        self.wo_pipe_in_words.next =
            bit_cast::<16, { PIPE_FIFO_BITS + 1 }>(self.pipe_in.write_fill.val());
        self.wo_pipe_out_words.next =
            bit_cast::<16, { PIPE_FIFO_BITS + 1 }>(self.pipe_out.read_fill.val());
        // Core-domain registers, stable while the host may read them (see the module docs).
        self.wo_reg_rdata_lo.next = self.reg_rdata.q.val().get_bits::<16>(0);
        self.wo_reg_rdata_hi.next = self.reg_rdata.q.val().get_bits::<16>(16);
        self.wo_errors.next = self.errors.q.val();
        self.wo_mem_kib.next = self.mem_kib.val();
        self.wo_magic.next = self.magic.val();

        // ================= core clock domain =================
        self.core_s1.d.next.loopback =
            (self.wi_control.val() & self.control_loopback_bit.val()) != 0;
        self.core_s1.d.next.overflow = self.in_overflow.q.val();
        self.core_s1.d.next.flush_ack = self.flush_ack.q.val();
        self.core_s2.d.next = self.core_s1.q.val();
        self.loopback.next = self.core_s2.q.val().loopback;
        self.unused_control_bits.next =
            (self.wi_control.val() & !self.control_loopback_bit.val()) != 0;

        self.bus.addr.next = self.reg_addr.q.val().get_bits::<12>(0);
        self.bus.wdata.next = self.reg_wdata.q.val();
        self.bus.write.next = self.bus_write_q.q.val();
        self.bus.read.next = self.bus_read_q.q.val();
        self.bus_write_q.d.next = false;
        self.bus_read_q.d.next = false;
        self.host.addr.next = self.host_addr_q.q.val();
        self.host.wdata.next = self.host_wdata_q.q.val();
        self.host.write.next = self.host_write_q.q.val();
        self.host.read.next = self.host_read_q.q.val();

        self.mem_end.next =
            self.mem_addr.q.val() + (bit_cast::<32, 16>(self.mem_words.q.val()) << 2);
        self.range_ok.next = ((self.mem_addr.q.val() & 3) == 0)
            & (self.mem_words.q.val() != 0)
            & (self.mem_words.q.val() <= self.chunk_words.val())
            & ((self.mem_addr.q.val() & self.outside_mask.val()) == 0)
            & (self.mem_end.val() <= self.mem_bytes_c.val());
        self.in_fill.next = bit_cast::<16, { PIPE_FIFO_BITS + 1 }>(self.pipe_in.read_fill.val());

        self.ev.next = 0.into();
        self.irq_prev.d.next = self.irq.val();
        self.busy.d.next = self.state.q.val() != BridgeState::Idle;
        if self.irq.val() & !self.irq_prev.q.val() {
            self.ev.next = self.ev.val() | self.e_irq.val();
        }
        // A command while another one is in progress is refused.
        self.refuse.next = (self.state.q.val() != BridgeState::Idle) & (self.ti_command.val() != 0);
        self.timer.d.next = self.timer.q.val() + 1;

        match self.state.q.val() {
            BridgeState::Idle => {
                self.timer.d.next = 0.into();
                if self.ti_command.val() != 0 {
                    // Capture the wire-ins the host set before the trigger.
                    self.cmd.d.next = self.ti_command.val();
                    self.reg_addr.d.next = self.wi_reg_addr.val();
                    self.reg_wdata.d.next = (bit_cast::<32, 16>(self.wi_reg_wdata_hi.val()) << 16)
                        | bit_cast::<32, 16>(self.wi_reg_wdata_lo.val());
                    self.mem_addr.d.next = (bit_cast::<32, 16>(self.wi_mem_addr_hi.val()) << 16)
                        | bit_cast::<32, 16>(self.wi_mem_addr_lo.val());
                    self.mem_words.d.next = self.wi_mem_words.val();
                    self.state.d.next = BridgeState::Decode;
                }
            }
            BridgeState::Decode => {
                self.timer.d.next = 0.into();
                self.words_left.d.next = self.mem_words.q.val();
                self.host_addr_q.d.next = self.mem_addr.q.val();
                self.have_lo.d.next = false;
                self.hi_pending.d.next = false;
                self.state.d.next = BridgeState::Refuse;
                if (self.cmd.q.val() == self.c_reg_write.val())
                    & (self.reg_addr.q.val().get_bits::<4>(12) == 0)
                {
                    self.bus_write_q.d.next = true;
                    self.ev.next = self.ev.val() | self.e_reg_done.val();
                    self.state.d.next = BridgeState::Idle;
                }
                if (self.cmd.q.val() == self.c_reg_read.val())
                    & (self.reg_addr.q.val().get_bits::<4>(12) == 0)
                {
                    self.bus_read_q.d.next = true;
                    self.state.d.next = BridgeState::RegRead;
                }
                if self.cmd.q.val() == self.c_mem_write.val() {
                    self.state.d.next = BridgeState::Drain;
                    if self.range_ok.val() & !self.core_s2.q.val().overflow {
                        self.state.d.next = BridgeState::WriteCheck;
                    }
                }
                if (self.cmd.q.val() == self.c_mem_read.val()) & self.range_ok.val() {
                    self.state.d.next = BridgeState::ReadCheck;
                }
                if self.cmd.q.val() == self.c_flush.val() {
                    self.state.d.next = BridgeState::Flush;
                }
            }
            BridgeState::RegRead => {
                if self.bus.rvalid.val() {
                    self.reg_rdata.d.next = self.bus.rdata.val();
                    self.ev.next = self.ev.val() | self.e_reg_done.val();
                    self.state.d.next = BridgeState::Idle;
                }
            }
            BridgeState::WriteCheck => {
                if self.in_fill.val() >= (self.mem_words.q.val() << 1) {
                    self.state.d.next = BridgeState::Writing;
                } else if self.timer.q.val() == self.check_timeout.val() {
                    self.timer.d.next = 0.into();
                    self.state.d.next = BridgeState::Drain;
                }
            }
            BridgeState::Writing => {
                if self.host_write_q.q.val() {
                    if self.host.ready.val() {
                        self.host_write_q.d.next = false;
                        self.host_addr_q.d.next = self.host_addr_q.q.val() + 4;
                        self.words_left.d.next = self.words_left.q.val() - 1;
                        if self.words_left.q.val() == 1 {
                            self.ev.next = self.ev.val() | self.e_mem_done.val();
                            self.state.d.next = BridgeState::Idle;
                        }
                    }
                } else if !self.pipe_in.empty.val() {
                    self.pipe_in.read.next = true;
                    if self.have_lo.q.val() {
                        self.host_wdata_q.d.next =
                            (bit_cast::<32, 16>(self.pipe_in.data_out.val()) << 16)
                                | bit_cast::<32, 16>(self.lo_half.q.val());
                        self.host_write_q.d.next = true;
                        self.have_lo.d.next = false;
                    } else {
                        self.lo_half.d.next = self.pipe_in.data_out.val();
                        self.have_lo.d.next = true;
                    }
                }
            }
            BridgeState::ReadCheck => {
                if self.pipe_out.write_fill.val() == 0 {
                    self.host_read_q.d.next = true;
                    self.state.d.next = BridgeState::Reading;
                } else if self.timer.q.val() == self.check_timeout.val() {
                    self.state.d.next = BridgeState::Refuse;
                }
            }
            BridgeState::Reading => {
                if self.host_read_q.q.val() & self.host.ready.val() {
                    self.host_read_q.d.next = false;
                }
                if self.host.rvalid.val() {
                    // Low half now, high half next cycle.
                    self.pipe_out.write.next = true;
                    self.hi_half.d.next = self.host.rdata.val().get_bits::<16>(16);
                    self.hi_pending.d.next = true;
                }
                if self.hi_pending.q.val() {
                    self.pipe_out.write.next = true;
                    self.pipe_out.data_in.next = self.hi_half.q.val();
                    self.hi_pending.d.next = false;
                    self.words_left.d.next = self.words_left.q.val() - 1;
                    self.timer.d.next = 0.into();
                    if self.words_left.q.val() == 1 {
                        self.state.d.next = BridgeState::Settle;
                    } else {
                        self.host_addr_q.d.next = self.host_addr_q.q.val() + 4;
                        self.host_read_q.d.next = true;
                    }
                }
            }
            BridgeState::Settle => {
                if self.timer.q.val() == self.settle_cycles.val() {
                    self.ev.next = self.ev.val() | self.e_mem_done.val();
                    self.state.d.next = BridgeState::Idle;
                }
            }
            BridgeState::Drain => {
                // A refused mem_write: empty the pipe-in FIFO, then refuse.
                if !self.pipe_in.empty.val() {
                    self.pipe_in.read.next = true;
                    self.timer.d.next = 0.into();
                } else if self.timer.q.val() == bit_cast::<16, 8>(self.quiet_cycles.val()) {
                    self.state.d.next = BridgeState::Refuse;
                }
            }
            BridgeState::Refuse => {
                self.refuse.next = true;
                self.state.d.next = BridgeState::Idle;
            }
            BridgeState::Flush => {
                self.pipe_in.read.next = true;
                if self.timer.q.val() == self.settle_cycles.val() {
                    self.flush_req.d.next = !self.flush_req.q.val();
                    self.state.d.next = BridgeState::FlushWait;
                }
            }
            BridgeState::FlushWait => {
                self.pipe_in.read.next = true;
                if self.core_s2.q.val().flush_ack == self.flush_req.q.val() {
                    self.ev.next = self.ev.val() | self.e_mem_done.val();
                    self.state.d.next = BridgeState::Idle;
                }
            }
            _ => {
                self.state.d.next = BridgeState::Idle;
            }
        }
        if self.refuse.val() {
            self.ev.next = self.ev.val() | self.e_error.val();
            if self.errors.q.val() != 0xFFFF {
                self.errors.d.next = self.errors.q.val() + 1;
            }
        }
        self.events.d.next = self.ev.val();
        self.to_events.next = self.events.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_hdl_tools::testbench::{lint_check, yosys_check};

    #[test]
    fn verilog_is_clean() {
        yosys_check("frontpanel_bridge", FrontPanelBridge::new(65536));
        lint_check("frontpanel_bridge", FrontPanelBridge::new(65536));
    }

    #[test]
    fn has_one_port_per_endpoint_named_after_the_spec() {
        let mut b = FrontPanelBridge::new(4096);
        b.connect_all();
        let v = generate_verilog(&b);
        for (dir, list) in [("input", &fp::WIRE_INS[..]), ("output", &fp::WIRE_OUTS[..])] {
            let prefix = if dir == "input" { "wi" } else { "wo" };
            for e in list {
                let port = format!("[15:0] {prefix}_{};", e.name);
                let line = v.lines().find(|l| l.trim_end().ends_with(&port));
                assert!(
                    line.is_some_and(|l| l.trim_start().starts_with(dir)),
                    "{dir} port {prefix}_{} missing",
                    e.name
                );
            }
        }
    }
}
