//! Maps in the kernel: `BPF_MAP_CREATE` and the element operations, on an
//! owned file descriptor.
//!
//! Keys and values are byte slices of exactly the map's sizes: the kernel
//! reads and writes that many bytes behind the pointers it is given, so
//! every operation checks the lengths before the call and returns
//! [`MapError::Size`] instead. Per-CPU maps (`percpu_hash`,
//! `percpu_array`, `lru_percpu_hash`, `percpu_cgroup_storage`) exchange
//! one value per possible CPU, each padded to 8 bytes, in one buffer
//! ([`KernelMap::value_buf_size`]); [`KernelMap::lookup_percpu`] and
//! [`KernelMap::update_percpu`] split and join it.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::OnceLock;

use ebee_object::MapType;

use crate::error::errno_name;
use crate::sys::{self, MapCreateAttr, OBJ_NAME_LEN};

/// `BPF_ANY`: create the element or replace it.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create the element; `EEXIST` if it exists.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: replace the element; `ENOENT` if it does not exist.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: take the value's `bpf_spin_lock` during the operation.
pub const BPF_F_LOCK: u64 = 4;
/// `BPF_F_NO_PREALLOC` map flag (required for `lpm_trie`).
pub const BPF_F_NO_PREALLOC: u32 = 1;

/// What a map is, as `BPF_MAP_CREATE` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes (0 for queue, stack, bloom filter, ringbuf).
    pub key_size: u32,
    /// Value size in bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Maximum number of entries (bytes for ringbuf).
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_NO_PREALLOC`, `BPF_F_RDONLY_PROG`, `BPF_F_MMAPABLE`...).
    pub flags: u32,
    /// The name the kernel shows (at most 15 bytes are kept; characters
    /// outside `[A-Za-z0-9_.]` become `_`).
    pub name: String,
    /// BTF object (fd) describing key and value, with their type ids.
    pub btf_fd: Option<i32>,
    /// BTF type id of the key (0: none).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (0: none).
    pub btf_value_type_id: u32,
    /// For map-in-map types: a map (fd) of the shape of the inner maps.
    pub inner_map_fd: Option<i32>,
    /// NUMA node (used with `BPF_F_NUMA_NODE` in `flags`).
    pub numa_node: u32,
    /// `map_extra` (bloom filter: number of hash functions).
    pub map_extra: u64,
}

impl MapSpec {
    /// A map of `map_type` with these sizes, no flags, name, BTF or inner map.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            name: String::new(),
            btf_fd: None,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            inner_map_fd: None,
            numa_node: 0,
            map_extra: 0,
        }
    }
}

/// A map operation failed.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The kernel returned an error.
    #[error("{op} on map {map:?}: {}", errno_name(*.errno))]
    Kernel {
        /// The operation (`BPF_MAP_CREATE`, `lookup`, `update`...).
        op: &'static str,
        /// The map's name.
        map: String,
        /// The error number (`ENOENT`, `EEXIST`, `E2BIG`...).
        errno: i32,
    },
    /// A key or value of the wrong size, caught before the call.
    #[error("{op} on map {map:?}: {what} is {got} bytes, the map's is {want}")]
    Size {
        /// The operation.
        op: &'static str,
        /// The map's name.
        map: String,
        /// `key` or `value`.
        what: &'static str,
        /// The size given.
        got: usize,
        /// The size the map has.
        want: usize,
    },
    /// Something outside bpf(2) failed (reading the possible CPUs).
    #[error("{0}")]
    Io(#[source] io::Error),
}

impl MapError {
    /// The kernel's error number, if the kernel returned one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            MapError::Kernel { errno, .. } => Some(*errno),
            MapError::Io(e) => e.raw_os_error(),
            MapError::Size { .. } => None,
        }
    }
}

/// Is `t` a map whose values are per CPU?
pub fn is_percpu(t: MapType) -> bool {
    matches!(
        t,
        MapType::PercpuHash
            | MapType::PercpuArray
            | MapType::LruPercpuHash
            | MapType::PercpuCgroupStorage
    )
}

/// Maps operated on without a key (push, pop, peek; bloom filter add and test).
fn is_keyless(t: MapType) -> bool {
    matches!(t, MapType::Queue | MapType::Stack | MapType::BloomFilter)
}

/// The number of possible CPUs (`/sys/devices/system/cpu/possible`, a
/// list like `0-3` or `0,2-5`): how many values a per-CPU map holds.
pub fn possible_cpus() -> io::Result<usize> {
    static CPUS: OnceLock<Result<usize, String>> = OnceLock::new();
    CPUS.get_or_init(|| {
        let text = std::fs::read_to_string("/sys/devices/system/cpu/possible")
            .map_err(|e| format!("reading /sys/devices/system/cpu/possible: {e}"))?;
        parse_cpu_list(&text)
    })
    .clone()
    .map_err(io::Error::other)
}

/// Counts the CPUs of a list like `0-3,5` (the highest index + 1, since the
/// kernel sizes per-CPU buffers by `num_possible_cpus` which is dense).
fn parse_cpu_list(text: &str) -> Result<usize, String> {
    let mut max = None;
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let last = part.rsplit('-').next().unwrap_or(part);
        let n: usize = last
            .trim()
            .parse()
            .map_err(|_| format!("bad CPU list {text:?}"))?;
        max = Some(max.map_or(n, |m: usize| m.max(n)));
    }
    max.map(|m| m + 1)
        .ok_or_else(|| format!("empty CPU list {text:?}"))
}

/// The key as the element commands take it: maps without keys (key size
/// 0: queue, stack, bloom filter) want a null pointer, not an empty key.
fn key_ptr(key: &[u8]) -> Option<&[u8]> {
    (!key.is_empty()).then_some(key)
}

/// The map name as the kernel takes it: `[A-Za-z0-9_.]`, at most 15 bytes.
fn kernel_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    for (o, b) in out.iter_mut().zip(name.bytes().take(OBJ_NAME_LEN - 1)) {
        *o = if b.is_ascii_alphanumeric() || b == b'_' || b == b'.' {
            b
        } else {
            b'_'
        };
    }
    out
}

/// A map as the kernel describes it ([`KernelMap::info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapInfo {
    /// The kernel's id of the map.
    pub id: u32,
    /// Its type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// The name as the kernel stored it.
    pub name: String,
    /// The id of its BTF object (0: none).
    pub btf_id: u32,
    /// BTF type id of the key (0: none).
    pub btf_key_type_id: u32,
    /// BTF type id of the value (0: none).
    pub btf_value_type_id: u32,
}

