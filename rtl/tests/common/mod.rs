//! The receive path's test bench: the [`Depacketizer`] with a modelled RX mapping cache (the
//! lookup responder, with preemption and `lookup_hold` bursts), a modelled memory behind a
//! random `wr_ready`, the log of events seen on its outputs, and the random generator the
//! tests draw from. `phase` checks logged events against the reference model, `traffic`
//! makes random link traffic and host actions.

pub mod phase;
pub mod traffic;

use std::collections::{HashMap, VecDeque};
use vassa_hdl_tools::testbench::Bench;
use vassa_model::rx::{LinkWord, Mapping as RxMapping, RxDrop, RxEvent};
use vassa_rtl::depacketizer::{Depacketizer, RetryState};
use vassa_spec::params::{CoreParams, PAGE_SHIFT, PAGE_SIZE};
use vassa_spec::trace::{RxTrace, Verdict};

/// An event seen on the block's outputs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Ev {
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

/// The tests' random generator: the bench's xorshift, with [`Draw`].
pub use vassa_hdl_tools::testbench::XorShift as Rng;

/// Draws from [`Rng`] as the tests use them.
pub trait Draw {
    fn next(&mut self) -> u64;
    /// Uniform in `0..n` (near enough for test stimulus).
    fn below(&mut self, n: u64) -> u64;
}

