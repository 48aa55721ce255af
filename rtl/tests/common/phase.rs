//! Checks of what the bench logged against the reference model, phase by phase (a burst of
//! link traffic, then the host's resolves).

use super::{Ev, Harness, PHYS_FIRST_PAGE};
use std::collections::HashMap;
use vassa_model::rx::{split_link_units, LinkUnit, LinkWord, RxDelivery, RxDrop, RxEvent, RxModel};
use vassa_spec::params::PAGE_SHIFT;
use vassa_spec::trace::Verdict;

/// What the harness logs for a delivery the model expects (its `Delivered` event and, for
/// a signalled mapping, its `Notify`), with its payload written into `image`.
pub fn expect_delivery(d: &RxDelivery, image: &mut [u8]) -> (Ev, Option<Ev>) {
    let off = (d.addr - (PHYS_FIRST_PAGE << PAGE_SHIFT)) as usize;
    image[off..off + d.payload.len()].copy_from_slice(&d.payload);
    let len = d.payload.len() as u32;
    let notify = d.notify.then_some(Ev::Notify { nva: d.nva, len });
    let delivered = Ev::Delivered {
        slot: d.counter_slot,
        bytes: len,
    };
    (delivered, notify)
}

/// Expected outputs of a phase, from the model, against the events logged since `from`.
/// Misses are matched in order and their tags recorded in `tags` (model id -> tag).
pub fn check_phase(
    h: &Harness,
    from: usize,
    expected: &[RxEvent],
    tags: &mut HashMap<u64, u8>,
    image: &mut [u8],
) {
    let got: Vec<&Ev> = h.log[from..].iter().map(|(_, e)| e).collect();
    let mut want_drops: Vec<RxDrop> = vec![];
    let mut want_del = vec![];
    let mut want_notify = vec![];
    let mut want_miss = vec![];
    for e in expected {
        match e {
            RxEvent::Dropped(why) => want_drops.push(*why),
            RxEvent::Miss { id, page } => want_miss.push((*id, *page)),
            RxEvent::Delivered(d) => {
                let (delivered, notify) = expect_delivery(d, image);
                want_del.push(delivered);
                want_notify.extend(notify);
            }
        }
    }
    let mut got_drops: Vec<RxDrop> = got
        .iter()
        .filter_map(|e| match e {
            Ev::Drop(w) => Some(*w),
            _ => None,
        })
        .collect();
    want_drops.sort();
    got_drops.sort();
    assert_eq!(got_drops, want_drops, "drops");
    let got_del: Vec<Ev> = got
        .iter()
        .filter(|e| matches!(e, Ev::Delivered { .. }))
        .map(|e| (*e).clone())
        .collect();
    assert_eq!(got_del, want_del, "deliveries");
    let got_notify: Vec<Ev> = got
        .iter()
        .filter(|e| matches!(e, Ev::Notify { .. }))
        .map(|e| (*e).clone())
        .collect();
    assert_eq!(got_notify, want_notify, "notifications");
    let got_miss: Vec<(u32, u8)> = got
        .iter()
        .filter_map(|e| match e {
            Ev::Miss { page, tag } => Some((*page, *tag)),
            _ => None,
        })
        .collect();
    assert_eq!(
        got_miss.iter().map(|m| m.0).collect::<Vec<_>>(),
        want_miss.iter().map(|m| m.1).collect::<Vec<_>>(),
        "miss pages"
    );
    for ((id, _), (_, tag)) in want_miss.iter().zip(&got_miss) {
        if let Some(old) = tags.insert(*id, *tag) {
            assert_eq!(old, *tag, "a parked packet changed tag");
        }
    }
    assert!(h.mem == image, "memory image differs from the model");
}

/// Sends a burst, lets it drain and checks it against the model. Returns the units.
pub fn run_burst(
    h: &mut Harness,
    model: &mut RxModel,
    stream: &[Option<LinkWord>],
    tags: &mut HashMap<u64, u8>,
    image: &mut [u8],
) -> usize {
    let from = h.log.len();
    let words: Vec<LinkWord> = stream.iter().flatten().copied().collect();
    let (units, open) = split_link_units(&words);
    assert!(open.is_none(), "bursts end with a closed unit");
    let word_cycles = h.send(stream);
    h.quiesce();
    let (expected, overruns) = expect_link_units(h, model, &units, &word_cycles, from);
    check_phase(h, from, &expected, tags, image);
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, model.parked());
    overruns
}

