//! The driver core: full mapping tables in host memory, the card caches as a managed subset of
//! them, the miss (interrupt) service routine, the counter poller and the notification queues.

use crate::cache::CacheShadow;
use crate::counters::{CounterTotals, Rates, SlotTotals};
use crate::fabric::Fabric;
use std::collections::{BTreeMap, VecDeque};
use thiserror::Error;
use vassa_rtl::spec::params::{PAGE_NUMBER_BITS, PAGE_SHIFT};
use vassa_rtl::spec::regmap as rm;

/// Which MMU: TX maps physical page → NVA page, RX maps NVA page → physical page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    Tx,
    Rx,
}

/// Attributes of a mapping (see `MAP_ATTR`). `writable` and `signal` matter for RX mappings;
/// the counter slot and the epoch for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attr {
    /// RX: packets may write the page.
    pub writable: bool,
    /// RX: every delivered packet posts a notification.
    pub signal: bool,
    /// Traffic counter slot charged for the page.
    pub counter_slot: u32,
    /// Mapping epoch (seeds the trailer checksum; sender and receiver must agree).
    pub epoch: u8,
}

impl Attr {
    /// The `MAP_ATTR` register value.
    pub fn word(&self) -> u32 {
        rm::map_attr(self.writable, self.signal, self.counter_slot, self.epoch)
    }
}

/// One mapping: the page a key maps to, and its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub page: u32,
    pub attr: Attr,
}

/// A signal-on-write notification popped from a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// NVA of the first byte written.
    pub nva: u32,
    /// Bytes written.
    pub length: u32,
}

/// The card's generator parameters, read from `PARAM0`/`PARAM1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardInfo {
    pub tx_cache_entries: u32,
    pub rx_cache_entries: u32,
    pub counter_slots: u32,
    pub miss_buffer_packets: u32,
    pub max_payload: u32,
    pub line_bytes: u32,
    pub page_shift: u32,
}

/// What the miss service routine did on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissStats {
    /// Interrupts serviced (IRQ_STATUS reads with a cause set).
    pub interrupts: u64,
    /// RX misses resolved with a retry (the mapping exists).
    pub rx_serviced: u64,
    /// TX misses resolved with a retry.
    pub tx_serviced: u64,
    /// RX misses with no mapping: the packet was dropped.
    pub rx_dropped: u64,
    /// TX misses with no mapping: the descriptor was cancelled.
    pub tx_cancelled: u64,
    /// Mappings written into a cache slot by the service routine.
    pub installs: u64,
    /// Installs that replaced another mapping.
    pub evictions: u64,
    /// Misses for a key that was already cached (looked up just before its install).
    pub already_cached: u64,
    /// Mappings installed when they were made, into a free cache slot (see
    /// [`Driver::set_prefault`]).
    pub prefaults: u64,
    /// ERROR flags seen (OR of every value read).
    pub error_flags: u32,
}

impl MissStats {
    pub fn serviced(&self) -> u64 {
        self.rx_serviced + self.tx_serviced
    }
    pub fn dropped(&self) -> u64 {
        self.rx_dropped + self.tx_cancelled
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DriverError {
    #[error("node {node} is not a VASSA card (ID {id:#010x})")]
    NotVassa { node: usize, id: u32 },
    #[error("node {node}: page {page:#x} does not fit in {PAGE_NUMBER_BITS} bits")]
    PageOutOfRange { node: usize, page: u32 },
    #[error("node {node}: counter slot {slot} out of range (the card has {slots})")]
    SlotOutOfRange { node: usize, slot: u32, slots: u32 },
    #[error("node {node}: the doorbell FIFO is full")]
    DoorbellFull { node: usize },
    #[error("node {node}: doorbell length {length} not in 1..=65535")]
    BadLength { node: usize, length: u32 },
}

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverConfig {
    /// Nominal clock of the cards, for rates in simulated time (the XEM6010 board's 100 MHz).
    pub clock_hz: u64,
    /// Simulated cycles between counter polls (below 2^30, see [`crate::counters`]).
    pub poll_interval: u64,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            clock_hz: 100_000_000,
            poll_interval: 100_000,
        }
    }
}

