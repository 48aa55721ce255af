//! Behaviour tests of the receive path (the depacketizer, RX MMU) against its reference model:
//! latencies, line rate with parked misses, retries preempted or held back, ring overrun
//! under memory back-pressure, the trace's one verdict per link packet, `parked`, random
//! traffic, and the generated Verilog replayed against the simulation.

mod common;

use common::phase::*;
use common::traffic::*;
use common::{Draw, Ev, Harness, Rng, PHYS_FIRST_PAGE};
use proptest::prelude::*;
use std::collections::HashMap;
use vassa_model::rx::{split_link_units, LinkWord, Mapping as RxMapping, RxDrop, RxEvent, RxModel};
use vassa_spec::packet::{decode, encode, packet_words, Header};
use vassa_spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use vassa_spec::trace::Verdict;

#[test]
fn generated_verilog_matches_the_simulation() {
    cross_check(CoreParams::default(), 99, 2, 0, 8);
    let odd = CoreParams {
        miss_buffer_packets: 3,
        max_payload: 40,
        line_bytes: 8,
        ..Default::default()
    };
    cross_check(odd, 7, 3, 25, 8);
    // Retries preempted by link lookups and held back by `lookup_hold`.
    let three = CoreParams {
        miss_buffer_packets: 3,
        ..Default::default()
    };
    let h = preempt_round(&three, 3, 20, true);
    h.b.replay_qualified("depacketizer_preempt", &[("mem_wr$data", "mem_wr$valid")]);
    println!(
        "preempted retries: {} cycles replayed on the Verilog, no difference ({} retries preempted)",
        h.b.cycle, h.retries_preempted
    );
}

/// Builds `count` back-to-back hit packets of `len` bytes at page offset `offset`.
fn hit_stream(page: u32, epoch: u8, len: u32, offset: u32, count: usize) -> Vec<u32> {
    let mut words = vec![];
    for k in 0..count {
        let payload: Vec<u8> = (0..len).map(|i| (i as usize * 3 + k * 7) as u8).collect();
        let off = (offset + k as u32 * 4 * len.div_ceil(4)) % (PAGE_SIZE - len);
        let h = Header {
            nva: (page << PAGE_SHIFT) | off,
            length: len,
            epoch,
            ..Default::default()
        };
        words.extend(encode(&h, &payload));
    }
    words
}

fn framed_stream(words: &[u32], len: u32) -> Vec<Option<LinkWord>> {
    let per = packet_words(len) as usize;
    words
        .chunks(per)
        .flat_map(|c| LinkWord::framed(c).into_iter().map(Some))
        .collect()
}

/// Sends back-to-back hit packets; returns (eop cycles, delivered cycles, overruns).
fn timed_hits(h: &mut Harness, words: &[u32], len: u32) -> (Vec<u64>, Vec<u64>, usize) {
    let from = h.log.len();
    let stream = framed_stream(words, len);
    let cycles = h.send(&stream);
    h.quiesce();
    let per = packet_words(len) as usize;
    let eops: Vec<u64> = cycles.chunks(per).map(|c| *c.last().unwrap()).collect();
    let del: Vec<u64> = h.log[from..]
        .iter()
        .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
        .map(|(c, _)| *c)
        .collect();
    let ovr = h.log[from..]
        .iter()
        .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
        .count();
    (eops, del, ovr)
}

fn park_misses(h: &mut Harness, count: usize) {
    for k in 0..count {
        let w = encode(
            &Header {
                nva: (NVA_MISSING + k as u32) << PAGE_SHIFT,
                length: 16,
                ..Default::default()
            },
            &[0xAB; 16],
        );
        h.send(
            &LinkWord::framed(&w)
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>(),
        );
    }
    h.quiesce();
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, count);
}

