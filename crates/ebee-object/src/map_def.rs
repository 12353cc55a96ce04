//! Map definitions: legacy `maps` sections (`struct bpf_map_def`, and
//! iproute2's longer `struct bpf_elf_map`), BTF-defined `.maps`, and the
//! single-entry array maps libbpf makes of global data sections.

use crate::btf::{Btf, TypeId, TypeKind};
use crate::error::ObjectError;

/// The kernel's `enum bpf_map_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)] // each variant is the kernel's BPF_MAP_TYPE_<NAME>
pub enum MapType {
    Unspec,
    Hash,
    Array,
    ProgArray,
    PerfEventArray,
    PercpuHash,
    PercpuArray,
    StackTrace,
    CgroupArray,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    ArrayOfMaps,
    HashOfMaps,
    Devmap,
    Sockmap,
    Cpumap,
    Xskmap,
    Sockhash,
    CgroupStorage,
    ReuseportSockarray,
    PercpuCgroupStorage,
    Queue,
    Stack,
    SkStorage,
    DevmapHash,
    StructOps,
    Ringbuf,
    InodeStorage,
    TaskStorage,
    BloomFilter,
    UserRingbuf,
    CgrpStorage,
    Arena,
    /// A number this crate does not know (kept, so the kernel can judge it).
    Other(u32),
}

const MAP_TYPES: [MapType; 34] = {
    use MapType::*;
    [
        Unspec,
        Hash,
        Array,
        ProgArray,
        PerfEventArray,
        PercpuHash,
        PercpuArray,
        StackTrace,
        CgroupArray,
        LruHash,
        LruPercpuHash,
        LpmTrie,
        ArrayOfMaps,
        HashOfMaps,
        Devmap,
        Sockmap,
        Cpumap,
        Xskmap,
        Sockhash,
        CgroupStorage,
        ReuseportSockarray,
        PercpuCgroupStorage,
        Queue,
        Stack,
        SkStorage,
        DevmapHash,
        StructOps,
        Ringbuf,
        InodeStorage,
        TaskStorage,
        BloomFilter,
        UserRingbuf,
        CgrpStorage,
        Arena,
    ]
};

impl MapType {
    /// The type with kernel number `n`.
    pub fn from_number(n: u32) -> MapType {
        MAP_TYPES
            .get(n as usize)
            .copied()
            .unwrap_or(MapType::Other(n))
    }

    /// The kernel's number.
    pub fn number(self) -> u32 {
        match self {
            MapType::Other(n) => n,
            t => MAP_TYPES.iter().position(|&m| m == t).unwrap_or(0) as u32,
        }
    }

    /// Maps whose values are other maps.
    pub fn is_map_in_map(self) -> bool {
        matches!(self, MapType::ArrayOfMaps | MapType::HashOfMaps)
    }
}

/// `BPF_F_RDONLY_PROG`: programs may only read the map.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// `BPF_F_NUMA_NODE`: `numa_node` is valid.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// `BPF_F_LINK`: a `struct_ops` map attached through a link (`.struct_ops.link`).
pub const BPF_F_LINK: u32 = 1 << 13;
/// `BPF_F_MMAPABLE`: the map can be mmap()ed (libbpf sets it on globals).
pub const BPF_F_MMAPABLE: u32 = 1 << 10;

/// The largest map value the kernel allocates (`KMALLOC_MAX_SIZE` on
/// x86-64 and arm64 with 4 KiB pages): bigger global sections cannot load.
pub const MAX_GLOBAL_SIZE: u64 = 4 << 20;

/// Which global data section a global map stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GlobalKind {
    /// `.data`, `.data.*`: initialized, writable.
    Data,
    /// `.rodata`, `.rodata.*`: initialized, read-only for programs, frozen after load.
    Rodata,
    /// `.bss`, `.bss.*`: zero-initialized, writable.
    Bss,
}

/// Where a map definition came from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapOrigin {
    /// A legacy definition in the `maps` section at `offset`, `def_size` bytes long.
    Legacy {
        /// Byte offset in the section.
        offset: u64,
        /// Size of one definition (section size / number of map symbols).
        def_size: u64,
    },
    /// A BTF-defined map in `.maps` at `offset`.
    Btf {
        /// Byte offset in the section.
        offset: u64,
    },
    /// A global data section.
    Global(GlobalKind),
    /// A `struct_ops` variable in `.struct_ops` or `.struct_ops.link` at `offset`.
    StructOps {
        /// Byte offset in the section.
        offset: u64,
    },
}

