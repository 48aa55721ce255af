//! The mapping cache's software reference: what an entry holds, what a lookup returns, and
//! [`MappingCacheModel`], the cache without timing.

use super::*;

/// The value of a cache entry (what `op_*` installs and a hit returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mapping {
    pub page: u32,
    pub writable: bool,
    pub signal: bool,
    pub counter_slot: u32,
    pub epoch: u32,
}

impl Mapping {
    /// The mapping as the hardware stores it: every field cut to its port width.
    pub fn masked(self) -> Self {
        Mapping {
            page: self.page & MAP_PAGE_PAGE.max(),
            counter_slot: self.counter_slot & MAP_ATTR_SLOT.max(),
            epoch: self.epoch & MAP_ATTR_EPOCH.max(),
            ..self
        }
    }
}

/// What a lookup returns (besides its tag). On a miss, `slot` and `mapping` are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LookupResult {
    pub key: u32,
    pub hit: bool,
    pub slot: u32,
    pub mapping: Mapping,
}

/// Reference model of [`MappingCache`], without timing: `lookup` sees every op applied before
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
