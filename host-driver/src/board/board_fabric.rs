//! The board protocol: [`BoardFabric`], one card behind FrontPanel endpoints as a [`Fabric`].
//!
//! Every endpoint address and bit comes from `vassa_spec::board::fp` (rendered in
//! docs/host_link.md).
//! - Register write: `reg_addr`, `reg_wdata_lo/hi` wires, trigger `reg_write`, wait for the
//!   `reg_done` event. Register read: `reg_addr`, trigger `reg_read`, wait for `reg_done`, then
//!   the `reg_rdata_lo/hi` wire-outs. Wire-ins are sent only when one changed.
//! - Memory: commands of 1 to `PIPE_CHUNK_WORDS` 32-bit words at a word address (`mem_addr`,
//!   `mem_words` wires). Write: pipe the words into `mem_write_data`, trigger `mem_write`, wait
//!   for `mem_done`. Read: trigger `mem_read`, wait for `mem_done`, read the words from
//!   `mem_read_data`. Byte ranges are widened to whole words; a partial word at either edge is
//!   read first and written back with the host's bytes merged in (read-modify-write: a byte
//!   of that word the card writes in between is lost, as with any word-wide bus).
//! - An `error` event (the board refused the command and did nothing: a memory range outside
//!   it, short pipe data, a register address above the 12-bit bus) is
//!   [`BoardError::Refused`]; the protocol then flushes both pipe FIFOs (`flush`, answered by
//!   `mem_done`) so the next command starts clean.
//! - Every wait for an event is bounded by [`BoardConfig::timeout`] core cycles of
//!   [`Endpoints`] time ([`BoardError::Timeout`]).
//!
//! As a [`Fabric`] the board does every register access when it is queued (the endpoint
//! protocol takes the board's real time), so a host on it adds no modelled costs. [`Fabric`]
//! reports problems by panicking (a memory range outside the card), so the trait methods panic
//! with the error's message; the `try_*` methods return the [`BoardError`] instead, and
//! [`BoardFabric::read_reg`] and friends are the blocking calls of one program.

use super::endpoints::{EndpointError, Endpoints};
use crate::fabric::{Fabric, Ticket};
use crate::host::HostCosts;
use std::collections::BTreeSet;
use thiserror::Error;
use vassa_spec::board::{fp, BOARD_MAGIC};
use vassa_spec::regmap as rm;
use vassa_spec::Field;

/// Bytes one memory command moves at most.
pub const CHUNK_BYTES: usize = fp::PIPE_CHUNK_WORDS as usize * 4;

/// Why a board operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BoardError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(
        "not a VASSA bitstream: the magic wire-out reads {found:#06x}, not {BOARD_MAGIC:#06x}"
    )]
    NotVassa { found: u16 },
    #[error("the board reports no card memory (mem_kib wire-out is 0)")]
    NoMemory,
    #[error("loopback {}: the status wire-out did not follow within {waited} core cycles", if *want { "on" } else { "off" })]
    Loopback { want: bool, waited: u64 },
    #[error("{op} at {addr:#x}: timeout, no `{event}` event within {waited} core cycles")]
    Timeout {
        op: &'static str,
        addr: u32,
        event: &'static str,
        waited: u64,
    },
    #[error("{op} of {words} word(s) at {addr:#x} refused by the board (`error` event; {errors} refused since configuration)")]
    Refused {
        op: &'static str,
        addr: u32,
        words: u32,
        errors: u16,
    },
    #[error("memory access {addr:#x}+{len:#x} outside the card's {mem:#x} bytes")]
    OutOfRange { addr: u32, len: usize, mem: usize },
    #[error("memory command at {addr:#x} of {bytes} bytes: needs a word address and 1 to {} whole words", fp::PIPE_CHUNK_WORDS)]
    BadCommand { addr: u32, bytes: usize },
    #[error("register address {addr:#x} does not fit the 16-bit reg_addr wire (the board refuses any above 0xfff)")]
    BadRegister { addr: u32 },
}

/// How a [`BoardFabric`] drives its board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardConfig {
    /// The card's TX link feeds its own RX link (`control` wire bit `loopback`); off, the link
    /// goes to the expansion connector.
    pub loopback: bool,
    /// Core cycles a command may take (from its trigger to its event) before it counts as hung.
    pub timeout: u64,
    /// Core cycles between two fetches of the trigger-outs while waiting for an event.
    pub wait_step: u64,
    /// Core cycles [`BoardFabric::run_until`] and [`Fabric::advance`] move between two checks of its condition (each
    /// check fetches the status and events: irq).
    pub poll_step: u64,
    /// Core cycles after the card's TX path was seen idle before the board counts as
    /// [`Fabric::quiet`]: the packetizer's queue (16 commands of at most 256 bytes, 67 link
    /// words each) leaving, looping back and being written.
    pub quiet_window: u64,
}