#[test]
fn latencies_and_hit_flow_while_misses_are_parked() {
    let params = CoreParams::default();
    let mut h = Harness::new(&params, 7, 0);
    let m = RxMapping {
        page: PHYS_FIRST_PAGE,
        writable: true,
        signal: true,
        counter_slot: 5,
        epoch: 3,
    };
    h.cache.insert(NVA_MAPPED, m);

    // Header word 0 to miss_valid.
    for len in [4u32, 64] {
        let w = encode(
            &Header {
                nva: (NVA_MISSING + 9) << PAGE_SHIFT,
                length: len,
                ..Default::default()
            },
            &vec![1; len as usize],
        );
        let from = h.log.len();
        let cycles = h.send(
            &LinkWord::framed(&w)
                .into_iter()
                .map(Some)
                .collect::<Vec<_>>(),
        );
        h.quiesce();
        let miss = h.log[from..]
            .iter()
            .find(|(_, e)| matches!(e, Ev::Miss { .. }))
            .unwrap()
            .0;
        println!(
            "header word 0 -> miss_valid, {len}-byte packet ({} words): {} cycles",
            w.len(),
            miss - cycles[0]
        );
        let tag = match h.log[from..]
            .iter()
            .find(|(_, e)| matches!(e, Ev::Miss { .. }))
        {
            Some((_, Ev::Miss { tag, .. })) => *tag,
            _ => unreachable!(),
        };
        h.cycle(None, Some((tag, true)));
        h.quiesce();
    }

    // End of packet to last write, one 64-byte packet.
    let w = hit_stream(NVA_MAPPED, 3, 64, 0, 1);
    let from = h.log.len();
    let (eops, del, _) = timed_hits(&mut h, &w, 64);
    println!(
        "eop -> last write beat, 64-byte aligned packet: {} cycles (delivered pulse {} cycles after eop)",
        h.last_write - eops[0],
        del[0] - eops[0]
    );
    assert_eq!(h.log.len() - from, 3); // verdict, delivered + notify

    // Back-to-back hits: no miss parked, then with the miss buffer full.
    for len in [64u32, 13, 256] {
        let words = hit_stream(NVA_MAPPED, 3, len, 1, 24);
        let (e0, d0, o0) = timed_hits(&mut h, &words, len);
        park_misses(&mut h, params.miss_buffer_packets as usize);
        let (e1, d1, o1) = timed_hits(&mut h, &words, len);
        assert_eq!((o0, o1), (0, 0), "overruns at line rate");
        assert_eq!((d0.len(), d1.len()), (24, 24));
        let lat0: Vec<u64> = e0.iter().zip(&d0).map(|(e, d)| d - e).collect();
        let lat1: Vec<u64> = e1.iter().zip(&d1).map(|(e, d)| d - e).collect();
        let stall: i64 = lat1
            .iter()
            .zip(&lat0)
            .map(|(a, b)| *a as i64 - *b as i64)
            .sum();
        println!(
            "{len}-byte hits back to back: eop -> delivered {:?}..{:?} cycles; stall cycles with {} misses parked: {stall}",
            lat0.iter().min().unwrap(),
            lat0.iter().max().unwrap(),
            params.miss_buffer_packets
        );
        assert_eq!(stall, 0);
        // Release the parked misses.
        for t in 0..h.n() as u8 {
            h.cycle(None, Some((t, true)));
        }
        h.quiesce();
        assert_eq!(h.b.uut.miss.parked.val().to_u32(), 0);
    }
}

#[test]
fn line_rate_with_full_miss_buffer() {
    for mbp in [1u32, 2] {
        for max_payload in [16u32, 256] {
            let params = CoreParams {
                miss_buffer_packets: mbp,
                max_payload,
                ..Default::default()
            };
            let mut h = Harness::new(&params, 11, 0);
            let m = RxMapping {
                page: PHYS_FIRST_PAGE + 1,
                writable: true,
                signal: false,
                counter_slot: 1,
                epoch: 9,
            };
            h.cache.insert(NVA_MAPPED, m);
            park_misses(&mut h, mbp as usize);
            let mut image = h.mem.clone();
            for len in [1u32, 2, 3, 4, 5, 7, 8, 15, 16, max_payload - 1, max_payload] {
                for offset in 0..4 {
                    let words = hit_stream(NVA_MAPPED, 9, len, offset, 12);
                    let (_, del, ovr) = timed_hits(&mut h, &words, len);
                    assert_eq!((ovr, del.len()), (0, 12), "len {len} offset {offset}");
                    for p in words.chunks(packet_words(len) as usize) {
                        let d = decode(p, &params).unwrap();
                        let off = (d.header.page_offset() + PAGE_SIZE) as usize;
                        image[off..off + len as usize].copy_from_slice(&d.payload);
                    }
                    assert!(h.mem == image, "len {len} offset {offset}");
                }
            }
        }
    }
}

