//! Constant blinding, as the kernel's `bpf_jit_blind_constants`
//! (kernel/bpf/core.c): no immediate of the program (ALU, jump, store,
//! `lddw` and `LD_ABS`/`LD_IND` operands) is written into executable memory as is, so a program
//! cannot plant chosen bytes (JIT spraying gadgets) in the code pages.
//!
//! Each compile draws a random 64-bit key. An immediate `imm` is emitted as
//! the constant `imm ^ key`, XORed at run time with the key loaded from
//! memory (not from the code, and through a load so that Cranelift cannot
//! fold the two constants back into `imm`). The key lives in a heap cell
//! owned by the compiled code, so it is never in executable memory either.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

/// The key of one compiled program and where it is kept at run time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Blinding {
    /// The random key every immediate is XORed with.
    pub key: u64,
    /// The address of the cell holding `key` while the code lives (0 for
    /// code that is only compiled, never run).
    pub key_addr: u64,
}

impl Blinding {
    /// The constant to emit for the 64-bit value `v`.
    pub fn blind64(&self, v: i64) -> i64 {
        v ^ self.key as i64
    }

    /// The constant to emit for the 32-bit value `v` (the key's low half).
    pub fn blind32(&self, v: u32) -> u32 {
        v ^ self.key as u32
    }
}

/// A fresh random key. `RandomState` is seeded from the operating system's
/// random source (once per thread); each key hashes a process-wide counter
/// with a new state, so keys are unpredictable and differ per compile.
pub(crate) fn random_key() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_per_compile() {
        let keys: std::collections::HashSet<u64> = (0..64).map(|_| random_key()).collect();
        assert_eq!(keys.len(), 64);
    }

    #[test]
    fn blinding_is_undone_by_the_key() {
        let b = Blinding {
            key: random_key(),
            key_addr: 0,
        };
        let v = 0x1234_5678_9abc_def0_u64 as i64;
        assert_eq!(b.blind64(v) ^ b.key as i64, v);
        assert_eq!(b.blind32(0xdead_beef) ^ b.key as u32, 0xdead_beef);
    }
}
