//! Relocations kept in the program model, and binding them to concrete
//! map references when a program is about to run or be loaded.
//!
//! After parsing, each `lddw` that refers to a map holds
//! [`Imm64Kind::MapIdx`] (or [`Imm64Kind::MapIdxValue`] for globals) with
//! the map's index in [`crate::Object::maps`]: that is what the userspace
//! runtime executes. The kernel wants file descriptors instead:
//! [`crate::Program::bind_maps`] with [`MapBinding::Fds`] rewrites them to
//! [`Imm64Kind::MapFd`] / [`Imm64Kind::MapValue`].

use ebee_isa::{Imm64Kind, Insn};

use crate::error::ObjectError;

/// What one relocated instruction refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RelocKind {
    /// `lddw rX, map` (a pointer to the map itself).
    Map {
        /// Index in [`crate::Object::maps`].
        map: usize,
    },
    /// `lddw rX, &global` (a pointer into a map's value: global data).
    MapValue {
        /// Index in [`crate::Object::maps`].
        map: usize,
        /// Byte offset in the value.
        offset: u32,
    },
    /// `call` of a local function, already linked into this program.
    Call {
        /// The called function's name.
        function: String,
        /// The pc it starts at in this program.
        target_pc: usize,
    },
    /// `lddw rX, func` (`BPF_PSEUDO_FUNC`: a callback for `bpf_loop` & co).
    FuncAddr {
        /// The function's name.
        function: String,
        /// The pc it starts at in this program.
        target_pc: usize,
    },
    /// A reference to a symbol the object does not define (`__ksym`
    /// variables, kfuncs, `__kconfig`): the loader must resolve it.
    Extern {
        /// The symbol's name.
        symbol: String,
        /// It is a `call` (kfunc) rather than an `lddw`.
        call: bool,
    },
}

/// One relocated instruction of a linked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloc {
    /// The instruction's pc in the linked program.
    pub pc: usize,
    /// What it refers to.
    pub kind: RelocKind,
}

/// How to turn map references into instructions.
#[derive(Debug, Clone, Copy)]
pub enum MapBinding<'a> {
    /// Map indices (`MapIdx`, `MapIdxValue`) as the userspace runtime wants.
    Indices,
    /// Kernel file descriptors by map index (`MapFd`, `MapValue`).
    Fds(&'a [i32]),
}

/// Rewrite the map references of `insns` (listed in `relocs`) for `binding`.
pub(crate) fn bind(
    insns: &[Insn],
    relocs: &[Reloc],
    binding: MapBinding<'_>,
) -> Result<Vec<Insn>, ObjectError> {
    let mut out = insns.to_vec();
    for r in relocs {
        let (map, offset) = match r.kind {
            RelocKind::Map { map } => (map, None),
            RelocKind::MapValue { map, offset } => (map, Some(offset)),
            _ => continue,
        };
        let (id, plain, value) = match binding {
            MapBinding::Indices => (map as i64, Imm64Kind::MapIdx, Imm64Kind::MapIdxValue),
            MapBinding::Fds(fds) => {
                let fd = fds.get(map).copied().ok_or_else(|| {
                    ObjectError::Binding(format!(
                        "pc {}: no file descriptor for map {map} ({} given)",
                        r.pc,
                        fds.len()
                    ))
                })?;
                (i64::from(fd as u32), Imm64Kind::MapFd, Imm64Kind::MapValue)
            }
        };
        let Some(Insn::LdImm64 { dst, .. }) = out.get(r.pc).copied() else {
            return Err(ObjectError::Binding(format!(
                "pc {}: map relocation is not on an lddw",
                r.pc
            )));
        };
        out[r.pc] = match offset {
            None => Insn::LdImm64 {
                dst,
                kind: plain,
                imm: id,
            },
            Some(off) => Insn::LdImm64 {
                dst,
                kind: value,
                imm: (i64::from(off) << 32) | id,
            },
        };
    }
    Ok(out)
}
