//! Maps in the userspace runtime, with the kernel's semantics.
//!
//! A [`Map`] is created from a [`MapSpec`] (the fields of `BPF_MAP_CREATE`)
//! and checked the way the kernel checks it: a spec the kernel refuses is
//! refused here with the same error number ([`MapError::errno`]). The
//! element operations follow the kernel's map types, errno for errno:
//! `BPF_NOEXIST`/`BPF_EXIST` give `EEXIST`/`ENOENT`, a full hash map
//! `E2BIG`, an array refuses deletes with `EINVAL`, and so on. The tests
//! run the same random operations on a kernel map and on ours and compare
//! every result.
//!
//! ```
//! use ebee_runtime::map::{errno, Map, MapSpec, MapType, BPF_NOEXIST};
//!
//! let counts = Map::create(&MapSpec::new(MapType::Hash, 4, 8, 1024)).unwrap();
//! let key = 7u32.to_ne_bytes();
//! counts.update(&key, &1u64.to_ne_bytes(), BPF_NOEXIST).unwrap();
//! let e = counts.update(&key, &2u64.to_ne_bytes(), BPF_NOEXIST).unwrap_err();
//! assert_eq!(e.errno(), Some(errno::EEXIST));
//! // What `bpf_map_lookup_elem` gives a program: the value in place.
//! let v = counts.lookup_ptr(&key).unwrap();
//! assert_eq!(v.len, 8);
//! // Arrays refuse deletes like the kernel.
//! let arr = Map::create(&MapSpec::new(MapType::Array, 4, 8, 4)).unwrap();
//! assert_eq!(arr.delete(&key).unwrap_err().errno(), Some(errno::EINVAL));
//! ```
//!
//! # Two sides
//!
//! - **Host** (the embedder, like user space with bpf(2)): [`Map::lookup`],
//!   [`Map::update`], [`Map::delete`], [`Map::next_key`], [`Map::keys`],
//!   [`Map::lookup_and_delete`], [`Map::push`]/[`Map::pop`]/[`Map::peek`],
//!   [`Map::contains`] (bloom filter), [`Map::freeze`]. Values are
//!   copies; per-CPU maps exchange one buffer holding every CPU's value,
//!   each padded to 8 bytes ([`Map::value_buf_size`]), like the kernel's
//!   ([`Map::lookup_percpu`]/[`Map::update_percpu`] split and join it).
//! - **Programs** (what the helpers call): [`Map::lookup_ptr`] gives the
//!   address and length of the value itself (for per-CPU maps: the
//!   current CPU's), which the interpreter adds as a region;
//!   [`Map::prog_update`] takes one CPU's value; [`Map::prog_delete`],
//!   [`Map::prog_push`], [`Map::prog_pop`], [`Map::prog_peek`];
//!   [`Map::ringbuf`] (reserve/submit/discard/output/query),
//!   [`Map::program`] (tail calls), [`Map::inner_map`] (map-in-map).
//!   Programs are not subject to freezing or `BPF_F_RDONLY`: the verifier
//!   enforces `BPF_F_RDONLY_PROG`/`BPF_F_WRONLY_PROG`.
//!
//! # Map types
//!
//! `array`, `percpu_array`, `hash`, `percpu_hash`, `lru_hash`,
//! `lru_percpu_hash`, `lpm_trie`, `queue`, `stack`, `bloom_filter`,
//! `ringbuf` ([`ringbuf`]), `prog_array`, `array_of_maps`, `hash_of_maps`
//! ([`Map::from_def`] creates them from an object's definitions),
//! `perf_event_array` ([`perf_event_array`]), and the redirect targets
//! `devmap`, `devmap_hash`, `cpumap`, `xskmap` (host-side contents,
//! [`Map::redirect_target`]). Other types (stack traces,
//! socket maps, storage maps, `arena`...) are refused with `EINVAL`.
//!
//! # Wiring the helpers
//!
//! A helper receives the map as an `Arc<Map>` the loader resolved from
//! the program's map reference (`lddw` with a map fd/index), then:
//! `bpf_map_lookup_elem` → [`Map::lookup_ptr`] with the key read from the
//! program's memory, add `ValuePtr { ptr, len }` as a region and return
//! `ptr` (0 for `None`); `bpf_map_update_elem` → [`Map::prog_update`];
//! errors become `-errno` in `r0` ([`MapError::errno`]).
//!
//! # Memory and concurrency
//!
//! Maps are `Send + Sync`; share them with `Arc`. Values never move and
//! are freed with the map, so a pointer a program holds is valid memory
//! for the map's lifetime. Arrays are one allocation made at creation
//! (contiguous, as a JIT's inlined lookup wants: [`Map::array_layout`]);
//! the other maps allocate their element slots in chunks on first use (a
//! large, mostly empty map costs little):
//! - arrays: the element itself; the host copies words atomically, so an
//!   8-byte counter a program increments atomically is never torn, while a
//!   larger value written by the host can be read half-old half-new by a
//!   program, as in the kernel (no `BPF_F_LOCK` yet);
//! - hash maps and `lpm_trie`: element slots; an update writes a free slot
//!   and then swaps it in under the map's lock, so a lookup sees the old
//!   or the new value whole (atomic replace); the old slot goes to the
//!   back of the free list, so it is reused as late as possible (the
//!   kernel reuses preallocated elements too, without waiting for
//!   readers); per-CPU values are written in place, as the kernel does;
//! - queue, stack, bloom filter: values are copied in and out under the
//!   map's lock (or atomically, bloom bits); programs hold no pointer;
//! - ring buffer: see [`ringbuf`]; map-in-map and prog arrays hold `Arc`
//!   handles, which a run clones.
//!
//! # CPUs
//!
//! Per-CPU maps keep one value per runtime CPU: [`Map::create`] uses
//! [`std::thread::available_parallelism`], [`Map::create_with_cpus`] a
//! given count (the tests use the kernel's possible CPUs so buffers compare
//! byte for byte). A thread's CPU is [`current_cpu`] (assigned round-robin
//! on first use, or set with [`set_current_cpu`]) modulo the map's count.

mod array;
mod bloom;
mod cgroup_array;
mod cpumap;
mod devmap;
mod hash;
mod hash_keys;
mod lpm_trie;
mod lru;
mod map_in_map;
pub mod perf_event_array;
mod prog_array;
mod queue_stack;
pub mod ringbuf;
mod stack_trace;
mod storage;
mod xskmap;

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub use ebee_object::MapType;

