//! Text → instructions, in the two assembler syntaxes eBPF people read.
//!
//! * [`Syntax::Linux`]: what `llvm-objdump -d`, clang's BPF assembler and
//!   the kernel's verifier log print (`r1 = *(u32 *)(r10 - 0x4)`,
//!   `if w1 s> w2 goto +3`, `lock *(u64 *)(r1 + 0x0) += r2`).
//! * [`Syntax::Ubpf`]: the uBPF / bpf_conformance syntax (`ldxw %r1, [%r10-4]`,
//!   `jsgt32 %r1, %r2, +3`, `lock add [%r1], %r2`).
//!
//! [`assemble`] detects the syntax; both accept labels (`name:`), comments
//! (`;`, `//`, `#`), and whole `llvm-objdump -d` listings: a leading `N:`
//! pc, the raw byte columns, `<sym+0x..>` annotations and the section and
//! symbol header lines are skipped, as are the kernel log's `N: (b7)`
//! prefixes. The result has one [`Insn`] per 8-byte slot, exactly as
//! [`crate::decode()`] gives (`lddw` is followed by [`Insn::LdImm64Tail`]).
//!
//! Forms with no standard text, accepted (and printed by
//! [`crate::disasm`]) in both syntaxes:
//! * `lddw` of a pseudo source (`src` 1 to 6): `map_fd(5)`, `map_value(5) + 16`,
//!   `btf_id(7)`, `func(+3)` (or `func(label)`), `map_idx(0)`,
//!   `map_idx_value(0) + 16` (Linux: `r1 = map_fd(5) ll`; uBPF:
//!   `lddw %r1, map_fd(5)`).
//! * kfunc calls: Linux `call kfunc(BTF_ID)` or `call kfunc(BTF_ID, MODULE)`;
//!   uBPF `call kfunc BTF_ID` or `call kfunc BTF_ID, MODULE`.
//! * local calls: Linux `call pc+3` (the verifier log's form; llvm-objdump
//!   prints a local call like a helper call, so in a listing with byte
//!   columns the bytes decide which one `call N` is); uBPF `call local +3`.
//! * uBPF load-acquire / store-release: `ldxacqw %r0, [%r1+4]`,
//!   `stxreldw [%r1+8], %r2`; sign-extending loads `ldxsb`, `ldxsh`, `ldxsw`;
//!   `may_goto +3` and `ja32 +N` (`gotol`) in both.
//!
//! Immediates are decimal or `0x` hex, negative allowed. A 32-bit
//! immediate written in decimal must fit a signed 32-bit integer; in hex it
//! may also be the unsigned bit pattern (`0xffffffff` is -1, as clang and
//! the conformance suite's assembler read it). Offsets must fit 16 signed
//! bits. Jump targets are `+N`/`-N` (also `pc+N`, hex allowed) or labels.
//!
//! Verifier logs: instruction lines (`12: (db) r2 = atomic64_fetch_add(...)`,
//! `call bpf_ktime_get_ns#5`, `r1 = 0x1234` for `lddw`) are read; the
//! register-state lines between them are not instructions and must be
//! left out. The log names kfunc calls like helpers, so `name#id` always
//! reads as a helper call.

mod detect;
mod lexer;
mod linux;
mod listing;
mod operand;
mod program;
mod ubpf;

use crate::insn::Insn;

/// The two assembler syntaxes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Syntax {
    /// llvm-objdump / kernel verifier log syntax: `r0 = 1`, `if r1 > r2 goto +3`.
    #[default]
    Linux,
    /// uBPF / bpf_conformance syntax: `mov %r0, 1`, `jgt %r1, %r2, +3`.
    Ubpf,
}

/// Why a text could not be assembled, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct AsmError {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters) of the offending token.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// An error inside one line: byte offset in the line, and message.
#[derive(Debug, Clone)]
pub(crate) struct ParseError {
    pub pos: usize,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(pos: usize, message: impl Into<String>) -> Self {
        ParseError {
            pos,
            message: message.into(),
        }
    }
}

/// Which field of an instruction a label reference fills in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FixupField {
    /// The 16-bit offset of a jump, `goto` or `may_goto`.
    Off16,
    /// The 32-bit offset of `gotol` (`ja32`).
    JaLong,
    /// The offset of a local call (`call local label`).
    CallLocal,
    /// `call name`: a local call if `name` is a label, else a helper by name.
    CallByName,
    /// The offset in `lddw rN, func(label)`.
    Func,
}

/// A reference to a label, resolved once all labels are known.
#[derive(Debug, Clone)]
pub(crate) struct Fixup {
    pub label: String,
    /// Byte offset of the label name in its line.
    pub pos: usize,
    pub field: FixupField,
}

/// One instruction as a line gave it, with its pending label reference.
pub(crate) struct Parsed {
    pub insn: Insn,
    pub fixup: Option<Fixup>,
}

impl From<Insn> for Parsed {
    fn from(insn: Insn) -> Self {
        Parsed { insn, fixup: None }
    }
}

/// Assembles `text`, detecting its syntax with [`detect_syntax`].
///
/// Text without any instruction is an error (an empty program is not a
/// program). Labels may be used before they are defined; a label must
/// name an instruction. In `call name`, a label wins over a helper name.
pub fn assemble(text: &str) -> Result<Vec<Insn>, AsmError> {
    assemble_as(text, detect_syntax(text))
}

/// Assembles `text` written in `syntax`.
pub fn assemble_as(text: &str, syntax: Syntax) -> Result<Vec<Insn>, AsmError> {
    program::assemble(text, syntax)
}

/// The syntax `text` is written in: the first line that only one syntax
/// can mean decides (`%r` registers and uBPF mnemonics such as `mov` or
/// `jeq` mean uBPF; `rN =`, `wN`, `goto`, `if`, `*(` mean Linux). Text
/// that both read the same way (`exit`, `call 1`) is [`Syntax::Linux`].
pub fn detect_syntax(text: &str) -> Syntax {
    detect::detect(text)
}
