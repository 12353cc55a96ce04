//! `queue` (FIFO) and `stack` (LIFO): keyless maps of at most
//! `max_entries` values, pushed and popped whole.
//!
//! Values are copied in and out under a mutex, so programs never hold a
//! pointer into them (the kernel's `bpf_map_pop_elem`/`peek_elem` copy
//! too). A push to a full map with `BPF_EXIST` drops the oldest value,
//! for the stack as for the queue, like the kernel.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use super::array::KMALLOC_MAX_SIZE;
use super::{
    errno, Errno, MapError, MapSpec, MapType, ACCESS_FLAGS, BPF_EXIST, BPF_F_NUMA_NODE, BPF_NOEXIST,
};

/// A queue or a stack.
#[derive(Debug)]
pub(super) struct QueueStack {
    lifo: bool,
    max_entries: usize,
    /// Oldest value at the front.
    values: Mutex<VecDeque<Vec<u8>>>,
}

impl QueueStack {
    /// `queue_stack_map_alloc_check` and the allocation.
    pub(super) fn new(spec: &MapSpec) -> Result<QueueStack, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.max_entries == 0
            || spec.key_size != 0
            || spec.value_size == 0
            || spec.flags & !(BPF_F_NUMA_NODE | ACCESS_FLAGS) != 0
        {
            return Err(fail(errno::EINVAL));
        }
        if spec.value_size > KMALLOC_MAX_SIZE {
            return Err(fail(errno::E2BIG));
        }
        Ok(QueueStack {
            lifo: spec.map_type == MapType::Stack,
            max_entries: spec.max_entries as usize,
            values: Mutex::new(VecDeque::new()),
        })
    }

    fn values(&self) -> MutexGuard<'_, VecDeque<Vec<u8>>> {
        self.values.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pushes `value`; `BPF_EXIST` overwrites the oldest when full.
    pub(super) fn push(&self, value: &[u8], flags: u64) -> Result<(), Errno> {
        if flags & BPF_NOEXIST != 0 || flags > BPF_EXIST {
            return Err(errno::EINVAL);
        }
        let mut values = self.values();
        if values.len() >= self.max_entries {
            if flags != BPF_EXIST {
                return Err(errno::E2BIG);
            }
            values.pop_front();
        }
        values.push_back(value.to_vec());
        Ok(())
    }

    /// Removes and returns the next value.
    pub(super) fn pop(&self) -> Option<Vec<u8>> {
        let mut values = self.values();
        if self.lifo {
            values.pop_back()
        } else {
            values.pop_front()
        }
    }

    /// The next value, left in place.
    pub(super) fn peek(&self) -> Option<Vec<u8>> {
        let values = self.values();
        if self.lifo {
            values.back().cloned()
        } else {
            values.front().cloned()
        }
    }
}
