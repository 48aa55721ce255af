//! The link packet format: layout, encoder/decoder, checksum and the TX split rule.
//!
//! A packet is a run of 32-bit link words, first word flagged start-of-packet, last word
//! end-of-packet:
//!
//! | word | content |
//! |---|---|
//! | 0 | destination NVA (byte address; page = NVA >> 12) |
//! | 1 | length, flags, source node, epoch (see [`HEADER1_FIELDS`]) |
//! | 2 .. 2+ceil(len/4) | payload, little-endian, last word zero-padded |
//! | last | trailer: CRC-32 of words 0..last XOR [`epoch_seed`] |
//!
//! The checksum's base evolves with the mapping's epoch: the CRC-32 (ISO-HDLC, the Ethernet
//! CRC) is taken over the header and padded payload bytes and then XORed with a seed derived
//! from the epoch. Applying the seed at the end rather than as the CRC's initial value gives
//! the same rejection of stale packets while letting the receiver compute the CRC once, at line
//! rate, before it knows which mapping the packet hits — and check a parked packet again after a
//! miss without re-reading it.

use crate::params::{CoreParams, DATAPATH_BYTES, PAGE_SHIFT, PAGE_SIZE};
use crate::Field;
use crc::{Crc, CRC_32_ISO_HDLC};
use thiserror::Error;

/// The CRC used for the trailer.
pub const LINK_CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);
/// Header words before the payload.
pub const HEADER_WORDS: u32 = 2;
/// Trailer words after the payload.
pub const TRAILER_WORDS: u32 = 1;
/// Constant mixed into every epoch seed, so that epoch 0 still has a non-trivial base.
pub const EPOCH_SEED_BASE: u32 = 0x5641_5353; // "VASS"

pub const H0_NVA: Field = Field {
    name: "nva",
    lsb: 0,
    width: 32,
    doc: "destination network virtual address of the first payload byte",
};
pub const H1_LENGTH: Field = Field {
    name: "length",
    lsb: 0,
    width: 13,
    doc: "payload bytes, 1..=max_payload; the payload never crosses an NVA page",
};
pub const H1_FIRST: Field = Field {
    name: "first",
    lsb: 13,
    width: 1,
    doc: "first packet of a message",
};
pub const H1_LAST: Field = Field {
    name: "last",
    lsb: 14,
    width: 1,
    doc: "last packet of a message",
};
pub const H1_USER: Field = Field {
    name: "user",
    lsb: 15,
    width: 1,
    doc: "user flag copied from the doorbell descriptor",
};
pub const H1_SRC: Field = Field {
    name: "src_node",
    lsb: 16,
    width: 8,
    doc: "node id of the sending card",
};
pub const H1_EPOCH: Field = Field {
    name: "epoch",
    lsb: 24,
    width: 8,
    doc: "epoch of the sender's TX mapping; must equal the receiver's RX mapping epoch",
};
/// Fields of header word 1, in bit order.
pub const HEADER1_FIELDS: [Field; 6] = [H1_LENGTH, H1_FIRST, H1_LAST, H1_USER, H1_SRC, H1_EPOCH];

/// The base XORed into the trailer CRC for a mapping epoch. Distinct epochs give distinct
/// seeds (the epoch byte is replicated into all four bytes), so a stale-epoch packet never
/// passes.
pub const fn epoch_seed(epoch: u8) -> u32 {
    EPOCH_SEED_BASE ^ (epoch as u32).wrapping_mul(0x0101_0101)
}

/// The decoded header of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub nva: u32,
    pub length: u32,
    pub first: bool,
    pub last: bool,
    pub user: bool,
    pub src_node: u8,
    pub epoch: u8,
}

impl Header {
    pub fn words(&self) -> [u32; 2] {
        let mut w1 = H1_LENGTH.put(0, self.length);
        w1 = H1_FIRST.put(w1, self.first as u32);
        w1 = H1_LAST.put(w1, self.last as u32);
        w1 = H1_USER.put(w1, self.user as u32);
        w1 = H1_SRC.put(w1, self.src_node as u32);
        w1 = H1_EPOCH.put(w1, self.epoch as u32);
        [self.nva, w1]
    }

    pub fn from_words(w0: u32, w1: u32) -> Self {
        Header {
            nva: w0,
            length: H1_LENGTH.get(w1),
            first: H1_FIRST.get(w1) != 0,
            last: H1_LAST.get(w1) != 0,
            user: H1_USER.get(w1) != 0,
            src_node: H1_SRC.get(w1) as u8,
            epoch: H1_EPOCH.get(w1) as u8,
        }
    }

    pub fn nva_page(&self) -> u32 {
        self.nva >> PAGE_SHIFT
    }

    pub fn page_offset(&self) -> u32 {
        self.nva & (PAGE_SIZE - 1)
    }
}

