//! `bpf_csum_diff` as the kernel computes it on x86-64: the 32-bit
//! ones'-complement partial sum (`csum_partial`) of the complemented `from`
//! words followed by the `to` words, starting from `seed`.

use crate::helper::{HelperContext, HelperError};

/// The most bytes `from` and `to` may have together (the kernel's
/// per-CPU scratch buffer: 128 words).
pub const CSUM_DIFF_MAX: u64 = 512;

/// x86-64 `csum_partial` over `bytes` (a multiple of 4 long) from `seed`.
pub fn csum_partial(bytes: &[u8], seed: u32) -> u32 {
    let mut acc: u64 = seed as u64;
    let add = |acc: u64, v: u64| {
        let (s, c) = acc.overflowing_add(v);
        s + c as u64
    };
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        acc = add(acc, u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    }
    let rest = chunks.remainder();
    if rest.len() >= 4 {
        acc = add(acc, u32::from_le_bytes(rest[..4].try_into().unwrap_or([0; 4])) as u64);
    }
    let x = (acc & 0xffff_ffff) + (acc >> 32);
    ((x & 0xffff_ffff) + (x >> 32)) as u32
}

/// `bpf_csum_diff(from, from_size, to, to_size, seed)`: `-EINVAL` for
/// sizes that are not multiples of 4 or exceed [`CSUM_DIFF_MAX`] together.
pub fn csum_diff(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (from, from_size, to, to_size, seed) = (a[0], a[1] as u32 as u64, a[2], a[3] as u32 as u64, a[4] as u32);
    let diff = from_size + to_size;
    if from_size % 4 != 0 || to_size % 4 != 0 || diff > CSUM_DIFF_MAX {
        return Ok(-22i64 as u64);
    }
    let mut buf = vec![0u8; diff as usize];
    ctx.read(from, &mut buf[..from_size as usize])?;
    ctx.read(to, &mut buf[from_size as usize..])?;
    for b in &mut buf[..from_size as usize] {
        *b = !*b;
    }
    Ok(csum_partial(&buf, seed) as u64)
}
