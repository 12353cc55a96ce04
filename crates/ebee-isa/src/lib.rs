//! eBPF instructions: the typed [`Insn`], the 8-byte wire format
//! ([`RawInsn`]), decoding that rejects every malformed encoding the way
//! Linux does, and encoding back.
//!
//! Semantics follow RFC 9669 and, where it is silent, Linux.

#![warn(missing_docs)]

pub mod decode;
pub mod encode;
pub mod error;
pub mod insn;
pub mod opcode;
pub mod raw;

pub use decode::{decode, decode_insn, decode_program};
pub use encode::{encode, encode_insn, encode_into, encode_program};
pub use error::{DecodeError, DecodeErrorKind};
pub use insn::*;
pub use raw::RawInsn;
