//! Loading a clang-built object into the userspace runtime, the way
//! libbpf or aya load one into the kernel: every map created (BTF and
//! legacy definitions, inner-map templates, global data with its initial
//! contents, `.rodata` frozen, prog-array and map-in-map slots filled),
//! every entry program verified with `ebee-verifier`, its map, global and
//! callback references resolved to plain constants, its CO-RE
//! relocations resolved (against [`LoadOptions::target_btf`], a host
//! type's BTF, or the program type's context BTF; see `core.rs`), and its
//! helpers checked to exist.
//!
//! ```no_run
//! use ebee_object::Object;
//! use ebee_runtime::loader::{LoadOptions, LoadedObject};
//!
//! let obj = Object::parse(&std::fs::read("prog.o").unwrap()).unwrap();
//! let loaded = LoadedObject::load(&obj, &LoadOptions::new()).unwrap();
//! let r0 = loaded.program("count").unwrap().run(&mut [0u8; 64]).unwrap();
//! let counts = loaded.map("counts").unwrap();
//! for key in counts.keys() {
//!     println!("{key:?} -> {:?} (r0 {r0})", counts.lookup(&key).unwrap());
//! }
//! ```
//!
//! # Checked or unchecked
//!
//! Verification is the default. Programs run with the raw-memory
//! convention of [`LoadedProgram::run`] (`r1` = a buffer, `r2` = its
//! length) run **unchecked** when every program of the object passed the
//! verifier both for its section's program type and with a context of no
//! accessible bytes (so no program dereferences its argument: it touches
//! only its stack, map values and globals, and may only hand `r1` on, to
//! `bpf_tail_call`). Otherwise, and for objects
//! loaded [`LoadOptions::unverified`], they run checked: every access is
//! bounds-checked against the run's regions and the budget applies. Tail
//! calls from unchecked programs only enter the object's own programs.
//!
//! # Engines
//!
//! Programs run on the interpreter unless [`LoadOptions::engine`] names
//! another [`Engine`] (the JIT: `ebee_jit::JitEngine`), which prepares
//! each program at load (verified ones for unchecked runs) and then runs
//! every run of it: [`LoadedProgram::run`], [`LoadedProgram::run_with`]
//! and the packet runners alike.

mod core;
mod map_table;
mod relocate;

pub use map_table::{handle_of, MapTable};

use crate::engine::{Engine, Executable, Interpreter};
use crate::error::{ExecError, LoadError};
use crate::helper::{Helper, HelperRegistry};
use crate::helpers::{standard_helpers, HelperEnv};
use crate::map::{Map, MapError, MapSpec, MapType, BPF_F_RDONLY_PROG};
use crate::program_type::custom::CustomType;
use crate::program_type::merge_helpers;
use crate::region::Region;
use crate::vm::{InlineArray, Invocation, Vm};
use ebee_isa::{CallTarget, Insn};
use ebee_object::btf::{Btf, TypeId, TypeKind};
use ebee_object::{Object, ProgramType, RelocKind, SlotTarget};
use ebee_verifier::{
    ContextKind, ContextLayout, FromObjectError, MapRef, ObjectProgram, Options, Verdict,
};
use std::sync::Arc;

/// How to load an object.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    verify: bool,
    host_helpers: HelperRegistry,
    budget: Option<u64>,
    verifier: Options,
    default_type: Option<ProgramType>,
    target_btf: Option<Arc<Btf>>,
    custom_btf: Option<Arc<Btf>>,
    engine: Arc<dyn Engine>,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions::new()
    }
}

impl LoadOptions {
    /// Verify every program; the kernel's helpers; the default budget.
    pub fn new() -> LoadOptions {
        LoadOptions {
            verify: true,
            host_helpers: HelperRegistry::new(),
            budget: None,
            verifier: Options::default(),
            default_type: None,
            target_btf: None,
            custom_btf: None,
            engine: Arc::new(Interpreter),
        }
    }

    /// The engine that runs the programs ([`Interpreter`] by default; the
    /// JIT is `ebee_jit::JitEngine`). Verified programs are prepared for
    /// unchecked runs, the others for checked ones.
    pub fn engine(mut self, engine: Arc<dyn Engine>) -> LoadOptions {
        self.engine = engine;
        self
    }

