//! [`Driver`]: the drivers of every card of a fabric, each operation a blocking call.

use super::NodeDriver;
use super::{Attr, CardInfo, Dir, DriverConfig, DriverError, Mapping, MissStats, Notification};
use crate::counters::{CounterTotals, Rates, SlotTotals};
use crate::exec::{join_all, World};
use crate::fabric::Fabric;
use crate::host::HostCosts;
use std::cell::{Ref, RefMut};
use std::future::Future;
use std::rc::Rc;

/// Cycles a blocking [`Driver`] operation may take before the card counts as hung.
pub const OP_LIMIT: u64 = 10_000_000;

/// The drivers of every card of a fabric, each on its own host in one [`World`], with every
/// operation as a blocking call: it runs the world — every host's background work, every
/// card — until the operation is done.
pub struct Driver<F: Fabric> {
    // Declared first: node drivers hold host handles into the world.
    nodes: Vec<Rc<NodeDriver<F>>>,
    world: World<F>,
    config: DriverConfig,
}

impl<F: Fabric> Driver<F> {
    /// Attaches a driver to every card (node `n` gets node id `n`) and starts their background
    /// work (interrupt handlers, counter pollers).
    pub fn new(fabric: F, config: DriverConfig) -> Result<Self, DriverError> {
        let costs = fabric.host_costs(config.host);
        let config = DriverConfig {
            host: HostCosts {
                counter_poll: config.host.counter_poll,
                ..costs
            },
            ..config
        };
        let world = World::new(fabric, config.host);
        let n = world.fabric().nodes();
        // Every host attaches its own card, side by side.
        let attach = (0..n)
            .map(|node| NodeDriver::attach(world.host(node), node as u32, config))
            .collect();
        let attached = world
            .block_on(join_all(attach), OP_LIMIT)
            .ok_or(DriverError::NoAnswer {
                node: 0,
                cycles: OP_LIMIT,
            })?;
        let nodes = attached
            .into_iter()
            .map(|d| d.map(Rc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for d in &nodes {
            d.start(&world);
        }
        Ok(Driver {
            nodes,
            world,
            config,
        })
    }

    /// Runs `fut` to completion in the world; panics if it takes more than [`OP_LIMIT`]
    /// cycles (a card that does not answer).
    pub fn block_on<T>(&self, fut: impl Future<Output = T>) -> T {
        self.world
            .block_on(fut, OP_LIMIT)
            .unwrap_or_else(|| panic!("a driver operation took more than {OP_LIMIT} cycles"))
    }

    /// Node `node`'s driver, for async use by tasks of the world.
    pub fn node(&self, node: usize) -> &Rc<NodeDriver<F>> {
        &self.nodes[node]
    }

    pub fn world(&self) -> &World<F> {
        &self.world
    }

    pub fn fabric(&self) -> Ref<'_, F> {
        self.world.fabric()
    }

    /// The fabric, for memory access and anything the driver does not wrap.
    pub fn fabric_mut(&self) -> RefMut<'_, F> {
        self.world.fabric_mut()
    }

    pub fn into_fabric(self) -> F {
        let Driver { nodes, world, .. } = self;
        drop(nodes);
        world.into_fabric()
    }

    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn info(&self, node: usize) -> &CardInfo {
        self.nodes[node].info()
    }

    pub fn set_prefault(&mut self, on: bool) {
        self.nodes.iter().for_each(|d| d.set_prefault(on));
    }

    pub fn map(
        &mut self,
        node: usize,
        dir: Dir,
        key: u32,
        mapping: Mapping,
    ) -> Result<(), DriverError> {
        self.block_on(self.nodes[node].map(dir, key, mapping))
    }

    pub fn unmap(&mut self, node: usize, dir: Dir, key: u32) -> Option<Mapping> {
        self.block_on(self.nodes[node].unmap(dir, key))
    }

    pub fn map_tx(
        &mut self,
        node: usize,
        phys: u32,
        nva: u32,
        attr: Attr,
    ) -> Result<(), DriverError> {
        self.block_on(self.nodes[node].map_tx(phys, nva, attr))
    }

    pub fn map_rx(
        &mut self,
        node: usize,
        nva: u32,
        phys: u32,
        attr: Attr,
    ) -> Result<(), DriverError> {
        self.block_on(self.nodes[node].map_rx(nva, phys, attr))
    }

    pub fn lookup(&self, node: usize, dir: Dir, key: u32) -> Option<Mapping> {
        self.nodes[node].lookup(dir, key)
    }

    pub fn cached(&self, node: usize, dir: Dir) -> Vec<(usize, u32)> {
        self.nodes[node].cached(dir)
    }

