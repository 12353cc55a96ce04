//! The Linux backend: bpf(2) program load, maps, attach and test runs through raw syscalls.
//!
//! Talks to the kernel through `libc::syscall(SYS_bpf, ...)` directly, with
//! its own `#[repr(C)]` attribute structures ([`sys`]); everything above that
//! layer is safe code. The kernel is also ebee's test oracle: load the same
//! bytecode here and in ebee's runtime, run both, compare.

#![warn(missing_docs)]

pub mod attach_type;
pub mod error;
pub mod probe;
pub mod prog;
pub mod prog_type;
pub mod sys;
pub mod test_run;
pub mod verifier_log;

pub use attach_type::AttachType;
pub use error::{LoadError, TestRunError};
pub use probe::{probe, probe_program_type};
pub use prog::{KernelProgram, LoadOptions};
pub use prog_type::ProgramType;
pub use test_run::{TestRun, TestRunOutput};
pub use verifier_log::{LogLevel, VerifierLog, VerifierStats};
