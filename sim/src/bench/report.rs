//! The `vassa bench sim` run: its options, the measurements it makes ([`run`]) and the
//! markdown tables it prints ([`Report::markdown`]).

use super::*;

/// How long `vassa bench sim` runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Cycles of the Verilator loops.
    pub verilator_cycles: u64,
    /// Cycles of rust-hdl's single-threaded stepper.
    pub native_cycles: u64,
    /// Cycles of rust-hdl's threaded `Simulation`.
    pub threaded_cycles: u64,
}

impl Options {
    pub fn full() -> Self {
        Options {
            verilator_cycles: 2_000_000,
            native_cycles: 3_000,
            threaded_cycles: 600,
        }
    }
    pub fn quick() -> Self {
        Options {
            verilator_cycles: 200_000,
            native_cycles: 600,
            threaded_cycles: 200,
        }
    }
}

/// One simulator's speed on the two-card workload.
#[derive(Debug, Clone)]
pub struct Speed {
    pub name: &'static str,
    pub run: LoopRun,
    /// Sent the same words and wrote the same memory as the Verilator Rust loop over the same
    /// cycles.
    pub agrees: bool,
}

pub const SIZES: [u32; 8] = [8, 16, 32, 64, 128, 256, 512, 1024];

/// Everything `vassa bench sim` measures.
#[derive(Debug, Clone)]
pub struct Report {
    pub options: Options,
    pub speed: Vec<Speed>,
    pub efficiency: Vec<Efficiency>,
    /// (label, measurement).
    pub latency: Vec<(String, Latency)>,
    pub miss_irq: Vec<MissIrq>,
    pub alone: HitRun,
    pub behind_miss: HitRun,
}

