//! [`NodeDriver`]: the driver of one card, on its node's host.

use super::MAX_DOORBELL_LENGTH;
use super::{Attr, CardInfo, Dir, DriverConfig, DriverError, Mapping, MissStats, Notification};
use crate::cache::CacheShadow;
use crate::counters::{CounterTotals, Rates, SlotTotals};
use crate::exec::{SeqGuard, SeqLock, World};
use crate::fabric::Fabric;
use crate::host::Host;
use std::cell::{Cell, Ref, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;
use vassa_spec::params::{PAGE_NUMBER_BITS, PAGE_SHIFT};
use vassa_spec::regmap as rm;

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
    tx: Table,
    rx: Table,
    stats: MissStats,
    totals: CounterTotals,
    notifications: VecDeque<Notification>,
    /// Doorbells known to fit in the FIFO without asking the card.
    db_free: u32,
    polls: u64,
}

impl NodeState {
    fn table(&mut self, dir: Dir) -> &mut Table {
        match dir {
            Dir::Tx => &mut self.tx,
            Dir::Rx => &mut self.rx,
        }
    }

    fn table_ref(&self, dir: Dir) -> &Table {
        match dir {
            Dir::Tx => &self.tx,
            Dir::Rx => &self.rx,
        }
    }
}

fn page_ok(node: usize, page: u32) -> Result<(), DriverError> {
    if page >> PAGE_NUMBER_BITS == 0 {
        Ok(())
    } else {
        Err(DriverError::PageOutOfRange { node, page })
    }
}

/// The driver of one card, on its node's host.
pub struct NodeDriver<F: Fabric> {
    host: Host<F>,
    config: DriverConfig,
    info: CardInfo,
    st: RefCell<NodeState>,
    /// Held across register sequences that must not interleave (installs, doorbells).
    regs: SeqLock,
    prefault: Cell<bool>,
    /// The interrupt handler is running (between its interrupt latency and its return).
    in_service: Cell<bool>,
    /// Doorbells pushed so far.
    doorbells: Cell<u64>,
}

impl<F: Fabric> NodeDriver<F> {
    /// Takes over the card: checks its ID, reads its parameters, sets its node id to
    /// `node_id`, flushes both mapping caches, enables the miss, signal and error interrupts
    /// and clears its counters (totals start at zero now).
    pub async fn attach(
        host: Host<F>,
        node_id: u32,
        config: DriverConfig,
    ) -> Result<Self, DriverError> {
        let node = host.node();
        let id = host.read(rm::ID.offset).await;
        if id != rm::MAGIC {
            return Err(DriverError::NotVassa { node, id });
        }
        let p0 = host.read(rm::PARAM0.offset).await;
        let p1 = host.read(rm::PARAM1.offset).await;
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
        host.write(rm::NODE_ID.offset, node_id).await;
        for tx in [false, true] {
            let flush = rm::map_cmd(rm::MAP_OP_FLUSH, tx, 0);
            host.write(rm::MAP_CMD.offset, flush).await;
        }
        let irqs = rm::IRQ_MISS.mask() | rm::IRQ_SIGNAL.mask() | rm::IRQ_ERROR.mask();
        host.write(rm::IRQ_MASK.offset, irqs).await;
        let db_free = rm::DB_STATUS_FREE.get(host.read(rm::DB_STATUS.offset).await);
        let d = NodeDriver {
            st: RefCell::new(NodeState {
                tx: Table::new(info.tx_cache_entries),
                rx: Table::new(info.rx_cache_entries),
                stats: MissStats::default(),
                totals: CounterTotals::new(info.counter_slots as usize, 0),
                notifications: VecDeque::new(),
                db_free,
                polls: 0,
            }),
            host,
            config,
            info,
            regs: SeqLock::default(),
            prefault: Cell::new(false),
            in_service: Cell::new(false),
            doorbells: Cell::new(0),
        };
        // Clear whatever the counters held; totals start here.
        d.poll_counters().await;
        let now = d.host.now();
        let mut st = d.st.borrow_mut();
        st.totals = CounterTotals::new(info.counter_slots as usize, now);
        st.polls = 0;
        drop(st);
        Ok(d)
    }

