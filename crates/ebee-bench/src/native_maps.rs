//! The Rust twins of the object programs (`programs/hash_count.c`,
//! `programs/tail_chain.c`), doing the same work: a hash table that lives
//! across runs, as the eBPF map does, looked up and incremented (or
//! inserted into) once per loop pass; a chain of indirect calls, each
//! bumping a depth counter in memory, as each tail call does.

use crate::input::{header_n, with_header};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;

/// Map operations per run of `hash_count` (`HASH_N` in `hash_count.h`).
pub const HASH_N: u64 = 1024;
/// Distinct keys of `hash_count` (`HASH_K`).
pub const HASH_K: u32 = 256;
/// Tail calls per run of `tail_chain` (`TAIL_DEPTH` in `tail_chain.c`).
pub const TAIL_DEPTH: u64 = 32;
/// Data bytes after the header: the packet the kernel column runs on (XDP
/// test runs want at least an Ethernet header).
pub const PACKET_LEN: u64 = 64;

/// The input of the object programs: the size parameter, for the native
/// twins (the eBPF programs have it compiled in), and a zeroed packet.
pub fn object_input(n: u64) -> Vec<u8> {
    with_header(n, PACKET_LEN as usize)
}

/// `hash_key` of `hash_count.h`.
fn hash_key(i: u32) -> u32 {
    (i.wrapping_mul(2_654_435_761) >> 7) % HASH_K
}

thread_local! {
    /// The counters, kept across runs like the program's hash map.
    static COUNTS: RefCell<HashMap<u32, u64>> =
        RefCell::new(HashMap::with_capacity(HASH_K as usize));
}

/// `n` (the header) lookup-or-insert-and-increment operations; returns
/// the successful operations plus the sum of their keys.
#[inline(never)]
pub fn hash_count(mem: &mut [u8]) -> u64 {
    let n = black_box(header_n(black_box(mem))).min(u32::MAX as u64) as u32;
    COUNTS.with(|counts| {
        let mut counts = counts.borrow_mut();
        let mut done = 0u64;
        for i in 0..n {
            let key = black_box(hash_key(i));
            if let Some(count) = counts.get_mut(&key) {
                *count += 1;
                done += 1 + u64::from(key);
            } else if counts.len() < HASH_K as usize {
                // The map holds at most HASH_K keys, as the eBPF map does.
                counts.insert(key, 1);
                done += 1 + u64::from(key);
            }
        }
        black_box(done)
    })
}

/// One link of the chain: counts itself, says whether to go on.
fn tail_step(depth: &mut u64) -> bool {
    *depth += 1;
    *depth < TAIL_DEPTH
}

/// The chain: resets the depth, then calls the step through a table (as a
/// tail call goes through the prog array) until it stops; returns the
/// depth. The header's size is not used: the depth is fixed, as in C.
#[inline(never)]
pub fn tail_chain(mem: &mut [u8]) -> u64 {
    black_box(mem);
    let table: [fn(&mut u64) -> bool; 1] = [tail_step];
    let mut depth = 0u64;
    while black_box(table)[0](black_box(&mut depth)) {}
    black_box(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_count_counts_every_operation_and_keys_spread() {
        let want: u64 = (0..HASH_N as u32).map(|i| 1 + u64::from(hash_key(i))).sum();
        let mut mem = object_input(HASH_N);
        assert_eq!(hash_count(&mut mem), want);
        // Again: now every key is found, the result is the same.
        assert_eq!(hash_count(&mut mem), want);
        let keys: std::collections::HashSet<u32> = (0..HASH_N as u32).map(hash_key).collect();
        assert!(keys.len() > HASH_K as usize / 2, "{} keys", keys.len());
    }

    #[test]
    fn tail_chain_reaches_the_depth() {
        assert_eq!(tail_chain(&mut object_input(TAIL_DEPTH)), TAIL_DEPTH);
    }
}
