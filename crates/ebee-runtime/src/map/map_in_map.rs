//! `array_of_maps` and `hash_of_maps`: maps whose values are other maps.
//!
//! Created with a template of the inner maps ([`MapSpec::inner`], the
//! kernel's `inner_map_fd`); every map stored must have the template's
//! type, sizes and flags, and for an `array` template its `max_entries`
//! unless the template has `BPF_F_INNER_MAP` (the kernel inlines array
//! lookups with the bound), else `EINVAL`, as the kernel's
//! `map_meta_equal`. Values are handles (`Arc<Map>`): a program's
//! lookup clones the handle, so the inner map outlives the run even if the
//! host removes it meanwhile (the kernel defers the free past an RCU grace
//! period for the same reason). The array side is
//! [`super::prog_array::HandleArray`].

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::{errno, Errno, Map, MapSpec, MapType, BPF_EXIST, BPF_F_INNER_MAP, BPF_NOEXIST};

/// The checks on an inner map template: it must be a map that could be
/// created (the kernel takes an existing map's fd), and not a map-in-map
/// (`EINVAL`) or a program array (`ENOTSUPP`), as `bpf_map_meta_alloc`.
pub(super) fn check_template(inner: Option<&MapSpec>) -> Result<(), Errno> {
    let inner = inner.ok_or(errno::EINVAL)?;
    match inner.map_type {
        MapType::ArrayOfMaps | MapType::HashOfMaps => return Err(errno::EINVAL),
        MapType::ProgArray => return Err(errno::ENOTSUPP),
        _ => {}
    }
    // Values are allocated on first use: creating the template is cheap.
    Map::create_with_cpus(inner, 1).map_err(|e| e.errno().unwrap_or(errno::EINVAL))?;
    Ok(())
}

/// Does `map` fit the template `inner`?
pub(super) fn fits(inner: &MapSpec, map: &Map) -> Result<(), Errno> {
    let s = map.spec();
    let same = s.map_type == inner.map_type
        && s.key_size == inner.key_size
        && s.value_size == inner.value_size
        && s.flags == inner.flags
        && (inner.map_type != MapType::Array
            || inner.flags & BPF_F_INNER_MAP != 0
            || s.max_entries == inner.max_entries);
    if same {
        Ok(())
    } else {
        Err(errno::EINVAL)
    }
}

/// A hash of maps.
#[derive(Debug)]
pub(super) struct HashOfMaps {
    max_entries: usize,
    maps: RwLock<BTreeMap<Vec<u8>, Arc<Map>>>,
}

impl HashOfMaps {
    pub(super) fn new(max_entries: u32) -> HashOfMaps {
        HashOfMaps {
            max_entries: max_entries as usize,
            maps: RwLock::new(BTreeMap::new()),
        }
    }

    pub(super) fn get(&self, key: &[u8]) -> Option<Arc<Map>> {
        let maps = self.maps.read().unwrap_or_else(|e| e.into_inner());
        maps.get(key).cloned()
    }

    /// Stores `map` under `key` with the hash map's flag rules.
    pub(super) fn set(&self, key: &[u8], map: Arc<Map>, flags: u64) -> Result<(), Errno> {
        super::check_update_flags(flags)?;
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        let exists = maps.contains_key(key);
        match (exists, flags) {
            (true, BPF_NOEXIST) => return Err(errno::EEXIST),
            (false, BPF_EXIST) => return Err(errno::ENOENT),
            (false, _) if maps.len() >= self.max_entries => return Err(errno::E2BIG),
            _ => {}
        }
        maps.insert(key.to_vec(), map);
        Ok(())
    }

    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        let mut maps = self.maps.write().unwrap_or_else(|e| e.into_inner());
        maps.remove(key).map(|_| ()).ok_or(errno::ENOENT)
    }

    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let maps = self.maps.read().unwrap_or_else(|e| e.into_inner());
        match key {
            Some(k) if maps.contains_key(k) => maps
                .range::<[u8], _>((Bound::Excluded(k), Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone()),
            _ => maps.keys().next().cloned(),
        }
    }
}
