//! A transaction-level golden model of one VASSA card, written from the documented behaviour
//! (`docs/registers.md`, `docs/packet.md`, `docs/architecture.md`). No cycles: only the order
//! and the effects of register accesses, sent packets and received packets. Every number comes
//! from `vassa_spec`.
//!
//! Driving it: [`CardModel::write`] / [`CardModel::read`] are the register bus;
//! [`CardModel::tx_packets`] runs the TX path over queued doorbells and returns encoded packets
//! (link words); [`CardModel::receive`] runs the RX path for one packet;
//! [`CardModel::service`] applies RX miss resolves written to `MISS_RESOLVE` (they need the
//! memory, which the register bus does not see).

use crate::mapping_cache::{Mapping, MappingCacheModel};
use crate::rx::{self, RxDrop, RxEvent};
use std::collections::VecDeque;
use vassa_spec::packet::{self, Header};
use vassa_spec::params::{
    CoreParams, DOORBELL_FIFO_DEPTH, NOTIFY_FIFO_DEPTH, PAGE_SHIFT, PAGE_SIZE,
};
use vassa_spec::regmap as rm;
use vassa_spec::regmap::{Access, Register};
use vassa_spec::trace::{RxTrace, Verdict};

/// A doorbell descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Descriptor {
    addr: u32,
    length: u32,
    user: bool,
}

/// The descriptor being sent: what is left of it.
#[derive(Debug, Clone)]
struct TxJob {
    user: bool,
    chunks: VecDeque<packet::Chunk>,
    /// Waiting for the host to resolve a TX miss.
    blocked: bool,
}

/// A received packet parked on an RX miss.
#[derive(Debug, Clone)]
struct Parked {
    decoded: packet::Decoded,
}

/// What became of a received packet (for tests and traces).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxOutcome {
    Delivered,
    Malformed,
    CrcEpoch,
    Protection,
    Parked(u32),
    MissOverflow,
    MissDropped,
}

impl RxOutcome {
    /// The `rx_trace` word the core shows for this outcome ([`vassa_spec::trace`]): of a
    /// link packet (`retry_tag: None`) or of the retry of miss buffer `tag`. The model writes
    /// an accepted packet at once, so `written` comes with the verdict.
    pub fn trace(self, retry_tag: Option<u32>) -> u32 {
        let tag = retry_tag.unwrap_or(0);
        let (verdict, tag) = match self {
            RxOutcome::MissDropped => {
                return RxTrace {
                    host_drop: Some(tag),
                    ..RxTrace::default()
                }
                .encode()
            }
            RxOutcome::Delivered => (Verdict::Accepted, tag),
            RxOutcome::Parked(t) => (Verdict::Parked, t),
            RxOutcome::Malformed => (Verdict::Malformed, tag),
            RxOutcome::CrcEpoch => (Verdict::CrcEpoch, tag),
            RxOutcome::Protection => (Verdict::Protection, tag),
            RxOutcome::MissOverflow => (Verdict::MissOverflow, tag),
        };
        RxTrace {
            verdict: Some((retry_tag.is_none(), verdict, tag)),
            host_drop: None,
            written: self == RxOutcome::Delivered,
        }
        .encode()
    }
}

/// One card.
#[derive(Debug, Clone)]
pub struct CardModel {
    params: CoreParams,
    node_id: u32,
    control: u32,
    irq_latched: u32,
    irq_mask: u32,
    error: u32,
    map_key: u32,
    map_page: u32,
    map_attr: u32,
    db_addr: u32,
    tx_cache: MappingCacheModel,
    rx_cache: MappingCacheModel,
    doorbells: VecDeque<Descriptor>,
    miss_fifo: VecDeque<u32>,
    /// (NOTIFY_NVA, NOTIFY_POP word without the valid bit).
    notify: VecDeque<(u32, u32)>,
    global: Vec<u32>,
    /// Per counter slot: the four counters of `SLOT_COUNTERS`.
    slots: Vec<[u32; 4]>,
    tx: Option<TxJob>,
    /// Miss buffer entries (index = miss tag).
    parked: Vec<Option<Parked>>,
    /// RX resolves written to MISS_RESOLVE, applied by [`CardModel::service`]: (tag, drop).
    rx_resolves: VecDeque<(u32, bool)>,
}

