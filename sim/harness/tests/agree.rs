//! The RTL and model backends run the same driver workload and must agree on everything but
//! timing; counters accumulate across polls; random page access patterns against a reference.
//!
//! To be timing-independent a workload sends one single-packet message at a time and lets the
//! fabric settle in between (a multi-packet message, or messages back to back, make the number
//! of misses depend on when the driver's installs land relative to packets in flight).

mod common;

use common::*;
use proptest::prelude::*;
use std::collections::BTreeMap;
use vassa_driver::{Driver, Fabric, MissStats, Notification};
use vassa_spec::params::{PAGE_SHIFT, PAGE_SIZE};

/// Pages with both mappings; pages `MAPPED..RX_UNMAPPED` are TX-mapped and subscribed at the
/// receiver without an RX mapping (dropped there); pages from `RX_UNMAPPED` have no TX mapping
/// (cancelled at the sender).
const MAPPED: u32 = 28;
const RX_UNMAPPED: u32 = 31;
const ALL: u32 = 33;

/// One message: page index, offset, length (a single packet within the page).
type Msg = (u32, u32, u32);

/// What a run left behind that does not depend on timing.
#[derive(Debug, PartialEq)]
struct Outcome {
    mems: Vec<Vec<u8>>,
    globals: Vec<Vec<u64>>,
    slots: Vec<Vec<[u64; 4]>>,
    stats: Vec<MissStats>,
    notifications: Vec<Notification>,
    polls_at_least_three: bool,
}

fn setup<F: Fabric>(fabric: F, poll_interval: u64) -> Driver<F> {
    let mut d = fast_driver(fabric, poll_interval);
    fill_sources(&mut d, ALL);
    map_pages(&mut d, 0..MAPPED);
    for i in MAPPED..RX_UNMAPPED {
        d.map_tx(SENDER, SRC_BASE + i, NVA_BASE + i, attr(i))
            .unwrap();
        d.fabric_mut().subscribe(NVA_BASE + i, RECEIVER);
    }
    // Every third page signals on write.
    for i in (0..MAPPED).step_by(3) {
        let a = vassa_driver::Attr {
            signal: true,
            ..attr(i)
        };
        d.map_rx(RECEIVER, NVA_BASE + i, DST_BASE + i, a).unwrap();
    }
    d
}

fn run<F: Fabric>(fabric: F, msgs: &[Msg], poll_interval: u64) -> Outcome {
    let mut d = setup(fabric, poll_interval);
    for &(i, off, len) in msgs {
        send(&mut d, i, off, len);
        settle(&mut d);
    }
    d.poll_counters();
    let mut stats: Vec<MissStats> = (0..2).map(|n| d.stats(n)).collect();
    // How many interrupts the work took depends on timing (causes may coincide).
    stats.iter_mut().for_each(|s| s.interrupts = 0);
    Outcome {
        mems: (0..2).map(|n| memory(&mut d, n)).collect(),
        globals: (0..2).map(|n| d.totals(n).global.clone()).collect(),
        slots: (0..2)
            .map(|n| d.totals(n).slots.iter().map(|s| s.counts).collect())
            .collect(),
        stats,
        notifications: d.take_notifications(RECEIVER),
        polls_at_least_three: d.polls() >= 3,
    }
}

/// What the receiver's memory must hold after `msgs`, and the per-slot bytes sent and
/// received.
fn reference(msgs: &[Msg]) -> (Vec<u8>, BTreeMap<u32, (u64, u64)>) {
    let mut mem = vec![0; MEM];
    let mut bytes = BTreeMap::new();
    for &(i, off, len) in msgs {
        if i >= RX_UNMAPPED {
            continue;
        }
        bytes.entry(slot_of(i)).or_insert((0, 0)).0 += len as u64;
        if i >= MAPPED {
            continue;
        }
        bytes.entry(slot_of(i)).or_insert((0, 0)).1 += len as u64;
        let src = pattern(PAGE_SIZE as usize, i + 1);
        let at = (((DST_BASE + i) << PAGE_SHIFT) + off) as usize;
        mem[at..at + len as usize].copy_from_slice(&src[off as usize..(off + len) as usize]);
    }
    (mem, bytes)
}

fn check_reference(o: &Outcome, msgs: &[Msg]) {
    let (mem, bytes) = reference(msgs);
    assert!(
        o.mems[RECEIVER] == mem,
        "receiver memory differs from the reference at {:?}",
        first_diff(&o.mems[RECEIVER], &mem)
    );
    for (slot, (tx, rx)) in bytes {
        assert_eq!(
            o.slots[SENDER][slot as usize][1], tx,
            "slot {slot} tx bytes"
        );
        assert_eq!(
            o.slots[RECEIVER][slot as usize][3], rx,
            "slot {slot} rx bytes"
        );
    }
    let sent = msgs.iter().filter(|m| m.0 < RX_UNMAPPED).count() as u64;
    let dropped = msgs
        .iter()
        .filter(|m| (MAPPED..RX_UNMAPPED).contains(&m.0))
        .count() as u64;
    let cancelled = msgs.iter().filter(|m| m.0 >= RX_UNMAPPED).count() as u64;
    let tx_packets: u64 = o.slots[SENDER].iter().map(|s| s[0]).sum();
    assert_eq!(tx_packets, sent);
    assert_eq!(o.stats[RECEIVER].rx_dropped, dropped);
    assert_eq!(o.stats[SENDER].tx_cancelled, cancelled);
    let signalled = msgs.iter().filter(|m| m.0 < MAPPED && m.0 % 3 == 0).count();
    assert_eq!(o.notifications.len(), signalled);
}

