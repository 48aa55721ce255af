//! What a mapping cache entry holds: the page a key maps to and its attributes, as the host
//! writes them (`MAP_PAGE`, `MAP_ATTR`) and a lookup returns them.

use crate::regmap::{
    map_attr, MAP_ATTR, MAP_ATTR_EPOCH, MAP_ATTR_SIGNAL, MAP_ATTR_SLOT, MAP_ATTR_WRITABLE,
    MAP_PAGE_PAGE,
};

/// The value of a cache entry (what an install writes and a hit returns).
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

impl Mapping {
    /// The mapping the host describes with `MAP_PAGE` and `MAP_ATTR` register values (bits
    /// outside the fields are ignored).
    pub fn from_registers(map_page: u32, map_attr_word: u32) -> Self {
        let attr = map_attr_word & MAP_ATTR.defined_mask();
        Mapping {
            page: MAP_PAGE_PAGE.get(map_page),
            writable: MAP_ATTR_WRITABLE.get(attr) != 0,
            signal: MAP_ATTR_SIGNAL.get(attr) != 0,
            counter_slot: MAP_ATTR_SLOT.get(attr),
            epoch: MAP_ATTR_EPOCH.get(attr),
        }
    }

    /// The `MAP_ATTR` register value of these attributes.
    pub fn attr_word(&self) -> u32 {
        map_attr(
            self.writable,
            self.signal,
            self.counter_slot,
            self.epoch as u8,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_round_trip_through_a_mapping() {
        let m = Mapping {
            page: 0x1234,
            writable: true,
            signal: false,
            counter_slot: 5,
            epoch: 0x7e,
        };
        assert_eq!(Mapping::from_registers(m.page, m.attr_word()), m);
        let wide = Mapping {
            page: u32::MAX,
            counter_slot: u32::MAX,
            epoch: u32::MAX,
            ..m
        };
        assert_eq!(
            Mapping::from_registers(u32::MAX, wide.masked().attr_word()),
            wide.masked()
        );
    }
}
