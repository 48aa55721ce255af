//! Scenario files for `vassa sim --scenario FILE.toml`: the simulated network (nodes and their
//! memory), the messaging channels between them, the traffic to send and the faults to inject.
//!
//! [`Scenario::from_file`] reads and validates a file; every mistake is reported as one
//! [`ScenarioError`] line naming the file, line, column and field. The format, with every
//! field's default and limits, is documented in README.md ("Scenario files"); `examples/*.toml`
//! are commented examples.

mod error;
mod tree;
mod units;
mod validate;

pub use error::{ErrorKind, ScenarioError};
pub use units::{Bytes, SizeRange, Word};
pub use vassa_driver::host::HostCosts;
pub use vassa_spec::params::CoreParams;

use serde::{Deserialize, Serialize};
use std::path::Path;
use vassa_spec::params::PAGE_SIZE;

/// Limits and defaults of the format, the numbers the validator checks (documented in
/// README.md, "Scenario files").
pub mod limits {
    use super::{HostCosts, PAGE_SIZE};
    use vassa_driver::driver::MAX_DOORBELL_LENGTH;
    use vassa_driver::segment::{HEAD_BYTES, TAIL_BYTES};

    pub const MAX_CYCLES_DEFAULT: u64 = 1_000_000;
    pub const MAX_CYCLES_MIN: u64 = 1;
    pub const MAX_CYCLES_LIMIT: u64 = 1_000_000_000_000;
    pub const LINK_LATENCY_DEFAULT: u64 = 3;
    pub const LINK_LATENCY_MIN: u64 = 0;
    pub const LINK_LATENCY_MAX: u64 = 1_000_000;
    /// Node ids travel in the packet header's 8-bit source field.
    pub const MAX_NODES: usize = 256;
    pub const MAX_CHANNELS: usize = 1024;
    /// Names: a letter, then letters, digits, `_` or `-`.
    pub const NAME_MAX_CHARS: usize = 32;
    pub const NODE_MEMORY_DEFAULT: u64 = 1 << 20;
    pub const NODE_MEMORY_MIN: u64 = PAGE_SIZE as u64;
    /// The XEM6010 board's DDR2.
    pub const NODE_MEMORY_MAX: u64 = 128 << 20;
    pub const SEGMENT_DEFAULT: u64 = PAGE_SIZE as u64;
    pub const SEGMENT_MIN: u64 = PAGE_SIZE as u64;
    pub const SEGMENT_MAX: u64 = 16 << 20;
    pub const SLOT_MIN: u64 = 64;
    /// The default slot is half the segment, at most this (a page).
    pub const SLOT_DEFAULT_MAX: u64 = PAGE_SIZE as u64;
    /// The largest slot (a power of two) whose message record one doorbell carries: the
    /// doorbell's length field bounds it.
    pub const SLOT_MAX: u64 = 1 << MAX_DOORBELL_LENGTH.ilog2();
    /// Bytes of each slot that hold the message's sequence stamps and CRC
    /// (`vassa_driver::segment::record_bytes`).
    pub const SLOT_OVERHEAD: u64 = (HEAD_BYTES + TAIL_BYTES) as u64;
    pub const MESSAGES_MIN: u64 = 1;
    pub const MAX_MESSAGES: u64 = 10_000_000;
    pub const MESSAGE_SIZE_MIN: u64 = 1;
    pub const PROBABILITY_MIN: f64 = 0.0;
    pub const PROBABILITY_MAX: f64 = 1.0;
    pub const MAX_INJECT_WORDS: usize = 4096;
    /// Bits a `bit_flip` fault flips in a hit copy when `bits` is left out.
    pub const FLIP_BITS_DEFAULT: u32 = 1;
    pub const FLIP_BITS_MIN: u32 = 1;
    pub const MAX_FLIP_BITS: u32 = 32;
    pub const EVERY_MIN: u64 = 1;
    pub const HOST_COST_MIN: u64 = 0;
    /// Largest host cost in `[sim.host]` (cycles: 100 ms at 100 MHz).
    pub const HOST_COST_MAX: u64 = 10_000_000;
    /// Poll intervals are at least a cycle.
    pub const POLL_MIN: u64 = 1;
    /// Counters must be read before a byte counter can wrap (see `counters`).
    pub const COUNTER_POLL_MAX: u64 = (1 << 30) - 1;

