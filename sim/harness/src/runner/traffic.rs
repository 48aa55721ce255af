//! The messages a scenario sends: one stream per `[[traffic]]` entry, message sizes drawn from
//! a seeded generator, and payloads that a reader can check without being told what was sent.

use crate::scenario::{SizeRange, TrafficSpec};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One `[[traffic]]` entry being played.
#[derive(Debug)]
pub struct Stream {
    /// Scenario index of the channel.
    pub channel: usize,
    pub writer: usize,
    pub left: u64,
    /// Cycle of the next message.
    pub next_at: u64,
    interval: u64,
    size: SizeRange,
    rng: StdRng,
}

impl Stream {
    /// The stream of `spec` (the `index`-th traffic entry); each stream has its own generator
    /// so adding an entry does not change the sizes of the others.
    pub fn new(spec: &TrafficSpec, index: usize, channel: usize, writer: usize, seed: u64) -> Self {
        Stream {
            channel,
            writer,
            left: spec.messages,
            next_at: spec.start,
            interval: spec.interval,
            size: spec.size,
            rng: StdRng::seed_from_u64(mix(seed, index as u64, 0x7472_6166)),
        }
    }

    pub fn due(&self, now: u64) -> bool {
        self.left > 0 && self.next_at <= now
    }

    /// The size of the next message; marks it sent at cycle `now`.
    pub fn take(&mut self, now: u64) -> u32 {
        self.left -= 1;
        // `interval` is start to start: a message sent late (doorbell FIFO full) delays the
        // next one, it does not make a burst to catch up.
        self.next_at = now + self.interval;
        self.rng.gen_range(self.size.min..=self.size.max) as u32
    }

    /// Back to back: sent as soon as the previous one is handed to the card.
    pub fn back_to_back(&self) -> bool {
        self.interval == 0
    }
}

/// The payload of message `seq` of `writer` on channel `channel`: a function of those and the
/// scenario seed, so a reader can check every byte of what it got.
pub fn payload(seed: u64, channel: usize, writer: usize, seq: u64, len: u32) -> Vec<u8> {
    let mut x = mix(seed, ((channel as u64) << 32) | writer as u64, seq) | 1;
    let mut out = Vec::with_capacity(len as usize + 8);
    while out.len() < len as usize {
        // xorshift64*: fast, and any single-bit change of the inputs changes every word.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len as usize);
    out
}

/// A 64-bit hash of three words (splitmix64 finaliser over their combination).
pub fn mix(a: u64, b: u64, c: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b.rotate_left(21))
        .wrapping_add(c.wrapping_mul(0xBF58_476D_1CE4_E5B9));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(messages: u64, min: u64, max: u64, start: u64, interval: u64) -> TrafficSpec {
        TrafficSpec {
            channel: "c".into(),
            writer: Some("w".into()),
            messages,
            size: SizeRange { min, max },
            start,
            interval,
        }
    }

    #[test]
    fn streams_follow_their_schedule_and_size_range() {
        let mut s = Stream::new(&spec(3, 10, 20, 100, 50), 0, 0, 1, 7);
        assert!(!s.due(99) && s.due(100));
        let first = s.take(100);
        assert!(!s.due(149) && s.due(150));
        // Sent late at 170: the next waits a whole interval.
        let second = s.take(170);
        assert!(!s.due(219) && s.due(220));
        let sizes = vec![first, second, s.take(220)];
        assert!(sizes.iter().all(|n| (10..=20).contains(n)), "{sizes:?}");
        assert_eq!(s.left, 0);
        assert!(!s.due(u64::MAX));
        // Same seed and index, same sizes; another index, another sequence.
        let again: Vec<u32> = {
            let mut t = Stream::new(&spec(3, 10, 20, 100, 50), 0, 0, 1, 7);
            (0..3).map(|_| t.take(0)).collect()
        };
        assert_eq!(sizes, again);
        let mut b = Stream::new(&spec(1000, 0, 1 << 20, 0, 0), 1, 0, 1, 7);
        let mut c = Stream::new(&spec(1000, 0, 1 << 20, 0, 0), 2, 0, 1, 7);
        assert_ne!(b.take(0), c.take(0));
    }

    #[test]
    fn back_to_back_streams_are_due_at_once() {
        let mut s = Stream::new(&spec(2, 8, 8, 0, 0), 0, 0, 0, 0);
        assert!(s.back_to_back());
        assert_eq!(s.take(5), 8);
        assert!(s.due(5));
    }

    #[test]
    fn payloads_depend_on_every_input() {
        let p = payload(1, 2, 3, 4, 100);
        assert_eq!(p.len(), 100);
        assert_eq!(p, payload(1, 2, 3, 4, 100));
        assert_eq!(&payload(1, 2, 3, 4, 37)[..], &p[..37]);
        for other in [
            payload(2, 2, 3, 4, 100),
            payload(1, 3, 3, 4, 100),
            payload(1, 2, 4, 4, 100),
            payload(1, 2, 3, 5, 100),
        ] {
            let same = p.iter().zip(&other).filter(|(a, b)| a == b).count();
            assert!(same < 10, "{same} equal bytes");
        }
    }
}
