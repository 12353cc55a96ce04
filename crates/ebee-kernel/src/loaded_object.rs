//! A whole object in the kernel: its BTF, every map it defines, every entry
//! program, in the order libbpf takes the same steps.
//!
//! 1. `BPF_BTF_LOAD` of the object's BTF. If the kernel refuses it, the
//!    load goes on without BTF (maps without key/value types, programs
//!    without func/line info), as libbpf does; [`LoadedObject::btf_error`]
//!    keeps the reason.
//! 2. `BPF_MAP_CREATE` for each map, with its BTF key/value types when there
//!    are some (retried without them if the kernel refuses the types). Map-in-map
//!    types get an inner map fd: the legacy `inner_map_idx` map, or a
//!    template created from the BTF `values` definition and closed after.
//!    Global data maps (`.data`, `.rodata`, `.bss`) get their initial
//!    contents; `.rodata` is then frozen, so the verifier may treat it as
//!    constant.
//! 3. For each entry program (or those of [`ObjectLoadOptions::only_programs`]):
//!    CO-RE relocations against the kernel's BTF (when it has any), map
//!    references bound to the real fds, then `BPF_PROG_LOAD` with the
//!    section's program type, expected attach type and flags (sleepable,
//!    XDP frags), the BTF func/line info, and for tracing/LSM sections the
//!    attach target's id in the kernel's BTF. Kfunc calls and `__ksym`
//!    variables are resolved against the kernel (BTF ids; kallsyms for
//!    untyped variables); `__kconfig` values live in a frozen `.kconfig`
//!    map ([`ObjectLoadOptions::kconfig`]). `struct_ops` maps are refused
//!    with an error saying so.
//! 4. Initial slots of prog arrays and map-in-maps (`.values = { ... }`):
//!    the program and map fds.

use std::collections::HashMap;
use std::os::fd::AsRawFd;

use ebee_isa::{CallTarget, Imm64Kind, Insn};
use ebee_object::btf::TypeKind;
use ebee_object::{
    Btf, ExternKind, MapBinding, MapDef, MapOrigin, MapType, Object, ObjectError, Program,
    RelocKind, SlotTarget,
};

use crate::btf::{BtfLoadError, KernelBtf};
use crate::error::LoadError;
use crate::kconfig;
use crate::map::{possible_cpus, KernelMap, MapError, MapSpec, BPF_ANY};
use crate::prog::{KernelProgram, LoadOptions, ProgramBtf};
use crate::sys::OBJ_NAME_LEN;
use crate::AttachType;
use crate::ProgramType;

/// `BPF_F_SLEEPABLE` program flag.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// `BPF_F_XDP_HAS_FRAGS` program flag.
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// The kernel's BTF, the target of CO-RE relocations.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// How to load an object.
#[derive(Debug, Clone)]
pub struct ObjectLoadOptions {
    /// Log level, log sizes and extra `prog_flags` for every program (the
    /// name and expected attach type come from the object).
    pub program: LoadOptions,
    /// Load the object's BTF and give it to maps and programs (default).
    pub use_btf: bool,
    /// The BTF CO-RE relocations are resolved against; `None`: the running
    /// kernel's (`/sys/kernel/btf/vmlinux`), read only if a program needs it.
    pub core_target: Option<Btf>,
    /// The program type for programs whose section name names none
    /// (`.text`, `test`, iproute2's `2/1` tail-call sections); `None`:
    /// such programs are an error, as in libbpf.
    pub default_program_type: Option<ProgramType>,
    /// Load only the entry programs with these names (all maps are still
    /// created); `None`: every entry program. Prog-array slots naming a
    /// program left out stay empty.
    pub only_programs: Option<Vec<String>>,
    /// The kernel configuration (`CONFIG_X=y` lines) `__kconfig` externs
    /// are read from; `None`: `/boot/config-<release>` when it exists.
    /// `LINUX_KERNEL_VERSION` always comes from the running kernel.
    pub kconfig: Option<String>,
}