use array::ArrayMap;
use bloom::BloomFilter;
pub use cgroup_array::{cgroup2_root, Cgroup};
use cpumap::CpuMap;
use devmap::{DevMap, Slots};
pub use devmap::{DevTarget, RedirectTarget};
use hash::HashMap;
use lpm_trie::LpmTrie;
use map_in_map::HashOfMaps;
pub use perf_event_array::{PerfBuffer, PerfCounter, PerfEventArray, PerfRecord, PerfSlot};
use prog_array::HandleArray;
use queue_stack::QueueStack;
pub use ringbuf::RingBuf;
pub use stack_trace::{BPF_F_FAST_STACK_CMP, BPF_F_REUSE_STACKID, PERF_MAX_STACK_DEPTH};

use crate::Vm;

/// `BPF_ANY`: create the element or replace it.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create the element; `EEXIST` if it exists.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: replace the element; `ENOENT` if it does not exist.
pub const BPF_EXIST: u64 = 2;
/// `BPF_F_LOCK`: take the value's `bpf_spin_lock` (refused: no BTF spin locks yet).
pub const BPF_F_LOCK: u64 = 4;

/// `BPF_F_NO_PREALLOC` (required for `lpm_trie`).
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// `BPF_F_NO_COMMON_LRU`: per-CPU LRU lists (LRU maps only).
pub const BPF_F_NO_COMMON_LRU: u32 = 1 << 1;
/// `BPF_F_NUMA_NODE`: `numa_node` is valid.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `BPF_F_RDONLY`: user space may only read.
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// `BPF_F_WRONLY`: user space may only write.
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// `BPF_F_ZERO_SEED`: hash with a zero seed (hash, bloom).
pub const BPF_F_ZERO_SEED: u32 = 1 << 6;
/// `BPF_F_RDONLY_PROG`: programs may only read.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`: programs may only write.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// `BPF_F_MMAPABLE`: the array can be mmap()ed.
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `BPF_F_INNER_MAP`: inner maps may differ in `max_entries`.
pub const BPF_F_INNER_MAP: u32 = 1 << 12;

/// The access flags every map type accepts.
const ACCESS_FLAGS: u32 = BPF_F_RDONLY | BPF_F_WRONLY | BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG;

/// Error numbers of the kernel's map operations (Linux's values).
pub mod errno {
    /// Not permitted (writes to a frozen or read-only map).
    pub const EPERM: i32 = 1;
    /// No such element.
    pub const ENOENT: i32 = 2;
    /// Too big: index out of range, map full.
    pub const E2BIG: i32 = 7;
    /// Bad file descriptor (a `cgroup_array` update with no cgroup).
    pub const EBADF: i32 = 9;
    /// Try again (`bpf_ringbuf_output` found no room).
    pub const EAGAIN: i32 = 11;
    /// Out of memory.
    pub const ENOMEM: i32 = 12;
    /// Busy (frozen twice).
    pub const EBUSY: i32 = 16;
    /// The element exists.
    pub const EEXIST: i32 = 17;
    /// Invalid argument.
    pub const EINVAL: i32 = 22;
    /// No space (`lpm_trie` full).
    pub const ENOSPC: i32 = 28;
    /// Operation not supported on this map type.
    pub const EOPNOTSUPP: i32 = 95;
    /// The kernel-internal "not supported" (`ENOTSUPP`), returned to user space by bpf(2).
    pub const ENOTSUPP: i32 = 524;

    /// The symbolic name of `errno`.
    pub fn name(errno: i32) -> &'static str {
        match errno {
            EPERM => "EPERM",
            ENOENT => "ENOENT",
            EBADF => "EBADF",
            E2BIG => "E2BIG",
            EAGAIN => "EAGAIN",
            ENOMEM => "ENOMEM",
            EBUSY => "EBUSY",
            EEXIST => "EEXIST",
            EINVAL => "EINVAL",
            ENOSPC => "ENOSPC",
            EOPNOTSUPP => "EOPNOTSUPP",
            ENOTSUPP => "ENOTSUPP",
            _ => "errno",
        }
    }
}

/// A map operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// The kernel would return this error number.
    #[error("{op} on {map_type:?} map {map:?}: {} ({errno})", errno::name(*.errno))]
    Errno {
        /// The operation (`create`, `lookup`, `update`...).
        op: &'static str,
        /// The map's type.
        map_type: MapType,
        /// The map's name.
        map: Arc<str>,
        /// The error number (`ENOENT`, `EEXIST`, `E2BIG`...).
        errno: i32,
    },
    /// A key or value of the wrong size (the kernel reads exactly the
    /// map's sizes, so this is caught before the operation).
    #[error("{op} on {map_type:?} map {map:?}: {what} is {got} bytes, the map's is {want}")]
    Size {
        /// The operation.
        op: &'static str,
        /// The map's type.
        map_type: MapType,
        /// The map's name.
        map: Arc<str>,
        /// `key` or `value`.
        what: &'static str,
        /// The size given.
        got: usize,
        /// The size the map has.
        want: usize,
    },
}

impl MapError {
    /// The kernel's error number (`None` for a size mismatch).
    pub fn errno(&self) -> Option<i32> {
        match self {
            MapError::Errno { errno, .. } => Some(*errno),
            MapError::Size { .. } => None,
        }
    }
}

/// An error number, before the operation and map are attached.
pub(crate) type Errno = i32;

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
    /// `map_flags`.
    pub flags: u32,
    /// `map_extra` (bloom filter: the number of hash functions, 0 = 5).
    pub map_extra: u64,
    /// NUMA node (with [`BPF_F_NUMA_NODE`]; the runtime has node 0 only).
    pub numa_node: u32,
    /// For `array_of_maps`/`hash_of_maps`: the shape of the inner maps.
    pub inner: Option<Box<MapSpec>>,
    /// The map's name (errors show it).
    pub name: String,
}

impl MapSpec {
    /// A map of `map_type` with these sizes and no flags.
    pub fn new(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32) -> MapSpec {
        MapSpec {
            map_type,
            key_size,
            value_size,
            max_entries,
            flags: 0,
            map_extra: 0,
            numa_node: 0,
            inner: None,
            name: String::new(),
        }
    }

    /// This spec with `name`.
    pub fn with_name(mut self, name: &str) -> MapSpec {
        self.name = name.to_string();
        self
    }

    /// This spec with `flags`.
    pub fn with_flags(mut self, flags: u32) -> MapSpec {
        self.flags = flags;
        self
    }

