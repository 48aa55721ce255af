//! Random link traffic (hits, misses, malformed and stray runs) and host actions (resolves,
//! installs, drops), and the runs that check them against the model.

use super::phase::*;
use super::{Draw, Ev, Harness, Rng, PHYS_FIRST_PAGE, PHYS_PAGES};
use std::collections::HashMap;
use vassa_model::rx::{trailer_for, LinkWord, Mapping as RxMapping, RxModel};
use vassa_spec::packet::{encode, Header, H1_LENGTH};
use vassa_spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};

// ---- Traffic generation ----------------------------------------------------------------

/// NVA pages with mappings installed at the start, and pages that miss until the host
/// installs them.
pub const NVA_MAPPED: u32 = 0x12340;
pub const NVA_MISSING: u32 = 0x55500;

pub fn random_mapping(rng: &mut Rng, epoch: u8) -> RxMapping {
    RxMapping {
        page: PHYS_FIRST_PAGE + rng.below(PHYS_PAGES as u64) as u32,
        writable: !rng.chance(15),
        signal: rng.chance(50),
        counter_slot: (rng.below(64) as u8).into(),
        epoch: epoch.into(),
    }
}

/// A packet to `page` with random length/offset (in bounds unless `oob`).
pub fn packet(rng: &mut Rng, params: &CoreParams, page: u32, epoch: u8, oob: bool) -> Vec<u32> {
    let len = 1 + rng.below(params.max_payload as u64) as u32;
    let offset = if oob {
        PAGE_SIZE - len + 1 + rng.below(len as u64) as u32
    } else {
        rng.below((PAGE_SIZE - len + 1) as u64) as u32
    };
    let payload: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    let h = Header {
        nva: (page << PAGE_SHIFT) | offset,
        length: len,
        first: rng.chance(50),
        last: rng.chance(50),
        user: rng.chance(50),
        src_node: rng.next() as u8,
        epoch,
    };
    encode(&h, &payload)
}

/// One unit of traffic of a random kind, as link words.
pub fn random_unit(rng: &mut Rng, h: &Harness) -> Vec<LinkWord> {
    let params = &h.params;
    let mapped: Vec<(u32, RxMapping)> = h.cache.iter().map(|(k, m)| (*k, *m)).collect();
    let pick_mapped = |rng: &mut Rng| mapped[rng.below(mapped.len() as u64) as usize];
    let missing = NVA_MISSING + rng.below(4) as u32;
    let kind = rng.below(100);
    let mut words = match kind {
        0..=39 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch as u8, false)
        }
        40..=57 => {
            let e = rng.next() as u8;
            packet(rng, params, missing, e, false)
        }
        58..=62 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch as u8, true)
        }
        63..=67 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, (m.epoch as u8).wrapping_add(1), false)
        }
        68..=73 => {
            // A flipped bit anywhere.
            let (page, m) = pick_mapped(rng);
            let mut w = packet(rng, params, page, m.epoch as u8, false);
            let i = rng.below(w.len() as u64) as usize;
            w[i] ^= 1 << rng.below(32);
            w
        }
        74..=77 => {
            // Bad length field, trailer still right.
            let (page, m) = pick_mapped(rng);
            let mut w = packet(rng, params, page, m.epoch as u8, false);
            let bad = if rng.chance(50) {
                0
            } else {
                params.max_payload + 1 + rng.below(100) as u32
            };
            w[1] = H1_LENGTH.put(w[1], bad);
            let n = w.len();
            w[n - 1] = trailer_for(&w[..n - 1], m.epoch as u8);
            w
        }
        _ => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch as u8, false)
        }
    };
    let mut lw = LinkWord::framed(&words);
    match kind {
        78..=80 if words.len() > 1 => {
            // Truncated: eop early.
            let cut = 1 + rng.below(words.len() as u64 - 1) as usize;
            words.truncate(cut);
            lw = LinkWord::framed(&words);
        }
        81..=83 => {
            // One word too many.
            words.push(rng.next() as u32);
            lw = LinkWord::framed(&words);
        }
        84..=86 => lw[0].sop = false, // sop missing: a stray run
        87..=89 => {
            // sop again in the middle: the packet is cut, the rest starts a new one.
            let i = 1 + rng.below(lw.len() as u64 - 1) as usize;
            lw[i].sop = true;
        }
        90..=92 => {
            // eop missing: cut by the next packet.
            let n = lw.len();
            lw[n - 1].eop = false;
        }
        93..=95 => {
            lw = vec![LinkWord {
                valid: true,
                sop: true,
                eop: true,
                data: rng.next() as u32,
            }]
        }
        96..=99 => {
            // Words without sop between packets, ended by eop or cut by the next sop.
            let n = 1 + rng.below(3) as usize;
            let eop = kind < 98;
            lw = (0..n)
                .map(|i| LinkWord {
                    valid: true,
                    sop: false,
                    eop: eop && i + 1 == n,
                    data: rng.next() as u32,
                })
                .collect();
        }
        _ => {}
    }
    lw
}

/// A burst: units back to back or with idle gaps, closed by a well-formed packet.
pub fn random_burst(rng: &mut Rng, h: &Harness, units: usize) -> Vec<Option<LinkWord>> {
    let back_to_back = rng.chance(60);
    let mut s = vec![];
    for _ in 0..units {
        s.extend(random_unit(rng, h).into_iter().map(Some));
        if !back_to_back {
            for _ in 0..rng.below(6) {
                s.push(None);
            }
        }
    }
    let (page, m) = h.cache.iter().next().map(|(k, m)| (*k, *m)).unwrap();
    s.extend(
        LinkWord::framed(&packet(rng, &h.params, page, m.epoch as u8, false))
            .into_iter()
            .map(Some),
    );
    s
}

