//! Measurements behind `vassa bench channels`: the host CPU cost of [`Channels::send`] and
//! end-to-end message rates of a unicast channel (one writer, node 0 → one reader, node 1,
//! 64-byte messages) on both backends. Every function runs fresh cards and returns plain
//! numbers plus what was delivered, so tests check behaviour and only [`channels`] turns
//! times into tables.

use crate::fabric::{Fabric, ModelFabric, RtlFabric};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use vassa_driver::channel::{ChannelId, ChannelSpec, Channels, Kind};
use vassa_driver::driver::{Driver, DriverConfig};
use vassa_driver::host::HostCosts;
use vassa_driver::segment::{encode, Layout};
use vassa_spec::params::DOORBELL_FIFO_DEPTH;

/// Payload bytes of every message.
pub const MESSAGE: usize = 64;
/// Bytes of the channel's segment (two pages: 93 slots of 88 bytes).
pub const SEGMENT: u32 = 8192;
/// Bytes of memory per node.
const MEM: usize = 1 << 20;
const WRITER: usize = 0;
const READER: usize = 1;
/// Sends timed back to back: as many as the doorbell FIFO holds, so no send waits for the card.
pub const BATCH: usize = DOORBELL_FIFO_DEPTH as usize;
/// Simulated cycles a message may take to arrive before a run counts it as not delivered.
const ARRIVAL_LIMIT: u64 = 1_000_000;

fn spec() -> ChannelSpec {
    ChannelSpec {
        kind: Kind::Unicast,
        writers: vec![WRITER],
        readers: vec![READER],
        segment_bytes: SEGMENT,
        max_message: MESSAGE as u32,
    }
}

/// Slots of the benchmark channel (a window must stay below this, or the reader is lapped).
pub fn slots() -> u32 {
    Layout::new(SEGMENT, 1, MESSAGE as u32).unwrap().slots
}

/// Two nodes of `fabric` on hosts with `host` costs and an open unicast channel 0 → 1.
fn open<F: Fabric>(fabric: F, host: HostCosts) -> (Channels<F>, ChannelId) {
    let config = DriverConfig {
        host,
        ..DriverConfig::default()
    };
    let driver = Driver::new(fabric, config).expect("cards answer");
    let mut ch = Channels::new(driver);
    let c = ch.open(spec()).expect("channel opens");
    (ch, c)
}

/// Distinct payloads, message `seq` carries `payloads[(seq - 1) % len]`.
fn payloads() -> Vec<Vec<u8>> {
    (0..BATCH)
        .map(|k| (0..MESSAGE).map(|i| (i * 7 + k * 31 + 1) as u8).collect())
        .collect()
}

/// What a reader got of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Messages received intact, in order, with the payload sent under that sequence number.
    pub ok: u64,
    /// Messages missing, out of order or with a wrong payload.
    pub bad: u64,
}

/// Receives `n` messages (running the fabric), checking each against `payloads`.
fn receive<F: Fabric>(
    ch: &mut Channels<F>,
    c: ChannelId,
    n: usize,
    next_seq: &mut u64,
    payloads: &[Vec<u8>],
    got: &mut Delivered,
) {
    for _ in 0..n {
        match ch
            .recv(c, READER, ARRIVAL_LIMIT)
            .expect("reader of the channel")
        {
            Some((_, d))
                if d.seq == *next_seq
                    && d.gap == 0
                    && d.payload == payloads[(d.seq - 1) as usize % payloads.len()] =>
            {
                got.ok += 1
            }
            _ => got.bad += 1,
        }
        *next_seq += 1;
    }
}

// ---- (a) Host CPU per send ------------------------------------------------------------------

/// Per-operation CPU time of one variant over several repetitions.
#[derive(Debug, Clone, PartialEq)]
pub struct Cost {
    pub name: &'static str,
    /// Operations timed per repetition.
    pub ops: u64,
    /// Nanoseconds per operation of each repetition.
    pub ns: Vec<f64>,
    /// Messages delivered in the untimed phases (0 where the variant sends nothing).
    pub delivered: Delivered,
    /// Timed batches during which simulated time advanced (the card did work inside the
    /// timed part: must be 0 for the figure to be the host's cost alone).
    pub fabric_ran: u64,
}

impl Cost {
    pub fn best(&self) -> f64 {
        self.ns.iter().copied().fold(f64::INFINITY, f64::min)
    }

