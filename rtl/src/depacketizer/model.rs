//! Software reference model of the receive path: link framing ([`LinkWord`],
//! [`split_link_units`]) and the transaction-level [`RxModel`], which decides per packet what
//! the [`Depacketizer`](super::Depacketizer) must do (deliver, park, drop) without its timing.

use crate::spec::packet::{decode, epoch_seed, Header};
use crate::spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use crate::spec::trace::Verdict;

/// One word on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkWord {
    pub sop: bool,
    pub eop: bool,
    pub data: u32,
}

/// Link words as one well-framed packet (sop on the first, eop on the last).
pub fn framed(words: &[u32]) -> Vec<LinkWord> {
    let n = words.len();
    words
        .iter()
        .enumerate()
        .map(|(i, w)| LinkWord {
            sop: i == 0,
            eop: i + 1 == n,
            data: *w,
        })
        .collect()
}

/// A run of link words the receiver handles as one packet (see the module's framing rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkUnit {
    /// Index in the stream of the unit's first word.
    pub start: usize,
    pub words: Vec<u32>,
    /// Began with start of packet (took, or needed, a receive buffer).
    pub has_sop: bool,
    /// Ended by end of packet (else cut by the next start of packet, or still open).
    pub complete: bool,
}

impl LinkUnit {
    /// A link packet (`spec::trace`): begun by start of packet, ended by end of packet, at
    /// least two words. The depacketizer decides exactly one link verdict for each; cut runs,
    /// one-word runs and strays get none (they are counted malformed directly).
    pub fn is_link_packet(&self) -> bool {
        self.has_sop && self.complete && self.words.len() >= 2
    }
}

/// Splits a link word stream into units. A trailing open unit is returned with
/// `complete == false`: the receiver has not decided it yet.
pub fn split_link_units(stream: &[LinkWord]) -> (Vec<LinkUnit>, Option<LinkUnit>) {
    let mut done = Vec::new();
    let mut open: Option<LinkUnit> = None;
    for (i, w) in stream.iter().enumerate() {
        if w.sop {
            if let Some(u) = open.take() {
                done.push(u);
            }
            open = Some(LinkUnit {
                start: i,
                words: vec![],
                has_sop: true,
                complete: false,
            });
        } else if open.is_none() {
            open = Some(LinkUnit {
                start: i,
                words: vec![],
                has_sop: false,
                complete: false,
            });
        }
        let u = open.as_mut().unwrap();
        u.words.push(w.data);
        if w.eop {
            u.complete = true;
            done.push(open.take().unwrap());
        }
    }
    (done, open)
}

/// A translation as the RX mapping cache returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMapping {
    /// Physical page.
    pub page: u32,
    pub writable: bool,
    pub signal: bool,
    pub counter_slot: u8,
    pub epoch: u8,
}

/// Why a received packet was dropped (one `drop_*` pulse each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RxDrop {
    CrcEpoch,
    Protection,
    MissDropped,
    MissOverflow,
    Malformed,
    RxOverrun,
}

/// A packet written to memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RxDelivery {
    /// Physical byte address of payload byte 0.
    pub addr: u32,
    pub payload: Vec<u8>,
    pub nva: u32,
    pub counter_slot: u8,
    /// The mapping has `signal`: a notification accompanies the delivery.
    pub notify: bool,
}

/// What the receiver does with a packet (or a resolve).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RxEvent {
    Delivered(RxDelivery),
    Dropped(RxDrop),
    /// Miss posted (`miss_valid` with the NVA page); the packet is parked under `id`.
    Miss {
        id: u64,
        page: u32,
    },
}

impl RxEvent {
    /// The trace verdict that decides this event (`None` for a host drop, which is no verdict).
    pub fn verdict(&self) -> Option<Verdict> {
        Some(match self {
            RxEvent::Delivered(_) => Verdict::Accepted,
            RxEvent::Miss { .. } => Verdict::Parked,
            RxEvent::Dropped(why) => match why {
                RxDrop::CrcEpoch => Verdict::CrcEpoch,
                RxDrop::Protection => Verdict::Protection,
                RxDrop::MissDropped => return None,
                RxDrop::MissOverflow => Verdict::MissOverflow,
                RxDrop::Malformed => Verdict::Malformed,
                RxDrop::RxOverrun => Verdict::RxOverrun,
            },
        })
    }
}

