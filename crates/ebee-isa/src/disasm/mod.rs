//! Instructions → text, in either assembler syntax.
//!
//! [`format_insn`] gives one instruction on one line; [`disassemble`] a
//! whole program, optionally with `llvm-objdump -d` style pc and raw byte
//! columns (`       0:\tb7 01 00 00 01 00 00 00\tr1 = 0x1`). Everything this
//! module prints, [`crate::asm::assemble_as`] reads back to the same
//! instructions, columns included.
//!
//! Jumps print their offsets relative to the next instruction (`goto +3`),
//! never labels; helper calls print the id (`call 1`), as llvm-objdump does.

mod linux;
mod number;
mod ubpf;

pub use crate::asm::Syntax;
use crate::encode::encode_insn;
use crate::insn::Insn;
use std::fmt::Write;

/// How [`disassemble`] lays out its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DisasmOptions {
    /// The syntax of the instruction text.
    pub syntax: Syntax,
    /// Start each line with the pc, right-aligned as `llvm-objdump` does (`      12:`).
    pub show_pc: bool,
    /// Show the instruction's wire bytes (16 for `lddw`) before its text.
    pub show_bytes: bool,
}

/// One instruction as one line of text, without pc or bytes.
///
/// [`Insn::LdImm64Tail`] gives the empty string: the `lddw` before it
/// already printed its whole value.
pub fn format_insn(insn: &Insn, syntax: Syntax) -> String {
    match syntax {
        Syntax::Linux => linux::format(insn),
        Syntax::Ubpf => ubpf::format(insn),
    }
}

/// A program as text, one line per instruction (none for the second slot
/// of `lddw`), each ending in a newline. The index of an instruction in
/// `insns` is its pc, as in decoded programs.
pub fn disassemble(insns: &[Insn], opts: &DisasmOptions) -> String {
    let mut out = String::new();
    for (pc, insn) in insns.iter().enumerate() {
        if *insn == Insn::LdImm64Tail {
            continue;
        }
        if opts.show_pc {
            let _ = write!(out, "{pc:>8}:");
        }
        if opts.show_bytes {
            out.push('\t');
            let bytes = crate::raw::slots_to_bytes(&encode_insn(insn));
            for (i, b) in bytes.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{b:02x}");
            }
        }
        if opts.show_pc || opts.show_bytes {
            out.push('\t');
        }
        out.push_str(&format_insn(insn, opts.syntax));
        out.push('\n');
    }
    out
}
