//! Why a program could not be compiled. (Run-time faults are the
//! interpreter's [`ebee_runtime::ExecError`], so both engines report the
//! same thing.)

use ebee_runtime::LoadError;

/// Why a program could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum JitError {
    /// The interpreter would not load the program either (bad encoding,
    /// jumps outside it, unsupported instructions).
    #[error("{0}")]
    Load(#[from] LoadError),
    /// An instruction the JIT does not translate.
    #[error("instruction {pc}: {what} is not supported by the JIT")]
    Unsupported {
        /// The instruction's index.
        pc: usize,
        /// What it is.
        what: String,
    },
    /// Cranelift rejected the generated code (a bug in the JIT).
    #[error("code generation failed: {0}")]
    Codegen(String),
}
