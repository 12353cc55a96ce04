//! `bpf_probe_read`, `_user`, `_kernel` and their `_str` forms: safe
//! copies that fail with `-EFAULT` (and a zeroed destination, as in the
//! kernel) when the source is outside the run's memory.
//!
//! `bpf_probe_write_user` is the reverse copy, into the host's memory the
//! run may write (its input, context, packet and host-added regions: the
//! userspace counterpart of user memory); the program's own stack and map
//! values are the kernel's memory there, so writes to them fail with
//! `-EFAULT` and nothing is written, as in the kernel.
//!
//! The `_kernel` forms fail with `-ERANGE` instead for a source below the
//! x86-64 user/kernel split, as Linux's `copy_from_kernel_nofault` refuses
//! user addresses before trying them.

use super::{add, neg, EFAULT, ERANGE};

/// Linux's `TASK_SIZE_MAX` on x86-64 with 4-level paging: the end of the
/// user half of the address space.
pub const TASK_SIZE_MAX: u64 = (1 << 47) - 4096;

/// The error of a failed read of `src`.
fn fault(src: u64, kernel: bool) -> u64 {
    if kernel && src < TASK_SIZE_MAX {
        neg(ERANGE)
    } else {
        neg(EFAULT)
    }
}
use crate::helper::{HelperContext, HelperError, HelperRegistry};

/// Copies `size` bytes from `src` to `dst`.
fn probe_read(
    ctx: &mut HelperContext<'_>,
    dst: u64,
    size: u64,
    src: u64,
    kernel: bool,
) -> Result<u64, HelperError> {
    let size32 = size as u32 as u64;
    ctx.check(dst, size32, true)?;
    let mut buf = vec![0u8; size32 as usize];
    if ctx.read(src, &mut buf).is_err() {
        buf.fill(0);
        ctx.write(dst, &buf)?;
        return Ok(fault(src, kernel));
    }
    ctx.write(dst, &buf)?;
    Ok(0)
}

/// Copies the NUL-terminated string at `src` into `dst` (at most
/// `size - 1` bytes and a NUL); returns its length with the NUL.
fn probe_read_str(
    ctx: &mut HelperContext<'_>,
    dst: u64,
    size: u64,
    src: u64,
    kernel: bool,
) -> Result<u64, HelperError> {
    let size = size as u32 as u64;
    if size == 0 {
        return Ok(0);
    }
    ctx.check(dst, size, true)?;
    let mut out = Vec::with_capacity(size as usize);
    let mut b = [0u8; 1];
    while (out.len() as u64) < size - 1 {
        if ctx
            .read(src.wrapping_add(out.len() as u64), &mut b)
            .is_err()
        {
            ctx.write(dst, &vec![0u8; size as usize])?;
            return Ok(fault(src, kernel));
        }
        if b[0] == 0 {
            break;
        }
        out.push(b[0]);
    }
    out.push(0);
    ctx.write(dst, &out)?;
    Ok(out.len() as u64)
}

/// `bpf_probe_write_user(dst, src, len)`: copies `len` bytes from the
/// program's `src` to `dst`; `-EFAULT` when `dst` is not writable memory
/// of the run (the kernel's `copy_to_user_nofault`, whose user memory is
/// here the run's writable regions).
fn probe_write_user(
    ctx: &mut HelperContext<'_>,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<u64, HelperError> {
    let len = len as u32 as u64;
    ctx.check(src, len, false)?;
    let regions = ctx.regions();
    let user = std::iter::once(regions.input())
        .chain(regions.extra().iter().copied())
        .any(|r| {
            r.writable
                && r.contains(dst, len)
                && !matches!(
                    r.name,
                    "stack" | "map value" | "array map" | "ring buffer sample" | "key"
                )
        });
    if dst >= TASK_SIZE_MAX || !user {
        return Ok(neg(EFAULT));
    }
    let mut buf = vec![0u8; len as usize];
    ctx.read(src, &mut buf)?;
    ctx.write(dst, &buf)?;
    Ok(0)
}

pub(super) fn register(reg: &mut HelperRegistry) {
    add(reg, "probe_write_user", |ctx, a| {
        probe_write_user(ctx, a[0], a[1], a[2])
    });
    for (name, kernel) in [
        ("probe_read", false),
        ("probe_read_user", false),
        ("probe_read_kernel", true),
    ] {
        add(reg, name, move |ctx, a| {
            probe_read(ctx, a[0], a[1], a[2], kernel)
        });
    }
    for (name, kernel) in [
        ("probe_read_str", false),
        ("probe_read_user_str", false),
        ("probe_read_kernel_str", true),
    ] {
        add(reg, name, move |ctx, a| {
            probe_read_str(ctx, a[0], a[1], a[2], kernel)
        });
    }
}