impl Default for ObjectLoadOptions {
    fn default() -> ObjectLoadOptions {
        ObjectLoadOptions {
            program: LoadOptions::default(),
            use_btf: true,
            core_target: None,
            default_program_type: None,
            only_programs: None,
            kconfig: None,
        }
    }
}

/// Loading an object failed: which map or program, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectLoadError {
    /// A map could not be created.
    #[error("creating map {map:?}: {source}")]
    MapCreate {
        /// The map's name in the object.
        map: String,
        /// What the kernel said.
        #[source]
        source: MapError,
    },
    /// A map's initial contents or slots could not be written.
    #[error("initialising map {map:?}: {source}")]
    MapInit {
        /// The map's name in the object.
        map: String,
        /// What the kernel said.
        #[source]
        source: MapError,
    },
    /// The kernel rejected a program; the message ends with the verifier log's tail.
    #[error("loading program {program:?} (section {section:?}): {source}")]
    Program {
        /// The program's name.
        program: String,
        /// Its section.
        section: String,
        /// The rejection, with the verifier log.
        #[source]
        source: LoadError,
    },
    /// Preparing a program's instructions failed (binding maps, CO-RE).
    #[error("preparing program {program:?}: {source}")]
    Relocation {
        /// The program's name.
        program: String,
        /// What went wrong.
        #[source]
        source: Box<ObjectError>,
    },
    /// The `__kconfig` externs could not be given values.
    #[error("__kconfig: {0}")]
    Kconfig(String),
    /// The object needs something this loader does not do.
    #[error("{0}")]
    Unsupported(String),
}

/// An object loaded into the kernel: its maps and programs, each owned
/// through its file descriptor (all closed on drop).
#[derive(Debug)]
pub struct LoadedObject {
    btf: Option<KernelBtf>,
    btf_error: Option<BtfLoadError>,
    /// By the map's index in the object.
    maps: Vec<(String, KernelMap)>,
    programs: Vec<(String, KernelProgram)>,
    /// Offsets of the `__kconfig` externs in the `.kconfig` map's value.
    kconfig_offsets: HashMap<String, u32>,
}

impl LoadedObject {
    /// Loads `obj`: BTF, maps, programs, initial slots (see the module docs).
    pub fn load(obj: &Object, opts: &ObjectLoadOptions) -> Result<LoadedObject, ObjectLoadError> {
        let (btf, btf_error) = match obj.btf().filter(|_| opts.use_btf) {
            Some(b) => match KernelBtf::load(&b.to_bytes()) {
                Ok(k) => (Some(k), None),
                Err(e) => (None, Some(e)),
            },
            None => (None, None),
        };
        let mut loaded = LoadedObject {
            btf,
            btf_error,
            maps: Vec::with_capacity(obj.maps().len()),
            programs: Vec::new(),
            kconfig_offsets: HashMap::new(),
        };
        loaded.create_maps(obj)?;
        // After the object's maps, so their indices stay the object's.
        if let Some(k) =
            kconfig::build(obj, opts.kconfig.as_deref()).map_err(ObjectLoadError::Kconfig)?
        {
            loaded.maps.push((".kconfig".to_string(), k.map));
            loaded.kconfig_offsets = k.offsets;
        }
        loaded.load_programs(obj, opts)?;
        loaded.fill_slots(obj, opts)?;
        Ok(loaded)
    }