impl Default for BoardConfig {
    fn default() -> Self {
        BoardConfig {
            loopback: true,
            timeout: 1_000_000,
            wait_step: 8,
            poll_step: 256,
            quiet_window: 2_000,
        }
    }
}

/// What a [`BoardFabric`] sent to its board.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BoardStats {
    pub reg_reads: u64,
    pub reg_writes: u64,
    /// `mem_write` commands (each at most `PIPE_CHUNK_WORDS` words).
    pub mem_writes: u64,
    /// `mem_read` commands.
    pub mem_reads: u64,
    /// Bytes piped in (memory writes) and out (memory reads).
    pub pipe_bytes_in: u64,
    pub pipe_bytes_out: u64,
    /// Memory commands the board refused (`error` events).
    pub refused: u64,
    /// `UpdateWireIns` transactions.
    pub wire_updates: u64,
}

/// One card (node 0) on a board behind FrontPanel endpoints, as a [`Fabric`].
///
/// - Memory: the card's memory (`mem_kib` KiB, read at open), moved over the pipes.
/// - Time: the endpoints' time in core cycles; [`Fabric::advance`] lets it pass
///   ([`Endpoints::advance`]: the simulation runs, real hardware sleeps), then fetches the
///   board's status and events.
/// - [`Fabric::irq`]: the core's interrupt line as of the last status fetch (every register
///   read, every run step), or raised since by an `irq` event seen while waiting for a command.
/// - [`Fabric::quiet`]: no register was written since the card's TX path was last seen idle
///   (the core's `STATUS`: no descriptor in progress or queued, or the irq line high — a card
///   waiting for its miss to be serviced is quiet) and [`BoardConfig::quiet_window`] cycles
///   have passed since. [`Fabric::advance`] reads `STATUS` after a register write until it sees
///   the TX path idle. In loopback every packet comes from a doorbell, so this covers all
///   traffic; with loopback off, packets arriving on the connector are not seen.
/// - [`Fabric::subscribe`]: there is no switch; in loopback the card receives every packet it
///   sends, whatever its page. Subscriptions are accepted for node 0 (and recorded,
///   [`BoardFabric::subscriptions`]) and panic for any other node: a board reaches only
///   itself. A packet for a page without an RX mapping misses and the driver drops it.
pub struct BoardFabric<E: Endpoints> {
    ep: E,
    config: BoardConfig,
    mem_bytes: usize,
    /// Wire-in values as last set, and whether one changed since the last `UpdateWireIns`.
    wires: [Option<u16>; 0x20],
    wires_dirty: bool,
    /// Events fetched and not yet consumed.
    events: u16,
    irq: bool,
    subs: BTreeSet<u32>,
    /// A register was written since the TX path was last seen idle.
    tx_maybe_busy: bool,
    idle_seen_at: u64,
    stats: BoardStats,
    /// Reads done for the split-phase [`Fabric`] access, not yet collected.
    answers: Vec<(Ticket, u64, u32)>,
    next_ticket: Ticket,
}

fn bit(f: Field) -> u16 {
    f.mask() as u16
}

fn pipe_ok(addr: u32, bytes: usize) -> Result<(), BoardError> {
    if addr.is_multiple_of(4) && bytes.is_multiple_of(4) && (4..=CHUNK_BYTES).contains(&bytes) {
        Ok(())
    } else {
        Err(BoardError::BadCommand { addr, bytes })
    }
}

impl<E: Endpoints> BoardFabric<E> {
    /// Opens the board with [`BoardConfig::default`] (loopback on).
    pub fn open(ep: E) -> Result<Self, BoardError> {
        Self::with_config(ep, BoardConfig::default())
    }

