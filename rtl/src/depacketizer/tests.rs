use super::*;
use crate::spec::packet::{decode, Header};
use crate::spec::packet::{encode, packet_words, H1_LENGTH};
use crate::spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use crate::spec::trace::RxTrace;
use crate::spec::trace::Verdict;
use crate::testbench::{yosys_check, Bench};
use proptest::prelude::*;
use std::collections::{HashMap, VecDeque};

/// An event seen on the block's outputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    Delivered {
        slot: u8,
        bytes: u32,
    },
    Notify {
        nva: u32,
        len: u32,
    },
    Miss {
        page: u32,
        tag: u8,
    },
    Drop(RxDrop),
    /// A verdict on the trace (for a link packet, or a retry of miss buffer `tag`).
    Verdict {
        link: bool,
        code: Verdict,
        tag: u8,
    },
    /// A host drop on the trace.
    HostDrop {
        tag: u8,
    },
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Physical pages the mappings point at; memory outside them must never be written.
const PHYS_FIRST_PAGE: u32 = 0x80;
const PHYS_PAGES: u32 = 6;

/// A lookup in flight in the modelled cache.
struct Pending {
    /// Cycle of the answer.
    due: u64,
    answer: Option<RxMapping>,
    /// Not preempted: the answer comes with `result_valid` high.
    valid: bool,
    /// A link lookup (else a retry).
    link: bool,
}

/// Depacketizer with a modelled RX cache and a memory with a random `wr_ready`. The cache
/// follows the mapping cache's contract: it answers exactly 2 cycles after a lookup, but a
/// lookup in the cycle right after another preempts it (the earlier answer comes with
/// `result_valid` low and garbage fields); it raises `lookup_hold` in random bursts when
/// `hold_pct` is not 0. The harness checks the depacketizer's side of the contract: a link
/// lookup the cycle after every start of a packet of two words or more, and retry lookups
/// only when no lookup was presented in the previous cycle and `lookup_hold` is low.
struct Harness {
    b: Bench<Depacketizer>,
    params: CoreParams,
    cache: HashMap<u32, RxMapping>,
    results: VecDeque<Pending>,
    mem: Vec<u8>,
    rng: Rng,
    /// `wr_ready` is low with probability stall/8.
    stall: u64,
    /// `wr_ready` is low before this cycle.
    hold_until: u64,
    /// Chance in percent per cycle that `lookup_hold` starts a burst (1 to 4 cycles high).
    hold_pct: u64,
    /// Cycles of the current `lookup_hold` burst still to come.
    hold_left: u64,
    /// The previous cycle presented a lookup.
    prev_lookup: bool,
    /// The previous cycle had a start of packet that needs a link lookup.
    prev_sop: bool,
    log: Vec<(u64, Ev)>,
    last_write: u64,
    lookups: u64,
    /// Retries that missed again.
    remisses: u64,
    /// Retry lookups presented, and those preempted by a link lookup.
    retry_lookups: u64,
    retries_preempted: u64,
    /// Link lookups preempted by a link lookup (cut packets).
    links_preempted: u64,
    /// Cycles with `lookup_hold` high.
    hold_cycles: u64,
    /// Retry lookups withdrawn because `lookup_hold` rose in their cycle.
    retries_withdrawn: u64,
}

impl Harness {
    fn new(params: &CoreParams, seed: u64, stall: u64) -> Self {
        let mut rng = Rng(seed | 1);
        let mem = (0..PHYS_PAGES * PAGE_SIZE)
            .map(|_| rng.next() as u8)
            .collect();
        Harness {
            b: Bench::new(Depacketizer::new(params), |d| &mut d.clock),
            params: *params,
            cache: HashMap::new(),
            results: VecDeque::new(),
            mem,
            rng,
            stall,
            hold_until: 0,
            hold_pct: 0,
            hold_left: 0,
            prev_lookup: false,
            prev_sop: false,
            log: Vec::new(),
            last_write: 0,
            lookups: 0,
            remisses: 0,
            retry_lookups: 0,
            retries_preempted: 0,
            links_preempted: 0,
            hold_cycles: 0,
            retries_withdrawn: 0,
        }
    }

    fn n(&self) -> usize {
        self.params.miss_buffer_packets as usize
    }