    /// The map the object calls `name` (globals: `.data`, `.rodata`, `.bss`...).
    pub fn map(&self, name: &str) -> Option<&KernelMap> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// The program (function) called `name`.
    pub fn program(&self, name: &str) -> Option<&KernelProgram> {
        self.programs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p)
    }

    /// Every map with its name, in the object's order.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &KernelMap)> {
        self.maps.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// Every program with its name, in the object's order.
    pub fn programs(&self) -> impl Iterator<Item = (&str, &KernelProgram)> {
        self.programs.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// The object's BTF in the kernel, if it has BTF and the kernel took it.
    pub fn btf(&self) -> Option<&KernelBtf> {
        self.btf.as_ref()
    }

    /// Why the kernel refused the object's BTF (the load went on without).
    pub fn btf_error(&self) -> Option<&BtfLoadError> {
        self.btf_error.as_ref()
    }

    fn create_maps(&mut self, obj: &Object) -> Result<(), ObjectLoadError> {
        // Map-in-maps need their inner template (a map of the object, for
        // legacy definitions) to exist first: create them in a second pass,
        // then restore the object's order.
        let defs = obj.maps();
        let mut created: Vec<Option<KernelMap>> = (0..defs.len()).map(|_| None).collect();
        for pass_inner in [false, true] {
            for (i, def) in defs.iter().enumerate() {
                if def.map_type.is_map_in_map() != pass_inner {
                    continue;
                }
                let inner_fd = if pass_inner {
                    Some(self.inner_template(def, &created)?)
                } else {
                    None
                };
                let map = self.create_map(def, inner_fd.as_ref().map(InnerFd::raw))?;
                created[i] = Some(map);
            }
        }
        for (def, map) in defs.iter().zip(created) {
            let Some(map) = map else {
                return Err(ObjectLoadError::Unsupported(format!(
                    "map {:?} was not created",
                    def.name
                )));
            };
            init_contents(def, &map)?;
            self.maps.push((def.name.clone(), map));
        }
        Ok(())
    }

    /// The inner map fd a map-in-map is created with.
    fn inner_template<'m>(
        &self,
        def: &MapDef,
        created: &'m [Option<KernelMap>],
    ) -> Result<InnerFd<'m>, ObjectLoadError> {
        if let Some(idx) = def.inner_index {
            return match created.get(idx) {
                Some(Some(m)) => Ok(InnerFd::Borrowed(m)),
                _ => Err(ObjectLoadError::Unsupported(format!(
                    "map-in-map {:?}: its inner map (map #{idx}) is itself a map-in-map or missing",
                    def.name
                ))),
            };
        }
        match &def.inner {
            Some(inner) => {
                let mut spec = map_spec(inner, None)?;
                spec.name = format!("{}.inner", def.name);
                let map =
                    KernelMap::create(&spec).map_err(|source| ObjectLoadError::MapCreate {
                        map: format!("{} (inner template)", def.name),
                        source,
                    })?;
                Ok(InnerFd::Owned(map))
            }
            None => Err(ObjectLoadError::Unsupported(format!(
                "map-in-map {:?} defines no inner map",
                def.name
            ))),
        }
    }

    fn create_map(
        &self,
        def: &MapDef,
        inner_fd: Option<i32>,
    ) -> Result<KernelMap, ObjectLoadError> {
        let mut spec = map_spec(def, inner_fd)?;
        let plain = spec.clone();
        if let Some(btf) = &self.btf {
            if takes_btf_types(def.map_type)
                && (def.btf_key_type_id.is_some() || def.btf_value_type_id.is_some())
            {
                spec.btf_fd = Some(btf.as_raw_fd());
                spec.btf_key_type_id = def.btf_key_type_id.unwrap_or(0);
                spec.btf_value_type_id = def.btf_value_type_id.unwrap_or(0);
            }
        }
        match KernelMap::create(&spec) {
            Ok(m) => Ok(m),
            // The kernel may refuse the BTF types for this map (older
            // kernels, types it cannot check): like libbpf, retry without.
            Err(_) if spec.btf_fd.is_some() => KernelMap::create(&plain),
            Err(e) => Err(e),
        }
        .map_err(|source| ObjectLoadError::MapCreate {
            map: def.name.clone(),
            source,
        })
    }

    fn load_programs(
        &mut self,
        obj: &Object,
        opts: &ObjectLoadOptions,
    ) -> Result<(), ObjectLoadError> {
        let fds: Vec<i32> = self.maps.iter().map(|(_, m)| m.as_raw_fd()).collect();
        let license = obj.license().unwrap_or("");
        let mut vmlinux = KernelTypes::default();
        let selected = |p: &&Program| {
            opts.only_programs
                .as_ref()
                .is_none_or(|names| names.contains(&p.name))
        };
        if let Some(names) = &opts.only_programs {
            if let Some(missing) = names
                .iter()
                .find(|n| !obj.entry_programs().any(|p| p.name == **n))
            {
                return Err(ObjectLoadError::Unsupported(format!(
                    "the object has no entry program {missing:?}"
                )));
            }
        }
        for p in obj.entry_programs().filter(selected) {
            let relocated;
            let p = if p.core_relos.is_empty() {
                p
            } else {
                let local = obj.btf().ok_or_else(|| {
                    ObjectLoadError::Unsupported(format!(
                        "program {:?} has CO-RE relocations but the object has no BTF",
                        p.name
                    ))
                })?;
                let target = match &opts.core_target {
                    Some(t) => t,
                    None => vmlinux.get()?,
                };
                let mut copy = p.clone();
                copy.relocate_core(local, target).map_err(|source| {
                    ObjectLoadError::Relocation {
                        program: p.name.clone(),
                        source: Box::new(source),
                    }
                })?;
                relocated = copy;
                &relocated
            };
            let attach_btf_id = match attach_btf_name(p) {
                Some((name, kind)) => {
                    vmlinux.get()?.id_by_name_kind(&name, kind).ok_or_else(|| {
                        ObjectLoadError::Unsupported(format!(
                            "program {:?}: the kernel's BTF has no {kind} {name:?} to attach to",
                            p.name
                        ))
                    })?
                }
                None => 0,
            };
            let prog =
                self.load_program(p, obj, &fds, license, opts, attach_btf_id, &mut vmlinux)?;
            self.programs.push((p.name.clone(), prog));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)] // one call site, each argument a different input
    fn load_program(
        &self,
        p: &Program,
        obj: &Object,
        fds: &[i32],
        license: &str,
        load_opts: &ObjectLoadOptions,
        attach_btf_id: u32,
        vmlinux: &mut KernelTypes,
    ) -> Result<KernelProgram, ObjectLoadError> {
        let number = p.program_type().number();
        let prog_type = ProgramType::from_number(number)
            .filter(|t| *t != ProgramType::Unspec)
            .or(load_opts.default_program_type)
            .ok_or_else(|| {
                ObjectLoadError::Unsupported(format!(
                    "program {:?}: section {:?} names no program type this loader knows \
                     (ObjectLoadOptions::default_program_type gives one)",
                    p.name, p.section
                ))
            })?;
        let mut insns =
            p.bind_maps(MapBinding::Fds(fds))
                .map_err(|source| ObjectLoadError::Relocation {
                    program: p.name.clone(),
                    source: Box::new(source),
                })?;
        let kconfig = self
            .map(".kconfig")
            .map(|m| (m.as_raw_fd(), &self.kconfig_offsets));
        resolve_externs(p, obj, &mut insns, vmlinux, kconfig)?;
        let mut opts = load_opts.program.clone();
        opts.attach_btf_id = attach_btf_id;
        opts.name = program_name(&p.name);
        opts.expected_attach_type = p
            .kind
            .attach_type
            .and_then(|a| AttachType::from_number(a.number()));
        if p.kind.sleepable {
            opts.prog_flags |= BPF_F_SLEEPABLE;
        }
        if p.kind.frags {
            opts.prog_flags |= BPF_F_XDP_HAS_FRAGS;
        }
        let func_info: Vec<[u32; 2]> = p.func_info.iter().map(|f| f.to_kernel()).collect();
        let line_info: Vec<[u32; 4]> = p.lines.iter().map(|l| l.to_kernel()).collect();
        let result = match &self.btf {
            Some(btf) if !func_info.is_empty() || !line_info.is_empty() => {
                KernelProgram::load_with_btf(
                    prog_type,
                    &insns,
                    license,
                    &opts,
                    &ProgramBtf {
                        btf: btf.fd(),
                        func_info: &func_info,
                        line_info: &line_info,
                    },
                )
            }
            _ => KernelProgram::load(prog_type, &insns, license, &opts),
        };
        result.map_err(|source| ObjectLoadError::Program {
            program: p.name.clone(),
            section: p.section.clone(),
            source,
        })
    }

    fn fill_slots(&self, obj: &Object, opts: &ObjectLoadOptions) -> Result<(), ObjectLoadError> {
        let left_out = |name: &str| {
            opts.only_programs
                .as_ref()
                .is_some_and(|names| !names.iter().any(|n| n == name))
        };
        for (def, (_, map)) in obj.maps().iter().zip(&self.maps) {
            if is_struct_ops(def) {
                continue;
            }
            for slot in &def.slots {
                if matches!(&slot.target, SlotTarget::Program(name) if left_out(name)) {
                    continue;
                }
                let fd = match &slot.target {
                    SlotTarget::Program(name) => self.program(name).map(|p| p.fd().as_raw_fd()),
                    SlotTarget::Map(name) => self.map(name).map(|m| m.as_raw_fd()),
                }
                .ok_or_else(|| {
                    ObjectLoadError::Unsupported(format!(
                        "map {:?} slot {}: {:?} is not loaded",
                        def.name, slot.index, slot.target
                    ))
                })?;
                map.update(
                    &slot.index.to_ne_bytes(),
                    &(fd as u32).to_ne_bytes(),
                    BPF_ANY,
                )
                .map_err(|source| ObjectLoadError::MapInit {
                    map: def.name.clone(),
                    source,
                })?;
            }
        }
        Ok(())
    }
}