    /// Starts the driver's background work on its host: the interrupt handler and the counter
    /// poller, each a task of `world` for as long as the world runs.
    pub fn start(self: &Rc<Self>, world: &World<F>) {
        let d = Rc::clone(self);
        world.spawn(async move { d.interrupt_handler().await });
        let d = Rc::clone(self);
        world.spawn(async move { d.counter_poller().await });
    }

    /// Waits for the interrupt line, then after the interrupt latency runs the service
    /// routine; forever.
    async fn interrupt_handler(&self) {
        loop {
            self.host.irq_line().await;
            self.in_service.set(true);
            self.host.sleep(self.host.costs().irq_latency).await;
            self.service().await;
            self.in_service.set(false);
        }
    }

    /// Reads every counter every `counter_poll` cycles; forever.
    async fn counter_poller(&self) {
        loop {
            self.host.sleep(self.config.host.counter_poll.max(1)).await;
            self.poll_counters().await;
        }
    }

    pub fn host(&self) -> &Host<F> {
        &self.host
    }

    pub fn node(&self) -> usize {
        self.host.node()
    }

    pub fn info(&self) -> &CardInfo {
        &self.info
    }

    pub fn config(&self) -> &DriverConfig {
        &self.config
    }

    /// The interrupt handler is at work (so more may land once it has resolved a miss).
    pub fn in_service(&self) -> bool {
        self.in_service.get()
    }

    /// With `on`, [`NodeDriver::map`] also installs a new mapping into the card's cache when
    /// the cache has a free slot (it never evicts for this); off by default, so every mapping
    /// is learnt on a miss. Channels turn it on: see [`crate::channel`].
    pub fn set_prefault(&self, on: bool) {
        self.prefault.set(on);
    }

    // ---- Mappings ---------------------------------------------------------------------------

    /// Maps `key` to `mapping` in the `dir` table (physical page → NVA page for TX, NVA page →
    /// physical page for RX), replacing any mapping of `key`. The card learns it on its next
    /// miss for `key`; if `key` is cached, the cache entry is rewritten at once. An RX mapping
    /// also subscribes the node to the NVA page at the switch.
    pub async fn map(&self, dir: Dir, key: u32, mapping: Mapping) -> Result<(), DriverError> {
        let node = self.node();
        page_ok(node, key)?;
        page_ok(node, mapping.page)?;
        let slots = self.info.counter_slots;
        if mapping.attr.counter_slot >= slots {
            return Err(DriverError::SlotOutOfRange {
                node,
                slot: mapping.attr.counter_slot,
                slots,
            });
        }
        let install_at = {
            let mut st = self.st.borrow_mut();
            let prefault = self.prefault.get();
            let table = st.table(dir);
            table.map.insert(
                key,
                Entry {
                    mapping,
                    ghost: false,
                },
            );
            if let Some(slot) = table.cache.slot_of(key) {
                Some((slot, false))
            } else if prefault && table.cache.occupied().count() < table.cache.entries() {
                // A free cache slot: install now rather than on the first miss. Cold misses come
                // in bursts (every page of a new channel at once) and a card parks only a few
                // missed packets; the rest would be dropped (drop_miss_overflow).
                let (slot, _) = table.cache.place(key, false);
                Some((slot, true))
            } else {
                None
            }
        };
        if dir == Dir::Rx {
            self.host.with_fabric(|f| f.subscribe(key, node));
        }
        if let Some((slot, prefaulted)) = install_at {
            if prefaulted {
                self.st.borrow_mut().stats.prefaults += 1;
            }
            self.install(dir, slot, key, &mapping).await;
        }
        Ok(())
    }

