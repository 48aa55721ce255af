//! Tests of the benchmark functions (short runs; the figures live in BENCHMARKS.md).
use super::*;

#[test]
fn efficiency_run_has_no_idle_cycle_and_the_format_word_count() {
    for size in [8, 64, 512] {
        let e = link_efficiency(size, 24);
        assert!(e.delivered, "{size}: delivered");
        assert_eq!(e.idle_cycles, 0, "{size}: back to back");
        let p = size.min(256);
        assert_eq!(e.packets, (24 * size / p) as u64);
        assert_eq!(e.words, e.packets * packet_words(p) as u64);
        assert_eq!(e.link_cycles, e.words);
    }
}

#[test]
fn latency_breakdown_sums_to_the_total() {
    for l in [
        latency_direct(64, 0),
        latency_direct(64, 10),
        latency_network(64, 3),
    ] {
        assert!(l.delivered);
        assert_eq!(
            l.to_first_word() + l.tx_packet() + l.link() + l.rx_to_write(),
            l.total()
        );
        assert_eq!(l.tx_packet() + 1, packet_words(64) as u64);
    }
    let d = latency_direct(64, 10);
    assert_eq!(d.link(), 10);
    assert_eq!(d.rx_first - d.tx_first, 10);
}

#[test]
fn rust_and_cpp_loops_do_the_same_work() {
    let sides = two_card_workload();
    let rust = two_cards_rust(&sides, 5_000);
    let cpp = two_cards_cpp(&sides, 5_000);
    assert!(rust
        .stats
        .iter()
        .all(|s| s.tx_words > 1_000 && s.write_beats > 500));
    assert!(rust.stats.iter().all(|s| s.memory_faults == 0));
    assert_eq!(rust.stats, cpp.stats);
    assert!(rust.same_work(&cpp));
}

#[cfg(feature = "native")]
#[test]
fn rust_hdl_simulations_do_the_same_work_as_verilator() {
    let sides = two_card_workload();
    let v = two_cards_rust(&sides, 300);
    assert!(v.stats.iter().all(|s| s.tx_words > 0 && s.write_beats > 0));
    assert!(native::two_cards_stepped(&sides, 300).same_work(&v));
    let v = two_cards_rust(&sides, 120);
    assert!(native::two_cards_threaded(&sides, 120).same_work(&v));
}

#[test]
fn a_parked_miss_is_parked_and_hits_still_arrive() {
    let r = hits_behind_miss(4, true);
    assert!(r.delivered);
    assert_eq!(r.parked, 1);
    let m = miss_irq(4);
    assert!(m.parked);
    assert!(m.sop_to_irq > m.eop_to_irq);
}