/// Packs bytes into little-endian 32-bit words, zero-padding the last one.
pub fn bytes_to_words(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|c| {
            let mut b = [0u8; 4];
            b[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(b)
        })
        .collect()
}

/// CRC-32 of words in link order (each word little-endian), before the epoch seed.
pub fn raw_crc(words: &[u32]) -> u32 {
    let mut digest = LINK_CRC.digest();
    for w in words {
        digest.update(&w.to_le_bytes());
    }
    digest.finalize()
}

/// The CRC register before the first word (CRC-32/ISO-HDLC initial value).
pub const CRC_INIT_STATE: u32 = 0xFFFF_FFFF;
/// Reflected polynomial of CRC-32/ISO-HDLC.
pub const CRC_POLY_REFLECTED: u32 = 0xEDB8_8320;

/// Advances the CRC register by one 32-bit link word (bytes taken least significant first),
/// as the hardware does once per cycle. `!fold(CRC_INIT_STATE, words)` equals [`raw_crc`].
pub const fn crc_state_step(state: u32, word: u32) -> u32 {
    let mut s = state ^ word;
    let mut i = 0;
    while i < 32 {
        s = if s & 1 != 0 {
            (s >> 1) ^ CRC_POLY_REFLECTED
        } else {
            s >> 1
        };
        i += 1;
    }
    s
}

/// Encodes a packet into link words (header, padded payload, trailer).
pub fn encode(header: &Header, payload: &[u8]) -> Vec<u32> {
    let mut words = header.words().to_vec();
    words.extend(bytes_to_words(payload));
    let trailer = raw_crc(&words) ^ epoch_seed(header.epoch);
    words.push(trailer);
    words
}

/// Why a run of link words is not a well-formed packet (counted as a `malformed` drop).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("packet of {0} words is shorter than header + one payload word + trailer")]
    TooShort(usize),
    #[error("length {length} is outside 1..={max_payload}")]
    BadLength { length: u32, max_payload: u32 },
    #[error("length {length} needs {expected} words but the packet has {actual}")]
    WordCount {
        length: u32,
        expected: usize,
        actual: usize,
    },
}

/// A decoded packet: header, payload bytes, and whether the trailer matches the header's epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    pub header: Header,
    pub payload: Vec<u8>,
    /// Trailer checked against the epoch carried in the header. The receiver also requires the
    /// header epoch to equal its mapping's epoch.
    pub crc_ok: bool,
}

/// Decodes link words. Framing errors are `Err`; a bad checksum is `Ok` with `crc_ok == false`
/// (the receiver counts it under its own reason).
pub fn decode(words: &[u32], params: &CoreParams) -> Result<Decoded, DecodeError> {
    let min = (HEADER_WORDS + 1 + TRAILER_WORDS) as usize;
    if words.len() < min {
        return Err(DecodeError::TooShort(words.len()));
    }
    let header = Header::from_words(words[0], words[1]);
    if header.length == 0 || header.length > params.max_payload {
        return Err(DecodeError::BadLength {
            length: header.length,
            max_payload: params.max_payload,
        });
    }
    let expected = packet_words(header.length) as usize;
    if words.len() != expected {
        return Err(DecodeError::WordCount {
            length: header.length,
            expected,
            actual: words.len(),
        });
    }
    let body = &words[..words.len() - 1];
    let crc_ok = raw_crc(body) ^ epoch_seed(header.epoch) == words[words.len() - 1];
    let payload = body[HEADER_WORDS as usize..]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .take(header.length as usize)
        .collect();
    Ok(Decoded {
        header,
        payload,
        crc_ok,
    })
}

/// Link words of a packet with `length` payload bytes.
pub const fn packet_words(length: u32) -> u32 {
    HEADER_WORDS + length.div_ceil(DATAPATH_BYTES) + TRAILER_WORDS
}

/// One packet of a message as the TX MMU cuts it: where it starts in physical memory, how
/// long it is, and whether it opens or closes the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub addr: u32,
    pub length: u32,
    pub first: bool,
    pub last: bool,
}

/// Splits a message at `addr` of `length` bytes into packets of at most `max_payload` bytes
/// that never cross a page. Packet boundaries fall at page boundaries and, inside a page,
/// every `max_payload` bytes from the message start.
pub fn split_message(addr: u32, length: u32, max_payload: u32) -> Vec<Chunk> {
    message_chunks(addr, length, max_payload).collect()
}