    /// One clock cycle with the given link word and resolve.
    fn cycle(&mut self, link: Option<LinkWord>, resolve: Option<(u8, bool)>) {
        let c = self.b.cycle;
        let ready = c >= self.hold_until && (self.stall == 0 || self.rng.below(8) >= self.stall);
        if self.hold_left == 0 && self.hold_pct != 0 && self.rng.below(100) < self.hold_pct {
            self.hold_left = 1 + self.rng.below(4);
        }
        let hold = self.hold_left != 0;
        if hold {
            self.hold_left -= 1;
            self.hold_cycles += 1;
        }
        let garbage = self.rng.next();
        let u = &mut self.b.uut;
        u.lookup_hold.next = hold;
        u.rx_valid.next = link.is_some();
        let w = link.unwrap_or(LinkWord {
            sop: false,
            eop: false,
            data: 0,
        });
        u.rx_sop.next = w.sop;
        u.rx_eop.next = w.eop;
        u.rx_data.next = (w.data as u64).into();
        u.resolve_valid.next = resolve.is_some();
        let (rt, rd) = resolve.unwrap_or((0, false));
        u.resolve_tag.next = (rt as u64).into();
        u.resolve_drop.next = rd;
        u.wr_ready.next = ready;
        u.result_valid.next = false;
        if let Some(p) = self.results.front() {
            assert!(p.due >= c);
            if p.due == c {
                let p = self.results.pop_front().unwrap();
                let g = garbage as u32;
                // A preempted lookup's answer: fields meaningless.
                let (valid, hit, m) = if p.valid {
                    (true, p.answer.is_some(), p.answer)
                } else {
                    (false, g & 1 != 0, None)
                };
                u.result_valid.next = valid;
                u.result_hit.next = hit;
                let m = m.unwrap_or(RxMapping {
                    page: if valid { 0 } else { g >> 12 },
                    writable: g & 2 != 0,
                    signal: g & 4 != 0,
                    counter_slot: (g >> 3) as u8 & 63,
                    epoch: (garbage >> 40) as u8,
                });
                u.result_page.next = (m.page as u64).into();
                u.result_writable.next = m.writable;
                u.result_signal.next = m.signal;
                u.result_counter_slot.next = (m.counter_slot as u64).into();
                u.result_epoch.next = (m.epoch as u64).into();
            }
        }
        self.b.settle();
        if self.b.uut.miss_valid.val() {
            // Ask for the page of the miss just posted, as the register file does at
            // `MISS_POP`.
            self.b.uut.parked_tag.next = self.b.uut.miss_tag.val();
            self.b.settle();
        }
        let u = &self.b.uut;
        let lookup = u.lookup_valid.val();
        if self.prev_sop {
            assert!(lookup, "cycle {c}: no link lookup after a start of packet");
        }
        if lookup {
            let key = u.lookup_key.val().to_u32();
            let tag = u.lookup_tag.val().to_u32() as u8;
            assert!((tag as usize) < self.n(), "lookup tag {tag}");
            let is_link = self.prev_sop;
            if !is_link {
                assert!(
                    !self.prev_lookup,
                    "cycle {c}: retry lookup preempts a lookup"
                );
                assert!(!hold, "cycle {c}: retry lookup while lookup_hold is high");
                self.retry_lookups += 1;
            }
            if let Some(back) = self.results.back_mut() {
                if back.due == c + 1 {
                    // Presented in the previous cycle: preempted.
                    assert!(is_link);
                    back.valid = false;
                    if back.link {
                        self.links_preempted += 1;
                    } else {
                        self.retries_preempted += 1;
                    }
                }
            }
            self.results.push_back(Pending {
                due: c + 2,
                answer: self.cache.get(&key).copied(),
                valid: true,
                link: is_link,
            });
            self.lookups += 1;
        }
        self.prev_lookup = lookup;
        self.retries_withdrawn += u.rt_wd.val() as u64;
        self.prev_sop = w.sop && !w.eop && link.is_some();
        let mut evs = vec![];
        if u.delivered_event.val() {
            evs.push(Ev::Delivered {
                slot: u.delivered_slot.val().to_u32() as u8,
                bytes: u.delivered_bytes.val().to_u32(),
            });
        }
        if u.notify_valid.val() {
            evs.push(Ev::Notify {
                nva: u.notify_nva.val().to_u32(),
                len: u.notify_length.val().to_u32(),
            });
        }
        if u.miss_valid.val() {
            evs.push(Ev::Miss {
                page: u.parked_page.val().to_u32(),
                tag: u.miss_tag.val().to_u32() as u8,
            });
        }
        let word = u.trace.val().to_u32();
        let trace = RxTrace::decode(word);
        assert_eq!(
            trace.encode(),
            word,
            "cycle {c}: trace bits outside its records"
        );
        let verdict = trace.verdict.map(|(_, v, _)| v);
        for (sig, why) in [
            (u.drop_crc_epoch.val(), RxDrop::CrcEpoch),
            (u.drop_protection.val(), RxDrop::Protection),
            (u.drop_miss_dropped.val(), RxDrop::MissDropped),
            (u.drop_miss_overflow.val(), RxDrop::MissOverflow),
            (u.drop_malformed.val(), RxDrop::Malformed),
            (u.drop_rx_overrun.val(), RxDrop::RxOverrun),
        ] {
            if sig {
                evs.push(Ev::Drop(why));
            }
            // Each drop verdict pulses with its drop, and only verdicts raise these drops
            // (a malformed verdict pulses with a `drop_malformed` pulse, but the FSM
            // raises that one alone too).
            match RxEvent::Dropped(why).verdict() {
                Some(Verdict::Malformed) => assert!(
                    sig || verdict != Some(Verdict::Malformed),
                    "cycle {c}: malformed verdict without drop_malformed"
                ),
                Some(v) => assert_eq!(sig, verdict == Some(v), "cycle {c}: {why:?} pulse"),
                None => assert_eq!(sig, trace.host_drop.is_some(), "cycle {c}: host drop"),
            }
        }
        assert_eq!(
            u.miss_valid.val(),
            verdict == Some(Verdict::Parked),
            "cycle {c}: a miss is posted with a parked verdict"
        );
        assert_eq!(
            trace.written,
            u.delivered_event.val(),
            "cycle {c}: written pulses with the delivery"
        );
        if let Some((link, code, tag)) = trace.verdict {
            let tag = tag as u8;
            if code == Verdict::Parked {
                assert_eq!(
                    tag,
                    u.miss_tag.val().to_u32() as u8,
                    "cycle {c}: parked tag"
                );
            }
            evs.push(Ev::Verdict { link, code, tag });
        }
        if let Some(tag) = trace.host_drop {
            evs.push(Ev::HostDrop { tag: tag as u8 });
        }
        self.log.extend(evs.into_iter().map(|e| (c, e)));
        if u.wr_valid.val() && ready {
            let addr = u.wr_addr.val().to_u32();
            let data = u.wr_data.val().to_u32();
            let strb = u.wr_strb.val().to_u32();
            assert_eq!(addr & 3, 0);
            assert_ne!(strb, 0, "beat without bytes");
            let page = addr >> PAGE_SHIFT;
            assert!(
                self.cache.values().any(|m| m.writable && m.page == page),
                "write at {addr:#x}: not a writable mapped page"
            );
            for lane in 0..4 {
                if strb & (1 << lane) != 0 {
                    let a = (addr + lane - (PHYS_FIRST_PAGE << PAGE_SHIFT)) as usize;
                    self.mem[a] = (data >> (8 * lane)) as u8;
                }
            }
            self.last_write = c;
        }
        self.b.step();
    }

