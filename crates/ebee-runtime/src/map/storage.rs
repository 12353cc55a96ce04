//! Value memory shared by the host and running programs.
//!
//! Values live in one allocation of 64-bit atomic words, made when the map
//! is created and freed when it is dropped, so a pointer a program got from
//! a lookup stays valid memory for as long as the map lives (the kernel's
//! preallocated elements give the same guarantee). Each slot is the value
//! size rounded up to 8 bytes, like the kernel's element stride.
//!
//! The host copies values in and out word by word with atomic loads and
//! stores, so a copy racing with a program's atomic add (or with another
//! copy) never sees a half-written word; programs write through the raw
//! pointer ([`ValueStore::ptr`]), into the words' `UnsafeCell`s.

use std::sync::atomic::{AtomicU64, Ordering};

/// Fixed slots of `value_size` bytes (8-aligned, 8-byte stride).
#[derive(Debug)]
pub(crate) struct ValueStore {
    words: Box<[AtomicU64]>,
    stride_words: usize,
}

impl ValueStore {
    /// `slots` zeroed slots of `value_size` bytes.
    pub(crate) fn new(slots: usize, value_size: usize) -> ValueStore {
        let stride_words = value_size.div_ceil(8);
        let words = (0..slots * stride_words)
            .map(|_| AtomicU64::new(0))
            .collect();
        ValueStore {
            words,
            stride_words,
        }
    }

    /// Bytes from one slot to the next (the value size rounded up to 8).
    pub(crate) fn stride(&self) -> usize {
        self.stride_words * 8
    }

    fn slot_words(&self, slot: usize) -> &[AtomicU64] {
        &self.words[slot * self.stride_words..(slot + 1) * self.stride_words]
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
}
