//! Errors: compiling a program ([`JitError`]) and running it ([`ExecError`]).

use ebee_isa::DecodeError;

/// Why a program could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// The bytes are not a valid program.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The program has no instructions.
    #[error("empty program")]
    Empty,
    /// An instruction the JIT does not translate.
    #[error("instruction {pc}: {what} is not supported by the JIT")]
    Unsupported {
        /// The instruction's index.
        pc: usize,
        /// What it is.
        what: String,
    },
    /// A local call whose target is not an instruction.
    #[error("instruction {pc}: call target {target} is outside the program")]
    BadCallTarget {
        /// The call's index.
        pc: usize,
        /// The target pc.
        target: i64,
    },
    /// Cranelift rejected the generated code (a bug in the JIT).
    #[error("code generation failed: {0}")]
    Codegen(String),
}

/// Why a run stopped before `exit`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// A load or store outside every region the program may touch.
    #[error("instruction {pc}: {} of {size} bytes at {addr:#x} is outside every memory region", if *write { "write" } else { "read" })]
    OutOfBounds {
        /// The instruction's index.
        pc: usize,
        /// The first byte accessed.
        addr: u64,
        /// The access size.
        size: u64,
        /// Whether it was a store.
        write: bool,
    },
    /// The instruction budget ran out (a loop ran too long).
    #[error("instruction {pc}: instruction budget of {budget} exhausted")]
    BudgetExhausted {
        /// The instruction that would exceed the budget.
        pc: usize,
        /// The budget.
        budget: u64,
    },
    /// A bpf-to-bpf call beyond the frame limit.
    #[error("instruction {pc}: call depth exceeds {max} frames")]
    CallDepth {
        /// The call's index.
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
    /// A call of a helper id nobody registered.
    #[error("instruction {pc}: unknown helper {id}")]
    UnknownHelper {
        /// The call's index.
        pc: usize,
        /// The helper id.
        id: u64,
    },
    /// A helper failed (or panicked).
    #[error("instruction {pc}: helper {id} failed: {message}")]
    HelperFailed {
        /// The call's index.
        pc: usize,
        /// The helper id.
        id: u64,
        /// What went wrong.
        message: String,
    },
    /// A kfunc call: userspace has no kernel functions.
    #[error("instruction {pc}: kfunc calls are not available in userspace")]
    Kfunc {
        /// The call's index.
        pc: usize,
    },
    /// A legacy packet load outside the packet.
    #[error(
        "instruction {pc}: packet load of {size} bytes at offset {offset} is outside the packet"
    )]
    PacketOutOfBounds {
        /// The instruction's index.
        pc: usize,
        /// The offset in the packet.
        offset: u64,
        /// The access size.
        size: u64,
    },
    /// `run` was called on a program compiled in verified mode.
    #[error("the program was compiled in verified mode; only run_unchecked may run it")]
    NotChecked,
    /// Native code stopped without saying why (a bug in the JIT).
    #[error("the run stopped without a recorded fault")]
    Stopped,
}