    /// Opens the board: checks the `magic` wire-out (a board not running a VASSA bitstream is
    /// refused), sizes the memory from `mem_kib`, flushes both pipe FIFOs and sets loopback.
    pub fn with_config(mut ep: E, config: BoardConfig) -> Result<Self, BoardError> {
        ep.update_wire_outs()?;
        let found = ep.get_wire_out(fp::WO_MAGIC.addr);
        if found != BOARD_MAGIC {
            return Err(BoardError::NotVassa { found });
        }
        let kib = ep.get_wire_out(fp::WO_MEM_KIB.addr) as usize;
        if kib == 0 {
            return Err(BoardError::NoMemory);
        }
        let now = ep.now_core_cycles();
        let mut f = BoardFabric {
            ep,
            config,
            mem_bytes: kib * 1024,
            wires: [None; 0x20],
            wires_dirty: false,
            events: 0,
            irq: false,
            subs: BTreeSet::new(),
            tx_maybe_busy: false,
            idle_seen_at: now,
            stats: BoardStats::default(),
            answers: Vec::new(),
            next_ticket: 0,
        };
        f.note_status();
        f.flush()?;
        f.set_loopback(config.loopback)?;
        Ok(f)
    }

    /// Turns loopback on or off and waits until the status wire-out says so.
    pub fn set_loopback(&mut self, on: bool) -> Result<(), BoardError> {
        let control = fp::CONTROL_LOOPBACK.put(0, on as u32) as u16;
        self.wire(fp::WI_CONTROL.addr, control);
        self.send_wires()?;
        let start = self.ep.now_core_cycles();
        loop {
            self.ep.update_wire_outs()?;
            self.note_status();
            let status = self.ep.get_wire_out(fp::WO_STATUS.addr) as u32;
            if (fp::STATUS_LOOPBACK.get(status) != 0) == on {
                self.config.loopback = on;
                return Ok(());
            }
            let waited = self.ep.now_core_cycles() - start;
            if waited > self.config.timeout {
                return Err(BoardError::Loopback { want: on, waited });
            }
            self.ep.advance(self.config.wait_step);
        }
    }

    pub fn loopback(&self) -> bool {
        self.config.loopback
    }

    pub fn config(&self) -> &BoardConfig {
        &self.config
    }

    /// Bytes of the card's memory.
    pub fn mem_bytes(&self) -> usize {
        self.mem_bytes
    }

    /// What was sent to the board so far.
    pub fn stats(&self) -> BoardStats {
        self.stats
    }

    /// NVA pages subscribed for node 0 (informational: there is no switch).
    pub fn subscriptions(&self) -> &BTreeSet<u32> {
        &self.subs
    }

    pub fn endpoints(&self) -> &E {
        &self.ep
    }

    /// The endpoints themselves, for diagnostics and tests. Events fetched through them are
    /// not seen by the protocol; wire-ins set through them are overwritten (the next command
    /// sends every wire-in again).
    pub fn endpoints_mut(&mut self) -> &mut E {
        self.wires_dirty = true;
        &mut self.ep
    }

    pub fn into_endpoints(self) -> E {
        self.ep
    }

    /// The board's count of refused memory commands (`errors` wire-out, saturating).
    pub fn board_errors(&mut self) -> Result<u16, BoardError> {
        self.ep.update_wire_outs()?;
        self.note_status();
        Ok(self.ep.get_wire_out(fp::WO_ERRORS.addr))
    }

    // ---- Registers --------------------------------------------------------------------------

    pub fn try_read_reg(&mut self, addr: u32) -> Result<u32, BoardError> {
        self.reg_addr(addr)?;
        self.send_wires()?;
        self.trigger(fp::CMD_REG_READ)?;
        self.command_wait("register read", addr, 1, fp::EV_REG_DONE)?;
        self.stats.reg_reads += 1;
        self.ep.update_wire_outs()?;
        self.note_status();
        let lo = self.ep.get_wire_out(fp::WO_REG_RDATA_LO.addr) as u32;
        let hi = self.ep.get_wire_out(fp::WO_REG_RDATA_HI.addr) as u32;
        Ok(hi << 16 | lo)
    }

    pub fn try_write_reg(&mut self, addr: u32, value: u32) -> Result<(), BoardError> {
        self.reg_addr(addr)?;
        self.wire(fp::WI_REG_WDATA_LO.addr, value as u16);
        self.wire(fp::WI_REG_WDATA_HI.addr, (value >> 16) as u16);
        self.send_wires()?;
        self.trigger(fp::CMD_REG_WRITE)?;
        self.tx_maybe_busy = true;
        self.command_wait("register write", addr, 1, fp::EV_REG_DONE)?;
        self.stats.reg_writes += 1;
        Ok(())
    }

