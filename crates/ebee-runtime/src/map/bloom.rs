//! `bloom_filter`: a keyless set that may answer "maybe" for values never
//! added, and never "no" for a value that was.
//!
//! Sized like the kernel's: `max_entries × hashes / ln 2` bits rounded up
//! to a power of two; `map_extra` is the number of hash functions (1 to
//! 15, 0 means 5). The hash is ours (the kernel's is jhash with a random
//! seed, so its false positives differ from run to run anyway); the seed
//! is random unless `BPF_F_ZERO_SEED`. Bits are atomic: adds and tests
//! from any thread need no lock.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use super::array::KMALLOC_MAX_SIZE;
use super::{
    errno, Errno, MapError, MapSpec, ACCESS_FLAGS, BPF_ANY, BPF_F_NUMA_NODE, BPF_F_ZERO_SEED,
};

/// A bloom filter.
#[derive(Debug)]
pub(super) struct BloomFilter {
    hashes: u32,
    /// Bit count - 1 (a power of two minus one).
    mask: u64,
    seed: u64,
    bits: Box<[AtomicU64]>,
}

impl BloomFilter {
    /// `bloom_map_alloc`'s checks and the allocation.
    pub(super) fn new(spec: &MapSpec) -> Result<BloomFilter, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.key_size != 0
            || spec.value_size == 0
            || spec.max_entries == 0
            || spec.flags & !(BPF_F_NUMA_NODE | BPF_F_ZERO_SEED | ACCESS_FLAGS) != 0
            || spec.map_extra & !0xf != 0
        {
            return Err(fail(errno::EINVAL));
        }
        if spec.value_size > KMALLOC_MAX_SIZE {
            return Err(fail(errno::E2BIG));
        }
        let hashes = if spec.map_extra == 0 {
            5
        } else {
            spec.map_extra as u32
        };
        let want =
            (f64::from(spec.max_entries) * f64::from(hashes) / std::f64::consts::LN_2).ceil();
        let nbits = (want as u64)
            .max(64)
            .checked_next_power_of_two()
            .unwrap_or(1 << 32)
            .min(1 << 32);
        let seed = if spec.flags & BPF_F_ZERO_SEED != 0 {
            0
        } else {
            RandomState::new().hash_one(0x6562_6565u64)
        };
        Ok(BloomFilter {
            hashes,
            mask: nbits - 1,
            seed,
            bits: (0..nbits / 64).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    /// The bit numbers of `value` (double hashing of one 64-bit hash).
    fn positions(&self, value: &[u8]) -> impl Iterator<Item = u64> + '_ {
        let mut h = std::hash::DefaultHasher::new();
        h.write_u64(self.seed);
        h.write(value);
        let h = h.finish();
        let (a, b) = (h, h.rotate_left(32) | 1);
        (0..u64::from(self.hashes)).map(move |i| a.wrapping_add(i.wrapping_mul(b)) & self.mask)
    }

    /// Adds `value` (`flags` must be `BPF_ANY`).
    pub(super) fn add(&self, value: &[u8], flags: u64) -> Result<(), Errno> {
        if flags != BPF_ANY {
            return Err(errno::EINVAL);
        }
        for bit in self.positions(value) {
            self.bits[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
        }
        Ok(())
    }

    /// May `value` have been added?
    pub(super) fn contains(&self, value: &[u8]) -> bool {
        self.positions(value).all(|bit| {
            self.bits[(bit / 64) as usize].load(Ordering::Relaxed) & (1 << (bit % 64)) != 0
        })
    }
}