    /// Removes the mapping of `key` from the `dir` table and, if cached, invalidates its cache
    /// entry. An RX unmap also unsubscribes the node from the NVA page. Returns the mapping
    /// removed.
    pub async fn unmap(&self, dir: Dir, key: u32) -> Option<Mapping> {
        let (entry, slot) = {
            let mut st = self.st.borrow_mut();
            let table = st.table(dir);
            let entry = table.map.remove(&key)?;
            (entry, table.cache.remove(key))
        };
        if dir == Dir::Rx {
            let node = self.node();
            self.host.with_fabric(|f| f.unsubscribe(key, node));
        }
        if let Some(slot) = slot {
            self.invalidate(dir, slot).await;
        }
        Some(entry.mapping)
    }

    /// TX: physical page `phys` is sent to NVA page `nva`.
    pub async fn map_tx(&self, phys: u32, nva: u32, attr: Attr) -> Result<(), DriverError> {
        self.map(Dir::Tx, phys, Mapping { page: nva, attr }).await
    }

    /// RX: packets for NVA page `nva` are written to physical page `phys`.
    pub async fn map_rx(&self, nva: u32, phys: u32, attr: Attr) -> Result<(), DriverError> {
        self.map(Dir::Rx, nva, Mapping { page: phys, attr }).await
    }

    /// The mapping of `key` in the `dir` table.
    pub fn lookup(&self, dir: Dir, key: u32) -> Option<Mapping> {
        let st = self.st.borrow();
        st.table_ref(dir).map.get(&key).map(|e| e.mapping)
    }

    /// (slot, key) of every mapping the driver installed in the `dir` cache.
    pub fn cached(&self, dir: Dir) -> Vec<(usize, u32)> {
        self.st.borrow().table_ref(dir).cache.occupied().collect()
    }

    /// Every mapping in the `dir` table, by key.
    pub fn mappings(&self, dir: Dir) -> Vec<(u32, Mapping)> {
        let st = self.st.borrow();
        let t = st.table_ref(dir);
        t.map.iter().map(|(&k, e)| (k, e.mapping)).collect()
    }

    /// Invalidates `key`'s entry in the `dir` cache, keeping the mapping in the host table, as
    /// a cache under pressure would: the next packet for `key` misses and the service routine
    /// installs it again. Returns whether `key` was cached.
    pub async fn evict(&self, dir: Dir, key: u32) -> bool {
        let slot = {
            let mut st = self.st.borrow_mut();
            let table = st.table(dir);
            let Some(slot) = table.cache.remove(key) else {
                return false;
            };
            if let Some(e) = table.map.get_mut(&key) {
                e.ghost = true;
            }
            slot
        };
        self.invalidate(dir, slot).await;
        true
    }

    /// Empties the `dir` cache (one flush command); the host table stays. Returns how many
    /// mappings were cached.
    pub async fn evict_all(&self, dir: Dir) -> usize {
        let n = {
            let mut st = self.st.borrow_mut();
            let table = st.table(dir);
            let cached: Vec<u32> = table.cache.occupied().map(|(_, k)| k).collect();
            table.cache.clear();
            for k in &cached {
                if let Some(e) = table.map.get_mut(k) {
                    e.ghost = true;
                }
            }
            cached.len()
        };
        let flush = rm::map_cmd(rm::MAP_OP_FLUSH, dir == Dir::Tx, 0);
        let _seq = self.regs.lock().await;
        self.host.write(rm::MAP_CMD.offset, flush).await;
        n
    }

    async fn invalidate(&self, dir: Dir, slot: usize) {
        let cmd = rm::map_cmd(rm::MAP_OP_INVALIDATE, dir == Dir::Tx, slot as u32);
        let _seq = self.regs.lock().await;
        self.host.write(rm::MAP_CMD.offset, cmd).await;
    }

