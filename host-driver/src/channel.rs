//! Memory-based messaging channels over the node drivers: the API the rest of the stack uses;
//! it never touches a register itself.
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
//!
//! The operations of one node's programs are async ([`ChannelOps`]): a writer waits only for
//! its own card, a reader looks at its segment and asks its own card before it gives a message
//! up, each on its own host, beside every other. [`Channels`] runs them one at a time as
//! blocking calls.
//!
//! Giving up: a reader that finds a newer message of a writer complete while an older one is
//! missing asks its card whether it holds a packet parked on a receive miss (`STATUS.rx_parked`,
//! which counts a parked packet until it is in memory or dropped). The card writes the packets
//! of one writer in the order they arrived except the ones it parks, so with nothing parked the
//! missing message will never come: the reader gives it up at once, and one packet dropped on
//! the way costs one message.

use crate::driver::{Attr, Driver, DriverError, NodeDriver, MAX_DOORBELL_LENGTH};
use crate::fabric::Fabric;
use crate::segment::{encode, give_up_regions, poll_regions, record_bytes, Delivery, Layout};
use crate::segment::{LayoutError, ReaderCursor, RegionLook};
use crate::view::{RegionInfo, SegmentInfo};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use vassa_spec::packet::message_chunks;
use vassa_spec::params::{PAGE_SHIFT, PAGE_SIZE};
use vassa_spec::regmap as rm;

/// First NVA page handed to channels.
pub const NVA_BASE_PAGE: u32 = 0x1000;
/// First physical page of a node's memory used for segments (page 0 is left alone).
pub const PHYS_BASE_PAGE: u32 = 1;
/// The epoch channels map with.
pub const EPOCH: u8 = 1;
/// Cycles [`Channels::send`] waits for the writer's card before giving up.
pub const SEND_WAIT: u64 = 1_000_000;
/// Cycles a writer waiting for its card pauses between two looks.
const WRITER_PAUSE: u64 = 64;

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
    #[error(
        "messages of {max} bytes need {record}-byte records, more than a doorbell carries ({} bytes)",
        MAX_DOORBELL_LENGTH
    )]
    RecordTooLong { max: u32, record: u32 },
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
    /// Messages the reader gave up (lost on the way, or overwritten before it read them).
    pub lost: u64,
    /// Times a gap was reported.
    pub gaps: u64,
    /// Of `lost`, the messages a writer had overwritten (the reader was lapped).
    pub lapped: u64,
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

/// Every channel of a network: their layouts, segments and the readers' positions.
#[derive(Default)]
struct Book {
    next_nva: u32,
    next_phys: Vec<u32>,
    open: Vec<Open>,
    /// Packets asked of each (node, counter slot) so far: TX completion is that slot's
    /// packet counter catching up (see [`ChannelOps::send`]).
    asked: HashMap<(usize, u32), u64>,
}

impl Book {
    fn channel(&self, ch: ChannelId) -> &Open {
        &self.open[ch.0]
    }

    fn writer_region(&self, ch: ChannelId, writer: usize) -> Result<usize, ChannelError> {
        index_of(&self.open[ch.0].spec.writers, writer)
            .ok_or(ChannelError::NotAWriter { node: writer })
    }

    fn reader_index(&self, ch: ChannelId, reader: usize) -> Result<usize, ChannelError> {
        index_of(&self.open[ch.0].spec.readers, reader)
            .ok_or(ChannelError::NotAReader { node: reader })
    }
}

/// Where a sent message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// Its sequence number among the writer's messages.
    pub seq: u64,
    /// Its doorbell's index among the doorbells of the writer's card (the card sends the
    /// packets of its doorbells in this order).
    pub doorbell: u64,
    /// Physical address and NVA of its record, and the record's length.
    pub addr: u32,
    pub nva: u32,
    pub length: u32,
}

/// The channel operations of every node's programs, async: each runs on its node's host (a
/// cheap handle; clone it into tasks).
pub struct ChannelOps<F: Fabric> {
    book: Rc<RefCell<Book>>,
    nodes: Vec<Rc<NodeDriver<F>>>,
}

impl<F: Fabric> Clone for ChannelOps<F> {
    fn clone(&self) -> Self {
        ChannelOps {
            book: Rc::clone(&self.book),
            nodes: self.nodes.clone(),
        }
    }
}