/// An initial entry of a prog array or map-in-map
/// (`.values = { [2] = &prog }` in a BTF map definition), or a program
/// implementing a `struct_ops` member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSlot {
    /// The key (array index); for `struct_ops` maps, the byte offset of
    /// the function pointer member in the value.
    pub index: u32,
    /// What to store there.
    pub target: SlotTarget,
}

/// What an initial map slot points to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlotTarget {
    /// A program, by function name.
    Program(String),
    /// A map, by name.
    Map(String),
}

/// One map the object defines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// The map's name (symbol name; section name for globals).
    pub name: String,
    /// The ELF section it is defined in.
    pub section: String,
    /// Where the definition came from.
    pub origin: MapOrigin,
    /// The map type.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `map_flags` (`BPF_F_*`).
    pub flags: u32,
    /// NUMA node (when `BPF_F_NUMA_NODE` is in `flags`).
    pub numa_node: u32,
    /// Pinning (`LIBBPF_PIN_BY_NAME` = 1; iproute2's `PIN_*` for legacy defs).
    pub pinning: u32,
    /// `map_extra` (bloom filter hash count, arena address...).
    pub map_extra: u64,
    /// For map-in-map: the definition of the inner maps (BTF `values`).
    pub inner: Option<Box<MapDef>>,
    /// For legacy map-in-map: the index in [`crate::Object::maps`] of the
    /// map used as inner template.
    pub inner_index: Option<usize>,
    /// Initial entries of prog arrays and map-in-maps (BTF `values`).
    pub slots: Vec<MapSlot>,
    /// Initial contents of global data maps (zeros for `.bss`).
    pub data: Option<Vec<u8>>,
    /// The map must be frozen after its contents are written (`.rodata`).
    pub frozen: bool,
    /// BTF type of the key, if known.
    pub btf_key_type_id: Option<TypeId>,
    /// BTF type of the value (the `DATASEC` for globals), if known.
    pub btf_value_type_id: Option<TypeId>,
    /// Words of a legacy definition beyond the five standard ones
    /// (`inner_map_idx, numa_node` in kernel samples; `id, pinning,
    /// inner_id, inner_idx` in iproute2's `bpf_elf_map`).
    pub legacy_extra: Vec<u32>,
}

impl MapDef {
    fn empty(name: String, section: String, origin: MapOrigin) -> MapDef {
        MapDef {
            name,
            section,
            origin,
            map_type: MapType::Unspec,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            flags: 0,
            numa_node: 0,
            pinning: 0,
            map_extra: 0,
            inner: None,
            inner_index: None,
            slots: Vec::new(),
            data: None,
            frozen: false,
            btf_key_type_id: None,
            btf_value_type_id: None,
            legacy_extra: Vec::new(),
        }
    }

    /// A global data section as a single-entry array map.
    pub(crate) fn global(
        section: &str,
        kind: GlobalKind,
        size: u64,
        bytes: &[u8],
    ) -> Result<MapDef, ObjectError> {
        if size > MAX_GLOBAL_SIZE {
            return Err(ObjectError::section(
                section,
                format!("global data section of {size} bytes is larger than a map value may be ({MAX_GLOBAL_SIZE})"),
            ));
        }
        let value_size = size as u32;
        let mut m = MapDef::empty(
            section.to_string(),
            section.to_string(),
            MapOrigin::Global(kind),
        );
        m.map_type = MapType::Array;
        m.key_size = 4;
        m.value_size = value_size;
        m.max_entries = 1;
        // `BPF_F_MMAPABLE` is added by the caller when BTF shows a
        // variable userspace can see (libbpf's rule).
        m.flags = if kind == GlobalKind::Rodata {
            BPF_F_RDONLY_PROG
        } else {
            0
        };
        m.frozen = kind == GlobalKind::Rodata;
        m.data = Some(match kind {
            GlobalKind::Bss => vec![0; value_size as usize],
            _ => {
                let mut d = bytes.to_vec();
                d.resize(value_size as usize, 0);
                d
            }
        });
        Ok(m)
    }

