//! What the verifier needs from an ELF object: the program's linked
//! instructions with map references bound to indices, the shapes of the
//! object's maps, the program type its section names and its source lines
//! (so a rejection says `file.c:42: the line`).

use ebee_isa::Insn;
use ebee_object::{MapBinding, MapDef, ObjectError};

use crate::context::ProgramType;
use crate::diagnostic::SourceLine;
use crate::maps::{map_type, MapInfo, MapRef, Maps};
use crate::Program;

/// Why an object's program cannot be handed to the verifier.
#[derive(Debug, thiserror::Error)]
pub enum FromObjectError {
    /// The section names a program type the verifier does not model yet.
    #[error("program `{name}` (section `{section}`): program type {number} is not supported by the verifier yet")]
    UnsupportedProgramType {
        /// The program's function name.
        name: String,
        /// Its section.
        section: String,
        /// The kernel's program type number.
        number: u32,
    },
    /// Binding the map references failed (a reference to a map the object lacks).
    #[error("program `{name}`: {source}")]
    Bind {
        /// The program's function name.
        name: String,
        /// What the object loader said.
        #[source]
        source: Box<ObjectError>,
    },
}

/// An object's program, owned and ready for [`crate::verify`] through
/// [`ObjectProgram::program`].
#[derive(Debug, Clone)]
pub struct ObjectProgram {
    /// The linked instructions, map references bound to map indices.
    pub insns: Vec<Insn>,
    /// The program type the section name implies.
    pub prog_type: ProgramType,
    /// The object's maps by index (the index `lddw` names).
    pub maps: Maps,
    /// Source lines by pc, ascending.
    pub lines: Vec<(usize, SourceLine)>,
}

/// The verifier's view of a map definition, with the sizes a loader
/// creates the map with (as libbpf does): map-in-maps hold 4-byte map ids
/// whatever the definition says, ring buffers have no key or value size,
/// perf event arrays hold 4-byte descriptors and get one slot per CPU when
/// the definition leaves `max_entries` at 0. The spin lock offset needs
/// the value's BTF layout, which is not looked up here (left `None`).
pub fn map_info(def: &MapDef) -> MapInfo {
    let mut info = MapInfo {
        map_type: def.map_type.number(),
        key_size: def.key_size,
        value_size: def.value_size,
        max_entries: def.max_entries,
        flags: def.flags,
        spin_lock_offset: None,
    };
    match info.map_type {
        map_type::ARRAY_OF_MAPS | map_type::HASH_OF_MAPS => info.value_size = 4,
        map_type::RINGBUF => {
            info.key_size = 0;
            info.value_size = 0;
        }
        map_type::PERF_EVENT_ARRAY => {
            info.key_size = 4;
            info.value_size = 4;
            if info.max_entries == 0 {
                info.max_entries =
                    std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            }
        }
        _ => {}
    }
    info
}

/// The program type for an object's kernel program type number.
///
/// Sections no naming rule matches (Cilium's `from-container`, iproute2's
/// tail-call sections `2/1`) are loaded by tc, so they are verified as tc
/// classifiers, as tc itself loads them.
pub fn program_type_for(kind: ebee_object::ProgramType) -> Option<ProgramType> {
    match kind {
        ebee_object::ProgramType::Unspec => Some(ProgramType::sched_cls()),
        k => ProgramType::from_kernel(k.number()),
    }
}

impl ObjectProgram {
    /// Build the verifier's input from `program` of an object whose maps
    /// are `maps` (`Object::maps()`).
    pub fn new(
        program: &ebee_object::Program,
        maps: &[MapDef],
    ) -> Result<ObjectProgram, FromObjectError> {
        // Only socket creation is described for cgroup_sock (the kernel's
        // default attach type for it); the bind and release hooks see
        // other fields.
        let other_sock_hook = program.program_type() == ebee_object::ProgramType::CgroupSock
            && program
                .kind
                .attach_type
                .is_some_and(|a| a != ebee_object::AttachType::CgroupInetSockCreate);
        let prog_type = program_type_for(program.program_type())
            .filter(|_| !other_sock_hook)
            .ok_or_else(|| FromObjectError::UnsupportedProgramType {
                name: program.name.clone(),
                section: program.section.clone(),
                number: program.program_type().number(),
            })?;
        Self::with_type(program, maps, prog_type)
    }

    /// Like [`ObjectProgram::new`] with the program type chosen by the
    /// caller (e.g. a loader that knows better than the section name).
    pub fn with_type(
        program: &ebee_object::Program,
        maps: &[MapDef],
        prog_type: ProgramType,
    ) -> Result<ObjectProgram, FromObjectError> {
        let insns =
            program
                .bind_maps(MapBinding::Indices)
                .map_err(|source| FromObjectError::Bind {
                    name: program.name.clone(),
                    source: Box::new(source),
                })?;
        let infos: Vec<MapInfo> = maps.iter().map(map_info).collect();
        let mut table = Maps::from_indexed(&infos);
        for (i, def) in maps.iter().enumerate() {
            let inner = match (&def.inner, def.inner_index) {
                (Some(inner), _) => Some(map_info(inner)),
                (None, Some(t)) => maps.get(t).map(map_info),
                (None, None) => None,
            };
            if let Some(inner) = inner {
                table.insert(MapRef::InnerOfIndex(i as u32), inner);
            }
        }
        let lines = program
            .lines
            .iter()
            .map(|l| {
                (
                    l.pc,
                    SourceLine {
                        file: l.file.clone(),
                        line: l.line,
                        text: l.line_text.clone(),
                    },
                )
            })
            .collect();
        Ok(ObjectProgram {
            insns,
            prog_type,
            maps: table,
            lines,
        })
    }

    /// The verifier's input, borrowing from `self`.
    pub fn program(&self) -> Program<'_> {
        Program {
            insns: &self.insns,
            prog_type: &self.prog_type,
            maps: &self.maps,
            lines: (!self.lines.is_empty()).then_some(self.lines.as_slice()),
        }
    }
}