impl<F: Fabric> ChannelOps<F> {
    /// Node `node`'s driver.
    pub fn node(&self, node: usize) -> &Rc<NodeDriver<F>> {
        &self.nodes[node]
    }

    /// Writes `payload` into the writer's segment and rings its doorbell. Never waits for a
    /// reader; waits only for the writer's own card (at most [`SEND_WAIT`] cycles, then
    /// [`ChannelError::Busy`]): until it has sent the message that last used the slot (see
    /// [`ChannelOps::slot_free`]) and for room in its doorbell FIFO. Returns the message's
    /// sequence number.
    pub async fn send(
        &self,
        ch: ChannelId,
        writer: usize,
        payload: &[u8],
    ) -> Result<u64, ChannelError> {
        Ok(self.send_traced(ch, writer, payload).await?.seq)
    }

    /// [`ChannelOps::send`], saying where the message went.
    pub async fn send_traced(
        &self,
        ch: ChannelId,
        writer: usize,
        payload: &[u8],
    ) -> Result<Sent, ChannelError> {
        self.send_made(ch, writer, |_| payload).await
    }

    /// [`ChannelOps::send_traced`] of the payload `make` returns for the message's sequence
    /// number, called when the message takes its slot: writers that share a channel region
    /// (tasks of one node) can stamp their payloads with the number they get.
    pub async fn send_made<P: AsRef<[u8]>>(
        &self,
        ch: ChannelId,
        writer: usize,
        make: impl FnOnce(u64) -> P,
    ) -> Result<Sent, ChannelError> {
        let region = self.book.borrow().writer_region(ch, writer)?;
        let d = &self.nodes[writer];
        let host = d.host();
        let end = host.now().saturating_add(SEND_WAIT);
        let max_payload = d.info().max_payload;
        loop {
            if host.now() >= end {
                return Err(ChannelError::Busy { node: writer });
            }
            // Number the message and push its doorbell as one step: another task of this node
            // writing the same region would otherwise number a later message and get its
            // doorbell in first, and readers rely on a writer's messages leaving in order.
            let regs = d.lock_registers().await;
            if !self.slot_free(ch, writer).await? || d.doorbell_room_locked().await == 0 {
                // Wait for the card without holding its register lock.
                drop(regs);
                host.sleep(WRITER_PAUSE).await;
                continue;
            }
            let (seq, addr, n, nva) = {
                let mut guard = self.book.borrow_mut();
                let Book { open, asked, .. } = &mut *guard;
                let c = &mut open[ch.0];
                let seq = c.next_seq[region];
                let payload = make(seq);
                let payload = payload.as_ref();
                let max = c.layout.max_message();
                if payload.len() > max as usize {
                    return Err(ChannelError::TooLong {
                        len: payload.len(),
                        max,
                    });
                }
                let addr = c.tx_base[writer].unwrap() + c.layout.slot_offset(region as u32, seq);
                let slot_bytes = c.layout.slot_bytes as usize;
                c.next_seq[region] += 1;
                c.sent += 1;
                // Encoding in place saves a buffer and a copy per send; `encode` writes only
                // the record's bytes, as the copy did.
                let n = host.with_fabric(|f| match f.mem_slice(writer) {
                    Some(mem) => encode(&mut mem[addr as usize..][..slot_bytes], seq, payload),
                    None => {
                        let mut record = vec![0u8; slot_bytes];
                        let n = encode(&mut record, seq, payload);
                        f.mem_write(writer, addr, &record[..n]);
                        n
                    }
                });
                let asked = asked.entry((writer, c.counter_slot)).or_default();
                *asked += message_chunks(addr, n as u32, max_payload).count() as u64;
                c.sent_mark[region][((seq - 1) % c.layout.slots as u64) as usize] = *asked;
                let nva = (c.nva << PAGE_SHIFT) + (addr - c.tx_base[writer].unwrap());
                (seq, addr, n as u32, nva)
            };
            let doorbell = d.push_doorbell_locked(addr, n, false).await?;
            return Ok(Sent {
                seq,
                doorbell,
                addr,
                nva,
                length: n,
            });
        }
    }