/// The host side after a burst: resolves parked packets in random ways.
pub fn host_phase(
    rng: &mut Rng,
    h: &mut Harness,
    model: &mut RxModel,
    tags: &mut HashMap<u64, u8>,
    image: &mut [u8],
    finish: bool,
) {
    let mut ids = model.parked_ids();
    while !ids.is_empty() {
        let id = ids.remove(rng.below(ids.len() as u64) as usize);
        let tag = tags[&id];
        let action = rng.below(100);
        if rng.chance(10) {
            // A resolve naming a buffer that is not waiting: ignored.
            let parked_tags: Vec<u8> = model.parked_ids().iter().map(|i| tags[i]).collect();
            let bogus = (0..16u8).find(|t| !parked_tags.contains(t)).unwrap();
            run_resolve(h, model, bogus, None, rng.chance(50), tags, image);
        }
        if action < 45 || (finish && action < 70) {
            // Install a mapping for the page (usually right, sometimes stale or read-only),
            // then retry.
            let page = h.log.iter().rev().find_map(|(_, e)| match e {
                Ev::Miss { page, tag: t } if *t == tag => Some(*page),
                _ => None,
            });
            let page = page.expect("miss record for a parked packet");
            let epoch = model.parked_header(id).unwrap().epoch;
            let epoch = if rng.chance(85) {
                epoch
            } else {
                epoch.wrapping_add(1)
            };
            let m = random_mapping(rng, epoch);
            h.cache.insert(page, m);
            run_resolve(h, model, tag, Some(id), false, tags, image);
        } else if finish || action < 70 {
            run_resolve(h, model, tag, Some(id), true, tags, image);
        } else if action < 85 {
            // Retry without installing: misses again unless another install covered it.
            run_resolve(h, model, tag, Some(id), false, tags, image);
        }
        if !finish {
            break;
        }
        if ids.is_empty() {
            ids = model.parked_ids();
        }
    }
}

pub fn setup_cache(rng: &mut Rng, h: &mut Harness) {
    for k in 0..6 {
        let epoch = rng.next() as u8;
        let m = random_mapping(rng, epoch);
        h.cache.insert(NVA_MAPPED + k, m);
    }
    // At least one writable mapping, so every burst has deliverable traffic.
    h.cache.get_mut(&NVA_MAPPED).unwrap().writable = true;
}

pub fn run_traffic(
    params: CoreParams,
    seed: u64,
    stall: u64,
    hold_pct: u64,
    bursts: usize,
) -> (usize, u64) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut h = Harness::new(&params, seed, stall);
    h.hold_pct = hold_pct;
    setup_cache(&mut rng, &mut h);
    let mut model = RxModel::new(&params);
    let mut tags = HashMap::new();
    let mut image = h.mem.clone();
    let mut overruns = 0;
    for _ in 0..bursts {
        let units = 2 + rng.below(9) as usize;
        let s = random_burst(&mut rng, &h, units);
        overruns += run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, false);
    }
    host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, true);
    assert_eq!(model.parked(), 0);
    assert_eq!(h.busy_count(), 0);
    assert!(h.mem == image);
    let mut stats: std::collections::BTreeMap<String, usize> = Default::default();
    for (_, e) in &h.log {
        let k = match e {
            Ev::Drop(w) => format!("{w:?}"),
            Ev::Delivered { .. } => "Delivered".into(),
            Ev::Notify { .. } => "Notify".into(),
            Ev::Miss { .. } => "Miss".into(),
            Ev::Verdict { link, code, .. } => {
                format!("{} {code:?}", if *link { "link" } else { "retry" })
            }
            Ev::HostDrop { .. } => "HostDrop".into(),
        };
        *stats.entry(k).or_default() += 1;
    }
    println!(
        "{params:?} stall {stall}/8 hold {hold_pct}%: {} cycles, {} lookups, {} retries missed again, events {stats:?}",
        h.b.cycle, h.lookups, h.remisses
    );
    (overruns, h.b.cycle)
}

// ---- Verilog cross-check ---------------------------------------------------------------

/// Replays a random-traffic run of the Rust simulation on the generated Verilog with Icarus
/// Verilog; every output must match in every cycle.
pub fn cross_check(params: CoreParams, seed: u64, stall: u64, hold_pct: u64, bursts: usize) {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut h = Harness::new(&params, seed, stall);
    h.hold_pct = hold_pct;
    h.b.record();
    setup_cache(&mut rng, &mut h);
    let mut model = RxModel::new(&params);
    let mut tags = HashMap::new();
    let mut image = h.mem.clone();
    for _ in 0..bursts {
        let units = 2 + rng.below(9) as usize;
        let s = random_burst(&mut rng, &h, units);
        run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, false);
    }
    host_phase(&mut rng, &mut h, &mut model, &mut tags, &mut image, true);
    // The writer's data beside a low `wr_valid` may be a word read while it was written.
    h.b.replay_qualified(
        &format!("depacketizer_{seed}"),
        &[("mem_wr$data", "mem_wr$valid")],
    );
    println!(
        "{params:?}: {} cycles replayed on the Verilog, no difference",
        h.b.cycle
    );
}
