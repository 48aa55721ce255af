//! Tests of the `mapping_cache` block: behaviour against its reference, replay in Icarus, synthesis checks.
use super::*;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::collections::VecDeque;
use vassa_hdl_tools::testbench::{yosys_check, Bench};
use vassa_model::mapping_cache::{LookupResult, Mapping, MappingCacheModel};

fn bench(entries: usize) -> Bench<MappingCache> {
    Bench::new(MappingCache::new(entries), |c| &mut c.clock)
}

/// One cycle of stimulus.
#[derive(Debug, Clone, Copy, Default)]
struct Cycle {
    op: Option<(u32, u32, u32, Mapping)>,
    lookup: Option<(u32, u32)>,
}

fn drive(b: &mut Bench<MappingCache>, c: &Cycle) {
    let u = &mut b.uut;
    let (code, slot, key, m) = c.op.unwrap_or_default();
    u.op.valid.next = c.op.is_some();
    u.op.code.next = (code as u64).into();
    u.op.slot.next = (slot as u64).into();
    u.op.key.next = (key as u64).into();
    u.op.page.next = (m.page as u64).into();
    u.op.writable.next = m.writable;
    u.op.signal.next = m.signal;
    u.op.counter_slot.next = (m.counter_slot as u64).into();
    u.op.epoch.next = (m.epoch as u64).into();
    let (key, tag) = c.lookup.unwrap_or_default();
    u.lookup.valid.next = c.lookup.is_some();
    u.lookup.key.next = (key as u64).into();
    u.lookup.tag.next = (tag as u64).into();
}

/// The result on the outputs now, if `result_valid`.
/// Drives `seq` one cycle each; returns (tag, hit, slot, page) of every result seen.
/// Drives `seq` one step each, as a well-behaved host and requester would: an op waits
/// until the cache is not busy, and a lookup is followed by an idle cycle (so none is
/// preempted). Returns (tag, hit, slot, page) of every result seen.
fn run_summary(b: &mut Bench<MappingCache>, seq: &[Cycle]) -> Vec<(u32, bool, u32, u32)> {
    let mut summary = vec![];
    let mut step = |b: &mut Bench<MappingCache>, c: &Cycle| {
        drive(b, c);
        b.step();
        summary.extend(result(b).map(|(t, r)| (t, r.hit, r.slot, r.mapping.page)));
    };
    for c in seq {
        let mut waited = 0;
        while c.op.is_some() && b.uut.op.busy.val() {
            step(b, &Cycle::default());
            waited += 1;
            assert!(waited < 10, "install still busy after {waited} idle cycles");
        }
        step(b, c);
        if c.lookup.is_some() {
            step(b, &Cycle::default());
        }
    }
    for _ in 0..LOOKUP_LATENCY {
        step(b, &Cycle::default());
    }
    summary
}

fn result(b: &Bench<MappingCache>) -> Option<(u32, LookupResult)> {
    let u = &b.uut;
    let n = |x: u64| x as u32;
    u.lookup.result_valid.val().then(|| {
        (
            n(u.lookup.result_tag.val().to_u64()),
            LookupResult {
                key: n(u.lookup.result_key.val().to_u64()),
                hit: u.lookup.result_hit.val(),
                slot: n(u.lookup.result_slot.val().to_u64()),
                mapping: Mapping {
                    page: n(u.lookup.result_page.val().to_u64()),
                    writable: u.lookup.result_writable.val(),
                    signal: u.lookup.result_signal.val(),
                    counter_slot: n(u.lookup.result_counter_slot.val().to_u64()),
                    epoch: n(u.lookup.result_epoch.val().to_u64()),
                },
            },
        )
    })
}

/// Runs `cycles` (plus a drain) through the block and the model. An op strobed while
/// `busy` is refused (the model does not see it); a lookup presented in the cycle after
/// another preempts it (its result has `result_valid` low). Every output cycle must carry
/// exactly the result the model gave for the lookup LOOKUP_LATENCY cycles earlier.
fn check_against_model(entries: usize, cycles: &[Cycle]) -> Result<(), TestCaseError> {
    let mut b = bench(entries);
    let mut model = MappingCacheModel::new(entries);
    let mut in_flight: VecDeque<Option<(u32, LookupResult)>> = VecDeque::new();
    let drain = [Cycle::default(); 12];
    let (mut applied, mut refused) = (0, 0);
    for (t, c) in cycles.iter().chain(drain.iter()).enumerate() {
        let busy = b.uut.op.busy.val();
        drive(&mut b, c);
        // The lookup sees the state after this cycle's op, if it is accepted.
        if let Some((code, slot, key, m)) = c.op {
            if busy {
                refused += 1;
            } else {
                applied += 1;
                model.op(code, slot, key, m);
            }
        }
        if c.lookup.is_some() {
            if let Some(last) = in_flight.back_mut() {
                *last = None;
            }
        }
        in_flight.push_back(c.lookup.map(|(key, tag)| (tag, model.lookup(key))));
        b.step();
        let expected = if in_flight.len() == LOOKUP_LATENCY as usize {
            in_flight.pop_front().unwrap()
        } else {
            None
        };
        prop_assert_eq!(result(&b), expected, "output after cycle {}", t);
    }
    prop_assert!(!b.uut.op.busy.val(), "an install never finished");
    prop_assert!(applied > 0, "no op applied ({refused} refused)");
    Ok(())
}

