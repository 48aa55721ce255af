//! Card access: a *fabric* is the cards of a network plus the switch that joins them, and
//! their clock.
//!
//! Register accesses are split-phase: a host queues an access to arrive on a card's bus at a
//! cycle ([`Fabric::bus_write`], [`Fabric::bus_read`]) and collects answers later
//! ([`Fabric::take_answers`]), so the hosts of a [`crate::exec::World`] act side by side while
//! the cards run; [`Fabric::advance`] moves time on and stops where a host may have something
//! to do. Memory is moved by copy in and out ([`Fabric::mem_read`], [`Fabric::mem_write`]),
//! which a USB pipe can do; a direct slice ([`Fabric::mem_slice`]) is only an option for
//! backends that have one.
//!
//! Backends: [`crate::board::BoardFabric`], one card on an FPGA board (accesses take their
//! real time); the simulated networks live in `vassa-harness` (`RtlFabric`, Verilated cards;
//! `ModelFabric`, golden models timed per link), so this crate needs no simulator.

use crate::host::HostCosts;

/// Names a register read in flight.
pub type Ticket = u64;

/// Cards, their memories and the switch, with one clock.
pub trait Fabric: 'static {
    /// Number of cards (nodes are `0..nodes()`).
    fn nodes(&self) -> usize;

    /// The next cycle to simulate: everything before it has happened.
    fn cycle(&self) -> u64;

    /// Queues a register write to arrive on `node`'s bus at cycle `at` (not before the
    /// present, and after the node's accesses queued before it).
    fn bus_write(&mut self, node: usize, at: u64, addr: u32, value: u32);
    /// Queues a register read (with its side effects: pops, read-and-clear), like
    /// [`Fabric::bus_write`]; its answer comes out of [`Fabric::take_answers`].
    fn bus_read(&mut self, node: usize, at: u64, addr: u32) -> Ticket;
    /// Moves the reads answered so far into `out`: (ticket, cycle answered, value).
    fn take_answers(&mut self, out: &mut Vec<(Ticket, u64, u32)>);

    /// Simulates up to cycle `until`, stopping early after a cycle in which a read was
    /// answered or an interrupt line changed.
    fn advance(&mut self, until: u64);

    /// Bytes of `node`'s physical memory.
    fn mem_size(&self, node: usize) -> usize;
    /// Copies `buf.len()` bytes of `node`'s memory from physical address `addr` into `buf`.
    /// Panics when the range is outside the memory.
    fn mem_read(&mut self, node: usize, addr: u32, buf: &mut [u8]);
    /// Copies `bytes` into `node`'s memory at physical address `addr`. Panics when the range is
    /// outside the memory.
    fn mem_write(&mut self, node: usize, addr: u32, bytes: &[u8]);
    /// The whole memory of `node`, where the backend holds it in this process.
    fn mem_slice(&mut self, _node: usize) -> Option<&mut [u8]> {
        None
    }

    /// `node`'s interrupt line.
    fn irq(&self, node: usize) -> bool;

    /// The switch delivers packets for `nva_page` to `node` too.
    fn subscribe(&mut self, nva_page: u32, node: usize);
    /// The switch stops delivering packets for `nva_page` to `node`.
    fn unsubscribe(&mut self, nva_page: u32, node: usize);

    /// Nothing is in flight: no write queued (reads start no work), no packet queued or on a
    /// link, no card busy with work the host started. A card waiting for its miss to be
    /// serviced is quiet (its irq line says so).
    fn quiet(&self) -> bool;

    /// The host costs a simulation adds to this fabric's accesses: `configured` for a
    /// simulated network; a board's accesses take their real time.
    fn host_costs(&self, configured: HostCosts) -> HostCosts {
        configured
    }
}