    /// Writes the registers that install `key` → `m` into `slot` of the `dir` cache (one
    /// sequence: the staging registers are shared).
    async fn install(&self, dir: Dir, slot: usize, key: u32, m: &Mapping) {
        let _seq = self.regs.lock().await;
        let writes = rm::install_writes(dir == Dir::Tx, slot as u32, key, m.page, m.attr.word());
        for (addr, value) in writes {
            self.host.write(addr, value).await;
        }
    }

    // ---- Sending ----------------------------------------------------------------------------

    /// Pushes a doorbell: send `length` bytes of memory from physical address `addr`; returns
    /// its index among the card's doorbells (the card sends them in this order). Fails when
    /// the doorbell FIFO is full (the card's `DB_STATUS` is read only when the driver's own
    /// count of free entries runs out).
    pub async fn doorbell(&self, addr: u32, length: u32, user: bool) -> Result<u64, DriverError> {
        if !(1..=MAX_DOORBELL_LENGTH).contains(&length) {
            let node = self.node();
            return Err(DriverError::BadLength { node, length });
        }
        let _seq = self.regs.lock().await;
        if self.doorbell_room_locked().await == 0 {
            return Err(DriverError::DoorbellFull { node: self.node() });
        }
        self.push_doorbell_locked(addr, length, user).await
    }