const SLOT_TX_PACKETS: usize = 0;
const SLOT_TX_BYTES: usize = 1;
const SLOT_RX_PACKETS: usize = 2;
const SLOT_RX_BYTES: usize = 3;

fn global(name: &str) -> usize {
    rm::global_counter_index(name)
}

impl CardModel {
    pub fn new(params: &CoreParams) -> Self {
        CardModel {
            params: *params,
            node_id: rm::NODE_ID.reset,
            control: rm::CONTROL.reset,
            irq_latched: 0,
            irq_mask: rm::IRQ_MASK.reset,
            error: rm::ERROR.reset,
            map_key: 0,
            map_page: 0,
            map_attr: 0,
            db_addr: 0,
            tx_cache: MappingCacheModel::new(params.tx_cache_entries as usize),
            rx_cache: MappingCacheModel::new(params.rx_cache_entries as usize),
            doorbells: VecDeque::new(),
            miss_fifo: VecDeque::new(),
            notify: VecDeque::new(),
            global: vec![0; rm::GLOBAL_COUNTERS.len()],
            slots: vec![[0; 4]; params.counter_slots as usize],
            tx: None,
            parked: vec![None; params.miss_buffer_packets as usize],
            rx_resolves: VecDeque::new(),
        }
    }

    pub fn params(&self) -> &CoreParams {
        &self.params
    }

    fn rw_mask(reg: &Register) -> u32 {
        reg.fields.iter().fold(0, |m, f| m | f.mask())
    }

    fn irq_status(&self) -> u32 {
        let err = (self.error != 0) as u32;
        rm::IRQ_ERROR.put(self.irq_latched, err)
    }

    /// The interrupt line.
    pub fn irq(&self) -> bool {
        self.irq_status() & self.irq_mask != 0
    }

    fn count(&mut self, name: &str) {
        let i = global(name);
        self.global[i] = self.global[i].wrapping_add(1);
    }

    fn count_slot(&mut self, slot: u32, packets: usize, bytes: usize, length: u32) {
        if let Some(s) = self.slots.get_mut(slot as usize) {
            s[packets] = s[packets].wrapping_add(1);
            s[bytes] = s[bytes].wrapping_add(length);
        }
    }

    /// A record that finds the miss FIFO full (a host that resolves misses without popping
    /// their records) is not stored, raises nothing but ERROR.miss_overflow, and is not counted
    /// as a miss, as in the RTL.
    fn post_miss(&mut self, record: u32) {
        if self.miss_fifo.len() == self.params.miss_fifo_depth() as usize {
            self.error = rm::ERROR_MISS_OVERFLOW.put(self.error, 1);
            return;
        }
        self.miss_fifo.push_back(record);
        self.irq_latched = rm::IRQ_MISS.put(self.irq_latched, 1);
        self.count("misses");
    }

    fn status(&self) -> u32 {
        let parked = self.parked.iter().flatten().count() as u32;
        let mut s = rm::STATUS_TX_BUSY.put(0, self.tx.is_some() as u32);
        s = rm::STATUS_PARKED.put(s, parked);
        s = rm::STATUS_DB_USED.put(s, self.doorbells.len() as u32);
        s = rm::STATUS_MISS_USED.put(s, self.miss_fifo.len() as u32);
        rm::STATUS_NOTIFY_USED.put(s, self.notify.len() as u32)
    }