    /// A `struct_ops` map: the variable `name` of local type `ty`, whose
    /// bytes are `data` (the kernel's value layout is found at load time).
    pub(crate) fn struct_ops(
        name: &str,
        section: &str,
        offset: u64,
        ty: TypeId,
        data: &[u8],
    ) -> MapDef {
        let mut m = MapDef::empty(
            name.to_string(),
            section.to_string(),
            MapOrigin::StructOps { offset },
        );
        m.map_type = MapType::StructOps;
        m.key_size = 4;
        m.value_size = data.len() as u32;
        m.max_entries = 1;
        m.flags = if section == ".struct_ops.link" {
            BPF_F_LINK
        } else {
            0
        };
        m.data = Some(data.to_vec());
        m.btf_value_type_id = Some(ty);
        m
    }

    /// A legacy definition: `def` holds the bytes of one entry (any size;
    /// missing trailing words read as zero, like libbpf).
    pub(crate) fn legacy(name: &str, section: &str, offset: u64, def: &[u8]) -> MapDef {
        let words: Vec<u32> = def
            .chunks(4)
            .map(|c| {
                let mut b = [0u8; 4];
                b[..c.len()].copy_from_slice(c);
                u32::from_le_bytes(b)
            })
            .collect();
        let w = |i: usize| words.get(i).copied().unwrap_or(0);
        let mut m = MapDef::empty(
            name.to_string(),
            section.to_string(),
            MapOrigin::Legacy {
                offset,
                def_size: def.len() as u64,
            },
        );
        m.map_type = MapType::from_number(w(0));
        m.key_size = w(1);
        m.value_size = w(2);
        m.max_entries = w(3);
        m.flags = w(4);
        m.legacy_extra = words.iter().skip(5).copied().collect();
        if def.len() >= 36 {
            // iproute2 `struct bpf_elf_map`: id, pinning, inner_id, inner_idx.
            m.pinning = w(6);
        } else if def.len() >= 28 && m.flags & BPF_F_NUMA_NODE != 0 {
            // Kernel samples: inner_map_idx, numa_node. (Old iproute2 and
            // Cilium objects put id, pinning there instead, so word 6 is a
            // NUMA node only when the flags ask for one.)
            m.numa_node = w(6);
        }
        m
    }

    /// Parse a BTF-defined map: `var_type` is the type of the `.maps`
    /// variable (a struct of `__uint`/`__type`/`__array` members).
    pub(crate) fn from_btf(
        name: &str,
        section: &str,
        offset: u64,
        btf: &Btf,
        var_type: TypeId,
    ) -> Result<MapDef, ObjectError> {
        let mut m = MapDef::empty(
            name.to_string(),
            section.to_string(),
            MapOrigin::Btf { offset },
        );
        parse_btf_def(&mut m, btf, var_type, true)?;
        Ok(m)
    }
}

fn map_err(m: &MapDef, what: impl Into<String>) -> ObjectError {
    ObjectError::Map {
        map: m.name.clone(),
        what: what.into(),
    }
}

/// `__uint(name, N)` is `int (*name)[N]`: N is the array length.
fn uint_member(btf: &Btf, m: &MapDef, member: &str, ty: TypeId) -> Result<u32, ObjectError> {
    let ptr = btf.skip_modifiers(ty)?;
    if let Some(TypeKind::Ptr(arr)) = btf.type_by_id(ptr).map(|t| &t.kind) {
        let arr = btf.skip_modifiers(*arr)?;
        if let Some(TypeKind::Array { len, .. }) = btf.type_by_id(arr).map(|t| &t.kind) {
            return Ok(*len);
        }
    }
    Err(map_err(
        m,
        format!("member `{member}` is not an __uint() (pointer to array)"),
    ))
}

/// `__type(name, T)` is `T *name`: T is the pointee.
fn type_member(btf: &Btf, m: &MapDef, member: &str, ty: TypeId) -> Result<TypeId, ObjectError> {
    let ptr = btf.skip_modifiers(ty)?;
    match btf.type_by_id(ptr).map(|t| &t.kind) {
        Some(TypeKind::Ptr(t)) => Ok(*t),
        _ => Err(map_err(
            m,
            format!("member `{member}` is not a __type() (pointer)"),
        )),
    }
}