    /// Holds the card's register sequences ([`SeqLock`]) for the guard's life: a caller that
    /// must take a decision and push a doorbell as one step (a writer numbering its messages
    /// in the order its card sends them) holds it across both.
    pub async fn lock_registers(&self) -> SeqGuard<'_> {
        self.regs.lock().await
    }

    /// Pushes a doorbell while the caller holds [`NodeDriver::lock_registers`] and has seen
    /// room for it ([`NodeDriver::doorbell_room_locked`]).
    pub async fn push_doorbell_locked(
        &self,
        addr: u32,
        length: u32,
        user: bool,
    ) -> Result<u64, DriverError> {
        let node = self.node();
        if !(1..=MAX_DOORBELL_LENGTH).contains(&length) {
            return Err(DriverError::BadLength { node, length });
        }
        {
            let mut st = self.st.borrow_mut();
            if st.db_free == 0 {
                return Err(DriverError::DoorbellFull { node });
            }
            st.db_free -= 1;
        }
        self.host.write(rm::DB_ADDR.offset, addr).await;
        let push = rm::DB_PUSH_USER.put(rm::DB_PUSH_LENGTH.put(0, length), user as u32);
        let index = self.doorbells.get();
        self.doorbells.set(index + 1);
        self.host.write(rm::DB_PUSH.offset, push).await;
        Ok(index)
    }

    /// Doorbells that fit in the FIFO now (asks the card only when the driver's own count has
    /// run out).
    pub async fn doorbell_room(&self) -> u32 {
        let _seq = self.regs.lock().await;
        self.doorbell_room_locked().await
    }

    /// [`NodeDriver::doorbell_room`] while the caller holds the register lock.
    pub async fn doorbell_room_locked(&self) -> u32 {
        if self.st.borrow().db_free == 0 {
            let st = self.host.read(rm::DB_STATUS.offset).await;
            self.st.borrow_mut().db_free = rm::DB_STATUS_FREE.get(st);
        }
        self.st.borrow().db_free
    }

    /// Stops the card's traffic as a host shutting down would: masks its interrupts (parked
    /// packets stay parked) and disables its TX path (doorbells not yet sent stay queued), then
    /// waits for an interrupt handler at work to finish.
    pub async fn quiesce(&self) {
        self.host.write(rm::IRQ_MASK.offset, 0).await;
        self.host.write(rm::CONTROL.offset, 0).await;
        while self.in_service.get() {
            self.host.sleep(64).await;
        }
    }

    /// The card's `STATUS` register.
    pub async fn status(&self) -> u32 {
        self.host.read(rm::STATUS.offset).await
    }

    // ---- Interrupt service ------------------------------------------------------------------

    /// The interrupt service routine: reads IRQ_STATUS, acknowledges the latched causes, then
    /// services misses (every record until MISS_POP reads invalid), pops notifications into
    /// the node's queue and clears ERROR (remembering its flags). Acknowledging before popping
    /// means a record posted meanwhile latches the cause again.
    pub async fn service(&self) {
        let status = self.host.read(rm::IRQ_STATUS.offset).await;
        let ack = status & (rm::IRQ_MISS.mask() | rm::IRQ_SIGNAL.mask());
        if status != 0 {
            self.st.borrow_mut().stats.interrupts += 1;
        }
        if ack != 0 {
            self.host.write(rm::IRQ_ACK.offset, ack).await;
        }
        if rm::IRQ_MISS.get(status) != 0 {
            self.service_misses().await;
        }
        if rm::IRQ_SIGNAL.get(status) != 0 {
            self.pop_notifications().await;
        }
        if rm::IRQ_ERROR.get(status) != 0 {
            let e = self.host.read(rm::ERROR.offset).await;
            self.st.borrow_mut().stats.error_flags |= e;
            self.host.write(rm::ERROR.offset, e).await;
        }
    }

    /// Pops every miss record and resolves it: a mapping in the host table is installed into
    /// the card cache (evicting a victim, see [`crate::cache`]) and the miss retried; a page
    /// with no mapping is dropped (RX) or its descriptor cancelled (TX).
    pub async fn service_misses(&self) {
        loop {
            let rec = self.host.read(rm::MISS_POP.offset).await;
            if rm::POP_VALID.get(rec) == 0 {
                break;
            }
            self.host.sleep(self.host.costs().miss_service).await;
            let key = rm::MISS_PAGE.get(rec);
            let dir = if rm::MISS_DIR_TX.get(rec) != 0 {
                Dir::Tx
            } else {
                Dir::Rx
            };
            let (retry, install) = self.resolve_in_tables(dir, key);
            if let Some((slot, mapping)) = install {
                self.install(dir, slot, key, &mapping).await;
            }
            let w = rm::RESOLVE_DROP.put(0, !retry as u32);
            let w = rm::RESOLVE_TX.put(w, (dir == Dir::Tx) as u32);
            let w = rm::RESOLVE_TAG.put(w, rm::MISS_TAG.get(rec));
            self.host.write(rm::MISS_RESOLVE.offset, w).await;
        }
        let mut st = self.st.borrow_mut();
        st.tx.cache.unpin_all();
        st.rx.cache.unpin_all();
    }

    /// The host-table side of a miss: whether to retry, and the install it needs (slot and
    /// mapping), if the key is not cached yet.
    fn resolve_in_tables(&self, dir: Dir, key: u32) -> (bool, Option<(usize, Mapping)>) {
        let mut guard = self.st.borrow_mut();
        let st = &mut *guard;
        let (table, stats) = match dir {
            Dir::Tx => (&mut st.tx, &mut st.stats),
            Dir::Rx => (&mut st.rx, &mut st.stats),
        };
        let Some(entry) = table.map.get(&key).copied() else {
            match dir {
                Dir::Tx => stats.tx_cancelled += 1,
                Dir::Rx => stats.rx_dropped += 1,
            }
            return (false, None);
        };
        let install = match table.cache.slot_of(key) {
            Some(slot) => {
                table.cache.reference(slot);
                stats.already_cached += 1;
                table.cache.pin(slot);
                None
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
                stats.installs += 1;
                table.cache.pin(slot);
                Some((slot, entry.mapping))
            }
        };
        match dir {
            Dir::Tx => stats.tx_serviced += 1,
            Dir::Rx => stats.rx_serviced += 1,
        }
        (true, install)
    }

    /// Pops every notification into the node's queue.
    pub async fn pop_notifications(&self) {
        loop {
            let nva = self.host.read(rm::NOTIFY_NVA.offset).await;
            let meta = self.host.read(rm::NOTIFY_POP.offset).await;
            if rm::POP_VALID.get(meta) == 0 {
                break;
            }
            self.st.borrow_mut().notifications.push_back(Notification {
                nva,
                length: rm::NOTIFY_LENGTH.get(meta),
            });
        }
    }

    /// The oldest notification not yet taken.
    pub fn pop_notification(&self) -> Option<Notification> {
        self.st.borrow_mut().notifications.pop_front()
    }

    /// Every notification not yet taken, oldest first.
    pub fn take_notifications(&self) -> Vec<Notification> {
        self.st.borrow_mut().notifications.drain(..).collect()
    }

    pub fn stats(&self) -> MissStats {
        self.st.borrow().stats
    }

    // ---- Counters ---------------------------------------------------------------------------

    /// Reads (and so clears) every global and slot counter into the totals.
    pub async fn poll_counters(&self) {
        let slots = self.info.counter_slots;
        for i in 0..rm::GLOBAL_COUNTERS.len() {
            let v = self.host.read(rm::global_counter_addr(i as u32)).await;
            self.st.borrow_mut().totals.global[i] += v as u64;
        }
        for slot in 0..slots {
            let mut window = SlotTotals::default();
            for k in 0..rm::SLOT_COUNTERS.len() {
                let v = self.host.read(rm::slot_counter_addr(slot, k as u32)).await;
                window.counts[k] = v as u64;
            }
            let mut st = self.st.borrow_mut();
            let t = &mut st.totals;
            let early = std::mem::take(&mut t.between_polls[slot as usize]);
            for k in 0..window.counts.len() {
                t.slots[slot as usize].counts[k] += window.counts[k];
                window.counts[k] += early.counts[k];
            }
            t.last_window[slot as usize] = window;
        }
        let now = self.host.now();
        let mut st = self.st.borrow_mut();
        let t = &mut st.totals;
        t.window_cycles = now - t.polled_at;
        t.polled_at = now;
        st.polls += 1;
    }

    /// Packets the card has sent through mappings charged to `slot` since the driver started:
    /// a TX completion count. The card counts a packet with its trailer, when its payload has
    /// been read from memory, so a message whose last packet is counted may be overwritten.
    /// Reads the slot's TX packet counter only when the totals say less than `at_least`.
    pub async fn tx_packets_sent(&self, slot: u32, at_least: u64) -> u64 {
        let total = self.st.borrow().totals.slots[slot as usize].tx_packets();
        if total >= at_least {
            return total;
        }
        let k = crate::counters::TX_PACKETS;
        let v = self.host.read(rm::slot_counter_addr(slot, k as u32)).await as u64;
        let mut st = self.st.borrow_mut();
        let t = &mut st.totals;
        t.slots[slot as usize].counts[k] += v;
        t.between_polls[slot as usize].counts[k] += v;
        t.slots[slot as usize].tx_packets()
    }

    /// Counter polls so far.
    pub fn polls(&self) -> u64 {
        self.st.borrow().polls
    }

    /// The counter totals (as of the latest poll).
    pub fn totals(&self) -> Ref<'_, CounterTotals> {
        Ref::map(self.st.borrow(), |s| &s.totals)
    }

    /// Totals of counter slot `slot`.
    pub fn slot_totals(&self, slot: u32) -> SlotTotals {
        self.st.borrow().totals.slots[slot as usize]
    }

    /// Rates of `slot` over the window of the latest poll, in simulated time at
    /// [`DriverConfig::clock_hz`].
    pub fn rates(&self, slot: u32) -> Rates {
        let st = self.st.borrow();
        let t = &st.totals;
        Rates::over(
            &t.last_window[slot as usize],
            t.window_cycles,
            self.config.clock_hz,
        )
    }

    /// Average rates of `slot` since the driver started.
    pub fn average_rates(&self, slot: u32) -> Rates {
        let st = self.st.borrow();
        let t = &st.totals;
        Rates::over(
            &t.slots[slot as usize],
            t.polled_at - t.since,
            self.config.clock_hz,
        )
    }
}