    /// The spec of an object's map definition, with the shapes the kernel
    /// insists on (as the kernel loader sends them): ring buffers have no
    /// key or value size, prog arrays and map-in-maps 4-byte values when
    /// the definition leaves them unsaid. The inner template comes from
    /// [`ebee_object::MapDef::inner`]; a legacy definition's `inner_index`
    /// is the caller's to resolve (set [`MapSpec::inner`]).
    pub fn from_def(def: &ebee_object::MapDef) -> MapSpec {
        let (mut key_size, mut value_size) = (def.key_size, def.value_size);
        match def.map_type {
            MapType::Ringbuf | MapType::UserRingbuf => (key_size, value_size) = (0, 0),
            MapType::PerfEventArray => (key_size, value_size) = (4, 4),
            MapType::Xskmap => (key_size, value_size) = (4, 4),
            t if (t.is_map_in_map() || t == MapType::ProgArray) && value_size == 0 => {
                value_size = 4
            }
            _ => {}
        }
        let mut spec = MapSpec {
            map_type: def.map_type,
            key_size,
            value_size,
            max_entries: def.max_entries,
            flags: def.flags,
            map_extra: def.map_extra,
            numa_node: def.numa_node,
            inner: def.inner.as_deref().map(|d| Box::new(MapSpec::from_def(d))),
            name: def.name.clone(),
        };
        // libbpf sizes a perf event array left at 0 to the possible CPUs
        // (here: the runtime's).
        if spec.map_type == MapType::PerfEventArray && spec.max_entries == 0 {
            spec.max_entries = runtime_cpus() as u32;
        }
        spec
    }
}

/// Is `t` a map whose values are per CPU?
pub fn is_percpu(t: MapType) -> bool {
    matches!(
        t,
        MapType::PercpuHash | MapType::PercpuArray | MapType::LruPercpuHash
    )
}

/// The runtime's CPUs: [`std::thread::available_parallelism`].
pub fn runtime_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

static NEXT_CPU: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static CPU: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The runtime CPU of this thread: which value of a per-CPU map its
/// programs see (modulo the map's CPU count). Threads get 0, 1, 2... in
/// the order they first ask.
pub fn current_cpu() -> usize {
    CPU.with(|c| {
        c.get().unwrap_or_else(|| {
            let n = NEXT_CPU.fetch_add(1, Ordering::Relaxed);
            c.set(Some(n));
            n
        })
    })
}

/// Makes this thread runtime CPU `cpu`.
pub fn set_current_cpu(cpu: usize) {
    CPU.with(|c| c.set(Some(cpu)));
}

/// A map value as a program sees it: its address and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValuePtr {
    /// The first byte of the value (valid while the map lives).
    pub ptr: *mut u8,
    /// The value's length in bytes.
    pub len: usize,
}

/// Where an `array` map's elements are: element `i` is at
/// `base + i * stride`, for `i < max_entries` ([`Map::array_layout`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayLayout {
    /// Element 0 (valid while the map lives; 8-aligned).
    pub base: *mut u8,
    /// Bytes from one element to the next (the value size rounded up to 8).
    pub stride: usize,
    /// Bytes of each element a program may access.
    pub value_size: usize,
    /// The number of elements.
    pub max_entries: u32,
}

// SAFETY: the layout describes memory owned by a `Map`, which is shared
// between threads through atomics; the pointer is data.
unsafe impl Send for ArrayLayout {}
// SAFETY: as above.
unsafe impl Sync for ArrayLayout {}

#[derive(Debug)]
enum Kind {
    Array(ArrayMap),
    Hash(HashMap),
    QueueStack(QueueStack),
    LpmTrie(LpmTrie),
    Bloom(BloomFilter),
    Ringbuf(RingBuf),
    ProgArray(HandleArray<Vm>),
    ArrayOfMaps(HandleArray<Map>),
    HashOfMaps(HashOfMaps),
    PerfEventArray(PerfEventArray),
    DevMap(DevMap),
    CpuMap(CpuMap),
    XskMap(Slots),
    StackTrace(stack_trace::StackTraceMap),
    CgroupArray(HandleArray<Cgroup>),
}

/// A map of the userspace runtime (see the [module docs](self)).
#[derive(Debug)]
pub struct Map {
    spec: MapSpec,
    /// `spec.name`, shared by errors.
    name: Arc<str>,
    ncpus: usize,
    frozen: AtomicBool,
    kind: Kind,
}

/// The checks every map type shares (`bpf_map_flags_access_ok`, sizes of
/// the per-CPU buffer, NUMA node).
fn check_common(spec: &MapSpec) -> Result<(), Errno> {
    let f = spec.flags;
    if f & (BPF_F_RDONLY | BPF_F_WRONLY) == BPF_F_RDONLY | BPF_F_WRONLY
        || f & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) == BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG
    {
        return Err(errno::EINVAL);
    }
    if f & BPF_F_NUMA_NODE != 0 && spec.numa_node != 0 {
        return Err(errno::EINVAL);
    }
    if f & BPF_F_NUMA_NODE == 0 && spec.numa_node != 0 {
        return Err(errno::EINVAL);
    }
    Ok(())
}

impl Map {
    /// Creates a map, checked like `BPF_MAP_CREATE`, with one value per
    /// available CPU for per-CPU maps.
    pub fn create(spec: &MapSpec) -> Result<Map, MapError> {
        let ncpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Map::create_with_cpus(spec, ncpus)
    }

