//! A report for people: what happened in words, then tables (`vassa sim`, `vassa demo`).

use super::report::Report;
use super::RX_DROPS;
use std::fmt::Write;

/// Thousands separated by a thin space-free comma, for counts.
fn n(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A channel kind as the scenario file spells it.
fn kind(k: crate::scenario::Kind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Bytes per second with a unit.
fn rate(bytes_per_s: f64) -> String {
    if bytes_per_s >= 1e6 {
        format!("{:.1} MB/s", bytes_per_s / 1e6)
    } else if bytes_per_s >= 1e3 {
        format!("{:.1} kB/s", bytes_per_s / 1e3)
    } else {
        format!("{bytes_per_s:.0} B/s")
    }
}

/// A table with a header row, columns padded to their widest cell (first column left
/// aligned, the others right aligned).
fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i] - c.chars().count();
            if i == 0 {
                s += c;
                s += &" ".repeat(pad);
            } else {
                s += &" ".repeat(pad + 2);
                s += c;
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let rule: Vec<String> = w.iter().map(|&k| "-".repeat(k)).collect();
    let mut out = line(head.to_vec());
    out += &line(rule.iter().map(String::as_str).collect());
    for r in rows {
        out += &line(r.iter().map(String::as_str).collect());
    }
    out
}

/// What happened, in a few sentences.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let seconds = r.cycles as f64 / r.clock_hz as f64;
    let _ = writeln!(
        s,
        "Simulated {} cycles ({:.2} ms at {} MHz) on the {} backend in {:.2} s of wall time{}.",
        n(r.cycles),
        seconds * 1e3,
        r.clock_hz / 1_000_000,
        match r.backend {
            crate::scenario::Backend::Rtl => "rtl (Verilated core)",
            crate::scenario::Backend::Model => "model",
        },
        r.wall_seconds,
        if r.finished {
            ""
        } else {
            ", stopped at max_cycles"
        }
    );
    for c in &r.channels {
        let got: Vec<String> = c
            .readers
            .iter()
            .map(|rr| {
                let mut t = format!("{} got {}", rr.node, n(rr.delivered));
                if rr.missed() > 0 {
                    let mut why = Vec::new();
                    if rr.dropped > 0 {
                        let causes: Vec<String> = rr
                            .dropped_by
                            .iter()
                            .map(|(k, v)| format!("{} {}", n(*v), k.trim_start_matches("drop_")))
                            .collect();
                        why.push(format!(
                            "{} dropped on the way ({})",
                            n(rr.dropped),
                            causes.join(", ")
                        ));
                    }
                    if rr.lapped > 0 {
                        why.push(format!("{} overwritten before read", n(rr.lapped)));
                    }
                    if rr.in_flight > 0 {
                        why.push(format!("{} still in flight", n(rr.in_flight)));
                    }
                    t += &format!(" (missed {}: {})", n(rr.missed()), why.join(", "));
                }
                t
            })
            .collect();
        let verified: u64 = c.readers.iter().map(|r| r.verified).sum();
        let delivered: u64 = c.readers.iter().map(|r| r.delivered).sum();
        let _ = writeln!(
            s,
            "Channel \"{}\" ({}): {} messages ({} bytes, {} packets) sent; {}; {} of {} deliveries checked byte for byte.",
            c.name,
            kind(c.kind),
            n(c.sent),
            n(c.payload_bytes),
            n(c.packets),
            got.join(", "),
            n(verified),
            n(delivered)
        );
    }
    let misses: u64 = r.nodes.iter().map(|n| n.counters["misses"]).sum();
    let serviced = r.misses_serviced();
    let forced: u64 = r.nodes.iter().map(|n| n.misses.forced_evictions).sum();
    let dropped: u64 = r
        .nodes
        .iter()
        .map(|n| n.misses.rx_dropped + n.misses.tx_cancelled)
        .sum();
    let _ = writeln!(
        s,
        "The cards raised {} mapping misses; the driver installed the mapping and replayed the packet for {} and dropped {} with no mapping{}.",
        n(misses),
        n(serviced),
        n(dropped),
        if forced > 0 {
            format!(" ({} cache entries were evicted on purpose)", n(forced))
        } else {
            String::new()
        }
    );
    let a = &r.accounting;
    let card_drops: u64 = a.dropped_by_reason.values().sum();
    let reasons: Vec<String> = a
        .dropped_by_reason
        .iter()
        .filter(|(_, v)| **v > 0)
        .map(|(k, v)| format!("{} {}", n(*v), k.trim_start_matches("drop_")))
        .collect();
    let _ = writeln!(
        s,
        "{} packet copies were due ({} packets sent, one copy to each reader of their channel{}{}); {} were written, {} dropped by the cards{}, {} dropped in the switch, {} in flight: {}.",
        n(a.copies_expected + a.duplicated + a.injected),
        n(a.packets_sent),
        if a.duplicated > 0 { format!(", {} duplicated", n(a.duplicated)) } else { String::new() },
        if a.injected > 0 { format!(", {} injected", n(a.injected)) } else { String::new() },
        n(a.delivered),
        n(card_drops),
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        n(a.dropped_in_switch),
        n(a.in_flight),
        if a.balanced { "every copy accounted for".to_string() } else { format!("{} unaccounted", a.unaccounted) }
    );
    s
}