    pub fn mappings(&self, node: usize, dir: Dir) -> Vec<(u32, Mapping)> {
        self.nodes[node].mappings(dir)
    }

    pub fn evict(&mut self, node: usize, dir: Dir, key: u32) -> bool {
        self.block_on(self.nodes[node].evict(dir, key))
    }

    pub fn evict_all(&mut self, node: usize, dir: Dir) -> usize {
        self.block_on(self.nodes[node].evict_all(dir))
    }

    pub fn doorbell(
        &mut self,
        node: usize,
        addr: u32,
        length: u32,
        user: bool,
    ) -> Result<(), DriverError> {
        self.block_on(self.nodes[node].doorbell(addr, length, user))
            .map(|_| ())
    }

    pub fn doorbell_room(&mut self, node: usize) -> u32 {
        self.block_on(self.nodes[node].doorbell_room())
    }

    /// Rings the doorbell for `length` bytes of `node`'s memory at `addr`, waiting (the world
    /// runs) while the doorbell FIFO is full, at most `limit` cycles. Returns whether the
    /// doorbell was pushed.
    pub fn send_when_possible(&mut self, node: usize, addr: u32, length: u32, limit: u64) -> bool {
        let d = Rc::clone(&self.nodes[node]);
        let end = self.world.now().saturating_add(limit);
        self.block_on(async move {
            loop {
                match d.doorbell(addr, length, false).await {
                    Ok(_) => return true,
                    Err(DriverError::DoorbellFull { .. }) if d.host().now() < end => {
                        d.host().sleep(64).await
                    }
                    Err(_) => return false,
                }
            }
        })
    }

    /// Runs `node`'s interrupt service routine now (the background handler runs it on every
    /// interrupt anyway).
    pub fn service(&mut self, node: usize) {
        self.block_on(self.nodes[node].service())
    }

    pub fn pop_notification(&mut self, node: usize) -> Option<Notification> {
        self.nodes[node].pop_notification()
    }

    pub fn take_notifications(&mut self, node: usize) -> Vec<Notification> {
        self.nodes[node].take_notifications()
    }

    pub fn stats(&self, node: usize) -> MissStats {
        self.nodes[node].stats()
    }

    /// Reads (and so clears) every counter of every node into the totals, the nodes' hosts
    /// side by side.
    pub fn poll_counters(&mut self) {
        let polls = self.nodes.iter().map(|d| d.poll_counters()).collect();
        self.block_on(join_all(polls));
    }

    pub fn tx_packets_sent(&mut self, node: usize, slot: u32, at_least: u64) -> u64 {
        self.block_on(self.nodes[node].tx_packets_sent(slot, at_least))
    }

    /// Counter polls of node 0 so far (every node's poller runs at the same interval).
    pub fn polls(&self) -> u64 {
        self.nodes[0].polls()
    }

    pub fn totals(&self, node: usize) -> Ref<'_, CounterTotals> {
        self.nodes[node].totals()
    }

    pub fn slot_totals(&self, node: usize, slot: u32) -> SlotTotals {
        self.nodes[node].slot_totals(slot)
    }

    pub fn rates(&self, node: usize, slot: u32) -> Rates {
        self.nodes[node].rates(slot)
    }

    pub fn average_rates(&self, node: usize, slot: u32) -> Rates {
        self.nodes[node].average_rates(slot)
    }

    // ---- Time -------------------------------------------------------------------------------

    /// Runs the world until `stop` holds (checked at least every 64 cycles), at most `limit`
    /// cycles. Returns whether `stop` held.
    pub fn run_until(&mut self, limit: u64, stop: impl FnMut(&F) -> bool) -> bool {
        self.world.run_until(limit, 64, stop)
    }

    /// Runs `cycles` cycles.
    pub fn run(&mut self, cycles: u64) {
        self.world.run_until(cycles, cycles.max(1), |_| false);
    }

    /// Nothing more can happen until a host acts: the fabric is quiet, no interrupt is
    /// pending and no interrupt handler is at work.
    pub fn settled(&self) -> bool {
        let f = self.world.fabric();
        f.quiet() && (0..f.nodes()).all(|n| !f.irq(n)) && self.nodes.iter().all(|d| !d.in_service())
    }

    /// Runs until [`Driver::settled`], at most `limit` cycles; returns whether it got there.
    pub fn settle(&mut self, limit: u64) -> bool {
        let nodes = &self.nodes;
        self.world.run_until(limit, 64, |f| {
            f.quiet() && (0..f.nodes()).all(|n| !f.irq(n)) && nodes.iter().all(|d| !d.in_service())
        })
    }
}
