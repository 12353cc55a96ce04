//! `hash`, `percpu_hash`, `lru_hash` and `lru_percpu_hash`: values under
//! arbitrary fixed-size keys.
//!
//! Element slots are preallocated (`max_entries` + 1: the spare lets an
//! update of an existing key write the new value aside and swap it in, so
//! readers see the old or the new value whole). The key index is a hash
//! table ([`KeyIndex`], seeded per map unless `BPF_F_ZERO_SEED`, as the
//! kernel seeds its jhash) under a `RwLock`: lookups (host and program)
//! share it, writers take it alone. Iteration is in element slot order, a
//! scan of the slots like the kernel's scan of its buckets; both only
//! promise every key once when nothing changes, and the first key for a
//! key not in the map.
//!
//! Per-CPU values are written in place (the kernel does the same for
//! per-CPU elements): each CPU's slot belongs to that CPU's programs.

use std::collections::hash_map::RandomState;
use std::collections::VecDeque;
use std::hash::BuildHasher;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::array::{KMALLOC_MAX_SIZE, MAX_MAP_BYTES, PCPU_MIN_UNIT_SIZE};
use super::hash_keys::KeyIndex;
use super::lru::LruClock;
use super::storage::ValueStore;
use super::{
    check_update_flags, errno, is_percpu, Errno, MapError, MapSpec, MapType, ValuePtr,
    ACCESS_FLAGS, BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC, BPF_F_NUMA_NODE,
    BPF_F_ZERO_SEED, BPF_NOEXIST,
};

#[derive(Debug)]
struct Index {
    /// Key → element number.
    keys: KeyIndex,
    /// Element number → its key (for LRU eviction).
    key_of: Vec<Option<Vec<u8>>>,
    /// Free element numbers, reused oldest-freed first.
    free: VecDeque<usize>,
}

/// A hash map of one of the four hash types.
#[derive(Debug)]
pub(super) struct HashMap {
    max_entries: usize,
    value_size: usize,
    /// Values per element (the CPU count for per-CPU maps, else 1).
    ncpus: usize,
    percpu: bool,
    values: ValueStore,
    index: RwLock<Index>,
    lru: Option<LruClock>,
}

