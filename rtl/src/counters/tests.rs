//! Tests of the `counters` block: behaviour against its reference, replay in Icarus, synthesis checks.
use super::*;
use crate::spec::regmap::global_counter_index;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::BTreeMap;
use vassa_hdl_tools::testbench::{yosys_check, Bench};

fn bench(slots: usize) -> Bench<TrafficCounters> {
    Bench::new(TrafficCounters::new(slots), |c| &mut c.clock)
}

/// One cycle of stimulus.
#[derive(Debug, Clone, Copy, Default)]
struct Cycle {
    tx: Option<(u32, u32)>,
    rx: Option<(u32, u32)>,
    globals: u32,
    read: Option<u32>,
}

/// The event spacing the core guarantees (module doc): TX events at least four cycles
/// apart, RX events in runs of at most three cycles. Events breaking it are removed.
fn legal(cycles: &mut [Cycle]) {
    let mut since_tx = 4;
    let mut rx_run = 0;
    for c in cycles {
        since_tx += 1;
        if c.tx.is_some() {
            if since_tx < 4 {
                c.tx = None;
            } else {
                since_tx = 0;
            }
        }
        if c.rx.is_some() && rx_run == 3 {
            c.rx = None;
        }
        rx_run = if c.rx.is_some() { rx_run + 1 } else { 0 };
    }
}

fn drive(b: &mut Bench<TrafficCounters>, c: &Cycle) {
    let u = &mut b.uut;
    let (slot, bytes) = c.tx.unwrap_or_default();
    u.sent.valid.next = c.tx.is_some();
    u.sent.slot.next = (slot as u64).into();
    u.sent.bytes.next = (bytes as u64).into();
    let (slot, bytes) = c.rx.unwrap_or_default();
    u.delivered.valid.next = c.rx.is_some();
    u.delivered.slot.next = (slot as u64).into();
    u.delivered.bytes.next = (bytes as u64).into();
    u.global_events.next = (c.globals as u64).into();
    u.read.strobe.next = c.read.is_some();
    u.read.addr.next = (c.read.unwrap_or_default() as u64).into();
}

/// Why the coming clock edge would drop an event, if it would (call after `settle`).
fn dropped(u: &TrafficCounters) -> Option<String> {
    if u.tx_push.val() && u.tx_head_full.val() && u.tx1_valid.q.val() && !u.tx_go.val() {
        return Some("TX queue full".into());
    }
    let max = (1u64 << PEND_BITS) - 1;
    for j in 0..GLOBAL_PAIRS {
        for (k, p) in [&u.pend_p[j], &u.pend_b[j]].into_iter().enumerate() {
            let bit = u.global_events.val().get_bit(2 * j + k);
            if bit && p.q.val().to_u64() == max {
                return Some(format!("global {} pending wraps", 2 * j + k));
            }
        }
    }
    None
}

/// Drives a cycle and applies its clock edge, checking that no event is dropped.
fn cycle(b: &mut Bench<TrafficCounters>, c: &Cycle) {
    drive(b, c);
    b.settle();
    if let Some(why) = dropped(&b.uut) {
        panic!("cycle {}: {why}", b.cycle);
    }
    b.step();
}

fn apply(model: &mut TrafficCountersModel, c: &Cycle) {
    if let Some((slot, bytes)) = c.tx {
        model.tx_event(slot, bytes);
    }
    if let Some((slot, bytes)) = c.rx {
        model.rx_event(slot, bytes);
    }
    model.global_events(c.globals);
}

fn read_out(b: &Bench<TrafficCounters>) -> Option<u32> {
    b.uut
        .read
        .valid
        .val()
        .then(|| b.uut.read.data.val().to_u64() as u32)
}

/// Strobes a read and steps until `read_valid`: (value, cycles from strobe to valid).
fn read(b: &mut Bench<TrafficCounters>, addr: u32, during: &[Cycle]) -> (u32, usize) {
    for n in 0..50 {
        let mut c = during.get(n).copied().unwrap_or_default();
        c.read = (n == 0).then_some(addr);
        cycle(b, &c);
        if let Some(v) = read_out(b) {
            return (v, n + 1);
        }
    }
    panic!("no answer to a read of {addr:#x}");
}

