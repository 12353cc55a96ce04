//! `lpm_trie`: values under (prefix length, address) keys, looked up by
//! longest prefix match.
//!
//! A key is a host-order `u32` prefix length in bits followed by the
//! address bytes (`key_size - 4` of them, 1 to 256). Lookups return the
//! value of the longest stored prefix that covers the key's first
//! `prefixlen` bits; updates and deletes address one exact prefix.
//!
//! The kernel keeps a binary trie and iterates it in post-order (children
//! before their parent, the 0 branch before the 1 branch). We keep the
//! prefixes in a `BTreeMap` ordered by the prefix's bits followed by an
//! end mark that sorts after both bit values: that order *is* the trie's
//! post-order, so [`LpmTrie::next_key`] returns the kernel's sequence. The
//! address bytes past the prefix are kept as given (the kernel copies the
//! whole key into its node and returns it from `get_next_key`).
//!
//! Value slots are preallocated like the hash map's, with the same atomic
//! replace on update.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::array::KMALLOC_MAX_SIZE;
use super::storage::ValueStore;
use super::{
    errno, Errno, MapError, MapSpec, ValuePtr, ACCESS_FLAGS, BPF_EXIST, BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE, BPF_NOEXIST,
};

/// Smallest and largest address size in bytes.
const DATA_SIZE_MIN: u32 = 1;
const DATA_SIZE_MAX: u32 = 256;

/// The end mark after a prefix's bits (sorts after bits 0 and 1).
const END: u8 = 2;

#[derive(Debug)]
struct Entry {
    /// The key as stored (prefix length and all address bytes).
    key: Vec<u8>,
    slot: usize,
}

#[derive(Debug)]
struct Trie {
    /// Prefix bits + [`END`] → entry, in the kernel's post-order.
    prefixes: BTreeMap<Vec<u8>, Entry>,
    free: VecDeque<usize>,
}

/// A longest-prefix-match trie.
#[derive(Debug)]
pub(super) struct LpmTrie {
    max_entries: usize,
    max_prefixlen: u32,
    value_size: usize,
    values: ValueStore,
    trie: RwLock<Trie>,
}

fn prefixlen(key: &[u8]) -> u32 {
    u32::from_ne_bytes([key[0], key[1], key[2], key[3]])
}

/// The first `len` bits of the key's address (most significant bit of
/// each byte first, as the kernel compares), one per byte.
fn bits(key: &[u8], len: u32) -> Vec<u8> {
    let data = &key[4..];
    let mut out: Vec<u8> = (0..len as usize)
        .map(|i| (data[i / 8] >> (7 - i % 8)) & 1)
        .collect();
    out.push(END);
    out
}

impl LpmTrie {
    /// `trie_alloc`'s checks and the allocation.
    pub(super) fn new(spec: &MapSpec) -> Result<LpmTrie, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.max_entries == 0
            || spec.flags & BPF_F_NO_PREALLOC == 0
            || spec.flags & !(BPF_F_NO_PREALLOC | BPF_F_NUMA_NODE | ACCESS_FLAGS) != 0
            || spec.key_size < 4 + DATA_SIZE_MIN
            || spec.key_size > 4 + DATA_SIZE_MAX
            || spec.value_size < 1
            || spec.value_size > KMALLOC_MAX_SIZE - DATA_SIZE_MAX - 48
        {
            return Err(fail(errno::EINVAL));
        }
        let elements = spec.max_entries as usize + 1;
        if (u64::from(spec.value_size).div_ceil(8) * 8 + u64::from(spec.key_size)) * elements as u64
            > super::array::MAX_MAP_BYTES
        {
            return Err(fail(errno::ENOMEM));
        }
        Ok(LpmTrie {
            max_entries: spec.max_entries as usize,
            max_prefixlen: (spec.key_size - 4) * 8,
            value_size: spec.value_size as usize,
            values: ValueStore::new(elements, spec.value_size as usize),
            trie: RwLock::new(Trie {
                prefixes: BTreeMap::new(),
                free: (0..elements).collect(),
            }),
        })
    }

    fn read(&self) -> RwLockReadGuard<'_, Trie> {
        self.trie.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Trie> {
        self.trie.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The slot of the longest stored prefix covering `key`.
    fn longest_match(&self, trie: &Trie, key: &[u8]) -> Option<usize> {
        let len = prefixlen(key);
        if len > self.max_prefixlen {
            return None;
        }
        let mut probe = bits(key, len);
        for l in (0..=len as usize).rev() {
            probe.truncate(l);
            probe.push(END);
            if let Some(e) = trie.prefixes.get(&probe) {
                return Some(e.slot);
            }
        }
        None
    }

    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let trie = self.read();
        let slot = self.longest_match(&trie, key)?;
        let mut out = vec![0u8; self.value_size];
        self.values.read(slot, &mut out);
        Some(out)
    }

    pub(super) fn lookup_ptr(&self, key: &[u8]) -> Option<ValuePtr> {
        let trie = self.read();
        let slot = self.longest_match(&trie, key)?;
        Some(ValuePtr {
            ptr: self.values.ptr(slot),
            len: self.value_size,
        })
    }

    pub(super) fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), Errno> {
        if flags > BPF_EXIST {
            return Err(errno::EINVAL);
        }
        let len = prefixlen(key);
        if len > self.max_prefixlen {
            return Err(errno::EINVAL);
        }
        let path = bits(key, len);
        let mut trie = self.write();
        let old = trie.prefixes.get(&path).map(|e| e.slot);
        match old {
            Some(_) if flags == BPF_NOEXIST => return Err(errno::EEXIST),
            None if flags == BPF_EXIST => return Err(errno::ENOENT),
            None if trie.prefixes.len() >= self.max_entries => return Err(errno::ENOSPC),
            _ => {}
        }
        let slot = trie.free.pop_front().ok_or(errno::ENOSPC)?;
        self.values.write(slot, value);
        trie.prefixes.insert(
            path,
            Entry {
                key: key.to_vec(),
                slot,
            },
        );
        if let Some(o) = old {
            trie.free.push_back(o);
        }
        Ok(())
    }

    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        let len = prefixlen(key);
        if len > self.max_prefixlen {
            return Err(errno::EINVAL);
        }
        let mut trie = self.write();
        let e = trie.prefixes.remove(&bits(key, len)).ok_or(errno::ENOENT)?;
        trie.free.push_back(e.slot);
        Ok(())
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let trie = self.read();
        let first = || trie.prefixes.values().next().map(|e| e.key.clone());
        let Some(key) = key else {
            return first();
        };
        let len = prefixlen(key);
        if len > self.max_prefixlen {
            return first();
        }
        let path = bits(key, len);
        if !trie.prefixes.contains_key(&path) {
            return first();
        }
        trie.prefixes
            .range::<[u8], _>((Bound::Excluded(path.as_slice()), Bound::Unbounded))
            .next()
            .map(|(_, e)| e.key.clone())
    }
}
