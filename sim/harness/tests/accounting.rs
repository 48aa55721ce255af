//! The simulated network tells the truth, on both backends: every node's host runs beside the
//! network (readers of a multicast are served alike, whatever their node order), every message
//! a reader did not get has a counted cause (delivered + dropped + lapped + in flight = sent,
//! per reader, for random scenarios), and the regressions of issue 17 (scenario files in
//! tests/scenarios/) hold.

use proptest::prelude::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use vassa_harness::runner::report::{ChannelReport, ReaderReport, Report};
use vassa_harness::runner::{run, RunOptions};
use vassa_harness::scenario::{Backend, Scenario};

fn run_on(s: &Scenario, name: &str, backend: Backend) -> Report {
    vassa_sim::dynamic::set_cache_dir(concat!(env!("CARGO_TARGET_TMPDIR"), "/vassa-models"));
    let opts = RunOptions {
        backend: Some(backend),
        ..RunOptions::default()
    };
    run(s, name, &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn scenario_file(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name);
    Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `s` (from `name`) on the model, then on the Verilated cards; every message of each
/// run is accounted for.
fn accounted_runs<'a>(
    s: &'a Scenario,
    name: &'a str,
) -> impl Iterator<Item = (Backend, Report)> + 'a {
    [Backend::Model, Backend::Rtl]
        .into_iter()
        .map(move |backend| {
            let r = run_on(s, name, backend);
            assert_accounted(&r);
            (backend, r)
        })
}

/// Every check of the run held, and every reader's messages add up.
fn assert_accounted(r: &Report) {
    let name = format!("{} on {:?}", r.scenario, r.backend);
    for c in &r.checks {
        assert!(c.passed, "{name}: \"{}\" failed: {}", c.name, c.detail);
    }
    for (c, rr) in readers(r) {
        let at = format!("{name}: {} at {}: {rr:?}", c.name, rr.node);
        assert_eq!(rr.delivered + rr.missed(), c.sent, "{at}");
        assert_eq!(rr.dropped, rr.dropped_by.values().sum::<u64>(), "{name}");
        assert_eq!(rr.verified, rr.delivered, "{name}");
    }
}

/// Every reader of every channel of `r`, with its channel.
fn readers(r: &Report) -> impl Iterator<Item = (&ChannelReport, &ReaderReport)> {
    r.channels
        .iter()
        .flat_map(|c| c.readers.iter().map(move |rr| (c, rr)))
}

/// A multicast from `writer` to `readers` (all node names), with `nodes` in file order.
fn multicast(nodes: &[String], writer: &str, readers: &[String], pages: u32, size: u32) -> String {
    let mut s = String::from("[sim]\nmax_cycles = 2_000_000\nseed = 9\n");
    for n in nodes {
        let _ = writeln!(s, "[[nodes]]\nname = \"{n}\"");
    }
    let list = |v: &[String]| {
        v.iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = write!(
        s,
        "[[channels]]\nname = \"m\"\nkind = \"multicast\"\nwriters = [\"{writer}\"]\n\
         readers = [{}]\nsegment = \"{} KiB\"\nslot = \"4 KiB\"\n\
         [[traffic]]\nchannel = \"m\"\nmessages = 24\nsize = {size}\ninterval = 6_000\n",
        list(readers),
        pages * 4
    );
    s
}

/// A fault-free multicast: every reader delivers the same messages, for 1 to 16 readers in
/// any node order (the writer anywhere among them).
fn fairness(backend: Backend, readers: usize, writer_at: usize, order: &[usize], big: bool) {
    let names: Vec<String> = (0..readers).map(|i| format!("r{i}")).collect();
    let mut nodes: Vec<String> = order.iter().map(|&i| names[i].clone()).collect();
    nodes.insert(writer_at.min(nodes.len()), "w".to_string());
    // Whole-page messages over more pages than a cache holds lose some to miss-buffer
    // overflow at every reader alike; small ones lose none.
    let (pages, size) = if big { (17, 4072) } else { (4, 300) };
    let text = multicast(&nodes, "w", &names, pages, size);
    let s = Scenario::from_str(&text, "fairness.toml").unwrap();
    let r = run_on(&s, "fairness.toml", backend);
    assert_accounted(&r);
    let got: Vec<(u64, u64)> = r.channels[0]
        .readers
        .iter()
        .map(|rr| (rr.delivered, rr.dropped))
        .collect();
    assert!(
        got.windows(2).all(|w| w[0] == w[1]),
        "{backend:?}, {readers} readers, order {nodes:?}: {got:?}"
    );
    if !big {
        assert_eq!(got[0], (24, 0), "{backend:?}");
    }
}

fn order_strategy() -> impl Strategy<Value = (usize, usize, Vec<usize>, bool)> {
    (1usize..=16).prop_flat_map(|n| {
        (
            Just(n),
            0..=n,
            Just((0..n).collect::<Vec<_>>()).prop_shuffle(),
            any::<bool>(),
        )
    })
}

/// A proptest of `cases` cases: `test` on values of `strategy`.
fn proptest_cases<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) {
    let config = ProptestConfig {
        cases,
        ..ProptestConfig::default()
    };
    proptest!(config, |(value in strategy)| test(value)?);
}

