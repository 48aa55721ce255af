//! How a channel's messages lie in its memory segment, and how a reader recognises a
//! complete, current message without any lock.
//!
//! A segment is split into one *region* per writer (one for unicast and multicast channels,
//! one per writer for many-to-many), and each region into `slots` equal *slots*; message
//! `seq` (1, 2, …) of a writer goes to slot `(seq - 1) % slots` of its region. A slot record:
//!
//! | bytes | field |
//! |---|---|
//! | 0..8 | `seq` (u64 LE), the begin stamp |
//! | 8..12 | payload length (u32 LE) |
//! | 12..16 | CRC-32 (ISO-HDLC) of the payload |
//! | 16..16+len | payload |
//! | next 8-aligned offset | `seq` again, the end stamp |
//!
//! The writer fills the record in its own copy of the segment and rings one doorbell for the
//! record's bytes; the card sends them as packets in order and the receiving card writes them
//! in order, so the end stamp lands last. A reader accepts a slot only when both stamps equal
//! the sequence number it looks for and the CRC matches: a message still arriving (end stamp
//! old), one overwritten by a later lap while being read (stamps differ), or a mix of two
//! messages (CRC) is never returned. The writer never waits: a reader that falls a lap or more
//! behind finds newer sequence numbers and reports the missing ones as a gap.
//!
//! A reader also sees a message of its writer complete while an older one is missing: the
//! older one was lost on the way, or one of its packets is parked on a receive miss at the
//! reader's card and will land later (the card writes the packets of one writer in order,
//! except those it parks). [`ReaderCursor::poll`] says so ([`Look::Stalled`]); the reader's
//! host then asks its card ([`crate::channel`]) and gives the message up
//! ([`ReaderCursor::give_up`]) once nothing is parked: one dropped packet costs one message.
//! Every message given up is classified by what its slot held: a newer record (begin stamp
//! above its sequence number) means the writer overwrote it ([`Skip::Lapped`]); anything else
//! means it never arrived whole ([`Skip::Missing`]).

use crc::{Crc, Table, CRC_32_ISO_HDLC};
use serde::{Deserialize, Serialize};

// Sixteen lanes (16 KiB of tables): with one lane the CRC was most of a send's host cost
// (BENCHMARKS.md, channels).
static CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);
/// Bytes before the payload: begin stamp, length, CRC.
pub const HEAD_BYTES: u32 = 16;
/// Bytes of the end stamp.
pub const TAIL_BYTES: u32 = 8;

/// The record size of a message of `len` payload bytes (end stamp 8-aligned).
pub fn record_bytes(len: u32) -> u32 {
    (HEAD_BYTES + len).next_multiple_of(8) + TAIL_BYTES
}

/// Where slots lie: `regions` regions of `slots` slots of `slot_bytes` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub regions: u32,
    pub slots: u32,
    pub slot_bytes: u32,
}

/// Why a layout cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("a channel needs at least one writer")]
    NoWriter,
    #[error("max message size must be at least 1 byte")]
    EmptyMessages,
    #[error("a slot of {0} bytes is not a multiple of 8 of at least {min}", min = record_bytes(1))]
    BadSlot(u32),
    #[error(
        "segment of {segment} bytes holds {slots} slot(s) of {slot} bytes per writer for \
         {writers} writer(s); at least 2 are needed (grow the segment or shrink max message)"
    )]
    TooSmall {
        segment: u32,
        slot: u32,
        writers: u32,
        slots: u32,
    },
}

impl Layout {
    /// The layout of a segment of `segment_bytes` shared by `writers` writers whose messages
    /// are at most `max_message` bytes. Each writer's region needs two slots at least, so
    /// the message being written never overwrites the one just sent.
    pub fn new(segment_bytes: u32, writers: u32, max_message: u32) -> Result<Self, LayoutError> {
        if writers == 0 {
            return Err(LayoutError::NoWriter);
        }
        if max_message == 0 {
            return Err(LayoutError::EmptyMessages);
        }
        let slot_bytes = record_bytes(max_message);
        let slots = segment_bytes / writers / slot_bytes;
        if slots < 2 {
            return Err(LayoutError::TooSmall {
                segment: segment_bytes,
                slot: slot_bytes,
                writers,
                slots,
            });
        }
        Ok(Layout {
            regions: writers,
            slots,
            slot_bytes,
        })
    }