/// A host mapping table entry.
#[derive(Debug, Clone, Copy)]
struct Entry {
    mapping: Mapping,
    /// The mapping was evicted from the card cache and has not been installed since (see
    /// [`crate::cache`]).
    ghost: bool,
}

/// One MMU's full table and its card cache's shadow.
#[derive(Debug, Clone)]
struct Table {
    map: BTreeMap<u32, Entry>,
    cache: CacheShadow,
}

impl Table {
    fn new(entries: u32) -> Self {
        Table {
            map: BTreeMap::new(),
            cache: CacheShadow::new(entries as usize),
        }
    }
}

struct NodeState {
    info: CardInfo,
    tx: Table,
    rx: Table,
    stats: MissStats,
    totals: CounterTotals,
    notifications: VecDeque<Notification>,
    /// Doorbells known to fit in the FIFO without asking the card.
    db_free: u32,
}

impl NodeState {
    fn table(&mut self, dir: Dir) -> &mut Table {
        match dir {
            Dir::Tx => &mut self.tx,
            Dir::Rx => &mut self.rx,
        }
    }
}

/// The host driver of every card of a fabric.
pub struct Driver<F: Fabric> {
    fabric: F,
    config: DriverConfig,
    nodes: Vec<NodeState>,
    next_poll: u64,
    polls: u64,
    prefault: bool,
}

fn page_ok(node: usize, page: u32) -> Result<(), DriverError> {
    if page >> PAGE_NUMBER_BITS == 0 {
        Ok(())
    } else {
        Err(DriverError::PageOutOfRange { node, page })
    }
}

impl<F: Fabric> Driver<F> {
    /// Takes over every card: checks its ID, reads its parameters, sets its node id to its
    /// index, flushes both mapping caches, enables the miss, signal and error interrupts and
    /// clears its counters (totals start at zero now).
    pub fn new(mut fabric: F, config: DriverConfig) -> Result<Self, DriverError> {
        let mut nodes = Vec::new();
        for node in 0..fabric.nodes() {
            let id = fabric.read_reg(node, rm::ID.offset);
            if id != rm::MAGIC {
                return Err(DriverError::NotVassa { node, id });
            }
            let p0 = fabric.read_reg(node, rm::PARAM0.offset);
            let p1 = fabric.read_reg(node, rm::PARAM1.offset);
            let info = CardInfo {
                tx_cache_entries: rm::PARAM0_TX_CACHE.get(p0),
                rx_cache_entries: rm::PARAM0_RX_CACHE.get(p0),
                counter_slots: rm::PARAM0_SLOTS.get(p0),
                miss_buffer_packets: rm::PARAM0_MISS_BUF.get(p0),
                max_payload: rm::PARAM1_MAX_PAYLOAD.get(p1),
                line_bytes: rm::PARAM1_LINE.get(p1),
                page_shift: rm::PARAM1_PAGE_SHIFT.get(p1),
            };
            assert_eq!(
                info.page_shift, PAGE_SHIFT,
                "node {node}: unexpected page size"
            );
            fabric.write_reg(node, rm::NODE_ID.offset, node as u32);
            for tx in [false, true] {
                let flush = rm::map_cmd(rm::MAP_OP_FLUSH, tx, 0);
                fabric.write_reg(node, rm::MAP_CMD.offset, flush);
            }
            let irqs = rm::IRQ_MISS.mask() | rm::IRQ_SIGNAL.mask() | rm::IRQ_ERROR.mask();
            fabric.write_reg(node, rm::IRQ_MASK.offset, irqs);
            let db_free = rm::DB_STATUS_FREE.get(fabric.read_reg(node, rm::DB_STATUS.offset));
            nodes.push(NodeState {
                info,
                tx: Table::new(info.tx_cache_entries),
                rx: Table::new(info.rx_cache_entries),
                stats: MissStats::default(),
                totals: CounterTotals::new(info.counter_slots as usize, 0),
                notifications: VecDeque::new(),
                db_free,
            });
        }
        let mut d = Driver {
            fabric,
            config,
            nodes,
            next_poll: 0,
            polls: 0,
            prefault: false,
        };
        // Clear whatever the counters held; totals start here.
        d.poll_counters();
        for n in &mut d.nodes {
            n.totals = CounterTotals::new(n.info.counter_slots as usize, d.fabric.cycle());
        }
        d.polls = 0;
        Ok(d)
    }