    pub fn median(&self) -> f64 {
        let mut v = self.ns.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

/// One variant of the send cost measurement: state that persists across repetitions.
trait Variant {
    /// Performs operation `k` of a batch (the timed part).
    fn op(&mut self, k: usize);
    /// Lets the card catch up after a batch (untimed).
    fn between(&mut self);
    /// Simulated cycle now (a timed batch must not advance it).
    fn cycle(&self) -> u64;
}

/// `Channels::send` on the model backend; the reader takes every batch between batches.
struct Send {
    ch: Channels<ModelFabric>,
    c: ChannelId,
    payloads: Vec<Vec<u8>>,
    next_seq: u64,
    got: Delivered,
}

impl Send {
    fn new() -> Self {
        // The host's own code: no modelled costs.
        let (ch, c) = open(ModelFabric::with_heap(2, MEM), HostCosts::zero());
        let mut s = Send {
            ch,
            c,
            payloads: payloads(),
            next_seq: 1,
            got: Delivered::default(),
        };
        // Warm-up, untimed: a lap of the slots installs the TX and RX mappings.
        for _ in 0..slots() as usize / BATCH {
            for k in 0..BATCH {
                s.op(k);
            }
            s.between();
        }
        s.got = Delivered::default();
        s
    }
}

impl Variant for Send {
    fn op(&mut self, k: usize) {
        black_box(self.ch.send(self.c, WRITER, &self.payloads[k]).unwrap());
    }

    fn between(&mut self) {
        let Send {
            ch,
            c,
            payloads,
            next_seq,
            got,
        } = self;
        receive(ch, *c, BATCH, next_seq, payloads, got);
        // Register reads take card cycles: learn the TX completions and the doorbell FIFO's
        // room here, so no send of the next batch has to ask the card.
        ch.driver.poll_counters();
        ch.driver.doorbell_room(WRITER);
    }

    fn cycle(&self) -> u64 {
        self.ch.driver.world().now()
    }
}

/// `segment::encode` of a message into a slot-sized buffer: the record alone.
struct Encode {
    slot: Vec<u8>,
    payloads: Vec<Vec<u8>>,
    seq: u64,
}

impl Variant for Encode {
    fn op(&mut self, k: usize) {
        self.seq += 1;
        black_box(encode(&mut self.slot, self.seq, &self.payloads[k]));
    }
    fn between(&mut self) {}
    fn cycle(&self) -> u64 {
        0
    }
}

/// `Driver::doorbell` alone on the model backend (the register writes of a send).
struct Doorbell {
    driver: Driver<ModelFabric>,
}

impl Variant for Doorbell {
    fn op(&mut self, _: usize) {
        // Unmapped addresses: the card cancels the descriptors in the untimed part.
        self.driver.doorbell(WRITER, 0, 88, false).unwrap();
    }
    fn between(&mut self) {
        assert!(self.driver.settle(ARRIVAL_LIMIT), "doorbells drain");
        self.driver.doorbell_room(WRITER);
    }
    fn cycle(&self) -> u64 {
        self.driver.world().now()
    }
}

/// An empty batch: what the two clock reads around a batch add to each operation.
struct Clock;

impl Variant for Clock {
    fn op(&mut self, k: usize) {
        black_box(k);
    }
    fn between(&mut self) {}
    fn cycle(&self) -> u64 {
        0
    }
}

/// Times `batches` batches of [`BATCH`] operations of `v`, running `between` after each;
/// returns ns per operation and the batches during which simulated time moved.
fn time_rep(v: &mut dyn Variant, batches: u32) -> (f64, u64) {
    let mut timed = Duration::ZERO;
    let mut ran = 0;
    for _ in 0..batches {
        let cycle = v.cycle();
        let t = Instant::now();
        for k in 0..BATCH {
            v.op(k);
        }
        timed += t.elapsed();
        ran += (v.cycle() != cycle) as u64;
        v.between();
    }
    let ops = batches as f64 * BATCH as f64;
    (timed.as_nanos() as f64 / ops, ran)
}

/// Host CPU per operation of the send path and its parts, on the model backend, and the
/// timing's own cost (the last): `reps` repetitions of `batches` timed batches each, the
/// variants alternating rep by rep so that they see the same machine load.
pub fn send_costs(batches: u32, reps: u32) -> Vec<Cost> {
    let mut send = Send::new();
    let mut enc = Encode {
        slot: vec![0; Layout::new(SEGMENT, 1, MESSAGE as u32).unwrap().slot_bytes as usize],
        payloads: payloads(),
        seq: 0,
    };
    let mut db = Doorbell {
        driver: Driver::new(
            ModelFabric::with_heap(2, MEM),
            DriverConfig {
                host: HostCosts::zero(),
                ..DriverConfig::default()
            },
        )
        .unwrap(),
    };
    let names = [
        "`Channels::send`",
        "`segment::encode`",
        "`Driver::doorbell`",
        "empty batch (clock reads)",
    ];
    let mut costs: Vec<Cost> = names
        .into_iter()
        .map(|name| Cost {
            name,
            ops: batches as u64 * BATCH as u64,
            ns: Vec::new(),
            delivered: Delivered::default(),
            fabric_ran: 0,
        })
        .collect();
    for _ in 0..reps {
        let variants: [&mut dyn Variant; 4] = [&mut send, &mut enc, &mut db, &mut Clock];
        for (v, cost) in variants.into_iter().zip(&mut costs) {
            let (ns, ran) = time_rep(v, batches);
            cost.ns.push(ns);
            cost.fabric_ran += ran;
        }
    }
    costs[0].delivered = send.got;
    costs
}

// ---- (b), (c) End-to-end rates ---------------------------------------------------------------

/// Which cards the channel runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Model,
    Rtl,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Model => "model",
            Backend::Rtl => "RTL (Verilator)",
        }
    }
}