    /// The layout with slots of exactly `slot_bytes` (a multiple of 8 holding at least one
    /// byte of payload), as a scenario file gives it.
    pub fn with_slot(
        segment_bytes: u32,
        writers: u32,
        slot_bytes: u32,
    ) -> Result<Self, LayoutError> {
        if slot_bytes < record_bytes(1) || !slot_bytes.is_multiple_of(8) {
            return Err(LayoutError::BadSlot(slot_bytes));
        }
        Self::new(segment_bytes, writers, slot_bytes - TAIL_BYTES - HEAD_BYTES)
    }

    /// Largest payload a slot holds.
    pub fn max_message(&self) -> u32 {
        self.slot_bytes - TAIL_BYTES - HEAD_BYTES
    }

    /// Byte offset in the segment of writer `region`'s slot for message `seq` (≥ 1).
    pub fn slot_offset(&self, region: u32, seq: u64) -> u32 {
        let slot = ((seq - 1) % self.slots as u64) as u32;
        (region * self.slots + slot) * self.slot_bytes
    }
}

/// Writes message `seq` into `slot` (the slot's bytes); returns the record length to send.
/// Panics if the payload does not fit: callers check against [`Layout::max_message`].
pub fn encode(slot: &mut [u8], seq: u64, payload: &[u8]) -> usize {
    let len = payload.len() as u32;
    let end = (HEAD_BYTES + len).next_multiple_of(8) as usize;
    let total = end + TAIL_BYTES as usize;
    assert!(
        total <= slot.len(),
        "message of {len} bytes does not fit its slot"
    );
    slot[0..8].copy_from_slice(&seq.to_le_bytes());
    slot[8..12].copy_from_slice(&len.to_le_bytes());
    slot[12..16].copy_from_slice(&CRC32.checksum(payload).to_le_bytes());
    slot[16..16 + payload.len()].copy_from_slice(payload);
    slot[16 + payload.len()..end].fill(0);
    slot[end..total].copy_from_slice(&seq.to_le_bytes());
    total
}

/// What a reader finds in a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotState {
    /// Never written, or still holding a message older than the one looked for.
    Older(u64),
    /// A complete, consistent message.
    Message(u64, Vec<u8>),
    /// Stamps disagree, length out of range or CRC wrong: being written or overwritten.
    Torn,
}

/// Reads one slot (a copy of its bytes).
pub fn decode(slot: &[u8]) -> SlotState {
    let u64_at = |at: usize| u64::from_le_bytes(slot[at..at + 8].try_into().unwrap());
    let u32_at = |at: usize| u32::from_le_bytes(slot[at..at + 4].try_into().unwrap());
    let begin = u64_at(0);
    let len = u32_at(8);
    let max = slot.len() as u32 - TAIL_BYTES - HEAD_BYTES;
    if len > max {
        return SlotState::Torn;
    }
    let end = (HEAD_BYTES + len).next_multiple_of(8) as usize;
    if u64_at(end) != begin {
        return SlotState::Torn;
    }
    let payload = &slot[16..16 + len as usize];
    if begin == 0 {
        return SlotState::Older(0);
    }
    if CRC32.checksum(payload) != u32_at(12) {
        return SlotState::Torn;
    }
    SlotState::Message(begin, payload.to_vec())
}

/// The begin stamp of a slot (its first 8 bytes).
pub fn begin_stamp(slot: &[u8]) -> u64 {
    u64::from_le_bytes(slot[..8].try_into().expect("a slot is at least 8 bytes"))
}

/// A reader's position in one writer's region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderCursor {
    /// The next sequence number this reader wants.
    pub next: u64,
    /// Messages given up (the sum of the gaps).
    pub lost: u64,
    /// Times a gap was reported.
    pub gaps: u64,
    /// Of the messages given up, those the writer had overwritten ([`Skip::Lapped`]).
    pub lapped: u64,
    /// Messages given up since the last delivery: reported as the next delivery's gap.
    pub unreported: Vec<(u64, Skip)>,
}