/// A deterministic mix: repeated pages (hits), a scan over more pages than cache entries
/// (misses and evictions), unmapped pages at either end.
fn mix(n: usize, seed: u64) -> Vec<Msg> {
    let mut x = seed;
    let mut next = move |m: u32| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((x >> 33) as u32) % m
    };
    (0..n)
        .map(|k| {
            let i = if k % 4 == 0 { next(ALL) } else { next(6) };
            let len = 1 + next(256);
            let off = next(PAGE_SIZE - len + 1);
            (i, off, len)
        })
        .collect()
}

#[test]
fn backends_agree() {
    let msgs = mix(160, 7);
    let rtl_out = run(rtl(2), &msgs, 1_000);
    let model_out = run(model(2), &msgs, 1_000);
    check_reference(&rtl_out, &msgs);
    // Compare field by field for readable failures; memories last (large).
    assert_eq!(rtl_out.stats, model_out.stats);
    assert_eq!(rtl_out.globals, model_out.globals);
    assert_eq!(rtl_out.slots, model_out.slots);
    assert_eq!(rtl_out.notifications, model_out.notifications);
    for n in 0..2 {
        assert!(
            rtl_out.mems[n] == model_out.mems[n],
            "node {n} memory differs at {:?}",
            first_diff(&rtl_out.mems[n], &model_out.mems[n])
        );
    }
    println!("misses: {:?}", rtl_out.stats);
    assert!(rtl_out.stats[RECEIVER].evictions > 0 && rtl_out.stats[SENDER].evictions > 0);
    assert!(rtl_out.polls_at_least_three && model_out.polls_at_least_three);
}

/// Counters are read and cleared many times while traffic runs (later rounds all hit and go
/// at line rate); the 64-bit totals equal what was sent, per counter slot, and the average
/// rates are totals over simulated time.
fn counters_accumulate<F: Fabric>(fabric: F) {
    let mut d = fast_driver(fabric, 300);
    fill_sources(&mut d, 8);
    map_pages(&mut d, 0..8);
    let mut sent = [0u64; (GROUPS + 1) as usize];
    let mut packets = [0u64; (GROUPS + 1) as usize];
    for round in 0..6u32 {
        for i in 0..8 {
            let len = 64 + 32 * ((i + round) % 7);
            send(&mut d, i, 256 * round, len);
            sent[slot_of(i) as usize] += len as u64;
            packets[slot_of(i) as usize] += 1;
            if round == 0 {
                // Every page misses once: one at a time (see `all_miss_line_rate_rtl`).
                settle(&mut d);
            }
        }
        settle(&mut d);
    }
    let before = d.polls();
    d.poll_counters();
    assert!(before >= 3, "only {before} polls");
    for g in 1..=GROUPS {
        let tx = d.slot_totals(SENDER, g);
        let rx = d.slot_totals(RECEIVER, g);
        assert_eq!(tx.tx_bytes(), sent[g as usize], "slot {g}");
        assert_eq!(tx.tx_packets(), packets[g as usize], "slot {g}");
        assert_eq!(rx.rx_bytes(), sent[g as usize], "slot {g}");
        assert_eq!(rx.rx_packets(), packets[g as usize], "slot {g}");
        let avg = d.average_rates(RECEIVER, g);
        let secs = (d.totals(RECEIVER).polled_at - d.totals(RECEIVER).since) as f64
            / d.config().clock_hz as f64;
        assert!((avg.rx_bytes_per_s * secs - sent[g as usize] as f64).abs() < 1e-3);
    }
    // Slots no mapping charges stay zero; so do the drop counters.
    assert_eq!(d.slot_totals(SENDER, 0).counts, [0; 4]);
    assert_eq!(d.totals(RECEIVER).dropped(), 0);
}

on_both_backends!(
    counters_accumulate_rtl,
    counters_accumulate_model,
    counters_accumulate
);

fn msg() -> impl Strategy<Value = Msg> {
    // Mostly a few hot pages, sometimes any page (including unmapped ones).
    let page = prop_oneof![3 => 0..6u32, 2 => 0..ALL];
    (page, 1..=256u32).prop_flat_map(|(i, len)| (Just(i), 0..=PAGE_SIZE - len, Just(len)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random page access patterns: the receiver ends up with exactly the messages whose pages
    /// are mapped on both sides, on both backends, and the backends agree.
    #[test]
    fn random_access_patterns(msgs in proptest::collection::vec(msg(), 1..40)) {
        let m = run(model(2), &msgs, 1 << 20);
        check_reference(&m, &msgs);
        let r = run(rtl(2), &msgs, 1 << 20);
        prop_assert_eq!(&r.stats, &m.stats);
        prop_assert_eq!(&r.globals, &m.globals);
        prop_assert_eq!(&r.slots, &m.slots);
        prop_assert_eq!(&r.notifications, &m.notifications);
        prop_assert!(r.mems == m.mems, "memories differ");
    }
}