/// The packets of [`split_message`] one by one, without allocating: the driver counts them on
/// every send.
pub fn message_chunks(addr: u32, length: u32, max_payload: u32) -> impl Iterator<Item = Chunk> {
    let mut at = addr;
    let mut left = length;
    std::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let to_page_end = PAGE_SIZE - (at & (PAGE_SIZE - 1));
        let n = left.min(max_payload).min(to_page_end);
        let chunk = Chunk {
            addr: at,
            length: n,
            first: at == addr,
            last: n == left,
        };
        at = at.wrapping_add(n);
        left -= n;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn word_step_matches_byte_crc() {
        let words = [0x1234_5678u32, 0, 0xFFFF_FFFF, 0xDEAD_BEEF];
        let state = words
            .iter()
            .fold(CRC_INIT_STATE, |s, w| crc_state_step(s, *w));
        assert_eq!(!state, raw_crc(&words));
    }

    #[test]
    fn crc_matches_published_check_value() {
        // "123456789" -> 0xCBF43926 is the catalogue check value of CRC-32/ISO-HDLC.
        assert_eq!(LINK_CRC.checksum(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn epoch_seeds_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for e in 0..=255u8 {
            assert!(seen.insert(epoch_seed(e)));
        }
    }

    #[test]
    fn stale_epoch_fails_the_check() {
        let p = CoreParams::default();
        let h = Header {
            nva: 0x1234_5010,
            length: 5,
            epoch: 7,
            ..Default::default()
        };
        let mut words = encode(&h, b"hello");
        assert!(decode(&words, &p).unwrap().crc_ok);
        // Same bytes, header epoch rewritten to 8: the trailer no longer matches.
        words[1] = H1_EPOCH.put(words[1], 8);
        assert!(!decode(&words, &p).unwrap().crc_ok);
    }

    #[test]
    fn decode_rejects_framing_errors() {
        let p = CoreParams::default();
        let h = Header {
            length: 8,
            ..Default::default()
        };
        let words = encode(&h, &[1; 8]);
        assert_eq!(decode(&words[..3], &p), Err(DecodeError::TooShort(3)));
        let mut longer = words.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer, &p),
            Err(DecodeError::WordCount { .. })
        ));
        let zero = encode(
            &Header {
                length: 0,
                ..Default::default()
            },
            &[0; 4],
        );
        assert!(matches!(
            decode(&zero, &p),
            Err(DecodeError::BadLength { .. })
        ));
    }

    #[test]
    fn split_example() {
        // 600 bytes starting 100 bytes before a page end, max payload 256.
        let c = split_message(0x1000 - 100, 600, 256);
        let lens: Vec<u32> = c.iter().map(|c| c.length).collect();
        assert_eq!(lens, vec![100, 256, 244]);
        assert!(c[0].first && !c[0].last && c[2].last && !c[2].first);
        assert_eq!(c[1].addr, 0x1000);
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(
            nva_page in 0u32..(1 << 20),
            offset in 0u32..PAGE_SIZE,
            payload in proptest::collection::vec(any::<u8>(), 1..=256usize),
            src in any::<u8>(), epoch in any::<u8>(),
            first in any::<bool>(), last in any::<bool>(), user in any::<bool>(),
        ) {
            let p = CoreParams::default();
            let h = Header { nva: (nva_page << PAGE_SHIFT) | offset, length: payload.len() as u32,
                             first, last, user, src_node: src, epoch };
            let words = encode(&h, &payload);
            prop_assert_eq!(words.len() as u32, packet_words(h.length));
            let d = decode(&words, &p).unwrap();
            prop_assert_eq!(d.header, h);
            prop_assert_eq!(d.payload, payload);
            prop_assert!(d.crc_ok);
        }

        #[test]
        fn any_single_bit_flip_is_detected(
            payload in proptest::collection::vec(any::<u8>(), 1..=64usize),
            word in 0usize..100, bit in 0u32..32,
        ) {
            let p = CoreParams::default();
            let h = Header { nva: 0x4000, length: payload.len() as u32, ..Default::default() };
            let mut words = encode(&h, &payload);
            let i = word % words.len();
            words[i] ^= 1 << bit;
            // Either the framing breaks (length field hit) or the checksum fails.
            if let Ok(d) = decode(&words, &p) {
                prop_assert!(!d.crc_ok);
            }
        }

        #[test]
        fn split_covers_message_without_crossing_pages(
            addr in any::<u32>(), length in 1u32..20_000, max_words in 1u32..=1024,
        ) {
            let max_payload = max_words * 4;
            prop_assume!(addr.checked_add(length).is_some());
            let chunks = split_message(addr, length, max_payload);
            let mut at = addr;
            for (i, c) in chunks.iter().enumerate() {
                prop_assert_eq!(c.addr, at);
                prop_assert!(c.length >= 1 && c.length <= max_payload);
                prop_assert_eq!(c.addr >> PAGE_SHIFT, (c.addr + c.length - 1) >> PAGE_SHIFT);
                prop_assert_eq!(c.first, i == 0);
                prop_assert_eq!(c.last, i == chunks.len() - 1);
                at += c.length;
            }
            prop_assert_eq!(at, addr + length);
        }
    }
}
