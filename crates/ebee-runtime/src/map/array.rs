//! `array` and `percpu_array`: `max_entries` values indexed by a `u32`
//! key, all existing from creation (zeroed), never deleted.

use super::storage::ValueStore;
use super::{
    check_update_flags, errno, is_percpu, ArrayLayout, Errno, MapError, MapSpec, MapType, ValuePtr,
    ACCESS_FLAGS, BPF_F_INNER_MAP, BPF_F_MMAPABLE, BPF_F_NUMA_NODE, BPF_NOEXIST,
};

/// The largest value the kernel allocates (`KMALLOC_MAX_SIZE`, 4 MiB pages).
pub(super) const KMALLOC_MAX_SIZE: u32 = 4 << 20;
/// The largest per-CPU value (`PCPU_MIN_UNIT_SIZE`).
pub(super) const PCPU_MIN_UNIT_SIZE: u32 = 32 << 10;
/// The most value memory one map may take here (the kernel would fail
/// with `ENOMEM` somewhere; we refuse before allocating).
pub(super) const MAX_MAP_BYTES: u64 = 1 << 32;

/// An array or per-CPU array.
#[derive(Debug)]
pub(super) struct ArrayMap {
    max_entries: usize,
    percpu: bool,
    ncpus: usize,
    value_size: usize,
    values: ValueStore,
}

fn index(key: &[u8]) -> usize {
    let mut b = [0u8; 4];
    b.copy_from_slice(&key[..4]);
    u32::from_ne_bytes(b) as usize
}

impl ArrayMap {
    /// `array_map_alloc_check` and the allocation.
    pub(super) fn new(spec: &MapSpec, ncpus: usize) -> Result<ArrayMap, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        let percpu = is_percpu(spec.map_type);
        let allowed = BPF_F_NUMA_NODE | BPF_F_MMAPABLE | ACCESS_FLAGS | BPF_F_INNER_MAP;
        if spec.max_entries == 0
            || spec.key_size != 4
            || spec.value_size == 0
            || spec.flags & !allowed != 0
            || (spec.map_type != MapType::Array
                && spec.flags & (BPF_F_MMAPABLE | BPF_F_INNER_MAP) != 0)
        {
            return Err(fail(errno::EINVAL));
        }
        if percpu && spec.flags & BPF_F_NUMA_NODE != 0 {
            return Err(fail(errno::EINVAL));
        }
        if spec.value_size > i32::MAX as u32 || (percpu && spec.value_size > PCPU_MIN_UNIT_SIZE) {
            return Err(fail(errno::E2BIG));
        }
        let ncpus = if percpu { ncpus } else { 1 };
        let stride = u64::from(spec.value_size).div_ceil(8) * 8;
        if stride * u64::from(spec.max_entries) * ncpus as u64 > MAX_MAP_BYTES {
            return Err(fail(errno::ENOMEM));
        }
        Ok(ArrayMap {
            max_entries: spec.max_entries as usize,
            percpu,
            ncpus,
            value_size: spec.value_size as usize,
            values: ValueStore::contiguous(
                spec.max_entries as usize * ncpus,
                spec.value_size as usize,
            ),
        })
    }

    fn slot(&self, i: usize, cpu: usize) -> usize {
        i * self.ncpus + cpu
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let i = index(key);
        if i >= self.max_entries {
            return None;
        }
        if !self.percpu {
            let mut out = vec![0u8; self.value_size];
            self.values.read(self.slot(i, 0), &mut out);
            return Some(out);
        }
        let stride = self.values.stride();
        let mut out = vec![0u8; stride * self.ncpus];
        for cpu in 0..self.ncpus {
            let at = cpu * stride;
            self.values
                .read(self.slot(i, cpu), &mut out[at..at + stride]);
        }
        Some(out)
    }

    pub(super) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Errno> {
        let i = self.check_write(key, flags)?;
        if !self.percpu {
            self.values.write(self.slot(i, 0), value);
        } else {
            let stride = self.values.stride();
            for cpu in 0..self.ncpus {
                let at = cpu * stride;
                self.values
                    .write(self.slot(i, cpu), &value[at..at + stride]);
            }
        }
        Ok(())
    }

    fn check_write(&self, key: &[u8], flags: u64) -> Result<usize, Errno> {
        check_update_flags(flags)?;
        let i = index(key);
        if i >= self.max_entries {
            return Err(errno::E2BIG);
        }
        if flags == BPF_NOEXIST {
            return Err(errno::EEXIST);
        }
        Ok(i)
    }

    pub(super) fn prog_update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: usize,
    ) -> Result<(), Errno> {
        let i = self.check_write(key, flags)?;
        self.values.write(self.slot(i, cpu), value);
        Ok(())
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let next = match key.map(index) {
            Some(i) if i < self.max_entries => i + 1,
            _ => 0,
        };
        (next < self.max_entries).then(|| (next as u32).to_ne_bytes().to_vec())
    }

    /// Where the elements are, for code that computes `base + index *
    /// stride` itself (an inlined lookup); per-CPU arrays have none.
    pub(super) fn layout(&self) -> Option<ArrayLayout> {
        (!self.percpu).then(|| ArrayLayout {
            base: self.values.ptr(0),
            stride: self.values.stride(),
            value_size: self.value_size,
            max_entries: self.max_entries as u32,
        })
    }

    pub(super) fn lookup_ptr(&self, key: &[u8], cpu: usize) -> Option<ValuePtr> {
        let i = index(key);
        (i < self.max_entries).then(|| ValuePtr {
            ptr: self.values.ptr(self.slot(i, cpu)),
            len: self.value_size,
        })
    }
}
