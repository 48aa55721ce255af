//! Memory-based messaging channels over a [`Driver`]: the API the rest of the stack uses; it
//! never touches a register.
//!
//! A channel is a segment of physical memory at the same size on every node that writes or
//! reads it, bound to a run of NVA pages the channel owns: each writer's segment pages are
//! TX-mapped to those NVA pages, each reader's RX-mapped from them (writable, signal-on-write)
//! and subscribed at the switch, so a writer's store into its own segment followed by a
//! doorbell lands in every reader's segment. Messages lie in slots ([`crate::segment`]): a
//! reader finds the next one, or the gap the writer left when it lapped a slow reader, without
//! any lock and without the writer ever waiting for a reader.
//!
//! A node that both writes and reads a channel (many-to-many) has two segments: the one it
//! reads, RX-mapped like every reader's, and a second one it writes and sends from, TX-mapped.
//! Its own packets come back through the switch into the first; in one shared segment such a
//! copy, late whenever it parks on an RX miss, overwrote the newer record the writer had
//! already staged in that slot, and the card then sent the old bytes under the new doorbell.
//!
//! Allocation: NVA pages are handed out in order from [`NVA_BASE_PAGE`]; each node's segment
//! pages in order from [`PHYS_BASE_PAGE`] of its memory. Every channel charges its own traffic
//! counter slot (channel index + 1; slot 0 is left to everything else) and maps with epoch
//! [`EPOCH`].

use crate::driver::{Attr, Driver, DriverError};
use crate::fabric::Fabric;
use crate::segment::{encode, poll_regions, skip_lost_regions, Delivery, Layout, LayoutError};
use crate::segment::{ReaderCursor, SlotReader};
use crate::view::{RegionInfo, SegmentInfo};
use serde::{Deserialize, Serialize};
use vassa_rtl::spec::packet::split_message;
use vassa_rtl::spec::params::{PAGE_SHIFT, PAGE_SIZE};

/// First NVA page handed to channels.
pub const NVA_BASE_PAGE: u32 = 0x1000;
/// First physical page of a node's memory used for segments (page 0 is left alone).
pub const PHYS_BASE_PAGE: u32 = 1;
/// The epoch channels map with.
pub const EPOCH: u8 = 1;
/// Cycles [`Channels::send`] waits for the writer's card before giving up.
pub const SEND_WAIT: u64 = 1_000_000;

/// Who may write and read a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One writer, one reader.
    Unicast,
    /// One writer, any readers (the switch copies each packet).
    Multicast,
    /// Any writers and readers; each writer owns a region of the segment.
    ManyToMany,
}

/// What to open.
#[derive(Debug, Clone)]
pub struct ChannelSpec {
    pub kind: Kind,
    pub writers: Vec<usize>,
    pub readers: Vec<usize>,
    /// Bytes of the segment (whole pages).
    pub segment_bytes: u32,
    /// Largest message in bytes.
    pub max_message: u32,
}

/// Why a channel cannot be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{kind:?} channel: {why}")]
    Shape { kind: Kind, why: String },
    #[error("segment of {0} bytes is not a whole number of pages")]
    SegmentNotPages(u32),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error("node {node}: its memory cannot hold another {bytes}-byte segment")]
    OutOfMemory { node: usize, bytes: u32 },
    #[error("message of {len} bytes is larger than the channel's {max}")]
    TooLong { len: usize, max: u32 },
    #[error("node {node} does not write this channel")]
    NotAWriter { node: usize },
    #[error("node {node} does not read this channel")]
    NotAReader { node: usize },
    #[error("node {node} neither writes nor reads this channel")]
    NotAMember { node: usize },
    #[error("node {node}: no message after waiting {waited} cycles")]
    Timeout { node: usize, waited: u64 },
    #[error("the doorbell FIFO of node {node} stayed full")]
    Busy { node: usize },
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// An open channel, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelId(pub usize);

/// Traffic of one reader of a channel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReaderStats {
    pub delivered: u64,
    /// Messages the reader never saw because a writer lapped it.
    pub lost: u64,
    /// Times a gap was reported.
    pub gaps: u64,
}