/// Is this a `struct_ops` definition (slots are member offsets, not keys)?
fn is_struct_ops(def: &MapDef) -> bool {
    matches!(def.origin, MapOrigin::StructOps { .. })
}

/// The inner map of a map-in-map: one of the object's, or a template
/// created for the occasion (closed once the outer map exists).
enum InnerFd<'m> {
    Borrowed(&'m KernelMap),
    Owned(KernelMap),
}

impl InnerFd<'_> {
    fn raw(&self) -> i32 {
        match self {
            InnerFd::Borrowed(m) => m.as_raw_fd(),
            InnerFd::Owned(m) => m.as_raw_fd(),
        }
    }
}

/// The `BPF_MAP_CREATE` parameters of a definition, without BTF.
fn map_spec(def: &MapDef, inner_fd: Option<i32>) -> Result<MapSpec, ObjectLoadError> {
    if is_struct_ops(def) || def.map_type == MapType::StructOps {
        return Err(ObjectLoadError::Unsupported(format!(
            "map {:?}: struct_ops maps need the kernel's BTF value type; not supported yet",
            def.name
        )));
    }
    let mut max_entries = def.max_entries;
    if def.map_type == MapType::PerfEventArray && max_entries == 0 {
        // libbpf sizes a perf event array to the CPUs when left at 0.
        max_entries = possible_cpus()
            .map_err(|e| ObjectLoadError::MapCreate {
                map: def.name.clone(),
                source: MapError::Io(e),
            })?
            .try_into()
            .unwrap_or(u32::MAX);
    }
    let (mut key_size, mut value_size) = (def.key_size, def.value_size);
    match def.map_type {
        // A ring buffer's BTF value type says what records look like, but
        // the kernel wants no key or value size (libbpf clears them too).
        MapType::Ringbuf | MapType::UserRingbuf => (key_size, value_size) = (0, 0),
        // Keys are CPU indices and values perf event fds, whatever type the
        // definition gives the records sent through it.
        MapType::PerfEventArray => (key_size, value_size) = (4, 4),
        // Values of map-in-maps and prog arrays are 4-byte fds; legacy
        // definitions (and BTF ones with `__array(values, ...)`) may leave
        // the size unsaid.
        t if (t.is_map_in_map() || t == MapType::ProgArray) && value_size == 0 => value_size = 4,
        _ => {}
    }
    Ok(MapSpec {
        map_type: def.map_type,
        key_size,
        value_size,
        max_entries,
        flags: def.flags,
        name: def.name.clone(),
        btf_fd: None,
        btf_key_type_id: 0,
        btf_value_type_id: 0,
        inner_map_fd: inner_fd,
        numa_node: def.numa_node,
        map_extra: def.map_extra,
    })
}

