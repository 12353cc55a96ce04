//! Which engine runs a program: the interpreter or the JIT. Raw programs
//! run in checked mode, since `ebee run` does not verify them: every access
//! is checked and the instruction budget enforced, exactly as in the
//! interpreter. Objects run through the loader, which verifies them: the
//! JIT compiles verified programs without checks ([`Engine::for_objects`]).

use crate::failure::Failure;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};
use std::sync::Arc;

/// The engine named on the command line (`--engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// Native code through Cranelift, checked mode.
    Jit,
    /// The interpreter, the definition of every instruction's meaning.
    Interp,
}

/// A program prepared for one engine, ready to run many times.
pub enum Runner {
    /// Runs in the interpreter.
    Interp(Arc<Vm>),
    /// Runs compiled.
    Jit(Box<JitProgram>),
}

impl Engine {
    /// The runtime loader's engine for objects: the interpreter, or the JIT
    /// (verified programs in verified mode, unverified ones checked), with
    /// constant blinding when `blind`.
    pub fn for_objects(self, blind: bool) -> Arc<dyn ebee_runtime::Engine> {
        match self {
            Engine::Interp => Arc::new(ebee_runtime::Interpreter),
            Engine::Jit => Arc::new(ebee_jit::JitEngine::new().blind_constants(blind)),
        }
    }

    /// The name printed with a run's mode.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Jit => "jit",
            Engine::Interp => "interpreter",
        }
    }

    /// Prepares `vm` (compiles it, for the JIT).
    pub fn prepare(self, vm: Vm) -> Result<Runner, Failure> {
        self.prepare_blinded(vm, false)
    }

    /// [`Engine::prepare`], for the JIT with constant blinding when
    /// `blind` (the interpreter has no machine code to blind).
    pub fn prepare_blinded(self, vm: Vm, blind: bool) -> Result<Runner, Failure> {
        match self {
            Engine::Interp => Ok(Runner::Interp(Arc::new(vm))),
            Engine::Jit => {
                JitProgram::compile_shared(Arc::new(vm), JitOptions::CHECKED.blind_constants(blind))
                    .map(|p| Runner::Jit(Box::new(p)))
                    .map_err(|e| Failure::Input(format!("JIT: {e}")))
            }
        }
    }
}

impl Runner {
    /// Runs once on `mem`; returns `r0`.
    pub fn run(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        match self {
            Runner::Interp(vm) => vm.run(mem),
            Runner::Jit(p) => p.run(mem),
        }
    }
}