    /// Skip verification: programs run checked (bounds checks, budget).
    pub fn unverified(mut self) -> LoadOptions {
        self.verify = false;
        self
    }

    /// Adds host-defined helpers (they replace kernel helpers with the
    /// same id). Verified programs may only call helpers the verifier
    /// knows, so new ids need [`LoadOptions::unverified`].
    pub fn helpers(mut self, helpers: &HelperRegistry) -> LoadOptions {
        for id in helpers.ids() {
            if let Some(h) = helpers.get(id as i64 as u64) {
                let h: Helper = h.clone();
                let name = h.name().to_string();
                self.host_helpers
                    .register_with_context(id, &name, move |ctx, a| h.call(ctx, a));
            }
        }
        self
    }

    /// Sets the instruction budget of each run.
    pub fn budget(mut self, budget: u64) -> LoadOptions {
        self.budget = Some(budget);
        self
    }

    /// Sets the verifier's options.
    pub fn verifier_options(mut self, opts: Options) -> LoadOptions {
        self.verifier = opts;
        self
    }

    /// The program type of programs whose section names none
    /// ([`ProgramType::Unspec`], e.g. Cilium's `2/1` or the Linux
    /// samples' `redirect_xmit`): the type their loader chooses, as
    /// `tc filter add ... bpf obj X sec S` loads every section as
    /// `sched_cls` and libbpf's `bpf_program__set_type` sets it. Programs
    /// whose section names a type keep it.
    pub fn program_type(mut self, t: ProgramType) -> LoadOptions {
        self.default_type = Some(t);
        self
    }

    /// The BTF every program's CO-RE relocations resolve against, instead
    /// of its program type's context BTF
    /// ([`crate::program_type::context_btf`]).
    pub fn target_btf(mut self, btf: Btf) -> LoadOptions {
        self.target_btf = Some(Arc::new(btf));
        self
    }

    /// The object's programs run at a host-defined hook of type `t`: its
    /// helpers join (as with [`LoadOptions::helpers`]) and its BTF
    /// ([`CustomType::with_btf`]), if it declares one, is the target of
    /// CO-RE relocations (unless [`LoadOptions::target_btf`] gives one).
    pub fn custom_type(mut self, t: &CustomType) -> LoadOptions {
        if let Some(b) = &t.btf {
            self.custom_btf = Some(Arc::new(b.clone()));
        }
        self.helpers(&t.helpers)
    }

    /// The BTF CO-RE relocations of a program of type `t` resolve
    /// against, and what it is, for messages.
    fn core_target(&self, t: ProgramType) -> (Arc<Btf>, String) {
        if let Some(b) = &self.target_btf {
            return (Arc::clone(b), "the target BTF given".to_string());
        }
        if let Some(b) = &self.custom_btf {
            return (Arc::clone(b), "the host type's BTF".to_string());
        }
        match crate::program_type::context_btf(t) {
            Some(b) => (
                Arc::new(b),
                format!("the userspace {} context BTF", t.name()),
            ),
            None => (
                Arc::new(Btf::default()),
                format!(
                    "no BTF (the runtime has no context types for {} programs)",
                    t.name()
                ),
            ),
        }
    }
}

