//! A scenario's faults: the switch's fault hook (bit flips, drops, duplicates drawn at random),
//! the bad packets it injects, and the mapping evictions it forces.
//!
//! Every random choice is keyed by the copy's identity — the scenario's seed, the rule, the
//! sending node, the packet's number among that node's packets and the destination — not by
//! the order copies reach the switch, so both backends fault the same copies. A rule's window
//! (`start`, `stop`) applies to the cycle the packet's message was handed to the card (its
//! doorbell), which is the same on both backends while the writer does not wait for its card.

use super::traffic::mix;
use crate::scenario::{limits, CacheSide, InjectKind, LinkFault};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use vassa_driver::channel::EPOCH;
use vassa_driver::driver::Dir;
use vassa_sim::network::{Fate, InFlight};
use vassa_spec::packet::{encode, Header};
use vassa_spec::params::{PAGE_SHIFT, PAGE_SIZE};

/// What the fault hook did, shared between the hook (owned by the switch) and the runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultTally {
    /// Copies with flipped bits (delivered; the receiving card's checks see them).
    pub bit_flipped: u64,
    /// Copies dropped, by destination node.
    pub dropped_to: Vec<u64>,
    /// Copies delivered twice.
    pub duplicated: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Drop,
    Flip(u32),
    Duplicate,
}

/// One `[[faults.*]]` link rule, resolved to NVA pages and node ids.
#[derive(Debug, Clone)]
struct Rule {
    action: Action,
    probability: f64,
    pages: Option<Range<u32>>,
    node: Option<usize>,
    start: u64,
    stop: u64,
}

impl Rule {
    fn applies(&self, born: u64, copy: &InFlight) -> bool {
        let page = copy.words.first().map_or(0, |w| w.data >> PAGE_SHIFT);
        (self.start..self.stop).contains(&born)
            && self.node.is_none_or(|n| n == copy.dst)
            && self.pages.as_ref().is_none_or(|p| p.contains(&page))
    }
}

/// The switch's fault hook for a scenario.
pub struct LinkFaults {
    rules: Vec<Rule>,
    seed: u64,
    pub tally: Rc<RefCell<FaultTally>>,
}

/// A generator for one copy and one rule: the same copy gets the same draws on any backend.
fn copy_rng(seed: u64, rule: usize, copy: &InFlight) -> StdRng {
    let src = copy.src.map_or(u64::MAX, |s| s as u64);
    let key = mix(mix(seed, 0x6661_756c, rule as u64), src, copy.number);
    StdRng::seed_from_u64(mix(key, copy.dst as u64, 0x636f_7079))
}

impl LinkFaults {
    pub fn new(seed: u64, nodes: usize) -> Self {
        LinkFaults {
            rules: Vec::new(),
            seed,
            tally: Rc::new(RefCell::new(FaultTally {
                dropped_to: vec![0; nodes],
                ..FaultTally::default()
            })),
        }
    }