    /// Creates a map whose per-CPU values number `ncpus` (at least 1).
    pub fn create_with_cpus(spec: &MapSpec, ncpus: usize) -> Result<Map, MapError> {
        let ncpus = ncpus.max(1);
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        check_common(spec).map_err(fail)?;
        let kind = match spec.map_type {
            MapType::Array | MapType::PercpuArray => Kind::Array(ArrayMap::new(spec, ncpus)?),
            MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
                Kind::Hash(HashMap::new(spec, ncpus)?)
            }
            MapType::Queue | MapType::Stack => Kind::QueueStack(QueueStack::new(spec)?),
            MapType::LpmTrie => Kind::LpmTrie(LpmTrie::new(spec)?),
            MapType::BloomFilter => Kind::Bloom(BloomFilter::new(spec)?),
            MapType::Ringbuf => Kind::Ringbuf(RingBuf::new(spec)?),
            MapType::ProgArray
            | MapType::ArrayOfMaps
            | MapType::PerfEventArray
            | MapType::CgroupArray => {
                // `fd_array_map_alloc_check`, then the array's own checks.
                if spec.value_size != 4 || spec.flags & (BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG) != 0
                {
                    return Err(fail(errno::EINVAL));
                }
                if spec.map_type == MapType::ArrayOfMaps {
                    map_in_map::check_template(spec.inner.as_deref()).map_err(fail)?;
                }
                // `array_map_alloc_check`: only plain arrays are mmapable.
                if spec.flags & (BPF_F_INNER_MAP | BPF_F_MMAPABLE) != 0 {
                    return Err(fail(errno::EINVAL));
                }
                let as_array = MapSpec::new(MapType::Array, spec.key_size, 4, spec.max_entries)
                    .with_flags(spec.flags);
                ArrayMap::new(&as_array, 1)
                    .map_err(|e| fail(e.errno().unwrap_or(errno::EINVAL)))?;
                if spec.map_type == MapType::ProgArray {
                    Kind::ProgArray(HandleArray::new(spec.max_entries))
                } else if spec.map_type == MapType::PerfEventArray {
                    Kind::PerfEventArray(PerfEventArray::new(spec.max_entries))
                } else if spec.map_type == MapType::CgroupArray {
                    Kind::CgroupArray(HandleArray::new(spec.max_entries))
                } else {
                    Kind::ArrayOfMaps(HandleArray::new(spec.max_entries))
                }
            }
            MapType::HashOfMaps => {
                if spec.value_size != 4 {
                    return Err(fail(errno::EINVAL));
                }
                map_in_map::check_template(spec.inner.as_deref()).map_err(fail)?;
                let mut as_hash = MapSpec::new(MapType::Hash, spec.key_size, 4, spec.max_entries)
                    .with_flags(spec.flags);
                as_hash.numa_node = spec.numa_node;
                HashMap::new(&as_hash, 1).map_err(|e| fail(e.errno().unwrap_or(errno::EINVAL)))?;
                Kind::HashOfMaps(HashOfMaps::new(spec.max_entries))
            }
            MapType::Devmap | MapType::DevmapHash => Kind::DevMap(DevMap::new(spec)?),
            MapType::Cpumap => Kind::CpuMap(CpuMap::new(spec, ncpus)?),
            MapType::Xskmap => Kind::XskMap(xskmap::new(spec)?),
            MapType::StackTrace => Kind::StackTrace(stack_trace::StackTraceMap::new(spec)?),
            _ => return Err(fail(errno::EINVAL)),
        };
        Ok(Map {
            spec: spec.clone(),
            name: spec.name.as_str().into(),
            ncpus: if is_percpu(spec.map_type) { ncpus } else { 1 },
            frozen: AtomicBool::new(false),
            kind,
        })
    }

    /// Creates the map of an object's definition ([`MapSpec::from_def`])
    /// and writes its initial contents: a global data section's bytes at
    /// index 0, then the freeze of `.rodata`. Prog-array and map-in-map
    /// slots name programs and maps, so the loader fills them
    /// ([`Map::set_program`], [`Map::set_inner_map`]).
    pub fn from_def(def: &ebee_object::MapDef) -> Result<Map, MapError> {
        let map = Map::create(&MapSpec::from_def(def))?;
        if let Some(data) = &def.data {
            let mut value = data.clone();
            value.resize(map.value_buf_size(), 0);
            map.update(&0u32.to_ne_bytes(), &value, BPF_ANY)?;
        }
        if def.frozen {
            map.freeze()?;
        }
        Ok(map)
    }

    /// What the map was created from.
    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    /// The map type.
    pub fn map_type(&self) -> MapType {
        self.spec.map_type
    }

    /// How many per-CPU values a value has (1 unless per-CPU).
    pub fn cpus(&self) -> usize {
        self.ncpus
    }

    /// Bytes of a value as the host exchanges it: the value size, or for
    /// per-CPU maps the value size rounded up to 8 times [`Map::cpus`].
    pub fn value_buf_size(&self) -> usize {
        if is_percpu(self.spec.map_type) {
            (self.spec.value_size as usize).div_ceil(8) * 8 * self.ncpus
        } else {
            self.spec.value_size as usize
        }
    }

    fn err(&self, op: &'static str, errno: Errno) -> MapError {
        MapError::Errno {
            op,
            map_type: self.spec.map_type,
            map: self.name.clone(),
            errno,
        }
    }

    fn check_size(
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
                map_type: self.spec.map_type,
                map: self.name.clone(),
                what,
                got,
                want,
            })
        }
    }

    fn check_key(&self, op: &'static str, key: &[u8]) -> Result<(), MapError> {
        self.check_size(op, "key", key.len(), self.spec.key_size as usize)
    }

    /// Host writes: refused (`EPERM`) on frozen maps and `BPF_F_RDONLY` maps.
    fn check_host_write(&self, op: &'static str) -> Result<(), MapError> {
        if self.frozen.load(Ordering::Acquire) || self.spec.flags & BPF_F_RDONLY != 0 {
            return Err(self.err(op, errno::EPERM));
        }
        Ok(())
    }

    /// Host reads: refused (`EPERM`) on `BPF_F_WRONLY` maps.
    fn check_host_read(&self, op: &'static str) -> Result<(), MapError> {
        if self.spec.flags & BPF_F_WRONLY != 0 {
            return Err(self.err(op, errno::EPERM));
        }
        Ok(())
    }

    /// The value under `key` (`None`: `ENOENT`). Per-CPU maps: every CPU's
    /// value in one buffer of [`Map::value_buf_size`] bytes. Queue and
    /// stack (empty key): the next element, left in place. `lpm_trie`: the
    /// value of the longest prefix covering the key. Bloom filter: `EINVAL`
    /// (use [`Map::contains`]).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check_host_read("lookup")?;
        self.check_key("lookup", key)?;
        let r = match &self.kind {
            Kind::Array(a) => Ok(a.lookup(key)),
            Kind::Hash(h) => Ok(h.lookup(key)),
            Kind::QueueStack(q) => Ok(q.peek()),
            Kind::LpmTrie(t) => Ok(t.lookup(key)),
            Kind::Bloom(_) => Err(errno::EINVAL),
            Kind::Ringbuf(_) => Err(errno::ENOTSUPP),
            Kind::ProgArray(_) | Kind::ArrayOfMaps(_) | Kind::HashOfMaps(_) | Kind::XskMap(_) => {
                Err(errno::EOPNOTSUPP)
            }
            Kind::CgroupArray(_) => Err(errno::ENOTSUPP),
            Kind::StackTrace(t) => Ok(t.lookup(key)),
            Kind::PerfEventArray(_) => Err(errno::ENOTSUPP),
            Kind::DevMap(d) => Ok(d.lookup(key)),
            Kind::CpuMap(c) => Ok(c.slots.get(key)),
        };
        r.map_err(|e| self.err("lookup", e))
    }

    /// Stores `value` under `key` with `flags` ([`BPF_ANY`],
    /// [`BPF_NOEXIST`], [`BPF_EXIST`]). Per-CPU maps take every CPU's value
    /// ([`Map::value_buf_size`] bytes). Queue and stack (empty key): push.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_host_write("update")?;
        self.check_key("update", key)?;
        self.check_size("update", "value", value.len(), self.value_buf_size())?;
        let r = match &self.kind {
            Kind::Array(a) => a.update(key, value, flags),
            Kind::Hash(h) => h.update(key, value, flags, None),
            Kind::QueueStack(q) => q.push(value, flags),
            Kind::LpmTrie(t) => t.update(key, value, flags),
            Kind::Bloom(b) => b.add(value, flags),
            Kind::Ringbuf(_) => Err(errno::ENOTSUPP),
            Kind::ProgArray(_)
            | Kind::ArrayOfMaps(_)
            | Kind::HashOfMaps(_)
            | Kind::PerfEventArray(_)
            | Kind::XskMap(_)
            | Kind::StackTrace(_)
            | Kind::CgroupArray(_) => Err(errno::EINVAL),
            Kind::DevMap(d) => d.update(key, value, flags),
            Kind::CpuMap(c) => c.update(key, value, flags),
        };
        r.map_err(|e| self.err("update", e))
    }

    /// A per-CPU map's values under `key`, one per CPU, each of the value
    /// size (other maps: the one value).
    pub fn lookup_percpu(&self, key: &[u8]) -> Result<Option<Vec<Vec<u8>>>, MapError> {
        let Some(buf) = self.lookup(key)? else {
            return Ok(None);
        };
        if !is_percpu(self.spec.map_type) {
            return Ok(Some(vec![buf]));
        }
        let size = self.spec.value_size as usize;
        let stride = size.div_ceil(8) * 8;
        Ok(Some(
            buf.chunks(stride).map(|c| c[..size].to_vec()).collect(),
        ))
    }

    /// Stores one value per CPU under `key` ([`Map::cpus`] values of the
    /// value size; the padding becomes zero).
    pub fn update_percpu(
        &self,
        key: &[u8],
        values: &[Vec<u8>],
        flags: u64,
    ) -> Result<(), MapError> {
        let size = self.spec.value_size as usize;
        let stride = size.div_ceil(8) * 8;
        self.check_size(
            "update",
            "number of per-CPU values",
            values.len(),
            self.ncpus,
        )?;
        let mut buf = vec![0u8; stride * self.ncpus];
        for (i, v) in values.iter().enumerate() {
            self.check_size("update", "value", v.len(), size)?;
            buf[i * stride..i * stride + size].copy_from_slice(v);
        }
        buf.truncate(self.value_buf_size());
        self.update(key, &buf, flags)
    }

    /// Bloom filter: may `value` have been added? (`false` is certain.)
    pub fn contains(&self, value: &[u8]) -> Result<bool, MapError> {
        self.check_host_read("contains")?;
        self.check_size("contains", "value", value.len(), self.value_buf_size())?;
        match &self.kind {
            Kind::Bloom(b) => Ok(b.contains(value)),
            _ => Err(self.err("contains", errno::EINVAL)),
        }
    }

    /// Deletes the element under `key` (`ENOENT` if none; arrays `EINVAL`).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check_host_write("delete")?;
        self.check_key("delete", key)?;
        let r = match &self.kind {
            Kind::Array(_) | Kind::QueueStack(_) => Err(errno::EINVAL),
            Kind::Hash(h) => h.delete(key),
            Kind::LpmTrie(t) => t.delete(key),
            Kind::Bloom(_) => Err(errno::EOPNOTSUPP),
            Kind::Ringbuf(_) => Err(errno::ENOTSUPP),
            Kind::ProgArray(a) => a.delete(key),
            Kind::ArrayOfMaps(a) => a.delete(key),
            Kind::HashOfMaps(h) => h.delete(key),
            Kind::PerfEventArray(p) => p.slots().delete(key),
            Kind::DevMap(d) => d.delete(key),
            Kind::CpuMap(c) => c.slots.clear(key),
            Kind::XskMap(x) => x.clear(key),
            Kind::StackTrace(t) => t.delete(key),
            Kind::CgroupArray(a) => a.delete(key),
        };
        r.map_err(|e| self.err("delete", e))
    }

    /// The key after `key`, or the first key for `None` (or for a key
    /// not in the map); `None` after the last.
    pub fn next_key(&self, key: Option<&[u8]>) -> Result<Option<Vec<u8>>, MapError> {
        if let Some(k) = key {
            self.check_key("next_key", k)?;
        }
        let r = match &self.kind {
            Kind::Array(a) => Ok(a.next_key(key)),
            Kind::Hash(h) => Ok(h.next_key(key)),
            Kind::QueueStack(_) => Err(errno::EINVAL),
            Kind::LpmTrie(t) => Ok(t.next_key(key)),
            Kind::Bloom(_) => Err(errno::EOPNOTSUPP),
            Kind::Ringbuf(_) => Err(errno::ENOTSUPP),
            Kind::ProgArray(a) => Ok(a.next_key(key)),
            Kind::ArrayOfMaps(a) => Ok(a.next_key(key)),
            Kind::HashOfMaps(h) => Ok(h.next_key(key)),
            Kind::PerfEventArray(p) => Ok(p.slots().next_key(key)),
            Kind::DevMap(d) => Ok(d.next_key(key)),
            Kind::CpuMap(c) => Ok(c.slots.next_key(key)),
            Kind::XskMap(x) => Ok(x.next_key(key)),
            Kind::StackTrace(t) => Ok(t.next_key(key)),
            Kind::CgroupArray(a) => Ok(a.next_key(key)),
        };
        r.map_err(|e| self.err("next_key", e))
    }

    /// The keys, in the map's order, through [`Map::next_key`].
    pub fn keys(&self) -> Keys<'_> {
        Keys {
            map: self,
            last: None,
            done: false,
        }
    }

    /// Removes the element under `key` and returns its value (hash maps;
    /// queue and stack with an empty key: pop). Other types: `ENOTSUPP`
    /// like the kernel.
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        self.check_host_write("lookup_and_delete")?;
        self.check_host_read("lookup_and_delete")?;
        self.check_key("lookup_and_delete", key)?;
        let r = match &self.kind {
            Kind::Hash(h) => Ok(h.lookup_and_delete(key)),
            Kind::QueueStack(q) => Ok(q.pop()),
            _ => Err(errno::ENOTSUPP),
        };
        r.map_err(|e| self.err("lookup_and_delete", e))
    }

    /// Queue and stack: pushes `value` ([`BPF_EXIST`] overwrites the
    /// oldest element when full; otherwise full gives `E2BIG`).
    pub fn push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        self.update(&[], value, flags)
    }

    /// Queue and stack: removes and returns the next element.
    pub fn pop(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.lookup_and_delete(&[])
    }

    /// Queue and stack: the next element, left in place.
    pub fn peek(&self) -> Result<Option<Vec<u8>>, MapError> {
        self.lookup(&[])
    }

    /// `BPF_MAP_FREEZE`: the host can no longer write. Like the kernel,
    /// freezing needs write access, so a second freeze (or freezing a
    /// `BPF_F_RDONLY` map) is `EPERM`.
    pub fn freeze(&self) -> Result<(), MapError> {
        self.check_host_write("freeze")?;
        if self.frozen.swap(true, Ordering::AcqRel) {
            return Err(self.err("freeze", errno::EPERM));
        }
        Ok(())
    }

    /// For programs (`bpf_map_lookup_elem`): the value under `key` in place
    /// (per-CPU maps: the current CPU's), `None` when there is none or the
    /// map type has no addressable values. The memory stays valid while
    /// the map lives; see the module docs for what concurrent updates do.
    pub fn lookup_ptr(&self, key: &[u8]) -> Option<ValuePtr> {
        if key.len() != self.spec.key_size as usize {
            return None;
        }
        let cpu = current_cpu() % self.ncpus;
        match &self.kind {
            Kind::Array(a) => a.lookup_ptr(key, cpu),
            Kind::Hash(h) => h.lookup_ptr(key, cpu),
            Kind::LpmTrie(t) => t.lookup_ptr(key),
            _ => None,
        }
    }

    /// For programs (`bpf_map_update_elem`): stores one value (for per-CPU
    /// maps, the current CPU's; a new per-CPU element has the other CPUs'
    /// values zeroed). Not subject to freezing (the verifier enforces
    /// `BPF_F_RDONLY_PROG`).
    pub fn prog_update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        self.check_key("update", key)?;
        self.check_size(
            "update",
            "value",
            value.len(),
            self.spec.value_size as usize,
        )?;
        let cpu = current_cpu() % self.ncpus;
        let percpu = is_percpu(self.spec.map_type);
        let r = match &self.kind {
            Kind::Array(a) => a.prog_update(key, value, flags, cpu),
            Kind::Hash(h) => h.update(key, value, flags, percpu.then_some(cpu)),
            Kind::QueueStack(q) => q.push(value, flags),
            Kind::LpmTrie(t) => t.update(key, value, flags),
            Kind::Bloom(b) => b.add(value, flags),
            _ => Err(errno::EINVAL),
        };
        r.map_err(|e| self.err("update", e))
    }

    /// For a JIT inlining `bpf_map_lookup_elem` on an `array` (as the
    /// kernel does): the elements are contiguous, so a lookup is a bounds
    /// check and `base + index * stride`. `None` for other types
    /// (per-CPU arrays included).
    pub fn array_layout(&self) -> Option<ArrayLayout> {
        match &self.kind {
            Kind::Array(a) => a.layout(),
            _ => None,
        }
    }

    /// The ring buffer of a `ringbuf` map (reserve/submit/output for
    /// programs, [`RingBuf::consume`] for the host).
    pub fn ringbuf(&self) -> Option<&RingBuf> {
        match &self.kind {
            Kind::Ringbuf(r) => Some(r),
            _ => None,
        }
    }

    /// The slots of a `perf_event_array` (open buffers on the host side,
    /// `bpf_perf_event_output` from programs).
    pub fn perf_event_array(&self) -> Option<&PerfEventArray> {
        match &self.kind {
            Kind::PerfEventArray(p) => Some(p),
            _ => None,
        }
    }

    /// For `bpf_redirect_map`: what the `devmap`, `devmap_hash`, `cpumap`
    /// or `xskmap` slot under `key` sends to (`None`: empty, or not such
    /// a map).
    pub fn redirect_target(&self, key: u32) -> Option<RedirectTarget> {
        let k = key.to_ne_bytes();
        match &self.kind {
            Kind::DevMap(d) => d.target(&k).map(RedirectTarget::Device),
            Kind::CpuMap(c) => c.slots.get(&k).map(|v| RedirectTarget::Cpu {
                cpu: key,
                qsize: u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            }),
            Kind::XskMap(x) => x
                .get(&k)
                .map(|v| RedirectTarget::Socket(u32::from_ne_bytes([v[0], v[1], v[2], v[3]]))),
            _ => None,
        }
    }

    /// `xskmap`: puts the host's socket handle `socket` at `index` (the
    /// kernel's update with an AF_XDP socket fd; `E2BIG` out of range,
    /// `EEXIST`/`ENOENT` for `BPF_NOEXIST`/`BPF_EXIST` as in
    /// `xsk_map_update_elem`).
    pub fn set_xsk(&self, index: u32, socket: u32, flags: u64) -> Result<(), MapError> {
        self.check_host_write("update")?;
        let k = index.to_ne_bytes();
        let r = match &self.kind {
            Kind::XskMap(x) => {
                if flags > BPF_EXIST {
                    Err(errno::EINVAL)
                } else if index as usize >= x.len() {
                    Err(errno::E2BIG)
                } else {
                    match (x.get(&k).is_some(), flags) {
                        (true, BPF_NOEXIST) => Err(errno::EEXIST),
                        (false, BPF_EXIST) => Err(errno::ENOENT),
                        _ => x.put(&k, Some(socket.to_ne_bytes().to_vec())),
                    }
                }
            }
            _ => Err(errno::EINVAL),
        };
        r.map_err(|e| self.err("update", e))
    }

    /// `cgroup_array`: puts the cgroup whose directory is `dir` at
    /// `index` (the kernel's update with a cgroup directory fd: `EBADF`
    /// for a directory not of the v2 hierarchy, `E2BIG` out of range, only
    /// `BPF_ANY`).
    pub fn set_cgroup(
        &self,
        index: u32,
        dir: &std::path::Path,
        flags: u64,
    ) -> Result<(), MapError> {
        self.check_host_write("update")?;
        match &self.kind {
            Kind::CgroupArray(a) => match Cgroup::from_dir(dir) {
                Some(c) => a.set(&index.to_ne_bytes(), Arc::new(c), flags, |_| Ok(())),
                None => Err(errno::EBADF),
            },
            _ => Err(errno::EINVAL),
        }
        .map_err(|e| self.err("update", e))
    }

    /// `cgroup_array`: the cgroup at `index` (`Err(E2BIG)` out of range,
    /// `Ok(None)` for an empty slot), for the cgroup helpers.
    pub fn cgroup(&self, index: u32) -> Result<Option<Arc<Cgroup>>, Errno> {
        match &self.kind {
            Kind::CgroupArray(a) if index < self.spec.max_entries => {
                Ok(a.get(&index.to_ne_bytes()))
            }
            Kind::CgroupArray(_) => Err(errno::E2BIG),
            _ => Err(errno::EINVAL),
        }
    }

    /// `stack_trace`: stores the call stack `ips` (innermost first, cut
    /// to the value size) for `bpf_get_stackid` with its `flags`
    /// ([`BPF_F_FAST_STACK_CMP`], [`BPF_F_REUSE_STACKID`]); the stack id,
    /// or `EEXIST` when another stack holds its bucket.
    pub fn store_stack(&self, ips: &[u64], flags: u64) -> Result<u32, Errno> {
        match &self.kind {
            Kind::StackTrace(t) => t.store(&ips[..ips.len().min(t.depth())], flags),
            _ => Err(errno::EINVAL),
        }
    }

    /// `prog_array`: puts `program` at `index` (the kernel's update with a
    /// program fd; only `BPF_ANY`, `E2BIG` out of range).
    pub fn set_program(&self, index: u32, program: Arc<Vm>, flags: u64) -> Result<(), MapError> {
        self.check_host_write("update")?;
        match &self.kind {
            Kind::ProgArray(a) => a.set(&index.to_ne_bytes(), program, flags, |_| Ok(())),
            _ => Err(errno::EINVAL),
        }
        .map_err(|e| self.err("update", e))
    }

    /// `prog_array`: the program at `index`, for `bpf_tail_call`.
    pub fn program(&self, index: u32) -> Option<Arc<Vm>> {
        match &self.kind {
            Kind::ProgArray(a) => a.get(&index.to_ne_bytes()),
            _ => None,
        }
    }

    /// `array_of_maps`/`hash_of_maps`: stores `map` under `key` (it must
    /// fit the inner template, else `EINVAL`; arrays take only `BPF_ANY`).
    pub fn set_inner_map(&self, key: &[u8], map: Arc<Map>, flags: u64) -> Result<(), MapError> {
        self.check_host_write("update")?;
        self.check_key("update", key)?;
        let inner = self.spec.inner.as_deref();
        match (&self.kind, inner) {
            (Kind::ArrayOfMaps(a), Some(t)) => a.set(key, map, flags, |m| map_in_map::fits(t, m)),
            (Kind::HashOfMaps(h), Some(t)) => {
                map_in_map::fits(t, &map).and_then(|()| h.set(key, map, flags))
            }
            _ => Err(errno::EINVAL),
        }
        .map_err(|e| self.err("update", e))
    }

    /// `array_of_maps`/`hash_of_maps`: the map under `key` (what a
    /// program's `bpf_map_lookup_elem` returns; hold the `Arc` for the run).
    pub fn inner_map(&self, key: &[u8]) -> Option<Arc<Map>> {
        if key.len() != self.spec.key_size as usize {
            return None;
        }
        match &self.kind {
            Kind::ArrayOfMaps(a) => a.get(key),
            Kind::HashOfMaps(h) => h.get(key),
            _ => None,
        }
    }

    /// For programs (`bpf_map_delete_elem`).
    pub fn prog_delete(&self, key: &[u8]) -> Result<(), MapError> {
        self.check_key("delete", key)?;
        let r = match &self.kind {
            Kind::Array(_) | Kind::QueueStack(_) => Err(errno::EINVAL),
            Kind::Hash(h) => h.delete(key),
            Kind::LpmTrie(t) => t.delete(key),
            Kind::Bloom(_) => Err(errno::EOPNOTSUPP),
            Kind::Ringbuf(_) => Err(errno::ENOTSUPP),
            Kind::ProgArray(a) => a.delete(key),
            Kind::ArrayOfMaps(a) => a.delete(key),
            Kind::HashOfMaps(h) => h.delete(key),
            Kind::PerfEventArray(p) => p.slots().delete(key),
            Kind::DevMap(d) => d.delete(key),
            Kind::CpuMap(c) => c.slots.clear(key),
            Kind::XskMap(x) => x.clear(key),
            Kind::StackTrace(t) => t.delete(key),
            Kind::CgroupArray(a) => a.delete(key),
        };
        r.map_err(|e| self.err("delete", e))
    }

    /// For programs (`bpf_map_push_elem`): queue, stack and bloom filter.
    pub fn prog_push(&self, value: &[u8], flags: u64) -> Result<(), MapError> {
        match &self.kind {
            Kind::QueueStack(_) | Kind::Bloom(_) => self.prog_update(&[], value, flags),
            _ => Err(self.err("push", errno::EINVAL)),
        }
    }

    /// For programs (`bpf_map_pop_elem`): the next queue or stack value
    /// into `out` (the value size), `ENOENT` when empty.
    pub fn prog_pop(&self, out: &mut [u8]) -> Result<(), MapError> {
        self.check_size("pop", "value", out.len(), self.spec.value_size as usize)?;
        let v = match &self.kind {
            Kind::QueueStack(q) => q.pop().ok_or(errno::ENOENT),
            _ => Err(errno::EINVAL),
        };
        out.copy_from_slice(&v.map_err(|e| self.err("pop", e))?);
        Ok(())
    }

    /// For programs (`bpf_map_peek_elem`): queue and stack copy the next
    /// value into `value` (`ENOENT` when empty); a bloom filter tests
    /// `value` (`ENOENT`: certainly never added).
    pub fn prog_peek(&self, value: &mut [u8]) -> Result<(), MapError> {
        self.check_size("peek", "value", value.len(), self.spec.value_size as usize)?;
        let r = match &self.kind {
            Kind::QueueStack(q) => q
                .peek()
                .map(|v| value.copy_from_slice(&v))
                .ok_or(errno::ENOENT),
            Kind::Bloom(b) => b.contains(value).then_some(()).ok_or(errno::ENOENT),
            _ => Err(errno::EINVAL),
        };
        r.map_err(|e| self.err("peek", e))
    }
}