#[test]
fn readers_of_a_multicast_are_served_alike_on_the_model() {
    proptest_cases(12, order_strategy(), |(n, at, order, big)| {
        fairness(Backend::Model, n, at, &order, big);
        Ok(())
    });
}

/// Verilated cards: fewer cases, still up to 16 readers.
#[test]
fn readers_of_a_multicast_are_served_alike_on_the_rtl() {
    proptest_cases(3, order_strategy(), |(n, at, order, big)| {
        fairness(Backend::Rtl, n, at, &order, big);
        Ok(())
    });
}

/// The widest case on the Verilated cards, always run: 16 readers, the writer in the middle,
/// whole pages missing in every reader's cache.
#[test]
fn sixteen_readers_on_the_rtl_get_the_same() {
    let order: Vec<usize> = (0..16).rev().collect();
    fairness(Backend::Rtl, 16, 8, &order, true);
}

/// A random scenario: 2 to 5 nodes, 1 to 3 channels of any kind, traffic of any size and
/// pace (back to back included), drops, bit flips and duplicates, evictions, slow readers.
#[derive(Debug, Clone)]
struct Random {
    nodes: usize,
    channels: Vec<(u8, usize, u32, u32)>,
    traffic: Vec<(usize, u32, u32, u32)>,
    drop: u32,
    flip: u32,
    dup: u32,
    reader_poll: u32,
    evict: bool,
    seed: u64,
}

impl Random {
    fn toml(&self) -> String {
        let mut s = format!(
            "[sim]\nmax_cycles = 400_000\nseed = {}\n[sim.host]\nreader_poll = {}\n",
            self.seed, self.reader_poll
        );
        for i in 0..self.nodes {
            let _ = writeln!(s, "[[nodes]]\nname = \"n{i}\"");
        }
        let node = |i: usize| format!("\"n{}\"", i % self.nodes);
        for (c, &(kind, first, pages, slot_log)) in self.channels.iter().enumerate() {
            let (kind, writers, readers) = match kind % 3 {
                0 => ("unicast", vec![first], vec![first + 1]),
                1 => (
                    "multicast",
                    vec![first],
                    (1..self.nodes).map(|k| first + k).collect(),
                ),
                _ => (
                    "many_to_many",
                    vec![first, first + 1],
                    vec![first, first + 1],
                ),
            };
            let names = |v: Vec<usize>| v.into_iter().map(node).collect::<Vec<_>>().join(", ");
            let _ = write!(
                s,
                "[[channels]]\nname = \"c{c}\"\nkind = \"{kind}\"\nwriters = [{}]\n\
                 readers = [{}]\nsegment = \"{} KiB\"\nslot = \"{} B\"\n",
                names(writers),
                names(readers),
                pages * 4,
                1u32 << slot_log
            );
        }
        for &(c, messages, size, interval) in &self.traffic {
            let c = c % self.channels.len();
            let (kind, first, _, slot_log) = self.channels[c];
            let writer = if kind % 3 == 2 {
                format!("writer = {}\n", node(first))
            } else {
                String::new()
            };
            let max = (1u32 << slot_log) - 24;
            let _ = write!(
                s,
                "[[traffic]]\nchannel = \"c{c}\"\n{writer}messages = {messages}\n\
                 size = \"1..{}\"\ninterval = {interval}\n",
                size.clamp(1, max)
            );
        }
        for (kind, p) in [
            ("drop", self.drop),
            ("bit_flip", self.flip),
            ("duplicate", self.dup),
        ] {
            if p > 0 {
                let _ = write!(s, "[[faults.{kind}]]\nprobability = 0.0{p}\n");
            }
        }
        if self.evict {
            s += "[[faults.evict]]\nnode = \"n1\"\nevery = 30_000\nstart = 5_000\n";
        }
        s
    }
}