/// Runs every measurement.
pub fn run(options: Options) -> Report {
    let sides = two_card_workload();
    // The machine is shared: alternate the two Verilator loops three times and keep each
    // one's fastest run.
    let fastest = |a: LoopRun, b: LoopRun| if b.seconds < a.seconds { b } else { a };
    let mut cpp = two_cards_cpp(&sides, options.verilator_cycles);
    let mut rust = two_cards_rust(&sides, options.verilator_cycles);
    for _ in 1..3 {
        cpp = fastest(cpp, two_cards_cpp(&sides, options.verilator_cycles));
        rust = fastest(rust, two_cards_rust(&sides, options.verilator_cycles));
    }
    // Without the `native` feature only the two Verilator rows exist.
    #[cfg_attr(not(feature = "native"), allow(unused_mut))]
    let mut speed = vec![
        Speed {
            name: "Verilator, C++ loop",
            agrees: cpp.same_work(&rust),
            run: cpp,
        },
        Speed {
            name: "Verilator, Rust loop (`Card::step`)",
            agrees: true,
            run: rust,
        },
    ];
    #[cfg(feature = "native")]
    {
        type Sim = fn(&[Side; 2], u64) -> LoopRun;
        let natives: [(&'static str, Sim, u64); 2] = [
            (
                "rust-hdl, single-threaded stepper (`Bench`)",
                native::two_cards_stepped,
                options.native_cycles,
            ),
            (
                "rust-hdl, threaded `Simulation`",
                native::two_cards_threaded,
                options.threaded_cycles,
            ),
        ];
        for (name, sim, cycles) in natives {
            let run = sim(&sides, cycles);
            speed.push(Speed {
                name,
                agrees: run.same_work(&two_cards_rust(&sides, cycles)),
                run,
            });
        }
    }
    let efficiency = SIZES
        .iter()
        .map(|&s| link_efficiency(s, 64 * s.div_ceil(256)))
        .collect();
    let latency = vec![
        ("direct, L = 0".to_string(), latency_direct(64, 0)),
        ("direct, L = 10".to_string(), latency_direct(64, 10)),
        (
            "switch (`Network`), latency 0".to_string(),
            latency_network(64, 0),
        ),
        (
            "switch (`Network`), latency 10".to_string(),
            latency_network(64, 10),
        ),
    ];
    let miss_irq = [4, 64, 256].map(miss_irq).to_vec();
    Report {
        options,
        speed,
        efficiency,
        latency,
        miss_irq,
        alone: hits_behind_miss(8, false),
        behind_miss: hits_behind_miss(8, true),
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "**NO**"
    }
}

impl Report {
    /// The four tables, in markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let rust = self
            .speed
            .iter()
            .find(|x| x.name.contains("Rust loop"))
            .map(|x| x.run.cycles_per_second())
            .unwrap_or(f64::NAN);
        let cpp = self.speed[0].run.cycles_per_second();
        s += "### 1. Simulation speed: two cards, traffic both ways\n\n";
        s += "Verilator rows: fastest of three alternating runs.\n\n";
        s += "| simulator | cycles | seconds | cycles/s | Verilator Rust loop is × faster | same words and memory as the Rust loop |\n|---|---:|---:|---:|---:|---|\n";
        for x in &self.speed {
            let cps = x.run.cycles_per_second();
            writeln!(
                s,
                "| {} | {} | {:.3} | {:.0} | {:.2} | {} |",
                x.name,
                x.run.cycles,
                x.run.seconds,
                cps,
                rust / cps,
                yes(x.agrees)
            )
            .unwrap();
        }
        let words: u64 = self.speed[1].run.stats.iter().map(|x| x.tx_words).sum();
        let beats: u64 = self.speed[1].run.stats.iter().map(|x| x.write_beats).sum();
        writeln!(
            s,
            "\nRust loop / C++ loop time: **{:.2}×** (goal ≤ 1.3×). Verilator runs: {} link words, {} memory write beats.",
            cpp / rust,
            words,
            beats
        )
        .unwrap();
        s += "\n### 2. Link efficiency, back-to-back messages\n\n";
        s += "| message B | messages | packets | link cycles | words/packet | idle cycles | payload efficiency | format bound | delivered |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
        let max_payload = CoreParams::default().max_payload;
        for e in &self.efficiency {
            writeln!(
                s,
                "| {} | {} | {} | {} | {:.2} | {} | {:.1} % | {:.1} % | {} |",
                e.message_bytes,
                e.messages,
                e.packets,
                e.link_cycles,
                e.words_per_packet(),
                e.idle_cycles,
                100.0 * e.efficiency(),
                100.0 * Efficiency::format_bound(e.message_bytes, max_payload),
                yes(e.delivered)
            )
            .unwrap();
        }
        s += "\n### 3. One-way latency, 64-byte message (cycles after the DB_PUSH write)\n\n";
        s += "| path | doorbell → first TX word | first → last TX word | last TX → last RX word | RX end → last write | total | delivered |\n|---|---:|---:|---:|---:|---:|---|\n";
        for (name, l) in &self.latency {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} | **{}** | {} |",
                name,
                l.to_first_word(),
                l.tx_packet(),
                l.link(),
                l.rx_to_write(),
                l.total(),
                yes(l.delivered)
            )
            .unwrap();
        }
        s += "\n### 4. RX miss path\n\n";
        s += "| packet B | RX first word → irq | RX last word → irq | parked, nothing written |\n|---:|---:|---:|---|\n";
        for m in &self.miss_irq {
            writeln!(
                s,
                "| {} | {} | {} | {} |",
                m.packet_bytes,
                m.sop_to_irq,
                m.eop_to_irq,
                yes(m.parked)
            )
            .unwrap();
        }
        let list = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
        s += "\nEight 64-byte hit packets back to back, alone and behind a packet parked on a miss:\n\n";
        s += "| run | RX end → last write, per hit packet | TX enable → last write, per hit packet | parked at end | delivered |\n|---|---|---|---:|---|\n";
        for (name, r) in [
            ("hits alone", &self.alone),
            ("miss first, then hits", &self.behind_miss),
        ] {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                name,
                list(&r.eop_to_write),
                list(&r.delivery),
                r.parked,
                yes(r.delivered)
            )
            .unwrap();
        }
        let stall = self
            .behind_miss
            .eop_to_write
            .iter()
            .zip(&self.alone.eop_to_write)
            .map(|(m, a)| m.saturating_sub(*a))
            .max()
            .unwrap_or(0);
        writeln!(s, "\nStall of hit traffic behind the parked miss: **{stall} cycles** (RX end → last write, worst packet).").unwrap();
        s
    }
}