/// Why a reader gave a message up, as its slot showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// The slot held a newer record (or the start of one): the writer overwrote the message.
    Lapped,
    /// The message never arrived whole (a packet was lost on the way).
    Missing,
}

/// A message as a cursor returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub seq: u64,
    pub payload: Vec<u8>,
    /// Messages lost just before this one (0 if none).
    pub gap: u64,
    /// The messages of the gap, each with why it was given up (empty without a gap).
    pub skipped: Vec<(u64, Skip)>,
}

/// What a reader finds for one writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// The next message, or the oldest newer one after a lap (with the gap).
    Message(Delivery),
    /// Nothing new.
    Nothing,
    /// The wanted message is missing while a newer one of the writer is complete: give it up
    /// once nothing more can land ([`ReaderCursor::give_up`]).
    Stalled,
}

/// Copies the first `buf.len()` bytes of slot `i` of a writer's region into `buf`.
pub type SlotFn<'a> = dyn FnMut(u32, &mut [u8]) + 'a;

/// The begin stamp of slot `i`.
fn stamp_of(i: u32, slot: &mut SlotFn) -> u64 {
    let mut stamp = [0u8; 8];
    slot(i, &mut stamp);
    u64::from_le_bytes(stamp)
}

impl ReaderCursor {
    pub fn new() -> Self {
        ReaderCursor {
            next: 1,
            ..ReaderCursor::default()
        }
    }

    /// Looks at the writer's region (`slots` slots of `slot_bytes`; `slot(i, buf)` copies the
    /// first `buf.len()` bytes of slot `i`). A wanted message whose slot holds a newer record (or
    /// the start of one) was overwritten: the writer lapped this reader, so it is given up
    /// ([`Skip::Lapped`]) and the next one wanted. Then the wanted message complete: returned,
    /// with the messages given up since the last one as its gap. Missing while a newer
    /// message of the writer is complete: [`Look::Stalled`].
    pub fn poll(&mut self, slots: u32, slot_bytes: u32, slot: &mut SlotFn) -> Look {
        let mut bytes = vec![0u8; slot_bytes as usize];
        loop {
            let want = self.next;
            let here = slot_index(want, slots);
            slot(here, &mut bytes);
            match decode(&bytes) {
                SlotState::Message(seq, payload) if seq == want => {
                    self.next = want + 1;
                    let skipped = std::mem::take(&mut self.unreported);
                    let gap = skipped.len() as u64;
                    self.gaps += (gap > 0) as u64;
                    return Look::Message(Delivery {
                        seq,
                        payload,
                        gap,
                        skipped,
                    });
                }
                // Overwritten: gone for good. Only this message: a later one the writer has
                // not overwritten may still be on its way.
                _ if begin_stamp(&bytes) > want => self.skip(want, Skip::Lapped),
                _ => break,
            }
        }
        if oldest_newer(self.next + 1, slots, slot_bytes, slot).is_some() {
            Look::Stalled
        } else {
            Look::Nothing
        }
    }

    /// Gives up the wanted message and every other one missing before the oldest complete
    /// newer message, which is returned with the gap (`None` when there is none). Call it only
    /// when nothing more can land for them: a newer message of the writer is complete and the
    /// reader's card holds no parked packet. Each is classified by its slot.
    pub fn give_up(&mut self, slots: u32, slot_bytes: u32, slot: &mut SlotFn) -> Option<Delivery> {
        let (seq, _) = oldest_newer(self.next + 1, slots, slot_bytes, slot)?;
        for k in self.next..seq {
            let stamp = stamp_of(slot_index(k, slots), slot);
            self.skip(
                k,
                if stamp > k {
                    Skip::Lapped
                } else {
                    Skip::Missing
                },
            );
        }
        match self.poll(slots, slot_bytes, slot) {
            Look::Message(d) => Some(d),
            _ => None,
        }
    }

