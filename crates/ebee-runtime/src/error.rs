//! Errors: loading a program ([`LoadError`]) and running it ([`ExecError`]).
//!
//! [`ExecError`] is shared with the JIT (`ebee-jit`), so that a fault names
//! the same pc, address and region whichever engine ran the program.

use ebee_isa::DecodeError;

/// Why a program could not be prepared for execution.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid program.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The program has no instructions.
    #[error("empty program")]
    Empty,
    /// The program is longer than the interpreter can address.
    #[error("program of {len} instructions is too long (at most {max})")]
    TooLong {
        /// Its length in slots.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A jump or call whose target is not an instruction of the program.
    #[error("instruction {pc}: jump to {target} is outside the program")]
    JumpOutOfRange {
        /// The jump's pc.
        pc: usize,
        /// The target pc.
        target: i64,
    },
    /// A jump or call landing on the second slot of `lddw`.
    #[error("instruction {pc}: jump to {target} lands in the middle of lddw")]
    JumpIntoImm64 {
        /// The jump's pc.
        pc: usize,
        /// The target pc.
        target: i64,
    },
    /// An `lddw` not followed by its second-slot placeholder, or a stray placeholder.
    #[error("instruction {pc}: malformed lddw pair")]
    MalformedImm64 {
        /// The pc of the `lddw` or of the stray placeholder.
        pc: usize,
    },
    /// An instruction the userspace runtime cannot execute (yet).
    #[error("instruction {pc}: {what} is not supported by the interpreter")]
    Unsupported {
        /// The instruction's pc.
        pc: usize,
        /// What it is and why.
        what: String,
    },
}

/// Why a run stopped before the main program's `exit`.
///
/// Every variant names the pc (the index of the instruction in the
/// program that was running, as in verifier logs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// A load, store or atomic outside every region the program may touch
    /// (checked mode), or a write to a read-only region.
    #[error(
        "instruction {pc} ({insn}): {} of {size} bytes at {addr:#x}: {region}",
        if *write { "write" } else { "read" }
    )]
    OutOfBounds {
        /// The instruction's pc.
        pc: usize,
        /// The instruction, printed.
        insn: String,
        /// The first byte accessed.
        addr: u64,
        /// The access size in bytes.
        size: u64,
        /// Whether the access writes.
        write: bool,
        /// Which region the access missed and how, or "no region".
        region: String,
    },
    /// An atomic access (or load-acquire/store-release) at an address that is
    /// not a multiple of its size.
    #[error("instruction {pc} ({insn}): misaligned atomic access of {size} bytes at {addr:#x}")]
    MisalignedAtomic {
        /// The instruction's pc.
        pc: usize,
        /// The instruction, printed.
        insn: String,
        /// The address.
        addr: u64,
        /// The access size in bytes.
        size: u64,
    },
    /// The instruction budget ran out (a loop ran too long).
    #[error("instruction {pc}: instruction budget of {budget} exhausted")]
    BudgetExhausted {
        /// The instruction that would have exceeded the budget.
        pc: usize,
        /// The budget.
        budget: u64,
    },
    /// A bpf-to-bpf call beyond the frame limit (stack overflow).
    #[error("instruction {pc}: call depth exceeds {max} frames")]
    CallDepth {
        /// The call's pc.
        pc: usize,
        /// The frame limit.
        max: usize,
    },
    /// Execution ran past the last instruction.
    #[error("instruction {pc}: execution falls off the end of the program")]
    FellOffEnd {
        /// The last instruction executed.
        pc: usize,
    },
    /// A call of a helper id nobody registered (also `callx` with a bad id).
    #[error("instruction {pc}: unknown helper {id}")]
    UnknownHelper {
        /// The call's pc.
        pc: usize,
        /// The helper id (for `callx`, the register's value).
        id: u64,
    },
    /// A helper returned an error (or panicked).
    #[error("instruction {pc}: helper {id} ({name}) failed: {message}")]
    HelperFailed {
        /// The call's pc.
        pc: usize,
        /// The helper id.
        id: u64,
        /// The helper's registered name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// An instruction that cannot execute (never produced by lowering a
    /// valid program; reported rather than panicking).
    #[error("instruction {pc} ({insn}) cannot be executed")]
    InvalidInstruction {
        /// The instruction's pc.
        pc: usize,
        /// The instruction, printed.
        insn: String,
    },
    /// A legacy packet load (`ldabs`/`ldind`) in a run that has no packet.
    #[error("instruction {pc}: legacy packet load in a run without a packet")]
    NoPacket {
        /// The instruction's pc.
        pc: usize,
    },
}

impl ExecError {
    /// The pc the error names.
    pub fn pc(&self) -> usize {
        match self {
            ExecError::OutOfBounds { pc, .. }
            | ExecError::MisalignedAtomic { pc, .. }
            | ExecError::BudgetExhausted { pc, .. }
            | ExecError::CallDepth { pc, .. }
            | ExecError::FellOffEnd { pc }
            | ExecError::UnknownHelper { pc, .. }
            | ExecError::HelperFailed { pc, .. }
            | ExecError::InvalidInstruction { pc, .. }
            | ExecError::NoPacket { pc } => *pc,
        }
    }

    /// The error without host addresses, for comparing runs whose memory
    /// lives at different addresses (two engines, two processes): the
    /// kind and pc, and for accesses the size and direction; other errors
    /// print as they are.
    pub fn portable_key(&self) -> String {
        match self {
            ExecError::OutOfBounds {
                pc, size, write, ..
            } => format!("OutOfBounds pc={pc} size={size} write={write}"),
            ExecError::MisalignedAtomic { pc, size, .. } => {
                format!("MisalignedAtomic pc={pc} size={size}")
            }
            other => other.to_string(),
        }
    }
}
