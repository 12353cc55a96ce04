//! `bpf_csum_diff` as Linux 6.18 computes it (measured against
//! `BPF_PROG_TEST_RUN`): `csum_partial(to, seed) - csum_partial(from, 0)`
//! in ones'-complement arithmetic, folded to 16 bits (not complemented);
//! any sizes, a trailing partial word counted as if zero-padded.

use crate::helper::{HelperContext, HelperError};

/// The ones'-complement sum of `bytes` as little-endian 32-bit words (a
/// trailing partial word zero-padded), starting from `seed`.
pub fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut acc: u64 = seed as u64;
    for c in bytes.chunks(4) {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        acc += u32::from_le_bytes(w) as u64;
    }
    while acc >> 32 != 0 {
        acc = (acc & 0xffff_ffff) + (acc >> 32);
    }
    acc as u32
}

/// `a - b` in 32-bit ones'-complement arithmetic (the kernel's `csum_sub`).
fn csum_sub(a: u32, b: u32) -> u32 {
    let (s, c) = a.overflowing_add(!b);
    s.wrapping_add(c as u32)
}

/// `bpf_csum_diff(from, from_size, to, to_size, seed)`.
pub fn csum_diff(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (from, from_size, to, to_size) = (a[0], a[1] as u32 as u64, a[2], a[3] as u32 as u64);
    let seed = a[4] as u32;
    ctx.check(from, from_size, false)?;
    ctx.check(to, to_size, false)?;
    let mut f = vec![0u8; from_size as usize];
    let mut t = vec![0u8; to_size as usize];
    ctx.read(from, &mut f)?;
    ctx.read(to, &mut t)?;
    let sum = match (f.is_empty(), t.is_empty()) {
        (false, false) => csum_sub(csum_partial(&t, seed), csum_partial(&f, 0)),
        (true, false) => csum_partial(&t, seed),
        (false, true) => !csum_partial(&f, !seed),
        (true, true) => seed,
    };
    Ok(fold16(sum) as u64)
}

/// Folds a 32-bit ones'-complement sum to 16 bits (the kernel's
/// `csum_from32to16`).
pub fn fold16(sum: u32) -> u16 {
    let x = (sum & 0xffff) + (sum >> 16);
    ((x & 0xffff) + (x >> 16)) as u16
}

/// `a + b` in 32-bit ones'-complement arithmetic (the kernel's `csum_add`).
pub fn csum_add(a: u32, b: u32) -> u32 {
    let (s, c) = a.overflowing_add(b);
    s.wrapping_add(c as u32)
}

/// Folds and complements a 32-bit sum into a checksum field (the kernel's
/// `csum_fold`).
pub fn csum_fold(sum: u32) -> u16 {
    !fold16(sum)
}

/// A 16-bit checksum field (as stored, native byte order) after a 32-bit
/// word of the covered data changed from `from` to `to` (the kernel's
/// `csum_replace4`).
pub fn csum_replace4(field: u16, from: u32, to: u32) -> u16 {
    csum_fold(csum_add(csum_sub(!(field as u32), from), to))
}

/// The kernel's `csum16_add`: 16-bit ones'-complement addition.
fn csum16_add(a: u16, b: u16) -> u16 {
    let r = a.wrapping_add(b);
    r.wrapping_add((r < b) as u16)
}

/// A checksum field after a 16-bit word changed from `from` to `to` (the
/// kernel's `csum_replace2`, RFC 1624's `HC' = ~(~HC + ~m + m')`).
pub fn csum_replace2(field: u16, from: u16, to: u16) -> u16 {
    !csum16_add(csum16_add(!field, !from), to)
}

/// A checksum field after adding the 32-bit difference `diff` (as
/// `bpf_csum_diff` returns it) to the covered data (the kernel's
/// `csum_replace_by_diff`).
pub fn csum_replace_by_diff(field: u16, diff: u32) -> u16 {
    csum_fold(csum_add(diff, !(field as u32)))
}
