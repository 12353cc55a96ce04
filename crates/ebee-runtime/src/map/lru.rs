//! The recency order of `lru_hash` and `lru_percpu_hash`.
//!
//! Each element slot has a last-use tick, bumped atomically (so under the
//! map's read lock) when a program looks the element up, and set when the
//! element is written. When a new key arrives and every slot is taken,
//! the element used least recently is evicted instead of failing with
//! `E2BIG`.
//!
//! The eviction queue is a `BTreeMap` from tick to slot, changed only on
//! the write paths (under the map's write lock). A lookup does not move
//! its element in the queue; eviction takes the queue's oldest entry and,
//! if the slot was used since it was queued, requeues it at its last use
//! and looks again. Each use is requeued at most once, so eviction costs
//! O(log n) amortized and the victim is exactly the least recently used.
//!
//! The kernel's LRU is approximate (per-CPU free lists, a reference bit,
//! batches moved between active and inactive lists): what it guarantees,
//! and what the tests compare, is that an LRU map never refuses an insert
//! for being full, never holds more than `max_entries` elements, and keeps
//! a recently used element over ones unused for a long time. The exact
//! LRU satisfies that. Host lookups do not count as uses (like the
//! kernel's `map_lookup_elem_sys_only`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

#[derive(Debug)]
struct Queue {
    /// Tick at which each queued slot was queued → slot.
    by_tick: BTreeMap<u64, usize>,
    /// Each slot's key in `by_tick` (0: not queued).
    queued_at: Vec<u64>,
}

/// Last-use ticks of a map's element slots and the eviction queue.
#[derive(Debug)]
pub(super) struct LruClock {
    now: AtomicU64,
    last_use: Box<[AtomicU64]>,
    queue: Mutex<Queue>,
}

impl LruClock {
    /// A clock for `slots` element slots.
    pub(super) fn new(slots: usize) -> LruClock {
        LruClock {
            now: AtomicU64::new(1),
            last_use: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            queue: Mutex::new(Queue {
                by_tick: BTreeMap::new(),
                queued_at: vec![0; slots],
            }),
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn tick(&self) -> u64 {
        self.now.fetch_add(1, Ordering::Relaxed)
    }

    /// Marks slot `slot` as just used (lookups: no queue change).
    pub(super) fn touch(&self, slot: usize) {
        let t = self.tick();
        self.last_use[slot].fetch_max(t, Ordering::Relaxed);
    }

    /// Slot `slot` now holds a live element, just written.
    pub(super) fn inserted(&self, slot: usize) {
        let t = self.tick();
        self.last_use[slot].store(t, Ordering::Relaxed);
        let mut q = self.queue();
        let old = std::mem::replace(&mut q.queued_at[slot], t);
        if old != 0 {
            q.by_tick.remove(&old);
        }
        q.by_tick.insert(t, slot);
    }

    /// Slot `slot` no longer holds an element.
    pub(super) fn removed(&self, slot: usize) {
        let mut q = self.queue();
        let old = std::mem::replace(&mut q.queued_at[slot], 0);
        if old != 0 {
            q.by_tick.remove(&old);
        }
    }

    /// Takes the least recently used live slot out of the queue.
    pub(super) fn evict(&self) -> Option<usize> {
        let mut q = self.queue();
        loop {
            let (t, slot) = q.by_tick.pop_first()?;
            let last = self.last_use[slot].load(Ordering::Relaxed);
            if last <= t {
                q.queued_at[slot] = 0;
                return Some(slot);
            }
            q.queued_at[slot] = last;
            q.by_tick.insert(last, slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let c = LruClock::new(4);
        for s in 0..4 {
            c.inserted(s);
        }
        c.touch(0);
        c.touch(2);
        assert_eq!(c.evict(), Some(1));
        assert_eq!(c.evict(), Some(3));
        c.removed(0);
        assert_eq!(c.evict(), Some(2));
        assert_eq!(c.evict(), None);
        c.inserted(1);
        assert_eq!(c.evict(), Some(1));
    }
}
