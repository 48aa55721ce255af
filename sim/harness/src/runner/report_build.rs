//! The report of a run: every count, every message's fate at every reader, and the checks.

use super::accounting::{self, ReaderView, Tally};
use super::faults::FaultTally;
use super::report::*;
use super::{Runner, RX_DROPS};
use crate::fabric::{Fabric, Switch};
use std::collections::BTreeMap;
use vassa_spec::regmap as rm;

impl<F: Fabric + Switch> Runner<'_, F> {
    pub(super) fn report(&mut self, finished: bool, cycles: u64, wall_seconds: f64) -> Report {
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
    pub(super) fn copies_in_flight(&self) -> u64 {
        let fabric = self.ch.driver.fabric();
        let ledger = fabric.ledger();
        let play = self.play.borrow();
        let unsent: u64 = (play.asked.iter().enumerate())
            .flat_map(|(node, asked)| asked.iter().skip(ledger.packets_from(node) as usize))
            .map(|a| self.s.channels[a.channel].readers.len() as u64)
            .sum();
        ledger.in_flight() + unsent
    }

    /// Every message at every reader, by fate (per channel, per reader).
    pub(super) fn accounts(&self) -> Vec<Vec<Tally>> {
        let play = self.play.borrow();
        let fabric = self.ch.driver.fabric();
        let ledger = fabric.ledger();
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
    pub(super) fn trace_check(&self, nodes: &[NodeReport], tally: &FaultTally) -> Check {
        let fabric = self.ch.driver.fabric();
        let ledger = fabric.ledger();
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
    pub(super) fn written_outside_segments(&mut self) -> Vec<String> {
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