    /// `[sim.host]`: each field's name, value in `h` and bounds (`min..=max`).
    pub fn host_fields(h: &HostCosts) -> [(&'static str, u64, u64, u64); 6] {
        [
            ("reg_read", h.reg_read, HOST_COST_MIN, HOST_COST_MAX),
            ("reg_write", h.reg_write, HOST_COST_MIN, HOST_COST_MAX),
            ("irq_latency", h.irq_latency, HOST_COST_MIN, HOST_COST_MAX),
            ("miss_service", h.miss_service, HOST_COST_MIN, HOST_COST_MAX),
            ("reader_poll", h.reader_poll, POLL_MIN, HOST_COST_MAX),
            ("counter_poll", h.counter_poll, POLL_MIN, COUNTER_POLL_MAX),
        ]
    }
}

/// Which simulation runs the cards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The generated core, Verilated (`vassa_sim::Card`).
    #[default]
    Rtl,
    /// The transaction-level golden model (`vassa_model::card::CardModel`).
    Model,
}

/// `[sim]`: how the simulation runs.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimSettings {
    pub backend: Backend,
    /// The run stops after this many cycles.
    pub max_cycles: u64,
    /// Seed of every random choice (message sizes, fault draws).
    pub seed: u64,
    /// Cycles from a packet's last word leaving a card to its first word reaching another.
    pub link_latency: u64,
    /// Generator parameters of every card (`[sim.core]`; missing keys keep their defaults).
    pub core: CoreParams,
    /// What every node's host costs (`[sim.host]`, in cycles; missing keys keep their
    /// defaults, see [`HostCosts`]).
    pub host: HostCosts,
}

impl Default for SimSettings {
    fn default() -> Self {
        SimSettings {
            backend: Backend::Rtl,
            max_cycles: limits::MAX_CYCLES_DEFAULT,
            seed: 0,
            link_latency: limits::LINK_LATENCY_DEFAULT,
            core: CoreParams::default(),
            host: HostCosts::default(),
        }
    }
}

fn default_memory() -> Bytes {
    Bytes(limits::NODE_MEMORY_DEFAULT)
}

/// `[[nodes]]`: one card and its host memory. A node's id is its index in the file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub name: String,
    #[serde(default = "default_memory")]
    pub memory: Bytes,
}

/// How a channel's writers and readers are arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// One writer, one reader.
    Unicast,
    /// One writer, one or more readers (the switch copies each packet).
    Multicast,
    /// Any writers, any readers; a node may be both.
    ManyToMany,
}

fn default_segment() -> Bytes {
    Bytes(limits::SEGMENT_DEFAULT)
}

fn yes() -> bool {
    true
}

/// `[[channels]]`: a shared memory segment mapped on every member node.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    pub name: String,
    pub kind: ChannelKind,
    pub writers: Vec<String>,
    pub readers: Vec<String>,
    /// Bytes of the segment (whole pages).
    #[serde(default = "default_segment")]
    pub segment: Bytes,
    /// Bytes of one message slot; after validation always set (default: half the segment, at
    /// most a page).
    #[serde(default)]
    pub slot: Option<Bytes>,
    /// Readers are notified of each message (signal-on-write).
    #[serde(default = "yes")]
    pub signal: bool,
}

impl ChannelSpec {
    /// Bytes of one message slot (the largest message plus its stamps and CRC, see
    /// `segment`); by default half the segment, at most a page, so a writer has two slots.
    pub fn slot_bytes(&self) -> u64 {
        self.slot
            .map_or((self.segment.0 / 2).min(limits::SLOT_DEFAULT_MAX), |s| s.0)
    }
    /// Message slots in the segment.
    pub fn slots(&self) -> u64 {
        self.segment.0 / self.slot_bytes().max(1)
    }
    /// Pages of the segment.
    pub fn pages(&self) -> u64 {
        self.segment.0 / PAGE_SIZE as u64
    }
    /// Whether `node` writes or reads this channel.
    pub fn has_member(&self, node: &str) -> bool {
        self.writers.iter().chain(&self.readers).any(|n| n == node)
    }
}

/// `[[traffic]]`: messages one writer sends on one channel.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrafficSpec {
    pub channel: String,
    /// The sending node; may be left out when the channel has one writer (validation then
    /// fills it in).
    #[serde(default)]
    pub writer: Option<String>,
    /// How many messages.
    pub messages: u64,
    /// Size of each message, fixed or drawn uniformly from a range (seeded by `sim.seed`).
    pub size: SizeRange,
    /// Cycle of the first message.
    #[serde(default)]
    pub start: u64,
    /// Cycles between the starts of two messages; 0 sends each as soon as the previous one
    /// has been handed to the card.
    #[serde(default)]
    pub interval: u64,
}

impl TrafficSpec {
    /// The sending node (set on every validated scenario).
    pub fn writer_name(&self) -> &str {
        self.writer.as_deref().unwrap_or("")
    }
}

