//! `bpf_spin_lock` / `bpf_spin_unlock`: a real lock on the 4-byte
//! `struct bpf_spin_lock` word inside a map value (0 free, 1 held), so
//! programs running on several threads exclude each other like on
//! several CPUs.

use super::add;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use std::sync::atomic::{AtomicU32, Ordering};

/// How long `bpf_spin_lock` waits before it declares a deadlock.
pub const DEADLOCK_AFTER: std::time::Duration = std::time::Duration::from_secs(5);

/// The lock word at `addr`, checked writable and 4-aligned.
fn word<'m>(ctx: &mut HelperContext<'_>, addr: u64) -> Result<&'m AtomicU32, HelperError> {
    ctx.check(addr, 4, true)?;
    if !addr.is_multiple_of(4) {
        return Err(HelperError(format!(
            "spin lock at {addr:#x} is not 4-aligned"
        )));
    }
    // SAFETY: the 4 bytes are inside a writable region (map memory, valid
    // for the run), aligned; other threads touch the word only atomically
    // (through this helper or the program's own atomics).
    Ok(unsafe { AtomicU32::from_ptr(addr as *mut u32) })
}

pub(super) fn register(reg: &mut HelperRegistry) {
    add(reg, "spin_lock", |ctx, a| {
        let w = word(ctx, a[0])?;
        let mut spins = 0u32;
        let mut since: Option<std::time::Instant> = None;
        while w
            .compare_exchange_weak(0, 1, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
                // A lock held this long is a deadlock (an unverified program
                // locking twice): fail the run rather than hang.
                let start = *since.get_or_insert_with(std::time::Instant::now);
                if start.elapsed() > DEADLOCK_AFTER {
                    return Err(HelperError(format!(
                        "spin lock at {:#x} still held after {DEADLOCK_AFTER:?}",
                        a[0]
                    )));
                }
            } else {
                std::hint::spin_loop();
            }
        }
        Ok(0)
    });
    add(reg, "spin_unlock", |ctx, a| {
        word(ctx, a[0])?.store(0, Ordering::Release);
        Ok(0)
    });
}
