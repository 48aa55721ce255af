//! Scenario runs (`vassa sim`): every example in examples/ balances its accounting on every
//! backend it can run on, the backends agree on everything but timing, each fault does what
//! the format says, and memory dumps show exactly the mapped segments.

use std::path::PathBuf;
use vassa_harness::runner::{run, trace_file, RunOptions};
use vassa_harness::scenario::{Backend, Scenario};

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "examples/ holds the scenario examples");
    files
}

/// Cores at other parameters are built once into the target directory, shared with vassa-sim's
/// tests (one parameter set: examples/many_to_many.toml's).
fn use_test_model_cache() {
    vassa_sim::dynamic::set_cache_dir(concat!(env!("CARGO_TARGET_TMPDIR"), "/vassa-models"));
}

fn run_on(s: &Scenario, name: &str, backend: Backend) -> vassa_harness::runner::report::Report {
    use_test_model_cache();
    let opts = RunOptions {
        backend: Some(backend),
        ..RunOptions::default()
    };
    run(s, name, &opts, &mut |_| {}).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The accounting identity and every check hold, every message was sent, and a reader's
/// messages add up.
fn assert_sound(r: &vassa_harness::runner::report::Report, s: &Scenario) {
    let name = format!("{} on {:?}", r.scenario, r.backend);
    for c in &r.checks {
        assert!(
            c.passed,
            "{name}: check \"{}\" failed: {}",
            c.name, c.detail
        );
    }
    let a = &r.accounting;
    assert!(a.balanced && a.unaccounted == 0, "{name}: {a:?}");
    assert_eq!(a.packets_sent, a.packets_sent_by_cards, "{name}");
    let dropped: u64 = a.dropped_by_reason.values().sum();
    assert_eq!(
        a.copies_expected + a.duplicated + a.injected,
        a.delivered + dropped + a.dropped_in_switch + a.in_flight,
        "{name}"
    );
    for (c, spec) in r.channels.iter().zip(&s.channels) {
        let want = s.messages_on(&spec.name);
        assert_eq!(c.sent, want, "{name}: channel {}", c.name);
        assert_eq!(c.readers.len(), spec.readers.len());
        for rr in &c.readers {
            assert_eq!(
                rr.delivered + rr.missed(),
                c.sent,
                "{name}: {} reading {}",
                rr.node,
                c.name
            );
            assert_eq!(rr.verified, rr.delivered, "{name}");
        }
    }
}

/// What must not depend on the backend: per reader delivered, verified, gaps, lost, dropped
/// (by cause), lapped and in flight; packets dropped by reason per card; the accounting block.
/// (`notify_lost` counts notifications, not packets: how many a card's full notification FIFO
/// loses depends on how fast its host drains it.)
fn delivery_tables(r: &vassa_harness::runner::report::Report) -> serde_json::Value {
    let readers: Vec<_> = r
        .channels
        .iter()
        .map(|c| serde_json::json!({"channel": c.name, "sent": c.sent, "readers": c.readers}))
        .collect();
    let drops: Vec<_> = r
        .nodes
        .iter()
        .map(|n| {
            let d: std::collections::BTreeMap<_, _> = n
                .counters
                .iter()
                .filter(|(k, _)| k.starts_with("drop_") || *k == "bad_doorbells")
                .collect();
            serde_json::json!({"node": n.name, "drops": d})
        })
        .collect();
    serde_json::json!({"channels": readers, "drops": drops, "accounting": r.accounting})
}

/// The paths at which two JSON documents differ, with both values.
fn differences(a: &serde_json::Value, b: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let (va, vb) = (&x.get(k), &y.get(k));
                match (va, vb) {
                    (Some(va), Some(vb)) => differences(va, vb, &format!("{at}.{k}"), out),
                    _ => out.push(format!("{at}.{k}: {va:?} vs {vb:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                differences(va, vb, &format!("{at}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{at}: {a} vs {b}")),
        _ => {}
    }
}

/// Asserts the two reports' delivery tables are the same, naming what differs.
fn assert_same_tables(
    a: &vassa_harness::runner::report::Report,
    b: &vassa_harness::runner::report::Report,
    name: &str,
) {
    let mut diff = Vec::new();
    differences(&delivery_tables(a), &delivery_tables(b), "", &mut diff);
    assert!(
        diff.is_empty(),
        "{name}: {:?} vs {:?}: {}",
        a.backend,
        b.backend,
        diff.join("; ")
    );
}

/// Every example runs on both backends with the same delivery tables (faults are drawn per
/// packet copy, so both fault the same copies; the examples lose nothing to timing).
#[test]
fn every_example_gives_the_same_delivery_tables_on_both_backends() {
    for path in examples() {
        let s = Scenario::from_file(&path).unwrap();
        let name = path.display().to_string();
        let model = run_on(&s, &name, Backend::Model);
        let rtl = run_on(&s, &name, Backend::Rtl);
        assert_sound(&model, &s);
        assert_sound(&rtl, &s);
        assert_same_tables(&model, &rtl, &name);
    }
}

const NO_FAULTS: &str = r#"
[sim]
max_cycles = 400_000
seed = 3
[[nodes]]
name = "a"
[[nodes]]
name = "b"
[[nodes]]
name = "c"
[[channels]]
name = "wide"
kind = "multicast"
writers = ["a"]
readers = ["b", "c"]
segment = "48 KiB"   # 12 pages: with chat's 2, every reader's mappings fit its cache
slot = "4 KiB"
[[channels]]
name = "chat"
kind = "many_to_many"
writers = ["b", "c"]
readers = ["a", "b", "c"]
segment = "8 KiB"
slot = "512 B"
signal = false
[[traffic]]
channel = "wide"
messages = 60
size = "1..4072"
interval = 700
[[traffic]]
channel = "chat"
writer = "b"
messages = 40
size = "1..488"
interval = 2_000
[[traffic]]
channel = "chat"
writer = "c"
messages = 40
size = "1..488"
start = 1_000
interval = 2_500
# The writer's TX cache flushed now and then: TX misses stall the sender, they lose nothing.
[[faults.evict]]
node = "a"
side = "tx"
every = 20_000
start = 10_000
"#;

#[test]
fn backends_agree_on_everything_but_timing() {
    let s = Scenario::from_str(NO_FAULTS, "agree.toml").unwrap();
    let rtl = run_on(&s, "agree.toml", Backend::Rtl);
    let model = run_on(&s, "agree.toml", Backend::Model);
    assert_sound(&rtl, &s);
    assert_sound(&model, &s);
    // Every message to every reader, verified, on both.
    for r in [&rtl, &model] {
        assert_eq!(r.missed(), 0, "{:?}", r.backend);
        assert!(r.misses_serviced() > 0, "the flushed TX cache misses");
    }
    let json = |v: &dyn erased::Ser| v.json();
    assert_eq!(json(&rtl.channels), json(&model.channels));
    assert_eq!(json(&rtl.accounting), json(&model.accounting));
    for (a, b) in rtl.nodes.iter().zip(&model.nodes) {
        // Misses depend on timing (a second packet may miss before the first is serviced), and
        // so do notifications lost to a full FIFO (how fast the host drains it).
        let mut ca = a.counters.clone();
        let mut cb = b.counters.clone();
        for timed in ["misses", "notify_lost"] {
            ca.remove(timed);
            cb.remove(timed);
        }
        assert_eq!(ca, cb, "node {}", a.name);
        let counts = |n: &vassa_harness::runner::report::NodeReport| {
            n.slots
                .iter()
                .map(|s| (s.slot, s.tx_packets, s.tx_bytes, s.rx_packets, s.rx_bytes))
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(a), counts(b), "node {}", a.name);
    }
}

/// `serde_json` text of any report part, to compare parts without deriving `PartialEq`.
mod erased {
    pub trait Ser {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Ser for T {
        fn json(&self) -> String {
            serde_json::to_string(self).unwrap()
        }
    }
}

const FAULTS: &str = r#"
[sim]
max_cycles = 300_000
seed = 11
# A host that costs only the card's bus cycles: b's misses after every eviction are serviced
# before the rest of a message arrives, so the only losses are the faults'.
[sim.host]
reg_read = 0
reg_write = 0
irq_latency = 0
miss_service = 0
[[nodes]]
name = "a"
[[nodes]]
name = "b"
[[nodes]]
name = "c"
[[channels]]
name = "m"
kind = "multicast"
writers = ["a"]
readers = ["b", "c"]
segment = "16 KiB"
slot = "1 KiB"
[[traffic]]
channel = "m"
messages = 50
size = 1000
interval = 2_000
[[faults.drop]]
probability = 1.0
node = "c"
start = 20_000
stop = 30_000
[[faults.inject]]
node = "b"
at = 5_000
kind = "corrupt"
channel = "m"
[[faults.inject]]
node = "b"
at = 6_000
kind = "stale_epoch"
channel = "m"
[[faults.inject]]
node = "b"
at = 7_000
kind = "out_of_bounds"
channel = "m"
[[faults.inject]]
node = "c"
at = 8_000
kind = "unmapped"
[[faults.inject]]
node = "c"
at = 9_000
kind = "malformed"
[[faults.evict]]
node = "b"
channel = "m"
side = "rx"
every = 10_000
"#;

#[test]
fn each_fault_does_what_the_format_says_on_both_backends() {
    let s = Scenario::from_str(FAULTS, "faults.toml").unwrap();
    for backend in [Backend::Rtl, Backend::Model] {
        let r = run_on(&s, "faults.toml", backend);
        assert_sound(&r, &s);
        let (b, c) = (&r.nodes[1], &r.nodes[2]);
        // The injected packets, each dropped for its own reason; nothing else dropped.
        assert_eq!(
            b.counters["drop_crc_epoch"], 2,
            "{backend:?}: corrupt + stale epoch"
        );
        assert_eq!(b.counters["drop_protection"], 1, "{backend:?}");
        assert_eq!(c.counters["drop_miss_dropped"], 1, "{backend:?}: unmapped");
        assert_eq!(c.counters["drop_malformed"], 1, "{backend:?}");
        assert_eq!(r.accounting.injected, 5);
        // Every copy to c between cycles 20000 and 30000 dropped: the 5 messages sent then
        // (each one 1024-byte record, 4 or 5 packets) are lost to c only, and reported.
        let m = &r.channels[0];
        assert_eq!(m.readers[0].delivered, 50, "{backend:?}: b gets everything");
        assert_eq!(
            m.readers[1].delivered, 45,
            "{backend:?}: {:?}",
            m.readers[1]
        );
        assert_eq!(m.readers[1].lost, 5);
        assert_eq!(m.readers[1].gaps, 1);
        assert!(r.switch.fault_dropped >= 5 * 4, "{:?}", r.switch);
        // Evictions every 10000 cycles from cycle 0 until the traffic ends (~100000): each
        // forces b's next packet to miss, and the driver reinstalls the mapping.
        assert!(b.misses.forced_evictions >= 9, "{:?}", b.misses);
        assert!(b.misses.rx_serviced >= 9, "{:?}", b.misses);
    }
}

#[test]
fn memory_dumps_show_the_segments_and_nothing_outside_them() {
    let s = Scenario::from_str(NO_FAULTS, "dump.toml").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        backend: Some(Backend::Model),
        dump_memory: Some(dir.path().to_path_buf()),
        ..RunOptions::default()
    };
    let r = run(&s, "dump.toml", &opts, &mut |_| {}).unwrap();
    assert!(r.passed());
    for node in &s.nodes {
        let image = std::fs::read(dir.path().join(format!("{}.mem", node.name))).unwrap();
        assert_eq!(image.len() as u64, node.memory.0);
        let text = std::fs::read_to_string(dir.path().join(format!("{}.json", node.name))).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["node"], node.name.as_str());
        let segments = v["segments"].as_array().unwrap();
        let members = s
            .channels
            .iter()
            .filter(|c| c.has_member(&node.name))
            .count();
        // A node that writes and reads a channel sends from a second segment.
        let both = s
            .channels
            .iter()
            .filter(|c| c.writers.contains(&node.name) && c.readers.contains(&node.name))
            .count();
        assert_eq!(segments.len(), members + both, "{}", node.name);
        let mut inside = vec![false; image.len()];
        for seg in segments {
            let (a, b) = (seg["start"].as_u64().unwrap(), seg["end"].as_u64().unwrap());
            inside[a as usize..b as usize].fill(true);
            // Something landed in every segment (every member writes or reads messages).
            assert!(image[a as usize..b as usize].iter().any(|&x| x != 0));
        }
        let stray = image.iter().zip(&inside).position(|(&x, &i)| x != 0 && !i);
        assert_eq!(stray, None, "{}: byte outside a segment", node.name);
        // One RX mapping per page of every channel the node reads.
        let rx_pages: u64 = s
            .channels
            .iter()
            .filter(|c| c.readers.contains(&node.name))
            .map(|c| c.pages())
            .sum();
        assert_eq!(v["rx_mappings"].as_array().unwrap().len() as u64, rx_pages);
    }
}

/// A scenario at other generator parameters runs on the Verilated cores (a core built at
/// them) as on the model, with the same results; the model refuses traces.
#[test]
fn other_core_parameters_run_on_both_backends_and_the_model_refuses_traces() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/many_to_many.toml");
    let s = Scenario::from_file(&path).unwrap();
    assert_ne!(s.sim.core, vassa_harness::scenario::CoreParams::default());
    let rtl = run_on(&s, "many_to_many.toml", Backend::Rtl);
    let model = run_on(&s, "many_to_many.toml", Backend::Model);
    assert_sound(&rtl, &s);
    assert_same_tables(&rtl, &model, "many_to_many.toml");
    // The cards split records at the scenario's max_payload: four packets for 512 bytes.
    let packets: u64 = rtl.channels.iter().map(|c| c.packets).sum();
    let sent: u64 = rtl.channels.iter().map(|c| c.sent).sum();
    assert!(packets > 2 * sent, "{packets} packets for {sent} messages");
    let trace = RunOptions {
        backend: Some(Backend::Model),
        trace: Some("t.vcd".into()),
        ..RunOptions::default()
    };
    let e = run(&s, "x.toml", &trace, &mut |_| {}).unwrap_err();
    assert!(
        e.to_string().contains("--trace needs the rtl backend"),
        "{e}"
    );
    assert_eq!(
        trace_file("out/run.vcd".as_ref(), "a"),
        PathBuf::from("out/run.a.vcd")
    );
}
