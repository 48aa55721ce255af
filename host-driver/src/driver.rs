//! The driver core: full mapping tables in host memory, the card caches as a managed subset of
//! them, the miss (interrupt) service routine, the counter poller and the notification queues.
//!
//! [`NodeDriver`] is the driver of one card, run by that node's host: its methods are async
//! because a register read waits for the card ([`crate::host::Host`]), and its background
//! work — the interrupt handler and the counter poller ([`NodeDriver::start`]) — runs as tasks
//! of the [`crate::World`], beside every other host's. [`Driver`] holds the drivers of every card of
//! a fabric and offers each operation as a blocking call that runs the world until it is done,
//! for programs that act one step at a time (tests, examples, the benchmarks).

mod blocking;
mod node;

pub use blocking::{Driver, OP_LIMIT};
pub use node::NodeDriver;

use crate::host::HostCosts;
use thiserror::Error;
use vassa_spec::params::PAGE_NUMBER_BITS;
use vassa_spec::regmap as rm;

/// Which MMU: TX maps physical page → NVA page, RX maps NVA page → physical page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dir {
    Tx,
    Rx,
}

/// Attributes of a mapping (see `MAP_ATTR`). `writable` and `signal` matter for RX mappings;
/// the counter slot and the epoch for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attr {
    /// RX: packets may write the page.
    pub writable: bool,
    /// RX: every delivered packet posts a notification.
    pub signal: bool,
    /// Traffic counter slot charged for the page.
    pub counter_slot: u32,
    /// Mapping epoch (seeds the trailer checksum; sender and receiver must agree).
    pub epoch: u8,
}

impl Attr {
    /// The `MAP_ATTR` register value.
    pub fn word(&self) -> u32 {
        rm::map_attr(self.writable, self.signal, self.counter_slot, self.epoch)
    }
}

/// One mapping: the page a key maps to, and its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub page: u32,
    pub attr: Attr,
}

/// A signal-on-write notification popped from a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notification {
    /// NVA of the first byte written.
    pub nva: u32,
    /// Bytes written.
    pub length: u32,
}

/// The card's generator parameters, read from `PARAM0`/`PARAM1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CardInfo {
    pub tx_cache_entries: u32,
    pub rx_cache_entries: u32,
    pub counter_slots: u32,
    pub miss_buffer_packets: u32,
    pub max_payload: u32,
    pub line_bytes: u32,
    pub page_shift: u32,
}

/// What the miss service routine did on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MissStats {
    /// Interrupts serviced (IRQ_STATUS reads with a cause set).
    pub interrupts: u64,
    /// RX misses resolved with a retry (the mapping exists).
    pub rx_serviced: u64,
    /// TX misses resolved with a retry.
    pub tx_serviced: u64,
    /// RX misses with no mapping: the packet was dropped.
    pub rx_dropped: u64,
    /// TX misses with no mapping: the descriptor was cancelled.
    pub tx_cancelled: u64,
    /// Mappings written into a cache slot by the service routine.
    pub installs: u64,
    /// Installs that replaced another mapping.
    pub evictions: u64,
    /// Misses for a key that was already cached (looked up just before its install).
    pub already_cached: u64,
    /// Mappings installed when they were made, into a free cache slot (see
    /// [`Driver::set_prefault`]).
    pub prefaults: u64,
    /// ERROR flags seen (OR of every value read).
    pub error_flags: u32,
}

impl MissStats {
    pub fn serviced(&self) -> u64 {
        self.rx_serviced + self.tx_serviced
    }
    pub fn dropped(&self) -> u64 {
        self.rx_dropped + self.tx_cancelled
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DriverError {
    #[error("node {node} is not a VASSA card (ID {id:#010x})")]
    NotVassa { node: usize, id: u32 },
    #[error("node {node}: page {page:#x} does not fit in {PAGE_NUMBER_BITS} bits")]
    PageOutOfRange { node: usize, page: u32 },
    #[error("node {node}: counter slot {slot} out of range (the card has {slots})")]
    SlotOutOfRange { node: usize, slot: u32, slots: u32 },
    #[error("node {node}: the doorbell FIFO is full")]
    DoorbellFull { node: usize },
    #[error("node {node}: doorbell length {length} not in 1..={max}", max = MAX_DOORBELL_LENGTH)]
    BadLength { node: usize, length: u32 },
    #[error("node {node}: the card did not answer within {cycles} cycles")]
    NoAnswer { node: usize, cycles: u64 },
}

/// Largest length a doorbell carries (DB_PUSH's length field).
pub const MAX_DOORBELL_LENGTH: u32 = rm::DB_PUSH_LENGTH.max();

/// Driver settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriverConfig {
    /// Nominal clock of the cards, for rates in simulated time (the XEM6010 board's 100 MHz).
    pub clock_hz: u64,
    /// What the simulated hosts' accesses and reactions cost ([`HostCosts`]); its
    /// `counter_poll` is the counter poller's interval (below 2^30, see [`crate::counters`]).
    /// A board fabric ignores the costs: its accesses take their real time.
    pub host: HostCosts,
}

impl Default for DriverConfig {
    fn default() -> Self {
        DriverConfig {
            clock_hz: 100_000_000,
            host: HostCosts::default(),
        }
    }
}

impl DriverConfig {
    /// The default settings with the counter poller every `cycles`.
    pub fn polling_every(cycles: u64) -> Self {
        let mut c = DriverConfig::default();
        c.host.counter_poll = cycles;
        c
    }
}
