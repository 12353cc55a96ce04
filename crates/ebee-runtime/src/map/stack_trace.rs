//! `stack_trace`: call stacks stored by `bpf_get_stackid`, read by the
//! host by stack id, with the kernel's rules (`kernel/bpf/stackmap.c`):
//!
//! - creation: 4-byte keys, values a positive multiple of 8 bytes of at
//!   most 127 addresses (`sysctl_perf_event_max_stack`), no flags beyond
//!   `BPF_F_NUMA_NODE`, `BPF_F_RDONLY`, `BPF_F_WRONLY` and
//!   `BPF_F_STACK_BUILD_ID` (values of 32-byte `struct
//!   bpf_stack_build_id`; userspace keeps no build ids, so every entry
//!   has the kernel's fallback status `BPF_STACK_BUILD_ID_IP` and the
//!   address); `max_entries` rounded up to a power of two buckets;
//! - a stack's id is its hash modulo the buckets; a bucket holding another
//!   stack gives `-EEXIST` unless `BPF_F_REUSE_STACKID` replaces it;
//! - the host looks stacks up by id (`ENOENT` when empty, the value
//!   zero-padded past the stack), deletes them (`E2BIG` past the buckets)
//!   and iterates the occupied ids; updates are `EINVAL`.

use std::sync::RwLock;

use super::{errno, Errno, MapError, MapSpec, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY};

/// `sysctl_perf_event_max_stack`'s default.
pub const PERF_MAX_STACK_DEPTH: usize = 127;
/// `BPF_F_FAST_STACK_CMP`: equal hashes count as equal stacks.
pub const BPF_F_FAST_STACK_CMP: u64 = 1 << 9;
/// `BPF_F_REUSE_STACKID`: a new stack replaces another in its bucket.
pub const BPF_F_REUSE_STACKID: u64 = 1 << 10;
/// `BPF_F_STACK_BUILD_ID` (a creation flag).
const BPF_F_STACK_BUILD_ID: u32 = 1 << 5;

#[derive(Debug, Clone)]
struct Bucket {
    hash: u32,
    ips: Vec<u64>,
}

/// A `stack_trace` map's buckets.
#[derive(Debug)]
pub(super) struct StackTraceMap {
    buckets: RwLock<Vec<Option<Bucket>>>,
    value_size: usize,
    /// Bytes per entry: 8 (an address) or 32 (`struct bpf_stack_build_id`).
    entry: usize,
}

/// `sizeof(struct bpf_stack_build_id)`.
const BUILD_ID_ENTRY: usize = 32;
/// `BPF_STACK_BUILD_ID_IP`: the entry holds an address, not a build id.
const BUILD_ID_IP: i32 = 2;

/// FNV-1a over the addresses: the bucket hash (the kernel's `jhash2`
/// value would differ anyway, as the addresses do).
fn hash(ips: &[u64]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in ips.iter().flat_map(|ip| ip.to_ne_bytes()) {
        h ^= b as u32;
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl StackTraceMap {
    /// `stack_map_alloc`'s checks.
    pub(super) fn new(spec: &MapSpec) -> Result<StackTraceMap, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.flags & !(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_STACK_BUILD_ID) != 0
        {
            return Err(fail(errno::EINVAL));
        }
        let vs = spec.value_size as usize;
        if spec.max_entries == 0 || spec.key_size != 4 || vs < 8 || !vs.is_multiple_of(8) {
            return Err(fail(errno::EINVAL));
        }
        let entry = if spec.flags & BPF_F_STACK_BUILD_ID != 0 {
            BUILD_ID_ENTRY
        } else {
            8
        };
        if !vs.is_multiple_of(entry) || vs / entry > PERF_MAX_STACK_DEPTH {
            return Err(fail(errno::EINVAL));
        }
        let Some(n) = spec.max_entries.checked_next_power_of_two() else {
            return Err(fail(errno::E2BIG));
        };
        // The kernel preallocates one bucket per entry: a table it could
        // not allocate is ENOMEM there; refuse the same sizes it would
        // rather than reserving gigabytes.
        if (n as u64) * (vs as u64 + 16) > 1 << 32 {
            return Err(fail(errno::ENOMEM));
        }
        Ok(StackTraceMap {
            buckets: RwLock::new(vec![None; n as usize]),
            value_size: vs,
            entry,
        })
    }

    fn id(key: &[u8]) -> usize {
        u32::from_ne_bytes([key[0], key[1], key[2], key[3]]) as usize
    }

    /// The host's lookup: the stack under id `key`, zero-padded.
    pub(super) fn lookup(&self, key: &[u8]) -> Option<Vec<u8>> {
        let b = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        let bucket = b.get(Self::id(key))?.as_ref()?;
        let mut v = Vec::with_capacity(self.value_size);
        for ip in &bucket.ips {
            if self.entry == BUILD_ID_ENTRY {
                v.extend_from_slice(&BUILD_ID_IP.to_ne_bytes());
                v.extend_from_slice(&[0; 20]);
            }
            v.extend_from_slice(&ip.to_ne_bytes());
        }
        v.resize(self.value_size, 0);
        Some(v)
    }

    /// Deletes the stack under id `key`.
    pub(super) fn delete(&self, key: &[u8]) -> Result<(), Errno> {
        let mut b = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        let slot = b.get_mut(Self::id(key)).ok_or(errno::E2BIG)?;
        slot.take().map(|_| ()).ok_or(errno::ENOENT)
    }

    /// The occupied id after `key` (the first for `None`, an id past the
    /// buckets or an empty one).
    pub(super) fn next_key(&self, key: Option<&[u8]>) -> Option<Vec<u8>> {
        let b = self.buckets.read().unwrap_or_else(|e| e.into_inner());
        let start = match key.map(Self::id) {
            Some(id) if id < b.len() && b[id].is_some() => id + 1,
            _ => 0,
        };
        (start..b.len())
            .find(|&i| b[i].is_some())
            .map(|i| (i as u32).to_ne_bytes().to_vec())
    }

    /// The most addresses a value holds.
    pub(super) fn depth(&self) -> usize {
        self.value_size / self.entry
    }

    /// `bpf_get_stackid`'s store: the id of `ips` (at most
    /// [`StackTraceMap::depth`] addresses, at least one), or `EEXIST`.
    pub(super) fn store(&self, ips: &[u64], flags: u64) -> Result<u32, Errno> {
        let h = hash(ips);
        let mut b = self.buckets.write().unwrap_or_else(|e| e.into_inner());
        let id = h as usize & (b.len() - 1);
        if let Some(old) = &b[id] {
            if old.hash == h && (flags & BPF_F_FAST_STACK_CMP != 0 || old.ips == ips) {
                return Ok(id as u32);
            }
            if flags & BPF_F_REUSE_STACKID == 0 {
                return Err(errno::EEXIST);
            }
        }
        b[id] = Some(Bucket {
            hash: h,
            ips: ips.to_vec(),
        });
        Ok(id as u32)
    }
}
