//! Runs a scenario file (`vassa sim`, `vassa demo`): builds the network of cards on the chosen
//! backend, opens the channels through the driver, plays the traffic, applies the faults,
//! reads every message on every reader and checks it, and reports ([`report::Report`]).
//!
//! The loop advances simulated time in short steps. Between steps it injects the packets and
//! forces the evictions that are due, sends each stream's next message when due and the
//! writer's doorbell FIFO has room (at most one per stream per step; a full FIFO defers the
//! message, the writer's program would block there), and every reader takes what arrived, as
//! readers running beside the writer would. Signal-on-write notifications are taken and
//! counted (the reader polls every step either way, so a channel without them, or a
//! notification lost to a full FIFO, costs nothing). Readers poll more often than packets
//! land, so a writer laps a reader only past a message that never arrived; the reader then
//! reports a gap. Whenever the network is quiet (nothing in flight, no miss pending), a
//! reader still waiting for a message that later ones overtook gives it up as lost at once
//! ([`crate::segment::ReaderCursor::skip_lost`]) rather than when the writer laps it. The run ends when all traffic is sent and
//! the network is quiet, or at `max_cycles`.

mod dump;
pub mod faults;
pub mod report;
pub mod text;
pub mod traffic;

use crate::channel::{ChannelError, ChannelId, ChannelSpec as Spec, Channels, Kind};
use crate::driver::{Dir, Driver, DriverConfig, DriverError};
use crate::fabric::{Fabric, ModelFabric, RtlFabric, Switch};
use crate::memory::Memory;
use crate::scenario::{Backend, ChannelKind, CoreParams, Scenario};
use crate::segment::{record_bytes, Delivery};
use faults::{bad_packet, EvictPlan, FaultTally, LinkFaults};
use report::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;
use traffic::{payload, Stream};
use vassa_rtl::spec::packet::split_message;
use vassa_rtl::spec::params::PAGE_SHIFT;
use vassa_rtl::spec::regmap as rm;

/// Longest step of simulated time between two looks at the schedule.
const STEP: u64 = 256;
/// Step while packets are in flight or a back-to-back stream is sending (shorter than any
/// packet on the link).
const BUSY_STEP: u64 = 8;

/// The counters of a receiving card that count a packet copy it discarded.
pub const RX_DROPS: [&str; 6] = [
    "drop_crc_epoch",
    "drop_protection",
    "drop_miss_dropped",
    "drop_miss_overflow",
    "drop_malformed",
    "drop_rx_overrun",
];

/// How to run a scenario, beyond the file.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Overrides `sim.backend`.
    pub backend: Option<Backend>,
    /// RTL only: a trace of every card, one file each: `FILE` with the node name before the
    /// extension (`run.vcd` → `run.a.vcd`, `run.b.vcd`).
    pub trace: Option<PathBuf>,
    /// Writes each node's memory image and a JSON of its mapped pages and segments here.
    pub dump_memory: Option<PathBuf>,
}

/// Where a run is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub cycle: u64,
    pub max_cycles: u64,
    pub messages_sent: u64,
    pub messages_total: u64,
}

/// Why a scenario could not be run (a run that ends with failed checks is not an error).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Backend(String),
    #[error("trace: {0}")]
    Trace(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("channel \"{channel}\": {source}")]
    Channel {
        channel: String,
        source: ChannelError,
    },
    #[error(transparent)]
    Driver(#[from] DriverError),
}

/// Whether `backend` can run `s` as written.
pub fn check_backend(s: &Scenario, backend: Backend, trace: bool) -> Result<(), RunError> {
    if backend == Backend::Rtl && s.sim.core != CoreParams::default() {
        return Err(RunError::Backend(
            "sim.core: the rtl backend runs the core verilated at its default parameters; \
             run scenarios that set other parameters on the model backend"
                .into(),
        ));
    }
    if backend == Backend::Model && trace {
        return Err(RunError::Backend(
            "--trace needs the rtl backend (the model has no signals to trace)".into(),
        ));
    }
    Ok(())
}