    fn skip(&mut self, seq: u64, why: Skip) {
        debug_assert_eq!(seq, self.next);
        self.next = seq + 1;
        self.lost += 1;
        self.lapped += (why == Skip::Lapped) as u64;
        self.unreported.push((seq, why));
    }
}

/// The slot of message `seq`.
fn slot_index(seq: u64, slots: u32) -> u32 {
    ((seq - 1) % slots as u64) as u32
}

/// Copies `buf.len()` bytes of a segment from byte offset `at` (a reader's own copy of the
/// segment, wherever it lives).
pub type SlotReader<'a> = &'a mut dyn FnMut(u32, &mut [u8]);

/// What a reader with one cursor per writer region (regions in order) finds, reading the
/// segment with `read`: the first region's message, else [`Look::Stalled`] with the stalled
/// regions, else nothing.
pub fn poll_regions(cursors: &mut [ReaderCursor], layout: Layout, read: SlotReader) -> RegionLook {
    let mut stalled = Vec::new();
    for (region, cursor) in cursors.iter_mut().enumerate() {
        let mut slot = region_slots(layout, region as u32, &mut *read);
        match cursor.poll(layout.slots, layout.slot_bytes, &mut slot) {
            Look::Message(d) => return RegionLook::Message(region, d),
            Look::Stalled => stalled.push(region),
            Look::Nothing => {}
        }
    }
    if stalled.is_empty() {
        RegionLook::Nothing
    } else {
        RegionLook::Stalled(stalled)
    }
}

/// What [`poll_regions`] finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionLook {
    Message(usize, Delivery),
    Nothing,
    /// These regions are stalled (and none had a message).
    Stalled(Vec<usize>),
}

/// [`ReaderCursor::give_up`] on the first of `regions` that has a newer message (same
/// conditions: nothing more can land).
pub fn give_up_regions(
    cursors: &mut [ReaderCursor],
    regions: &[usize],
    layout: Layout,
    read: SlotReader,
) -> Option<(usize, Delivery)> {
    regions.iter().find_map(|&region| {
        let mut slot = region_slots(layout, region as u32, &mut *read);
        let d = cursors[region].give_up(layout.slots, layout.slot_bytes, &mut slot)?;
        Some((region, d))
    })
}

/// Slot `i` of `region` as [`SlotFn`] wants it, over a segment reader.
fn region_slots<'a>(
    layout: Layout,
    region: u32,
    read: &'a mut dyn FnMut(u32, &mut [u8]),
) -> impl FnMut(u32, &mut [u8]) + 'a {
    move |i, buf| read(layout.slot_offset(region, i as u64 + 1), buf)
}