/// A map in the kernel, owned through its file descriptor.
#[derive(Debug)]
pub struct KernelMap {
    fd: OwnedFd,
    spec: MapSpec,
    value_buf_size: usize,
}

impl KernelMap {
    /// `BPF_MAP_CREATE` of `spec`.
    pub fn create(spec: &MapSpec) -> Result<KernelMap, MapError> {
        let value_buf_size = if is_percpu(spec.map_type) {
            (spec.value_size as usize).div_ceil(8) * 8 * possible_cpus().map_err(MapError::Io)?
        } else {
            spec.value_size as usize
        };
        let mut attr = MapCreateAttr {
            map_type: spec.map_type.number(),
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.flags,
            inner_map_fd: spec.inner_map_fd.map_or(0, |fd| fd as u32),
            numa_node: spec.numa_node,
            map_name: kernel_name(&spec.name),
            btf_fd: spec.btf_fd.map_or(0, |fd| fd as u32),
            btf_key_type_id: spec.btf_key_type_id,
            btf_value_type_id: spec.btf_value_type_id,
            map_extra: spec.map_extra,
            ..MapCreateAttr::default()
        };
        if spec.btf_fd.is_none() {
            attr.btf_key_type_id = 0;
            attr.btf_value_type_id = 0;
        }
        let fd = sys::map_create(&mut attr).map_err(|e| MapError::Kernel {
            op: "BPF_MAP_CREATE",
            map: spec.name.clone(),
            errno: e.raw_os_error().unwrap_or(0),
        })?;
        Ok(KernelMap {
            fd,
            spec: spec.clone(),
            value_buf_size,
        })
    }