#[test]
fn retry_while_hit_traffic_flows() {
    let params = CoreParams::default();
    let mut h = Harness::new(&params, 5, 0);
    let m = RxMapping {
        page: PHYS_FIRST_PAGE + 2,
        writable: true,
        signal: true,
        counter_slot: 2,
        epoch: 1,
    };
    h.cache.insert(NVA_MAPPED, m);
    park_misses(&mut h, 2);
    let tags: Vec<u8> = h
        .log
        .iter()
        .filter_map(|(_, e)| match e {
            Ev::Miss { tag, .. } => Some(*tag),
            _ => None,
        })
        .collect();
    // Map the missing pages, then resolve both in the middle of a stream of hits.
    for (k, page) in [NVA_MISSING, NVA_MISSING + 1].into_iter().enumerate() {
        h.cache.insert(
            page,
            RxMapping {
                page: PHYS_FIRST_PAGE + 3 + k as u32,
                writable: true,
                signal: false,
                counter_slot: 7,
                epoch: 0,
            },
        );
    }
    let from = h.log.len();
    let words = hit_stream(NVA_MAPPED, 1, 40, 2, 16);
    let stream = framed_stream(&words, 40);
    for (i, w) in stream.iter().enumerate() {
        let resolve = match i {
            30 => Some((tags[0], false)),
            31 => Some((tags[1], false)),
            _ => None,
        };
        h.cycle(*w, resolve);
    }
    h.quiesce();
    let del = h.log[from..]
        .iter()
        .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
        .count();
    let ovr = h.log[from..]
        .iter()
        .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
        .count();
    assert_eq!((del, ovr), (18, 0));
    assert_eq!(h.b.uut.miss.parked.val().to_u32(), 0);
    for k in 0..2usize {
        let base = ((PHYS_FIRST_PAGE + 3 + k as u32 - PHYS_FIRST_PAGE) << PAGE_SHIFT) as usize;
        assert_eq!(&h.mem[base..base + 16], &[0xAB; 16]);
    }
}

// ---- Receive ring: no loss at line rate ------------------------------------------------

/// A harness with NVA pages `NVA_MAPPED` and `NVA_MAPPED + 1` mapped (writable, epoch 4) and
/// `parked` packets parked in the miss buffer, with its model and memory image.
fn ring_setup(
    params: &CoreParams,
    seed: u64,
    parked: usize,
) -> (Harness, RxModel, HashMap<u64, u8>, Vec<u8>) {
    ring_setup_on(Harness::new(params, seed, 0), parked)
}

/// [`ring_setup`] on a harness already made (e.g. recording).
fn ring_setup_on(mut h: Harness, parked: usize) -> (Harness, RxModel, HashMap<u64, u8>, Vec<u8>) {
    let params = &h.params.clone();
    for k in 0..2 {
        h.cache.insert(
            NVA_MAPPED + k,
            RxMapping {
                page: PHYS_FIRST_PAGE + 1 + k,
                writable: true,
                signal: k == 0,
                counter_slot: (3 + k as u8).into(),
                epoch: 4,
            },
        );
    }
    let mut model = RxModel::new(params);
    let mut tags = HashMap::new();
    let mut image = h.mem.clone();
    if parked > 0 {
        let mut s = vec![];
        for k in 0..parked as u32 {
            let w = encode(
                &Header {
                    nva: (NVA_MISSING + k) << PAGE_SHIFT,
                    length: 16,
                    ..Default::default()
                },
                &[0xAB; 16],
            );
            s.extend(LinkWord::framed(&w).into_iter().map(Some));
        }
        run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
    }
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, parked);
    (h, model, tags, image)
}

