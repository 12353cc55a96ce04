//! A program as the object defines it: one function of a code section,
//! with every subprogram it calls linked in after its own code.

use ebee_isa::Insn;

use crate::btf::{CoreReloKind, TypeId};
use crate::error::ObjectError;
use crate::reloc::{bind, MapBinding, Reloc};
use crate::section::{ProgramType, SectionKind};

/// The source position of one instruction, from BTF line info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The instruction's pc in the linked program.
    pub pc: usize,
    /// Source file name.
    pub file: String,
    /// The text of the source line.
    pub line_text: String,
    /// Line number (1-based).
    pub line: u32,
    /// Column (1-based, 0 when unknown).
    pub column: u32,
    /// Offset of `file` in the object's BTF string section.
    pub file_name_off: u32,
    /// Offset of `line_text` in the object's BTF string section.
    pub line_off: u32,
}

impl SourceLine {
    /// The kernel's `struct bpf_line_info` for this line
    /// (`insn_off, file_name_off, line_off, line_col`), to load with the
    /// object's BTF ([`crate::Btf::to_bytes`] keeps the string offsets).
    pub fn to_kernel(&self) -> [u32; 4] {
        [
            self.pc as u32,
            self.file_name_off,
            self.line_off,
            self.line << 10 | (self.column & 0x3ff),
        ]
    }
}

impl std::fmt::Display for SourceLine {
    /// `file.c:42: the source text`, as diagnostics print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.line_text.trim())
    }
}

/// A function's start in the linked program, from BTF func info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncStart {
    /// The pc of its first instruction.
    pub pc: usize,
    /// Its BTF `FUNC` type id.
    pub type_id: TypeId,
}

impl FuncStart {
    /// The kernel's `struct bpf_func_info` (`insn_off, type_id`).
    pub fn to_kernel(&self) -> [u32; 2] {
        [self.pc as u32, self.type_id]
    }
}

/// A CO-RE relocation on an instruction of the linked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramCoreRelo {
    /// The instruction to patch.
    pub pc: usize,
    /// The local root type (in the object's BTF).
    pub type_id: TypeId,
    /// The access string (`0:1:2`).
    pub access: String,
    /// What to compute.
    pub kind: CoreReloKind,
}

/// Where a function's code was placed in a linked program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedFunction {
    /// The function's name.
    pub name: String,
    /// Its ELF section.
    pub section: String,
    /// First pc in the linked program.
    pub start: usize,
    /// Number of instruction slots.
    pub len: usize,
}

/// One program of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// The function name (the section name for old objects without symbols).
    pub name: String,
    /// The ELF section holding it.
    pub section: String,
    /// What the section name says: program type, attach type and target.
    pub kind: SectionKind,
    /// A function of `.text`: libbpf links it into callers rather than
    /// loading it as a program of its own.
    pub subprogram: bool,
    /// The symbol is global (`STB_GLOBAL`/`STB_WEAK`) rather than static.
    pub global: bool,
    /// The linked instructions (index = pc): the function, then every
    /// subprogram it calls (transitively, depth first like libbpf), each
    /// once. Map references are bound to map indices
    /// ([`MapBinding::Indices`]). Two things are left for the loader, as in
    /// the object: CO-RE fields hold clang's local values until
    /// [`crate::Object::relocate_core`], and uses of externs
    /// ([`crate::RelocKind::Extern`] in [`Program::relocs`]) keep their
    /// placeholder (`lddw` of 0, `call -1`): resolve them or refuse to run.
    pub insns: Vec<Insn>,
    /// The relocated instructions.
    pub relocs: Vec<Reloc>,
    /// The functions that make up `insns`, the program's own first.
    pub functions: Vec<LinkedFunction>,
    /// Source lines by pc (sorted by pc), from `.BTF.ext`.
    pub lines: Vec<SourceLine>,
    /// Function starts with their BTF types, from `.BTF.ext`.
    pub func_info: Vec<FuncStart>,
    /// CO-RE relocations, from `.BTF.ext`.
    pub core_relos: Vec<ProgramCoreRelo>,
}

impl Program {
    /// The kernel program type.
    pub fn program_type(&self) -> ProgramType {
        self.kind.program_type
    }

    /// What to attach to, if the section name says (`kprobe/<function>`).
    pub fn attach_target(&self) -> Option<&str> {
        self.kind.attach_target.as_deref()
    }

    /// The instructions with map references bound for `binding`.
    pub fn bind_maps(&self, binding: MapBinding<'_>) -> Result<Vec<Insn>, ObjectError> {
        bind(&self.insns, &self.relocs, binding)
    }

    /// The source line of the instruction at `pc`: the last line-info
    /// record at or before `pc` within the same function, like the
    /// kernel's verifier log does.
    pub fn line_for_pc(&self, pc: usize) -> Option<&SourceLine> {
        let func_start = self
            .functions
            .iter()
            .find(|f| pc >= f.start && pc < f.start + f.len)
            .map(|f| f.start)?;
        let idx = self.lines.partition_point(|l| l.pc <= pc);
        let line = self.lines[..idx].last()?;
        (line.pc >= func_start).then_some(line)
    }

    /// The function (own or linked subprogram) containing `pc`.
    pub fn function_at(&self, pc: usize) -> Option<&LinkedFunction> {
        self.functions
            .iter()
            .find(|f| pc >= f.start && pc < f.start + f.len)
    }
}
