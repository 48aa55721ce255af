//! The receive path without timing, the one reference for the RTL's RX MMU
//! (`vassa_rtl::depacketizer::Depacketizer`, whose tests run it beside the block) and for the
//! golden card ([`crate::card::CardModel`], which takes its checks from [`hit_checks`]): link
//! framing ([`split_link_units`]) and the transaction-level [`RxModel`], which decides per
//! packet what the receiver must do (deliver, park, drop).

pub use vassa_spec::link::LinkWord;
pub use vassa_spec::mapping::Mapping;
use vassa_spec::packet::{decode, epoch_seed, Header};
use vassa_spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use vassa_spec::trace::Verdict;

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
        lookup: &dyn Fn(u32) -> Option<Mapping>,
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
        lookup: &dyn Fn(u32) -> Option<Mapping>,
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
pub fn hit_checks(header: &Header, payload: Vec<u8>, m: &Mapping) -> RxEvent {
    if u32::from(header.epoch) != m.epoch {
        return RxEvent::Dropped(RxDrop::CrcEpoch);
    }
    if !m.writable || header.page_offset() + header.length > PAGE_SIZE {
        return RxEvent::Dropped(RxDrop::Protection);
    }
    RxEvent::Delivered(RxDelivery {
        addr: (m.page << PAGE_SHIFT) | header.page_offset(),
        payload,
        nva: header.nva,
        counter_slot: m.counter_slot as u8,
        notify: m.signal,
    })
}

/// The trailer a packet with these words (header and payload) must carry for `epoch`.
pub fn trailer_for(words: &[u32], epoch: u8) -> u32 {
    vassa_spec::packet::raw_crc(words) ^ epoch_seed(epoch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_split_and_model_basics() {
        let p = CoreParams::default();
        let w = |sop, eop, data| LinkWord {
            valid: true,
            sop,
            eop,
            data,
        };
        // stray word, a packet cut by a sop, a one-word packet, an open packet.
        let s = [
            w(false, false, 1),
            w(false, true, 2),
            w(true, false, 3),
            w(true, true, 4),
            w(true, false, 5),
        ];
        let (units, open) = split_link_units(&s);
        assert_eq!(units.len(), 3);
        assert!(!units[0].has_sop && units[0].complete);
        assert!(units[1].has_sop && !units[1].complete && units[1].words == vec![3]);
        assert!(units[2].has_sop && units[2].complete && units[2].start == 3);
        assert_eq!(open.unwrap().words, vec![5]);
        let mut m = RxModel::new(&p);
        let none = |_: u32| None;
        for u in &units {
            assert_eq!(
                m.receive(u, false, &none),
                RxEvent::Dropped(RxDrop::Malformed)
            );
        }
        assert_eq!(
            m.receive(&units[2], true, &none),
            RxEvent::Dropped(RxDrop::RxOverrun)
        );
    }
}