    fn reg_addr(&mut self, addr: u32) -> Result<(), BoardError> {
        let a = u16::try_from(addr).map_err(|_| BoardError::BadRegister { addr })?;
        self.wire(fp::WI_REG_ADDR.addr, a);
        Ok(())
    }

    // ---- Memory -----------------------------------------------------------------------------

    /// Copies `buf.len()` bytes of the card's memory from byte address `addr` (any alignment
    /// and length; commands of at most `PIPE_CHUNK_WORDS` words).
    pub fn try_mem_read(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), BoardError> {
        let Some((start, words)) = self.word_span(addr, buf.len())? else {
            return Ok(());
        };
        let head = (addr - start) as usize;
        let mut tmp = vec![0u8; words * 4];
        for (i, chunk) in tmp.chunks_mut(CHUNK_BYTES).enumerate() {
            self.read_chunk(start + (i * CHUNK_BYTES) as u32, chunk)?;
        }
        buf.copy_from_slice(&tmp[head..head + buf.len()]);
        Ok(())
    }

    /// Copies `bytes` into the card's memory at byte address `addr` (any alignment and length).
    /// The partial words at either end are read first and written back with `bytes` merged in.
    pub fn try_mem_write(&mut self, addr: u32, bytes: &[u8]) -> Result<(), BoardError> {
        let Some((start, words)) = self.word_span(addr, bytes.len())? else {
            return Ok(());
        };
        let head = (addr - start) as usize;
        let tail = words * 4 - head - bytes.len();
        let mut tmp = vec![0u8; words * 4];
        if head != 0 {
            self.read_chunk(start, &mut tmp[..4])?;
        }
        if tail != 0 && !(words == 1 && head != 0) {
            let last = (words - 1) * 4;
            self.read_chunk(start + last as u32, &mut tmp[last..])?;
        }
        tmp[head..head + bytes.len()].copy_from_slice(bytes);
        for (i, chunk) in tmp.chunks(CHUNK_BYTES).enumerate() {
            self.write_chunk(start + (i * CHUNK_BYTES) as u32, chunk)?;
        }
        Ok(())
    }

    /// The first word address and the number of words covering `len` bytes at `addr` (None
    /// for nothing), after checking the range against the memory.
    fn word_span(&self, addr: u32, len: usize) -> Result<Option<(u32, usize)>, BoardError> {
        let end = (addr as usize).checked_add(len);
        if end.is_none_or(|end| end > self.mem_bytes) {
            return Err(BoardError::OutOfRange {
                addr,
                len,
                mem: self.mem_bytes,
            });
        }
        if len == 0 {
            return Ok(None);
        }
        let start = addr & !3;
        let end = (addr as usize + len).next_multiple_of(4);
        Ok(Some((start, (end - start as usize) / 4)))
    }

    /// One `mem_write` command: `bytes` (whole words, 1 to `PIPE_CHUNK_WORDS` of them, memory
    /// order) to word address `addr`. No host-side range check: the board refuses a range
    /// outside its memory ([`BoardError::Refused`]).
    pub fn write_chunk(&mut self, addr: u32, bytes: &[u8]) -> Result<(), BoardError> {
        pipe_ok(addr, bytes.len())?;
        self.mem_wires(addr, bytes.len())?;
        if let Err(e) = self.ep.write_to_pipe_in(fp::PIPE_IN_MEM.addr, bytes) {
            // Part of the data may be in the FIFO: empty it for the next command.
            let _ = self.flush();
            return Err(e.into());
        }
        self.stats.pipe_bytes_in += bytes.len() as u64;
        self.trigger(fp::CMD_MEM_WRITE)?;
        self.stats.mem_writes += 1;
        self.command_wait("memory write", addr, bytes.len() / 4, fp::EV_MEM_DONE)
    }

    /// One `mem_read` command: whole words (1 to `PIPE_CHUNK_WORDS`) at word address `addr`
    /// into `buf` (memory order). No host-side range check, as [`BoardFabric::write_chunk`].
    pub fn read_chunk(&mut self, addr: u32, buf: &mut [u8]) -> Result<(), BoardError> {
        pipe_ok(addr, buf.len())?;
        self.mem_wires(addr, buf.len())?;
        self.trigger(fp::CMD_MEM_READ)?;
        self.stats.mem_reads += 1;
        self.command_wait("memory read", addr, buf.len() / 4, fp::EV_MEM_DONE)?;
        if let Err(e) = self.ep.read_from_pipe_out(fp::PIPE_OUT_MEM.addr, buf) {
            let _ = self.flush();
            return Err(e.into());
        }
        self.stats.pipe_bytes_out += buf.len() as u64;
        Ok(())
    }

