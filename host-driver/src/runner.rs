//! Runs a scenario file (`vassa sim`, `vassa demo`): builds the network of cards on the chosen
//! backend, opens the channels through the driver, plays the traffic, applies the faults,
//! reads every message on every reader and checks it, and reports ([`report::Report`]).
//!
//! Every node's host runs beside the network in one simulated time ([`crate::exec::World`]):
//! its driver (interrupt handler, counter poller) and its programs, each a task —
//! - a *writer* per `[[traffic]]` entry: at each message's time it waits until its own card can
//!   take the message (the slot it reuses has been sent, the doorbell FIFO has room), writes it
//!   into its segment and rings the doorbell; a message handed over late delays the next one;
//! - a *reader* per channel reader: every reader poll interval it takes every message that
//!   arrived and, when a newer message of a writer is complete while an older one is missing,
//!   asks its card and gives the older one up once nothing is parked
//!   ([`crate::channel::ChannelOps::next`]);
//! - the scenario's forced evictions, as writes of the evicting node's host, and its injected
//!   packets, put on a link when due.
//!
//! The run ends when all traffic is sent and the network is settled (nothing in flight, parked
//! or being serviced; the readers then take what is left), or at `max_cycles`. Then every
//! message is accounted for at every reader against the fabric's ledger of packet copies
//! ([`accounting`]): delivered, dropped on its way (by cause), lapped, or in flight.

mod accounting;
mod dump;
pub mod faults;
pub mod report;
pub mod text;
pub mod traffic;

use crate::channel::{ChannelError, ChannelId, ChannelOps, ChannelSpec as Spec, Channels, Kind};
use crate::driver::{Dir, Driver, DriverConfig, DriverError};
use crate::fabric::{Fabric, ModelFabric, RtlFabric, Switch};
use crate::memory::Memory;
use crate::scenario::{Backend, ChannelKind, Scenario};
use crate::segment::{record_bytes, Delivery};
use accounting::{Asked, ReaderView, Tally};
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
use vassa_sim::network::{Fate, InFlight};