/// Link words of back-to-back hit packets of `lens` bytes carrying one message from NVA
/// offset `offset` in page `NVA_MAPPED` on (a packet that would cross a page starts at
/// the next page).
fn message(lens: &[u32], offset: u32, seed: u8) -> Vec<Option<LinkWord>> {
    let mut nva = (NVA_MAPPED << PAGE_SHIFT) + offset;
    let mut s = vec![];
    for (i, &len) in lens.iter().enumerate() {
        if (nva & (PAGE_SIZE - 1)) + len > PAGE_SIZE {
            nva = (nva | (PAGE_SIZE - 1)) + 1;
        }
        let payload: Vec<u8> = (0..len)
            .map(|x| (x as u8).wrapping_mul(7) ^ (i as u8).wrapping_mul(29) ^ seed)
            .collect();
        let hd = Header {
            nva,
            length: len,
            epoch: 4,
            ..Default::default()
        };
        s.extend(
            LinkWord::framed(&encode(&hd, &payload))
                .into_iter()
                .map(Some),
        );
        nva += len;
    }
    s
}

/// Sends the packets back to back with memory always ready: none may be lost, every one
/// is delivered with its exact bytes (checked against the model by `run_burst`).
fn no_loss_at_line_rate(params: &CoreParams, parked: usize, lens: &[u32], offset: u32) {
    let (mut h, mut model, mut tags, mut image) = ring_setup(params, 3, parked);
    let from = h.log.len();
    let s = message(lens, offset, lens.len() as u8);
    let overruns = run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
    assert_eq!(overruns, 0, "{lens:?} with {parked} parked");
    let delivered = h.log[from..]
        .iter()
        .filter(|(_, e)| matches!(e, Ev::Delivered { .. }))
        .count();
    assert_eq!(delivered, lens.len(), "{lens:?} with {parked} parked");
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, parked);
}

/// Sends `stream` with a resolve (tag, model id) at some of its word indices, lets it drain
/// and checks the events against the model, in any order (retried packets are delivered
/// between ring packets as the writer takes them). The retried packets' pages must not
/// overlap the link packets' (the memory image is built in the model's order).
fn run_burst_resolving(
    h: &mut Harness,
    model: &mut RxModel,
    stream: &[Option<LinkWord>],
    resolves: &HashMap<usize, (u8, u64)>,
    tags: &HashMap<u64, u8>,
    image: &mut [u8],
) {
    let from = h.log.len();
    let words: Vec<LinkWord> = stream.iter().flatten().copied().collect();
    let (units, open) = split_link_units(&words);
    assert!(open.is_none(), "bursts end with a closed unit");
    let mut word_cycles = vec![];
    for (i, w) in stream.iter().enumerate() {
        if w.is_some() {
            word_cycles.push(h.b.cycle);
        }
        h.cycle(*w, resolves.get(&i).map(|&(tag, _)| (tag, false)));
    }
    h.quiesce();
    let (mut expected, _) = expect_link_units(h, model, &units, &word_cycles, from);
    let lookup = |p: u32| h.cache.get(&p).copied();
    let mut order: Vec<usize> = resolves.keys().copied().collect();
    order.sort();
    let mut want = vec![];
    for i in order {
        let (tag, id) = resolves[&i];
        let e = model.resolve(id, false, &lookup);
        want.extend(e.iter().map(|e| expect_resolve_trace(e, tag)));
        expected.extend(e);
    }
    for e in &expected {
        match e {
            RxEvent::Dropped(why) => want.push(Ev::Drop(*why)),
            RxEvent::Miss { id, page } => want.push(Ev::Miss {
                page: *page,
                tag: tags[id],
            }),
            RxEvent::Delivered(d) => {
                let (delivered, notify) = expect_delivery(d, image);
                want.push(delivered);
                want.extend(notify);
            }
        }
    }
    // Link verdicts were checked in order by `expect_link_units`.
    let mut got: Vec<Ev> = h.log[from..]
        .iter()
        .map(|(_, e)| e.clone())
        .filter(|e| !matches!(e, Ev::Verdict { link: true, .. }))
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "events");
    assert!(h.mem == image, "memory image differs from the model");
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, model.parked());
}