fn random_scenario() -> impl Strategy<Value = Random> {
    (
        2usize..=5,
        proptest::collection::vec((0u8..3, 0usize..5, 1u32..=6, 6u32..=12), 1..=3),
        proptest::collection::vec((0usize..3, 1u32..=60, 1u32..=4000, 0u32..=3000), 1..=3),
        (
            0u32..=5,
            0u32..=5,
            0u32..=3,
            prop_oneof![Just(100u32), Just(2000)],
        ),
        any::<bool>(),
        // TOML integers are signed.
        0u64..1 << 62,
    )
        .prop_map(
            |(nodes, channels, traffic, (drop, flip, dup, reader_poll), evict, seed)| Random {
                nodes,
                channels,
                traffic,
                drop,
                flip,
                dup,
                reader_poll,
                evict,
                seed,
            },
        )
}

/// Runs a random scenario if it is valid (slots must divide segments and so on): every
/// reader's messages add up and every check but `finished` holds.
fn random_accounting(r: &Random, backend: Backend) -> Result<(), TestCaseError> {
    let text = r.toml();
    let Ok(s) = Scenario::from_str(&text, "random.toml") else {
        return Ok(());
    };
    let report = run_on(&s, "random.toml", backend);
    for c in report.checks.iter().filter(|c| c.name != "finished") {
        prop_assert!(c.passed, "{text}\n\"{}\" failed: {}", c.name, c.detail);
    }
    for (c, rr) in readers(&report) {
        let at = format!("{text}\n{} at {}: {rr:?}", c.name, rr.node);
        prop_assert_eq!(rr.delivered + rr.missed(), c.sent, "{}", at);
    }
    Ok(())
}

#[test]
fn every_message_of_a_random_scenario_is_accounted_for_on_the_model() {
    proptest_cases(24, random_scenario(), |r| {
        random_accounting(&r, Backend::Model)
    });
}

#[test]
fn every_message_of_a_random_scenario_is_accounted_for_on_the_rtl() {
    proptest_cases(4, random_scenario(), |r| {
        random_accounting(&r, Backend::Rtl)
    });
}

// ---- Regressions (tests/scenarios/) -----------------------------------------------------

/// Six readers over 17 pages of whole-page messages: the same deliveries at every reader, on
/// both backends (each reader's host services its own card).
#[test]
fn starving_readers_are_served_alike() {
    let s = scenario_file("starving_readers.toml");
    for (backend, r) in accounted_runs(&s, "starving_readers.toml") {
        let got: Vec<u64> = r.channels[0].readers.iter().map(|x| x.delivered).collect();
        assert!(got.windows(2).all(|w| w[0] == w[1]), "{backend:?}: {got:?}");
        assert!(
            got[0] >= 16,
            "{backend:?}: at least the cached pages: {got:?}"
        );
    }
}

/// Messages crossing at cycle 0: a gets all three of b's, b and c a's.
#[test]
fn crossing_messages_all_arrive() {
    let s = scenario_file("crossing.toml");
    for (backend, r) in accounted_runs(&s, "crossing.toml") {
        assert_eq!(r.missed(), 0, "{backend:?}");
    }
}

