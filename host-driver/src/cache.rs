//! The driver's shadow of one card mapping cache: which slot holds which key, and which slot
//! to give up when a miss needs room.
//!
//! A key is in at most one slot. The card relies on it: it does not clear other entries
//! holding an installed key (a second comparator per entry cost 590 HX8K logic cells for both
//! caches), and of two valid entries with one key the higher-numbered one wins.
//!
//! # Replacement policy: CLOCK with a re-miss reference bit
//!
//! The card tells the host nothing about hits: no access bits, no hit counters per entry. The
//! only events the driver sees are misses. So true LRU (and plain CLOCK, whose reference bits
//! are set by hits) cannot be built; what can be known is
//! - when a key was installed (every install follows a miss), and
//! - whether a key misses *again* after it was evicted: it is in use, and evicting it was a
//!   mistake.
//!
//! The policy is CLOCK (second chance) fed by that second signal. Slots are scanned by a hand
//! in a circle; each has a reference bit. A key installed after its first miss gets the bit
//! clear; a key that misses again after being evicted (the table remembers the eviction: a
//! "ghost" flag, as in CLOCK-Pro/ARC) is installed with the bit set, and so is a key whose miss
//! arrives while it is already cached (a packet looked up just before the install). To find a
//! victim the hand skips free slots first (they are used before anything is evicted), then
//! clears set bits as it passes and stops at the first slot whose bit is clear.
//!
//! Trade-off: with no hit information every policy evicts blindly among keys that have not
//! re-missed. FIFO (round robin) is the same hand without bits: cheapest, but under a scan over
//! more pages than entries it evicts the hot pages as often as the one-shot ones. LRU by last
//! miss equals FIFO here, because a cached key cannot miss. The re-miss bit costs one bit per
//! slot and a flag per mapping, keeps a victim search O(entries) at worst (one sweep clears
//! every bit) and O(1) amortised, and makes a working set that keeps coming back survive a
//! sweep of one-shot keys (scan resistance). Its cost: a hot key must be evicted once and miss
//! again before it is protected, and protection is lost after one sweep unless it re-misses.
//!
//! Slots installed during one miss-service pass are pinned until the pass ends, so a later
//! record of the same pass never evicts a mapping whose retry has not looked it up yet (unless
//! every slot is pinned, in which case the pins are ignored).

use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct CacheShadow {
    keys: Vec<Option<u32>>,
    referenced: Vec<bool>,
    pinned: Vec<bool>,
    hand: usize,
    by_key: HashMap<u32, usize>,
}

impl CacheShadow {
    /// A shadow of an empty (flushed) cache of `entries` slots.
    pub fn new(entries: usize) -> Self {
        assert!(entries > 0, "a mapping cache has at least one entry");
        CacheShadow {
            keys: vec![None; entries],
            referenced: vec![false; entries],
            pinned: vec![false; entries],
            hand: 0,
            by_key: HashMap::new(),
        }
    }

    pub fn entries(&self) -> usize {
        self.keys.len()
    }

    /// The slot holding `key`.
    pub fn slot_of(&self, key: u32) -> Option<usize> {
        self.by_key.get(&key).copied()
    }

    /// The key in `slot`.
    pub fn key_in(&self, slot: usize) -> Option<u32> {
        self.keys[slot]
    }

    /// (slot, key) of every occupied slot, by slot.
    pub fn occupied(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .filter_map(|(s, k)| k.map(|k| (s, k)))
    }

    /// Sets `slot`'s reference bit (its key proved to be in use).
    pub fn reference(&mut self, slot: usize) {
        self.referenced[slot] = true;
    }

    pub fn pin(&mut self, slot: usize) {
        self.pinned[slot] = true;
    }

    pub fn unpin_all(&mut self) {
        self.pinned.iter_mut().for_each(|p| *p = false);
    }

    /// Chooses a slot for `key` (not cached) and records it there with the reference bit
    /// `referenced`. Returns the slot and the key evicted from it, if any.
    pub fn place(&mut self, key: u32, referenced: bool) -> (usize, Option<u32>) {
        assert!(
            !self.by_key.contains_key(&key),
            "key {key:#x} is already cached"
        );
        let slot = self.victim();
        let evicted = self.keys[slot].take();
        if let Some(k) = evicted {
            self.by_key.remove(&k);
        }
        self.keys[slot] = Some(key);
        self.referenced[slot] = referenced;
        self.by_key.insert(key, slot);
        self.hand = (slot + 1) % self.keys.len();
        (slot, evicted)
    }

    /// Forgets `key`; returns the slot it was in.
    pub fn remove(&mut self, key: u32) -> Option<usize> {
        let slot = self.by_key.remove(&key)?;
        self.keys[slot] = None;
        self.referenced[slot] = false;
        Some(slot)
    }

    /// Forgets every key (after a flush).
    pub fn clear(&mut self) {
        *self = CacheShadow::new(self.keys.len());
    }

    fn victim(&mut self) -> usize {
        let n = self.keys.len();
        if let Some(free) = (0..n)
            .map(|i| (self.hand + i) % n)
            .find(|&s| self.keys[s].is_none())
        {
            return free;
        }
        let all_pinned = self.pinned.iter().all(|&p| p);
        // Two sweeps at most: the first clears every bit it passes.
        for i in 0..2 * n {
            let s = (self.hand + i) % n;
            if self.pinned[s] && !all_pinned {
                continue;
            }
            if self.referenced[s] {
                self.referenced[s] = false;
            } else {
                return s;
            }
        }
        unreachable!("a CLOCK sweep always finds a victim")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_slots_first_then_round_robin() {
        let mut c = CacheShadow::new(3);
        assert_eq!(c.place(10, false), (0, None));
        assert_eq!(c.place(11, false), (1, None));
        assert_eq!(c.place(12, false), (2, None));
        assert_eq!(c.place(13, false), (0, Some(10)));
        assert_eq!(c.place(14, false), (1, Some(11)));
        assert_eq!(c.slot_of(12), Some(2));
        assert_eq!(c.remove(12), Some(2));
        assert_eq!(c.place(15, false), (2, None));
    }

    #[test]
    fn referenced_slot_gets_a_second_chance() {
        let mut c = CacheShadow::new(3);
        c.place(1, true);
        c.place(2, false);
        c.place(3, false);
        // The hand is at slot 0: its bit is cleared and slot 1 is taken.
        assert_eq!(c.place(4, false), (1, Some(2)));
        assert_eq!(c.place(5, false), (2, Some(3)));
        // Slot 0 lost its bit in the first sweep.
        assert_eq!(c.place(6, false), (0, Some(1)));
    }

    #[test]
    fn pinned_slots_are_skipped_unless_all_are() {
        let mut c = CacheShadow::new(2);
        c.place(1, false);
        c.place(2, false);
        c.pin(0);
        assert_eq!(c.place(3, false), (1, Some(2)));
        c.pin(1);
        // Every slot pinned: the pins are ignored.
        assert_eq!(c.place(4, false), (0, Some(1)));
        c.unpin_all();
        assert_eq!(c.occupied().collect::<Vec<_>>(), vec![(0, 4), (1, 3)]);
    }
}