    fn mem_wires(&mut self, addr: u32, bytes: usize) -> Result<(), BoardError> {
        self.wire(fp::WI_MEM_ADDR_LO.addr, addr as u16);
        self.wire(fp::WI_MEM_ADDR_HI.addr, (addr >> 16) as u16);
        self.wire(fp::WI_MEM_WORDS.addr, (bytes / 4) as u16);
        self.send_wires()
    }

    /// Empties both pipe FIFOs (`flush`, answered by `mem_done`).
    pub fn flush(&mut self) -> Result<(), BoardError> {
        self.trigger(fp::CMD_FLUSH)?;
        self.wait("flush", 0, fp::EV_MEM_DONE)
    }

    /// Waits for `done` after a command; an `error` event instead (the board refused the
    /// command and did nothing) is [`BoardError::Refused`], after which both FIFOs are flushed.
    fn command_wait(
        &mut self,
        op: &'static str,
        addr: u32,
        words: usize,
        done: Field,
    ) -> Result<(), BoardError> {
        let got = self.wait_any(op, addr, bit(done) | bit(fp::EV_ERROR), done.name)?;
        if got & bit(fp::EV_ERROR) == 0 {
            return Ok(());
        }
        self.stats.refused += 1;
        self.flush()?;
        let errors = self.board_errors()?;
        Err(BoardError::Refused {
            op,
            addr,
            words: words as u32,
            errors,
        })
    }

    // ---- Endpoint plumbing ------------------------------------------------------------------

    fn wire(&mut self, addr: u8, value: u16) {
        let w = &mut self.wires[addr as usize];
        if *w != Some(value) {
            *w = Some(value);
            self.wires_dirty = true;
        }
    }

    /// Sends the wire-ins set since the last update (nothing when none changed).
    fn send_wires(&mut self) -> Result<(), BoardError> {
        if !self.wires_dirty {
            return Ok(());
        }
        for (addr, value) in self.wires.iter().enumerate() {
            if let Some(v) = value {
                self.ep.set_wire_in(addr as u8, *v)?;
            }
        }
        self.ep.update_wire_ins()?;
        self.stats.wire_updates += 1;
        self.wires_dirty = false;
        Ok(())
    }

    fn trigger(&mut self, command: Field) -> Result<(), BoardError> {
        Ok(self
            .ep
            .activate_trigger_in(fp::TI_COMMAND.addr, command.lsb)?)
    }

    /// Fetches the trigger-outs into the pending events; an `irq` event raises the irq line.
    fn fetch_events(&mut self) -> Result<(), BoardError> {
        self.ep.update_trigger_outs()?;
        for ev in fp::EVENT_BITS {
            if self.ep.is_triggered(fp::TO_EVENTS.addr, bit(ev)) {
                self.events |= bit(ev);
            }
        }
        if self.events & bit(fp::EV_IRQ) != 0 {
            self.events &= !bit(fp::EV_IRQ);
            self.irq = true;
        }
        Ok(())
    }

    /// The irq line from the status wire-out of the last `UpdateWireOuts`.
    fn note_status(&mut self) {
        let status = self.ep.get_wire_out(fp::WO_STATUS.addr) as u32;
        self.irq = fp::STATUS_IRQ.get(status) != 0;
    }

    fn wait(&mut self, op: &'static str, addr: u32, event: Field) -> Result<(), BoardError> {
        self.wait_any(op, addr, bit(event), event.name).map(|_| ())
    }

    /// Waits until one of the events in `mask` has come (consuming those that came), at most
    /// [`BoardConfig::timeout`] core cycles.
    fn wait_any(
        &mut self,
        op: &'static str,
        addr: u32,
        mask: u16,
        event: &'static str,
    ) -> Result<u16, BoardError> {
        let start = self.ep.now_core_cycles();
        loop {
            self.fetch_events()?;
            let got = self.events & mask;
            if got != 0 {
                self.events &= !got;
                return Ok(got);
            }
            let waited = self.ep.now_core_cycles() - start;
            if waited > self.config.timeout {
                return Err(BoardError::Timeout {
                    op,
                    addr,
                    event,
                    waited,
                });
            }
            self.ep.advance(self.config.wait_step);
        }
    }

    // ---- Time -------------------------------------------------------------------------------

