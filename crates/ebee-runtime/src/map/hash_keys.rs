//! [`KeyIndex`]: the key → element table of a hash map, and its hash.
//!
//! Keys of up to 16 bytes (most maps' keys: a `u32`, a `u64`, an IPv6
//! address) are stored inline as two words, so a lookup hashes one or two
//! words and compares them directly, with no allocation and no `memcmp`
//! call; longer keys are boxed slices. The hash ([`KeyHasher`]) is seeded
//! per map, as the kernel seeds its jhash, so keys cannot be chosen to
//! collide without knowing the seed.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};

/// Keys up to this many bytes are stored inline.
const SHORT: usize = 16;

/// A key of at most [`SHORT`] bytes, zero-padded to two words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ShortKey {
    words: [u64; 2],
    len: u8,
}

impl ShortKey {
    /// `key` (at most [`SHORT`] bytes) as two little-endian words.
    fn new(key: &[u8]) -> ShortKey {
        let (lo, hi) = key.split_at(key.len().min(8));
        ShortKey {
            words: [le_word(lo), le_word(hi)],
            len: key.len() as u8,
        }
    }
}

/// Up to 8 bytes as a little-endian word, zero-extended. Fixed-size loads
/// instead of a variable-length copy: a lookup must not call `memcpy`.
#[inline(always)]
fn le_word(b: &[u8]) -> u64 {
    let n = b.len();
    if n >= 8 {
        u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
    } else if n >= 4 {
        // Two overlapping 4-byte loads: the shared bytes are the same in both.
        let lo = u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let hi = u64::from(u32::from_le_bytes([b[n - 4], b[n - 3], b[n - 2], b[n - 1]]));
        lo | hi << ((n - 4) * 8)
    } else {
        b.iter()
            .rev()
            .fold(0u64, |w, &byte| (w << 8) | u64::from(byte))
    }
}

impl Hash for ShortKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // The second word is zero for keys of 8 bytes or less; keys of
        // different lengths compare unequal through `len`.
        state.write_u64(self.words[0]);
        if self.len > 8 {
            state.write_u64(self.words[1]);
        }
    }
}

/// The key → element table.
#[derive(Debug)]
pub(super) enum KeyIndex {
    /// The map's keys are at most [`SHORT`] bytes.
    Short(HashMap<ShortKey, usize, KeyHashBuilder>),
    /// Longer keys.
    Long(HashMap<Box<[u8]>, usize, KeyHashBuilder>),
}

impl KeyIndex {
    /// An empty table for keys of `key_size` bytes, hashed with `seed`.
    pub(super) fn new(key_size: usize, seed: u64) -> KeyIndex {
        let hasher = KeyHashBuilder { seed };
        if key_size <= SHORT {
            KeyIndex::Short(HashMap::with_hasher(hasher))
        } else {
            KeyIndex::Long(HashMap::with_hasher(hasher))
        }
    }

    /// The element of `key`.
    pub(super) fn get(&self, key: &[u8]) -> Option<usize> {
        match self {
            KeyIndex::Short(m) if key.len() <= SHORT => m.get(&ShortKey::new(key)).copied(),
            KeyIndex::Short(_) => None,
            KeyIndex::Long(m) => m.get(key).copied(),
        }
    }

    /// Makes `key` name element `e`.
    pub(super) fn insert(&mut self, key: &[u8], e: usize) {
        match self {
            KeyIndex::Short(m) if key.len() <= SHORT => {
                m.insert(ShortKey::new(key), e);
            }
            // Keys are checked against the map's key size first; a longer
            // key cannot be in a short-key map.
            KeyIndex::Short(_) => {}
            KeyIndex::Long(m) => {
                m.insert(key.into(), e);
            }
        }
    }

    /// Removes `key`, returning its element.
    pub(super) fn remove(&mut self, key: &[u8]) -> Option<usize> {
        match self {
            KeyIndex::Short(m) if key.len() <= SHORT => m.remove(&ShortKey::new(key)),
            KeyIndex::Short(_) => None,
            KeyIndex::Long(m) => m.remove(key),
        }
    }

    /// How many keys the table holds.
    pub(super) fn len(&self) -> usize {
        match self {
            KeyIndex::Short(m) => m.len(),
            KeyIndex::Long(m) => m.len(),
        }
    }
}

/// Builds [`KeyHasher`]s with the map's seed.
#[derive(Debug, Clone)]
pub(super) struct KeyHashBuilder {
    seed: u64,
}

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.seed)
    }
}

/// The key hash: a multiply-rotate mix over 8-byte words, a few
/// nanoseconds for the short keys maps use (SipHash would double the cost
/// of a 4-byte lookup).
pub(super) struct KeyHasher(u64);

/// The mixing multiplier (2^64 / golden ratio, odd).
const K: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(23) ^ word).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        let h = self.0 ^ (self.0 >> 29);
        h.wrapping_mul(0xbf58_476d_1ce4_e5b9) ^ (h >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kinds of table behave as a map from byte strings, checked
    /// against std's `HashMap` with its default hasher.
    #[test]
    fn short_and_long_tables_agree_with_a_plain_map() {
        for key_size in [1usize, 4, 8, 9, 16, 17, 40] {
            let mut index = KeyIndex::new(key_size, 7);
            let mut plain: std::collections::HashMap<Vec<u8>, usize> = Default::default();
            let key = |i: usize| -> Vec<u8> {
                (0..key_size)
                    .map(|b| (i.wrapping_mul(31).wrapping_add(b * 7) >> (b % 3)) as u8)
                    .collect()
            };
            for i in 0..500 {
                let k = key(i % 300);
                match i % 5 {
                    0..=2 => {
                        index.insert(&k, i);
                        plain.insert(k, i);
                    }
                    3 => assert_eq!(index.remove(&k), plain.remove(&k)),
                    _ => assert_eq!(index.get(&k), plain.get(&k).copied()),
                }
                assert_eq!(index.len(), plain.len());
            }
            for i in 0..300 {
                let k = key(i);
                assert_eq!(index.get(&k), plain.get(&k).copied(), "key size {key_size}");
            }
        }
    }

    #[test]
    fn words_are_the_little_endian_bytes() {
        let bytes: Vec<u8> = (1..=8).collect();
        for n in 0..=8 {
            let mut padded = [0u8; 8];
            padded[..n].copy_from_slice(&bytes[..n]);
            assert_eq!(
                le_word(&bytes[..n]),
                u64::from_le_bytes(padded),
                "{n} bytes"
            );
        }
    }

    #[test]
    fn keys_of_another_length_are_not_found() {
        let mut index = KeyIndex::new(4, 0);
        index.insert(&[1, 0, 0, 0], 3);
        assert_eq!(index.get(&[1, 0, 0, 0]), Some(3));
        assert_eq!(index.get(&[1, 0, 0]), None);
        assert_eq!(index.get(&[1, 0, 0, 0, 0]), None);
    }
}
