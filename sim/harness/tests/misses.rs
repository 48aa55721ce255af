//! Miss servicing: more mapped pages than cache entries, unmapped pages, mapped-file memory.

mod common;

use common::*;
use vassa_driver::{Dir, Driver, Fabric, Memory};
use vassa_harness::RtlFabric;
use vassa_spec::packet::split_message;
use vassa_spec::params::{PAGE_SHIFT, PAGE_SIZE};

/// Pages mapped: well beyond the 16 entries of each default cache.
const PAGES: u32 = 40;

/// Messages of `len` bytes fill every page, sent in `rounds` passes; pass r sends the
/// messages at offset `r * len` of every page, page after page (a scan over more pages than
/// cache entries: the worst case for any replacement policy). Doorbells are `gap` cycles
/// apart (0: back to back). Checks every destination page byte for byte and the miss
/// accounting.
fn eviction_pressure<F: Fabric>(fabric: F, len: u32, gap: u64) -> Driver<F> {
    let mut d = fast_driver(fabric, 50_000);
    let entries = d.info(RECEIVER).rx_cache_entries as u64;
    assert!(PAGES as u64 > 2 * entries);
    fill_sources(&mut d, PAGES);
    map_pages(&mut d, 0..PAGES);
    let rounds = PAGE_SIZE / len;
    for r in 0..rounds {
        for i in 0..PAGES {
            send(&mut d, i, r * len, len);
            d.run(gap);
        }
    }
    settle(&mut d);
    d.poll_counters();
    for node in [SENDER, RECEIVER] {
        println!("node {node}: {:?}", d.stats(node));
        println!("node {node}: drops {:?}", d.totals(node).drops());
    }
    let src = memory(&mut d, SENDER);
    let dst = memory(&mut d, RECEIVER);
    for i in 0..PAGES {
        let s = ((SRC_BASE + i) << PAGE_SHIFT) as usize;
        let t = ((DST_BASE + i) << PAGE_SHIFT) as usize;
        let (a, b) = (
            &src[s..s + PAGE_SIZE as usize],
            &dst[t..t + PAGE_SIZE as usize],
        );
        assert!(a == b, "page {i}: differs at byte {:?}", first_diff(a, b));
    }
    // Nothing outside the destination pages was written.
    let lo = (DST_BASE << PAGE_SHIFT) as usize;
    let hi = ((DST_BASE + PAGES) << PAGE_SHIFT) as usize;
    assert!(dst[..lo].iter().chain(&dst[hi..]).all(|&b| b == 0));

    let tx = d.stats(SENDER);
    let rx = d.stats(RECEIVER);
    // A scan over 40 pages through 16 entries misses on every page of every pass.
    let at_least = (rounds * PAGES) as u64;
    assert!(tx.tx_serviced >= at_least, "{tx:?}");
    assert!(rx.rx_serviced >= at_least, "{rx:?}");
    assert!(rx.evictions >= at_least - entries, "{rx:?}");
    assert!(tx.evictions >= at_least - entries, "{tx:?}");
    assert_eq!(tx.dropped() + rx.dropped(), 0);
    for node in [SENDER, RECEIVER] {
        let t = d.totals(node);
        assert_eq!(t.dropped(), 0, "node {node} drops {:?}", t.drops());
        assert_eq!(t.global("misses"), d.stats(node).serviced(), "node {node}");
    }
    let packets = split_message(0, len, d.info(SENDER).max_payload).len() as u64;
    for g in 1..=GROUPS {
        let pages = (0..PAGES).filter(|&i| slot_of(i) == g).count() as u64;
        let sent = d.slot_totals(SENDER, g);
        let got = d.slot_totals(RECEIVER, g);
        assert_eq!(sent.tx_bytes(), pages * PAGE_SIZE as u64);
        assert_eq!(sent.tx_packets(), pages * packets * rounds as u64);
        assert_eq!(got.rx_bytes(), sent.tx_bytes());
        assert_eq!(got.rx_packets(), sent.tx_packets());
    }
    d
}

/// Cycles between doorbells that let the RTL receiver keep up when every packet misses: a
/// miss buffer is taken at a packet's header and given back when its retry has been written
/// (link time + miss post + service + retry write, about 160 cycles for 256 bytes), and there
/// are two. See `all_miss_line_rate_rtl` for what happens without the gap.
const RTL_MISS_GAP: u64 = 200;

