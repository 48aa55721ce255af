//! 64-bit totals of the card's read-and-clear traffic counters, and rates in simulated time.
//!
//! The card's counters are 32 bits and clear when read. The poller reads every one of them
//! (global and per slot) every `poll_interval` simulated cycles and adds the values to u64
//! totals, so nothing wraps as long as no counter can reach 2^32 within one interval: the
//! fastest, a byte counter, grows by at most 4 bytes a cycle (one link word), so any interval
//! below 2^30 cycles is safe.

use vassa_spec::regmap as rm;

/// Index of a slot counter in [`SlotTotals::counts`] (the order of `regmap::SLOT_COUNTERS`).
pub const TX_PACKETS: usize = 0;
pub const TX_BYTES: usize = 1;
pub const RX_PACKETS: usize = 2;
pub const RX_BYTES: usize = 3;

/// The four traffic counters of one counter slot (one mapping group; later one channel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotTotals {
    /// By `regmap::SLOT_COUNTERS` index: tx_packets, tx_bytes, rx_packets, rx_bytes.
    pub counts: [u64; 4],
}

impl SlotTotals {
    pub fn tx_packets(&self) -> u64 {
        self.counts[TX_PACKETS]
    }
    pub fn tx_bytes(&self) -> u64 {
        self.counts[TX_BYTES]
    }
    pub fn rx_packets(&self) -> u64 {
        self.counts[RX_PACKETS]
    }
    pub fn rx_bytes(&self) -> u64 {
        self.counts[RX_BYTES]
    }
}

/// Rates of one slot, per second of simulated time at the driver's nominal clock.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rates {
    pub tx_packets_per_s: f64,
    pub tx_bytes_per_s: f64,
    pub rx_packets_per_s: f64,
    pub rx_bytes_per_s: f64,
}

impl Rates {
    /// `counts` accumulated over `cycles` of a `clock_hz` clock (all zero for no cycles).
    pub fn over(counts: &SlotTotals, cycles: u64, clock_hz: u64) -> Self {
        let per_s = |v: u64| {
            if cycles == 0 {
                0.0
            } else {
                v as f64 * clock_hz as f64 / cycles as f64
            }
        };
        Rates {
            tx_packets_per_s: per_s(counts.tx_packets()),
            tx_bytes_per_s: per_s(counts.tx_bytes()),
            rx_packets_per_s: per_s(counts.rx_packets()),
            rx_bytes_per_s: per_s(counts.rx_bytes()),
        }
    }
}

/// Every counter of one card, accumulated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterTotals {
    /// By `regmap::GLOBAL_COUNTERS` index.
    pub global: Vec<u64>,
    /// By counter slot.
    pub slots: Vec<SlotTotals>,
    /// The values read by the latest poll (the increments over its window), by slot.
    pub last_window: Vec<SlotTotals>,
    /// Counts read between two polls (see `Driver::tx_packets_sent`), by slot: already in
    /// `slots`, and added to the next poll's window.
    pub between_polls: Vec<SlotTotals>,
    /// Simulated cycles covered by `last_window`.
    pub window_cycles: u64,
    /// Cycle of the latest poll.
    pub polled_at: u64,
    /// Cycle of the first (clearing) read: the start of the totals.
    pub since: u64,
}

impl CounterTotals {
    pub fn new(counter_slots: usize, now: u64) -> Self {
        CounterTotals {
            global: vec![0; rm::GLOBAL_COUNTERS.len()],
            slots: vec![SlotTotals::default(); counter_slots],
            last_window: vec![SlotTotals::default(); counter_slots],
            between_polls: vec![SlotTotals::default(); counter_slots],
            window_cycles: 0,
            polled_at: now,
            since: now,
        }
    }

    /// The total of global counter `name` (see `regmap::GLOBAL_COUNTERS`).
    pub fn global(&self, name: &str) -> u64 {
        self.global[rm::global_counter_index(name)]
    }

    /// Received and sent packets the card discarded, by reason: every global counter whose
    /// name starts with `drop_`, plus `notify_lost` and `bad_doorbells`, with its total.
    pub fn drops(&self) -> Vec<(&'static str, u64)> {
        rm::GLOBAL_COUNTERS
            .iter()
            .zip(&self.global)
            .filter(|(c, _)| c.name != "misses")
            .map(|(c, &v)| (c.name, v))
            .collect()
    }

    /// Sum of [`CounterTotals::drops`].
    pub fn dropped(&self) -> u64 {
        self.drops().iter().map(|(_, v)| v).sum()
    }
}