    /// A register read with its side effects (pops, read-and-clear).
    pub fn read(&mut self, addr: u32) -> u32 {
        let p = &self.params;
        match addr {
            a if a == rm::ID.offset => rm::MAGIC,
            a if a == rm::VERSION_REG.offset => rm::VERSION,
            a if a == rm::NODE_ID.offset => self.node_id,
            a if a == rm::CONTROL.offset => self.control,
            a if a == rm::STATUS.offset => self.status(),
            a if a == rm::PARAM0.offset => {
                let w = rm::PARAM0_TX_CACHE.put(0, p.tx_cache_entries);
                let w = rm::PARAM0_RX_CACHE.put(w, p.rx_cache_entries);
                let w = rm::PARAM0_SLOTS.put(w, p.counter_slots);
                rm::PARAM0_MISS_BUF.put(w, p.miss_buffer_packets)
            }
            a if a == rm::PARAM1.offset => {
                let w = rm::PARAM1_MAX_PAYLOAD.put(0, p.max_payload);
                let w = rm::PARAM1_LINE.put(w, p.line_bytes);
                rm::PARAM1_PAGE_SHIFT.put(w, PAGE_SHIFT)
            }
            a if a == rm::IRQ_STATUS.offset => self.irq_status(),
            a if a == rm::IRQ_MASK.offset => self.irq_mask,
            a if a == rm::ERROR.offset => self.error,
            a if a == rm::MISS_POP.offset => match self.miss_fifo.pop_front() {
                Some(r) => rm::POP_VALID.put(r, 1),
                None => 0,
            },
            a if a == rm::MAP_KEY.offset => self.map_key,
            a if a == rm::MAP_PAGE.offset => self.map_page,
            a if a == rm::MAP_ATTR.offset => self.map_attr,
            a if a == rm::DB_ADDR.offset => self.db_addr,
            a if a == rm::DB_STATUS.offset => {
                rm::DB_STATUS_FREE.put(0, DOORBELL_FIFO_DEPTH - self.doorbells.len() as u32)
            }
            a if a == rm::NOTIFY_NVA.offset => self.notify.front().map_or(0, |n| n.0),
            a if a == rm::NOTIFY_POP.offset => match self.notify.pop_front() {
                Some((_, meta)) => rm::POP_VALID.put(meta, 1),
                None => 0,
            },
            a if (rm::GLOBAL_COUNTER_BASE..rm::SLOT_COUNTER_BASE).contains(&a) => {
                let i = ((a - rm::GLOBAL_COUNTER_BASE) / 4) as usize;
                match self.global.get_mut(i) {
                    Some(c) if a % 4 == 0 => std::mem::take(c),
                    _ => 0,
                }
            }
            a if a >= rm::SLOT_COUNTER_BASE && a % 4 == 0 => {
                let off = a - rm::SLOT_COUNTER_BASE;
                let slot = (off / rm::SLOT_COUNTER_STRIDE) as usize;
                let k = ((off % rm::SLOT_COUNTER_STRIDE) / 4) as usize;
                match self.slots.get_mut(slot) {
                    Some(s) => std::mem::take(&mut s[k]),
                    None => 0,
                }
            }
            _ => 0,
        }
    }

    /// A register write with its side effects.
    pub fn write(&mut self, addr: u32, value: u32) {
        let reg = rm::REGISTERS.iter().find(|r| r.offset == addr);
        let Some(reg) = reg else { return };
        if matches!(reg.access, Access::Ro | Access::Pop | Access::ReadClear) {
            return;
        }
        let v = value & Self::rw_mask(reg);
        match addr {
            a if a == rm::NODE_ID.offset => self.node_id = v,
            a if a == rm::CONTROL.offset => self.control = v,
            a if a == rm::IRQ_MASK.offset => self.irq_mask = v,
            a if a == rm::IRQ_ACK.offset => self.irq_latched &= !v,
            a if a == rm::ERROR.offset => self.error &= !v,
            a if a == rm::MISS_RESOLVE.offset => {
                let drop = rm::RESOLVE_DROP.get(v) != 0;
                if rm::RESOLVE_TX.get(v) != 0 {
                    self.resolve_tx(drop);
                } else {
                    self.rx_resolves.push_back((rm::RESOLVE_TAG.get(v), drop));
                }
            }
            a if a == rm::MAP_KEY.offset => self.map_key = v,
            a if a == rm::MAP_PAGE.offset => self.map_page = v,
            a if a == rm::MAP_ATTR.offset => self.map_attr = v & rm::MAP_ATTR.defined_mask(),
            a if a == rm::MAP_CMD.offset => {
                let m = Mapping::from_registers(self.map_page, self.map_attr);
                let cache = if rm::MAP_CMD_TX.get(v) != 0 {
                    &mut self.tx_cache
                } else {
                    &mut self.rx_cache
                };
                let key = rm::MAP_KEY_PAGE.get(self.map_key);
                cache.op(rm::MAP_CMD_OP.get(v), rm::MAP_CMD_SLOT.get(v), key, m);
            }
            a if a == rm::DB_ADDR.offset => self.db_addr = v,
            a if a == rm::DB_PUSH.offset => {
                if self.doorbells.len() >= DOORBELL_FIFO_DEPTH as usize {
                    self.error = rm::ERROR_DB_OVERFLOW.put(self.error, 1);
                } else {
                    self.doorbells.push_back(Descriptor {
                        addr: self.db_addr,
                        length: rm::DB_PUSH_LENGTH.get(v),
                        user: rm::DB_PUSH_USER.get(v) != 0,
                    });
                }
            }
            _ => {}
        }
    }