fn mapping() -> impl Strategy<Value = Mapping> {
    (
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(|(page, writable, signal, counter_slot, epoch)| {
            Mapping {
                page,
                writable,
                signal,
                counter_slot,
                epoch,
            }
            .masked()
        })
}

/// Mostly a few keys, so installs collide and lookups hit; sometimes any key.
fn key() -> impl Strategy<Value = u32> {
    prop_oneof![8 => 0u32..5, 1 => 0u32..(1 << PAGE_BITS)]
}

fn cycle(entries: u32) -> impl Strategy<Value = Cycle> {
    // Mostly installs of a few keys, so keys sit in several entries (the highest wins);
    // rare flushes, so state builds up.
    // Slots up to entries + 1 exercise the "slot >= entries is ignored" rule; code 0 is a
    // strobe that does nothing.
    let code = prop_oneof![
        12 => Just(MAP_OP_INSTALL),
        4 => Just(MAP_OP_INVALIDATE),
        1 => Just(MAP_OP_FLUSH),
        1 => Just(0),
    ];
    let op = (code, 0..entries + 2, key(), mapping());
    (
        proptest::option::weighted(0.35, op),
        proptest::option::weighted(0.7, (key(), 0u32..16)),
    )
        .prop_map(|(op, lookup)| Cycle { op, lookup })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn lookups_match_the_reference_model(
        cycles in proptest::collection::vec(cycle(4), 40..120)
    ) {
        check_against_model(4, &cycles)?;
    }

    /// Two chunk RAMs per chunk (entries 16..32 in the second).
    #[test]
    fn thirty_two_entries_match_the_reference_model(
        cycles in proptest::collection::vec(cycle(32), 40..120)
    ) {
        check_against_model(32, &cycles)?;
    }
}

fn install(slot: u32, key: u32, page: u32) -> Cycle {
    let m = Mapping {
        page,
        writable: true,
        signal: false,
        counter_slot: 5,
        epoch: 0xA7,
    };
    Cycle {
        op: Some((MAP_OP_INSTALL, slot, key, m)),
        lookup: None,
    }
}

#[test]
fn latency_is_two_cycles_and_ops_apply_from_their_own_cycle() {
    let mut b = bench(16);
    // A lookup two cycles before an install misses; a lookup in the install's own cycle
    // hits. Count the cycles until each result appears.
    let look = |key, tag| Cycle {
        op: None,
        lookup: Some((key, tag)),
    };
    let mut c = install(3, 0x12345, 0xABCDE);
    c.lookup = Some((0x12345, 2));
    let seq = [look(0x12345, 1), Cycle::default(), c];
    let mut seen = vec![];
    for cycles in 0..10 {
        drive(&mut b, seq.get(cycles).unwrap_or(&Cycle::default()));
        b.step();
        if let Some(r) = result(&b) {
            // Steps since the lookup was presented (lookup 2 two cycles after lookup 1).
            seen.push((cycles + 1 - 2 * seen.len(), r));
        }
    }
    assert_eq!(seen.len(), 2);
    let (lat1, (tag1, miss)) = seen[0];
    let (lat2, (tag2, hit)) = seen[1];
    // Results appear exactly LOOKUP_LATENCY edges after the request.
    assert_eq!(lat1, LOOKUP_LATENCY as usize);
    assert_eq!(lat2, LOOKUP_LATENCY as usize);
    assert_eq!(
        (tag1, miss.hit, miss.key, miss.mapping),
        (1, false, 0x12345, Mapping::default())
    );
    assert_eq!(
        (tag2, hit.hit, hit.slot, hit.mapping.page),
        (2, true, 3, 0xABCDE)
    );
    assert_eq!((hit.mapping.counter_slot, hit.mapping.epoch), (5, 0xA7));
}

#[test]
fn a_lookup_in_the_next_cycle_preempts_the_previous_one() {
    let mut b = bench(4);
    let look = |key, tag| Cycle {
        op: None,
        lookup: Some((key, tag)),
    };
    let mut seen = vec![];
    for c in [
        install(1, 9, 90),
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
        look(9, 1),
        look(9, 2), // preempts tag 1
        look(9, 3), // preempts tag 2
        Cycle::default(),
        Cycle::default(),
        Cycle::default(),
    ] {
        drive(&mut b, &c);
        b.step();
        seen.extend(result(&b).map(|(t, r)| (t, r.hit, r.mapping.page)));
    }
    assert_eq!(seen, vec![(3, true, 90)]);
}

#[test]
fn ops_while_busy_are_refused_and_installs_finish_between_spaced_lookups() {
    let mut b = bench(16);
    let mut model = MappingCacheModel::new(16);
    let mut rng = vassa_hdl_tools::testbench::XorShift(7);
    let mut busy_run = 0;
    let mut refused = 0;
    let mut next_lookup = 0;
    for t in 0..3000u32 {
        let busy = b.uut.op.busy.val();
        // Link lookups: 4 or more cycles apart (well-formed packets), whatever `busy` says.
        let lookup = (t == next_lookup).then(|| ((rng.next_u64() % 4) as u32, 0));
        if lookup.is_some() {
            next_lookup = t + 4 + (rng.next_u64() % 3) as u32;
        }
        let op = rng.next_u64().is_multiple_of(3).then(|| {
            let slot = (rng.next_u64() % 16) as u32;
            let m = Mapping {
                page: t,
                ..Default::default()
            };
            (MAP_OP_INSTALL, slot, (rng.next_u64() % 4) as u32, m)
        });
        if let Some((code, slot, key, m)) = op {
            if busy {
                refused += 1;
            } else {
                model.op(code, slot, key, m);
            }
        }
        drive(&mut b, &Cycle { op, lookup });
        b.step();
        busy_run = if b.uut.op.busy.val() { busy_run + 1 } else { 0 };
        assert!(
            busy_run <= MAX_BUSY_CYCLES,
            "install busy for {busy_run} cycles at {t}"
        );
    }
    assert!(refused > 100, "{refused}");
    // Nothing refused reached the cache: every key answers as in the model.
    for key in 0..4 {
        let r = run_summary(
            &mut b,
            &[Cycle {
                op: None,
                lookup: Some((key, key)),
            }],
        );
        let want = model.lookup(key);
        assert_eq!(r, vec![(key, want.hit, want.slot, want.mapping.page)]);
    }
}

#[test]
fn a_duplicate_key_resolves_to_the_highest_entry_and_bad_slots_are_ignored() {
    let mut b = bench(4);
    let look = |key, tag| Cycle {
        op: None,
        lookup: Some((key, tag)),
    };
    let seq = [
        install(2, 7, 200),
        install(0, 7, 100), // a contract breach: key 7 in entries 0 and 2; entry 2 wins
        install(4, 9, 300), // slot 4 >= 4 entries: ignored
        look(7, 0),
        look(9, 1),
        Cycle {
            op: Some((MAP_OP_INVALIDATE, 2, 0, Mapping::default())),
            lookup: Some((7, 2)), // sees entry 0 already (an op applies in its own cycle)
        },
        look(7, 3),
        Cycle::default(),
        Cycle::default(),
    ];
    let summary = run_summary(&mut b, &seq);
    assert_eq!(
        summary,
        vec![
            (0, true, 2, 200),
            (1, false, 0, 0),
            (2, true, 0, 100), // entry 0's own mapping, not a mix with entry 2's
            (3, true, 0, 100)
        ]
    );
}

#[test]
fn sixty_four_entries_use_every_slot() {
    let mut b = bench(MAX_ENTRIES);
    let seq = [
        install(63, 0x5, 0x63),
        install(0, 0x6, 0x1),
        Cycle {
            op: None,
            lookup: Some((0x5, 1)),
        },
        Cycle {
            op: None,
            lookup: Some((0x6, 2)),
        },
        Cycle {
            op: Some((MAP_OP_FLUSH, 63, 0, Mapping::default())),
            lookup: Some((0x6, 3)),
        },
        Cycle::default(),
        Cycle::default(),
    ];
    let summary = run_summary(&mut b, &seq);
    assert_eq!(
        summary,
        vec![(1, true, 63, 0x63), (2, true, 0, 0x1), (3, false, 0, 0)]
    );
}

#[test]
fn verilog_matches_the_simulation() {
    let entries = 4;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let cycles = proptest::collection::vec(cycle(entries as u32), 1500)
        .new_tree(&mut runner)
        .unwrap()
        .current();
    let mut b = bench(entries);
    b.record();
    let mut hits = 0;
    for c in &cycles {
        drive(&mut b, c);
        b.step();
        hits += b.uut.lookup.result_hit.val() as usize;
    }
    assert!(hits > 100, "only {hits} hits: stimulus too weak");
    b.replay("mapping_cache");
}

#[test]
fn verilog_is_clean() {
    let v = yosys_check("mapping_cache", MappingCache::new(16));
    assert!(v.contains("mem[0:255]"));
    vassa_hdl_tools::testbench::lint_check("mapping_cache", MappingCache::new(16));
}