/// Simulated cycles between two looks at the run's progress and end.
const STEP: u64 = 256;
/// Cycles a writer waiting for its card pauses between two looks.
const WRITER_PAUSE: u64 = 64;

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
pub fn check_backend(_s: &Scenario, backend: Backend, trace: bool) -> Result<(), RunError> {
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
            // The prebuilt core at the default parameters; other ones built once and cached.
            let mut fabric = RtlFabric::with_params(&s.sim.core, mems, s.sim.link_latency)
                .map_err(|e| RunError::Backend(format!("sim.core: {e}")))?;
            if let Some(path) = &opts.trace {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if !dir.is_dir() {
                        return Err(RunError::Trace(format!(
                            "{}: no such directory",
                            dir.display()
                        )));
                    }
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
            let r = Runner::new(s, name, backend, fabric)?;
            let report = r.run(opts, progress);
            report.map(|(report, mut fabric)| {
                for node in &mut fabric.network_mut().nodes {
                    node.card.model().trace_close();
                }
                report
            })
        }
        Backend::Model => {
            let fabric = ModelFabric::with_latency(&s.sim.core, mems, s.sim.link_latency);
            Ok(Runner::new(s, name, backend, fabric)?
                .run(opts, progress)?
                .0)
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

/// One reader's tally, as its program kept it.
#[derive(Debug, Clone, Default)]
struct ReaderTally {
    delivered: u64,
    verified: u64,
    corrupt: u64,
    gaps: u64,
    lost: u64,
    /// Per writer node: what the reader gave up, why, and when.
    skipped: HashMap<usize, HashMap<u64, (crate::segment::Skip, u64)>>,
}

/// What the hosts' programs did, shared by their tasks.
#[derive(Default)]
struct Play {
    seed: u64,
    /// Payload length of every message sent, by (channel, writer node), index seq − 1.
    lengths: HashMap<(usize, usize), Vec<u32>>,
    /// Per node: the packets its card was asked to send, in doorbell order (index = the
    /// packet's number on that node).
    asked: Vec<Vec<Asked>>,
    /// Per node: doorbells entered in `asked`, and those rung but not yet entered (one rung
    /// before them is missing), by doorbell index.
    entered: Vec<u64>,
    early: Vec<BTreeMap<u64, Vec<Asked>>>,
    packets: Vec<u64>,
    payload_bytes: Vec<u64>,
    /// By channel, by position in its reader list.
    readers: Vec<Vec<ReaderTally>>,
    notifications: Vec<u64>,
    forced: Vec<u64>,
    messages_sent: u64,
    streams_left: usize,
    injections_left: usize,
    /// The run was cut short: programs stop at their next step.
    stopped: bool,
    /// Copies whose header was not the packet their number names.
    identity_mismatches: u64,
    error: Option<RunError>,
}

impl Play {
    /// Enters doorbell `index` of `node` (its packets) in order.
    fn rung(&mut self, node: usize, index: u64, packets: Vec<Asked>) {
        self.early[node].insert(index, packets);
        while let Some(p) = self.early[node].remove(&self.entered[node]) {
            self.asked[node].extend(p);
            self.entered[node] += 1;
        }
    }

    /// Reader `r` of channel `c` got `d` from `writer` at cycle `now`.
    fn tally(&mut self, c: usize, r: usize, writer: usize, d: Delivery, now: u64) {
        let len = self
            .lengths
            .get(&(c, writer))
            .and_then(|v| v.get(d.seq as usize - 1).copied());
        let ok = len.is_some_and(|len| d.payload == payload(self.seed, c, writer, d.seq, len));
        let rr = &mut self.readers[c][r];
        rr.delivered += 1;
        rr.verified += ok as u64;
        rr.corrupt += !ok as u64;
        rr.lost += d.gap;
        rr.gaps += (d.gap > 0) as u64;
        let skipped = d.skipped.into_iter().map(|(seq, why)| (seq, (why, now)));
        rr.skipped.entry(writer).or_default().extend(skipped);
    }

    fn traffic_done(&self) -> bool {
        self.streams_left == 0 && self.injections_left == 0
    }
}

/// A scenario being run: the channels over the driver, and what the programs did.
struct Runner<'a, F: Fabric + Switch> {
    s: &'a Scenario,
    name: String,
    backend: Backend,
    ch: Channels<F>,
    ids: Vec<ChannelId>,
    play: Rc<RefCell<Play>>,
    tally: Rc<RefCell<FaultTally>>,
    /// The cycle the network was ready (every driver attached, every channel open): cycle 0
    /// of the scenario's times.
    epoch: u64,
}

impl<'a, F: Fabric + Switch> Runner<'a, F> {
    fn new(s: &'a Scenario, name: &str, backend: Backend, fabric: F) -> Result<Self, RunError> {
        let nodes = s.nodes.len();
        let config = DriverConfig {
            host: s.sim.host,
            ..DriverConfig::default()
        };
        let driver = Driver::new(fabric, config)?;
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
        let play = Play {
            seed: s.sim.seed,
            asked: vec![Vec::new(); nodes],
            entered: vec![0; nodes],
            early: vec![BTreeMap::new(); nodes],
            packets: vec![0; s.channels.len()],
            payload_bytes: vec![0; s.channels.len()],
            readers: s
                .channels
                .iter()
                .map(|c| vec![ReaderTally::default(); c.readers.len()])
                .collect(),
            notifications: vec![0; nodes],
            forced: vec![0; nodes],
            streams_left: s.traffic.len(),
            injections_left: s.faults.inject.len(),
            ..Play::default()
        };
        let mut faults = LinkFaults::new(s.sim.seed, nodes);
        let tally = faults.tally.clone();
        let chan = |name: &str| s.channels.iter().position(|c| c.name == name).unwrap();
        let nva: Vec<_> = ids.iter().map(|&id| ch.nva_pages(id)).collect();
        let pages = |name: &str| nva[chan(name)].clone();
        let f = &s.faults;
        faults.add("drop", &f.drop, pages, node);
        faults.add("bit_flip", &f.bit_flip, pages, node);
        faults.add("duplicate", &f.duplicate, pages, node);
        let epoch = ch.driver.world().now();
        let play = Rc::new(RefCell::new(play));
        let hook_play = Rc::clone(&play);
        ch.driver
            .fabric_mut()
            .set_fault_hook(Box::new(move |cycle, copy| {
                let born = identify(&mut hook_play.borrow_mut(), copy).unwrap_or(cycle);
                if faults.is_empty() {
                    Fate::Deliver
                } else {
                    faults.decide(born, copy)
                }
            }));
        Ok(Runner {
            s,
            name: name.to_string(),
            backend,
            ch,
            ids,
            play,
            tally,
            epoch,
        })
    }

    /// Starts every program: writers, readers, evictions, injections.
    fn start(&self) {
        let s = self.s;
        let world = self.ch.driver.world();
        let ops = self.ch.ops();
        let node = |n: &str| s.node_id(n).expect("validated node name");
        let chan = |name: &str| s.channels.iter().position(|c| c.name == name).unwrap();
        for (i, t) in s.traffic.iter().enumerate() {
            let c = chan(&t.channel);
            let stream = Stream::new(t, i, c, node(t.writer_name()), s.sim.seed);
            let name = s.channels[c].name.clone();
            let play = Rc::clone(&self.play);
            world.spawn(writer(
                ops.clone(),
                play,
                stream,
                (self.epoch, self.ids[c]),
                name,
            ));
        }
        for (c, spec) in s.channels.iter().enumerate() {
            for (r, reader_name) in spec.readers.iter().enumerate() {
                world.spawn(reader(
                    ops.clone(),
                    Rc::clone(&self.play),
                    self.ids[c],
                    (c, r, node(reader_name)),
                    spec.name.clone(),
                ));
            }
        }
        for e in &s.faults.evict {
            let n = node(&e.node);
            let sides = EvictPlan::sides(e.side);
            let keys = e.channel.as_deref().map(|c| {
                let id = self.ids[chan(c)];
                let spec = &s.channels[chan(c)];
                let nva = self.ch.nva_pages(id);
                let phys = self.ch.segment_range(id, n).expect("validated member");
                // A writer that also reads sends from a segment of its own.
                let tx_phys = self.ch.tx_segment_range(id, n).unwrap_or(phys.clone());
                let chosen = |i: u32| e.page.is_none_or(|p| p == i as u64);
                let mut keys = Vec::new();
                for i in (0..nva.len() as u32).filter(|&i| chosen(i)) {
                    if sides.contains(&Dir::Tx) && spec.writers.contains(&e.node) {
                        keys.push((Dir::Tx, (tx_phys.start >> PAGE_SHIFT) + i));
                    }
                    if sides.contains(&Dir::Rx) && spec.readers.contains(&e.node) {
                        keys.push((Dir::Rx, nva.start + i));
                    }
                }
                keys
            });
            let plan = EvictPlan {
                node: n,
                keys,
                sides,
                next_at: e.at.unwrap_or(e.start),
                every: e.every,
            };
            let play = Rc::clone(&self.play);
            world.spawn(evictions(ops.clone(), play, plan, self.epoch));
        }
        let mut injections: Vec<(u64, usize, Vec<u32>)> = s
            .faults
            .inject
            .iter()
            .map(|i| {
                let words = match (&i.words, i.kind) {
                    (Some(w), _) => w.iter().map(|w| w.0).collect(),
                    (None, Some(kind)) => {
                        let page = i
                            .channel
                            .as_deref()
                            .map(|c| self.ch.nva_pages(self.ids[chan(c)]).start);
                        bad_packet(kind, page)
                    }
                    (None, None) => unreachable!("validated: words or kind"),
                };
                (i.at, node(&i.node), words)
            })
            .collect();
        injections.sort_by_key(|i| i.0);
        let host = ops.node(0).host().clone();
        let play = Rc::clone(&self.play);
        let epoch = self.epoch;
        world.spawn(async move {
            for (at, node, words) in injections {
                host.sleep_until(epoch + at).await;
                if play.borrow().stopped {
                    return;
                }
                let now = host.now();
                host.with_fabric(|f| f.inject(node, &words, now));
                play.borrow_mut().injections_left -= 1;
            }
        });
    }

    /// Runs the scenario; returns the report and the fabric (for the caller to close traces).
    fn run(
        mut self,
        opts: &RunOptions,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Report, F), RunError> {
        let started = Instant::now();
        let max_cycles = self.s.sim.max_cycles;
        let total: u64 = self.s.traffic.iter().map(|t| t.messages).sum();
        let report_every = (max_cycles / 200).max(10_000);
        let mut next_report = 0;
        self.start();
        let finished = loop {
            let now = self.ch.driver.world().now() - self.epoch;
            if now >= next_report {
                progress(&self.progress(total));
                next_report = now + report_every;
            }
            if let Some(e) = self.play.borrow_mut().error.take() {
                return Err(e);
            }
            if now >= max_cycles {
                break false;
            }
            if self.play.borrow().traffic_done() && self.ch.settled() {
                break true;
            }
            let step = STEP.min(max_cycles - now);
            self.ch.driver.world().run_until(step, step, |_| false);
        };
        let cycles = self.ch.driver.world().now() - self.epoch;
        if !finished {
            self.stop();
        }
        // The readers take what is left; with the network settled nothing more can land, so
        // a missing message a newer one overtook is given up (`Channels::try_recv`).
        self.read_what_is_left(finished)?;
        self.ch.driver.poll_counters();
        progress(&self.progress(total));
        let report = self.report(finished, cycles, started.elapsed().as_secs_f64());
        if let Some(dir) = &opts.dump_memory {
            dump::write(dir, self.s, &mut self.ch, &self.ids)?;
        }
        let Runner { ch, .. } = self;
        Ok((report, ch.into_fabric()))
    }

    /// Cut short at `max_cycles`: the programs stop, the switch holds what it has, every host
    /// masks its card's interrupts and disables its TX, and the cards finish the packets on
    /// their links — so the counters read next agree with the ledger, and what was queued,
    /// parked or unsent stays in flight.
    fn stop(&mut self) {
        self.play.borrow_mut().stopped = true;
        self.ch.driver.fabric_mut().hold_switch();
        let nodes: Vec<_> = (0..self.s.nodes.len())
            .map(|n| std::rc::Rc::clone(self.ch.driver.node(n)))
            .collect();
        let quiesce = nodes.iter().map(|d| d.quiesce()).collect();
        self.ch.driver.block_on(crate::driver::join_all(quiesce));
        let drain = self.s.sim.max_cycles.max(100_000);
        self.ch
            .driver
            .world()
            .run_until(drain, 64, |f| f.links_idle());
    }

    fn read_what_is_left(&mut self, settled: bool) -> Result<(), RunError> {
        for (c, spec) in self.s.channels.iter().enumerate() {
            for (r, reader) in spec.readers.iter().enumerate() {
                let node = self.s.node_id(reader).expect("validated node name");
                loop {
                    let got = if settled {
                        self.ch.try_recv(self.ids[c], node)
                    } else {
                        match self.ch.ops().look(self.ids[c], node) {
                            Ok(crate::segment::RegionLook::Message(w, d)) => Ok(Some((w, d))),
                            Ok(_) => Ok(None),
                            Err(e) => Err(e),
                        }
                    };
                    let got = got.map_err(|source| RunError::Channel {
                        channel: spec.name.clone(),
                        source,
                    })?;
                    let Some((writer, d)) = got else { break };
                    let now = self.ch.driver.world().now();
                    self.play.borrow_mut().tally(c, r, writer, d, now);
                }
                // Messages given up after the reader's last delivery of their writer.
                let left = self.ch.ops().take_unreported(self.ids[c], node);
                let left = left.map_err(|source| RunError::Channel {
                    channel: spec.name.clone(),
                    source,
                })?;
                let now = self.ch.driver.world().now();
                let mut play = self.play.borrow_mut();
                let rr = &mut play.readers[c][r];
                for (writer, seq, why) in left {
                    rr.lost += 1;
                    rr.skipped
                        .entry(writer)
                        .or_default()
                        .insert(seq, (why, now));
                }
            }
        }
        Ok(())
    }

    fn progress(&self, total: u64) -> Progress {
        Progress {
            cycle: self.ch.driver.world().now() - self.epoch,
            max_cycles: self.s.sim.max_cycles,
            messages_sent: self.play.borrow().messages_sent,
            messages_total: total,
        }
    }
}

impl<F: Fabric + Switch> Runner<'_, F> {
    fn report(&mut self, finished: bool, cycles: u64, wall_seconds: f64) -> Report {
        let s = self.s;
        let driver = &self.ch.driver;
        let clock_hz = driver.config().clock_hz;
        let slots = driver.info(0).counter_slots;
        let slot_channel = |slot: u32| {
            (0..s.channels.len())
                .find(|&c| (c as u32 + 1) % slots == slot)
                .map(|c| s.channels[c].name.clone())
        };
        let accounts = self.accounts();
        let play = self.play.borrow();
        let channels: Vec<ChannelReport> = s
            .channels
            .iter()
            .enumerate()
            .map(|(c, spec)| ChannelReport {
                name: spec.name.clone(),
                kind: spec.kind,
                sent: self.ch.sent(self.ids[c]),
                packets: play.packets[c],
                payload_bytes: play.payload_bytes[c],
                readers: play.readers[c]
                    .iter()
                    .zip(&spec.readers)
                    .zip(&accounts[c])
                    .map(|((t, node), a)| ReaderReport {
                        node: node.clone(),
                        delivered: t.delivered,
                        verified: t.verified,
                        corrupt: t.corrupt,
                        gaps: t.gaps,
                        lost: t.lost,
                        dropped: a.dropped(),
                        dropped_by: a.dropped_by.clone(),
                        lapped: a.lapped,
                        in_flight: a.in_flight,
                    })
                    .collect(),
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
                        forced_evictions: play.forced[n],
                    },
                    notifications: play.notifications[n],
                }
            })
            .collect();
        drop(play);
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
        let in_flight = self.copies_in_flight();
        let accounting = accounting_block(&channels, &nodes, &switch, in_flight);
        let mut checks = vec![
            Check::new(
                "finished",
                finished,
                if finished {
                    format!("all traffic sent and landed by cycle {cycles}")
                } else {
                    format!(
                        "max_cycles = {} reached with traffic left or in flight",
                        s.sim.max_cycles
                    )
                },
            ),
            Check::new(
                "cards sent what the host asked",
                // Cut short, a card may still hold packets it was asked for.
                if finished {
                    accounting.packets_sent == accounting.packets_sent_by_cards
                } else {
                    accounting.packets_sent_by_cards <= accounting.packets_sent
                },
                format!(
                    "{} packets asked, {} counted by the cards' TX counters",
                    accounting.packets_sent, accounting.packets_sent_by_cards
                ),
            ),
            copies_check(&accounting),
            self.trace_check(&nodes, &tally),
            verified_check(&channels),
            lost_check(&channels, &accounts),
        ];
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
        Report {
            scenario: self.name.clone(),
            backend: self.backend,
            cycles,
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

    /// Copies not yet written or dropped: the ledger's open copies, and a copy to every reader
    /// of each packet a card was asked for and has not sent yet.
    fn copies_in_flight(&self) -> u64 {
        let fabric = self.ch.driver.fabric();
        let Some(ledger) = fabric.ledger() else {
            return 0;
        };
        let play = self.play.borrow();
        let unsent: u64 = (play.asked.iter().enumerate())
            .flat_map(|(node, asked)| asked.iter().skip(ledger.packets_from(node) as usize))
            .map(|a| self.s.channels[a.channel].readers.len() as u64)
            .sum();
        ledger.in_flight() + unsent
    }

    /// Every message at every reader, by fate (per channel, per reader).
    fn accounts(&self) -> Vec<Vec<Tally>> {
        let play = self.play.borrow();
        let fabric = self.ch.driver.fabric();
        let empty = vassa_sim::ledger::Ledger::default();
        let ledger = fabric.ledger().unwrap_or(&empty);
        let packets = accounting::packets_of(&play.asked);
        let none = Vec::new();
        self.s
            .channels
            .iter()
            .enumerate()
            .map(|(c, spec)| {
                let writers: Vec<usize> = spec
                    .writers
                    .iter()
                    .map(|w| self.s.node_id(w).expect("validated"))
                    .collect();
                let nexts = |reader: usize| self.ch.reader_next(self.ids[c], reader);
                spec.readers
                    .iter()
                    .enumerate()
                    .map(|(r, name)| {
                        let reader = self.s.node_id(name).expect("validated");
                        let next = nexts(reader);
                        let mut t = Tally::default();
                        for (region, &w) in writers.iter().enumerate() {
                            let view = ReaderView {
                                next: next[region],
                                skipped: play.readers[c][r]
                                    .skipped
                                    .get(&w)
                                    .cloned()
                                    .unwrap_or_default(),
                            };
                            let sent = play.lengths.get(&(c, w)).map_or(0, Vec::len) as u64;
                            for seq in 1..=sent {
                                let p = packets.get(&(c, w, seq)).unwrap_or(&none);
                                let (fate, defect) =
                                    accounting::fate(ledger, p, w, reader, seq, &view);
                                t.add(fate, defect);
                            }
                        }
                        t
                    })
                    .collect()
            })
            .collect()
    }

    /// The cards' receive traces against their own counters: the ledger's drops by reason and
    /// packets written, per card, must be the counters' totals.
    fn trace_check(&self, nodes: &[NodeReport], tally: &FaultTally) -> Check {
        let fabric = self.ch.driver.fabric();
        let Some(ledger) = fabric.ledger() else {
            return Check::new(
                "the packet ledger agrees with the counters",
                true,
                "no ledger",
            );
        };
        let mut wrong = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            let drops = ledger.drops_at(n);
            for name in RX_DROPS {
                let (seen, counted) = (drops.get(name).copied().unwrap_or(0), node.counters[name]);
                if seen != counted {
                    wrong.push(format!(
                        "{}: {name} traced {seen}, counted {counted}",
                        node.name
                    ));
                }
            }
            let switch = drops.get("switch_fault_dropped").copied().unwrap_or(0);
            if switch != tally.dropped_to[n] {
                wrong.push(format!(
                    "{}: {switch} switch drops in the ledger, {} by the fault hook",
                    node.name, tally.dropped_to[n]
                ));
            }
            let written: u64 = node.slots.iter().map(|s| s.rx_packets).sum();
            if ledger.written(n) != written {
                wrong.push(format!(
                    "{}: {} packets written by the trace, {written} by the RX counters",
                    node.name,
                    ledger.written(n)
                ));
            }
        }
        wrong.extend(ledger.errors().iter().take(3).map(|e| e.0.clone()));
        let mismatches = self.play.borrow().identity_mismatches;
        if mismatches > 0 {
            wrong.push(format!(
                "{mismatches} packet copies did not carry the header their number names"
            ));
        }
        Check::new(
            "the packet ledger agrees with the counters",
            wrong.is_empty(),
            if wrong.is_empty() {
                format!(
                    "{} copies followed to their fate; drops by reason and packets written match every card's counters",
                    ledger.copies().len()
                )
            } else {
                wrong.join("; ")
            },
        )
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

fn accounting_block(
    channels: &[ChannelReport],
    nodes: &[NodeReport],
    sw: &SwitchReport,
    in_flight: u64,
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
    let out = delivered + dropped_by_reason.values().sum::<u64>() + dropped_in_switch + in_flight;
    Accounting {
        packets_sent,
        packets_sent_by_cards: by_slots(|s| s.tx_packets),
        copies_expected,
        duplicated: sw.fault_duplicated,
        injected: sw.injected,
        delivered,
        dropped_by_reason,
        dropped_in_switch,
        in_flight,
        unaccounted: inn as i64 - out as i64,
        balanced: inn == out,
    }
}

fn copies_check(a: &Accounting) -> Check {
    Check::new(
        "every packet copy accounted for",
        a.balanced,
        format!(
            "{} expected + {} duplicated + {} injected = {} delivered + {} dropped by cards + {} dropped in the switch + {} in flight{}",
            a.copies_expected,
            a.duplicated,
            a.injected,
            a.delivered,
            a.dropped_by_reason.values().sum::<u64>(),
            a.dropped_in_switch,
            a.in_flight,
            if a.balanced { String::new() } else { format!(" ({} unaccounted)", a.unaccounted) }
        ),
    )
}

fn verified_check(channels: &[ChannelReport]) -> Check {
    let readers = || channels.iter().flat_map(|c| &c.readers);
    let delivered: u64 = readers().map(|r| r.delivered).sum();
    let corrupt: u64 = readers().map(|r| r.corrupt).sum();
    Check::new(
        "every delivered message verified",
        corrupt == 0,
        format!(
            "{} of {delivered} messages matched what was sent byte for byte",
            delivered - corrupt
        ),
    )
}

/// Per reader: sent = delivered + dropped + lapped + in flight, counted independently (the
/// reader's deliveries, the ledger's fates), with no message the reader gave up against the
/// ledger's word.
fn lost_check(channels: &[ChannelReport], accounts: &[Vec<Tally>]) -> Check {
    let mut wrong = Vec::new();
    let (mut dropped, mut lapped, mut in_flight) = (0, 0, 0);
    for (c, accounts) in channels.iter().zip(accounts) {
        for (r, a) in c.readers.iter().zip(accounts) {
            dropped += r.dropped;
            lapped += r.lapped;
            in_flight += r.in_flight;
            if r.delivered + r.missed() != c.sent || a.delivered != r.delivered {
                wrong.push(format!(
                    "{} at {}: {} sent, {} delivered + {} dropped + {} lapped + {} in flight",
                    c.name, r.node, c.sent, r.delivered, r.dropped, r.lapped, r.in_flight
                ));
            }
            if a.defect_count > 0 {
                wrong.push(format!(
                    "{} at {}: {} message(s) given up against the ledger ({})",
                    c.name,
                    r.node,
                    a.defect_count,
                    a.defects.join("; ")
                ));
            }
        }
    }
    Check::new(
        "every lost message explained",
        wrong.is_empty(),
        if wrong.is_empty() {
            format!(
                "for every reader, sent = delivered + dropped + lapped + in flight ({dropped} dropped on the way, {lapped} lapped, {in_flight} in flight in all)"
            )
        } else {
            wrong.join("; ")
        },
    )
}

/// Checks that a copy's header is the packet its number names; returns the cycle its message
/// was handed to the card (for the fault rules' windows).
fn identify(play: &mut Play, copy: &InFlight) -> Option<u64> {
    let a = *play.asked.get(copy.src?)?.get(copy.number as usize)?;
    let word = |i: usize| copy.words.get(i).map_or(0, |w| w.data);
    let length = vassa_rtl::spec::packet::H1_LENGTH.get(word(1));
    if word(0) != a.nva || length != a.length {
        play.identity_mismatches += 1;
    }
    Some(a.cycle)
}

/// A `[[traffic]]` entry's program on its writer's host; `epoch` is the scenario's cycle 0.
async fn writer<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    mut stream: Stream,
    (epoch, id): (u64, ChannelId),
    channel: String,
) {
    let (c, w) = (stream.channel, stream.writer);
    let d = Rc::clone(ops.node(w));
    let host = d.host().clone();
    let fail = |play: &Rc<RefCell<Play>>, source| {
        play.borrow_mut().error.get_or_insert(RunError::Channel {
            channel: channel.clone(),
            source,
        });
    };
    while stream.left > 0 {
        host.sleep_until(epoch + stream.next_at).await;
        if play.borrow().stopped {
            return;
        }
        // The writer never waits for a reader, only for its own card.
        loop {
            match ops.slot_free(id, w).await {
                Ok(true) if ops.doorbell_room(w).await > 0 => break,
                Ok(_) => host.sleep(WRITER_PAUSE).await,
                Err(e) => return fail(&play, e),
            }
        }
        let len = stream.take(host.now() - epoch);
        let seed = play.borrow().seed;
        // Several streams may write one channel region: the payload is made for the sequence
        // number the message gets, and its length entered under it.
        let made = ops.send_made(id, w, |seq| {
            play.borrow_mut()
                .lengths
                .entry((c, w))
                .or_default()
                .push(len);
            payload(seed, c, w, seq, len)
        });
        let sent = match made.await {
            Ok(sent) => sent,
            Err(e) => return fail(&play, e),
        };
        let seq = sent.seq;
        let max_payload = d.info().max_payload;
        let chunks = split_message(sent.addr, sent.length, max_payload);
        let asked = chunks
            .iter()
            .map(|k| Asked {
                channel: c,
                seq,
                nva: sent.nva + (k.addr - sent.addr),
                length: k.length,
                cycle: host.now() - epoch,
            })
            .collect();
        let mut p = play.borrow_mut();
        p.packets[c] += chunks.len() as u64;
        p.payload_bytes[c] += len as u64;
        p.messages_sent += 1;
        p.rung(w, sent.doorbell, asked);
    }
    play.borrow_mut().streams_left -= 1;
}