    fn resolve_tx(&mut self, drop: bool) {
        let Some(job) = self.tx.as_mut() else { return };
        if !job.blocked {
            return;
        }
        if drop {
            self.tx = None;
            self.count("drop_tx_cancel");
        } else {
            job.blocked = false;
        }
    }

    /// Whether the TX path can produce a packet now (a descriptor being sent and not blocked
    /// on a TX miss, or one waiting while `tx_enable` is set).
    pub fn has_tx_work(&self) -> bool {
        match &self.tx {
            Some(job) => !job.blocked,
            None => rm::CONTROL_TX_ENABLE.get(self.control) != 0 && !self.doorbells.is_empty(),
        }
    }

    /// Runs the TX path as far as it can go and returns the encoded packets in link order
    /// (see [`CardModel::next_tx_packet`]).
    pub fn tx_packets(&mut self, mem: &[u8]) -> Vec<Vec<u32>> {
        std::iter::from_fn(|| self.next_tx_packet(mem)).collect()
    }

    /// The next packet of the TX path, if it can send one now: takes descriptors (while
    /// `tx_enable`), splits them, looks the packet's page up, reads its payload from `mem` and
    /// counts it. A TX miss posts a record and stops until `MISS_RESOLVE` retries or cancels.
    pub fn next_tx_packet(&mut self, mem: &[u8]) -> Option<Vec<u32>> {
        loop {
            if self.tx.is_none() {
                if rm::CONTROL_TX_ENABLE.get(self.control) == 0 {
                    return None;
                }
                let d = self.doorbells.pop_front()?;
                if d.length == 0 {
                    self.error = rm::ERROR_BAD_DOORBELL.put(self.error, 1);
                    self.count("bad_doorbells");
                    continue;
                }
                self.tx = Some(TxJob {
                    user: d.user,
                    chunks: packet::split_message(d.addr, d.length, self.params.max_payload).into(),
                    blocked: false,
                });
            }
            let job = self.tx.as_mut().unwrap();
            if job.blocked {
                return None;
            }
            let Some(chunk) = job.chunks.front().copied() else {
                self.tx = None;
                continue;
            };
            let user = job.user;
            let phys_page = chunk.addr >> PAGE_SHIFT;
            let Some(m) = self.tx_cache.lookup(phys_page).found() else {
                job.blocked = true;
                let r = rm::MISS_PAGE.put(0, phys_page);
                self.post_miss(rm::MISS_DIR_TX.put(r, 1));
                return None;
            };
            job.chunks.pop_front();
            let header = Header {
                nva: (m.page << PAGE_SHIFT) | (chunk.addr & (PAGE_SIZE - 1)),
                length: chunk.length,
                first: chunk.first,
                last: chunk.last,
                user,
                src_node: rm::NODE_ID_ID.get(self.node_id) as u8,
                epoch: m.epoch as u8,
            };
            let payload: Vec<u8> = (0..chunk.length)
                .map(|i| {
                    mem.get(chunk.addr.wrapping_add(i) as usize)
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            self.count_slot(m.counter_slot, SLOT_TX_PACKETS, SLOT_TX_BYTES, chunk.length);
            return Some(packet::encode(&header, &payload));
        }
    }

    /// Runs the RX path for one packet (link words from start to end of packet).
    pub fn receive(&mut self, words: &[u32], mem: &mut [u8]) -> RxOutcome {
        let decoded = match packet::decode(words, &self.params) {
            Ok(d) => d,
            Err(_) => {
                self.count("drop_malformed");
                return RxOutcome::Malformed;
            }
        };
        if !decoded.crc_ok {
            self.count("drop_crc_epoch");
            return RxOutcome::CrcEpoch;
        }
        match self.rx_cache.lookup(decoded.header.nva_page()).found() {
            Some(m) => self.deliver(&decoded, m, mem),
            None => match self.parked.iter().position(Option::is_none) {
                Some(tag) => {
                    self.parked[tag] = Some(Parked { decoded });
                    self.post_rx_miss(tag as u32);
                    RxOutcome::Parked(tag as u32)
                }
                None => {
                    self.count("drop_miss_overflow");
                    RxOutcome::MissOverflow
                }
            },
        }
    }

    fn post_rx_miss(&mut self, tag: u32) {
        let page = self.parked[tag as usize]
            .as_ref()
            .unwrap()
            .decoded
            .header
            .nva_page();
        let r = rm::MISS_PAGE.put(0, page);
        self.post_miss(rm::MISS_TAG.put(r, tag));
    }

    fn deliver(&mut self, d: &packet::Decoded, m: Mapping, mem: &mut [u8]) -> RxOutcome {
        // The checks of a packet whose page hit are the RX model's (one model of them).
        let delivery = match rx::hit_checks(&d.header, d.payload.clone(), &m) {
            RxEvent::Delivered(delivery) => delivery,
            RxEvent::Dropped(RxDrop::CrcEpoch) => {
                self.count("drop_crc_epoch");
                return RxOutcome::CrcEpoch;
            }
            RxEvent::Dropped(RxDrop::Protection) => {
                self.count("drop_protection");
                return RxOutcome::Protection;
            }
            other => {
                unreachable!("hit_checks delivers or drops for epoch or protection: {other:?}")
            }
        };
        for (i, b) in delivery.payload.iter().enumerate() {
            if let Some(x) = mem.get_mut(delivery.addr as usize + i) {
                *x = *b;
            }
        }
        let h = &d.header;
        self.count_slot(m.counter_slot, SLOT_RX_PACKETS, SLOT_RX_BYTES, h.length);
        if delivery.notify {
            if self.notify.len() < NOTIFY_FIFO_DEPTH as usize {
                self.notify
                    .push_back((h.nva, rm::NOTIFY_LENGTH.put(0, h.length)));
                self.irq_latched = rm::IRQ_SIGNAL.put(self.irq_latched, 1);
            } else {
                self.count("notify_lost");
                self.error = rm::ERROR_NOTIFY_OVERFLOW.put(self.error, 1);
            }
        }
        RxOutcome::Delivered
    }

    /// Applies the RX resolves written to `MISS_RESOLVE` since the last call, in order: a retry
    /// looks the parked packet up again (same checks; a new miss if it misses again), a drop
    /// discards it. Returns each resolve's miss buffer and outcome; a resolve for an empty miss
    /// buffer is ignored.
    pub fn service(&mut self, mem: &mut [u8]) -> Vec<(u32, RxOutcome)> {
        let mut out = Vec::new();
        while let Some((tag, drop)) = self.rx_resolves.pop_front() {
            let Some(entry) = self.parked.get(tag as usize).and_then(|p| p.clone()) else {
                continue;
            };
            if drop {
                self.parked[tag as usize] = None;
                self.count("drop_miss_dropped");
                out.push((tag, RxOutcome::MissDropped));
                continue;
            }
            match self
                .rx_cache
                .lookup(entry.decoded.header.nva_page())
                .found()
            {
                Some(m) => {
                    self.parked[tag as usize] = None;
                    out.push((tag, self.deliver(&entry.decoded, m, mem)));
                }
                None => {
                    self.post_rx_miss(tag);
                    out.push((tag, RxOutcome::Parked(tag)));
                }
            }
        }
        out
    }

    /// Whether RX resolves wait for [`CardModel::service`].
    pub fn has_pending_resolves(&self) -> bool {
        !self.rx_resolves.is_empty()
    }
}
