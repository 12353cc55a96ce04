//! The maps a loaded object's programs may name, by the handle their
//! `lddw` holds.
//!
//! A program holds a map as a number (the address of the [`Map`], like the
//! kernel's `struct bpf_map *`). Helpers never dereference that number:
//! they look it up here and get the `Arc<Map>` or an error, so a forged
//! or stale handle in an unverified program is a failed call, not a wild
//! pointer.

use crate::map::Map;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Map handles of one loaded object (its maps, and inner maps programs
/// got from map-in-map lookups).
///
/// The object's own maps are a sorted list fixed at load (found without a
/// lock); maps registered later (inner maps) go to a locked hash map.
#[derive(Debug, Default)]
pub struct MapTable {
    fixed: Vec<(u64, Arc<Map>)>,
    by_handle: RwLock<HashMap<u64, Arc<Map>>>,
}

impl MapTable {
    /// An empty table.
    pub fn new() -> MapTable {
        MapTable::default()
    }

    /// A table holding `maps` (an object's maps) from the start.
    pub fn with_maps(maps: &[Arc<Map>]) -> MapTable {
        let mut fixed: Vec<(u64, Arc<Map>)> =
            maps.iter().map(|m| (handle_of(m), Arc::clone(m))).collect();
        fixed.sort_by_key(|(h, _)| *h);
        fixed.dedup_by_key(|(h, _)| *h);
        MapTable {
            fixed,
            by_handle: RwLock::new(HashMap::new()),
        }
    }

    fn fixed(&self, handle: u64) -> Option<&Arc<Map>> {
        self.fixed
            .binary_search_by_key(&handle, |(h, _)| *h)
            .ok()
            .map(|i| &self.fixed[i].1)
    }

    /// The handle of `map`, registering it (and keeping it alive as long
    /// as the table).
    pub fn insert(&self, map: &Arc<Map>) -> u64 {
        let handle = handle_of(map);
        if self.fixed(handle).is_some() {
            return handle;
        }
        let mut t = self.by_handle.write().unwrap_or_else(|e| e.into_inner());
        t.entry(handle).or_insert_with(|| Arc::clone(map));
        handle
    }

    /// The map with `handle` if it is one of the object's own maps (found
    /// without a lock or a reference-count change; inner maps registered
    /// later are only found by [`MapTable::get`]).
    pub fn get_fixed(&self, handle: u64) -> Option<&Arc<Map>> {
        self.fixed(handle)
    }

    /// The map with `handle`, if it is one of this table's.
    pub fn get(&self, handle: u64) -> Option<Arc<Map>> {
        if let Some(m) = self.fixed(handle) {
            return Some(Arc::clone(m));
        }
        let t = self.by_handle.read().unwrap_or_else(|e| e.into_inner());
        t.get(&handle).cloned()
    }

    /// Every registered map.
    pub fn all(&self) -> Vec<Arc<Map>> {
        let t = self.by_handle.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<Arc<Map>> = self.fixed.iter().map(|(_, m)| Arc::clone(m)).collect();
        all.extend(t.values().cloned());
        all
    }
}

/// The handle a program holds for `map`: its address.
pub fn handle_of(map: &Arc<Map>) -> u64 {
    Arc::as_ptr(map) as u64
}