/// Runs scenario `s` (`name` names it in the report); `progress` is called now and then.
pub fn run(
    s: &Scenario,
    name: &str,
    opts: &RunOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, RunError> {
    let backend = opts.backend.unwrap_or(s.sim.backend);
    check_backend(s, backend, opts.trace.is_some())?;
    let mems: Vec<Memory> = s
        .nodes
        .iter()
        .map(|n| Memory::zeroed(n.memory.0 as usize))
        .collect();
    match backend {
        Backend::Rtl => {
            let mut fabric = RtlFabric::new(mems, s.sim.link_latency);
            if let Some(path) = &opts.trace {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| RunError::Io {
                        path: dir.display().to_string(),
                        source,
                    })?;
                }
                for (i, n) in s.nodes.iter().enumerate() {
                    let file = trace_file(path, &n.name);
                    fabric.network_mut().nodes[i]
                        .card
                        .model()
                        .trace_to(&file)
                        .map_err(RunError::Trace)?;
                }
            }
            let mut r = Runner::new(s, name, backend, fabric)?;
            let report = r.run(opts, progress);
            for node in &mut r.ch.driver.fabric_mut().network_mut().nodes {
                node.card.model().trace_close();
            }
            report
        }
        Backend::Model => {
            let fabric = ModelFabric::new(&s.sim.core, mems);
            Runner::new(s, name, backend, fabric)?.run(opts, progress)
        }
    }
}

/// `path` with `.node` inserted before its extension.
pub fn trace_file(path: &Path, node: &str) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let file = match path.extension() {
        Some(ext) => format!("{stem}.{node}.{}", ext.to_string_lossy()),
        None => format!("{stem}.{node}"),
    };
    path.with_file_name(file)
}

struct Runner<'a, F: Fabric + Switch> {
    s: &'a Scenario,
    name: String,
    backend: Backend,
    ch: Channels<F>,
    ids: Vec<ChannelId>,
    streams: Vec<Stream>,
    /// Payload length of every message sent, by (channel, writer node), index seq − 1.
    lengths: HashMap<(usize, usize), Vec<u32>>,
    packets: Vec<u64>,
    payload_bytes: Vec<u64>,
    /// By channel, by position in its reader list.
    readers: Vec<Vec<ReaderReport>>,
    notifications: Vec<u64>,
    /// (cycle, node, words), by cycle.
    injections: Vec<(u64, usize, Vec<u32>)>,
    injected: usize,
    evictions: Vec<EvictPlan>,
    forced: Vec<u64>,
    tally: Rc<RefCell<FaultTally>>,
    max_payload: u32,
}

