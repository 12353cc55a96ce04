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
#[derive(Debug, Default)]
pub struct MapTable {
    by_handle: RwLock<HashMap<u64, Arc<Map>>>,
}

impl MapTable {
    /// An empty table.
    pub fn new() -> MapTable {
        MapTable::default()
    }

    /// The handle of `map`, registering it (and keeping it alive as long
    /// as the table).
    pub fn insert(&self, map: &Arc<Map>) -> u64 {
        let handle = handle_of(map);
        let mut t = self.by_handle.write().unwrap_or_else(|e| e.into_inner());
        t.entry(handle).or_insert_with(|| Arc::clone(map));
        handle
    }

    /// The map with `handle`, if it is one of this table's.
    pub fn get(&self, handle: u64) -> Option<Arc<Map>> {
        let t = self.by_handle.read().unwrap_or_else(|e| e.into_inner());
        t.get(&handle).cloned()
    }

    /// Every registered map.
    pub fn all(&self) -> Vec<Arc<Map>> {
        let t = self.by_handle.read().unwrap_or_else(|e| e.into_inner());
        t.values().cloned().collect()
    }
}

/// The handle a program holds for `map`: its address.
pub fn handle_of(map: &Arc<Map>) -> u64 {
    Arc::as_ptr(map) as u64
}