/// One end-to-end run: the writer sends `window` messages, the reader receives them, again
/// until `messages` were sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Throughput {
    pub backend: Backend,
    pub window: usize,
    pub messages: u64,
    pub delivered: Delivered,
    pub wall: Duration,
    /// Simulated cycles of the run.
    pub cycles: u64,
}

impl Throughput {
    pub fn per_second_wall(&self) -> f64 {
        self.delivered.ok as f64 / self.wall.as_secs_f64()
    }

    pub fn cycles_per_message(&self) -> f64 {
        self.cycles as f64 / self.messages as f64
    }

    /// Messages per simulated second at `clock_hz`.
    pub fn per_second_simulated(&self, clock_hz: u64) -> f64 {
        clock_hz as f64 / self.cycles_per_message()
    }
}

/// Sends and receives `messages` 64-byte messages in rounds of `window` (below [`slots`]) over
/// a fresh channel on `backend`, after an untimed lap that installs the mappings.
pub fn throughput(backend: Backend, window: usize, messages: u64) -> Throughput {
    match backend {
        Backend::Model => run_e2e(ModelFabric::with_heap(2, MEM), backend, window, messages),
        Backend::Rtl => run_e2e(RtlFabric::with_heap(2, MEM), backend, window, messages),
    }
}

fn run_e2e<F: Fabric>(fabric: F, backend: Backend, window: usize, messages: u64) -> Throughput {
    assert!(window >= 1 && window < slots() as usize, "window {window}");
    // Hosts with the documented default costs ([sim.host]).
    let (mut ch, c) = open(fabric, HostCosts::default());
    let payloads = payloads();
    let mut next_seq = 1;
    let mut got = Delivered::default();
    let mut round = |ch: &mut Channels<F>, n: usize, got: &mut Delivered| {
        for _ in 0..n {
            let seq = ch.send(c, WRITER, &payloads[(next_seq - 1) as usize % BATCH]);
            black_box(seq.expect("send"));
            next_seq += 1;
        }
        let mut recv_seq = next_seq - n as u64;
        receive(ch, c, n, &mut recv_seq, &payloads, got);
    };
    round(&mut ch, slots() as usize - 1, &mut Delivered::default());
    let cycle = ch.driver.world().now();
    let t = Instant::now();
    let mut left = messages;
    while left > 0 {
        let n = left.min(window as u64);
        round(&mut ch, n as usize, &mut got);
        left -= n;
    }
    let wall = t.elapsed();
    let cycles = ch.driver.world().now() - cycle;
    Throughput {
        backend,
        window,
        messages,
        delivered: got,
        wall,
        cycles,
    }
}

/// Repetitions of one end-to-end configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    pub runs: Vec<Throughput>,
}

impl Rates {
    /// Median and best messages per second of wall time over the runs.
    pub fn wall(&self) -> (f64, f64) {
        let mut v: Vec<f64> = self.runs.iter().map(Throughput::per_second_wall).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    }