/// The model's events for a burst's link units (sent at `word_cycles`, logged from
/// `from`), each told whether the RTL overran on it: its overrun pulse comes 2 cycles after
/// its end-of-packet word, and a pulse anywhere else fails. Returns the events and the
/// number of overruns.
pub fn expect_link_units(
    h: &Harness,
    model: &mut RxModel,
    units: &[LinkUnit],
    word_cycles: &[u64],
    from: usize,
) -> (Vec<RxEvent>, usize) {
    let overruns: Vec<u64> = h.log[from..]
        .iter()
        .filter(|(_, e)| *e == Ev::Drop(RxDrop::RxOverrun))
        .map(|(c, _)| *c)
        .collect();
    let lookup = |p: u32| h.cache.get(&p).copied();
    let mut expected = vec![];
    let mut matched = 0;
    for u in units {
        let end = word_cycles[u.start + u.words.len() - 1];
        let overrun = u.has_sop && u.complete && overruns.contains(&(end + 2));
        matched += overrun as usize;
        expected.push(model.receive(u, overrun, &lookup));
    }
    assert_eq!(
        matched,
        overruns.len(),
        "overrun pulses not at the end of a packet"
    );
    // One link verdict per link packet, in link order, deciding what the model decided.
    let want: Vec<Verdict> = units
        .iter()
        .zip(&expected)
        .filter(|(u, _)| u.is_link_packet())
        .map(|(_, e)| e.verdict().expect("a link packet's event is a verdict"))
        .collect();
    assert_eq!(link_verdicts(h, from), want, "link verdicts");
    (expected, overruns.len())
}

/// The link verdicts traced since log entry `from`, in order.
pub fn link_verdicts(h: &Harness, from: usize) -> Vec<Verdict> {
    h.log[from..]
        .iter()
        .filter_map(|(_, e)| match e {
            Ev::Verdict {
                link: true, code, ..
            } => Some(*code),
            _ => None,
        })
        .collect()
}

/// What the trace shows for the model's answer to a resolve of miss buffer `tag`: a host
/// drop, or the retry's verdict.
pub fn expect_resolve_trace(e: &RxEvent, tag: u8) -> Ev {
    match e.verdict() {
        None => Ev::HostDrop { tag },
        Some(code) => Ev::Verdict {
            link: false,
            code,
            tag,
        },
    }
}

/// A resolve as the host issues it, checked against the model.
pub fn run_resolve(
    h: &mut Harness,
    model: &mut RxModel,
    tag: u8,
    id: Option<u64>,
    drop: bool,
    tags: &mut HashMap<u64, u8>,
    image: &mut [u8],
) {
    let from = h.log.len();
    h.cycle(None, Some((tag, drop)));
    h.quiesce();
    let lookup = |p: u32| h.cache.get(&p).copied();
    let expected: Vec<RxEvent> = id
        .and_then(|id| model.resolve(id, drop, &lookup))
        .into_iter()
        .collect();
    if let Some(RxEvent::Miss { id, .. }) = expected.first() {
        // Still missing: the new miss names the same buffer.
        let again = h.log[from..]
            .iter()
            .find_map(|(_, e)| match e {
                Ev::Miss { tag, .. } => Some(*tag),
                _ => None,
            })
            .expect("a new miss");
        assert_eq!(again, tags[id]);
        h.remisses += 1;
    }
    let traced: Vec<&Ev> = h.log[from..]
        .iter()
        .map(|(_, e)| e)
        .filter(|e| matches!(e, Ev::Verdict { .. } | Ev::HostDrop { .. }))
        .collect();
    let want: Vec<Ev> = expected
        .iter()
        .map(|e| expect_resolve_trace(e, tag))
        .collect();
    assert_eq!(traced, want.iter().collect::<Vec<_>>(), "resolve trace");
    check_phase(h, from, &expected, tags, image);
    assert_eq!(h.b.uut.miss.parked.val().to_u32() as usize, model.parked());
}