/// One round of retries racing link traffic: `miss_buffer_packets` (at most 3) packets are
/// parked, their pages installed (the last one sometimes not: its retry misses again, one
/// miss), then short hit packets come back to back, some preceded by a packet cut after 1
/// to 3 words (link lookups 1 to 3 cycles apart) or a one-word packet, while the host
/// resolves every parked packet at a random word. Retries are preempted when a start of
/// packet follows their issue; every packet must still be delivered exactly once, with
/// no miss but the expected ones (checked against the model).
fn preempt_round(params: &CoreParams, seed: u64, hold_pct: u64, record: bool) -> Harness {
    let n = params.miss_buffer_packets;
    assert!(n <= 3, "retried packets need their own physical pages");
    let mut h = Harness::new(params, seed, 0);
    if record {
        h.b.record();
    }
    h.hold_pct = hold_pct;
    let (mut h, mut model, tags, mut image) = ring_setup_on(h, n as usize);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let installs = if rng.chance(25) { n - 1 } else { n };
    for k in 0..installs {
        h.cache.insert(
            NVA_MISSING + k,
            RxMapping {
                page: PHYS_FIRST_PAGE + 3 + k,
                writable: true,
                signal: true,
                counter_slot: (10 + k as u8).into(),
                epoch: 0,
            },
        );
    }
    let lens: Vec<u32> = (0..24).map(|_| 1 + rng.below(12) as u32).collect();
    let words: Vec<Option<LinkWord>> =
        message(&lens, rng.below(PAGE_SIZE as u64) as u32, seed as u8);
    let mut s = vec![];
    for w in words {
        let w = w.unwrap();
        if w.sop {
            match rng.below(10) {
                0 => {
                    for i in 0..1 + rng.below(3) {
                        s.push(Some(LinkWord {
                            valid: true,
                            sop: i == 0,
                            eop: false,
                            data: if i == 0 {
                                NVA_MAPPED << PAGE_SHIFT
                            } else {
                                rng.next() as u32
                            },
                        }));
                    }
                }
                1 => s.push(Some(LinkWord {
                    valid: true,
                    sop: true,
                    eop: true,
                    data: rng.next() as u32,
                })),
                2 => s.extend((0..1 + rng.below(3)).map(|_| None)),
                _ => {}
            }
        }
        s.push(Some(w));
    }
    let mut resolves = HashMap::new();
    for (id, tag) in &tags {
        loop {
            let i = rng.below(s.len() as u64) as usize;
            if let std::collections::hash_map::Entry::Vacant(e) = resolves.entry(i) {
                e.insert((*tag, *id));
                break;
            }
        }
    }
    run_burst_resolving(&mut h, &mut model, &s, &resolves, &tags, &mut image);
    assert_eq!(model.parked() as u32, n - installs);
    h
}

#[test]
fn retries_preempted_by_back_to_back_packets() {
    let mut stats = [0u64; 5];
    for mbp in [1u32, 3] {
        let params = CoreParams {
            miss_buffer_packets: mbp,
            ..Default::default()
        };
        for seed in 0..30u64 {
            let hold_pct = [0, 10, 30][seed as usize % 3];
            let h = preempt_round(&params, seed + 100 * mbp as u64, hold_pct, false);
            for (k, v) in [
                h.retry_lookups,
                h.retries_preempted,
                h.links_preempted,
                h.hold_cycles,
                h.retries_withdrawn,
            ]
            .into_iter()
            .enumerate()
            {
                stats[k] += v;
            }
        }
    }
    println!(
        "retry lookups {}, retries preempted {}, link lookups preempted {}, hold cycles {}, \
         retries withdrawn {}",
        stats[0], stats[1], stats[2], stats[3], stats[4]
    );
    assert!(stats[1] >= 10, "too few preempted retries: {stats:?}");
    assert!(stats[2] >= 10, "too few preempted link lookups: {stats:?}");
    assert!(stats[4] >= 3, "too few withdrawn retries: {stats:?}");
}