    /// With `on`, [`Driver::map`] also installs a new mapping into its card's cache when the
    /// cache has a free slot (it never evicts for this); off by default, so every mapping is
    /// learnt on a miss. Channels turn it on: see [`crate::channel`].
    pub fn set_prefault(&mut self, on: bool) {
        self.prefault = on;
    }

    pub fn fabric(&self) -> &F {
        &self.fabric
    }

    /// The fabric, for memory access and anything the driver does not wrap. Register writes
    /// made through it bypass the driver's shadow state.
    pub fn fabric_mut(&mut self) -> &mut F {
        &mut self.fabric
    }

    pub fn into_fabric(self) -> F {
        self.fabric
    }

    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    pub fn nodes(&self) -> usize {
        self.nodes.len()
    }

    pub fn info(&self, node: usize) -> &CardInfo {
        &self.nodes[node].info
    }

    // ---- Mappings ---------------------------------------------------------------------------

    /// Maps `key` to `mapping` in `node`'s `dir` table (physical page → NVA page for TX, NVA
    /// page → physical page for RX), replacing any mapping of `key`. The card learns it on its
    /// next miss for `key`; if `key` is cached, the cache entry is rewritten at once. An RX
    /// mapping also subscribes `node` to the NVA page at the switch.
    pub fn map(
        &mut self,
        node: usize,
        dir: Dir,
        key: u32,
        mapping: Mapping,
    ) -> Result<(), DriverError> {
        page_ok(node, key)?;
        page_ok(node, mapping.page)?;
        let slots = self.nodes[node].info.counter_slots;
        if mapping.attr.counter_slot >= slots {
            return Err(DriverError::SlotOutOfRange {
                node,
                slot: mapping.attr.counter_slot,
                slots,
            });
        }
        let table = self.nodes[node].table(dir);
        table.map.insert(
            key,
            Entry {
                mapping,
                ghost: false,
            },
        );
        if let Some(slot) = table.cache.slot_of(key) {
            install(&mut self.fabric, node, dir, slot, key, &mapping);
        } else if self.prefault && table.cache.occupied().count() < table.cache.entries() {
            // A free cache slot: install now rather than on the first miss. Cold misses come
            // in bursts (every page of a new channel at once) and a card parks only a few
            // missed packets; the rest would be dropped (drop_miss_overflow).
            let (slot, _) = table.cache.place(key, false);
            install(&mut self.fabric, node, dir, slot, key, &mapping);
            self.nodes[node].stats.prefaults += 1;
        }
        if dir == Dir::Rx {
            self.fabric.subscribe(key, node);
        }
        Ok(())
    }

    /// Removes the mapping of `key` from `node`'s `dir` table and, if cached, invalidates its
    /// cache entry. An RX unmap also unsubscribes `node` from the NVA page. Returns the
    /// mapping removed.
    pub fn unmap(&mut self, node: usize, dir: Dir, key: u32) -> Option<Mapping> {
        let table = self.nodes[node].table(dir);
        let entry = table.map.remove(&key)?;
        if let Some(slot) = table.cache.remove(key) {
            let cmd = rm::map_cmd(rm::MAP_OP_INVALIDATE, dir == Dir::Tx, slot as u32);
            self.fabric.write_reg(node, rm::MAP_CMD.offset, cmd);
        }
        if dir == Dir::Rx {
            self.fabric.unsubscribe(key, node);
        }
        Some(entry.mapping)
    }