/// Map types whose BTF key/value types libbpf does not send (their values
/// are fds or the kernel fixes the types).
fn takes_btf_types(t: MapType) -> bool {
    !matches!(
        t,
        MapType::PerfEventArray
            | MapType::CgroupArray
            | MapType::StackTrace
            | MapType::ArrayOfMaps
            | MapType::HashOfMaps
            | MapType::Devmap
            | MapType::DevmapHash
            | MapType::Cpumap
            | MapType::Xskmap
            | MapType::Sockmap
            | MapType::Sockhash
            | MapType::Queue
            | MapType::Stack
            | MapType::Ringbuf
    )
}

/// Writes a global data map's initial contents, then freezes `.rodata`.
fn init_contents(def: &MapDef, map: &KernelMap) -> Result<(), ObjectLoadError> {
    let err = |source| ObjectLoadError::MapInit {
        map: def.name.clone(),
        source,
    };
    if let Some(data) = &def.data {
        let mut value = vec![0u8; map.value_buf_size()];
        let n = data.len().min(value.len());
        value[..n].copy_from_slice(&data[..n]);
        map.update(&0u32.to_ne_bytes(), &value, BPF_ANY)
            .map_err(err)?;
    }
    if def.frozen {
        map.freeze().map_err(err)?;
    }
    Ok(())
}