impl HashMap {
    /// `htab_map_alloc_check` and the allocation.
    pub(super) fn new(spec: &MapSpec, ncpus: usize) -> Result<HashMap, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        let lru = matches!(spec.map_type, MapType::LruHash | MapType::LruPercpuHash);
        let percpu = is_percpu(spec.map_type);
        let allowed = BPF_F_NO_PREALLOC
            | BPF_F_NO_COMMON_LRU
            | BPF_F_NUMA_NODE
            | ACCESS_FLAGS
            | BPF_F_ZERO_SEED;
        if spec.flags & !allowed != 0 || (!lru && spec.flags & BPF_F_NO_COMMON_LRU != 0) {
            return Err(fail(errno::EINVAL));
        }
        if lru && spec.flags & BPF_F_NO_PREALLOC != 0 {
            return Err(fail(errno::ENOTSUPP));
        }
        if spec.flags & BPF_F_NUMA_NODE != 0 && (percpu || spec.flags & BPF_F_NO_COMMON_LRU != 0) {
            return Err(fail(errno::EINVAL));
        }
        if spec.max_entries == 0 || spec.key_size == 0 || spec.value_size == 0 {
            return Err(fail(errno::EINVAL));
        }
        if u64::from(spec.key_size) + u64::from(spec.value_size) >= u64::from(KMALLOC_MAX_SIZE) - 48
            || (percpu && spec.value_size.div_ceil(8) * 8 > PCPU_MIN_UNIT_SIZE)
        {
            return Err(fail(errno::E2BIG));
        }
        let ncpus = if percpu { ncpus } else { 1 };
        let elements = spec.max_entries as usize + 1;
        let stride = u64::from(spec.value_size).div_ceil(8) * 8;
        if (stride + u64::from(spec.key_size)) * elements as u64 * ncpus as u64 > MAX_MAP_BYTES {
            return Err(fail(errno::ENOMEM));
        }
        Ok(HashMap {
            max_entries: spec.max_entries as usize,
            value_size: spec.value_size as usize,
            ncpus,
            percpu,
            values: ValueStore::new(elements * ncpus, spec.value_size as usize),
            index: RwLock::new(Index {
                keys: KeyIndex::new(
                    spec.key_size as usize,
                    if spec.flags & BPF_F_ZERO_SEED != 0 {
                        0
                    } else {
                        RandomState::new().hash_one(0x6b65_7973u64)
                    },
                ),
                key_of: vec![None; elements],
                free: (0..elements).collect(),
            }),
            lru: lru.then(|| LruClock::new(elements)),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(&self, element: usize, cpu: usize) -> usize {
        element * self.ncpus + cpu
    }

    /// The host's copy of element `e`'s value (all CPUs for per-CPU maps).
    fn copy_out(&self, e: usize) -> Vec<u8> {
        if !self.percpu {
            let mut out = vec![0u8; self.value_size];
            self.values.read(self.slot(e, 0), &mut out);
            return out;
        }
        let stride = self.values.stride();
        let mut out = vec![0u8; stride * self.ncpus];
        for cpu in 0..self.ncpus {
            let at = cpu * stride;
            self.values
                .read(self.slot(e, cpu), &mut out[at..at + stride]);
        }
        out
    }

    /// Writes `value` into element `e`: the host's all-CPU buffer, or with
    /// `cpu` one CPU's value (`fresh`: a new element, the others zeroed).
    fn copy_in(&self, e: usize, value: &[u8], cpu: Option<usize>, fresh: bool) {
        match cpu {
            Some(cpu) => {
                if fresh {
                    for c in 0..self.ncpus {
                        self.values.zero(self.slot(e, c));
                    }
                }
                self.values.write(self.slot(e, cpu), value);
            }
            None if !self.percpu => self.values.write(self.slot(e, 0), value),
            None => {
                let stride = self.values.stride();
                for c in 0..self.ncpus {
                    let at = c * stride;
                    self.values.write(self.slot(e, c), &value[at..at + stride]);
                }
            }
        }
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let index = self.read();
        index.keys.get(key).map(|e| self.copy_out(e))
    }

    pub(super) fn lookup_ptr(&self, key: &[u8], cpu: usize) -> Option<ValuePtr> {
        let index = self.read();
        let e = index.keys.get(key)?;
        if let Some(lru) = &self.lru {
            lru.touch(e);
        }
        Some(ValuePtr {
            ptr: self.values.ptr(self.slot(e, cpu)),
            len: self.value_size,
        })
    }

    /// An update from the host (`cpu` = `None`, `value` holds every CPU's
    /// value for per-CPU maps) or from a program on CPU `cpu`.
    pub(super) fn update(
        &self,
        key: &[u8],
        value: &[u8],
        flags: u64,
        cpu: Option<usize>,
    ) -> Result<(), Errno> {
        check_update_flags(flags)?;
        let mut index = self.write();
        let old = index.keys.get(key);
        match (old, flags) {
            (Some(_), BPF_NOEXIST) => return Err(errno::EEXIST),
            (None, BPF_EXIST) => return Err(errno::ENOENT),
            _ => {}
        }
        if let (Some(e), true) = (old, self.percpu) {
            self.copy_in(e, value, cpu, false);
            if let Some(lru) = &self.lru {
                lru.touch(e);
            }
            return Ok(());
        }
        if old.is_none() && index.keys.len() >= self.max_entries {
            let Some(lru) = &self.lru else {
                return Err(errno::E2BIG);
            };
            let victim = lru.evict().ok_or(errno::E2BIG)?;
            let k = index.key_of[victim].take().ok_or(errno::E2BIG)?;
            index.keys.remove(&k);
            index.free.push_back(victim);
        }
        let e = index.free.pop_front().ok_or(errno::E2BIG)?;
        self.copy_in(e, value, cpu, true);
        index.keys.insert(key, e);
        index.key_of[e] = Some(key.to_vec());
        if let Some(lru) = &self.lru {
            lru.inserted(e);
        }
        if let Some(o) = old {
            index.key_of[o] = None;
            index.free.push_back(o);
            if let Some(lru) = &self.lru {
                lru.removed(o);
            }
        }
        Ok(())
    }

    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        let mut index = self.write();
        let e = index.keys.remove(key).ok_or(errno::ENOENT)?;
        index.key_of[e] = None;
        index.free.push_back(e);
        if let Some(lru) = &self.lru {
            lru.removed(e);
        }
        Ok(())
    }

    pub(super) fn lookup_and_delete(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut index = self.write();
        let e = index.keys.remove(key)?;
        let value = self.copy_out(e);
        index.key_of[e] = None;
        index.free.push_back(e);
        if let Some(lru) = &self.lru {
            lru.removed(e);
        }
        Some(value)
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let index = self.read();
        let from = key.and_then(|k| index.keys.get(k)).map_or(0, |e| e + 1);
        index.key_of.get(from..)?.iter().flatten().next().cloned()
    }
}