    /// Messages delivered intact over all runs, of those sent.
    pub fn delivered(&self) -> (u64, u64) {
        let ok = self.runs.iter().map(|r| r.delivered.ok).sum();
        (ok, self.runs.iter().map(|r| r.messages).sum())
    }

    /// Simulated cycles of a run, if every run took the same (the simulation is deterministic).
    pub fn cycles(&self) -> Option<u64> {
        let c = self.runs[0].cycles;
        self.runs.iter().all(|r| r.cycles == c).then_some(c)
    }
}

/// End-to-end runs of every `(backend, window, messages)` configuration, `reps` times, the
/// configurations alternating rep by rep.
pub fn end_to_end(configs: &[(Backend, usize, u64)], reps: u32) -> Vec<Rates> {
    let mut rates = vec![Rates { runs: Vec::new() }; configs.len()];
    for _ in 0..reps {
        for (&(backend, window, messages), r) in configs.iter().zip(&mut rates) {
            r.runs.push(throughput(backend, window, messages));
        }
    }
    rates
}

// ---- The report -------------------------------------------------------------------------------

/// Run lengths.
#[derive(Debug, Clone)]
pub struct Options {
    /// Timed batches of [`BATCH`] sends per repetition, and repetitions.
    pub send_batches: u32,
    pub send_reps: u32,
    /// Messages per end-to-end run on each backend, and repetitions of every run.
    pub model_messages: u64,
    pub rtl_messages: u64,
    pub e2e_reps: u32,
    /// Windows of the end-to-end runs (messages sent before the reader takes them).
    pub windows: Vec<usize>,
}

impl Options {
    pub fn full() -> Self {
        Options {
            send_batches: 2_000,
            send_reps: 9,
            model_messages: 100_000,
            rtl_messages: 20_000,
            e2e_reps: 3,
            windows: vec![1, BATCH, 64],
        }
    }

    pub fn quick() -> Self {
        Options {
            send_batches: 200,
            send_reps: 3,
            model_messages: 5_000,
            rtl_messages: 500,
            e2e_reps: 1,
            windows: vec![1, BATCH, 64],
        }
    }
}

/// Goal for [`Channels::send`]'s host CPU time per 64-byte message.
pub const SEND_GOAL_NS: f64 = 100.0;

/// The machine's load averages (1, 5, 15 min) where the OS shows them.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|_| "unknown".into())
}