/// The name the kernel gets for a program: the function name, characters
/// outside `[A-Za-z0-9_.]` replaced, cut to 15 bytes.
fn program_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(OBJ_NAME_LEN - 1)
        .collect()
}

/// For programs that name their target in the kernel's BTF at load time:
/// the type to look up (name, BTF kind), from the section name.
fn attach_btf_name(p: &Program) -> Option<(String, &'static str)> {
    use ebee_object::AttachType as A;
    let target = p.attach_target()?;
    match p.kind.attach_type? {
        A::TraceFentry | A::TraceFexit | A::ModifyReturn => Some((target.to_string(), "FUNC")),
        A::TraceRawTp => Some((format!("btf_trace_{target}"), "TYPEDEF")),
        A::LsmMac | A::LsmCgroup => Some((format!("bpf_lsm_{target}"), "FUNC")),
        A::TraceIter => Some((format!("bpf_iter_{target}"), "FUNC")),
        _ => None,
    }
}

/// The running kernel's BTF, read once and only when a program needs it.
#[derive(Default)]
struct KernelTypes(Option<Btf>);

impl KernelTypes {
    fn get(&mut self) -> Result<&Btf, ObjectLoadError> {
        if self.0.is_none() {
            self.0 = Some(read_vmlinux_btf()?);
        }
        self.0
            .as_ref()
            .ok_or_else(|| ObjectLoadError::Unsupported("no kernel BTF".to_string()))
    }
}