    /// Whether `writer` may write its next message of `ch` now: the message that last used its
    /// slot has left the writer's card. The card reads a message from memory while it sends
    /// it, possibly long after the doorbell (behind other doorbells, or a TX miss), so a
    /// writer that wrote the slot earlier would send the new bytes under the old doorbell.
    /// The channel's TX packet counter on the writer's card is the completion count (the
    /// card counts a packet with its trailer); it is read only when the driver's totals are
    /// behind.
    pub async fn slot_free(&self, ch: ChannelId, writer: usize) -> Result<bool, ChannelError> {
        let (mark, slot) = {
            let b = self.book.borrow();
            let c = b.channel(ch);
            let region = b.writer_region(ch, writer)?;
            let seq = c.next_seq[region];
            let mark = c.sent_mark[region][((seq - 1) % c.layout.slots as u64) as usize];
            (mark, c.counter_slot)
        };
        Ok(mark == 0 || self.nodes[writer].tx_packets_sent(slot, mark).await >= mark)
    }

    /// Whether `writer`'s doorbell FIFO has room (asks its card when the driver's count ran
    /// out).
    pub async fn doorbell_room(&self, writer: usize) -> u32 {
        self.nodes[writer].doorbell_room().await
    }

    /// The next complete message for `reader`, from any writer, if one has arrived; a writer
    /// that lapped this reader shows as a gap. A writer whose next message is missing while a
    /// newer one is complete is given up only when the reader's card holds no parked packet
    /// (one register read; see the module doc). Does not wait otherwise.
    pub async fn next(
        &self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        match self.look(ch, reader)? {
            RegionLook::Message(w, d) => Ok(Some((w, d))),
            RegionLook::Nothing => Ok(None),
            RegionLook::Stalled(_) => {
                let status = self.nodes[reader].status().await;
                if rm::STATUS_PARKED.get(status) != 0 {
                    return Ok(None);
                }
                // Whatever was parked is in memory by now: look again before giving up.
                match self.look(ch, reader)? {
                    RegionLook::Message(w, d) => Ok(Some((w, d))),
                    RegionLook::Nothing => Ok(None),
                    RegionLook::Stalled(regions) => self.give_up(ch, reader, &regions),
                }
            }
        }
    }

    /// What `reader`'s segment holds for it now (no waiting, no register access).
    pub fn look(&self, ch: ChannelId, reader: usize) -> Result<RegionLook, ChannelError> {
        let mut guard = self.book.borrow_mut();
        let r = guard.reader_index(ch, reader)?;
        let c = &mut guard.open[ch.0];
        let base = c.base[reader].unwrap() as usize;
        let host = self.nodes[reader].host();
        // The reader's own memory: straight from the slice where the fabric has one.
        let found = host.with_fabric(|f| {
            let (cursors, layout) = (&mut c.cursors[r], c.layout);
            match f.mem_slice(reader) {
                Some(mem) => poll_regions(cursors, layout, &mut |at, buf| {
                    let at = base + at as usize;
                    buf.copy_from_slice(&mem[at..at + buf.len()])
                }),
                None => poll_regions(cursors, layout, &mut |at, buf| {
                    f.mem_read(reader, (base + at as usize) as u32, buf)
                }),
            }
        });
        Ok(match found {
            RegionLook::Message(region, d) => RegionLook::Message(c.spec.writers[region], d),
            other => other,
        })
    }

    /// Messages `reader` gave up that no delivery has reported yet (they come with the next
    /// message of their writer as its gap): (writer, sequence number, why), taken.
    pub fn take_unreported(
        &self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Vec<(usize, u64, crate::segment::Skip)>, ChannelError> {
        let mut guard = self.book.borrow_mut();
        let r = guard.reader_index(ch, reader)?;
        let c = &mut guard.open[ch.0];
        let writers = c.spec.writers.clone();
        Ok(c.cursors[r]
            .iter_mut()
            .zip(writers)
            .flat_map(|(cursor, w)| {
                std::mem::take(&mut cursor.unreported)
                    .into_iter()
                    .map(move |(seq, why)| (w, seq, why))
            })
            .collect())
    }

    /// Gives up the missing message of the first of `regions` (writer regions that
    /// [`ChannelOps::look`] found stalled): only when nothing more can land for it.
    pub fn give_up(
        &self,
        ch: ChannelId,
        reader: usize,
        regions: &[usize],
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        let mut guard = self.book.borrow_mut();
        let r = guard.reader_index(ch, reader)?;
        let c = &mut guard.open[ch.0];
        let base = c.base[reader].unwrap();
        let host = self.nodes[reader].host();
        let got = give_up_regions(&mut c.cursors[r], regions, c.layout, &mut |at, buf| {
            host.mem_read(base + at, buf)
        });
        Ok(got.map(|(region, d)| (c.spec.writers[region], d)))
    }
}

/// The channels of a network of cards, on top of its driver: every operation a blocking call
/// (it runs the world until done).
pub struct Channels<F: Fabric> {
    pub driver: Driver<F>,
    ops: ChannelOps<F>,
}

impl<F: Fabric> Channels<F> {
    /// The channels of `driver`'s cards. Turns the driver's prefault on: a channel's mappings
    /// go into free cache slots when it opens, so its first burst does not overflow a card's
    /// few miss buffers; mappings beyond the caches are learnt on misses.
    pub fn new(mut driver: Driver<F>) -> Self {
        driver.set_prefault(true);
        let nodes = driver.nodes();
        let book = Book {
            next_nva: NVA_BASE_PAGE,
            next_phys: vec![PHYS_BASE_PAGE; nodes],
            ..Book::default()
        };
        let ops = ChannelOps {
            book: Rc::new(RefCell::new(book)),
            nodes: (0..nodes).map(|n| Rc::clone(driver.node(n))).collect(),
        };
        Channels { driver, ops }
    }