#[test]
fn long_packet_then_short_ones_back_to_back_are_not_lost() {
    let params = CoreParams::default();
    // (a) Miss buffer full, a 951-byte message crossing a page boundary.
    no_loss_at_line_rate(&params, 2, &[256, 103, 256, 256, 80], PAGE_SIZE - 359);
    // (b) Miss buffer full, 256 + 160 + 45 bytes.
    no_loss_at_line_rate(&params, 2, &[256, 160, 45], 100);
    // (c) Nothing parked, one long packet then short ones.
    no_loss_at_line_rate(&params, 0, &[256, 52, 52, 52, 52, 52, 1, 13, 4, 52], 1);
    no_loss_at_line_rate(&params, 1, &[256, 256, 256, 1, 256, 2, 3, 256, 255], 3);
}

#[test]
fn memory_back_pressure_overruns_the_ring_and_is_counted() {
    let params = CoreParams::default();
    for (lens, min_overruns) in [
        // Long packets: the ring fills after four.
        (vec![256u32; 8], 3),
        // Tiny packets: the job queue (16 entries) fills first.
        (vec![4u32; 30], 10),
        (vec![256, 13, 1, 200, 256, 256, 64, 8, 256, 100], 1),
    ] {
        let (mut h, mut model, mut tags, mut image) = ring_setup(&params, 5, 2);
        h.hold_until = h.b.cycle + 800;
        let s = message(&lens, 0, 1);
        // The model is told which packets overran; everything else must match it, and the
        // harness checks every write lands in a writable mapped page.
        let overruns = run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
        println!(
            "{} packets with memory held: {overruns} overruns",
            lens.len()
        );
        assert!(overruns >= min_overruns, "{overruns} overruns for {lens:?}");
        // The ring works again afterwards.
        let s = message(&[256, 52, 52, 52, 52], 40, 2);
        assert_eq!(run_burst(&mut h, &mut model, &s, &mut tags, &mut image), 0);
    }
}

/// The trace's invariant on a stream of every framing case: one verdict per link packet, in
/// link order, none for a stray run, a cut packet or a one-word packet.
#[test]
fn trace_has_one_verdict_per_link_packet_in_link_order() {
    let (mut h, mut model, mut tags, mut image) = ring_setup(&CoreParams::default(), 4, 0);
    let w = |sop, eop, data| {
        Some(LinkWord {
            valid: true,
            sop,
            eop,
            data,
        })
    };
    let hit = message(&[8], 0, 1);
    let miss = encode(
        &Header {
            nva: NVA_MISSING << PAGE_SHIFT,
            length: 16,
            ..Default::default()
        },
        &[0xCD; 16],
    );
    // A stray run, a packet cut by the next start of packet, a one-word packet.
    let mut s = vec![w(false, false, 1), w(false, true, 2)];
    s.extend_from_slice(&hit[..3]);
    s.push(w(true, true, 3));
    // A two-word packet (a link packet, malformed), a miss, a hit, a hit cut short by its
    // end of packet (malformed), and a hit.
    s.extend([w(true, false, NVA_MAPPED << PAGE_SHIFT), w(false, true, 5)]);
    s.extend(LinkWord::framed(&miss).into_iter().map(Some));
    s.extend_from_slice(&hit);
    s.extend_from_slice(&hit[..hit.len() - 1]);
    s.last_mut().unwrap().as_mut().unwrap().eop = true;
    s.extend_from_slice(&hit);
    let from = h.log.len();
    run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
    use Verdict::*;
    assert_eq!(
        link_verdicts(&h, from),
        [Malformed, Parked, Accepted, Malformed, Accepted]
    );
    let malformed = h.log[from..]
        .iter()
        .filter(|(_, e)| *e == Ev::Drop(RxDrop::Malformed))
        .count();
    assert_eq!(malformed, 5, "three runs without a verdict, two verdicts");
}