    /// TX: physical page `phys` of `node` is sent to NVA page `nva`.
    pub fn map_tx(
        &mut self,
        node: usize,
        phys: u32,
        nva: u32,
        attr: Attr,
    ) -> Result<(), DriverError> {
        self.map(node, Dir::Tx, phys, Mapping { page: nva, attr })
    }

    /// RX: packets for NVA page `nva` are written to physical page `phys` of `node`.
    pub fn map_rx(
        &mut self,
        node: usize,
        nva: u32,
        phys: u32,
        attr: Attr,
    ) -> Result<(), DriverError> {
        self.map(node, Dir::Rx, nva, Mapping { page: phys, attr })
    }

    /// The mapping of `key` in `node`'s `dir` table.
    pub fn lookup(&self, node: usize, dir: Dir, key: u32) -> Option<Mapping> {
        let n = &self.nodes[node];
        let t = match dir {
            Dir::Tx => &n.tx,
            Dir::Rx => &n.rx,
        };
        t.map.get(&key).map(|e| e.mapping)
    }

    /// (slot, key) of every mapping the driver installed in `node`'s `dir` cache.
    pub fn cached(&self, node: usize, dir: Dir) -> Vec<(usize, u32)> {
        let n = &self.nodes[node];
        let t = match dir {
            Dir::Tx => &n.tx,
            Dir::Rx => &n.rx,
        };
        t.cache.occupied().collect()
    }

    /// Every mapping in `node`'s `dir` table, by key.
    pub fn mappings(&self, node: usize, dir: Dir) -> Vec<(u32, Mapping)> {
        let n = &self.nodes[node];
        let t = match dir {
            Dir::Tx => &n.tx,
            Dir::Rx => &n.rx,
        };
        t.map.iter().map(|(&k, e)| (k, e.mapping)).collect()
    }

    /// Invalidates `key`'s entry in `node`'s `dir` cache, keeping the mapping in the host
    /// table, as a cache under pressure would: the next packet for `key` misses and the
    /// service routine installs it again. Returns whether `key` was cached.
    pub fn evict(&mut self, node: usize, dir: Dir, key: u32) -> bool {
        let table = self.nodes[node].table(dir);
        let Some(slot) = table.cache.remove(key) else {
            return false;
        };
        if let Some(e) = table.map.get_mut(&key) {
            e.ghost = true;
        }
        let cmd = rm::map_cmd(rm::MAP_OP_INVALIDATE, dir == Dir::Tx, slot as u32);
        self.fabric.write_reg(node, rm::MAP_CMD.offset, cmd);
        true
    }

    /// Empties `node`'s `dir` cache (one flush command); the host table stays. Returns how
    /// many mappings were cached.
    pub fn evict_all(&mut self, node: usize, dir: Dir) -> usize {
        let table = self.nodes[node].table(dir);
        let cached: Vec<u32> = table.cache.occupied().map(|(_, k)| k).collect();
        table.cache.clear();
        for k in &cached {
            if let Some(e) = table.map.get_mut(k) {
                e.ghost = true;
            }
        }
        let flush = rm::map_cmd(rm::MAP_OP_FLUSH, dir == Dir::Tx, 0);
        self.fabric.write_reg(node, rm::MAP_CMD.offset, flush);
        cached.len()
    }

    // ---- Sending ----------------------------------------------------------------------------

    /// Pushes a doorbell: send `length` bytes of `node`'s memory from physical address `addr`.
    /// Fails when the doorbell FIFO is full (the card's `DB_STATUS` is read only when the
    /// driver's own count of free entries runs out).
    pub fn doorbell(
        &mut self,
        node: usize,
        addr: u32,
        length: u32,
        user: bool,
    ) -> Result<(), DriverError> {
        if !(1..=0xFFFF).contains(&length) {
            return Err(DriverError::BadLength { node, length });
        }
        if self.nodes[node].db_free == 0 {
            let st = self.fabric.read_reg(node, rm::DB_STATUS.offset);
            self.nodes[node].db_free = rm::DB_STATUS_FREE.get(st);
            if self.nodes[node].db_free == 0 {
                return Err(DriverError::DoorbellFull { node });
            }
        }
        self.nodes[node].db_free -= 1;
        self.fabric.write_reg(node, rm::DB_ADDR.offset, addr);
        let push = rm::DB_PUSH_USER.put(rm::DB_PUSH_LENGTH.put(0, length), user as u32);
        self.fabric.write_reg(node, rm::DB_PUSH.offset, push);
        Ok(())
    }

