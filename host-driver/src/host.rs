//! A node's host as its software sees it: the register bus, the interrupt line, memory and
//! time, with the costs of a host on a PCI Express bus ([`HostCosts`]).

use crate::exec::{Inner, IrqLine, ReadFuture, Sleep};
use crate::fabric::Fabric;
use serde::{Deserialize, Serialize};
use std::rc::Rc;

/// What a host's accesses and reactions cost, in card cycles (100 MHz: one cycle = 10 ns).
/// `[sim.host]` in a scenario file; the defaults are those of a current x86 server with the
/// card on PCI Express (sources beside each field; docs/architecture.md, "Hosts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostCosts {
    /// Round trip of a register read as the host sees it (an uncached MMIO load stalls the
    /// core until the completion returns): 1 µs. Miller et al., "Motivating Future
    /// Interconnects" (ANCS 2009) measure PCIe round trips below 1 µs; users report 2 µs for
    /// reads of an FPGA endpoint's BAR on a Xeon E3 and 5 µs on a 10G NIC (Intel community
    /// forum, "How to improve PCIe PIO read performance"; Stack Overflow, "MMIO read/write
    /// latency").
    pub reg_read: u64,
    /// CPU time of a posted register write; it reaches the card then: 100 ns. Uncached MMIO
    /// writes leave the core one TLP at a time, 50–300 ns apart (Intel community forum, "Why
    /// do MemReq TLPs take 100s nanoseconds to be generated after MMIO writes?").
    pub reg_write: u64,
    /// From the card's interrupt line going high to the handler running: 1 µs. "On the order
    /// of a microsecond to respond to an interrupt and switch to the appropriate thread
    /// context" (AMD Xilinx, Onload User Guide UG1586, "Polling vs. Interrupts").
    pub irq_latency: u64,
    /// Handler software per miss record, beside its register accesses (look the page up in
    /// the host table, choose a cache slot): 1 µs, the order of a minor page fault's software
    /// path on Linux. A NIC's page faults, resolved by its driver the same way, take several
    /// µs with the NIC's own protocol (Lesokhin et al., "Page Fault Support for Network
    /// Controllers", ASPLOS 2017).
    pub miss_service: u64,
    /// Interval at which a reader program looks at its segment for new messages: 1 µs (a
    /// polling reader that does other work between looks).
    pub reader_poll: u64,
    /// Interval of the driver's counter poll (all counters read and cleared): 1 ms.
    pub counter_poll: u64,
}

impl Default for HostCosts {
    fn default() -> Self {
        HostCosts {
            reg_read: 100,
            reg_write: 10,
            irq_latency: 100,
            miss_service: 100,
            reader_poll: 100,
            counter_poll: 100_000,
        }
    }
}

impl HostCosts {
    /// A host that costs nothing but the card's own bus cycles: for tests of logic rather
    /// than timing, and for boards, whose accesses take their real time.
    pub fn zero() -> Self {
        HostCosts {
            reg_read: 0,
            reg_write: 0,
            irq_latency: 0,
            miss_service: 0,
            reader_poll: 1,
            ..HostCosts::default()
        }
    }
}

/// Node `node`'s host: cheap to clone; every method acts at the world's current cycle.
pub struct Host<F: Fabric> {
    inner: Rc<Inner<F>>,
    node: usize,
}

impl<F: Fabric> Clone for Host<F> {
    fn clone(&self) -> Self {
        Host {
            inner: Rc::clone(&self.inner),
            node: self.node,
        }
    }
}

impl<F: Fabric> Host<F> {
    pub(crate) fn new(inner: Rc<Inner<F>>, node: usize) -> Self {
        Host { inner, node }
    }

    pub fn node(&self) -> usize {
        self.node
    }

    pub fn costs(&self) -> &HostCosts {
        &self.inner.costs
    }

    /// The current cycle.
    pub fn now(&self) -> u64 {
        self.inner.now()
    }

    /// A register read (with its side effects on the card): the value, when it is back.
    pub fn read(&self, addr: u32) -> ReadFuture<F> {
        ReadFuture {
            inner: Rc::clone(&self.inner),
            node: self.node,
            addr,
            ticket: None,
        }
    }

    /// A posted register write: occupies the caller for the write's CPU cost.
    pub async fn write(&self, addr: u32, value: u32) {
        self.inner.issue_write(self.node, addr, value);
        self.sleep(self.inner.costs.reg_write).await;
    }

    /// Waits `cycles` (host computation, or a pause).
    pub fn sleep(&self, cycles: u64) -> Sleep<F> {
        self.sleep_until(self.now().saturating_add(cycles))
    }

    pub fn sleep_until(&self, cycle: u64) -> Sleep<F> {
        Sleep {
            inner: Rc::clone(&self.inner),
            until: cycle,
            timer: None,
        }
    }

    /// Waits until the card's interrupt line is high (at once if it is).
    pub fn irq_line(&self) -> IrqLine<F> {
        IrqLine {
            inner: Rc::clone(&self.inner),
            node: self.node,
        }
    }

    /// The card's interrupt line now.
    pub fn irq(&self) -> bool {
        self.inner.fabric.borrow().irq(self.node)
    }

    /// Runs `f` on the fabric (this node's memory, the switch's subscriptions). Never hold
    /// what it returns across a wait.
    pub fn with_fabric<R>(&self, f: impl FnOnce(&mut F) -> R) -> R {
        f(&mut self.inner.fabric.borrow_mut())
    }

    /// Bytes of this node's memory.
    pub fn mem_size(&self) -> usize {
        self.inner.fabric.borrow().mem_size(self.node)
    }

    /// Copies memory from `addr` into `buf` (the host reads its own memory: no card cycles).
    pub fn mem_read(&self, addr: u32, buf: &mut [u8]) {
        self.inner
            .fabric
            .borrow_mut()
            .mem_read(self.node, addr, buf)
    }

    pub fn mem_write(&self, addr: u32, bytes: &[u8]) {
        self.inner
            .fabric
            .borrow_mut()
            .mem_write(self.node, addr, bytes)
    }
}
