//! The one source of truth for the register map, packet format and generator parameters.
//!
//! This crate does not depend on rust-hdl: the driver and the golden model use it alone. The
//! RTL (`vassa-rtl`, which re-exports it as `spec`) reads every address, field position and
//! size from here.

pub mod board;
pub mod docs;
pub mod link;
pub mod mapping;
pub mod packet;
pub mod params;
pub mod regmap;
pub mod trace;

/// A bit field of a 32-bit word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub lsb: u32,
    pub width: u32,
    pub doc: &'static str,
}

/// A [`Field`], short enough for tables of them.
pub(crate) const fn field(name: &'static str, lsb: u32, width: u32, doc: &'static str) -> Field {
    Field {
        name,
        lsb,
        width,
        doc,
    }
}

impl Field {
    pub const fn mask(&self) -> u32 {
        if self.width == 32 {
            u32::MAX
        } else {
            ((1u32 << self.width) - 1) << self.lsb
        }
    }
    pub const fn get(&self, word: u32) -> u32 {
        (word & self.mask()) >> self.lsb
    }
    /// Places `value` in the field; bits above the field's width are discarded.
    pub const fn put(&self, word: u32, value: u32) -> u32 {
        (word & !self.mask()) | ((value << self.lsb) & self.mask())
    }
    pub const fn max(&self) -> u32 {
        self.mask() >> self.lsb
    }
}