    /// Doorbells that fit in `node`'s FIFO now (asks the card only when the driver's own
    /// count has run out).
    pub fn doorbell_room(&mut self, node: usize) -> u32 {
        if self.nodes[node].db_free == 0 {
            let st = self.fabric.read_reg(node, rm::DB_STATUS.offset);
            self.nodes[node].db_free = rm::DB_STATUS_FREE.get(st);
        }
        self.nodes[node].db_free
    }

    /// Copies `bytes` into `node`'s memory at `addr` and rings the doorbell for them, running
    /// the fabric (and servicing interrupts) while the doorbell FIFO is full, at most `limit`
    /// cycles. Returns whether the doorbell was pushed.
    pub fn send_when_possible(&mut self, node: usize, addr: u32, length: u32, limit: u64) -> bool {
        let end = self.fabric.cycle().saturating_add(limit);
        loop {
            match self.doorbell(node, addr, length, false) {
                Ok(()) => return true,
                Err(DriverError::DoorbellFull { .. }) if self.fabric.cycle() < end => self.run(64),
                Err(_) => return false,
            }
        }
    }

    // ---- Interrupt service ------------------------------------------------------------------

    /// Services every node whose interrupt line is high; returns how many were.
    pub fn service_pending(&mut self) -> usize {
        let mut n = 0;
        for node in 0..self.nodes.len() {
            if self.fabric.irq(node) {
                self.service(node);
                n += 1;
            }
        }
        n
    }

    /// The interrupt service routine of `node`: reads IRQ_STATUS, acknowledges the latched
    /// causes, then services misses (every record until MISS_POP reads invalid), pops
    /// notifications into the node's queue and clears ERROR (remembering its flags).
    /// Acknowledging before popping means a record posted meanwhile latches the cause again.
    pub fn service(&mut self, node: usize) {
        let status = self.fabric.read_reg(node, rm::IRQ_STATUS.offset);
        let ack = status & (rm::IRQ_MISS.mask() | rm::IRQ_SIGNAL.mask());
        if status != 0 {
            self.nodes[node].stats.interrupts += 1;
        }
        if ack != 0 {
            self.fabric.write_reg(node, rm::IRQ_ACK.offset, ack);
        }
        if rm::IRQ_MISS.get(status) != 0 {
            self.service_misses(node);
        }
        if rm::IRQ_SIGNAL.get(status) != 0 {
            self.pop_notifications(node);
        }
        if rm::IRQ_ERROR.get(status) != 0 {
            let e = self.fabric.read_reg(node, rm::ERROR.offset);
            self.nodes[node].stats.error_flags |= e;
            self.fabric.write_reg(node, rm::ERROR.offset, e);
        }
    }

