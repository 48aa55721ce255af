//! Runs a scenario file (`vassa sim`, `vassa demo`): builds the network of cards on the chosen
//! backend, opens the channels through the driver, plays the traffic, applies the faults,
//! reads every message on every reader and checks it, and reports ([`report::Report`]).
//!
//! Every node's host runs beside the network in one simulated time ([`vassa_driver::exec::World`]):
//! its driver (interrupt handler, counter poller) and its programs, each a task —
//! - a *writer* per `[[traffic]]` entry: at each message's time it waits until its own card can
//!   take the message (the slot it reuses has been sent, the doorbell FIFO has room), writes it
//!   into its segment and rings the doorbell; a message handed over late delays the next one;
//! - a *reader* per channel reader: every reader poll interval it takes every message that
//!   arrived and, when a newer message of a writer is complete while an older one is missing,
//!   asks its card and gives the older one up once nothing is parked
//!   ([`vassa_driver::channel::ChannelOps::next`]);
//! - the scenario's forced evictions, as writes of the evicting node's host, and its injected
//!   packets, put on a link when due.
//!
//! The run ends when all traffic is sent and the network is settled (nothing in flight, parked
//! or being serviced; the readers then take what is left), or at `max_cycles`. Then every
//! message is accounted for at every reader against the fabric's ledger of packet copies
//! (module `accounting`): delivered, dropped on its way (by cause), lapped, or in flight.

mod accounting;
mod dump;
pub mod faults;
mod programs;
pub mod report;
mod report_build;
pub mod text;
pub mod traffic;

use crate::fabric::{Fabric, ModelFabric, RtlFabric, Switch};
use crate::scenario::{Backend, Scenario};
use faults::{bad_packet, EvictPlan, FaultTally, LinkFaults};
use programs::{evictions, identify, reader, writer, Play, ReaderTally};
use report::Report;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;
use traffic::Stream;
use vassa_driver::channel::{ChannelError, ChannelId, ChannelSpec as Spec, Channels};
use vassa_driver::driver::{Dir, Driver, DriverConfig, DriverError};
use vassa_driver::memory::Memory;
use vassa_driver::segment::record_bytes;
use vassa_sim::network::Fate;
use vassa_spec::params::PAGE_SHIFT;

/// Simulated cycles between two looks at the run's progress and end.
const STEP: u64 = 256;

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
                        .core()
                        .trace_to(&file)
                        .map_err(RunError::Trace)?;
                }
            }
            let r = Runner::new(s, name, backend, fabric)?;
            let report = r.run(opts, progress);
            report.map(|(report, mut fabric)| {
                for node in &mut fabric.network_mut().nodes {
                    node.card.core().trace_close();
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
                kind: c.kind,
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
        self.ch
            .driver
            .block_on(vassa_driver::exec::join_all(quiesce));
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
                            Ok(vassa_driver::segment::RegionLook::Message(w, d)) => {
                                Ok(Some((w, d)))
                            }
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