    /// Lets `cycles` core cycles pass, then fetches events and status (irq); while a register
    /// write may have started TX work, also reads the core's `STATUS` for [`Fabric::quiet`].
    pub fn try_run(&mut self, cycles: u64) -> Result<(), BoardError> {
        self.ep.advance(cycles);
        self.fetch_events()?;
        if self.tx_maybe_busy {
            let st = self.try_read_reg(rm::STATUS.offset)?;
            let tx_idle = rm::STATUS_TX_BUSY.get(st) == 0 && rm::STATUS_DB_USED.get(st) == 0;
            if tx_idle || self.irq {
                self.tx_maybe_busy = false;
                self.idle_seen_at = self.ep.now_core_cycles();
            }
        } else {
            self.ep.update_wire_outs()?;
            self.note_status();
        }
        Ok(())
    }

    fn node(&self, node: usize) {
        assert!(
            node == 0,
            "board fabric: no node {node} (a board is one card, node 0)"
        );
    }
}

/// Unwraps a board result the way [`Fabric`] reports problems: a panic naming the error.
fn or_panic<T>(what: &str, r: Result<T, BoardError>) -> T {
    r.unwrap_or_else(|e| panic!("board: {what}: {e}"))
}

impl<E: Endpoints> BoardFabric<E> {
    /// A register read (panics with the error's message: see the module doc).
    pub fn read_reg(&mut self, node: usize, addr: u32) -> u32 {
        self.node(node);
        or_panic("read_reg", self.try_read_reg(addr))
    }

    pub fn write_reg(&mut self, node: usize, addr: u32, value: u32) {
        self.node(node);
        or_panic("write_reg", self.try_write_reg(addr, value))
    }

    /// Lets `cycles` core cycles pass (see [`BoardFabric::try_run`]).
    pub fn run(&mut self, cycles: u64) {
        or_panic("run", self.try_run(cycles))
    }

    /// Runs until `stop` holds, checked every [`BoardConfig::poll_step`] cycles (each step
    /// fetches the board's status), at most `limit` cycles.
    pub fn run_until(&mut self, limit: u64, mut stop: impl FnMut(&Self) -> bool) -> bool {
        let end = self.ep.now_core_cycles().saturating_add(limit);
        loop {
            if stop(self) {
                return true;
            }
            let now = self.ep.now_core_cycles();
            if now >= end {
                return false;
            }
            self.run(self.config.poll_step.clamp(1, end - now));
        }
    }
}

impl<E: Endpoints + 'static> Fabric for BoardFabric<E> {
    fn nodes(&self) -> usize {
        1
    }

    fn cycle(&self) -> u64 {
        self.ep.now_core_cycles()
    }

    fn bus_write(&mut self, node: usize, _at: u64, addr: u32, value: u32) {
        self.write_reg(node, addr, value);
    }

    fn bus_read(&mut self, node: usize, _at: u64, addr: u32) -> Ticket {
        let value = self.read_reg(node, addr);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.answers.push((ticket, self.cycle(), value));
        ticket
    }

    fn take_answers(&mut self, out: &mut Vec<(Ticket, u64, u32)>) {
        out.append(&mut self.answers);
    }

    /// Lets time pass in steps of [`BoardConfig::poll_step`], each fetching the board's
    /// status, and stops when the irq line changes.
    fn advance(&mut self, until: u64) {
        let irq = self.irq;
        while self.cycle() < until && self.irq == irq {
            let step = self.config.poll_step.clamp(1, until - self.cycle());
            self.run(step);
        }
    }

    fn mem_size(&self, node: usize) -> usize {
        self.node(node);
        self.mem_bytes
    }

    fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]) {
        self.node(node);
        or_panic("mem_read", self.try_mem_read(addr, buf))
    }

    fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]) {
        self.node(node);
        or_panic("mem_write", self.try_mem_write(addr, bytes))
    }

    fn irq(&self, node: usize) -> bool {
        self.node(node);
        self.irq
    }

    fn subscribe(&mut self, nva_page: u32, node: usize) {
        self.node(node);
        self.subs.insert(nva_page);
    }

    fn unsubscribe(&mut self, nva_page: u32, node: usize) {
        self.node(node);
        self.subs.remove(&nva_page);
    }

    fn quiet(&self) -> bool {
        !self.tx_maybe_busy && self.cycle() >= self.idle_seen_at + self.config.quiet_window
    }

    fn host_costs(&self, _configured: HostCosts) -> HostCosts {
        HostCosts::zero()
    }
}
