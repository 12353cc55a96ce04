//! [`ExtraIndex`]: finds an added region containing an access without
//! scanning every added region.
//!
//! A run that looks up many map values adds one region per value (a hash
//! map with 256 keys: 256 regions), and every access outside the cached
//! region used to scan them all. The index keeps the added regions sorted
//! by start, so the candidates for an access at `addr` are the regions
//! starting at or before `addr`, walked backwards from the last one; the
//! walk stops once a region starts more than the longest indexed region's
//! length before `addr` (no region further back can reach the access).
//! Regions may overlap: every candidate is checked, so the answer is the
//! same as the linear scan's ("some region holds the whole access with the
//! right writability"). For disjoint regions of similar size the walk
//! looks at one or two.
//!
//! An access starting exactly at an indexed region's start (a helper's
//! pointer argument, a lookup returning a value already added) is found
//! by a hash of the start before the sorted walk.
//!
//! Regions added last stay in an unsorted tail of at most [`TAIL_MAX`]
//! regions until the tail fills, so the add-then-truncate pattern of
//! temporary regions (a callback's key) costs nothing to index.

use super::Region;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// How many added regions may wait unsorted before they are indexed.
const TAIL_MAX: usize = 8;

/// One indexed region: its start and its position in the added list.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u64,
    index: usize,
}

/// The sorted index over the first `indexed` added regions.
#[derive(Debug, Clone, Default)]
pub(super) struct ExtraIndex {
    /// Entries for the regions `0..indexed`, sorted by start.
    sorted: Vec<Entry>,
    /// How many of the added regions (a prefix) `sorted` covers.
    indexed: usize,
    /// The longest indexed region.
    max_len: u64,
    /// Start → the first indexed region starting there.
    by_start: HashMap<u64, usize, BuildHasherDefault<AddrHasher>>,
}

impl ExtraIndex {
    /// Position (in `extra`) of a region holding `[addr, addr + size)`,
    /// writable if `write`; `extra` is the list this index was kept for.
    pub(super) fn find(
        &mut self,
        extra: &[Region],
        addr: u64,
        size: u64,
        write: bool,
    ) -> Option<usize> {
        let fits = |r: &Region| r.contains(addr, size) && (r.writable || !write);
        if extra.len().saturating_sub(self.indexed) > TAIL_MAX {
            self.index_tail(extra);
        }
        let tail = self.indexed.min(extra.len())..extra.len();
        if let Some(i) = extra[tail.clone()].iter().position(fits) {
            return Some(tail.start + i);
        }
        if let Some(&i) = self.by_start.get(&addr) {
            if extra.get(i).is_some_and(fits) {
                return Some(i);
            }
        }
        let after = self.sorted.partition_point(|e| e.start <= addr);
        for e in self.sorted[..after].iter().rev() {
            if addr - e.start >= self.max_len {
                break;
            }
            if extra.get(e.index).is_some_and(fits) {
                return Some(e.index);
            }
        }
        None
    }

    /// Sorts the unindexed tail of `extra` into the index.
    fn index_tail(&mut self, extra: &[Region]) {
        let more = extra.len().saturating_sub(self.indexed);
        self.sorted.reserve(more);
        self.by_start.reserve(more);
        for (index, r) in extra.iter().enumerate().skip(self.indexed) {
            let at = self.sorted.partition_point(|e| e.start <= r.start);
            self.sorted.insert(
                at,
                Entry {
                    start: r.start,
                    index,
                },
            );
            self.max_len = self.max_len.max(r.len);
            self.by_start.entry(r.start).or_insert(index);
        }
        self.indexed = extra.len();
    }

    /// The added list was cut to its first `len` regions.
    pub(super) fn truncate(&mut self, len: usize) {
        if len >= self.indexed {
            return;
        }
        self.sorted.retain(|e| e.index < len);
        self.by_start.retain(|_, i| *i < len);
        self.indexed = len;
        // `max_len` stays: an upper bound only makes the walk longer.
    }

    /// Region `index` of the added list changed its bounds.
    pub(super) fn replaced(&mut self, extra: &[Region], index: usize) {
        if index >= self.indexed {
            return;
        }
        // Rare (a packet helper moving the packet): index everything anew.
        self.sorted.clear();
        self.by_start.clear();
        self.indexed = 0;
        self.max_len = 0;
        self.index_tail(extra);
    }
}

/// Hashes region starts (addresses, usually 8-byte aligned): one
/// multiply, folded so the low bits hashbrown picks buckets by vary.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0 ^ (self.0 >> 32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition: the first added region that holds the access.
    fn linear(extra: &[Region], addr: u64, size: u64, write: bool) -> Option<usize> {
        extra
            .iter()
            .position(|r| r.contains(addr, size) && (r.writable || !write))
    }

    #[derive(Debug, Clone)]
    enum Step {
        Add(u64, u64, bool),
        Truncate(usize),
        Replace(usize, u64, u64),
        Query(u64, u64, bool),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0u64..512, 0u64..64, any::<bool>()).prop_map(|(s, l, w)| Step::Add(s, l, w)),
            1 => (0usize..40).prop_map(Step::Truncate),
            1 => (0usize..40, 0u64..512, 0u64..300).prop_map(|(i, s, l)| Step::Replace(i, s, l)),
            6 => (0u64..600, 1u64..16, any::<bool>()).prop_map(|(a, s, w)| Step::Query(a, s, w)),
        ]
    }

    proptest! {
        /// Whether some region is found (and that it holds the access)
        /// agrees with the linear scan through adds, truncates, replaces.
        #[test]
        fn agrees_with_a_linear_scan(steps in proptest::collection::vec(step(), 1..200)) {
            let mut extra: Vec<Region> = Vec::new();
            let mut index = ExtraIndex::default();
            for s in steps {
                match s {
                    Step::Add(start, len, w) => extra.push(Region::new(start, len, w, "r")),
                    Step::Truncate(n) => {
                        extra.truncate(n);
                        index.truncate(n);
                    }
                    Step::Replace(i, start, len) => {
                        if i < extra.len() {
                            extra[i].start = start;
                            extra[i].len = len;
                            index.replaced(&extra, i);
                        }
                    }
                    Step::Query(addr, size, write) => {
                        let want = linear(&extra, addr, size, write);
                        let got = index.find(&extra, addr, size, write);
                        prop_assert_eq!(want.is_some(), got.is_some());
                        if let Some(i) = got {
                            let r = extra[i];
                            prop_assert!(r.contains(addr, size) && (r.writable || !write));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn many_disjoint_values_are_found() {
        let extra: Vec<Region> = (0..256u64)
            .map(|i| Region::new(0x1000 + ((i * 37) % 256) * 8, 8, true, "map value"))
            .collect();
        let mut index = ExtraIndex::default();
        for (i, r) in extra.iter().enumerate() {
            assert_eq!(index.find(&extra, r.start, 8, true), Some(i));
            assert_eq!(index.find(&extra, r.start + 4, 8, false), None);
        }
        assert_eq!(index.find(&extra, 0x1000 + 256 * 8, 1, false), None);
    }
}
