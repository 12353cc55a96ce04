//! `bpf_get_stackid` (27) and `bpf_get_stack` (67): the call stack of the
//! task the program runs in. In userspace the task is the host thread
//! that runs the program, and its stack is the user stack
//! (`BPF_F_USER_STACK`): the return addresses the unwinder finds from the
//! helper up, innermost first (the runtime's own frames included; the
//! flags' skip count drops as many innermost frames). There is no kernel
//! stack: a request for one fails with `-EFAULT`, as the kernel's does
//! when it cannot fetch a stack.

use super::{add, neg, HelperEnv, EINVAL};
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::map::{MapType, BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID, PERF_MAX_STACK_DEPTH};
use std::sync::Arc;

const EFAULT: i32 = 14;
/// `BPF_F_SKIP_FIELD_MASK`: how many innermost frames to drop.
const SKIP_MASK: u64 = 0xff;
/// `BPF_F_USER_STACK`.
const USER_STACK: u64 = 1 << 8;
/// `BPF_F_USER_BUILD_ID` (`bpf_get_stack`): build ids userspace lacks.
const USER_BUILD_ID: u64 = 1 << 11;

extern "C" {
    /// glibc's `backtrace(3)`: fills `buffer` with up to `size` return
    /// addresses of the calling thread, innermost first.
    fn backtrace(buffer: *mut *mut libc::c_void, size: libc::c_int) -> libc::c_int;
}

/// The calling thread's user stack, at most `depth` addresses after
/// skipping `skip` (`None` when nothing is left).
fn user_stack(skip: usize, depth: usize) -> Option<Vec<u64>> {
    // One more for this function's own frame.
    let want = (skip + depth + 1).min(PERF_MAX_STACK_DEPTH + 1);
    let mut buf = vec![std::ptr::null_mut(); want];
    // SAFETY: `buf` holds `want` pointers; backtrace writes at most that.
    let n = unsafe { backtrace(buf.as_mut_ptr(), want as libc::c_int) };
    let ips: Vec<u64> = buf[..n.max(0) as usize]
        .iter()
        .skip(1 + skip)
        .map(|&p| p as u64)
        .take(depth)
        .collect();
    (!ips.is_empty()).then_some(ips)
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    // get_stackid(ctx, map, flags)
    add(reg, "get_stackid", move |_, a| {
        let map = e.map(a[1])?;
        let flags = a[2];
        if flags & !(SKIP_MASK | USER_STACK | BPF_F_FAST_STACK_CMP | BPF_F_REUSE_STACKID) != 0 {
            return Ok(neg(EINVAL));
        }
        let depth = map.spec().value_size as usize / 8;
        if map.map_type() != MapType::StackTrace {
            return Err(HelperError(format!(
                "map {:?} is not a stack trace map",
                map.spec().name
            )));
        }
        if flags & USER_STACK == 0 {
            return Ok(neg(EFAULT));
        }
        let skip = (flags & SKIP_MASK) as usize;
        let Some(ips) = user_stack(skip, depth.min(PERF_MAX_STACK_DEPTH.saturating_sub(skip)))
        else {
            return Ok(neg(EFAULT));
        };
        Ok(match map.store_stack(&ips, flags) {
            Ok(id) => id as u64,
            Err(errno) => neg(errno),
        })
    });
    // get_stack(ctx, buf, size, flags)
    add(reg, "get_stack", |ctx: &mut HelperContext<'_>, a| {
        let (buf, size, flags) = (a[1], a[2] as u32 as u64, a[3]);
        ctx.check(buf, size, true)?;
        let zero = |ctx: &mut HelperContext<'_>, e: i32| -> Result<u64, HelperError> {
            ctx.write(buf, &vec![0; size as usize])?;
            Ok(neg(e))
        };
        if flags & !(SKIP_MASK | USER_STACK | USER_BUILD_ID) != 0 || !size.is_multiple_of(8) {
            return zero(ctx, EINVAL);
        }
        if flags & USER_BUILD_ID != 0 {
            // Build-id entries need the ELF notes of mapped files: not kept.
            return zero(ctx, EINVAL);
        }
        if flags & USER_STACK == 0 {
            return zero(ctx, EFAULT);
        }
        let skip = (flags & SKIP_MASK) as usize;
        let depth = (size / 8) as usize;
        let Some(ips) = user_stack(skip, depth.min(PERF_MAX_STACK_DEPTH.saturating_sub(skip)))
        else {
            return zero(ctx, EFAULT);
        };
        let mut out: Vec<u8> = ips.iter().flat_map(|ip| ip.to_ne_bytes()).collect();
        let copied = out.len() as u64;
        out.resize(size as usize, 0);
        ctx.write(buf, &out)?;
        Ok(copied)
    });
}
