//! `cpumap`: the CPUs `bpf_redirect_map` hands XDP frames to, host-side
//! contents only. A value is `struct bpf_cpumap_val`: `u32 qsize`,
//! optionally followed by a `u32` program fd (value size 4 or 8). Updates
//! follow `cpu_map_update_elem`: `EEXIST` for `BPF_NOEXIST` (slots always
//! exist), `EOVERFLOW` for a queue over 16384, `ENODEV` for a CPU the
//! runtime does not have, and a queue size of 0 empties the slot.

use super::devmap::{index, Slots};
use super::{errno, Errno, MapError, MapSpec, BPF_EXIST, BPF_F_NUMA_NODE, BPF_NOEXIST};

/// The kernel's `NR_CPUS`, the bound on `max_entries`: this machine's
/// (`/sys/devices/system/cpu/kernel_max` + 1), or 8192 (the largest
/// configurable) where that file is missing.
pub fn nr_cpus() -> u32 {
    std::fs::read_to_string("/sys/devices/system/cpu/kernel_max")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(8192, |m| m.saturating_add(1))
}
/// `EOVERFLOW`.
const EOVERFLOW: Errno = 75;
/// `ENODEV`.
const ENODEV: Errno = 19;

/// A `cpumap`.
#[derive(Debug)]
pub(super) struct CpuMap {
    pub(super) slots: Slots,
    cpus: usize,
}

impl CpuMap {
    /// `cpu_map_alloc`, with `cpus` possible CPUs.
    pub(super) fn new(spec: &MapSpec, cpus: usize) -> Result<CpuMap, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.max_entries == 0
            || spec.key_size != 4
            || (spec.value_size != 4 && spec.value_size != 8)
            || spec.flags & !BPF_F_NUMA_NODE != 0
        {
            return Err(fail(errno::EINVAL));
        }
        if spec.max_entries > nr_cpus() {
            return Err(fail(errno::E2BIG));
        }
        Ok(CpuMap {
            slots: Slots::new(spec.max_entries),
            cpus,
        })
    }

    pub(super) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Errno> {
        if flags > BPF_EXIST {
            return Err(errno::EINVAL);
        }
        let cpu = index(key);
        if cpu >= self.slots.len() {
            return Err(errno::E2BIG);
        }
        if flags == BPF_NOEXIST {
            return Err(errno::EEXIST);
        }
        let qsize = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]);
        if qsize > 16384 {
            return Err(EOVERFLOW);
        }
        if cpu >= self.cpus {
            return Err(ENODEV);
        }
        if qsize == 0 {
            return self.slots.put(key, None);
        }
        self.slots.put(key, Some(value.to_vec()))
    }
}