#[test]
fn eviction_pressure_rtl() {
    eviction_pressure(rtl(2), 256, RTL_MISS_GAP);
}

#[test]
fn eviction_pressure_model() {
    eviction_pressure(model(2), 256, 0);
}

/// Whole-page messages (16 packets back to back) into pages that are not cached.
#[test]
fn eviction_pressure_whole_pages_model() {
    eviction_pressure(model(2), PAGE_SIZE, 0);
}

/// Single-packet messages at line rate, every one missing on both sides: the RTL receiver's
/// two miss buffers cannot hold a packet for the whole miss service, so some packets are
/// dropped as drop_miss_overflow. Nothing is lost silently: every message is either in the
/// destination byte for byte or untouched (zeros), and delivered + dropped = sent.
#[test]
fn all_miss_line_rate_rtl() {
    let mut d = fast_driver(rtl(2), 50_000);
    fill_sources(&mut d, PAGES);
    map_pages(&mut d, 0..PAGES);
    let len = 256;
    for r in 0..4 {
        for i in 0..PAGES {
            send(&mut d, i, r * len, len);
        }
    }
    settle(&mut d);
    d.poll_counters();
    let (src, dst) = (memory(&mut d, SENDER), memory(&mut d, RECEIVER));
    let mut delivered = 0;
    for r in 0..4 {
        for i in 0..PAGES {
            let s = (((SRC_BASE + i) << PAGE_SHIFT) + r * len) as usize;
            let t = (((DST_BASE + i) << PAGE_SHIFT) + r * len) as usize;
            let got = &dst[t..t + len as usize];
            if got == &src[s..s + len as usize] {
                delivered += 1;
            } else {
                assert!(
                    got.iter().all(|&b| b == 0),
                    "page {i} round {r}: partly written"
                );
            }
        }
    }
    let rx = d.totals(RECEIVER);
    let overflow = rx.global("drop_miss_overflow");
    println!(
        "delivered {delivered} of {}, miss overflow {overflow}",
        4 * PAGES
    );
    assert!(
        overflow > 0,
        "expected the miss buffers to overflow at line rate"
    );
    assert_eq!(delivered + overflow, 4 * PAGES as u64);
    assert_eq!(rx.dropped(), overflow, "{:?}", rx.drops());
    let rx_packets: u64 = rx.slots.iter().map(|s| s.rx_packets()).sum();
    assert_eq!(rx_packets, delivered);
}

/// Regression of an RTL defect the driver found: a multi-packet message into an RX page that is
/// not cached lost a packet as drop_rx_overrun. Its first two packets miss (the second is
/// looked up before the driver's install) and park; their two retries (65 write beats each)
/// keep the line writer busy while the rest of the message streams in at line rate, and a
/// ring of two largest packets overran (the writer gains only 2 beats per 256-byte packet).
/// The ring now holds one more largest packet per miss buffer.
#[test]
fn eviction_pressure_whole_pages_rtl() {
    eviction_pressure(rtl(2), PAGE_SIZE, RTL_MISS_GAP);
}