    /// The async operations, for tasks of the driver's world.
    pub fn ops(&self) -> &ChannelOps<F> {
        &self.ops
    }

    /// Ends everything running on the cards' hosts and returns the fabric.
    pub fn into_fabric(self) -> F {
        let Channels { driver, ops } = self;
        drop(ops);
        driver.into_fabric()
    }

    /// Opens a channel: allocates its NVA pages and every member's segment, installs the
    /// mappings in the drivers' tables (into free slots of the cards' caches at once, the rest
    /// on their first misses). Readers are notified of every packet written (signal-on-write).
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
        let record = record_bytes(layout.max_message());
        if record > MAX_DOORBELL_LENGTH {
            return Err(ChannelError::RecordTooLong {
                max: layout.max_message(),
                record,
            });
        }
        let pages = spec.segment_bytes / PAGE_SIZE;
        let nodes = self.driver.nodes();
        let mut base = vec![None; nodes];
        let mut tx_base = vec![None; nodes];
        let mut next_phys = self.ops.book.borrow().next_phys.clone();
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
        let (id, nva) = {
            let b = self.ops.book.borrow();
            (b.open.len(), b.next_nva)
        };
        let counter_slot = (id as u32 + 1) % self.driver.info(0).counter_slots;
        let attr = |writable, signal| Attr {
            writable,
            signal,
            counter_slot,
            epoch: EPOCH,
        };
        let ops = &self.ops;
        self.driver.block_on(async {
            for p in 0..pages {
                for &w in &spec.writers {
                    let phys = (tx_base[w].unwrap() >> PAGE_SHIFT) + p;
                    ops.nodes[w]
                        .map_tx(phys, nva + p, attr(false, false))
                        .await?;
                }
                for &r in &spec.readers {
                    let phys = (base[r].unwrap() >> PAGE_SHIFT) + p;
                    ops.nodes[r]
                        .map_rx(nva + p, phys, attr(true, signal))
                        .await?;
                }
            }
            Ok::<(), DriverError>(())
        })?;
        let mut b = self.ops.book.borrow_mut();
        b.next_nva = nva + pages;
        b.next_phys = next_phys;
        b.open.push(Open {
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
        self.ops.book.borrow().channel(ch).layout.max_message()
    }

    /// [`ChannelOps::send`], run to completion.
    pub fn send(
        &mut self,
        ch: ChannelId,
        writer: usize,
        payload: &[u8],
    ) -> Result<u64, ChannelError> {
        self.driver.block_on(self.ops.send(ch, writer, payload))
    }

    /// [`ChannelOps::slot_free`], run to completion.
    pub fn slot_free(&mut self, ch: ChannelId, writer: usize) -> Result<bool, ChannelError> {
        self.driver.block_on(self.ops.slot_free(ch, writer))
    }

    /// The next complete message for `reader`, from any writer, if one has arrived (does not
    /// advance time). A writer that lapped this reader shows as a gap. A missing message that a
    /// newer one overtook is given up only when the network is settled
    /// ([`Channels::settled`]): nothing is in flight or parked.
    pub fn try_recv(
        &mut self,
        ch: ChannelId,
        reader: usize,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        match self.ops.look(ch, reader)? {
            RegionLook::Message(w, d) => Ok(Some((w, d))),
            RegionLook::Stalled(regions) if self.settled() => {
                self.ops.give_up(ch, reader, &regions)
            }
            _ => Ok(None),
        }
    }

    /// Nothing more can land anywhere until a host acts (see [`Driver::settled`]).
    pub fn settled(&self) -> bool {
        self.driver.settled()
    }

    /// Waits (the world runs) up to `limit` cycles for the next message for `reader`, looking
    /// at its segment every reader poll interval ([`ChannelOps::next`]).
    pub fn recv(
        &mut self,
        ch: ChannelId,
        reader: usize,
        limit: u64,
    ) -> Result<Option<(usize, Delivery)>, ChannelError> {
        let ops = &self.ops;
        let host = ops.nodes[reader].host().clone();
        let end = host.now().saturating_add(limit);
        self.driver.block_on(async move {
            loop {
                if let Some(d) = ops.next(ch, reader).await? {
                    return Ok(Some(d));
                }
                // Notifications say something landed; the slots say what.
                ops.nodes[reader].take_notifications();
                if host.now() >= end {
                    return Ok(None);
                }
                host.sleep(host.costs().reader_poll.min(end - host.now()).max(1))
                    .await;
            }
        })
    }

    /// The next sequence number `reader` wants from each writer of `ch` (writer order).
    pub fn reader_next(&self, ch: ChannelId, reader: usize) -> Vec<u64> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        index_of(&c.spec.readers, reader)
            .map(|r| c.cursors[r].iter().map(|k| k.next).collect())
            .unwrap_or_default()
    }