/// Runs traffic with reads at the given times (a read while one is outstanding is not
/// strobed: the bus waits for read_valid). For each counter, the running sum of the values
/// read must lie between the model's total before the cycle after the strobe (events of
/// the strobe cycle are in the value) and its total up to the cycle before the answer (the latest clearing cycle); at the end
/// every counter is read once more and the sum must equal the model's total exactly.
/// Returns the longest read latency and the largest pending global count seen.
fn check_totals(slots: usize, cycles: &[Cycle]) -> Result<(usize, u64), TestCaseError> {
    let mut b = bench(slots);
    // history[t]: totals of the events of cycles < t (the model is never cleared).
    let mut totals = TrafficCountersModel::new(slots);
    let mut history = vec![totals.clone()];
    let mut sums: BTreeMap<CounterId, u32> = BTreeMap::new();
    let mut outstanding: Option<(u32, usize)> = None;
    let mut slowest = 0;
    let mut most_pending = 0;
    let drain = [Cycle::default(); 40];
    for (t, c) in cycles.iter().chain(drain.iter()).enumerate() {
        let mut c = *c;
        if outstanding.is_some() {
            c.read = None;
        } else if let Some(addr) = c.read {
            outstanding = Some((addr, t));
        }
        cycle(&mut b, &c);
        for p in b.uut.pend_p.iter().chain(&b.uut.pend_b) {
            most_pending = most_pending.max(p.q.val().to_u64());
        }
        apply(&mut totals, &c);
        history.push(totals.clone());
        // Outputs now show cycle t + 1.
        let answer = read_out(&b);
        match (answer, outstanding) {
            (None, _) => {}
            (Some(_), None) => prop_assert!(false, "read_valid without a read (cycle {})", t),
            (Some(v), Some((addr, strobe))) => {
                outstanding = None;
                slowest = slowest.max(t + 1 - strobe);
                match totals.counter_at(addr) {
                    None => prop_assert_eq!(v, 0, "unmapped {:#x}", addr),
                    Some(id) => {
                        let sum = sums.entry(id).or_default();
                        *sum = sum.wrapping_add(v);
                        let lo = history[strobe + 1].get(id);
                        let hi = history[t + 1].get(id);
                        prop_assert!(
                            lo <= *sum && *sum <= hi,
                            "{:?} read at {}..{}: sum {} not in {}..={}",
                            id,
                            strobe,
                            t + 1,
                            *sum,
                            lo,
                            hi
                        );
                    }
                }
            }
        }
    }
    prop_assert!(outstanding.is_none(), "a read was never answered");
    for id in totals.counter_ids() {
        let (v, _) = read(&mut b, TrafficCountersModel::addr_of(id), &[]);
        let sum = sums.entry(id).or_default().wrapping_add(v);
        prop_assert_eq!(sum, totals.get(id), "{:?}", id);
    }
    Ok((slowest, most_pending))
}

fn event(slots: u32) -> impl Strategy<Value = Option<(u32, u32)>> {
    // Slot `slots` is beyond the RAM: counted nowhere, must not disturb the others.
    proptest::option::weighted(0.55, (0..slots + 1, 0u32..(1 << LENGTH_BITS)))
}

fn address(slots: u32) -> impl Strategy<Value = u32> {
    let globals = GLOBAL_COUNTERS.len() as u32;
    prop_oneof![
        3 => (0..globals, 0u32..4).prop_map(|(i, low)| global_counter_addr(i) + low),
        6 => (0..slots, 0u32..4).prop_map(|(s, k)| slot_counter_addr(s, k)),
        1 => 0u32..(1 << ADDR_BITS),
    ]
}