    /// Sends words (None = idle cycle); returns the cycle of each word.
    fn send(&mut self, stream: &[Option<LinkWord>]) -> Vec<u64> {
        let mut cycles = vec![];
        for w in stream {
            if w.is_some() {
                cycles.push(self.b.cycle);
            }
            self.cycle(*w, None);
        }
        cycles
    }

    /// Miss buffers in use.
    fn busy_count(&self) -> usize {
        self.b.uut.mbusy.iter().filter(|d| d.q.val()).count()
    }

    /// Runs until nothing has happened for a while; checks no buffer or job is left over.
    fn quiesce(&mut self) {
        let mut quiet = 0;
        let start = self.b.cycle;
        while quiet < 40 {
            assert!(
                self.b.cycle - start < 50_000,
                "depacketizer did not go quiet"
            );
            let before = self.log.len();
            let active = self.b.uut.wr_valid.val()
                || self.b.uut.lookup_valid.val()
                || !self.results.is_empty();
            self.cycle(None, None);
            if active || self.log.len() != before {
                quiet = 0;
            } else {
                quiet += 1;
            }
        }
        let u = &self.b.uut;
        assert!(u.jq.empty.val(), "jobs left over");
        let (wp, rd, fr) = (u.r_wp.q.val(), u.r_rd.q.val(), u.r_fr.q.val());
        assert!(
            wp == rd && rd == fr,
            "ring words leaked: {wp:?} {rd:?} {fr:?}"
        );
        assert_eq!(u.mal_cnt.q.val().to_u32(), 0);
        assert_eq!(u.rt_state.q.val(), RetryState::Idle);
        assert!(u.rreq.iter().all(|d| !d.q.val()));
        let parked = u.parked.val().to_u32() as usize;
        assert_eq!(self.busy_count(), parked, "buffers leaked");
    }
}