    /// Adds rules: `kind` is "drop", "bit_flip" or "duplicate"; `pages` resolves a rule's
    /// channel to its NVA pages, `node` its node name to an id.
    pub fn add(
        &mut self,
        kind: &str,
        faults: &[LinkFault],
        pages: impl Fn(&str) -> Range<u32>,
        node: impl Fn(&str) -> usize,
    ) {
        for f in faults {
            let action = match kind {
                "drop" => Action::Drop,
                "bit_flip" => Action::Flip(f.bits.unwrap_or(limits::FLIP_BITS_DEFAULT)),
                _ => Action::Duplicate,
            };
            self.rules.push(Rule {
                action,
                probability: f.probability,
                pages: f.channel.as_deref().map(&pages),
                node: f.node.as_deref().map(&node),
                start: f.start,
                stop: f.stop.unwrap_or(u64::MAX),
            });
        }
        // Drops first: a dropped copy is neither flipped nor duplicated.
        self.rules.sort_by_key(|r| match r.action {
            Action::Drop => 0,
            Action::Flip(_) => 1,
            Action::Duplicate => 2,
        });
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fate of one copy whose message was sent at cycle `born`: each rule that applies
    /// fires with its probability, drawn from the copy's identity.
    pub fn decide(&mut self, born: u64, copy: &mut InFlight) -> Fate {
        let mut fate = Fate::Deliver;
        for (i, r) in self.rules.iter().enumerate() {
            if !r.applies(born, copy) {
                continue;
            }
            let mut rng = copy_rng(self.seed, i, copy);
            if !rng.gen_bool(r.probability) {
                continue;
            }
            let mut t = self.tally.borrow_mut();
            match r.action {
                Action::Drop => {
                    t.dropped_to[copy.dst] += 1;
                    return Fate::Drop;
                }
                Action::Flip(bits) => {
                    flip_bits(&mut rng, copy, bits);
                    t.bit_flipped += 1;
                }
                Action::Duplicate if fate == Fate::Deliver => {
                    t.duplicated += 1;
                    fate = Fate::Duplicate;
                }
                Action::Duplicate => {}
            }
        }
        fate
    }
}

/// Flips `bits` distinct random bits among the copy's words.
fn flip_bits(rng: &mut StdRng, copy: &mut InFlight, bits: u32) {
    let total = copy.words.len() * 32;
    let mut chosen: Vec<usize> = Vec::new();
    while chosen.len() < (bits as usize).min(total) {
        let b = rng.gen_range(0..total);
        if !chosen.contains(&b) {
            chosen.push(b);
            copy.words[b / 32].data ^= 1 << (b % 32);
        }
    }
}

/// Source node id written into injected packets' headers (not a node of the scenario).
pub const INJECTED_SRC: u8 = 0xFF;
/// NVA page of `unmapped` injections: just below the pages channels are given.
pub const UNMAPPED_PAGE: u32 = vassa_driver::channel::NVA_BASE_PAGE - 1;

/// The link words of an injected bad packet. `page` is the first NVA page of the channel it
/// imitates (for the kinds that need one).
pub fn bad_packet(kind: InjectKind, page: Option<u32>) -> Vec<u32> {
    let page = page.unwrap_or(UNMAPPED_PAGE);
    let header = |offset: u32, length: u32, epoch: u8, page: u32| Header {
        nva: (page << PAGE_SHIFT) | offset,
        length,
        first: true,
        last: true,
        user: false,
        src_node: INJECTED_SRC,
        epoch,
    };
    let payload = |n: usize| {
        (0..n)
            .map(|i| (i as u8).wrapping_mul(37))
            .collect::<Vec<u8>>()
    };
    match kind {
        InjectKind::Corrupt => {
            let mut w = encode(&header(0, 16, EPOCH, page), &payload(16));
            // One payload bit: the trailer no longer matches.
            w[2] ^= 1;
            w
        }
        // Sealed (trailer and header) with an epoch the mapping does not have.
        InjectKind::StaleEpoch => encode(&header(0, 16, EPOCH ^ 1, page), &payload(16)),
        // Valid, but its bytes would run 8 past the end of the page.
        InjectKind::OutOfBounds => encode(&header(PAGE_SIZE - 8, 16, EPOCH, page), &payload(16)),
        InjectKind::Unmapped => encode(&header(0, 16, EPOCH, UNMAPPED_PAGE), &payload(16)),
        InjectKind::Malformed => {
            // A header announcing 64 bytes, cut after one payload word.
            let mut w = encode(&header(0, 64, EPOCH, page), &payload(64));
            w.truncate(3);
            w
        }
    }
}

/// One `[[faults.evict]]` entry, resolved: which cache keys of which node, and when.
#[derive(Debug, Clone)]
pub struct EvictPlan {
    pub node: usize,
    /// Keys to evict; `None`: everything cached on the sides in `sides`.
    pub keys: Option<Vec<(Dir, u32)>>,
    pub sides: Vec<Dir>,
    pub next_at: u64,
    pub every: Option<u64>,
}

impl EvictPlan {
    pub fn sides(side: CacheSide) -> Vec<Dir> {
        match side {
            CacheSide::Tx => vec![Dir::Tx],
            CacheSide::Rx => vec![Dir::Rx],
            CacheSide::Both => vec![Dir::Tx, Dir::Rx],
        }
    }