/// Why an object did not load.
#[derive(Debug, thiserror::Error)]
pub enum ObjectLoadError {
    /// A map could not be created.
    #[error("map {name:?}: {source}")]
    Map {
        /// The map's name.
        name: String,
        /// What map creation said.
        #[source]
        source: MapError,
    },
    /// An initial prog-array or map-in-map slot could not be filled.
    #[error("map {map:?} slot {index}: {reason}")]
    Slot {
        /// The map's name.
        map: String,
        /// The slot.
        index: u32,
        /// Why.
        reason: String,
    },
    /// The verifier cannot take the program (unsupported program type...).
    #[error("{0}")]
    VerifierInput(#[from] FromObjectError),
    /// The verifier rejected the program.
    #[error("program {program:?}: {diagnostic}")]
    Rejected {
        /// The program's name.
        program: String,
        /// The verifier's diagnostic.
        diagnostic: String,
    },
    /// The program calls a helper the runtime does not provide.
    #[error("program {program:?}: instruction {pc} calls helper {id} ({}), which the userspace runtime does not provide", name.unwrap_or("unknown to Linux"))]
    UnknownHelper {
        /// The program's name.
        program: String,
        /// The call's pc.
        pc: usize,
        /// The helper id.
        id: i32,
        /// Its kernel name, if it has one.
        name: Option<&'static str>,
    },
    /// The program refers to something userspace cannot resolve.
    #[error("program {program:?}: instruction {pc}: {reason}")]
    Unresolved {
        /// The program's name.
        program: String,
        /// The pc.
        pc: usize,
        /// What is missing.
        reason: String,
    },
    /// A CO-RE relocation could not be resolved (malformed, ambiguous,
    /// or not patchable); a relocation that merely finds nothing poisons
    /// its instruction instead.
    #[error("program {program:?}: CO-RE against {target}: {source}")]
    Core {
        /// The program's name.
        program: String,
        /// What the target BTF was.
        target: String,
        /// The resolver's error (it names the pc, access string and type).
        #[source]
        source: Box<ebee_object::ObjectError>,
    },
    /// The verifier found a path that runs an instruction a CO-RE
    /// relocation poisoned.
    #[error("program {program:?}: a path reaches instruction {pc}, poisoned by {relocation}")]
    Poisoned {
        /// The program's name.
        program: String,
        /// The poisoned instruction.
        pc: usize,
        /// Which relocation, and why it found nothing.
        relocation: String,
    },
    /// The resolved program could not be prepared for the interpreter.
    #[error("program {program:?}: {source}")]
    Prepare {
        /// The program's name.
        program: String,
        /// What the interpreter said.
        #[source]
        source: LoadError,
    },
    /// The engine could not prepare the program (e.g. the JIT failed).
    #[error("program {program:?}: the {engine} cannot run it: {message}")]
    Engine {
        /// The program's name.
        program: String,
        /// The engine's name.
        engine: &'static str,
        /// What it said.
        message: String,
    },
}

/// One loaded program.
#[derive(Debug)]
pub struct LoadedProgram {
    name: String,
    section: String,
    vm: Arc<Vm>,
    exec: Arc<dyn Executable>,
    verified: bool,
    unchecked: bool,
    program_type: ProgramType,
    packet_unchecked: bool,
    regions: Arc<Vec<Region>>,
}

/// `p` as a program of type `t` (for [`LoadOptions::program_type`]).
fn retyped(p: &ebee_object::Program, t: ProgramType) -> ebee_object::Program {
    let mut q = p.clone();
    q.kind.program_type = t;
    q
}

/// The packet program types a runner builds contexts for: the verifier's
/// proof for one holds for runs with that runner's context (tc and
/// tc-action programs share `__sk_buff` with the same rights).
fn packet_family(t: ProgramType) -> Option<ProgramType> {
    match t {
        ProgramType::Xdp | ProgramType::SocketFilter | ProgramType::SchedCls => Some(t),
        ProgramType::SchedAct => Some(ProgramType::SchedCls),
        _ => None,
    }
}

impl LoadedProgram {
    /// The function name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The ELF section.
    pub fn section(&self) -> &str {
        &self.section
    }

    /// The prepared program (resolved instructions, helpers, budget), e.g.
    /// for a JIT or for [`Map::set_program`].
    pub fn vm(&self) -> &Arc<Vm> {
        &self.vm
    }

    /// Whether the verifier accepted it.
    pub fn verified(&self) -> bool {
        self.verified
    }

    /// Whether [`LoadedProgram::run`] runs it without memory checks.
    pub fn unchecked(&self) -> bool {
        self.unchecked
    }

    /// The program type its section names.
    pub fn program_type(&self) -> ProgramType {
        self.program_type
    }

    /// Whether the packet runners of its program type
    /// ([`crate::program_type::xdp::Xdp::run_loaded`],
    /// [`crate::program_type::skb::Skb::run_loaded`]) run it without
    /// memory checks: it was verified for that type's context (the
    /// verifier models `data`/`data_end` and the helpers that move them),
    /// and so was every program of the object it can tail-call (the
    /// object has no prog array, or all its programs have the same type).
    pub fn packet_unchecked(&self) -> bool {
        self.packet_unchecked
    }