/// A message to an NVA page the receiver subscribes to but has no RX mapping for is dropped
/// and counted, and a message from a page with no TX mapping is cancelled and counted;
/// neither writes a byte anywhere.
fn unmapped<F: Fabric>(fabric: F) {
    let mut d = fast_driver(fabric, 1 << 20);
    fill_sources(&mut d, 3);
    // Page 0: mapped both ways. Page 1: TX only (the receiver listens, but has no mapping).
    // Page 2: nothing on the TX side.
    map_pages(&mut d, [0]);
    d.map_tx(SENDER, SRC_BASE + 1, NVA_BASE + 1, attr(1))
        .unwrap();
    d.fabric_mut().subscribe(NVA_BASE + 1, RECEIVER);
    let before = [memory(&mut d, SENDER), memory(&mut d, RECEIVER)];
    let len = 600; // three packets
    let packets = split_message(0, len, d.info(SENDER).max_payload).len() as u64;
    send(&mut d, 1, 100, len);
    settle(&mut d);
    send(&mut d, 2, 0, len);
    settle(&mut d);
    d.poll_counters();
    assert!(memory(&mut d, SENDER) == before[0], "sender memory changed");
    let after = memory(&mut d, RECEIVER);
    assert!(
        after == before[1],
        "receiver memory changed at {:?}",
        first_diff(&after, &before[1])
    );
    let (tx, rx) = (d.stats(SENDER), d.stats(RECEIVER));
    assert_eq!(rx.rx_dropped, packets, "{rx:?}");
    assert_eq!(d.totals(RECEIVER).global("drop_miss_dropped"), packets);
    assert_eq!(tx.tx_cancelled, 1, "{tx:?}");
    assert_eq!(d.totals(SENDER).global("drop_tx_cancel"), 1);
    assert_eq!(d.totals(RECEIVER).slots[slot_of(1) as usize].rx_bytes(), 0);
    // The mapped page still works afterwards.
    send(&mut d, 0, 8, 64);
    settle(&mut d);
    let mut got = vec![0; 64];
    d.fabric_mut()
        .mem_read(RECEIVER, (DST_BASE << PAGE_SHIFT) + 8, &mut got);
    assert_eq!(got, pattern(PAGE_SIZE as usize, 1)[8..72]);
}

on_both_backends!(
    unmapped_page_dropped_rtl,
    unmapped_page_dropped_model,
    unmapped
);

/// Unmapping invalidates the cached entry: later traffic to the page misses and is dropped.
fn unmap_invalidates<F: Fabric>(fabric: F) {
    let mut d = fast_driver(fabric, 1 << 20);
    fill_sources(&mut d, 1);
    map_pages(&mut d, [0]);
    send(&mut d, 0, 0, 128);
    settle(&mut d);
    assert_eq!(d.cached(RECEIVER, Dir::Rx), vec![(0, NVA_BASE)]);
    assert!(d.unmap(RECEIVER, Dir::Rx, NVA_BASE).is_some());
    assert!(d.cached(RECEIVER, Dir::Rx).is_empty());
    // Keep listening so the packet reaches the card and misses there.
    d.fabric_mut().subscribe(NVA_BASE, RECEIVER);
    send(&mut d, 0, 1024, 128);
    settle(&mut d);
    d.poll_counters();
    assert_eq!(d.stats(RECEIVER).rx_dropped, 1);
    let mut got = vec![0; 128];
    d.fabric_mut()
        .mem_read(RECEIVER, (DST_BASE << PAGE_SHIFT) + 1024, &mut got);
    assert!(got.iter().all(|&b| b == 0));
}

on_both_backends!(
    unmap_invalidates_rtl,
    unmap_invalidates_model,
    unmap_invalidates
);

/// Node memories backed by mapped files: what the card writes is in the file, seen through a
/// second, independent mapping (as another process would map it).
#[test]
fn mapped_file_memory() {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..2)
        .map(|n| dir.path().join(format!("node{n}.mem")))
        .collect();
    let mems = paths
        .iter()
        .map(|p| Memory::map_file(p, MEM).unwrap())
        .collect();
    let mut d = fast_driver(RtlFabric::new(mems, 3), 1 << 20);
    fill_sources(&mut d, 2);
    map_pages(&mut d, 0..2);
    send(&mut d, 1, 40, 1000);
    settle(&mut d);
    let other = Memory::map_file(&paths[RECEIVER], MEM).unwrap();
    let at = (((DST_BASE + 1) << PAGE_SHIFT) + 40) as usize;
    assert_eq!(
        &other[at..at + 1000],
        &pattern(PAGE_SIZE as usize, 2)[40..1040]
    );
    // And the other way: bytes written through the second mapping are what the card sends.
    let mut other_src = Memory::map_file(&paths[SENDER], MEM).unwrap();
    let src = ((SRC_BASE << PAGE_SHIFT) + 4) as usize;
    other_src[src..src + 4].copy_from_slice(b"VASS");
    send(&mut d, 0, 4, 4);
    settle(&mut d);
    let dst = (((DST_BASE) << PAGE_SHIFT) + 4) as usize;
    assert_eq!(&other[dst..dst + 4], b"VASS");
}