struct Open {
    spec: ChannelSpec,
    layout: Layout,
    /// Physical base address of the segment, per node (writers and readers): the one a
    /// reader reads, and the one a writer that does not read sends from.
    base: Vec<Option<u32>>,
    /// Per node: the segment a writer sends from (`base` unless the writer also reads).
    tx_base: Vec<Option<u32>>,
    /// First NVA page of the channel.
    nva: u32,
    /// Next sequence number per writer (by position in `spec.writers`).
    next_seq: Vec<u64>,
    /// Per writer, per slot: the count of packets its card must have sent on the channel's
    /// counter slot before the message in that slot may be overwritten (0: free).
    sent_mark: Vec<Vec<u64>>,
    counter_slot: u32,
    /// Per reader (by position in `spec.readers`), per writer region.
    cursors: Vec<Vec<ReaderCursor>>,
    sent: u64,
}

/// The channels of a network of cards, on top of its driver.
pub struct Channels<F: Fabric> {
    pub driver: Driver<F>,
    next_nva: u32,
    next_phys: Vec<u32>,
    open: Vec<Open>,
    /// Packets asked of each (node, counter slot) so far: TX completion is that slot's
    /// packet counter catching up (see [`Channels::send`]).
    asked: std::collections::HashMap<(usize, u32), u64>,
}

impl<F: Fabric> Channels<F> {
    /// The channels of `driver`'s cards. Turns the driver's prefault on: a channel's mappings
    /// go into free cache slots when it opens, so its first burst does not overflow a card's
    /// few miss buffers; mappings beyond the caches are learnt on misses.
    pub fn new(mut driver: Driver<F>) -> Self {
        driver.set_prefault(true);
        let nodes = driver.nodes();
        Channels {
            driver,
            next_nva: NVA_BASE_PAGE,
            next_phys: vec![PHYS_BASE_PAGE; nodes],
            open: Vec::new(),
            asked: Default::default(),
        }
    }

    /// Opens a channel: allocates its NVA pages and every member's segment, installs the
    /// mappings in the driver's tables (into free slots of the cards' caches at once, the rest on
    /// their first misses). Readers
    /// are notified of every packet written (signal-on-write).
    pub fn open(&mut self, spec: ChannelSpec) -> Result<ChannelId, ChannelError> {
        self.open_with_signal(spec, true)
    }

    /// [`Channels::open`], choosing whether readers' cards post a notification for every
    /// packet written (`signal`); without, readers find messages by polling.
    pub fn open_with_signal(
        &mut self,
        spec: ChannelSpec,
        signal: bool,
    ) -> Result<ChannelId, ChannelError> {
        check_shape(&spec)?;
        if spec.segment_bytes == 0 || !spec.segment_bytes.is_multiple_of(PAGE_SIZE) {
            return Err(ChannelError::SegmentNotPages(spec.segment_bytes));
        }
        let regions = spec.writers.len() as u32;
        let layout = Layout::new(spec.segment_bytes, regions, spec.max_message)?;
        let pages = spec.segment_bytes / PAGE_SIZE;
        let nodes = self.driver.nodes();
        let mut base = vec![None; nodes];
        let mut tx_base = vec![None; nodes];
        let mut next_phys = self.next_phys.clone();
        let mut alloc = |n: usize| {
            let first = next_phys[n];
            let end = (first + pages) as usize * PAGE_SIZE as usize;
            if end > self.driver.fabric().mem_size(n) {
                return Err(ChannelError::OutOfMemory {
                    node: n,
                    bytes: spec.segment_bytes,
                });
            }
            next_phys[n] = first + pages;
            Ok(Some(first << PAGE_SHIFT))
        };
        for &n in spec.writers.iter().chain(&spec.readers) {
            if base[n].is_none() {
                base[n] = alloc(n)?;
            }
        }
        for &w in &spec.writers {
            // A writer that reads gets a segment of its own to send from (module doc).
            tx_base[w] = if spec.readers.contains(&w) {
                alloc(w)?
            } else {
                base[w]
            };
        }
        let id = self.open.len();
        let nva = self.next_nva;
        let counter_slot = (id as u32 + 1) % self.driver.info(0).counter_slots;
        let attr = |writable, signal| Attr {
            writable,
            signal,
            counter_slot,
            epoch: EPOCH,
        };
        for p in 0..pages {
            for &w in &spec.writers {
                let phys = (tx_base[w].unwrap() >> PAGE_SHIFT) + p;
                self.driver.map_tx(w, phys, nva + p, attr(false, false))?;
            }
            for &r in &spec.readers {
                let phys = (base[r].unwrap() >> PAGE_SHIFT) + p;
                self.driver.map_rx(r, nva + p, phys, attr(true, signal))?;
            }
        }
        self.next_nva = nva + pages;
        self.next_phys = next_phys;
        self.open.push(Open {
            cursors: vec![vec![ReaderCursor::new(); regions as usize]; spec.readers.len()],
            next_seq: vec![1; spec.writers.len()],
            sent_mark: vec![vec![0; layout.slots as usize]; spec.writers.len()],
            counter_slot,
            spec,
            layout,
            base,
            tx_base,
            nva,
            sent: 0,
        });
        Ok(ChannelId(id))
    }

