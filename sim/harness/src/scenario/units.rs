//! Values written as numbers or strings: byte sizes (`4096`, `"4 KiB"`), size ranges
//! (`"64..1 KiB"`) and 32-bit link words (`0x1000` or `"0x0000_1000"`).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A number of bytes: an integer, or a string with a unit `B`, `KiB`, `MiB` or `GiB`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    /// The largest binary unit that divides the value: `4 KiB`, `1536 B`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{} {unit}", self.0 / size);
            }
        }
        write!(f, "{} B", self.0)
    }
}

/// Parses `4096`, `"4096"`, `"4 KiB"`, `"4KiB"`, `"1 MiB"`, `"64 B"`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("\"{text}\" is not a size (write 4096, \"4 KiB\" or \"1 MiB\")"))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => {
            return Err(format!(
                "unknown unit \"{other}\" in \"{text}\" (units: B, KiB, MiB, GiB)"
            ))
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("\"{text}\" is too large"))
}

struct BytesVisitor;

impl Visitor<'_> for BytesVisitor {
    type Value = Bytes;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a size in bytes (4096, \"4 KiB\", \"1 MiB\")")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Bytes, E> {
        u64::try_from(v)
            .map(Bytes)
            .map_err(|_| E::custom(format!("size {v} is negative")))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Bytes, E> {
        Ok(Bytes(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
        parse_bytes(v).map(Bytes).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        d.deserialize_any(BytesVisitor)
    }
}

/// A message size, fixed or drawn uniformly from `min..=max` (both included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SizeRange {
    pub min: u64,
    pub max: u64,
}

impl fmt::Display for SizeRange {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", Bytes(self.min))
        } else {
            write!(f, "{}..{}", Bytes(self.min), Bytes(self.max))
        }
    }
}

impl<'de> Deserialize<'de> for SizeRange {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SizeRange, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SizeRange;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size (256, \"1 KiB\") or a range \"MIN..MAX\" (\"64..1 KiB\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SizeRange, E> {
                let b = BytesVisitor.visit_i64::<E>(v)?;
                Ok(SizeRange { min: b.0, max: b.0 })
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SizeRange, E> {
                Ok(SizeRange { min: v, max: v })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SizeRange, E> {
                let (min, max) = match v.split_once("..") {
                    Some((a, b)) => (a, b.strip_prefix('=').unwrap_or(b)),
                    None => (v, v),
                };
                Ok(SizeRange {
                    min: parse_bytes(min).map_err(E::custom)?,
                    max: parse_bytes(max).map_err(E::custom)?,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// A 32-bit link word: an integer, or a hex string `"0x0000_1000"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Word(pub u32);

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Word, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Word;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a 32-bit word (0x1000 or \"0x0000_1000\")")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Word, E> {
                u32::try_from(v)
                    .map(Word)
                    .map_err(|_| E::custom(format!("word {v} does not fit in 32 bits")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Word, E> {
                u32::try_from(v)
                    .map(Word)
                    .map_err(|_| E::custom(format!("word {v} does not fit in 32 bits")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Word, E> {
                let hex = v
                    .trim()
                    .strip_prefix("0x")
                    .or_else(|| v.trim().strip_prefix("0X"))
                    .ok_or_else(|| E::custom(format!("word \"{v}\" must be hex: \"0x...\"")))?
                    .replace('_', "");
                if hex.is_empty() || hex.len() > 8 {
                    return Err(E::custom(format!(
                        "word \"{v}\" must have 1 to 8 hex digits"
                    )));
                }
                u32::from_str_radix(&hex, 16)
                    .map(Word)
                    .map_err(|_| E::custom(format!("word \"{v}\" is not hex")))
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads a section that must be a table: serde would also take an array (`[[sim]]`) as a
/// struct, and then report a puzzling type error inside it.
pub fn table<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct V<T>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a table (write [section], not [[section]])")
        }
        fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(V(std::marker::PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("4 KiB"), Ok(4096));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert_eq!(parse_bytes("1_024 B"), Ok(1024));
        assert!(parse_bytes("4 kb").unwrap_err().contains("unknown unit"));
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("99999999999999 GiB").is_err());
        assert_eq!(Bytes(4096).to_string(), "4 KiB");
        assert_eq!(Bytes(1536).to_string(), "1536 B");
        let r = SizeRange { min: 64, max: 1024 };
        assert_eq!(r.to_string(), "64 B..1 KiB");
    }
}