impl Draw for Rng {
    fn next(&mut self) -> u64 {
        self.next_u64()
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// Physical pages the mappings point at; memory outside them must never be written.
pub const PHYS_FIRST_PAGE: u32 = 0x80;
pub const PHYS_PAGES: u32 = 6;

/// A lookup in flight in the modelled cache.
pub struct Pending {
    /// Cycle of the answer.
    pub due: u64,
    pub answer: Option<RxMapping>,
    /// Not preempted: the answer comes with `result_valid` high.
    pub valid: bool,
    /// A link lookup (else a retry).
    pub link: bool,
}

/// Depacketizer with a modelled RX cache and a memory with a random `wr_ready`. The cache
/// follows the mapping cache's contract: it answers exactly 2 cycles after a lookup, but a
/// lookup in the cycle right after another preempts it (the earlier answer comes with
/// `result_valid` low and garbage fields); it raises `lookup_hold` in random bursts when
/// `hold_pct` is not 0. The harness checks the depacketizer's side of the contract: a link
/// lookup the cycle after every start of a packet of two words or more, and retry lookups
/// only when no lookup was presented in the previous cycle and `lookup_hold` is low.
pub struct Harness {
    pub b: Bench<Depacketizer>,
    pub params: CoreParams,
    pub cache: HashMap<u32, RxMapping>,
    pub results: VecDeque<Pending>,
    pub mem: Vec<u8>,
    pub rng: Rng,
    /// `wr_ready` is low with probability stall/8.
    pub stall: u64,
    /// `wr_ready` is low before this cycle.
    pub hold_until: u64,
    /// Chance in percent per cycle that `lookup_hold` starts a burst (1 to 4 cycles high).
    pub hold_pct: u64,
    /// Cycles of the current `lookup_hold` burst still to come.
    pub hold_left: u64,
    /// The previous cycle presented a lookup.
    pub prev_lookup: bool,
    /// The previous cycle had a start of packet that needs a link lookup.
    pub prev_sop: bool,
    pub log: Vec<(u64, Ev)>,
    pub last_write: u64,
    pub lookups: u64,
    /// Retries that missed again.
    pub remisses: u64,
    /// Retry lookups presented, and those preempted by a link lookup.
    pub retry_lookups: u64,
    pub retries_preempted: u64,
    /// Link lookups preempted by a link lookup (cut packets).
    pub links_preempted: u64,
    /// Cycles with `lookup_hold` high.
    pub hold_cycles: u64,
    /// Retry lookups withdrawn because `lookup_hold` rose in their cycle.
    pub retries_withdrawn: u64,
}

impl Harness {
    pub fn new(params: &CoreParams, seed: u64, stall: u64) -> Self {
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

    pub fn n(&self) -> usize {
        self.params.miss_buffer_packets as usize
    }

    /// One clock cycle with the given link word and resolve.
    pub fn cycle(&mut self, link: Option<LinkWord>, resolve: Option<(u8, bool)>) {
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
        u.lookup.hold.next = hold;
        u.link.valid.next = link.is_some();
        let w = link.unwrap_or(LinkWord {
            valid: true,
            sop: false,
            eop: false,
            data: 0,
        });
        u.link.sop.next = w.sop;
        u.link.eop.next = w.eop;
        u.link.data.next = (w.data as u64).into();
        u.miss.resolve_valid.next = resolve.is_some();
        let (rt, rd) = resolve.unwrap_or((0, false));
        u.miss.resolve_tag.next = (rt as u64).into();
        u.miss.resolve_drop.next = rd;
        u.mem_wr.ready.next = ready;
        u.lookup.result_valid.next = false;
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
                u.lookup.result_valid.next = valid;
                u.lookup.result_hit.next = hit;
                let m = m.unwrap_or(RxMapping {
                    page: if valid { 0 } else { g >> 12 },
                    writable: g & 2 != 0,
                    signal: g & 4 != 0,
                    counter_slot: ((g >> 3) as u8 & 63).into(),
                    epoch: ((garbage >> 40) as u8).into(),
                });
                u.lookup.result_page.next = (m.page as u64).into();
                u.lookup.result_writable.next = m.writable;
                u.lookup.result_signal.next = m.signal;
                u.lookup.result_counter_slot.next = (m.counter_slot as u64).into();
                u.lookup.result_epoch.next = (m.epoch as u64).into();
            }
        }
        self.b.settle();
        if self.b.uut.miss.valid.val() {
            // Ask for the page of the miss just posted, as the register file does at
            // `MISS_POP`.
            self.b.uut.miss.parked_tag.next = self.b.uut.miss.tag.val();
            self.b.settle();
        }
        let u = &self.b.uut;
        let lookup = u.lookup.valid.val();
        if self.prev_sop {
            assert!(lookup, "cycle {c}: no link lookup after a start of packet");
        }
        if lookup {
            let key = u.lookup.key.val().to_u32();
            let tag = u.lookup.tag.val().to_u32() as u8;
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
        self.retries_withdrawn += u.retry_withdrawn().val() as u64;
        self.prev_sop = w.sop && !w.eop && link.is_some();
        let mut evs = vec![];
        if u.delivered.valid.val() {
            evs.push(Ev::Delivered {
                slot: u.delivered.slot.val().to_u32() as u8,
                bytes: u.delivered.bytes.val().to_u32(),
            });
        }
        if u.notify.valid.val() {
            evs.push(Ev::Notify {
                nva: u.notify.nva.val().to_u32(),
                len: u.notify.length.val().to_u32(),
            });
        }
        if u.miss.valid.val() {
            evs.push(Ev::Miss {
                page: u.miss.parked_page.val().to_u32(),
                tag: u.miss.tag.val().to_u32() as u8,
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
            u.miss.valid.val(),
            verdict == Some(Verdict::Parked),
            "cycle {c}: a miss is posted with a parked verdict"
        );
        assert_eq!(
            trace.written,
            u.delivered.valid.val(),
            "cycle {c}: written pulses with the delivery"
        );
        if let Some((link, code, tag)) = trace.verdict {
            let tag = tag as u8;
            if code == Verdict::Parked {
                assert_eq!(
                    tag,
                    u.miss.tag.val().to_u32() as u8,
                    "cycle {c}: parked tag"
                );
            }
            evs.push(Ev::Verdict { link, code, tag });
        }
        if let Some(tag) = trace.host_drop {
            evs.push(Ev::HostDrop { tag: tag as u8 });
        }
        self.log.extend(evs.into_iter().map(|e| (c, e)));
        if u.mem_wr.valid.val() && ready {
            let addr = u.mem_wr.addr.val().to_u32();
            let data = u.mem_wr.data.val().to_u32();
            let strb = u.mem_wr.strb.val().to_u32();
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
    pub fn send(&mut self, stream: &[Option<LinkWord>]) -> Vec<u64> {
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
    pub fn busy_count(&self) -> usize {
        self.b
            .uut
            .miss_buffer_busy()
            .iter()
            .filter(|d| d.q.val())
            .count()
    }

    /// Runs until nothing has happened for a while; checks no buffer or job is left over.
    pub fn quiesce(&mut self) {
        let mut quiet = 0;
        let start = self.b.cycle;
        while quiet < 40 {
            assert!(
                self.b.cycle - start < 50_000,
                "depacketizer did not go quiet"
            );
            let before = self.log.len();
            let active = self.b.uut.mem_wr.valid.val()
                || self.b.uut.lookup.valid.val()
                || !self.results.is_empty();
            self.cycle(None, None);
            if active || self.log.len() != before {
                quiet = 0;
            } else {
                quiet += 1;
            }
        }
        let u = &self.b.uut;
        assert!(u.job_queue_empty().val(), "jobs left over");
        let (wp, rd, fr) = (
            u.ring_write_pointer().q.val(),
            u.ring_read_pointer().q.val(),
            u.ring_free_pointer().q.val(),
        );
        assert!(
            wp == rd && rd == fr,
            "ring words leaked: {wp:?} {rd:?} {fr:?}"
        );
        assert_eq!(u.malformed_pending().q.val().to_u32(), 0);
        assert_eq!(u.retry_state().q.val(), RetryState::Idle);
        assert!(u.retry_requested().iter().all(|d| !d.q.val()));
        let parked = u.miss.parked.val().to_u32() as usize;
        assert_eq!(self.busy_count(), parked, "buffers leaked");
    }
}