    /// The memory every run may access besides its input and stack: the
    /// object's array maps and global data, except the inline arrays of
    /// its `Vm` ([`Vm::inline_arrays`]), which every run adds itself.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Runs the program with `r1` = `mem`, `r2` = its length (also the
    /// packet of legacy loads); returns `r0`.
    pub fn run(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        let input = Region::new(mem.as_mut_ptr() as u64, mem.len() as u64, true, "input");
        let mut inv = Invocation::new([input.start, input.len, 0, 0, 0]);
        // SAFETY: `mem` is borrowed mutably for the whole run; the maps
        // behind the other regions live as long as `self.vm`'s helpers
        // (which hold the object's map table).
        unsafe {
            inv.set_input(input).set_packet(input);
            for r in self.regions.iter() {
                inv.add_region(*r);
            }
        }
        if self.unchecked {
            // SAFETY: this program and every program it can tail-call
            // passed the verifier with `r1` an unknown number, so they
            // access only their stack, map values the helpers hand out and
            // the globals (all in the run's regions or owned by the maps,
            // which outlive the run).
            unsafe { self.exec.run_unchecked(&inv) }
        } else {
            self.exec.run_checked(&inv)
        }
    }

    /// Runs in checked mode with the embedder's invocation (a context of
    /// its program type); the object's array and global regions are added.
    pub fn run_with(&self, inv: &Invocation) -> Result<u64, ExecError> {
        self.exec.run_checked(&self.with_regions(inv))
    }

    fn with_regions(&self, inv: &Invocation) -> Invocation {
        let mut inv = inv.clone();
        for r in self.regions.iter() {
            // SAFETY: as in `run`: the maps outlive the run.
            unsafe { inv.add_region(*r) };
        }
        inv
    }

