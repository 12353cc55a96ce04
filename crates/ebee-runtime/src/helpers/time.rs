//! `bpf_ktime_get_ns`, `_boot_ns`, `_coarse_ns` and `bpf_jiffies64`: the
//! host's clocks (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`,
//! `CLOCK_MONOTONIC_COARSE`, as the kernel's helpers read them).

use super::add;
use crate::helper::HelperRegistry;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// `CLOCK_MONOTONIC` in nanoseconds.
pub(crate) fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The kernel tick rate `bpf_jiffies64` counts in (the common `CONFIG_HZ`).
pub const JIFFIES_HZ: u64 = 250;

pub(super) fn register(reg: &mut HelperRegistry) {
    add(reg, "ktime_get_ns", |_, _| Ok(monotonic_ns()));
    add(reg, "ktime_get_boot_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_BOOTTIME))
    });
    add(reg, "ktime_get_coarse_ns", |_, _| {
        Ok(clock_ns(libc::CLOCK_MONOTONIC_COARSE))
    });
    add(reg, "jiffies64", |_, _| {
        Ok(clock_ns(libc::CLOCK_BOOTTIME) / (1_000_000_000 / JIFFIES_HZ))
    });
}