#[derive(Debug, Clone)]
struct Parked {
    id: u64,
    header: Header,
    payload: Vec<u8>,
}

/// Transaction-level model of the depacketizer: verdicts per packet and the miss buffer.
/// Ring overrun depends on timing (memory back-pressure) and is an input.
#[derive(Debug, Clone)]
pub struct RxModel {
    pub params: CoreParams,
    parked: Vec<Parked>,
    next_id: u64,
}

impl RxModel {
    pub fn new(params: &CoreParams) -> Self {
        RxModel {
            params: *params,
            parked: Vec::new(),
            next_id: 0,
        }
    }

    /// Packets in the miss buffer.
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Ids of the parked packets, oldest first.
    pub fn parked_ids(&self) -> Vec<u64> {
        self.parked.iter().map(|p| p.id).collect()
    }

    /// The header of parked packet `id` (`None` if it is not parked).
    pub fn parked_header(&self, id: u64) -> Option<&Header> {
        self.parked.iter().find(|p| p.id == id).map(|p| &p.header)
    }

    /// The verdict for a finished unit. `overrun`: the packet went to the receive ring and some
    /// of its words found no room there (or its write job none in the job queue); it applies to
    /// a complete unit only (a cut packet is malformed). `lookup` answers the RX cache for an NVA page.
    pub fn receive(
        &mut self,
        unit: &LinkUnit,
        overrun: bool,
        lookup: &dyn Fn(u32) -> Option<RxMapping>,
    ) -> RxEvent {
        if unit.has_sop && overrun {
            return RxEvent::Dropped(RxDrop::RxOverrun);
        }
        if !unit.has_sop || !unit.complete {
            return RxEvent::Dropped(RxDrop::Malformed);
        }
        let d = match decode(&unit.words, &self.params) {
            Ok(d) => d,
            Err(_) => return RxEvent::Dropped(RxDrop::Malformed),
        };
        if !d.crc_ok {
            return RxEvent::Dropped(RxDrop::CrcEpoch);
        }
        match lookup(d.header.nva_page()) {
            None => {
                if self.parked.len() < self.params.miss_buffer_packets as usize {
                    let id = self.next_id;
                    self.next_id += 1;
                    self.parked.push(Parked {
                        id,
                        header: d.header,
                        payload: d.payload,
                    });
                    RxEvent::Miss {
                        id,
                        page: d.header.nva_page(),
                    }
                } else {
                    RxEvent::Dropped(RxDrop::MissOverflow)
                }
            }
            Some(m) => hit_checks(&d.header, d.payload, &m),
        }
    }

    /// A resolve for parked packet `id`: `None` if it is not parked (ignored).
    pub fn resolve(
        &mut self,
        id: u64,
        drop: bool,
        lookup: &dyn Fn(u32) -> Option<RxMapping>,
    ) -> Option<RxEvent> {
        let pos = self.parked.iter().position(|p| p.id == id)?;
        if drop {
            self.parked.remove(pos);
            return Some(RxEvent::Dropped(RxDrop::MissDropped));
        }
        let page = self.parked[pos].header.nva_page();
        match lookup(page) {
            None => Some(RxEvent::Miss { id, page }),
            Some(m) => {
                let p = self.parked.remove(pos);
                Some(hit_checks(&p.header, p.payload, &m))
            }
        }
    }
}

/// Checks of a packet whose page hit, in order: epoch, protection; else its delivery.
pub fn hit_checks(header: &Header, payload: Vec<u8>, m: &RxMapping) -> RxEvent {
    if header.epoch != m.epoch {
        return RxEvent::Dropped(RxDrop::CrcEpoch);
    }
    if !m.writable || header.page_offset() + header.length > PAGE_SIZE {
        return RxEvent::Dropped(RxDrop::Protection);
    }
    RxEvent::Delivered(RxDelivery {
        addr: (m.page << PAGE_SHIFT) | header.page_offset(),
        payload,
        nva: header.nva,
        counter_slot: m.counter_slot,
        notify: m.signal,
    })
}

/// The trailer a packet with these words (header and payload) must carry for `epoch`.
pub fn trailer_for(words: &[u32], epoch: u8) -> u32 {
    crate::spec::packet::raw_crc(words) ^ epoch_seed(epoch)
}
