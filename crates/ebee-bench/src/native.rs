//! The benchmark algorithms in Rust, compiled with optimisations: the
//! physical limit the engines are measured against.
//!
//! Each function takes the same buffer the eBPF program gets and computes
//! the same result by the same algorithm. They are `#[inline(never)]` and
//! pass their input through [`black_box`] so the optimiser cannot fold a
//! run away. Out-of-range sizes in the header are clamped to the buffer.

use crate::input::{header_n, HEADER_LEN};
use std::hint::black_box;

fn data_and_n(mem: &mut [u8]) -> (&mut [u8], usize) {
    let mem = black_box(mem);
    let n = header_n(mem);
    let data = mem.get_mut(HEADER_LEN..).unwrap_or_default();
    (data, usize::try_from(n).unwrap_or(usize::MAX))
}

/// Primes below the bound in the header, by trial division.
#[inline(never)]
// The 64-bit `%` is the point: the C program divides the same way.
#[allow(clippy::manual_is_multiple_of)]
pub fn primes(mem: &mut [u8]) -> u64 {
    let n = black_box(header_n(black_box(mem)));
    let mut count = 0u64;
    let mut k = 2u64;
    while k < n {
        let mut prime = 1;
        let mut d = 2u64;
        while d.wrapping_mul(d) <= k {
            if k % d == 0 {
                prime = 0;
                break;
            }
            d += 1;
        }
        count += prime;
        k += 1;
    }
    black_box(count)
}

/// Copies `n` bytes from the first half of the data to the second, byte by
/// byte, and returns their sum.
#[inline(never)]
pub fn byte_copy(mem: &mut [u8]) -> u64 {
    let (data, n) = data_and_n(mem);
    let n = n.min(data.len() / 2);
    let (src, rest) = data.split_at_mut(n);
    let mut sum = 0u64;
    for (d, &b) in rest[..n].iter_mut().zip(src.iter()) {
        *d = b;
        sum = sum.wrapping_add(u64::from(b));
    }
    black_box(sum)
}

/// Compares the NUL-terminated strings at the two halves of the data.
#[inline(never)]
pub fn strcmp(mem: &mut [u8]) -> u64 {
    let (data, n) = data_and_n(mem);
    let n = n.min(data.len() / 2);
    let (a, b) = data.split_at(n);
    for (&x, &y) in a.iter().zip(b[..n].iter()) {
        if x != y || x == 0 {
            return black_box((i64::from(x) - i64::from(y)) as u64);
        }
    }
    black_box(0)
}

const fn case_constant(k: u64) -> u64 {
    k.wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(0x632b_e59b_d9b4_e019)
}

const fn case_shift(k: u64) -> u32 {
    (k % 29 + 3) as u32
}

/// One case of the 64-way switch; `k` is a literal at every call, so each
/// arm compiles to its own straight-line code, as in `programs/switch64.c`.
#[inline(always)]
fn switch_case(k: u64, acc: u64, x: u64) -> u64 {
    let c = case_constant(k);
    let s = case_shift(k);
    match k % 8 {
        0 => acc.wrapping_add(x.wrapping_mul(c)),
        1 => acc ^ x.wrapping_add(c),
        2 => (acc << s) ^ (acc >> (64 - s)) ^ x,
        3 => acc.wrapping_sub(x ^ c),
        4 => acc.wrapping_mul(c | 1).wrapping_add(x),
        5 => (acc >> s).wrapping_add(x).wrapping_add(k),
        6 => (acc | (x << s)) ^ c,
        _ => (acc & c).wrapping_sub(x),
    }
}

macro_rules! switch64_match {
    ($sel:expr, $acc:expr, $x:expr; $($k:literal)*) => {
        match $sel {
            $($k => switch_case($k, $acc, $x),)*
            _ => unreachable!("x & 63 < 64"),
        }
    };
}

/// Folds `n` u32 elements through a 64-way match on `x & 63`.
#[inline(never)]
pub fn switch64(mem: &mut [u8]) -> u64 {
    let (data, n) = data_and_n(mem);
    let mut acc = 0u64;
    for chunk in data.chunks_exact(4).take(n) {
        let x = u64::from(u32::from_le_bytes(chunk.try_into().expect("4 bytes")));
        acc = switch64_match!(x & 63, acc, x;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15
            16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31
            32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47
            48 49 50 51 52 53 54 55 56 57 58 59 60 61 62 63);
    }
    black_box(acc)
}

/// Floor log2 (0 for 0) of one value by a binary search of shifts.
#[inline(always)]
fn log2_by_shifts(mut v: u64) -> u64 {
    let mut r = 0;
    let mut s = 32;
    while s > 0 {
        if v >> s != 0 {
            v >>= s;
            r += s;
        }
        s >>= 1;
    }
    r
}

/// Sums the floor log2 of `n` u64 elements.
#[inline(never)]
pub fn log2(mem: &mut [u8]) -> u64 {
    let (data, n) = data_and_n(mem);
    let mut sum = 0u64;
    for chunk in data.chunks_exact(8).take(n) {
        let v = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        sum = sum.wrapping_add(log2_by_shifts(v));
    }
    black_box(sum)
}

/// The XDP parser (`programs/xdp_parse.h`) over the packets in the data.
#[inline(never)]
pub fn xdp_parse(mem: &mut [u8]) -> u64 {
    let (data, n) = data_and_n(mem);
    let data = &data[..n.min(data.len())];
    let (mut drops, mut ports) = (0u32, 0u32);
    for i in 0..32 {
        let eth = i * 64;
        if eth + 14 > data.len() {
            break;
        }
        let be16 = |at: usize| u16::from_be_bytes([data[at], data[at + 1]]);
        if be16(eth + 12) != 0x0800 {
            continue;
        }
        let ip = eth + 14;
        if ip + 20 > data.len() {
            continue;
        }
        let ihl = (data[ip] & 0xf) as usize * 4;
        if data[ip] >> 4 != 4 || ihl < 20 {
            continue;
        }
        let (proto, src_net, l4) = (data[ip + 9], data[ip + 12], ip + ihl);
        let (need, dropped_port) = match proto {
            6 => (20, 22),
            17 => (8, 53),
            _ => continue,
        };
        if l4 + need > data.len() {
            continue;
        }
        let dport = be16(l4 + 2);
        ports = ports.wrapping_add(dport as u32);
        if dport == dropped_port && src_net == 10 {
            drops += 1;
        }
    }
    black_box((drops << 16 | (ports & 0xffff)) as u64)
}