/// A fault the switch applies to packet copies at random.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LinkFault {
    /// Chance, per packet copy, that the fault hits it: 0 to 1.
    pub probability: f64,
    /// Only copies of this channel's packets.
    #[serde(default)]
    pub channel: Option<String>,
    /// Only copies on their way to this node.
    #[serde(default)]
    pub node: Option<String>,
    /// Active from this cycle on.
    #[serde(default)]
    pub start: u64,
    /// Active before this cycle (no end when left out).
    #[serde(default)]
    pub stop: Option<u64>,
    /// `bit_flip` only: bits flipped in a hit copy (default 1, at random places).
    #[serde(default)]
    pub bits: Option<u32>,
}

/// A named kind of bad packet to inject, built from the scenario's mappings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectKind {
    /// A packet of the channel with a wrong CRC.
    Corrupt,
    /// A packet of the channel sealed with another mapping epoch.
    StaleEpoch,
    /// A packet of the channel whose length runs past its page.
    OutOfBounds,
    /// A well-formed packet to an NVA page no one maps.
    Unmapped,
    /// Words that are not a packet (bad framing and header).
    Malformed,
}

impl InjectKind {
    /// Whether the packet is built for a channel (`channel` is required).
    pub fn needs_channel(self) -> bool {
        matches!(
            self,
            InjectKind::Corrupt | InjectKind::StaleEpoch | InjectKind::OutOfBounds
        )
    }
}

/// `[[faults.inject]]`: raw link words, or a named bad packet, put on a node's link at a cycle.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Injection {
    pub node: String,
    pub at: u64,
    /// Raw words (the first framed as start of packet, the last as end); or `kind`.
    #[serde(default)]
    pub words: Option<Vec<Word>>,
    #[serde(default)]
    pub kind: Option<InjectKind>,
    /// The channel a `corrupt`, `stale_epoch` or `out_of_bounds` packet imitates.
    #[serde(default)]
    pub channel: Option<String>,
}

/// Which mapping cache an eviction empties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheSide {
    Tx,
    Rx,
    #[default]
    Both,
}

/// `[[faults.evict]]`: the driver invalidates mappings in a card's caches, as a cache under
/// pressure would; later packets miss and the miss path reinstalls them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Eviction {
    pub node: String,
    /// Only this channel's mappings (all of the node's when left out).
    #[serde(default)]
    pub channel: Option<String>,
    /// Only this page of the channel's segment (0-based; needs `channel`).
    #[serde(default)]
    pub page: Option<u64>,
    #[serde(default)]
    pub side: CacheSide,
    /// Once, at this cycle; or `every`.
    #[serde(default)]
    pub at: Option<u64>,
    /// Every this many cycles, from `start`.
    #[serde(default)]
    pub every: Option<u64>,
    #[serde(default)]
    pub start: u64,
}

/// `[faults]`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    pub bit_flip: Vec<LinkFault>,
    pub drop: Vec<LinkFault>,
    pub duplicate: Vec<LinkFault>,
    pub inject: Vec<Injection>,
    pub evict: Vec<Eviction>,
}

/// A validated scenario.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default, deserialize_with = "units::table")]
    pub sim: SimSettings,
    #[serde(default)]
    pub nodes: Vec<NodeSpec>,
    #[serde(default)]
    pub channels: Vec<ChannelSpec>,
    #[serde(default)]
    pub traffic: Vec<TrafficSpec>,
    #[serde(default, deserialize_with = "units::table")]
    pub faults: Faults,
}

impl Scenario {
    /// Reads and validates a scenario file; the error names `path` as given.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| ScenarioError::io(&name, format!("cannot read: {e}")))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let (line, column) = error::line_column(&String::from_utf8_lossy(e.as_bytes()), at);
            ScenarioError {
                line: Some(line),
                column: Some(column),
                message: "not valid UTF-8".into(),
                ..ScenarioError::io(&name, String::new())
            }
        })?;
        Scenario::from_str(&text, &name)
    }

    /// Parses and validates scenario text; `name` stands for the file in errors.
    #[allow(clippy::should_implement_trait)] // needs the file name too
    pub fn from_str(text: &str, name: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError::from_toml(name, text, &e))?;
        if let Err((path, message)) = validate::validate(&mut scenario) {
            // The document parsed as a scenario, so it parses as a tree.
            let tree = tree::Node::parse(text).unwrap_or_default();
            return Err(ScenarioError::invalid(name, text, &tree, &path, &message));
        }
        Ok(scenario)
    }

    /// The index (node id) of the node called `name`.
    pub fn node_id(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The channel called `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelSpec> {
        self.channels.iter().find(|c| c.name == name)
    }
}
