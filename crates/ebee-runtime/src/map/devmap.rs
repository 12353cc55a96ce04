//! `devmap` and `devmap_hash`: the devices `bpf_redirect_map` sends XDP
//! frames to, host-side contents only.
//!
//! A value is `struct bpf_devmap_val`: `u32 ifindex`, optionally followed
//! by `u32` program fd (value size 4 or 8). The host writes the ifindex of
//! an interface of this machine (checked like the kernel's
//! `dev_get_by_index`: `EINVAL` if there is none); a program fd is taken
//! as is (the runtime attaches no program to a device). An ifindex of 0 in
//! a `devmap` empties the slot, as in the kernel. [`DevTarget`] is what a
//! redirect finds ([`super::Map::redirect_target`]).

use std::sync::RwLock;

use super::hash::HashMap;
use super::{
    errno, Errno, MapError, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_F_NUMA_NODE, BPF_F_RDONLY,
    BPF_F_WRONLY, BPF_NOEXIST,
};

/// What a `devmap`, `devmap_hash`, `cpumap` or `xskmap` slot sends frames
/// to (for `bpf_redirect_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectTarget {
    /// A network device (devmap, devmap_hash).
    Device(DevTarget),
    /// A CPU (cpumap): the CPU and its queue size.
    Cpu {
        /// The CPU (the map's key).
        cpu: u32,
        /// `bpf_cpumap_val.qsize`.
        qsize: u32,
    },
    /// An AF_XDP socket (xskmap): the host's socket handle.
    Socket(u32),
}

/// A devmap value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevTarget {
    /// The interface index.
    pub ifindex: u32,
    /// The program fd of an 8-byte value (0 for none).
    pub prog_fd: u32,
}

/// Does this machine have an interface with index `ifindex`?
pub(super) fn ifindex_exists(ifindex: u32) -> bool {
    let mut name = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: `name` has the IF_NAMESIZE bytes if_indextoname writes at most.
    !unsafe { libc::if_indextoname(ifindex, name.as_mut_ptr()) }.is_null()
}

/// `max_entries` optional byte values, with the kernel's array-of-targets
/// rules (shared by devmap, cpumap, xskmap).
#[derive(Debug)]
pub(super) struct Slots {
    slots: RwLock<Vec<Option<Vec<u8>>>>,
}

pub(super) fn index(key: &[u8]) -> usize {
    u32::from_ne_bytes([key[0], key[1], key[2], key[3]]) as usize
}

impl Slots {
    pub(super) fn new(max_entries: u32) -> Slots {
        Slots {
            slots: RwLock::new(vec![None; max_entries as usize]),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.slots.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let s = self.slots.read().unwrap_or_else(|e| e.into_inner());
        s.get(index(key)).cloned().flatten()
    }

    /// Stores (`Some`) or empties (`None`) the slot; `E2BIG` out of range.
    pub(super) fn put(&self, key: &[u8], value: Option<Vec<u8>>) -> Result<(), Errno> {
        let mut s = self.slots.write().unwrap_or_else(|e| e.into_inner());
        *s.get_mut(index(key)).ok_or(errno::E2BIG)? = value;
        Ok(())
    }

    /// Empties the slot (a delete: `EINVAL` out of range, 0 if empty).
    pub(super) fn clear(&self, key: &[u8]) -> Result<(), Errno> {
        self.put(key, None).map_err(|_| errno::EINVAL)
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let len = self.len();
        let next = match key.map(index) {
            Some(i) if i < len => i + 1,
            _ => 0,
        };
        (next < len).then(|| (next as u32).to_ne_bytes().to_vec())
    }
}

/// A `devmap` or `devmap_hash`.
#[derive(Debug)]
pub(super) enum DevMap {
    /// `devmap`: slots by index.
    Array(Slots),
    /// `devmap_hash`: keys hashed, the hash map's rules.
    Hash(Box<HashMap>),
}

impl DevMap {
    /// `dev_map_alloc_check`.
    pub(super) fn new(spec: &MapSpec) -> Result<DevMap, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        let flags_ok = BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY;
        if spec.max_entries == 0
            || spec.key_size != 4
            || (spec.value_size != 4 && spec.value_size != 8)
            || spec.flags & !flags_ok != 0
        {
            return Err(fail(errno::EINVAL));
        }
        if spec.map_type == MapType::DevmapHash {
            if spec.max_entries > 1 << 31 {
                return Err(fail(errno::EINVAL));
            }
            let mut h = MapSpec::new(MapType::Hash, 4, spec.value_size, spec.max_entries);
            h.flags = spec.flags & BPF_F_NUMA_NODE;
            h.numa_node = spec.numa_node;
            return Ok(DevMap::Hash(Box::new(HashMap::new(&h, 1)?)));
        }
        Ok(DevMap::Array(Slots::new(spec.max_entries)))
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self {
            DevMap::Array(s) => s.get(key),
            DevMap::Hash(h) => h.lookup(key),
        }
    }

    /// `dev_map_update_elem` / `dev_map_hash_update_elem`.
    pub(super) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Errno> {
        if flags > BPF_EXIST {
            return Err(errno::EINVAL);
        }
        let ifindex = u32::from_ne_bytes([value[0], value[1], value[2], value[3]]);
        match self {
            DevMap::Array(s) => {
                if index(key) >= s.len() {
                    return Err(errno::E2BIG);
                }
                if flags == BPF_NOEXIST {
                    return Err(errno::EEXIST);
                }
                if ifindex == 0 {
                    return s.put(key, None);
                }
                if !ifindex_exists(ifindex) {
                    return Err(errno::EINVAL);
                }
                s.put(key, Some(value.to_vec()))
            }
            DevMap::Hash(h) => {
                // `__dev_map_hash_update_elem`: EEXIST, then the device,
                // then insert or replace; BPF_EXIST is not checked.
                if flags == BPF_NOEXIST && h.lookup(key).is_some() {
                    return Err(errno::EEXIST);
                }
                if !ifindex_exists(ifindex) {
                    return Err(errno::EINVAL);
                }
                h.update(key, value, BPF_ANY, None)
            }
        }
    }

    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        match self {
            DevMap::Array(s) => s.clear(key),
            DevMap::Hash(h) => h.delete(key),
        }
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        match self {
            DevMap::Array(s) => s.next_key(key),
            DevMap::Hash(h) => h.next_key(key),
        }
    }

    pub(super) fn target(&self, key: &[u8]) -> Option<DevTarget> {
        let v = self.lookup(key)?;
        let word = |at: usize| {
            v.get(at..at + 4)
                .map_or(0, |b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(DevTarget {
            ifindex: word(0),
            prog_fd: word(4),
        })
    }
}