/// Points the extern references of `insns` at the kernel: kfunc calls
/// become `call` of the function's BTF id (`src_reg = 2`), typed `__ksym`
/// variables `lddw` of their BTF id (`src_reg = 3`), untyped ones `lddw`
/// of their address from `/proc/kallsyms`. `__kconfig` values are not
/// resolved (an error says so).
fn resolve_externs(
    p: &Program,
    obj: &Object,
    insns: &mut [Insn],
    vmlinux: &mut KernelTypes,
    kconfig: Option<(i32, &HashMap<String, u32>)>,
) -> Result<(), ObjectLoadError> {
    let unsupported = |what: String| {
        Err(ObjectLoadError::Unsupported(format!(
            "program {:?}: {what}",
            p.name
        )))
    };
    for r in &p.relocs {
        let RelocKind::Extern { symbol, call } = &r.kind else {
            continue;
        };
        let ext = obj.externs().iter().find(|e| e.name == *symbol);
        let kind = ext.map_or(ExternKind::Unknown, |e| e.kind);
        if kind == ExternKind::Kconfig {
            let place = kconfig.and_then(|(fd, offsets)| Some((fd, *offsets.get(symbol)?)));
            match (place, insns.get(r.pc).copied()) {
                (Some((fd, off)), Some(Insn::LdImm64 { dst, .. })) => {
                    insns[r.pc] = Insn::LdImm64 {
                        dst,
                        kind: Imm64Kind::MapValue,
                        imm: (i64::from(off) << 32) | i64::from(fd as u32),
                    };
                    continue;
                }
                _ => {
                    return unsupported(format!(
                        "pc {}: the __kconfig value {symbol:?} has no place in .kconfig",
                        r.pc
                    ))
                }
            }
        }
        let btf = vmlinux.get()?;
        match (kind, *call, insns.get(r.pc).copied()) {
            (ExternKind::Kfunc, true, Some(Insn::Call(_))) => {
                let Some(id) = btf.id_by_name_kind(symbol, "FUNC") else {
                    return unsupported(format!(
                        "pc {}: the kernel's BTF has no kfunc {symbol:?}",
                        r.pc
                    ));
                };
                insns[r.pc] = Insn::Call(CallTarget::Kfunc {
                    btf_id: id as i32,
                    module: 0,
                });
            }
            (ExternKind::Ksym, false, Some(Insn::LdImm64 { dst, .. })) => {
                // Typed when the variable's type is not (const) void.
                let typed = ext.and_then(|e| e.btf_type).is_some_and(|t| {
                    let Some(local) = obj.btf() else {
                        return false;
                    };
                    match local.type_by_id(t).map(|t| &t.kind) {
                        Some(TypeKind::Var { ty, .. }) => {
                            local.skip_modifiers(*ty).is_ok_and(|inner| inner != 0)
                        }
                        _ => false,
                    }
                });
                insns[r.pc] = if typed {
                    let Some(id) = btf.id_by_name_kind(symbol, "VAR") else {
                        return unsupported(format!(
                            "pc {}: the kernel's BTF has no variable {symbol:?}",
                            r.pc
                        ));
                    };
                    Insn::LdImm64 {
                        dst,
                        kind: Imm64Kind::BtfId,
                        imm: i64::from(id),
                    }
                } else {
                    let Some(addr) = kallsyms_address(symbol) else {
                        return unsupported(format!(
                            "pc {}: {symbol:?} is not in /proc/kallsyms (or addresses are hidden)",
                            r.pc
                        ));
                    };
                    Insn::LdImm64 {
                        dst,
                        kind: Imm64Kind::Imm,
                        imm: addr as i64,
                    }
                };
            }
            _ => {
                return unsupported(format!(
                    "pc {}: the extern symbol {symbol:?} is neither a kfunc nor a __ksym variable",
                    r.pc
                ))
            }
        }
    }
    Ok(())
}

/// The address of kernel symbol `name` in `/proc/kallsyms` (nonzero:
/// zeros mean addresses are hidden from us).
fn kallsyms_address(name: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split_whitespace();
        let addr = f.next()?;
        let _kind = f.next()?;
        (f.next()? == name)
            .then(|| u64::from_str_radix(addr, 16).ok())
            .flatten()
            .filter(|&a| a != 0)
    })
}

fn read_vmlinux_btf() -> Result<Btf, ObjectLoadError> {
    let bytes = std::fs::read(VMLINUX_BTF).map_err(|e| {
        ObjectLoadError::Unsupported(format!(
            "CO-RE relocations need the kernel's BTF: reading {VMLINUX_BTF}: {e}"
        ))
    })?;
    Btf::parse(&bytes)
        .map_err(|e| ObjectLoadError::Unsupported(format!("parsing {VMLINUX_BTF}: {e}")))
}