    /// Largest message of a channel.
    pub fn max_message(&self, ch: ChannelId) -> u32 {
        self.open[ch.0].layout.max_message()
    }

    /// Writes `payload` into the writer's segment and rings its doorbell. Never waits for a
    /// reader; waits only for the writer's own card (running the network, at most
    /// [`SEND_WAIT`] cycles, then [`ChannelError::Busy`]): until it has sent the message that
    /// last used the slot (see [`Channels::slot_free`]) and for room in its doorbell FIFO.
    /// Returns the message's sequence number.
    pub fn send(
        &mut self,
        ch: ChannelId,
        writer: usize,
        payload: &[u8],
    ) -> Result<u64, ChannelError> {
        let c = &self.open[ch.0];
        let region =
            index_of(&c.spec.writers, writer).ok_or(ChannelError::NotAWriter { node: writer })?;
        if payload.len() > c.layout.max_message() as usize {
            return Err(ChannelError::TooLong {
                len: payload.len(),
                max: c.layout.max_message(),
            });
        }
        let end = self.driver.fabric().cycle().saturating_add(SEND_WAIT);
        while !self.slot_free(ch, writer)? {
            if self.driver.fabric().cycle() >= end {
                return Err(ChannelError::Busy { node: writer });
            }
            self.driver.run(64);
        }
        let max_payload = self.driver.info(writer).max_payload;
        let Channels {
            driver,
            open,
            asked,
            ..
        } = self;
        let c = &mut open[ch.0];
        let seq = c.next_seq[region];
        let offset = c.layout.slot_offset(region as u32, seq);
        let slot_bytes = c.layout.slot_bytes as usize;
        let addr = c.tx_base[writer].unwrap() + offset;
        c.next_seq[region] += 1;
        c.sent += 1;
        let fabric = driver.fabric_mut();
        // Encoding in place saves a buffer and a copy per send; `encode` writes only the
        // record's bytes, as the copy did.
        let n = match fabric.mem_slice(writer) {
            Some(mem) => encode(&mut mem[addr as usize..][..slot_bytes], seq, payload),
            None => {
                let mut record = vec![0u8; slot_bytes];
                let n = encode(&mut record, seq, payload);
                fabric.mem_write(writer, addr, &record[..n]);
                n
            }
        };
        let asked = asked.entry((writer, c.counter_slot)).or_default();
        *asked += split_message(addr, n as u32, max_payload).len() as u64;
        c.sent_mark[region][((seq - 1) % c.layout.slots as u64) as usize] = *asked;
        if !driver.send_when_possible(writer, addr, n as u32, SEND_WAIT) {
            return Err(ChannelError::Busy { node: writer });
        }
        Ok(seq)
    }

    /// Whether `writer` may write its next message of `ch` now: the message that last used its
    /// slot has left the writer's card. The card reads a message from memory while it sends
    /// it, possibly long after the doorbell (behind other doorbells, or a TX miss), so a
    /// writer that wrote the slot earlier would send the new bytes under the old doorbell.
    /// The channel's TX packet counter on the writer's card is the completion count (the
    /// card counts a packet with its trailer); it is read only when the driver's totals are
    /// behind.
    pub fn slot_free(&mut self, ch: ChannelId, writer: usize) -> Result<bool, ChannelError> {
        let c = &self.open[ch.0];
        let region =
            index_of(&c.spec.writers, writer).ok_or(ChannelError::NotAWriter { node: writer })?;
        let seq = c.next_seq[region];
        let mark = c.sent_mark[region][((seq - 1) % c.layout.slots as u64) as usize];
        let slot = c.counter_slot;
        Ok(mark == 0 || self.driver.tx_packets_sent(writer, slot, mark) >= mark)
    }