fn parse_btf_def(m: &mut MapDef, btf: &Btf, ty: TypeId, outer: bool) -> Result<(), ObjectError> {
    let sid = btf.skip_modifiers(ty)?;
    let st = btf
        .type_by_id(sid)
        .ok_or_else(|| map_err(m, format!("type {sid} does not exist")))?;
    let members = match &st.kind {
        TypeKind::Struct { members, .. } => members.clone(),
        _ => {
            return Err(map_err(
                m,
                format!("definition is a {}, not a struct", st.kind_name()),
            ))
        }
    };
    for mem in &members {
        let name = mem.name.as_str();
        match name {
            "type" => m.map_type = MapType::from_number(uint_member(btf, m, name, mem.ty)?),
            "max_entries" => m.max_entries = uint_member(btf, m, name, mem.ty)?,
            "map_flags" => m.flags = uint_member(btf, m, name, mem.ty)?,
            "numa_node" => m.numa_node = uint_member(btf, m, name, mem.ty)?,
            "pinning" => m.pinning = uint_member(btf, m, name, mem.ty)?,
            "map_extra" => m.map_extra = u64::from(uint_member(btf, m, name, mem.ty)?),
            "key_size" | "value_size" => {
                let v = uint_member(btf, m, name, mem.ty)?;
                let old = if name == "key_size" {
                    m.key_size
                } else {
                    m.value_size
                };
                if old != 0 && old != v {
                    return Err(map_err(m, format!("conflicting {name} {v} and {old}")));
                }
                if name == "key_size" {
                    m.key_size = v;
                } else {
                    m.value_size = v;
                }
            }
            "key" | "value" => {
                let t = type_member(btf, m, name, mem.ty)?;
                let size = btf
                    .size_of(t)
                    .map_err(|e| map_err(m, format!("{name} type: {e}")))?;
                let size =
                    u32::try_from(size).map_err(|_| map_err(m, format!("{name} is too large")))?;
                let old = if name == "key" {
                    m.key_size
                } else {
                    m.value_size
                };
                if old != 0 && old != size {
                    return Err(map_err(
                        m,
                        format!("conflicting {name} size {size} and {old}"),
                    ));
                }
                if name == "key" {
                    m.key_size = size;
                    m.btf_key_type_id = Some(t);
                } else {
                    m.value_size = size;
                    m.btf_value_type_id = Some(t);
                }
            }
            "values" => {
                // `__array(values, T)` is `T *values[]`.
                let arr = btf.skip_modifiers(mem.ty)?;
                let elem = match btf.type_by_id(arr).map(|t| &t.kind) {
                    Some(TypeKind::Array { elem, len: 0, .. }) => *elem,
                    _ => return Err(map_err(m, "`values` is not a flexible array (__array)")),
                };
                let ptr = btf.skip_modifiers(elem)?;
                let inner_ty = match btf.type_by_id(ptr).map(|t| &t.kind) {
                    Some(TypeKind::Ptr(t)) => *t,
                    _ => return Err(map_err(m, "`values` elements are not pointers")),
                };
                if !outer {
                    return Err(map_err(m, "inner map definition has `values` itself"));
                }
                let is_prog = match btf
                    .type_by_id(btf.skip_modifiers(inner_ty)?)
                    .map(|t| &t.kind)
                {
                    Some(TypeKind::FuncProto { .. }) => true,
                    Some(TypeKind::Struct { .. }) => false,
                    _ => {
                        return Err(map_err(
                            m,
                            "`values` must point to a map definition or a function",
                        ))
                    }
                };
                if !is_prog {
                    let mut inner = MapDef::empty(
                        format!("{}.inner", m.name),
                        m.section.clone(),
                        m.origin.clone(),
                    );
                    parse_btf_def(&mut inner, btf, inner_ty, false)?;
                    m.inner = Some(Box::new(inner));
                }
                if m.value_size == 0 {
                    m.value_size = 4;
                }
            }
            // libbpf rejects what it does not understand, and so do we:
            // a member we ignored could change what the map is.
            other => {
                return Err(map_err(
                    m,
                    format!("unknown map definition member `{other}`"),
                ))
            }
        }
    }
    if m.map_type.is_map_in_map() && m.key_size == 0 {
        m.key_size = 4;
    }
    Ok(())
}