impl<'a, F: Fabric + Switch> Runner<'a, F> {
    fn new(s: &'a Scenario, name: &str, backend: Backend, fabric: F) -> Result<Self, RunError> {
        let nodes = s.nodes.len();
        let mut faults = LinkFaults::new(s.sim.seed, nodes);
        let tally = faults.tally.clone();
        let driver = Driver::new(fabric, DriverConfig::default())?;
        let max_payload = driver.info(0).max_payload;
        let mut ch = Channels::new(driver);
        let node = |n: &str| s.node_id(n).expect("validated node name");
        let mut ids = Vec::new();
        for c in &s.channels {
            let spec = Spec {
                kind: match c.kind {
                    ChannelKind::Unicast => Kind::Unicast,
                    ChannelKind::Multicast => Kind::Multicast,
                    ChannelKind::ManyToMany => Kind::ManyToMany,
                },
                writers: c.writers.iter().map(|w| node(w)).collect(),
                readers: c.readers.iter().map(|r| node(r)).collect(),
                segment_bytes: c.segment.0 as u32,
                max_message: c.slot_bytes() as u32 - record_bytes(0),
            };
            let id = ch
                .open_with_signal(spec, c.signal)
                .map_err(|source| RunError::Channel {
                    channel: c.name.clone(),
                    source,
                })?;
            ids.push(id);
        }
        let chan = |name: &str| s.channels.iter().position(|c| c.name == name).unwrap();
        let nva: Vec<_> = ids.iter().map(|&id| ch.nva_pages(id)).collect();
        let pages = |name: &str| nva[chan(name)].clone();
        let f = &s.faults;
        faults.add("drop", &f.drop, pages, node);
        faults.add("bit_flip", &f.bit_flip, pages, node);
        faults.add("duplicate", &f.duplicate, pages, node);
        if !faults.is_empty() {
            ch.driver.fabric_mut().set_fault_hook(faults.into_hook());
        }
        let mut injections: Vec<(u64, usize, Vec<u32>)> = f
            .inject
            .iter()
            .map(|i| {
                let words = match (&i.words, i.kind) {
                    (Some(w), _) => w.iter().map(|w| w.0).collect(),
                    (None, Some(kind)) => {
                        let page = i.channel.as_deref().map(|c| pages(c).start);
                        bad_packet(kind, page)
                    }
                    (None, None) => unreachable!("validated: words or kind"),
                };
                (i.at, node(&i.node), words)
            })
            .collect();
        injections.sort_by_key(|i| i.0);
        let evictions = f
            .evict
            .iter()
            .map(|e| {
                let n = node(&e.node);
                let sides = EvictPlan::sides(e.side);
                let keys = e.channel.as_deref().map(|c| {
                    let id = ids[chan(c)];
                    let spec = &s.channels[chan(c)];
                    let nva = ch.nva_pages(id);
                    let phys = ch.segment_range(id, n).expect("validated member");
                    // A writer that also reads sends from a segment of its own.
                    let tx_phys = ch.tx_segment_range(id, n).unwrap_or(phys.clone());
                    let chosen = |i: u32| e.page.is_none_or(|p| p == i as u64);
                    let mut keys = Vec::new();
                    for i in 0..nva.len() as u32 {
                        if !chosen(i) {
                            continue;
                        }
                        if sides.contains(&Dir::Tx) && spec.writers.contains(&e.node) {
                            keys.push((Dir::Tx, (tx_phys.start >> PAGE_SHIFT) + i));
                        }
                        if sides.contains(&Dir::Rx) && spec.readers.contains(&e.node) {
                            keys.push((Dir::Rx, nva.start + i));
                        }
                    }
                    keys
                });
                EvictPlan {
                    node: n,
                    keys,
                    sides,
                    next_at: e.at.unwrap_or(e.start),
                    every: e.every,
                }
            })
            .collect();
        let streams = s
            .traffic
            .iter()
            .enumerate()
            .map(|(i, t)| Stream::new(t, i, chan(&t.channel), node(t.writer_name()), s.sim.seed))
            .collect();
        Ok(Runner {
            s,
            name: name.to_string(),
            backend,
            readers: s
                .channels
                .iter()
                .map(|c| {
                    c.readers
                        .iter()
                        .map(|r| ReaderReport {
                            node: r.clone(),
                            ..ReaderReport::default()
                        })
                        .collect()
                })
                .collect(),
            packets: vec![0; s.channels.len()],
            payload_bytes: vec![0; s.channels.len()],
            notifications: vec![0; nodes],
            forced: vec![0; nodes],
            ch,
            ids,
            streams,
            lengths: HashMap::new(),
            injections,
            injected: 0,
            evictions,
            tally,
            max_payload,
        })
    }

    fn cycle(&self) -> u64 {
        self.ch.driver.fabric().cycle()
    }