    /// The next complete message for `reader`, from any writer, if one has arrived (does not
    /// advance time). A writer that lapped this reader shows as a [`Delivery::gap`].
    pub fn try_recv(
        &mut self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        self.next_for(ch, reader, poll_regions)
    }

    /// Like [`Channels::try_recv`], and when nothing else can arrive — the fabric is quiet
    /// and no interrupt is pending, so no packet is in flight or parked on a miss — gives up
    /// on the messages `reader` waits for: the oldest newer message that did arrive is
    /// returned with the missing ones as its gap. Without this a lost packet stalls the reader
    /// until the writer laps its slot. Returns `Ok(None)` while the fabric is busy.
    pub fn try_recv_skip_lost(
        &mut self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        if let Some(d) = self.try_recv(ch, reader)? {
            return Ok(Some(d));
        }
        if !self.settled() {
            return Ok(None);
        }
        self.next_for(ch, reader, skip_lost_regions)
    }

    /// The fabric is quiet and no interrupt is pending: nothing more can land anywhere until
    /// the host acts.
    pub fn settled(&self) -> bool {
        let f = self.driver.fabric();
        f.quiet() && (0..f.nodes()).all(|n| !f.irq(n))
    }

    /// Runs `scan` ([`poll_regions`] or [`skip_lost_regions`]) over `reader`'s cursors.
    fn next_for(
        &mut self,
        ch: ChannelId,
        reader: usize,
        scan: RegionScan,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        let Channels { driver, open, .. } = self;
        let c = &mut open[ch.0];
        let r =
            index_of(&c.spec.readers, reader).ok_or(ChannelError::NotAReader { node: reader })?;
        let base = c.base[reader].unwrap();
        let fabric = driver.fabric_mut();
        let mut read = |at: u32, buf: &mut [u8]| fabric.mem_read(reader, base + at, buf);
        let got = scan(&mut c.cursors[r], c.layout, &mut read);
        Ok(got.map(|(region, d)| (c.spec.writers[region], d)))
    }

    /// Waits (running the network, servicing interrupts) up to `limit` cycles for the next
    /// message for `reader`.
    pub fn recv(
        &mut self,
        ch: ChannelId,
        reader: usize,
        limit: u64,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        let end = self.driver.fabric().cycle().saturating_add(limit);
        loop {
            if let Some(d) = self.try_recv(ch, reader)? {
                return Ok(Some(d));
            }
            // Notifications say something landed; the slots say what.
            self.driver.take_notifications(reader);
            if self.driver.fabric().cycle() >= end {
                return Ok(None);
            }
            self.driver.run(64);
        }
    }

    /// What `reader` has received of channel `ch` so far.
    pub fn reader_stats(&self, ch: ChannelId, reader: usize) -> Option<ReaderStats> {
        let c = &self.open[ch.0];
        let r = index_of(&c.spec.readers, reader)?;
        Some(ReaderStats::of(&c.cursors[r]))
    }

    /// What channel `ch` was opened with.
    pub fn spec(&self, ch: ChannelId) -> &ChannelSpec {
        &self.open[ch.0].spec
    }

    /// Where `node`'s copy of channel `ch`'s segment lies, for another process to map it
    /// ([`crate::view::SegmentView`]).
    pub fn segment(&self, ch: ChannelId, node: usize) -> Result<SegmentInfo, ChannelError> {
        let c = &self.open[ch.0];
        let base =
            (c.base.get(node).copied().flatten()).ok_or(ChannelError::NotAMember { node })?;
        let region_bytes = c.layout.slots * c.layout.slot_bytes;
        Ok(SegmentInfo {
            channel: ch.0,
            kind: c.spec.kind,
            node,
            offset: base as u64,
            bytes: c.spec.segment_bytes,
            nva_page: c.nva,
            layout: c.layout,
            regions: (c.spec.writers.iter().enumerate())
                .map(|(i, &writer)| RegionInfo {
                    writer,
                    offset: i as u32 * region_bytes,
                    bytes: region_bytes,
                })
                .collect(),
            readers: c.spec.readers.clone(),
        })
    }