/// Runs every measurement with `options` and returns them as markdown tables.
pub fn report(options: &Options) -> String {
    let mut out = String::new();
    let load_before = load();
    let costs = send_costs(options.send_batches, options.send_reps);
    let mut configs = Vec::new();
    for (backend, messages) in [
        (Backend::Model, options.model_messages),
        (Backend::Rtl, options.rtl_messages),
    ] {
        configs.extend(options.windows.iter().map(|&w| (backend, w, messages)));
    }
    let rates = end_to_end(&configs, options.e2e_reps);
    let clock = DriverConfig::default().clock_hz;
    let _ = writeln!(
        out,
        "Unicast channel node 0 → node 1, {MESSAGE}-byte messages ({} B slot records, \
         {} slots). Load average before / after: {load_before} / {}.\n",
        Layout::new(SEGMENT, 1, MESSAGE as u32).unwrap().slot_bytes,
        slots(),
        load()
    );
    let _ = writeln!(
        out,
        "### Host CPU per send (model backend)\n\n\
         Batches of {BATCH} operations timed back to back (the doorbell FIFO's depth, so no \
         send waits for the card), the card's work and the reader's receives run untimed \
         between batches; {} repetitions of {} operations each, the rows alternating rep by \
         rep.\n",
        options.send_reps, costs[0].ops
    );
    let _ = writeln!(
        out,
        "| operation | ns/op, median rep | ns/op, best rep | median less the clock reads \
         | card ran inside timing | delivered |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
    let clock_ns = costs[costs.len() - 1].median();
    for (i, c) in costs.iter().enumerate() {
        let delivered = if i == 0 {
            format!("{} of {}", c.delivered.ok, c.ops * c.ns.len() as u64)
        } else {
            "—".into()
        };
        let net = if i + 1 < costs.len() {
            format!("{:.1}", c.median() - clock_ns)
        } else {
            "—".into()
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {net} | {} batches | {delivered} |",
            c.name,
            c.median(),
            c.best(),
            c.fabric_ran
        );
    }
    let send = &costs[0];
    let _ = writeln!(
        out,
        "\nGoal ≤ {SEND_GOAL_NS:.0} ns per send: median {:.1} ns with the clock reads, {:.1} \
         without — **{}**.\n",
        send.median(),
        send.median() - clock_ns,
        if send.median() <= SEND_GOAL_NS {
            "met"
        } else {
            "not met"
        }
    );
    let _ = writeln!(
        out,
        "### End-to-end: send, deliver, receive\n\n\
         The writer sends `window` messages, then the reader receives them (`recv`, which \
         runs the fabric and services interrupts), until all are sent; after an untimed lap \
         that installs the mappings. {} run(s) of each row, the rows alternating run by run. \
         Simulated time at {} MHz; both backends charge the hosts the default `[sim.host]` costs.\n",
        options.e2e_reps,
        clock / 1_000_000
    );
    let _ = writeln!(
        out,
        "| backend | window | messages/run | delivered | messages/s (wall), median | \
         best | cycles/message | messages/s (simulated) |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rates {
        let first = &r.runs[0];
        let (median, best) = r.wall();
        let (ok, sent) = r.delivered();
        let (per_msg, simulated) = match r.cycles() {
            Some(_) => (
                format!("{:.1}", first.cycles_per_message()),
                format!("{:.0}", first.per_second_simulated(clock)),
            ),
            None => ("differs by run".into(), "—".into()),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {ok} of {sent} | {median:.0} | {best:.0} | {per_msg} | {simulated} |",
            first.backend.name(),
            first.window,
            first.messages,
        );
    }
    out
}

/// `vassa bench channels [--quick]`: [`report`] at full or quick run lengths.
pub fn channels(quick: bool) -> String {
    report(&if quick {
        Options::quick()
    } else {
        Options::full()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_cost_runs_deliver_every_message_and_time_only_the_host() {
        let (batches, reps) = (4, 2);
        let costs = send_costs(batches, reps);
        assert_eq!(costs.len(), 4);
        for c in &costs {
            assert_eq!(c.ops, batches as u64 * BATCH as u64);
            assert_eq!(c.ns.len(), reps as usize);
            assert_eq!(
                c.fabric_ran, 0,
                "{}: the card ran inside a timed batch",
                c.name
            );
        }
        let all = batches as u64 * BATCH as u64 * reps as u64;
        assert_eq!(costs[0].delivered, Delivered { ok: all, bad: 0 });
    }

    #[test]
    fn end_to_end_runs_deliver_every_message_on_both_backends() {
        for window in [1, BATCH, 64] {
            let r = throughput(Backend::Model, window, 100);
            assert_eq!(
                r.delivered,
                Delivered { ok: 100, bad: 0 },
                "window {window}"
            );
            assert!(r.cycles > 0);
        }
        let r = throughput(Backend::Rtl, BATCH, 40);
        assert_eq!(r.delivered, Delivered { ok: 40, bad: 0 });
        // The link alone needs a packet's words per message (header, record, trailer).
        assert!(r.cycles_per_message() >= 25.0, "{}", r.cycles_per_message());
    }

    #[test]
    fn a_receiver_that_misses_messages_counts_them_bad() {
        let (mut ch, c) = open(ModelFabric::with_heap(2, MEM), HostCosts::default());
        let p = payloads();
        ch.send(c, WRITER, &p[0]).unwrap();
        ch.send(c, WRITER, &p[0]).unwrap(); // seq 2 should carry p[1]
        let (mut next, mut got) = (1, Delivered::default());
        receive(&mut ch, c, 3, &mut next, &p, &mut got);
        assert_eq!(got, Delivered { ok: 1, bad: 2 });
    }

    #[test]
    fn report_has_every_row() {
        let options = Options {
            send_batches: 2,
            send_reps: 1,
            model_messages: 20,
            rtl_messages: 20,
            e2e_reps: 2,
            windows: vec![1, BATCH],
        };
        let md = report(&options);
        assert_eq!(md.matches(" batches | ").count(), 4, "{md}");
        assert_eq!(md.matches("| model |").count(), 2, "{md}");
        assert_eq!(md.matches("| RTL (Verilator) |").count(), 2, "{md}");
        assert!(md.contains("32 of 32"), "{md}");
        assert_eq!(md.matches("| 40 of 40 |").count(), 4, "{md}");
        assert!(!md.contains("differs by run"), "{md}");
    }
}