/// The oldest complete message with a sequence number of `want` or more in a region. Reads
/// only the begin stamps of slots that cannot hold one.
fn oldest_newer(
    want: u64,
    slots: u32,
    slot_bytes: u32,
    slot: &mut SlotFn,
) -> Option<(u64, Vec<u8>)> {
    let mut best: Option<(u64, Vec<u8>)> = None;
    let mut bytes = Vec::new();
    for i in 0..slots {
        let stamp = stamp_of(i, slot);
        if stamp < want || best.as_ref().is_some_and(|b| b.0 <= stamp) {
            continue;
        }
        bytes.resize(slot_bytes as usize, 0);
        slot(i, &mut bytes);
        if let SlotState::Message(seq, payload) = decode(&bytes) {
            if seq >= want {
                best = Some((seq, payload));
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout_and_records() {
        assert_eq!(record_bytes(1), 32);
        assert_eq!(record_bytes(64), 88);
        let l = Layout::new(4096, 1, 64).unwrap();
        assert_eq!((l.slots, l.slot_bytes, l.max_message()), (46, 88, 64));
        assert_eq!(l.slot_offset(0, 1), 0);
        assert_eq!(l.slot_offset(0, 47), 0);
        let m = Layout::new(8192, 2, 100).unwrap();
        assert_eq!(m.slot_offset(1, 1), m.slots * m.slot_bytes);
        assert!(matches!(
            Layout::new(100, 1, 64),
            Err(LayoutError::TooSmall { .. })
        ));
        assert_eq!(Layout::new(4096, 0, 8), Err(LayoutError::NoWriter));
        let s = Layout::with_slot(16384, 1, 4096).unwrap();
        assert_eq!((s.slots, s.slot_bytes, s.max_message()), (4, 4096, 4072));
        assert_eq!(
            Layout::with_slot(4096, 1, 20),
            Err(LayoutError::BadSlot(20))
        );
    }

    #[test]
    fn encode_then_decode() {
        let mut slot = vec![0u8; 88];
        assert_eq!(decode(&slot), SlotState::Older(0));
        let n = encode(&mut slot, 7, b"hello");
        assert_eq!(n, 32);
        assert_eq!(decode(&slot), SlotState::Message(7, b"hello".to_vec()));
        // The end stamp not yet there: torn.
        let mut partial = slot.clone();
        partial[24..32].fill(0);
        assert_eq!(decode(&partial), SlotState::Torn);
        // A payload byte from another message: CRC.
        let mut mixed = slot.clone();
        mixed[17] ^= 1;
        assert_eq!(decode(&mixed), SlotState::Torn);
    }

    /// A writer's region and a reader's copy of it; `arrive` copies a record's bytes in
    /// order, possibly only a prefix (still arriving).
    struct Pair {
        layout: Layout,
        writer: Vec<u8>,
        reader: Vec<u8>,
        seq: u64,
    }

    impl Pair {
        fn send(&mut self, payload: &[u8], arrived: Option<usize>) {
            self.seq += 1;
            let at = self.layout.slot_offset(0, self.seq) as usize;
            let sb = self.layout.slot_bytes as usize;
            let n = encode(&mut self.writer[at..at + sb], self.seq, payload);
            let n = arrived.map_or(n, |k| k.min(n));
            self.reader[at..at + n].copy_from_slice(&self.writer[at..at + n]);
        }

        fn slots(&self) -> impl FnMut(u32, &mut [u8]) + '_ {
            let sb = self.layout.slot_bytes as usize;
            move |i, buf| buf.copy_from_slice(&self.reader[i as usize * sb..][..buf.len()])
        }

        fn look(&self, c: &mut ReaderCursor) -> Look {
            c.poll(self.layout.slots, self.layout.slot_bytes, &mut self.slots())
        }

        fn poll(&self, c: &mut ReaderCursor) -> Option<Delivery> {
            match self.look(c) {
                Look::Message(d) => Some(d),
                _ => None,
            }
        }

        fn give_up(&self, c: &mut ReaderCursor) -> Option<Delivery> {
            c.give_up(self.layout.slots, self.layout.slot_bytes, &mut self.slots())
        }
    }

    /// A reader that sleeps while the writer goes round twice: one gap, every message of it
    /// classified as overwritten, and the newest lap delivered in order after it.
    #[test]
    fn a_lapped_reader_counts_the_overwritten_messages() {
        let layout = Layout::new(1024, 1, 64).unwrap();
        let size = (layout.slots * layout.slot_bytes) as usize;
        let mut p = Pair {
            layout,
            writer: vec![0; size],
            reader: vec![0; size],
            seq: 0,
        };
        let mut c = ReaderCursor::new();
        let total = 2 * layout.slots as u64 + 3;
        for i in 0..total {
            p.send(&[i as u8; 40], None);
        }
        let d = p.poll(&mut c).expect("the oldest message still there");
        let first = total - layout.slots as u64 + 1;
        assert_eq!((d.seq, d.gap), (first, first - 1));
        assert!(d.skipped.iter().all(|s| s.1 == Skip::Lapped));
        assert_eq!((c.lost, c.lapped, c.gaps), (first - 1, first - 1, 1));
        let rest: Vec<u64> = std::iter::from_fn(|| p.poll(&mut c))
            .map(|d| d.seq)
            .collect();
        assert_eq!(rest, (first + 1..=total).collect::<Vec<_>>());
        assert_eq!(p.look(&mut c), Look::Nothing);
    }

    proptest! {
        /// A reader polling at random moments gets messages in order, each exactly as sent,
        /// and counts exactly the ones it never got as lost; a message still arriving is
        /// never returned.
        #[test]
        fn reader_sees_order_gaps_and_never_a_torn_message(
            ops in proptest::collection::vec(
                (1usize..60, any::<u8>(), any::<bool>(), 0usize..4), 1..200),
        ) {
            let layout = Layout::new(512, 1, 64).unwrap();
            let size = (layout.slots * layout.slot_bytes) as usize;
            let mut p = Pair { layout, writer: vec![0; size], reader: vec![0; size], seq: 0 };
            let mut c = ReaderCursor::new();
            let mut sent: Vec<Vec<u8>> = vec![];
            let mut got: Vec<u64> = vec![];
            for (len, fill, partial, polls) in ops {
                let payload: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
                sent.push(payload.clone());
                p.send(&payload, partial.then_some(len / 2));
                for _ in 0..polls {
                    if let Some(d) = p.poll(&mut c) {
                        prop_assert_eq!(&d.payload, &sent[d.seq as usize - 1]);
                        if let Some(&last) = got.last() {
                            prop_assert_eq!(d.seq, last + 1 + d.gap);
                        } else {
                            prop_assert_eq!(d.seq, 1 + d.gap);
                        }
                        got.push(d.seq);
                    }
                }
                if partial {
                    // The rest of the record arrives.
                    let at = p.layout.slot_offset(0, p.seq) as usize;
                    let sb = p.layout.slot_bytes as usize;
                    p.reader[at..at + sb].copy_from_slice(&p.writer[at..at + sb]);
                }
            }
            let delivered = got.len() as u64;
            prop_assert_eq!(delivered + c.lost, got.last().copied().unwrap_or(0));
            // Every record arrives whole here: the only losses are laps.
            prop_assert_eq!(c.lapped, c.lost);
        }

        /// Messages lost on the way (never written at the reader): the reader stalls at the
        /// first one as soon as a newer one is complete, and giving up then (nothing is in
        /// flight here) skips exactly the lost ones, each classified missing; the reader gets
        /// every message that arrived, in order.
        #[test]
        fn giving_up_when_stalled_skips_exactly_the_lost_messages(
            fate in proptest::collection::vec(any::<bool>(), 1..40),
        ) {
            let layout = Layout::new(1024, 1, 64).unwrap();
            let size = (layout.slots * layout.slot_bytes) as usize;
            let mut p = Pair { layout, writer: vec![0; size], reader: vec![0; size], seq: 0 };
            let mut c = ReaderCursor::new();
            let mut got = vec![];
            for (i, &arrives) in fate.iter().enumerate() {
                p.send(&[i as u8; 9], if arrives { None } else { Some(0) });
                loop {
                    let d = match p.look(&mut c) {
                        Look::Message(d) => d,
                        Look::Stalled => p.give_up(&mut c).expect("a newer message is there"),
                        Look::Nothing => break,
                    };
                    prop_assert_eq!(&d.payload, &vec![d.seq as u8 - 1; 9]);
                    // A lost message whose slot a later arrived one took reads as lapped.
                    let slots = layout.slots as u64;
                    for &(k, why) in &d.skipped {
                        let taken = (k + slots..=p.seq)
                            .step_by(slots as usize)
                            .any(|j| fate[j as usize - 1]);
                        prop_assert_eq!(why, if taken { Skip::Lapped } else { Skip::Missing });
                    }
                    prop_assert_eq!(d.skipped.len() as u64, d.gap);
                    got.push(d.seq);
                }
            }
            // Lost messages after the last arrived one are not known yet.
            let last = fate.iter().rposition(|&a| a).map_or(0, |i| i + 1);
            let want: Vec<u64> = (1..=last as u64).filter(|&s| fate[s as usize - 1]).collect();
            prop_assert_eq!(&got, &want);
            prop_assert_eq!(c.lost, last as u64 - want.len() as u64);
        }
    }
}