/// STATUS.rx_parked counts a packet from its park verdict until its miss buffer is freed:
/// a retried packet while it waits for the writer (memory held) until written, else until
/// the drop at its retry or by the host.
#[test]
fn parked_counts_until_the_miss_buffer_is_freed() {
    for (mapping_epoch, host_drops) in [(0u8, false), (1, false), (0, true)] {
        let (mut h, _, tags, _) = ring_setup(&CoreParams::default(), 9, 1);
        let tag = tags[&0];
        h.cache.insert(
            NVA_MISSING,
            RxMapping {
                page: PHYS_FIRST_PAGE + 3,
                writable: true,
                signal: false,
                counter_slot: 7,
                epoch: mapping_epoch.into(),
            },
        );
        h.hold_until = h.b.cycle + 300;
        let from = h.log.len();
        h.cycle(None, Some((tag, host_drops)));
        let mut parked = vec![];
        while h.b.cycle < h.hold_until + 100 {
            parked.push((h.b.cycle, h.b.uut.miss.parked.val().to_u32()));
            h.cycle(None, None);
        }
        let at = |want: &dyn Fn(&Ev) -> bool| {
            h.log[from..].iter().find(|(_, e)| want(e)).map(|(c, _)| *c)
        };
        let verdict = at(&|e| matches!(e, Ev::Verdict { link: false, .. }));
        let freed = if host_drops {
            assert_eq!(verdict, None);
            at(&|e| *e == Ev::HostDrop { tag })
        } else if mapping_epoch != 0 {
            at(&|e| {
                matches!(
                    e,
                    Ev::Verdict {
                        code: Verdict::CrcEpoch,
                        ..
                    }
                )
            })
        } else {
            let written = at(&|e| matches!(e, Ev::Delivered { .. }));
            let waited = written.unwrap() - verdict.unwrap();
            assert!(waited > 200, "written {waited} cycles after its verdict");
            written
        };
        let freed = freed.expect("the packet's end");
        for (c, n) in parked {
            assert_eq!(n, (c < freed) as u32, "cycle {c}, freed in {freed}");
        }
    }
}

#[test]
fn random_traffic_short() {
    let (ovr, cycles) = run_traffic(CoreParams::default(), 1234, 3, 20, 6);
    println!("overruns {ovr}, cycles {cycles}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]
    #[test]
    fn back_to_back_hits_never_overrun_with_memory_ready(
        raw in proptest::collection::vec(1u32..=4096, 1..14),
        offset in 0u32..4096,
        max_payload in prop_oneof![Just(16u32), Just(64), Just(256)],
        mbp in 1u32..=3,
        park in any::<bool>(),
    ) {
        let params = CoreParams {
            miss_buffer_packets: mbp,
            max_payload,
            ..Default::default()
        };
        let lens: Vec<u32> = raw.iter().map(|l| 1 + (l - 1) % max_payload).collect();
        let parked = if park { mbp as usize } else { 0 };
        no_loss_at_line_rate(&params, parked, &lens, offset);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_traffic_matches_the_model(
        seed in any::<u64>(),
        mbp in 1u32..=3,
        line_log2 in 2u32..=7,
        max_payload in prop_oneof![Just(4u32), Just(16), Just(40), Just(64), Just(256)],
        stall in 0u64..=4,
        hold_pct in prop_oneof![Just(0u64), 1u64..=40],
    ) {
        let params = CoreParams {
            miss_buffer_packets: mbp,
            line_bytes: 1 << line_log2,
            max_payload,
            ..Default::default()
        };
        run_traffic(params, seed, stall, hold_pct, 10);
    }
}