fn stimulus(slots: u32) -> impl Strategy<Value = Cycle> {
    (
        event(slots),
        event(slots),
        prop_oneof![0u32..(1 << GLOBAL_EVENT_BITS), Just(0)],
        proptest::option::weighted(0.3, address(slots)),
    )
        .prop_map(|(tx, rx, globals, read)| Cycle {
            tx,
            rx,
            globals,
            read,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn nothing_is_lost_or_counted_twice(
        mut cycles in proptest::collection::vec(stimulus(4), 40..80)
    ) {
        legal(&mut cycles);
        check_totals(4, &cycles)?;
    }
}

#[test]
fn read_latency_and_clearing_cycle() {
    let mut b = bench(8);
    let misses = global_counter_index("misses");
    let m_bit = 1 << misses;
    let m_addr = global_counter_addr(misses as u32);
    // Events up to the strobe cycle count in the value; those of the clearing cycle (the
    // next one, with an idle engine) stay pending for the next read.
    let ev = Cycle {
        globals: m_bit,
        ..Default::default()
    };
    cycle(&mut b, &ev);
    for _ in 0..8 {
        cycle(&mut b, &Cycle::default()); // flushed
    }
    assert_eq!(read(&mut b, m_addr, &[ev, ev, ev]), (2, READ_LATENCY));
    for _ in 0..8 {
        cycle(&mut b, &Cycle::default());
    }
    assert_eq!(read(&mut b, m_addr, &[]), (1, READ_LATENCY));
    for _ in 0..8 {
        cycle(&mut b, &Cycle::default());
    }
    assert_eq!(read(&mut b, m_addr, &[]), (0, READ_LATENCY));
    // Unmapped addresses read 0.
    assert_eq!(read(&mut b, 0x0FC, &[]), (0, UNMAPPED_READ_LATENCY));
    assert_eq!(
        read(&mut b, slot_counter_addr(8, 0), &[]),
        (0, UNMAPPED_READ_LATENCY)
    );

    // A slot counter with an idle engine.
    let tx = |slot, bytes| Cycle {
        tx: Some((slot, bytes)),
        ..Default::default()
    };
    let rx = |slot, bytes| Cycle {
        rx: Some((slot, bytes)),
        ..Default::default()
    };
    for c in [tx(3, 100), Cycle::default(), tx(3, 20), Cycle::default()] {
        cycle(&mut b, &c);
    }
    let tx_bytes = slot_counter_addr(3, 1);
    assert_eq!(read(&mut b, tx_bytes, &[]), (120, READ_LATENCY));
    // RX events (other slot) take the engine first: one cycle each.
    // (Different slots: consecutive events of one slot are merged into one op.)
    let (v, lat) = read(
        &mut b,
        slot_counter_addr(3, 0),
        &[rx(2, 1), rx(0, 1), rx(2, 1)],
    );
    assert_eq!((v, lat), (2, READ_LATENCY + 3));
    // An event of the read slot in the strobe cycle is in the value; the read waits while
    // events of its slot are in flight (here merged into one op, then one more).
    let busy = [rx(3, 7), rx(3, 7), rx(3, 7)];
    let (v, lat) = read(&mut b, slot_counter_addr(3, 3), &busy);
    assert_eq!(v, 21);
    assert!(lat <= READ_LATENCY + 4, "latency {lat}");
    assert_eq!(
        read(&mut b, slot_counter_addr(3, 3), &[]),
        (0, READ_LATENCY)
    );
    assert_eq!(
        read(&mut b, slot_counter_addr(3, 2), &[]),
        (3, READ_LATENCY)
    );
    assert_eq!(
        read(&mut b, slot_counter_addr(2, 2), &[]),
        (2, READ_LATENCY)
    );
}

/// Steps until stage 1 holds an op on `word`, then makes the RAM words it read `packets`
/// and `bytes`.
fn preset(b: &mut Bench<TrafficCounters>, word: u32, packets: u32, bytes: u32) {
    for _ in 0..20 {
        if b.uut.s1_valid.q.val() && b.uut.s1_addr.q.val().index() as u32 == word {
            b.uut.packets.read_data.next = packets.to_bits();
            b.uut.octets.read_data.next = bytes.to_bits();
            return;
        }
        cycle(b, &Cycle::default());
    }
    panic!("no op on word {word}");
}

#[test]
fn counters_wrap_at_32_bits() {
    let slots = 2;
    let mut b = bench(slots);
    // Globals 0 and 1 share the first pair word.
    cycle(
        &mut b,
        &Cycle {
            globals: 0b11,
            ..Default::default()
        },
    );
    preset(&mut b, PAIR_WORDS, u32::MAX, u32::MAX - 1);
    cycle(&mut b, &Cycle::default());
    assert_eq!(read(&mut b, global_counter_addr(0), &[]).0, 0);
    assert_eq!(read(&mut b, global_counter_addr(1), &[]).0, u32::MAX);
    // Slot: the RX event's op reads the words; replace them by the top values.
    cycle(
        &mut b,
        &Cycle {
            rx: Some((1, 0x20)),
            ..Default::default()
        },
    );
    preset(&mut b, RX_WORDS + 1, u32::MAX, u32::MAX - 0xF);
    cycle(&mut b, &Cycle::default());
    assert_eq!(read(&mut b, slot_counter_addr(1, 2), &[]).0, 0);
    assert_eq!(read(&mut b, slot_counter_addr(1, 3), &[]).0, 0x10);
}

/// The worst case of the module doc: every global counts in every cycle, RX events as
/// dense as the line writer can make them (a ring job every three cycles, a retried job
/// every five), TX events every four cycles, and the host reading back to back.
#[test]
fn hammered_globals_lose_nothing() {
    let slots = 4u32;
    let n = 1500;
    let mut ring = 0;
    let mut retry = 0;
    let addrs: Vec<u32> = (0..GLOBAL_EVENT_BITS as u32)
        .map(global_counter_addr)
        .chain((0..slots).flat_map(|s| (0..4).map(move |k| slot_counter_addr(s, k))))
        .collect();
    let cycles: Vec<Cycle> = (0..n)
        .map(|t: usize| {
            ring += 1;
            retry += 1;
            let rx = if ring >= 3 {
                ring = 0;
                true
            } else if retry >= 5 {
                retry = 0;
                true
            } else {
                false
            };
            Cycle {
                tx: t
                    .is_multiple_of(4)
                    .then_some(((t / 4) as u32 % slots, 4096)),
                rx: rx.then_some(((t / 7) as u32 % slots, 8191)),
                globals: (1 << GLOBAL_EVENT_BITS) - 1,
                read: Some(addrs[t % addrs.len()]),
            }
        })
        .collect();
    let (slowest, most_pending) = check_totals(slots as usize, &cycles).unwrap();
    println!("slowest read {slowest} cycles, most pending {most_pending}");
    assert!(
        most_pending < 1 << (PEND_BITS - 1),
        "{most_pending} pending"
    );
    assert!(slowest <= 24, "a read took {slowest} cycles");
}

/// Host reads racing events of the same counter: strobes in every position around runs
/// of same-slot events of both directions (merged ops) and around global events.
#[test]
fn reads_racing_events_of_the_same_counter() {
    let slots = 4;
    let mut cycles = Vec::new();
    for offset in 0..5 {
        for (k, kind) in [1u32, 2, 0, 3].into_iter().enumerate() {
            let mut burst = vec![Cycle::default(); 12];
            // Three RX events of slot 1 back to back, two TX events of slot 1.
            for c in &mut burst[2..5] {
                c.rx = Some((1, 10 + k as u32));
            }
            burst[2].tx = Some((1, 3));
            burst[6].tx = Some((1, 5));
            for c in &mut burst[1..7] {
                c.globals = 1 << (2 * k + 1) | 1;
            }
            burst[1 + offset].read = Some(slot_counter_addr(1, kind));
            burst[9].read = Some(global_counter_addr(2 * k as u32 + (offset as u32 & 1)));
            cycles.extend(burst);
        }
    }
    // A TX burst held back by RX events: queued events of one slot issue merged.
    let mut burst = vec![Cycle::default(); 14];
    for c in &mut burst[0..3] {
        c.rx = Some((2, 1));
    }
    for c in &mut burst[4..7] {
        c.rx = Some((2, 1));
    }
    burst[0].tx = Some((0, 9));
    burst[4].tx = Some((0, 9));
    burst[5].read = Some(slot_counter_addr(0, 1));
    cycles.extend(burst);
    legal(&mut cycles);
    check_totals(slots, &cycles).unwrap();
}

#[test]
fn verilog_matches_the_simulation() {
    let slots = 4;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut cycles = proptest::collection::vec(stimulus(slots as u32), 2000)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    legal(&mut cycles);
    let mut b = bench(slots);
    b.record();
    let mut answers = 0;
    let mut waiting = false;
    for c in &cycles {
        let mut c = *c;
        if waiting {
            c.read = None;
        }
        waiting |= c.read.is_some();
        cycle(&mut b, &c);
        waiting &= !b.uut.read.valid.val();
        answers += (b.uut.read.valid.val() && b.uut.read.data.val().any()) as usize;
    }
    assert!(
        answers > 100,
        "only {answers} non-zero answers: stimulus too weak"
    );
    b.replay("traffic_counters");
}

#[test]
fn verilog_is_clean() {
    let v = yosys_check("traffic_counters", TrafficCounters::new(32));
    assert!(v.contains("mem[0:255]"));
    vassa_hdl_tools::testbench::lint_check("traffic_counters", TrafficCounters::new(32));
}
