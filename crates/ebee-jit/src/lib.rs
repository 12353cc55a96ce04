//! Native code for eBPF programs through Cranelift, in two modes:
//!
//! - **verified** (`checked: false`): no run-time checks, for programs the
//!   verifier proved safe; run with [`JitProgram::run_unchecked`].
//! - **checked** (`checked: true`): every memory access is checked against
//!   the regions the program may touch (inline for the current frame and
//!   the input buffer, through Rust for the rest) and an instruction budget
//!   is charged per basic block, so unverified programs cannot escape; run
//!   with [`JitProgram::run`].
//!
//! Results are those of the interpreter in `ebee-runtime`, which defines
//! every instruction's meaning; the tests compare the two.
//!
//! ```
//! use ebee_jit::{JitOptions, JitProgram};
//! // r0 = r2 (the input length); exit
//! let bytes = [0xbf, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let prog = JitProgram::from_bytes(&bytes, JitOptions::CHECKED).unwrap();
//! assert_eq!(prog.run(&mut [0u8; 7]).unwrap(), 7);
//! ```

#![warn(missing_docs)]

mod code_memory;
mod compiler;
mod context;
mod control_flow;
mod error;
mod program;
mod run_state;
mod runtime_calls;
mod translate;

pub use ebee_runtime::ExecError;
pub use error::JitError;
pub use program::{JitOptions, JitProgram};

/// Compiles `insns` for the Cranelift target called `isa_name` (e.g.
/// `"aarch64"`) down to machine code, one byte vector per eBPF function,
/// without linking or running it: how the JIT is tested on targets other
/// than the host.
pub fn compile_for_target(
    insns: &[ebee_isa::Insn],
    isa_name: &str,
    checked: bool,
) -> Result<Vec<Vec<u8>>, JitError> {
    let isa = compiler::isa_by_name(isa_name)?;
    compiler::compile_to_bytes(
        insns,
        translate::TranslateMode {
            checked,
            optimize: true,
        },
        &*isa,
    )
}