    /// Pops every miss record of `node` and resolves it: a mapping in the host table is
    /// installed into the card cache (evicting a victim, see [`crate::cache`]) and the miss
    /// retried; a page with no mapping is dropped (RX) or its descriptor cancelled (TX).
    pub fn service_misses(&mut self, node: usize) {
        let Driver { fabric, nodes, .. } = self;
        let st = &mut nodes[node];
        loop {
            let rec = fabric.read_reg(node, rm::MISS_POP.offset);
            if rm::POP_VALID.get(rec) == 0 {
                break;
            }
            let key = rm::MISS_PAGE.get(rec);
            let dir = if rm::MISS_DIR_TX.get(rec) != 0 {
                Dir::Tx
            } else {
                Dir::Rx
            };
            let (table, stats) = match dir {
                Dir::Tx => (&mut st.tx, &mut st.stats),
                Dir::Rx => (&mut st.rx, &mut st.stats),
            };
            let retry = match table.map.get(&key).copied() {
                Some(entry) => {
                    let slot = match table.cache.slot_of(key) {
                        Some(slot) => {
                            table.cache.reference(slot);
                            stats.already_cached += 1;
                            slot
                        }
                        None => {
                            let (slot, evicted) = table.cache.place(key, entry.ghost);
                            table.map.get_mut(&key).unwrap().ghost = false;
                            if let Some(old) = evicted {
                                if let Some(e) = table.map.get_mut(&old) {
                                    e.ghost = true;
                                }
                                stats.evictions += 1;
                            }
                            install(fabric, node, dir, slot, key, &entry.mapping);
                            stats.installs += 1;
                            slot
                        }
                    };
                    table.cache.pin(slot);
                    true
                }
                None => false,
            };
            match (dir, retry) {
                (Dir::Tx, true) => stats.tx_serviced += 1,
                (Dir::Rx, true) => stats.rx_serviced += 1,
                (Dir::Tx, false) => stats.tx_cancelled += 1,
                (Dir::Rx, false) => stats.rx_dropped += 1,
            }
            let w = rm::RESOLVE_DROP.put(0, !retry as u32);
            let w = rm::RESOLVE_TX.put(w, (dir == Dir::Tx) as u32);
            let w = rm::RESOLVE_TAG.put(w, rm::MISS_TAG.get(rec));
            fabric.write_reg(node, rm::MISS_RESOLVE.offset, w);
        }
        st.tx.cache.unpin_all();
        st.rx.cache.unpin_all();
    }

    /// Pops every notification of `node` into its queue.
    pub fn pop_notifications(&mut self, node: usize) {
        loop {
            let nva = self.fabric.read_reg(node, rm::NOTIFY_NVA.offset);
            let meta = self.fabric.read_reg(node, rm::NOTIFY_POP.offset);
            if rm::POP_VALID.get(meta) == 0 {
                break;
            }
            self.nodes[node].notifications.push_back(Notification {
                nva,
                length: rm::NOTIFY_LENGTH.get(meta),
            });
        }
    }

    /// The oldest notification of `node` not yet taken.
    pub fn pop_notification(&mut self, node: usize) -> Option<Notification> {
        self.nodes[node].notifications.pop_front()
    }

    /// Every notification of `node` not yet taken, oldest first.
    pub fn take_notifications(&mut self, node: usize) -> Vec<Notification> {
        self.nodes[node].notifications.drain(..).collect()
    }

    pub fn stats(&self, node: usize) -> &MissStats {
        &self.nodes[node].stats
    }

    // ---- Counters ---------------------------------------------------------------------------

    /// Reads (and so clears) every global and slot counter of every node into the totals.
    pub fn poll_counters(&mut self) {
        for node in 0..self.nodes.len() {
            let slots = self.nodes[node].info.counter_slots;
            for i in 0..rm::GLOBAL_COUNTERS.len() {
                let v = self
                    .fabric
                    .read_reg(node, rm::global_counter_addr(i as u32));
                self.nodes[node].totals.global[i] += v as u64;
            }
            for slot in 0..slots {
                let mut window = SlotTotals::default();
                for k in 0..rm::SLOT_COUNTERS.len() {
                    let v = self
                        .fabric
                        .read_reg(node, rm::slot_counter_addr(slot, k as u32));
                    window.counts[k] = v as u64;
                }
                let t = &mut self.nodes[node].totals;
                let early = std::mem::take(&mut t.between_polls[slot as usize]);
                for k in 0..window.counts.len() {
                    t.slots[slot as usize].counts[k] += window.counts[k];
                    window.counts[k] += early.counts[k];
                }
                t.last_window[slot as usize] = window;
            }
            let now = self.fabric.cycle();
            let t = &mut self.nodes[node].totals;
            t.window_cycles = now - t.polled_at;
            t.polled_at = now;
        }
        self.polls += 1;
        self.next_poll = self.fabric.cycle() + self.config.poll_interval;
    }