    /// Marks it done at `now`; returns whether it fires again.
    pub fn fired(&mut self, now: u64) -> bool {
        match self.every {
            Some(every) => {
                self.next_at = now + every;
                true
            }
            None => {
                self.next_at = u64::MAX;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vassa_sim::LinkWord;
    use vassa_spec::packet::decode;
    use vassa_spec::params::CoreParams;

    fn copy(page: u32, dst: usize) -> InFlight {
        numbered(page, dst, 0)
    }

    fn numbered(page: u32, dst: usize, number: u64) -> InFlight {
        InFlight {
            src: Some(0),
            number,
            dst,
            words: [page << PAGE_SHIFT, 0, 0, 0]
                .iter()
                .map(|&data| LinkWord {
                    valid: true,
                    data,
                    ..LinkWord::default()
                })
                .collect(),
        }
    }

    fn rule(p: f64, channel: Option<&str>, node: Option<&str>) -> LinkFault {
        LinkFault {
            probability: p,
            channel: channel.map(Into::into),
            node: node.map(Into::into),
            start: 10,
            stop: Some(20),
            bits: Some(3),
        }
    }

    #[test]
    fn rules_fire_only_on_their_channel_node_and_window_at_their_rate() {
        let mut f = LinkFaults::new(1, 3);
        let pages = |_: &str| 0x1000..0x1002;
        let node = |_: &str| 2;
        f.add("drop", &[rule(0.25, Some("c"), Some("b"))], pages, node);
        f.add("bit_flip", &[rule(1.0, None, None)], pages, node);
        // Outside the window, another page, another node: untouched.
        for (cycle, page, dst) in [(9, 0x1000, 2), (20, 0x1000, 2)] {
            let mut c = copy(page, dst);
            assert_eq!(f.decide(cycle, &mut c), Fate::Deliver);
            assert_eq!(c, copy(page, dst));
        }
        let mut c = copy(0x1002, 2);
        assert_eq!(f.decide(15, &mut c), Fate::Deliver);
        let flipped: u32 = c
            .words
            .iter()
            .zip(&copy(0x1002, 2).words)
            .map(|(a, b)| (a.data ^ b.data).count_ones())
            .sum();
        assert_eq!(flipped, 3);
        let drops = (0..4000)
            .filter(|&k| f.decide(15, &mut numbered(0x1001, 2, k)) == Fate::Drop)
            .count();
        assert!((800..1200).contains(&drops), "{drops} of 4000 at p = 0.25");
        let t = f.tally.borrow().clone();
        assert_eq!(t.dropped_to, vec![0, 0, drops as u64]);
        assert_eq!(t.bit_flipped, 1 + 4000 - drops as u64);
        // The same copy always meets the same fate, and the same flipped bits, whatever was
        // decided before it; another packet number is another draw.
        let fates = |f: &mut LinkFaults, order: &[u64]| -> Vec<(u64, Fate, Vec<u32>)> {
            let mut v: Vec<_> = order
                .iter()
                .map(|&k| {
                    let mut c = numbered(0x1001, 2, k);
                    let fate = f.decide(15, &mut c);
                    (k, fate, c.words.iter().map(|w| w.data).collect())
                })
                .collect();
            v.sort_by_key(|x| x.0);
            v
        };
        let forward: Vec<u64> = (0..200).collect();
        let backward: Vec<u64> = (0..200).rev().collect();
        assert_eq!(fates(&mut f, &forward), fates(&mut f, &backward));
    }

    #[test]
    fn bad_packets_fail_the_check_they_are_named_for() {
        let params = CoreParams::default();
        let d = |k| decode(&bad_packet(k, Some(0x1000)), &params);
        assert!(!d(InjectKind::Corrupt).unwrap().crc_ok);
        let stale = d(InjectKind::StaleEpoch).unwrap();
        assert!(stale.crc_ok && stale.header.epoch != EPOCH);
        let oob = d(InjectKind::OutOfBounds).unwrap().header;
        assert!(oob.page_offset() + oob.length > PAGE_SIZE);
        assert_eq!(
            d(InjectKind::Unmapped).unwrap().header.nva_page(),
            UNMAPPED_PAGE
        );
        assert!(d(InjectKind::Malformed).is_err());
    }
}