    /// Messages sent on `ch` by all its writers.
    pub fn sent(&self, ch: ChannelId) -> u64 {
        self.open[ch.0].sent
    }

    /// How `ch`'s segment is cut into slots.
    pub fn layout(&self, ch: ChannelId) -> Layout {
        self.open[ch.0].layout
    }

    /// The NVA pages `ch` owns.
    pub fn nva_pages(&self, ch: ChannelId) -> std::ops::Range<u32> {
        let c = &self.open[ch.0];
        c.nva..c.nva + c.spec.segment_bytes / PAGE_SIZE
    }

    /// Physical addresses of `ch`'s segment in `node`'s memory, if `node` writes or reads it:
    /// the one it reads if it reads (see [`Channels::tx_segment_range`]).
    pub fn segment_range(&self, ch: ChannelId, node: usize) -> Option<std::ops::Range<u32>> {
        let c = &self.open[ch.0];
        let base = (*c.base.get(node)?)?;
        Some(base..base + c.spec.segment_bytes)
    }

    /// Physical addresses of the segment `node` sends `ch`'s messages from, if it writes
    /// `ch`: its [`Channels::segment_range`] unless it reads `ch` too.
    pub fn tx_segment_range(&self, ch: ChannelId, node: usize) -> Option<std::ops::Range<u32>> {
        let c = &self.open[ch.0];
        let base = (*c.tx_base.get(node)?)?;
        Some(base..base + c.spec.segment_bytes)
    }

    /// Physical address of the slot record of message `seq` of `writer` (in the segment it
    /// sends from).
    pub fn slot_addr(&self, ch: ChannelId, writer: usize, seq: u64) -> Option<u32> {
        let c = &self.open[ch.0];
        let region = index_of(&c.spec.writers, writer)?;
        Some(c.tx_base[writer]? + c.layout.slot_offset(region as u32, seq))
    }

    /// Gives up on the message `reader` waits for from each writer, when a newer one is
    /// there: see [`ReaderCursor::skip_lost`] (call only when nothing is in flight, e.g.
    /// [`Channels::settled`]). Returns the first message found this way.
    pub fn skip_lost(
        &mut self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        self.next_for(ch, reader, skip_lost_regions)
    }
}

impl ReaderStats {
    /// The totals of a reader's cursors (one per writer region).
    pub fn of(cursors: &[ReaderCursor]) -> Self {
        cursors
            .iter()
            .fold(ReaderStats::default(), |s, k| ReaderStats {
                delivered: s.delivered + (k.next - 1 - k.lost),
                lost: s.lost + k.lost,
                gaps: s.gaps + k.gaps,
            })
    }
}

/// [`poll_regions`] or [`skip_lost_regions`].
type RegionScan = fn(&mut [ReaderCursor], Layout, SlotReader) -> Option<(usize, Delivery)>;

/// Position of `node` in a writer or reader list.
fn index_of(list: &[usize], node: usize) -> Option<usize> {
    list.iter().position(|&x| x == node)
}

fn check_shape(spec: &ChannelSpec) -> Result<(), ChannelError> {
    let bad = |why: &str| {
        Err(ChannelError::Shape {
            kind: spec.kind,
            why: why.to_string(),
        })
    };
    let (w, r) = (spec.writers.len(), spec.readers.len());
    match spec.kind {
        Kind::Unicast if w != 1 || r != 1 => bad("needs exactly one writer and one reader"),
        Kind::Multicast if w != 1 || r == 0 => bad("needs one writer and at least one reader"),
        Kind::ManyToMany if w == 0 || r == 0 => bad("needs writers and readers"),
        Kind::Unicast | Kind::Multicast if spec.readers.contains(&spec.writers[0]) => {
            bad("the writer cannot also read (use many_to_many)")
        }
        _ => {
            let mut seen = spec.writers.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != w {
                return bad("a writer is listed twice");
            }
            let mut seen = spec.readers.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != r {
                return bad("a reader is listed twice");
            }
            Ok(())
        }
    }
}
