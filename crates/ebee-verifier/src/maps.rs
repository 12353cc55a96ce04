//! What the verifier needs to know about the maps a program references.

/// Kernel map type numbers (`enum bpf_map_type`) the verifier treats specially.
pub mod map_type {
    /// `BPF_MAP_TYPE_HASH`
    pub const HASH: u32 = 1;
    /// `BPF_MAP_TYPE_ARRAY`
    pub const ARRAY: u32 = 2;
    /// `BPF_MAP_TYPE_PROG_ARRAY`
    pub const PROG_ARRAY: u32 = 3;
    /// `BPF_MAP_TYPE_PERF_EVENT_ARRAY`
    pub const PERF_EVENT_ARRAY: u32 = 4;
    /// `BPF_MAP_TYPE_PERCPU_HASH`
    pub const PERCPU_HASH: u32 = 5;
    /// `BPF_MAP_TYPE_PERCPU_ARRAY`
    pub const PERCPU_ARRAY: u32 = 6;
    /// `BPF_MAP_TYPE_STACK_TRACE`
    pub const STACK_TRACE: u32 = 7;
    /// `BPF_MAP_TYPE_CGROUP_ARRAY`
    pub const CGROUP_ARRAY: u32 = 8;
    /// `BPF_MAP_TYPE_LRU_HASH`
    pub const LRU_HASH: u32 = 9;
    /// `BPF_MAP_TYPE_LRU_PERCPU_HASH`
    pub const LRU_PERCPU_HASH: u32 = 10;
    /// `BPF_MAP_TYPE_LPM_TRIE`
    pub const LPM_TRIE: u32 = 11;
    /// `BPF_MAP_TYPE_ARRAY_OF_MAPS`
    pub const ARRAY_OF_MAPS: u32 = 12;
    /// `BPF_MAP_TYPE_HASH_OF_MAPS`
    pub const HASH_OF_MAPS: u32 = 13;
    /// `BPF_MAP_TYPE_DEVMAP`
    pub const DEVMAP: u32 = 14;
    /// `BPF_MAP_TYPE_SOCKMAP`
    pub const SOCKMAP: u32 = 15;
    /// `BPF_MAP_TYPE_CPUMAP`
    pub const CPUMAP: u32 = 16;
    /// `BPF_MAP_TYPE_XSKMAP`
    pub const XSKMAP: u32 = 17;
    /// `BPF_MAP_TYPE_SOCKHASH`
    pub const SOCKHASH: u32 = 18;
    /// `BPF_MAP_TYPE_QUEUE`
    pub const QUEUE: u32 = 22;
    /// `BPF_MAP_TYPE_STACK`
    pub const STACK: u32 = 23;
    /// `BPF_MAP_TYPE_DEVMAP_HASH`
    pub const DEVMAP_HASH: u32 = 25;
    /// `BPF_MAP_TYPE_RINGBUF`
    pub const RINGBUF: u32 = 27;
    /// `BPF_MAP_TYPE_BLOOM_FILTER`: push adds a value, peek tests for one.
    pub const BLOOM_FILTER: u32 = 30;
}

/// `BPF_F_RDONLY_PROG`: the program may only read the map's values.
pub const F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_WRONLY_PROG`: the program may only write the map's values.
pub const F_WRONLY_PROG: u32 = 1 << 8;

/// A map's shape, as given to `BPF_MAP_CREATE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MapInfo {
    /// Kernel map type number (see [`map_type`]).
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Capacity.
    pub max_entries: u32,
    /// `map_flags`.
    pub flags: u32,
    /// Offset of the `struct bpf_spin_lock` in the value, if the value has
    /// one (known from the map's BTF).
    pub spin_lock_offset: Option<u32>,
}

impl MapInfo {
    /// Whether lookups return a pointer to the value (rather than being
    /// forbidden, as for program arrays, perf event arrays and ring buffers).
    pub fn has_values(&self) -> bool {
        !matches!(
            self.map_type,
            map_type::PROG_ARRAY
                | map_type::PERF_EVENT_ARRAY
                | map_type::RINGBUF
                | map_type::STACK_TRACE
                | map_type::CGROUP_ARRAY
                | map_type::QUEUE
                | map_type::STACK
                | map_type::BLOOM_FILTER
                | map_type::SOCKMAP
                | map_type::SOCKHASH
                | map_type::DEVMAP
                | map_type::DEVMAP_HASH
                | map_type::CPUMAP
                | map_type::XSKMAP
        )
    }

    /// Whether this map holds other maps (a lookup returns a map or NULL).
    pub fn is_map_in_map(&self) -> bool {
        matches!(
            self.map_type,
            map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS
        )
    }

    /// Whether this is an array (lookups with a constant in-range key never fail).
    pub fn is_array(&self) -> bool {
        matches!(self.map_type, map_type::ARRAY | map_type::PERCPU_ARRAY)
    }
}

/// How an instruction names a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MapRef {
    /// By position in the program's map array (`lddw` source 5 and 6).
    Index(u32),
    /// By file descriptor (`lddw` source 1 and 2).
    Fd(i32),
    /// The maps stored in the map-in-map `Index(n)` (all shaped like its
    /// inner template): what a lookup in it returns.
    InnerOfIndex(u32),
    /// The maps stored in the map-in-map `Fd(n)`.
    InnerOfFd(i32),
}

/// The maps a program may reference, by index and by descriptor.
#[derive(Debug, Clone, Default)]
pub struct Maps {
    entries: Vec<(MapRef, MapInfo)>,
}

impl Maps {
    /// No maps.
    pub fn new() -> Maps {
        Maps::default()
    }

    /// Maps by index: `infos[i]` is map index `i`.
    pub fn from_indexed(infos: &[MapInfo]) -> Maps {
        let mut m = Maps::new();
        for (i, info) in infos.iter().enumerate() {
            m.insert(MapRef::Index(i as u32), *info);
        }
        m
    }

    /// Add (or replace) a map.
    pub fn insert(&mut self, r: MapRef, info: MapInfo) {
        self.entries.retain(|(k, _)| *k != r);
        self.entries.push((r, info));
    }

    /// The map `r` names.
    pub fn get(&self, r: MapRef) -> Option<&MapInfo> {
        self.entries.iter().find(|(k, _)| *k == r).map(|(_, v)| v)
    }
}