/// A reader slower than a back-to-back writer is lapped: every message it missed is counted
/// as lapped, none as dropped.
#[test]
fn a_lapped_reader_counts_what_it_missed() {
    let s = scenario_file("lapping.toml");
    for (backend, r) in accounted_runs(&s, "lapping.toml") {
        let rr = &r.channels[0].readers[0];
        assert!(rr.lapped > 0, "{backend:?}: {rr:?}");
        assert_eq!((rr.dropped, rr.in_flight), (0, 0), "{backend:?}");
        assert_eq!(rr.lost, rr.lapped, "{backend:?}: every gap was a lap");
    }
}

/// Single-packet messages with 10 % of the copies dropped: each dropped copy costs exactly
/// one message, on both backends, and both drop the same copies.
#[test]
fn one_dropped_copy_costs_one_message() {
    let s = scenario_file("one_drop_one_message.toml");
    let mut seen = Vec::new();
    for (backend, r) in accounted_runs(&s, "one_drop_one_message.toml") {
        let rr = &r.channels[0].readers[0];
        assert_eq!(rr.dropped, r.switch.fault_dropped, "{backend:?}: {rr:?}");
        assert_eq!(rr.dropped_by["switch_fault"], rr.dropped);
        assert_eq!((rr.lapped, rr.in_flight), (0, 0), "{backend:?}");
        seen.push((rr.delivered, rr.gaps, rr.dropped));
    }
    assert_eq!(seen[0], seen[1], "model vs rtl");
}

/// Eight readers of a multicast: the model carries each reader's copies on its own link, so
/// the two backends finish within 25 % of each other; with the run cut short, the copies on
/// their way are reported in flight, and everything still adds up.
#[test]
fn the_model_times_each_link_and_reports_what_is_in_flight() {
    let mut s = scenario_file("fanout.toml");
    let rtl = run_on(&s, "fanout.toml", Backend::Rtl);
    let model = run_on(&s, "fanout.toml", Backend::Model);
    assert_accounted(&rtl);
    assert_accounted(&model);
    let ratio = model.cycles as f64 / rtl.cycles as f64;
    assert!(
        (0.8..=1.25).contains(&ratio),
        "model {} cycles, rtl {}",
        model.cycles,
        rtl.cycles
    );
    s.sim.max_cycles = model.cycles / 2;
    for backend in [Backend::Model, Backend::Rtl] {
        let r = run_on(&s, "fanout.toml", backend);
        assert!(!r.finished);
        assert!(r.accounting.in_flight > 0, "{backend:?}");
        for c in r.checks.iter().filter(|c| c.name != "finished") {
            assert!(c.passed, "{backend:?}: {}: {}", c.name, c.detail);
        }
        let rr = &r.channels[0].readers[0];
        assert!(rr.in_flight > 0, "{backend:?}: {rr:?}");
    }
}

/// The same fan-out with hosts that cost nothing: every reader's host installs each miss before
/// its card's miss buffers fill, so all eight get every message; with the default costs each
/// reader's host is too slow for whole-page messages back to back, and all eight lose the same
/// 84 messages, each counted as a miss-buffer overflow (before, readers fared by node index).
#[test]
fn host_costs_decide_the_fanout_and_every_reader_fares_alike() {
    let mut s = scenario_file("fanout.toml");
    for (backend, r) in accounted_runs(&s, "fanout.toml") {
        for rr in &r.channels[0].readers {
            assert_eq!((rr.delivered, rr.dropped), (16, 84), "{backend:?}: {rr:?}");
            assert_eq!(rr.dropped_by["drop_miss_overflow"], 84, "{backend:?}");
        }
    }
    s.sim.host = vassa_driver::host::HostCosts::zero();
    for (backend, r) in accounted_runs(&s, "fanout.toml") {
        for rr in &r.channels[0].readers {
            assert_eq!((rr.delivered, rr.lost), (100, 0), "{backend:?}: {rr:?}");
        }
    }
}

/// The same file and seed give the same report (but its wall time), on each backend.
#[test]
fn runs_are_deterministic() {
    let s = scenario_file("one_drop_one_message.toml");
    for backend in [Backend::Model, Backend::Rtl] {
        let json = || {
            let mut r = run_on(&s, "one_drop_one_message.toml", backend);
            r.wall_seconds = 0.0;
            serde_json::to_string(&r).unwrap()
        };
        assert_eq!(json(), json(), "{backend:?}");
    }
}
