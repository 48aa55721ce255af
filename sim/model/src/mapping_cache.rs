//! The mapping cache without timing, the one reference for the RTL block
//! (`vassa_rtl::mapping_cache::MappingCache`, whose tests run it beside the block) and for
//! the golden card model's TX and RX caches ([`crate::card::CardModel`]).

pub use vassa_spec::mapping::Mapping;
use vassa_spec::regmap::{
    MAP_CMD_OP, MAP_CMD_SLOT, MAP_KEY_PAGE, MAP_OP_FLUSH, MAP_OP_INSTALL, MAP_OP_INVALIDATE,
};

/// Most entries a cache can have: the slot field of `MAP_CMD`.
pub const MAX_ENTRIES: usize = 1 << MAP_CMD_SLOT.width;

/// What a lookup returns (besides its tag). On a miss, `slot` and `mapping` are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LookupResult {
    pub key: u32,
    pub hit: bool,
    pub slot: u32,
    pub mapping: Mapping,
}

impl LookupResult {
    /// The mapping found, on a hit.
    pub fn found(self) -> Option<Mapping> {
        self.hit.then_some(self.mapping)
    }
}

/// The mapping cache without timing: `lookup` sees every op applied before
/// it. In hardware an op strobed in cycle t is seen by lookups presented from cycle t on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingCacheModel {
    /// `(key, mapping)` of each valid entry.
    pub entries: Vec<Option<(u32, Mapping)>>,
}

impl MappingCacheModel {
    pub fn new(entries: usize) -> Self {
        assert!((1..=MAX_ENTRIES).contains(&entries));
        MappingCacheModel {
            entries: vec![None; entries],
        }
    }

    /// A host op with the raw port values (`code` as `op_code`; codes other than install,
    /// invalidate and flush do nothing, and so do install/invalidate of a slot >= entries).
    pub fn op(&mut self, code: u32, slot: u32, key: u32, mapping: Mapping) {
        let code = code & MAP_CMD_OP.max();
        let slot = (slot & MAP_CMD_SLOT.max()) as usize;
        let key = key & MAP_KEY_PAGE.max();
        if code == MAP_OP_FLUSH {
            self.entries.fill(None);
        } else if slot < self.entries.len() {
            if code == MAP_OP_INVALIDATE {
                self.entries[slot] = None;
            } else if code == MAP_OP_INSTALL {
                self.entries[slot] = Some((key, mapping.masked()));
            }
        }
    }

    pub fn install(&mut self, slot: u32, key: u32, mapping: Mapping) {
        self.op(MAP_OP_INSTALL, slot, key, mapping);
    }

    pub fn invalidate(&mut self, slot: u32) {
        self.op(MAP_OP_INVALIDATE, slot, 0, Mapping::default());
    }

    pub fn flush(&mut self) {
        self.op(MAP_OP_FLUSH, 0, 0, Mapping::default());
    }

    pub fn lookup(&self, key: u32) -> LookupResult {
        let key = key & MAP_KEY_PAGE.max();
        // The highest-numbered entry holding the key wins (keys are unique by contract).
        let found = self
            .entries
            .iter()
            .enumerate()
            .rev()
            .find_map(|(slot, e)| match e {
                Some((k, m)) if *k == key => Some((slot, *m)),
                _ => None,
            });
        match found {
            Some((slot, mapping)) => LookupResult {
                key,
                hit: true,
                slot: slot as u32,
                mapping,
            },
            None => LookupResult {
                key,
                ..Default::default()
            },
        }
    }
}