/// The tables: channels and readers, cards (counters and rates), drops by reason, checks.
pub fn tables(r: &Report) -> String {
    let mut s = String::new();
    let rows: Vec<Vec<String>> = r
        .channels
        .iter()
        .flat_map(|c| {
            c.readers.iter().map(move |rr| {
                vec![
                    c.name.clone(),
                    kind(c.kind),
                    n(c.sent),
                    rr.node.clone(),
                    n(rr.delivered),
                    n(rr.verified),
                    n(rr.gaps),
                    n(rr.dropped),
                    n(rr.lapped),
                    n(rr.in_flight),
                ]
            })
        })
        .collect();
    s += "Channels\n";
    s += &table(
        &[
            "channel",
            "kind",
            "sent",
            "reader",
            "delivered",
            "verified",
            "gaps",
            "dropped",
            "lapped",
            "in flight",
        ],
        &rows,
    );
    let rows: Vec<Vec<String>> = r
        .nodes
        .iter()
        .map(|node| {
            let sum = |f: fn(&super::report::SlotReport) -> u64| -> u64 {
                node.slots.iter().map(f).sum()
            };
            let sumf = |f: fn(&super::report::SlotReport) -> f64| -> f64 {
                node.slots.iter().map(f).sum()
            };
            let drops: u64 = RX_DROPS.iter().map(|d| node.counters[*d]).sum();
            vec![
                node.name.clone(),
                n(sum(|s| s.tx_packets)),
                n(sum(|s| s.tx_bytes)),
                rate(sumf(|s| s.tx_bytes_per_s)),
                n(sum(|s| s.rx_packets)),
                n(sum(|s| s.rx_bytes)),
                rate(sumf(|s| s.rx_bytes_per_s)),
                n(node.counters["misses"]),
                n(node.misses.rx_serviced + node.misses.tx_serviced),
                n(node.misses.evictions + node.misses.forced_evictions),
                n(drops),
                n(node.notifications),
            ]
        })
        .collect();
    s += "\nCards (counter totals; rates in simulated time)\n";
    s += &table(
        &[
            "card", "tx pkts", "tx bytes", "tx rate", "rx pkts", "rx bytes", "rx rate", "misses",
            "serviced", "evicted", "rx drops", "signals",
        ],
        &rows,
    );
    let mut names: Vec<&str> = RX_DROPS.to_vec();
    names.extend(["drop_tx_cancel", "notify_lost", "bad_doorbells"]);
    let rows: Vec<Vec<String>> = names
        .iter()
        .map(|&d| {
            let mut row = vec![d.to_string()];
            row.extend(r.nodes.iter().map(|node| n(node.counters[d])));
            row
        })
        .collect();
    let mut head = vec!["drops by reason"];
    head.extend(r.nodes.iter().map(|n| n.name.as_str()));
    s += "\nDrops by reason (per card)\n";
    s += &table(&head, &rows);
    s += "\nChecks\n";
    for c in &r.checks {
        let _ = writeln!(
            s,
            "  [{}] {}: {}",
            if c.passed { "ok" } else { "FAILED" },
            c.name,
            c.detail
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_tables_line_up() {
        assert_eq!(n(0), "0");
        assert_eq!(n(1234567), "1,234,567");
        assert_eq!(rate(2_500_000.0), "2.5 MB/s");
        let t = table(&["a", "bb"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "  a    bb\n  ---  --\n  xyz   1\n");
    }
}