    /// What the map was created from.
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// What the kernel says about the map (`BPF_OBJ_GET_INFO_BY_FD`): its
    /// id, the BTF object and key/value types it was created with, its
    /// name as the kernel stored it.
    pub fn info(&self) -> Result<MapInfo, MapError> {
        let raw = sys::map_info(self.fd()).map_err(|e| self.kernel_err("info", e))?;
        let name_len = raw
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(raw.name.len());
        Ok(MapInfo {
            id: raw.id,
            map_type: MapType::from_number(raw.map_type),
            key_size: raw.key_size,
            value_size: raw.value_size,
            max_entries: raw.max_entries,
            flags: raw.map_flags,
            name: String::from_utf8_lossy(&raw.name[..name_len]).into_owned(),
            btf_id: raw.btf_id,
            btf_key_type_id: raw.btf_key_type_id,
            btf_value_type_id: raw.btf_value_type_id,
        })
    }

    /// The map's file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Bytes of a value as user space exchanges it: the value size, or for
    /// per-CPU maps the value size rounded up to 8 times the possible CPUs.
    pub fn value_buf_size(&self) -> usize {
        self.value_buf_size
    }

    fn kernel_err(&self, op: &'static str, e: io::Error) -> MapError {
        match e.raw_os_error() {
            Some(errno) => MapError::Kernel {
                op,
                map: self.spec.name.clone(),
                errno,
            },
            None => MapError::Io(e),
        }
    }

    fn check(
        &self,
        op: &'static str,
        what: &'static str,
        got: usize,
        want: usize,
    ) -> Result<(), MapError> {
        if got == want {
            Ok(())
        } else {
            Err(MapError::Size {
                op,
                map: self.spec.name.clone(),
                what,
                got,
                want,
            })
        }
    }

    fn check_key(&self, op: &'static str, key: &[u8]) -> Result<(), MapError> {
        self.check(op, "key", key.len(), self.spec.key_size as usize)
    }