    fn run(
        &mut self,
        opts: &RunOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Report, RunError> {
        let started = Instant::now();
        let max_cycles = self.s.sim.max_cycles;
        let total: u64 = self.s.traffic.iter().map(|t| t.messages).sum();
        let report_every = (max_cycles / 200).max(10_000);
        let mut next_report = 0;
        let finished = loop {
            let now = self.cycle();
            if now >= next_report {
                progress(&self.progress(total));
                next_report = now + report_every;
            }
            if now >= max_cycles {
                break false;
            }
            self.inject_due(now);
            let traffic_done =
                self.streams.iter().all(|s| s.left == 0) && self.injected == self.injections.len();
            if !traffic_done {
                self.evict_due(now);
            }
            for i in 0..self.streams.len() {
                if self.streams[i].due(now) && self.writer_ready(i)? {
                    self.send(i, now)?;
                }
            }
            self.take_notifications();
            self.poll_all(false)?;
            let quiet = self.ch.settled();
            if quiet {
                self.poll_all(true)?;
                if traffic_done {
                    break true;
                }
            }
            // Short steps while anything moves: readers look after every packet or two, as
            // readers running beside the cards would.
            let busy = !quiet || self.streams.iter().any(|s| s.left > 0 && s.back_to_back());
            let mut next = (now + if busy { BUSY_STEP } else { STEP }).min(max_cycles);
            for s in self.streams.iter().filter(|s| s.left > 0) {
                next = next.min(s.next_at);
            }
            if let Some(i) = self.injections.get(self.injected) {
                next = next.min(i.0);
            }
            if !traffic_done {
                for e in &self.evictions {
                    next = next.min(e.next_at);
                }
            }
            self.ch.driver.run(next.saturating_sub(now).max(1));
        };
        self.ch.driver.poll_counters();
        self.take_notifications();
        self.poll_all(finished)?;
        progress(&self.progress(total));
        let report = self.report(finished, started.elapsed().as_secs_f64());
        if let Some(dir) = &opts.dump_memory {
            dump::write(dir, self.s, &mut self.ch, &self.ids)?;
        }
        Ok(report)
    }

    fn progress(&self, total: u64) -> Progress {
        Progress {
            cycle: self.cycle(),
            max_cycles: self.s.sim.max_cycles,
            messages_sent: self.lengths.values().map(|v| v.len() as u64).sum(),
            messages_total: total,
        }
    }

    fn inject_due(&mut self, now: u64) {
        while let Some((at, node, words)) = self.injections.get(self.injected) {
            if *at > now {
                break;
            }
            let (node, words) = (*node, words.clone());
            self.ch.driver.fabric_mut().inject(node, &words, now);
            self.injected += 1;
        }
    }

    fn evict_due(&mut self, now: u64) {
        for i in 0..self.evictions.len() {
            if self.evictions[i].next_at > now {
                continue;
            }
            let e = &self.evictions[i];
            let node = e.node;
            let n = match &e.keys {
                Some(keys) => keys
                    .iter()
                    .filter(|&&(dir, key)| self.ch.driver.evict(node, dir, key))
                    .count(),
                None => e
                    .sides
                    .iter()
                    .map(|&dir| self.ch.driver.evict_all(node, dir))
                    .sum(),
            };
            self.forced[node] += n as u64;
            self.evictions[i].fired(now);
        }
    }

    /// Whether stream `i`'s writer can send without waiting for its card (the slot it will
    /// reuse was sent, the doorbell FIFO has room); otherwise the message waits a step.
    fn writer_ready(&mut self, i: usize) -> Result<bool, RunError> {
        let (c, w) = (self.streams[i].channel, self.streams[i].writer);
        let free = self
            .ch
            .slot_free(self.ids[c], w)
            .map_err(|source| RunError::Channel {
                channel: self.s.channels[c].name.clone(),
                source,
            })?;
        Ok(free && self.ch.driver.doorbell_room(w) > 0)
    }

    fn send(&mut self, stream: usize, now: u64) -> Result<(), RunError> {
        let st = &mut self.streams[stream];
        let (c, w) = (st.channel, st.writer);
        let len = st.take(now);
        let lengths = self.lengths.entry((c, w)).or_default();
        let seq = lengths.len() as u64 + 1;
        let id = self.ids[c];
        let addr = self.ch.slot_addr(id, w, seq).expect("validated writer");
        let data = payload(self.s.sim.seed, c, w, seq, len);
        let sent = self
            .ch
            .send(id, w, &data)
            .map_err(|source| RunError::Channel {
                channel: self.s.channels[c].name.clone(),
                source,
            })?;
        debug_assert_eq!(sent, seq);
        lengths.push(len);
        self.packets[c] += split_message(addr, record_bytes(len), self.max_payload).len() as u64;
        self.payload_bytes[c] += len as u64;
        Ok(())
    }

    /// Takes and counts every node's notifications (readers poll every step anyway).
    fn take_notifications(&mut self) {
        for node in 0..self.s.nodes.len() {
            let notes = self.ch.driver.take_notifications(node);
            self.notifications[node] += notes.len() as u64;
        }
    }

    /// Every reader takes what arrived; with `quiet` (nothing in flight), a reader that still
    /// misses messages its writers sent gives the missing ones up when newer ones are there.
    fn poll_all(&mut self, quiet: bool) -> Result<(), RunError> {
        for c in 0..self.s.channels.len() {
            for r in 0..self.s.channels[c].readers.len() {
                self.poll(c, r, quiet)?;
            }
        }
        Ok(())
    }

    /// Reader `r` (by position in the channel's reader list) of channel `c` takes what came.
    fn poll(&mut self, c: usize, r: usize, quiet: bool) -> Result<(), RunError> {
        let id = self.ids[c];
        let node = self.ch.spec(id).readers[r];
        let err = |source| RunError::Channel {
            channel: self.s.channels[c].name.clone(),
            source,
        };
        loop {
            let mut got = self.ch.try_recv(id, node).map_err(err)?;
            if got.is_none() && quiet && self.behind(c, r) {
                got = self.ch.skip_lost(id, node).map_err(err)?;
            }
            let Some((writer, d)) = got else {
                return Ok(());
            };
            self.tally(c, r, writer, d);
        }
    }

    /// Whether reader `r` of channel `c` has not yet accounted for every message sent.
    fn behind(&self, c: usize, r: usize) -> bool {
        let rr = &self.readers[c][r];
        rr.delivered + rr.lost < self.sent(c)
    }

    fn sent(&self, c: usize) -> u64 {
        self.ch.sent(self.ids[c])
    }

    fn tally(&mut self, c: usize, r: usize, writer: usize, d: Delivery) {
        let len = self
            .lengths
            .get(&(c, writer))
            .and_then(|v| v.get(d.seq as usize - 1).copied());
        let ok =
            len.is_some_and(|len| d.payload == payload(self.s.sim.seed, c, writer, d.seq, len));
        let rr = &mut self.readers[c][r];
        rr.delivered += 1;
        rr.verified += ok as u64;
        rr.corrupt += !ok as u64;
        rr.lost += d.gap;
        rr.gaps += (d.gap > 0) as u64;
    }

    fn report(&mut self, finished: bool, wall_seconds: f64) -> Report {
        let s = self.s;
        let driver = &self.ch.driver;
        let clock_hz = driver.config().clock_hz;
        let slots = driver.info(0).counter_slots;
        let slot_channel = |slot: u32| {
            (0..s.channels.len())
                .find(|&c| (c as u32 + 1) % slots == slot)
                .map(|c| s.channels[c].name.clone())
        };
        let channels: Vec<ChannelReport> = s
            .channels
            .iter()
            .enumerate()
            .map(|(c, spec)| {
                let sent = self.sent(c);
                ChannelReport {
                    name: spec.name.clone(),
                    kind: spec.kind,
                    sent,
                    packets: self.packets[c],
                    payload_bytes: self.payload_bytes[c],
                    readers: self.readers[c]
                        .iter()
                        .map(|r| ReaderReport {
                            undelivered: sent - r.delivered - r.lost,
                            ..r.clone()
                        })
                        .collect(),
                }
            })
            .collect();
        let nodes: Vec<NodeReport> = (0..s.nodes.len())
            .map(|n| {
                let t = driver.totals(n);
                let m = driver.stats(n);
                NodeReport {
                    name: s.nodes[n].name.clone(),
                    counters: rm::GLOBAL_COUNTERS
                        .iter()
                        .map(|c| (c.name.to_string(), t.global(c.name)))
                        .collect(),
                    slots: (0..slots)
                        .filter(|&k| t.slots[k as usize].counts.iter().any(|&v| v > 0))
                        .map(|k| {
                            let st = t.slots[k as usize];
                            let rate = driver.average_rates(n, k);
                            SlotReport {
                                slot: k,
                                channel: slot_channel(k),
                                tx_packets: st.tx_packets(),
                                tx_bytes: st.tx_bytes(),
                                rx_packets: st.rx_packets(),
                                rx_bytes: st.rx_bytes(),
                                tx_bytes_per_s: rate.tx_bytes_per_s,
                                rx_bytes_per_s: rate.rx_bytes_per_s,
                                tx_packets_per_s: rate.tx_packets_per_s,
                                rx_packets_per_s: rate.rx_packets_per_s,
                            }
                        })
                        .collect(),
                    misses: MissReport {
                        interrupts: m.interrupts,
                        rx_serviced: m.rx_serviced,
                        tx_serviced: m.tx_serviced,
                        rx_dropped: m.rx_dropped,
                        tx_cancelled: m.tx_cancelled,
                        installs: m.installs,
                        evictions: m.evictions,
                        forced_evictions: self.forced[n],
                    },
                    notifications: self.notifications[n],
                }
            })
            .collect();
        let sw = driver.fabric().switch_stats();
        let tally = self.tally.borrow().clone();
        let switch = SwitchReport {
            packets_in: sw.packets_in,
            copies_out: sw.copies_out,
            unroutable: sw.unroutable,
            fault_dropped: sw.fault_dropped,
            fault_duplicated: sw.fault_duplicated,
            fault_bit_flipped: tally.bit_flipped,
            injected: sw.injected,
            stray_words: sw.stray_words,
        };
        let accounting = self.accounting(&channels, &nodes, &switch);
        let checks = self.checks(finished, &channels, &nodes, &accounting, &tally);
        Report {
            scenario: self.name.clone(),
            backend: self.backend,
            cycles: self.cycle(),
            clock_hz,
            wall_seconds,
            finished,
            channels,
            nodes,
            switch,
            accounting,
            checks,
        }
    }

    fn accounting(
        &self,
        channels: &[ChannelReport],
        nodes: &[NodeReport],
        sw: &SwitchReport,
    ) -> Accounting {
        let packets_sent: u64 = channels.iter().map(|c| c.packets).sum();
        let copies_expected: u64 = channels
            .iter()
            .map(|c| c.packets * c.readers.len() as u64)
            .sum();
        let by_slots =
            |f: fn(&SlotReport) -> u64| -> u64 { nodes.iter().flat_map(|n| &n.slots).map(f).sum() };
        let dropped_by_reason: BTreeMap<String, u64> = RX_DROPS
            .iter()
            .map(|&d| (d.to_string(), nodes.iter().map(|n| n.counters[d]).sum()))
            .collect();
        let delivered = by_slots(|s| s.rx_packets);
        let dropped_in_switch = sw.fault_dropped + sw.unroutable;
        let inn = copies_expected + sw.fault_duplicated + sw.injected;
        let out = delivered + dropped_by_reason.values().sum::<u64>() + dropped_in_switch;
        Accounting {
            packets_sent,
            packets_sent_by_cards: by_slots(|s| s.tx_packets),
            copies_expected,
            duplicated: sw.fault_duplicated,
            injected: sw.injected,
            delivered,
            dropped_by_reason,
            dropped_in_switch,
            unaccounted: inn as i64 - out as i64,
            balanced: inn == out,
        }
    }

    fn checks(
        &mut self,
        finished: bool,
        channels: &[ChannelReport],
        nodes: &[NodeReport],
        a: &Accounting,
        tally: &FaultTally,
    ) -> Vec<Check> {
        let s = self.s;
        let mut checks = vec![
            Check::new(
                "finished",
                finished,
                if finished {
                    format!("all traffic sent and landed by cycle {}", self.cycle())
                } else {
                    format!(
                        "max_cycles = {} reached with traffic left or in flight",
                        s.sim.max_cycles
                    )
                },
            ),
            Check::new(
                "cards sent what the host asked",
                a.packets_sent == a.packets_sent_by_cards,
                format!(
                    "{} packets asked, {} counted by the cards' TX counters",
                    a.packets_sent, a.packets_sent_by_cards
                ),
            ),
            Check::new(
                "every packet copy accounted for",
                a.balanced,
                format!(
                    "{} expected + {} duplicated + {} injected = {} delivered + {} dropped by cards + {} dropped in the switch{}",
                    a.copies_expected,
                    a.duplicated,
                    a.injected,
                    a.delivered,
                    a.dropped_by_reason.values().sum::<u64>(),
                    a.dropped_in_switch,
                    if a.balanced { String::new() } else { format!(" ({} unaccounted)", a.unaccounted) }
                ),
            ),
        ];
        let delivered: u64 = channels
            .iter()
            .flat_map(|c| &c.readers)
            .map(|r| r.delivered)
            .sum();
        let corrupt: u64 = channels
            .iter()
            .flat_map(|c| &c.readers)
            .map(|r| r.corrupt)
            .sum();
        checks.push(Check::new(
            "every delivered message verified",
            corrupt == 0,
            format!(
                "{} of {delivered} messages matched what was sent byte for byte",
                delivered - corrupt
            ),
        ));
        // A dropped packet copy costs its reader at most one message.
        let mut unexplained = Vec::new();
        for (n, node) in s.nodes.iter().enumerate() {
            let missing: u64 = channels
                .iter()
                .flat_map(|c| &c.readers)
                .filter(|r| r.node == node.name)
                .map(|r| r.lost + r.undelivered)
                .sum();
            let drops =
                tally.dropped_to[n] + RX_DROPS.iter().map(|d| nodes[n].counters[*d]).sum::<u64>();
            if missing > drops {
                unexplained.push(format!(
                    "{}: {missing} messages missing, {drops} copies dropped",
                    node.name
                ));
            }
        }
        checks.push(Check::new(
            "every lost message explained by a dropped packet",
            unexplained.is_empty(),
            if unexplained.is_empty() {
                "no reader missed more messages than packets dropped on its way".to_string()
            } else {
                unexplained.join("; ")
            },
        ));
        let outside = self.written_outside_segments();
        checks.push(Check::new(
            "nothing written outside a segment",
            outside.is_empty(),
            if outside.is_empty() {
                "every byte outside the channel segments is still zero on every node".to_string()
            } else {
                outside.join("; ")
            },
        ));
        checks
    }

    /// Nodes with a non-zero byte outside their segments (the first such address).
    fn written_outside_segments(&mut self) -> Vec<String> {
        let mut bad = Vec::new();
        for n in 0..self.s.nodes.len() {
            let mut ranges: Vec<_> = self
                .ids
                .iter()
                .flat_map(|&id| {
                    [
                        self.ch.segment_range(id, n),
                        self.ch.tx_segment_range(id, n),
                    ]
                })
                .flatten()
                .collect();
            ranges.sort_by_key(|r| r.start);
            ranges.dedup();
            let size = self.ch.driver.fabric().mem_size(n);
            let mut mem = vec![0u8; size];
            self.ch.driver.fabric_mut().mem_read(n, 0, &mut mem);
            let mut at = 0usize;
            let check = |from: usize, to: usize| {
                mem[from..to].iter().position(|&b| b != 0).map(|i| from + i)
            };
            let mut first = None;
            for r in ranges
                .iter()
                .chain(std::iter::once(&(size as u32..size as u32)))
            {
                if first.is_none() {
                    first = check(at, r.start as usize);
                }
                at = at.max(r.end as usize);
            }
            if let Some(a) = first {
                bad.push(format!("{}: byte {a:#x} written", self.s.nodes[n].name));
            }
        }
        bad
    }
}
