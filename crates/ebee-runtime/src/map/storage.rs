//! Value memory shared by the host and running programs.
//!
//! Values live in chunks of 64-bit atomic words, freed when the map is
//! dropped and never moved before: a pointer a program got from a lookup
//! stays valid memory for as long as the map lives (the kernel's
//! preallocated elements give the same guarantee). [`ValueStore::new`]
//! allocates each chunk the first time one of its slots is touched, so a
//! map created with room for a million elements costs memory only for
//! the ones used; [`ValueStore::contiguous`] makes one chunk at once, for
//! arrays. Each slot is the value size rounded up to 8 bytes, like the
//! kernel's element stride, and 8-aligned.
//!
//! The host copies values in and out word by word with atomic loads and
//! stores, so a copy racing with a program's atomic add (or with another
//! copy) never sees a half-written word; programs write through the raw
//! pointer ([`ValueStore::ptr`]), into the words' `UnsafeCell`s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// Slots per chunk of a store allocated on use.
const CHUNK_SLOTS: usize = 64;

/// Fixed slots of `value_size` bytes (8-aligned, 8-byte stride).
#[derive(Debug)]
pub(crate) struct ValueStore {
    chunks: Box<[OnceLock<Box<[AtomicU64]>>]>,
    /// Slots per chunk.
    chunk_slots: usize,
    stride_words: usize,
}

impl ValueStore {
    /// `slots` zeroed slots of `value_size` bytes, allocated on use.
    pub(crate) fn new(slots: usize, value_size: usize) -> ValueStore {
        ValueStore {
            chunks: (0..slots.div_ceil(CHUNK_SLOTS))
                .map(|_| OnceLock::new())
                .collect(),
            chunk_slots: CHUNK_SLOTS,
            stride_words: value_size.div_ceil(8),
        }
    }

    /// `slots` zeroed slots in one allocation made now, slot `i` at
    /// `ptr(0) + i * stride` (arrays: what an inlined lookup computes).
    pub(crate) fn contiguous(slots: usize, value_size: usize) -> ValueStore {
        let store = ValueStore {
            chunks: (0..usize::from(slots > 0))
                .map(|_| OnceLock::new())
                .collect(),
            chunk_slots: slots.max(1),
            stride_words: value_size.div_ceil(8),
        };
        if slots > 0 {
            store.slot_words(0);
        }
        store
    }

    /// Bytes from one slot to the next (the value size rounded up to 8).
    pub(crate) fn stride(&self) -> usize {
        self.stride_words * 8
    }

    fn slot_words(&self, slot: usize) -> &[AtomicU64] {
        let chunk = self.chunks[slot / self.chunk_slots].get_or_init(|| {
            (0..self.chunk_slots * self.stride_words)
                .map(|_| AtomicU64::new(0))
                .collect()
        });
        let at = (slot % self.chunk_slots) * self.stride_words;
        &chunk[at..at + self.stride_words]
    }

    /// The address of slot `slot` for a program (valid while `self` lives).
    pub(crate) fn ptr(&self, slot: usize) -> *mut u8 {
        self.slot_words(slot)
            .first()
            .map_or(std::ptr::null_mut(), |w| w.as_ptr().cast::<u8>())
    }

    /// Copies slot `slot` into `out` (the value size, or up to the stride
    /// to include the padding, as per-CPU buffers do).
    pub(crate) fn read(&self, slot: usize, out: &mut [u8]) {
        for (w, chunk) in self.slot_words(slot).iter().zip(out.chunks_mut(8)) {
            let bytes = w.load(Ordering::Relaxed).to_ne_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }

    /// Copies `src` (the value size, or up to the stride) into slot
    /// `slot`; bytes of the stride not in `src` become zero.
    pub(crate) fn write(&self, slot: usize, src: &[u8]) {
        debug_assert!(src.len() <= self.stride());
        for (w, chunk) in self.slot_words(slot).iter().zip(src.chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            w.store(u64::from_ne_bytes(bytes), Ordering::Relaxed);
        }
    }

    /// Zeroes slot `slot`.
    pub(crate) fn zero(&self, slot: usize) {
        for w in self.slot_words(slot) {
            w.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_round_trip_and_pad() {
        let s = ValueStore::new(3, 12);
        assert_eq!(s.stride(), 16);
        s.write(1, &[7u8; 12]);
        let mut out = [0u8; 12];
        s.read(1, &mut out);
        assert_eq!(out, [7u8; 12]);
        s.read(0, &mut out);
        assert_eq!(out, [0u8; 12]);
        s.zero(1);
        s.read(1, &mut out);
        assert_eq!(out, [0u8; 12]);
        assert_eq!(s.ptr(1) as usize - s.ptr(0) as usize, 16);
    }

    #[test]
    fn contiguous_slots_follow_each_other() {
        let s = ValueStore::contiguous(1000, 12);
        assert_eq!(s.ptr(999) as usize - s.ptr(0) as usize, 999 * 16);
        s.write(999, &[3u8; 12]);
        let mut out = [0u8; 12];
        s.read(999, &mut out);
        assert_eq!(out, [3u8; 12]);
    }

    #[test]
    fn chunks_are_allocated_on_use_and_stay_put() {
        let s = ValueStore::new(1 << 20, 8);
        assert!(s.chunks.iter().all(|c| c.get().is_none()));
        let p = s.ptr(700_000);
        s.write(700_000, &[1u8; 8]);
        assert_eq!(s.chunks.iter().filter(|c| c.get().is_some()).count(), 1);
        assert_eq!(s.ptr(700_000), p);
        assert_eq!(p as usize % 8, 0);
    }
}