/// What the harness logs for a delivery the model expects (its `Delivered` event and, for
/// a signalled mapping, its `Notify`), with its payload written into `image`.
fn expect_delivery(d: &RxDelivery, image: &mut [u8]) -> (Ev, Option<Ev>) {
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
fn check_phase(
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
fn run_burst(
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
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
    overruns
}

/// The model's events for a burst's link units (sent at `word_cycles`, logged from
/// `from`), each told whether the RTL overran on it: its overrun pulse comes 2 cycles after
/// its end-of-packet word, and a pulse anywhere else fails. Returns the events and the
/// number of overruns.
fn expect_link_units(
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
fn link_verdicts(h: &Harness, from: usize) -> Vec<Verdict> {
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
fn expect_resolve_trace(e: &RxEvent, tag: u8) -> Ev {
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
fn run_resolve(
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
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
}

// ---- Traffic generation ----------------------------------------------------------------

/// NVA pages with mappings installed at the start, and pages that miss until the host
/// installs them.
const NVA_MAPPED: u32 = 0x12340;
const NVA_MISSING: u32 = 0x55500;

fn random_mapping(rng: &mut Rng, epoch: u8) -> RxMapping {
    RxMapping {
        page: PHYS_FIRST_PAGE + rng.below(PHYS_PAGES as u64) as u32,
        writable: !rng.chance(15),
        signal: rng.chance(50),
        counter_slot: rng.below(64) as u8,
        epoch,
    }
}

/// A packet to `page` with random length/offset (in bounds unless `oob`).
fn packet(rng: &mut Rng, params: &CoreParams, page: u32, epoch: u8, oob: bool) -> Vec<u32> {
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
fn random_unit(rng: &mut Rng, h: &Harness) -> Vec<LinkWord> {
    let params = &h.params;
    let mapped: Vec<(u32, RxMapping)> = h.cache.iter().map(|(k, m)| (*k, *m)).collect();
    let pick_mapped = |rng: &mut Rng| mapped[rng.below(mapped.len() as u64) as usize];
    let missing = NVA_MISSING + rng.below(4) as u32;
    let kind = rng.below(100);
    let mut words = match kind {
        0..=39 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch, false)
        }
        40..=57 => {
            let e = rng.next() as u8;
            packet(rng, params, missing, e, false)
        }
        58..=62 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch, true)
        }
        63..=67 => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch.wrapping_add(1), false)
        }
        68..=73 => {
            // A flipped bit anywhere.
            let (page, m) = pick_mapped(rng);
            let mut w = packet(rng, params, page, m.epoch, false);
            let i = rng.below(w.len() as u64) as usize;
            w[i] ^= 1 << rng.below(32);
            w
        }
        74..=77 => {
            // Bad length field, trailer still right.
            let (page, m) = pick_mapped(rng);
            let mut w = packet(rng, params, page, m.epoch, false);
            let bad = if rng.chance(50) {
                0
            } else {
                params.max_payload + 1 + rng.below(100) as u32
            };
            w[1] = H1_LENGTH.put(w[1], bad);
            let n = w.len();
            w[n - 1] = trailer_for(&w[..n - 1], m.epoch);
            w
        }
        _ => {
            let (page, m) = pick_mapped(rng);
            packet(rng, params, page, m.epoch, false)
        }
    };
    let mut lw = framed(&words);
    match kind {
        78..=80 if words.len() > 1 => {
            // Truncated: eop early.
            let cut = 1 + rng.below(words.len() as u64 - 1) as usize;
            words.truncate(cut);
            lw = framed(&words);
        }
        81..=83 => {
            // One word too many.
            words.push(rng.next() as u32);
            lw = framed(&words);
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
fn random_burst(rng: &mut Rng, h: &Harness, units: usize) -> Vec<Option<LinkWord>> {
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
        framed(&packet(rng, &h.params, page, m.epoch, false))
            .into_iter()
            .map(Some),
    );
    s
}

/// The host side after a burst: resolves parked packets in random ways.
fn host_phase(
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

fn setup_cache(rng: &mut Rng, h: &mut Harness) {
    for k in 0..6 {
        let epoch = rng.next() as u8;
        let m = random_mapping(rng, epoch);
        h.cache.insert(NVA_MAPPED + k, m);
    }
    // At least one writable mapping, so every burst has deliverable traffic.
    h.cache.get_mut(&NVA_MAPPED).unwrap().writable = true;
}

fn run_traffic(
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
fn cross_check(params: CoreParams, seed: u64, stall: u64, hold_pct: u64, bursts: usize) {
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
    h.b.replay_qualified(&format!("depacketizer_{seed}"), &[("wr_data", "wr_valid")]);
    println!(
        "{params:?}: {} cycles replayed on the Verilog, no difference",
        h.b.cycle
    );
}

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
    h.b.replay_qualified("depacketizer_preempt", &[("wr_data", "wr_valid")]);
    println!(
        "preempted retries: {} cycles replayed on the Verilog, no difference ({} retries preempted)",
        h.b.cycle, h.retries_preempted
    );
}

// ---- Tests -----------------------------------------------------------------------------

#[test]
fn verilog_is_clean() {
    yosys_check("depacketizer", Depacketizer::new(&CoreParams::default()));
    crate::testbench::lint_check("depacketizer", Depacketizer::new(&CoreParams::default()));
    // Ten buffers, a 16-entry job queue (payload size kept moderate: yosys unrolls the RAM
    // initialisation).
    let big = CoreParams {
        miss_buffer_packets: 8,
        max_payload: 1024,
        line_bytes: 128,
        ..Default::default()
    };
    yosys_check("depacketizer_big", Depacketizer::new(&big));
    let small = CoreParams {
        miss_buffer_packets: 1,
        max_payload: 4,
        line_bytes: 4,
        ..Default::default()
    };
    yosys_check("depacketizer_small", Depacketizer::new(&small));
}

#[test]
fn framing_split_and_model_basics() {
    let p = CoreParams::default();
    let w = |sop, eop, data| LinkWord { sop, eop, data };
    // stray word, a packet cut by a sop, a one-word packet, an open packet.
    let s = [
        w(false, false, 1),
        w(false, true, 2),
        w(true, false, 3),
        w(true, true, 4),
        w(true, false, 5),
    ];
    let (units, open) = split_link_units(&s);
    assert_eq!(units.len(), 3);
    assert!(!units[0].has_sop && units[0].complete);
    assert!(units[1].has_sop && !units[1].complete && units[1].words == vec![3]);
    assert!(units[2].has_sop && units[2].complete && units[2].start == 3);
    assert_eq!(open.unwrap().words, vec![5]);
    let mut m = RxModel::new(&p);
    let none = |_: u32| None;
    for u in &units {
        assert_eq!(
            m.receive(u, false, &none),
            RxEvent::Dropped(RxDrop::Malformed)
        );
    }
    assert_eq!(
        m.receive(&units[2], true, &none),
        RxEvent::Dropped(RxDrop::RxOverrun)
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
        .flat_map(|c| framed(c).into_iter().map(Some))
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
        h.send(&framed(&w).into_iter().map(Some).collect::<Vec<_>>());
    }
    h.quiesce();
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, count);
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
        let cycles = h.send(&framed(&w).into_iter().map(Some).collect::<Vec<_>>());
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
        assert_eq!(h.b.uut.parked.val().to_u32(), 0);
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
    assert_eq!(h.b.uut.parked.val().to_u32(), 0);
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
                counter_slot: 3 + k as u8,
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
            s.extend(framed(&w).into_iter().map(Some));
        }
        run_burst(&mut h, &mut model, &s, &mut tags, &mut image);
    }
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, parked);
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
        s.extend(framed(&encode(&hd, &payload)).into_iter().map(Some));
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
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, parked);
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
    assert_eq!(h.b.uut.parked.val().to_u32() as usize, model.parked());
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
                counter_slot: 10 + k as u8,
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
    let w = |sop, eop, data| Some(LinkWord { sop, eop, data });
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
    s.extend(framed(&miss).into_iter().map(Some));
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
                epoch: mapping_epoch,
            },
        );
        h.hold_until = h.b.cycle + 300;
        let from = h.log.len();
        h.cycle(None, Some((tag, host_drops)));
        let mut parked = vec![];
        while h.b.cycle < h.hold_until + 100 {
            parked.push((h.b.cycle, h.b.uut.parked.val().to_u32()));
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