    /// Runs with a packet runner's invocation for program type `family`
    /// (`Xdp`, `SocketFilter` or `SchedCls`): unchecked when
    /// [`LoadedProgram::packet_unchecked`] and the types agree, checked
    /// otherwise.
    ///
    /// # Safety
    /// `inv` must be exactly the context the runner of `family` builds:
    /// `r1` pointing at a valid context of that type whose packet pointers
    /// bound valid packet memory, and packet helpers of that runner.
    pub(crate) unsafe fn run_packet(
        &self,
        inv: &Invocation,
        family: ProgramType,
    ) -> Result<u64, ExecError> {
        let inv = self.with_regions(inv);
        if self.packet_unchecked && packet_family(self.program_type) == Some(family) {
            // SAFETY: the program and every program it can tail-call were
            // verified for this program type's context, which the caller
            // promises `inv` is; so every access stays inside the context,
            // the packet between `data` and `data_end` (re-read after each
            // packet-changing helper, as the verifier enforces), the stack,
            // map values and the globals.
            unsafe { self.exec.run_unchecked(&inv) }
        } else {
            self.exec.run_checked(&inv)
        }
    }
}

/// A loaded object: its maps and programs.
#[derive(Debug)]
pub struct LoadedObject {
    env: Arc<HelperEnv>,
    maps: Vec<(String, Arc<Map>)>,
    programs: Vec<LoadedProgram>,
}

impl Drop for LoadedObject {
    fn drop(&mut self) {
        // Prog arrays hold programs whose helpers hold the map table:
        // empty them, as the kernel does when user space lets go of one.
        for map in self.env.maps().all() {
            if map.map_type() == MapType::ProgArray {
                for i in 0..map.spec().max_entries {
                    let _ = map.prog_delete(&i.to_ne_bytes());
                }
            }
        }
    }
}

impl LoadedObject {
    /// Creates the object's maps and prepares its entry programs.
    pub fn load(obj: &Object, opts: &LoadOptions) -> Result<LoadedObject, ObjectLoadError> {
        let maps = create_maps(obj)?;
        let handles: Vec<Arc<Map>> = maps.iter().map(|(_, m)| Arc::clone(m)).collect();
        let env = Arc::new(HelperEnv::with_maps(&handles));
        let standard = standard_helpers(&env);
        let xdp_helpers = crate::program_type::xdp::helpers_with_maps(&env);
        let skb_helpers = crate::program_type::skb::helpers();
        let tc_helpers = crate::program_type::skb::tc_helpers_with_env(&env);
        let sock_ops_helpers = crate::program_type::sock_ops::helpers();
        let kprobe_helpers = crate::program_type::tracing::kprobe_helpers();
        let perf_event_helpers = crate::program_type::tracing::perf_event_helpers();
        // Lookups in array maps an engine may compute itself, unless the
        // host replaced the runtime's `map_lookup_elem`. Then every array is
        // one of them, and its elements are regions of every run of the
        // `Vm`; otherwise the arrays' regions are added to the invocation.
        let inline = opts.host_helpers.get(1).is_none();
        let inline_arrays: Vec<InlineArray> = if inline {
            handles
                .iter()
                .filter_map(|m| InlineArray::of(handle_of(m), m))
                .collect()
        } else {
            Vec::new()
        };
        let regions = Arc::new(if inline {
            Vec::new()
        } else {
            map_regions(&handles)
        });
        let mut programs = Vec::new();
        let mut all_raw_safe = true;
        for p in obj.entry_programs() {
            let typed;
            let p = match opts.default_type {
                Some(t) if p.kind.program_type == ProgramType::Unspec => {
                    typed = retyped(p, t);
                    &typed
                }
                _ => p,
            };
            let relocated;
            let mut poisoned = core::Poisoned::default();
            let p = if p.core_relos.is_empty() {
                p
            } else {
                let (target, what) = opts.core_target(p.kind.program_type);
                let (q, poison) = core::relocate(obj, p, &target, &what)?;
                relocated = q;
                poisoned = poison;
                &relocated
            };
            if let Some(r) = p
                .relocs
                .iter()
                .find(|r| matches!(r.kind, RelocKind::Extern { .. }))
            {
                let RelocKind::Extern { symbol, .. } = &r.kind else {
                    continue;
                };
                return Err(ObjectLoadError::Unresolved {
                    program: p.name.clone(),
                    pc: r.pc,
                    reason: format!(
                        "extern {symbol:?} (kfunc or ksym) has no userspace definition"
                    ),
                });
            }
            let prepared = ObjectProgram::new(p, obj.maps()).map(|mut pr| {
                add_spin_locks(obj, &mut pr);
                pr
            });
            let (insns, raw_safe) = if opts.verify {
                let prepared = prepared?;
                reject_unless_accepted(&p.name, &prepared, &opts.verifier, &poisoned)?;
                // The raw convention passes a buffer as r1: safe unchecked
                // only if the program never dereferences its context (a
                // context of 0 accessible bytes; it may still pass it on,
                // e.g. to bpf_tail_call).
                let mut raw = prepared.clone();
                raw.prog_type.context = ContextKind::Struct(ContextLayout {
                    name: "raw buffer (unread)",
                    size: 0,
                    fields: vec![],
                });
                let raw_safe = accepted(&raw, &opts.verifier);
                (prepared.insns, raw_safe)
            } else {
                let insns = match prepared {
                    Ok(pr) => pr.insns,
                    Err(_) => p.bind_maps(ebee_object::MapBinding::Indices).map_err(|e| {
                        ObjectLoadError::Unresolved {
                            program: p.name.clone(),
                            pc: 0,
                            reason: e.to_string(),
                        }
                    })?,
                };
                (insns, false)
            };
            all_raw_safe &= raw_safe;
            let resolved = relocate::resolve(&insns, &handles).map_err(|(pc, reason)| {
                ObjectLoadError::Unresolved {
                    program: p.name.clone(),
                    pc,
                    reason,
                }
            })?;
            // The kernel's helpers, those of the program's type (XDP,
            // socket filter, tc, sock_ops, kprobe, perf_event), then the host's.
            let mut helpers = standard.clone();
            match p.kind.program_type {
                ProgramType::Xdp => merge_helpers(&mut helpers, &xdp_helpers),
                ProgramType::SocketFilter => merge_helpers(&mut helpers, &skb_helpers),
                ProgramType::SchedCls | ProgramType::SchedAct => {
                    merge_helpers(&mut helpers, &skb_helpers);
                    merge_helpers(&mut helpers, &tc_helpers)
                }
                ProgramType::SockOps => merge_helpers(&mut helpers, &sock_ops_helpers),
                ProgramType::Kprobe => merge_helpers(&mut helpers, &kprobe_helpers),
                ProgramType::PerfEvent => merge_helpers(&mut helpers, &perf_event_helpers),
                _ => {}
            }
            merge_helpers(&mut helpers, &opts.host_helpers);
            poisoned.register(&mut helpers);
            check_helpers(&p.name, &resolved, &helpers)?;
            let mut vm = Vm::new(resolved).map_err(|source| ObjectLoadError::Prepare {
                program: p.name.clone(),
                source,
            })?;
            vm.set_helpers(helpers);
            vm.set_inline_arrays(inline_arrays.clone());
            if let Some(b) = opts.budget {
                vm.set_budget(b);
            }
            let vm = Arc::new(vm);
            let exec = opts.engine.prepare(&vm, opts.verify).map_err(|message| {
                ObjectLoadError::Engine {
                    program: p.name.clone(),
                    engine: opts.engine.name(),
                    message,
                }
            })?;
            programs.push(LoadedProgram {
                name: p.name.clone(),
                section: p.section.clone(),
                vm,
                exec,
                verified: opts.verify,
                unchecked: false,
                program_type: p.kind.program_type,
                packet_unchecked: false,
                regions: Arc::clone(&regions),
            });
        }
        // Packet programs run unchecked under their runner when verified
        // and when every tail call can only reach programs verified for
        // the same context: the object has no prog array (nor map-in-map
        // that could hold one), or all its programs share the type.
        let family = programs.first().and_then(|p| packet_family(p.program_type));
        let same_family = programs
            .iter()
            .all(|p| packet_family(p.program_type) == family);
        let no_tail_calls = handles
            .iter()
            .all(|m| m.map_type() != MapType::ProgArray && !m.map_type().is_map_in_map());
        let mut any_packet_unchecked = false;
        for p in &mut programs {
            p.packet_unchecked = opts.verify
                && packet_family(p.program_type).is_some()
                && (no_tail_calls || same_family);
            any_packet_unchecked |= p.packet_unchecked;
        }
        if opts.verify && (all_raw_safe || any_packet_unchecked) {
            let vms: Vec<Arc<Vm>> = programs.iter().map(|p| Arc::clone(&p.vm)).collect();
            env.set_unchecked_targets(&vms);
            for p in &mut programs {
                p.unchecked = all_raw_safe;
            }
        }
        let loaded = LoadedObject {
            env,
            maps,
            programs,
        };
        loaded.fill_slots(obj)?;
        Ok(loaded)
    }

