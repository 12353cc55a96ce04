//! The one error type of this crate: every way an object can be malformed,
//! each naming where (section, symbol, offset, program and pc) it went wrong.

use thiserror::Error;

/// An object file could not be parsed, linked or relocated.
///
/// Every variant says where the problem is, so that a user holding the
/// object and `llvm-objdump -dr` can find it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// The ELF container itself is broken (truncated header, section table
    /// out of bounds, bad string table...).
    #[error("malformed ELF: {0}")]
    Elf(String),
    /// The file is not a 64-bit little-endian ELF.
    #[error("unsupported ELF class or byte order: {0} (eBPF objects are 64-bit little-endian)")]
    Format(&'static str),
    /// `e_machine` is neither `EM_BPF` (247) nor `EM_NONE` (0).
    #[error("unsupported ELF machine {0} (expected EM_BPF = 247, or EM_NONE = 0)")]
    Machine(u16),
    /// A section's contents are malformed.
    #[error("section `{section}`: {what}")]
    Section {
        /// The section's name.
        section: String,
        /// What is wrong.
        what: String,
    },
    /// A symbol is malformed or inconsistent with its section.
    #[error("section `{section}`, symbol `{symbol}` at offset {offset:#x}: {what}")]
    Symbol {
        /// The section the symbol is defined in.
        section: String,
        /// The symbol's name.
        symbol: String,
        /// The symbol's value (offset within the section).
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// A relocation cannot be applied.
    #[error("section `{section}`, relocation at offset {offset:#x} (symbol `{symbol}`): {what}")]
    Reloc {
        /// The section the relocation applies to.
        section: String,
        /// The byte offset of the relocated instruction in that section.
        offset: u64,
        /// The symbol the relocation refers to.
        symbol: String,
        /// What is wrong.
        what: String,
    },
    /// An instruction of a program is malformed.
    #[error("program `{program}` (section `{section}`), pc {pc}: {what}")]
    Insn {
        /// The program's name.
        program: String,
        /// Its section.
        section: String,
        /// The instruction index (in the linked program).
        pc: usize,
        /// What is wrong.
        what: String,
    },
    /// A map definition is malformed.
    #[error("map `{map}`: {what}")]
    Map {
        /// The map's name.
        map: String,
        /// What is wrong.
        what: String,
    },
    /// The `.BTF` section is malformed.
    #[error("BTF: {what} (at byte {offset:#x})")]
    Btf {
        /// Byte offset in the BTF blob.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// A BTF type is inconsistent (a reference to a missing type, a
    /// loop of typedefs, a size that overflows).
    #[error("BTF: {0}")]
    BtfType(String),
    /// The `.BTF.ext` section is malformed.
    #[error("BTF.ext: {what} (at byte {offset:#x})")]
    BtfExt {
        /// Byte offset in the BTF.ext blob.
        offset: usize,
        /// What is wrong.
        what: String,
    },
    /// A CO-RE relocation cannot be resolved against the target BTF.
    #[error(
        "program `{program}`, pc {pc}: CO-RE relocation `{access}` on type {type_name}: {what}"
    )]
    Core {
        /// The program's name.
        program: String,
        /// The relocated instruction.
        pc: usize,
        /// The access string (`0:1:2`).
        access: String,
        /// The local root type's name.
        type_name: String,
        /// What is wrong.
        what: String,
    },
    /// A caller asked for something that does not exist (map fd missing...).
    #[error("{0}")]
    Binding(String),
}

impl ObjectError {
    pub(crate) fn section(section: &str, what: impl Into<String>) -> Self {
        ObjectError::Section {
            section: section.to_string(),
            what: what.into(),
        }
    }

    pub(crate) fn btf(offset: usize, what: impl Into<String>) -> Self {
        ObjectError::Btf {
            offset,
            what: what.into(),
        }
    }

    pub(crate) fn btf_ext(offset: usize, what: impl Into<String>) -> Self {
        ObjectError::BtfExt {
            offset,
            what: what.into(),
        }
    }
}

impl From<object::read::Error> for ObjectError {
    fn from(e: object::read::Error) -> Self {
        ObjectError::Elf(e.to_string())
    }
}
