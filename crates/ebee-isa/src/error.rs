//! Errors of decoding the wire format.

use crate::raw::RawInsn;
use std::fmt;

/// What is wrong with one instruction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeErrorKind {
    /// The program has no instructions.
    #[error("empty program")]
    Empty,
    /// The byte length is not a multiple of 8.
    #[error("{0} trailing bytes after the last whole instruction")]
    TrailingBytes(usize),
    /// The opcode byte names no instruction.
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// A field this instruction does not use is not zero.
    #[error("unused field `{field}` must be 0, is {value}")]
    ReservedField {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: i64,
    },
    /// A register field is out of range.
    #[error("invalid {field} register {value}")]
    InvalidRegister {
        /// The field's name.
        field: &'static str,
        /// Its value.
        value: u8,
    },
    /// An immediate has a value this instruction does not accept.
    #[error("invalid {what}: {value}")]
    InvalidImm {
        /// What the immediate means here.
        what: &'static str,
        /// Its value.
        value: i64,
    },
    /// `lddw` is the last slot of the program.
    #[error("lddw without its second slot")]
    MissingImm64Tail,
    /// The slot after `lddw` is not a valid second half.
    #[error("the second slot of lddw must have opcode, registers and offset 0")]
    BadImm64Tail,
    /// A jump or call leaves the program.
    #[error("jump to {target} is outside the program")]
    JumpOutOfRange {
        /// The target pc.
        target: i64,
    },
    /// A jump or call lands on the second slot of `lddw`.
    #[error("jump to {target} lands in the middle of lddw")]
    JumpIntoImm64 {
        /// The target pc.
        target: i64,
    },
}

/// A malformed instruction in a program, with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Index of the offending slot.
    pub pc: usize,
    /// The slot as it was encoded, when there was one.
    pub raw: Option<RawInsn>,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "instruction {}", self.pc)?;
        if let Some(raw) = self.raw {
            write!(f, " (")?;
            for (i, b) in raw.to_bytes().iter().enumerate() {
                if i > 0 {
                    write!(f, " ")?;
                }
                write!(f, "{b:02x}")?;
            }
            write!(f, ")")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for DecodeError {}