    fn fill_slots(&self, obj: &Object) -> Result<(), ObjectLoadError> {
        for (def, (_, map)) in obj.maps().iter().zip(&self.maps) {
            for slot in &def.slots {
                let err = |reason: String| ObjectLoadError::Slot {
                    map: def.name.clone(),
                    index: slot.index,
                    reason,
                };
                match &slot.target {
                    SlotTarget::Program(name) => {
                        let p = self
                            .program(name)
                            .ok_or_else(|| err(format!("no loaded program {name:?}")))?;
                        map.set_program(slot.index, Arc::clone(&p.vm), 0)
                            .map_err(|e| err(e.to_string()))?;
                    }
                    SlotTarget::Map(name) => {
                        let inner = self
                            .map(name)
                            .ok_or_else(|| err(format!("no map {name:?}")))?;
                        map.set_inner_map(&slot.index.to_ne_bytes(), Arc::clone(inner), 0)
                            .map_err(|e| err(e.to_string()))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The entry programs, in object order.
    pub fn programs(&self) -> &[LoadedProgram] {
        &self.programs
    }

    /// The program with function name `name`.
    pub fn program(&self, name: &str) -> Option<&LoadedProgram> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// The first program of section `section`.
    pub fn program_in_section(&self, section: &str) -> Option<&LoadedProgram> {
        self.programs.iter().find(|p| p.section == section)
    }

    /// The maps with their names, in object order.
    pub fn maps(&self) -> impl Iterator<Item = (&str, &Arc<Map>)> {
        self.maps.iter().map(|(n, m)| (n.as_str(), m))
    }

    /// The map called `name` (globals: the section name, `.data`).
    pub fn map(&self, name: &str) -> Option<&Arc<Map>> {
        self.maps.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    /// What the helpers share: the trace sink, the reported identity.
    pub fn env(&self) -> &Arc<HelperEnv> {
        &self.env
    }
}

fn create_maps(obj: &Object) -> Result<Vec<(String, Arc<Map>)>, ObjectLoadError> {
    let defs = obj.maps();
    let mut out = Vec::with_capacity(defs.len());
    for def in defs {
        let err = |source| ObjectLoadError::Map {
            name: def.name.clone(),
            source,
        };
        let map = match (def.inner.is_none(), def.inner_index) {
            (true, Some(t)) if def.map_type.is_map_in_map() => {
                let mut spec = MapSpec::from_def(def);
                let template = defs.get(t).ok_or_else(|| ObjectLoadError::Slot {
                    map: def.name.clone(),
                    index: t as u32,
                    reason: "inner map template index out of range".to_string(),
                })?;
                spec.inner = Some(Box::new(MapSpec::from_def(template)));
                Map::create(&spec).map_err(err)?
            }
            _ => Map::from_def(def).map_err(err)?,
        };
        out.push((def.name.clone(), Arc::new(map)));
    }
    Ok(out)
}

/// Regions for every array map's elements (globals included).
fn map_regions(maps: &[Arc<Map>]) -> Vec<Region> {
    maps.iter()
        .filter_map(|m| {
            let l = m.array_layout()?;
            let writable = m.spec().flags & BPF_F_RDONLY_PROG == 0;
            let len = (l.stride as u64).saturating_mul(u64::from(l.max_entries));
            Some(Region::new(l.base as u64, len, writable, "array map"))
        })
        .collect()
}

/// The offset of the `struct bpf_spin_lock` member of a map value, from
/// the object's BTF (the verifier's input leaves it out).
fn spin_lock_offset(btf: &Btf, value_type: TypeId) -> Option<u32> {
    let id = btf.skip_modifiers(value_type).ok()?;
    let members = btf.type_by_id(id)?.members()?;
    members.iter().find_map(|m| {
        let t = btf.type_by_id(btf.skip_modifiers(m.ty).ok()?)?;
        (t.name == "bpf_spin_lock" && matches!(t.kind, TypeKind::Struct { .. }))
            .then_some(m.bit_offset / 8)
    })
}

/// Tells the verifier where the object's maps keep their spin locks.
fn add_spin_locks(obj: &Object, p: &mut ObjectProgram) {
    let Some(btf) = obj.btf() else {
        return;
    };
    for (i, def) in obj.maps().iter().enumerate() {
        let Some(off) = def.btf_value_type_id.and_then(|t| spin_lock_offset(btf, t)) else {
            continue;
        };
        let r = MapRef::Index(i as u32);
        if let Some(mut info) = p.maps.get(r).copied() {
            info.spin_lock_offset = Some(off);
            p.maps.insert(r, info);
        }
    }
}

fn accepted(p: &ObjectProgram, opts: &Options) -> bool {
    matches!(
        ebee_verifier::verify(&p.program(), opts).verdict,
        Verdict::Accepted(_)
    )
}

fn reject_unless_accepted(
    name: &str,
    p: &ObjectProgram,
    opts: &Options,
    poisoned: &core::Poisoned,
) -> Result<(), ObjectLoadError> {
    match ebee_verifier::verify(&p.program(), opts).verdict {
        Verdict::Accepted(_) => Ok(()),
        Verdict::Rejected(r) => Err(match poisoned.get(r.pc) {
            Some(relocation) => ObjectLoadError::Poisoned {
                program: name.to_string(),
                pc: r.pc,
                relocation: relocation.to_string(),
            },
            None => ObjectLoadError::Rejected {
                program: name.to_string(),
                diagnostic: r.to_string(),
            },
        }),
    }
}

fn check_helpers(
    program: &str,
    insns: &[Insn],
    helpers: &HelperRegistry,
) -> Result<(), ObjectLoadError> {
    for (pc, insn) in insns.iter().enumerate() {
        if let Insn::Call(CallTarget::Helper(id)) = insn {
            if helpers.get(*id as i64 as u64).is_none() {
                return Err(ObjectLoadError::UnknownHelper {
                    program: program.to_string(),
                    pc,
                    id: *id,
                    name: ebee_isa::helper_names::name(*id),
                });
            }
        }
    }
    Ok(())
}