/// A channel reader's program on its host: every reader poll interval, takes what arrived.
async fn reader<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    id: ChannelId,
    (c, r, node): (usize, usize, usize),
    channel: String,
) {
    let d = Rc::clone(ops.node(node));
    let host = d.host().clone();
    loop {
        host.sleep(host.costs().reader_poll.max(1)).await;
        loop {
            match ops.next(id, node).await {
                Ok(Some((writer, delivery))) => {
                    play.borrow_mut().tally(c, r, writer, delivery, host.now())
                }
                Ok(None) => break,
                Err(source) => {
                    play.borrow_mut().error.get_or_insert(RunError::Channel {
                        channel: channel.clone(),
                        source,
                    });
                    return;
                }
            }
        }
        // Signal-on-write notifications only say something landed; the slots say what.
        let notes = d.take_notifications().len() as u64;
        play.borrow_mut().notifications[node] += notes;
    }
}

/// A `[[faults.evict]]` entry, as writes of the evicting node's host, while traffic lasts.
async fn evictions<F: Fabric>(
    ops: ChannelOps<F>,
    play: Rc<RefCell<Play>>,
    mut plan: EvictPlan,
    epoch: u64,
) {
    let d = Rc::clone(ops.node(plan.node));
    loop {
        d.host().sleep_until(epoch + plan.next_at).await;
        if play.borrow().traffic_done() || play.borrow().stopped {
            return;
        }
        let n = match &plan.keys {
            Some(keys) => {
                let mut n = 0;
                for &(dir, key) in keys {
                    n += d.evict(dir, key).await as u64;
                }
                n
            }
            None => {
                let mut n = 0;
                for &dir in &plan.sides {
                    n += d.evict_all(dir).await as u64;
                }
                n
            }
        };
        play.borrow_mut().forced[plan.node] += n;
        if !plan.fired(d.host().now() - epoch) {
            return;
        }
    }
}