    /// What `reader` has received of channel `ch` so far.
    pub fn reader_stats(&self, ch: ChannelId, reader: usize) -> Option<ReaderStats> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        let r = index_of(&c.spec.readers, reader)?;
        Some(ReaderStats::of(&c.cursors[r]))
    }

    /// What channel `ch` was opened with.
    pub fn spec(&self, ch: ChannelId) -> ChannelSpec {
        self.ops.book.borrow().channel(ch).spec.clone()
    }

    /// Where `node`'s copy of channel `ch`'s segment lies, for another process to map it
    /// ([`crate::view::SegmentView`]).
    pub fn segment(&self, ch: ChannelId, node: usize) -> Result<SegmentInfo, ChannelError> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
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
        self.ops.book.borrow().channel(ch).sent
    }

    /// How `ch`'s segment is cut into slots.
    pub fn layout(&self, ch: ChannelId) -> Layout {
        self.ops.book.borrow().channel(ch).layout
    }

    /// The counter slot `ch` charges.
    pub fn counter_slot(&self, ch: ChannelId) -> u32 {
        self.ops.book.borrow().channel(ch).counter_slot
    }

    /// The NVA pages `ch` owns.
    pub fn nva_pages(&self, ch: ChannelId) -> std::ops::Range<u32> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        c.nva..c.nva + c.spec.segment_bytes / PAGE_SIZE
    }

    /// Physical addresses of `ch`'s segment in `node`'s memory, if `node` writes or reads it:
    /// the one it reads if it reads (see [`Channels::tx_segment_range`]).
    pub fn segment_range(&self, ch: ChannelId, node: usize) -> Option<std::ops::Range<u32>> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        let base = (*c.base.get(node)?)?;
        Some(base..base + c.spec.segment_bytes)
    }

    /// Physical addresses of the segment `node` sends `ch`'s messages from, if it writes
    /// `ch`: its [`Channels::segment_range`] unless it reads `ch` too.
    pub fn tx_segment_range(&self, ch: ChannelId, node: usize) -> Option<std::ops::Range<u32>> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        let base = (*c.tx_base.get(node)?)?;
        Some(base..base + c.spec.segment_bytes)
    }

    /// Physical address of the slot record of message `seq` of `writer` (in the segment it
    /// sends from).
    pub fn slot_addr(&self, ch: ChannelId, writer: usize, seq: u64) -> Option<u32> {
        let b = self.ops.book.borrow();
        let c = b.channel(ch);
        let region = index_of(&c.spec.writers, writer)?;
        Some(c.tx_base[writer]? + c.layout.slot_offset(region as u32, seq))
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
                lapped: s.lapped + k.lapped,
            })
    }
}

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
