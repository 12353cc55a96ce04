//! eBPF instructions: the typed [`Insn`], the 8-byte wire format
//! ([`RawInsn`]), decoding that rejects every malformed encoding the way
//! Linux does, and encoding back; an assembler and a disassembler for the
//! Linux (llvm-objdump) and uBPF syntaxes; the names of the Linux helpers.
//!
//! Semantics follow RFC 9669 and, where it is silent, Linux.

#![warn(missing_docs)]

pub mod asm;
pub mod decode;
pub mod disasm;
pub mod encode;
pub mod error;
pub mod helper_names;
pub mod insn;
pub mod opcode;
pub mod raw;

pub use asm::{assemble, assemble_as, detect_syntax, AsmError, Syntax};
pub use decode::{decode, decode_insn, decode_program};
pub use disasm::{disassemble, format_insn, DisasmOptions};
pub use encode::{encode, encode_insn, encode_into, encode_program};
pub use error::{DecodeError, DecodeErrorKind};
pub use insn::*;
pub use raw::RawInsn;
