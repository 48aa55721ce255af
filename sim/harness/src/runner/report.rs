//! What a scenario run reports (`vassa sim --json` prints it), and the checks it makes.

use crate::scenario::{Backend, Kind};
use serde::Serialize;
use std::collections::BTreeMap;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: String,
    pub backend: Backend,
    /// Simulated cycles.
    pub cycles: u64,
    /// The cards' nominal clock, for the rates below.
    pub clock_hz: u64,
    pub wall_seconds: f64,
    /// All traffic was sent and everything in flight had landed before `max_cycles`.
    pub finished: bool,
    pub channels: Vec<ChannelReport>,
    pub nodes: Vec<NodeReport>,
    pub switch: SwitchReport,
    pub accounting: Accounting,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    pub name: String,
    pub kind: Kind,
    /// Messages sent, by all writers.
    pub sent: u64,
    /// Packets the writers' cards were asked to send (messages split at `max_payload` and
    /// page boundaries).
    pub packets: u64,
    /// Bytes of message payload sent.
    pub payload_bytes: u64,
    pub readers: Vec<ReaderReport>,
}

/// One reader of a channel. Every message sent on the channel is exactly one of: delivered,
/// dropped on its way (a copy of one of its packets was dropped, by cause), lapped (it
/// arrived whole but the writer overwrote it before the reader read it), or in flight when
/// the run ended (on its way, parked on a miss, or arrived and not yet read).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReaderReport {
    pub node: String,
    /// Messages the reader got.
    pub delivered: u64,
    /// Delivered messages whose every byte matched what was sent.
    pub verified: u64,
    /// Delivered messages that did not (never expected: slots carry a CRC).
    pub corrupt: u64,
    /// Times the reader reported a gap in a writer's sequence numbers.
    pub gaps: u64,
    /// Messages in those gaps: given up by the reader.
    pub lost: u64,
    /// Messages lost because a copy of one of their packets was dropped on the way to this
    /// reader (given up by it, or after the last message it got).
    pub dropped: u64,
    /// `dropped` by the cause of the first packet lost: `switch_fault` or the receiving card's
    /// drop counter.
    pub dropped_by: BTreeMap<String, u64>,
    /// Messages that arrived whole but were overwritten before the reader read them (the
    /// writer never waits for readers).
    pub lapped: u64,
    /// Messages still on their way, parked, or arrived and unread when the run ended.
    pub in_flight: u64,
}

impl ReaderReport {
    /// Messages the reader did not get.
    pub fn missed(&self) -> u64 {
        self.dropped + self.lapped + self.in_flight
    }
}

/// One card.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    pub name: String,
    /// Every global counter, by name (see docs/registers.md), totals over the run.
    pub counters: BTreeMap<String, u64>,
    /// Counter slots with traffic: totals and average rates over the run.
    pub slots: Vec<SlotReport>,
    pub misses: MissReport,
    /// Signal-on-write notifications taken from the card.
    pub notifications: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SlotReport {
    pub slot: u32,
    /// The channel charged to the slot, if any.
    pub channel: Option<String>,
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes_per_s: f64,
    pub rx_bytes_per_s: f64,
    pub tx_packets_per_s: f64,
    pub rx_packets_per_s: f64,
}

/// The driver's miss service on one card.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MissReport {
    pub interrupts: u64,
    pub rx_serviced: u64,
    pub tx_serviced: u64,
    pub rx_dropped: u64,
    pub tx_cancelled: u64,
    pub installs: u64,
    pub evictions: u64,
    /// Mappings the scenario's `[[faults.evict]]` entries invalidated.
    pub forced_evictions: u64,
}

/// What the switch did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SwitchReport {
    pub packets_in: u64,
    pub copies_out: u64,
    pub unroutable: u64,
    pub fault_dropped: u64,
    pub fault_duplicated: u64,
    pub fault_bit_flipped: u64,
    pub injected: u64,
    pub stray_words: u64,
}

/// Every packet copy accounted for: what the switch was given to deliver equals what the
/// cards received (written or dropped by a counted reason) plus what the switch dropped.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accounting {
    /// Packets the host asked the cards to send (from the messages sent).
    pub packets_sent: u64,
    /// Packets the cards counted as sent (TX counters of every slot).
    pub packets_sent_by_cards: u64,
    /// Σ over channels of packets sent × the channel's readers.
    pub copies_expected: u64,
    /// Extra copies: duplicated by faults, plus injected packets.
    pub duplicated: u64,
    pub injected: u64,
    /// Copies written to a reader's memory (RX counters of every slot).
    pub delivered: u64,
    /// Copies the receiving cards dropped, by counter name.
    pub dropped_by_reason: BTreeMap<String, u64>,
    /// Copies the switch dropped (faults) or could not route.
    pub dropped_in_switch: u64,
    /// Copies not yet written or dropped when the run ended (the ledger's count).
    pub in_flight: u64,
    /// copies_expected + duplicated + injected − delivered − dropped − in flight (0 when
    /// balanced).
    pub unaccounted: i64,
    pub balanced: bool,
}

/// One check a run makes; `vassa sim` and `vassa demo` fail when one does not hold.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, passed: bool, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            passed,
            detail: detail.into(),
        }
    }
}

impl Report {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// Messages delivered to readers, over all channels and readers.
    pub fn delivered(&self) -> u64 {
        self.readers().map(|r| r.delivered).sum()
    }

    /// Messages a reader never got (dropped, lapped, in flight), over all channels and readers.
    pub fn missed(&self) -> u64 {
        self.readers().map(ReaderReport::missed).sum()
    }

    fn readers(&self) -> impl Iterator<Item = &ReaderReport> {
        self.channels.iter().flat_map(|c| &c.readers)
    }

    /// Misses the driver serviced (installed and retried) on every card.
    pub fn misses_serviced(&self) -> u64 {
        self.nodes
            .iter()
            .map(|n| n.misses.rx_serviced + n.misses.tx_serviced)
            .sum()
    }
}
