//! The recency clock of `lru_hash` and `lru_percpu_hash`.
//!
//! Each element slot has a last-use tick, bumped (atomically, so under the
//! map's read lock) when a program looks the element up or the element is
//! written. When a new key arrives and every slot is taken, the element
//! with the oldest tick is evicted instead of failing with `E2BIG`.
//!
//! The kernel's LRU is approximate (per-CPU free lists, a reference bit,
//! batches moved between active and inactive lists): what it guarantees,
//! and what the tests compare, is that an LRU map never refuses an insert
//! for being full, never holds more than `max_entries` elements, and keeps
//! a recently used element over ones unused for a long time. Ours is the
//! exact LRU, which satisfies that; host lookups do not count as uses
//! (like the kernel's `map_lookup_elem_sys_only`). Eviction scans the
//! slots: O(`max_entries`) per eviction.

use std::sync::atomic::{AtomicU64, Ordering};

/// Last-use ticks of a map's element slots.
#[derive(Debug)]
pub(super) struct LruClock {
    now: AtomicU64,
    last_use: Box<[AtomicU64]>,
}

impl LruClock {
    /// A clock for `slots` element slots.
    pub(super) fn new(slots: usize) -> LruClock {
        LruClock {
            now: AtomicU64::new(1),
            last_use: (0..slots).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Marks slot `slot` as just used.
    pub(super) fn touch(&self, slot: usize) {
        let t = self.now.fetch_add(1, Ordering::Relaxed);
        self.last_use[slot].store(t, Ordering::Relaxed);
    }

    /// The least recently used of `slots`.
    pub(super) fn oldest(&self, slots: impl Iterator<Item = usize>) -> Option<usize> {
        slots.min_by_key(|&s| self.last_use[s].load(Ordering::Relaxed))
    }
}