    /// Packets `node` has sent through mappings charged to `slot` since the driver started:
    /// a TX completion count. The card counts a packet with its trailer, when its payload has
    /// been read from memory, so a message whose last packet is counted may be overwritten.
    /// Reads the slot's TX packet counter only when the totals say less than `at_least`.
    pub fn tx_packets_sent(&mut self, node: usize, slot: u32, at_least: u64) -> u64 {
        let total = self.nodes[node].totals.slots[slot as usize].tx_packets();
        if total >= at_least {
            return total;
        }
        let k = crate::counters::TX_PACKETS;
        let v = self
            .fabric
            .read_reg(node, rm::slot_counter_addr(slot, k as u32)) as u64;
        let t = &mut self.nodes[node].totals;
        t.slots[slot as usize].counts[k] += v;
        t.between_polls[slot as usize].counts[k] += v;
        total + v
    }

    /// Counter polls so far.
    pub fn polls(&self) -> u64 {
        self.polls
    }

    /// `node`'s counter totals (as of the latest poll).
    pub fn totals(&self, node: usize) -> &CounterTotals {
        &self.nodes[node].totals
    }

    /// Totals of counter slot `slot` of `node`.
    pub fn slot_totals(&self, node: usize, slot: u32) -> SlotTotals {
        self.nodes[node].totals.slots[slot as usize]
    }

    /// Rates of `slot` over the window of the latest poll, in simulated time at
    /// [`DriverConfig::clock_hz`].
    pub fn rates(&self, node: usize, slot: u32) -> Rates {
        let t = &self.nodes[node].totals;
        Rates::over(
            &t.last_window[slot as usize],
            t.window_cycles,
            self.config.clock_hz,
        )
    }

    /// Average rates of `slot` since the driver started.
    pub fn average_rates(&self, node: usize, slot: u32) -> Rates {
        let t = &self.nodes[node].totals;
        Rates::over(
            &t.slots[slot as usize],
            t.polled_at - t.since,
            self.config.clock_hz,
        )
    }

    // ---- Time -------------------------------------------------------------------------------

    /// Runs the fabric until `stop` holds (checked before every step), servicing interrupts as
    /// soon as a line is high and polling the counters every `poll_interval` cycles; at most
    /// `limit` cycles. Returns whether `stop` held.
    pub fn run_until(&mut self, limit: u64, mut stop: impl FnMut(&F) -> bool) -> bool {
        let end = self.fabric.cycle().saturating_add(limit);
        loop {
            while self.service_pending() > 0 {}
            if self.fabric.cycle() >= self.next_poll {
                self.poll_counters();
                continue;
            }
            if stop(&self.fabric) {
                return true;
            }
            let now = self.fabric.cycle();
            if now >= end {
                return false;
            }
            let n = self.nodes.len();
            self.fabric.run_until(end.min(self.next_poll) - now, |f| {
                (0..n).any(|i| f.irq(i)) || stop(f)
            });
        }
    }

    /// Runs `cycles` cycles (servicing interrupts and polling counters).
    pub fn run(&mut self, cycles: u64) {
        self.run_until(cycles, |_| false);
    }

    /// Runs until the fabric is quiet and no interrupt is pending, at most `limit` cycles;
    /// returns whether it got there.
    pub fn settle(&mut self, limit: u64) -> bool {
        let n = self.nodes.len();
        self.run_until(limit, |f| f.quiet() && (0..n).all(|i| !f.irq(i)))
    }
}

/// Writes the registers that install `key` → `m` into `slot` of `node`'s `dir` cache.
fn install<F: Fabric>(fabric: &mut F, node: usize, dir: Dir, slot: usize, key: u32, m: &Mapping) {
    for (addr, value) in rm::install_writes(dir == Dir::Tx, slot as u32, key, m.page, m.attr.word())
    {
        fabric.write_reg(node, addr, value);
    }
}
