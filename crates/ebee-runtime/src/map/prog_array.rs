//! `prog_array` (and the array side of `array_of_maps`): an array whose
//! elements are handles to runtime objects (programs, maps) instead of
//! bytes.
//!
//! In the kernel these values are file descriptors going in and ids coming
//! out; the runtime has neither, so the host stores and reads handles
//! (`Arc`s) through [`super::Map::set_program`]/[`super::Map::program`]
//! and [`super::Map::set_inner_map`]/[`super::Map::inner_map`]. A tail
//! call or a map lookup clones the `Arc`, so the object stays alive for
//! that run even if the host replaces the element meanwhile.

use std::sync::{Arc, RwLock};

use super::{errno, Errno, BPF_ANY};

/// `max_entries` optional handles.
#[derive(Debug)]
pub(super) struct HandleArray<T> {
    slots: RwLock<Vec<Option<Arc<T>>>>,
}

fn index(key: &[u8]) -> usize {
    u32::from_ne_bytes([key[0], key[1], key[2], key[3]]) as usize
}

impl<T> HandleArray<T> {
    pub(super) fn new(max_entries: u32) -> HandleArray<T> {
        HandleArray {
            slots: RwLock::new((0..max_entries).map(|_| None).collect()),
        }
    }

    /// The handle at `key`'s index.
    pub(super) fn get(&self, key: &[u8]) -> Option<Arc<T>> {
        let slots = self.slots.read().unwrap_or_else(|e| e.into_inner());
        slots.get(index(key)).cloned().flatten()
    }

    /// Stores `value` at `key`'s index (`fd_array_map_update_elem`: only
    /// `BPF_ANY`, `E2BIG` out of range, then `check` on the value).
    pub(super) fn set(
        &self,
        key: &[u8],
        value: Arc<T>,
        flags: u64,
        check: impl FnOnce(&T) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        if flags != BPF_ANY {
            return Err(errno::EINVAL);
        }
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get_mut(index(key)).ok_or(errno::E2BIG)?;
        check(&value)?;
        *slot = Some(value);
        Ok(())
    }

    /// Empties `key`'s index (`E2BIG` out of range, `ENOENT` if empty).
    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        let mut slots = self.slots.write().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get_mut(index(key)).ok_or(errno::E2BIG)?;
        slot.take().map(|_| ()).ok_or(errno::ENOENT)
    }

    /// The array's `get_next_key`: index + 1, from 0 for none or out of range.
    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let len = self.slots.read().unwrap_or_else(|e| e.into_inner()).len();
        let next = match key.map(index) {
            Some(i) if i < len => i + 1,
            _ => 0,
        };
        (next < len).then(|| (next as u32).to_ne_bytes().to_vec())
    }
}