/// The keys of a map ([`Map::keys`]).
#[derive(Debug)]
pub struct Keys<'m> {
    map: &'m Map,
    last: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        match self.map.next_key(self.last.as_deref()) {
            Ok(Some(k)) => {
                self.last = Some(k.clone());
                Some(k)
            }
            _ => {
                self.done = true;
                None
            }
        }
    }
}

/// Checks the update flags every keyed map accepts: `BPF_ANY`,
/// `BPF_NOEXIST` or `BPF_EXIST` (`BPF_F_LOCK` needs a spin lock in the
/// value, which no map has yet).
pub(crate) fn check_update_flags(flags: u64) -> Result<(), Errno> {
    if flags > BPF_EXIST {
        return Err(errno::EINVAL);
    }
    Ok(())
}

// SAFETY: `ValuePtr` is an address into a map's storage, which is itself
// shared between threads through atomics; the pointer is data, and using
// it is the caller's (unsafe) business.
unsafe impl Send for ValuePtr {}
// SAFETY: as above.
unsafe impl Sync for ValuePtr {}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn errors_name_the_map_and_errno() {
        let spec = MapSpec::new(MapType::Hash, 4, 8, 1).with_name("flows");
        let m = Map::create(&spec).unwrap();
        m.update(&[1; 4], &[0; 8], BPF_ANY).unwrap();
        let e = m.update(&[2; 4], &[0; 8], BPF_ANY).unwrap_err();
        assert_eq!(e.to_string(), "update on Hash map \"flows\": E2BIG (7)");
        let e = m.lookup(&[0; 3]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "lookup on Hash map \"flows\": key is 3 bytes, the map's is 4"
        );
        let e = Map::create(&MapSpec::new(MapType::Array, 8, 8, 1).with_name("x")).unwrap_err();
        assert_eq!(e.to_string(), "create on Array map \"x\": EINVAL (22)");
    }

    #[test]
    fn per_cpu_values_one_by_one() {
        let m = Map::create_with_cpus(&MapSpec::new(MapType::PercpuArray, 4, 3, 2), 2).unwrap();
        let values = vec![vec![1, 2, 3], vec![4, 5, 6]];
        m.update_percpu(&1u32.to_ne_bytes(), &values, BPF_ANY)
            .unwrap();
        assert_eq!(m.lookup_percpu(&1u32.to_ne_bytes()).unwrap(), Some(values));
        assert_eq!(
            m.lookup(&1u32.to_ne_bytes()).unwrap().unwrap(),
            [1, 2, 3, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0, 0, 0]
        );
        assert!(m
            .update_percpu(&1u32.to_ne_bytes(), &[vec![1, 2, 3]], BPF_ANY)
            .is_err());
        let a = Map::create(&MapSpec::new(MapType::Array, 4, 3, 2)).unwrap();
        a.update_percpu(&0u32.to_ne_bytes(), &[vec![7, 8, 9]], BPF_ANY)
            .unwrap();
        assert_eq!(
            a.lookup_percpu(&0u32.to_ne_bytes()).unwrap(),
            Some(vec![vec![7, 8, 9]])
        );
    }

    #[test]
    fn array_layout_matches_lookup_ptr() {
        let m = Map::create(&MapSpec::new(MapType::Array, 4, 12, 5)).unwrap();
        let l = m.array_layout().unwrap();
        assert_eq!((l.stride, l.value_size, l.max_entries), (16, 12, 5));
        for i in 0..5u32 {
            let p = m.lookup_ptr(&i.to_ne_bytes()).unwrap();
            assert_eq!(p.ptr as usize, l.base as usize + i as usize * l.stride);
        }
        let pc = Map::create(&MapSpec::new(MapType::PercpuArray, 4, 8, 5)).unwrap();
        assert!(pc.array_layout().is_none());
    }

    #[test]
    fn maps_are_shareable() {
        assert_send_sync::<Map>();
        assert_send_sync::<RingBuf>();
    }

    #[test]
    fn per_cpu_values_follow_the_thread_cpu() {
        let m = Map::create_with_cpus(&MapSpec::new(MapType::PercpuHash, 4, 4, 4), 3).unwrap();
        assert_eq!(m.value_buf_size(), 24);
        let key = 9u32.to_ne_bytes();
        std::thread::scope(|s| {
            for cpu in 0..3u32 {
                let m = &m;
                s.spawn(move || {
                    set_current_cpu(cpu as usize);
                    assert_eq!(current_cpu(), cpu as usize);
                    // The first writer creates the element, zeroing the others.
                    let _ = m.prog_update(&key, &(cpu + 10).to_ne_bytes(), BPF_NOEXIST);
                });
            }
        });
        std::thread::scope(|s| {
            for cpu in 0..3u32 {
                let m = &m;
                s.spawn(move || {
                    set_current_cpu(cpu as usize + 3); // CPU 3 of a 3-CPU map is CPU 0
                    let v = m.lookup_ptr(&key).unwrap();
                    assert_eq!(v.len, 4);
                    // SAFETY: the element lives as long as `m`; 4 bytes, no writer now.
                    let got = unsafe { std::ptr::read_unaligned(v.ptr.cast::<u32>()) };
                    assert!(got == 0 || got == cpu + 10, "cpu {cpu}: {got}");
                    m.prog_update(&key, &(cpu + 20).to_ne_bytes(), BPF_EXIST)
                        .unwrap();
                });
            }
        });
        let all = m.lookup(&key).unwrap().unwrap();
        let words: Vec<u32> = all
            .chunks(8)
            .map(|c| u32::from_ne_bytes(c[..4].try_into().unwrap()))
            .collect();
        assert_eq!(words, vec![20, 21, 22]);
    }

    #[test]
    fn program_side_queue_and_bloom() {
        let q = Map::create(&MapSpec::new(MapType::Stack, 0, 2, 2)).unwrap();
        let mut out = [0u8; 2];
        assert_eq!(
            q.prog_pop(&mut out).unwrap_err().errno(),
            Some(errno::ENOENT)
        );
        q.prog_push(&[1, 2], BPF_ANY).unwrap();
        q.prog_push(&[3, 4], BPF_ANY).unwrap();
        q.freeze().unwrap();
        assert_eq!(
            q.push(&[5, 6], BPF_ANY).unwrap_err().errno(),
            Some(errno::EPERM)
        );
        // Programs still write a frozen map.
        q.prog_push(&[5, 6], BPF_EXIST).unwrap();
        q.prog_peek(&mut out).unwrap();
        assert_eq!(out, [5, 6]);
        q.prog_pop(&mut out).unwrap();
        q.prog_pop(&mut out).unwrap();
        assert_eq!(out, [3, 4]);
        let b = Map::create(&MapSpec::new(MapType::BloomFilter, 0, 4, 8)).unwrap();
        b.prog_push(&[1, 2, 3, 4], BPF_ANY).unwrap();
        b.prog_peek(&mut [1, 2, 3, 4]).unwrap();
        assert!(b.prog_pop(&mut [0; 4]).is_err());
        assert!(q.prog_peek(&mut [0; 3]).is_err(), "wrong size");
    }
}
