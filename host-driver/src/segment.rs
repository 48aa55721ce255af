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

/// A reader's position in one writer's region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderCursor {
    /// The next sequence number this reader wants.
    pub next: u64,
    /// Messages skipped because the writer lapped this reader.
    pub lost: u64,
    /// Times a gap was reported.
    pub gaps: u64,
}

/// What [`ReaderCursor::poll`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub seq: u64,
    pub payload: Vec<u8>,
    /// Messages lost just before this one (0 if none).
    pub gap: u64,
}

impl ReaderCursor {
    pub fn new() -> Self {
        ReaderCursor {
            next: 1,
            lost: 0,
            gaps: 0,
        }
    }

    /// The next message of this writer's region, if one is complete; `slot(i)` returns a copy
    /// of slot `i`'s bytes. If the wanted message was overwritten, the oldest complete newer
    /// one is returned with the gap.
    pub fn poll(&mut self, slots: u32, mut slot: impl FnMut(u32) -> Vec<u8>) -> Option<Delivery> {
        let want = self.next;
        let here = ((want - 1) % slots as u64) as u32;
        // Only a slot of `want` that holds a newer message, or is being rewritten, can mean the
        // writer lapped this reader; an older message there means `want` has not arrived, and
        // nothing else need be read.
        let here_torn = match decode(&slot(here)) {
            SlotState::Message(seq, payload) if seq == want => {
                self.next = want + 1;
                return Some(Delivery {
                    seq,
                    payload,
                    gap: 0,
                });
            }
            SlotState::Message(seq, _) if seq > want => false,
            SlotState::Torn => true,
            SlotState::Message(..) | SlotState::Older(_) => return None,
        };
        // Lapped? The oldest complete message newer than `want` anywhere in the region.
        let (seq, payload) = oldest_newer(want, slots, &mut slot)?;
        // A torn slot of `want` may be `want` itself still arriving: lost only if a message a
        // whole lap newer has landed.
        if here_torn && seq < want + slots as u64 {
            return None;
        }
        Some(self.skip_to(seq, payload))
    }

    /// Gives up on the wanted message: returns the oldest complete newer message of the
    /// region, counting the ones before it as lost (a gap), or `None` when there is none.
    ///
    /// [`ReaderCursor::poll`] alone waits for a message whose packet was lost until the
    /// writer laps its slot, because a later message may legitimately land first (a packet
    /// parked on a receive miss is overtaken by mapped traffic). Call this only when nothing
    /// more can arrive for the reader — no packet in flight or parked on a miss — so that a
    /// missing message is known to be lost.
    pub fn skip_lost(
        &mut self,
        slots: u32,
        mut slot: impl FnMut(u32) -> Vec<u8>,
    ) -> Option<Delivery> {
        let (seq, payload) = oldest_newer(self.next, slots, &mut slot)?;
        Some(self.skip_to(seq, payload))
    }

    fn skip_to(&mut self, seq: u64, payload: Vec<u8>) -> Delivery {
        let gap = seq - self.next;
        if gap > 0 {
            self.lost += gap;
            self.gaps += 1;
        }
        self.next = seq + 1;
        Delivery { seq, payload, gap }
    }
}

/// Copies `buf.len()` bytes of a segment from byte offset `at` (a reader's own copy of the
/// segment, wherever it lives).
pub type SlotReader<'a> = &'a mut dyn FnMut(u32, &mut [u8]);

/// The next message of a reader with one cursor per writer region (regions in order), reading
/// the segment with `read`: [`ReaderCursor::poll`] on each region.
pub fn poll_regions(
    cursors: &mut [ReaderCursor],
    layout: Layout,
    read: SlotReader,
) -> Option<(usize, Delivery)> {
    scan_regions(cursors, layout, read, false)
}

/// [`ReaderCursor::skip_lost`] on each region in turn (same conditions: nothing can arrive).
pub fn skip_lost_regions(
    cursors: &mut [ReaderCursor],
    layout: Layout,
    read: SlotReader,
) -> Option<(usize, Delivery)> {
    scan_regions(cursors, layout, read, true)
}

fn scan_regions(
    cursors: &mut [ReaderCursor],
    layout: Layout,
    read: SlotReader,
    skip_lost: bool,
) -> Option<(usize, Delivery)> {
    for (region, cursor) in cursors.iter_mut().enumerate() {
        let slot = |i: u32| {
            let mut bytes = vec![0u8; layout.slot_bytes as usize];
            read(layout.slot_offset(region as u32, i as u64 + 1), &mut bytes);
            bytes
        };
        let got = if skip_lost {
            cursor.skip_lost(layout.slots, slot)
        } else {
            cursor.poll(layout.slots, slot)
        };
        if let Some(d) = got {
            return Some((region, d));
        }
    }
    None
}

/// The oldest complete message with a sequence number of `want` or more in a region.
fn oldest_newer(
    want: u64,
    slots: u32,
    slot: &mut impl FnMut(u32) -> Vec<u8>,
) -> Option<(u64, Vec<u8>)> {
    (0..slots)
        .filter_map(|i| match decode(&slot(i)) {
            SlotState::Message(seq, payload) if seq >= want => Some((seq, payload)),
            _ => None,
        })
        .min_by_key(|(seq, _)| *seq)
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

        fn poll(&self, c: &mut ReaderCursor) -> Option<Delivery> {
            let sb = self.layout.slot_bytes as usize;
            c.poll(self.layout.slots, |i| {
                self.reader[i as usize * sb..(i as usize + 1) * sb].to_vec()
            })
        }
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
        }

        /// Messages lost on the way (never written at the reader): polling alone stalls at
        /// the first one until the writer laps it; `skip_lost` at quiet moments skips exactly
        /// the lost ones, so the reader gets every message that arrived, in order.
        #[test]
        fn skip_lost_recovers_exactly_the_arrived_messages(
            fate in proptest::collection::vec(any::<bool>(), 1..40),
        ) {
            let layout = Layout::new(1024, 1, 64).unwrap();
            let size = (layout.slots * layout.slot_bytes) as usize;
            let mut p = Pair { layout, writer: vec![0; size], reader: vec![0; size], seq: 0 };
            let mut c = ReaderCursor::new();
            let mut got = vec![];
            for (i, &arrives) in fate.iter().enumerate() {
                p.send(&[i as u8; 9], if arrives { None } else { Some(0) });
                // A quiet moment after each message.
                while let Some(d) = p.poll(&mut c).or_else(|| {
                    let sb = layout.slot_bytes as usize;
                    c.skip_lost(layout.slots, |k| p.reader[k as usize * sb..][..sb].to_vec())
                }) {
                    prop_assert_eq!(&d.payload, &vec![d.seq as u8 - 1; 9]);
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