    /// The value stored under `key` (`None` when there is none: `ENOENT`).
    /// Per-CPU maps: all CPUs' values in one buffer ([`Self::lookup_percpu`]).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check_key("lookup", key)?;
        self.lookup_raw("lookup", key_ptr(key), 0, false)
    }

    /// [`Self::lookup`] with `flags` (`BPF_F_LOCK`).
    pub fn lookup_with_flags(&self, key: &[u8], flags: u64) -> Result<Option<Vec<u8>>, MapError> {
        self.check_key("lookup", key)?;
        self.lookup_raw("lookup", key_ptr(key), flags, false)
    }

    fn lookup_raw(
        &self,
        op: &'static str,
        key: Option<&[u8]>,
        flags: u64,
        and_delete: bool,
    ) -> Result<Option<Vec<u8>>, MapError> {
        let mut value = vec![0u8; self.value_buf_size];
        match sys::map_lookup(self.fd(), key, &mut value, flags, and_delete) {
            Ok(()) => Ok(Some(value)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.kernel_err(op, e)),
        }
    }

    /// A per-CPU map's values under `key`, one per possible CPU, each of
    /// the map's value size.
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, MapError> {
        let Some(buf) = self.lookup(key)? else {
            return Ok(None);
        };
        let stride = (self.spec.value_size as usize).div_ceil(8) * 8;
        if !is_percpu(self.spec.map_type) || stride == 0 {
            return Ok(Some(vec![buf]));
        }
        Ok(Some(
            buf.chunks(stride)
                .map(|c| c[..self.spec.value_size as usize].to_vec())
                .collect(),
        ))
    }

    /// Stores `value` under `key` with `flags` ([`BPF_ANY`],
    /// [`BPF_NOEXIST`], [`BPF_EXIST`], optionally `|` [`BPF_F_LOCK`]).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_key("update", key)?;
        self.check("update", "value", value.len(), self.value_buf_size)?;
        sys::map_update(self.fd(), key_ptr(key), value, flags)
            .map_err(|e| self.kernel_err("update", e))
    }

    /// Stores one value per possible CPU under `key` (each of the map's
    /// value size; [`possible_cpus`] of them).
    pub fn update_percpu(
        &self,
        key: &[u8],
        values: &[Vec<u8>],
        flags: u64,
    ) -> Result<(), MapError> {
        let size = self.spec.value_size as usize;
        let stride = size.div_ceil(8) * 8;
        let cpus = self.value_buf_size.checked_div(stride).unwrap_or(0);
        self.check("update", "number of per-CPU values", values.len(), cpus)?;
        let mut buf = vec![0u8; self.value_buf_size];
        for (i, v) in values.iter().enumerate() {
            self.check("update", "value", v.len(), size)?;
            buf[i * stride..i * stride + size].copy_from_slice(v);
        }
        self.update(key, &buf, flags)
    }

    /// Deletes the element under `key` (`ENOENT` if there is none; arrays
    /// refuse with `EINVAL`).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check_key("delete", key)?;
        sys::map_delete(self.fd(), key).map_err(|e| self.kernel_err("delete", e))
    }

    /// The key after `key`, or the first key for `None`; `None` at the end.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        if let Some(k) = key {
            self.check_key("next_key", k)?;
        }
        let mut next = vec![0u8; self.spec.key_size as usize];
        match sys::map_next_key(self.fd(), key, &mut next) {
            Ok(()) => Ok(Some(next)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
            Err(e) => Err(self.kernel_err("next_key", e)),
        }
    }

    /// The keys, in the kernel's order, through `BPF_MAP_GET_NEXT_KEY`.
    pub fn keys(&self) -> MapKeys<'_> {
        MapKeys {
            map: self,
            last: None,
            done: false,
        }
    }

    /// `BPF_MAP_FREEZE`: user space can no longer write (programs still can,
    /// unless the map is `BPF_F_RDONLY_PROG`).
    pub fn freeze(&self) -> Result<(), MapError> {
        sys::map_freeze(self.fd()).map_err(|e| self.kernel_err("freeze", e))
    }

    fn check_keyless(&self, op: &'static str) -> Result<(), MapError> {
        if is_keyless(self.spec.map_type) {
            Ok(())
        } else {
            Err(MapError::Kernel {
                op,
                map: self.spec.name.clone(),
                errno: libc::EINVAL,
            })
        }
    }

    /// Queue and stack: pushes `value` (`flags` `BPF_EXIST` overwrites the
    /// oldest element when full; otherwise a full map gives `E2BIG`).
    /// Bloom filter: adds `value`.
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_keyless("push")?;
        self.check("push", "value", value.len(), self.value_buf_size)?;
        sys::map_update(self.fd(), None, value, flags).map_err(|e| self.kernel_err("push", e))
    }

    /// Queue and stack: removes and returns the next element (`None` when empty).
    pub fn pop(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.check_keyless("pop")?;
        self.lookup_raw("pop", None, 0, true)
    }

    /// Queue and stack: the next element, left in place (`None` when empty).
    pub fn peek(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.check_keyless("peek")?;
        self.lookup_raw("peek", None, 0, false)
    }

    /// Bloom filter: may `value` have been added? (`false` is certain.)
    pub fn contains(&self, value: &[u8]) -> Result<bool, MapError> {
        self.check_keyless("contains")?;
        self.check("contains", "value", value.len(), self.value_buf_size)?;
        // The kernel reads the value to test from the value pointer.
        let mut probe = value.to_vec();
        match sys::map_lookup(self.fd(), None, &mut probe, 0, false) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(self.kernel_err("contains", e)),
        }
    }
}

impl AsFd for KernelMap {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for KernelMap {
    fn as_raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}

/// The keys of a map ([`KernelMap::keys`]). A kernel error ends the
/// iteration after yielding it.
#[derive(Debug)]
pub struct MapKeys<'m> {
    map: &'m KernelMap,
    last: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for MapKeys<'_> {
    type Item = Result<Vec<u8>, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.map.next_key(self.last.as_deref()) {
            Ok(Some(k)) => {
                self.last = Some(k.clone());
                Some(Ok(k))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// An `lpm_trie` key: the prefix length in bits (host order `u32`), then
/// the address bytes.
pub fn lpm_key(prefix_len: u32, data: &[u8]) -> Vec<u8> {
    let mut k = prefix_len.to_ne_bytes().to_vec();
    k.extend_from_slice(data);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0\n"), Ok(1));
        assert_eq!(parse_cpu_list("0-3\n"), Ok(4));
        assert_eq!(parse_cpu_list("0,2-5"), Ok(6));
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn names() {
        assert_eq!(&kernel_name("a-b.c")[..6], b"a_b.c\0");
        assert_eq!(kernel_name("a_very_long_map_name_indeed")[15], 0);
    }
}
