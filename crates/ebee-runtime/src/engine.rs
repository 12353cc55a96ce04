//! How loaded programs execute: [`Engine`] prepares a [`Vm`] once and the
//! [`Executable`] it returns runs it, checked or unchecked. The interpreter
//! ([`Interpreter`]) is the default; a compiler (the JIT in `ebee-jit`,
//! which depends on this crate, not the other way round) plugs in through
//! [`crate::loader::LoadOptions::engine`], and then every runner of loaded
//! programs (the raw convention, XDP, socket filter, tc, hooks) runs its
//! code.

use crate::error::ExecError;
use crate::vm::{Invocation, Vm};
use std::fmt;
use std::sync::Arc;

/// A way to execute programs.
pub trait Engine: Send + Sync + fmt::Debug {
    /// Its name, for messages (`"interpreter"`, `"jit"`).
    fn name(&self) -> &'static str;

    /// Prepares `vm` (compiles it, for a compiler). `verified`: the
    /// verifier accepted it, so some runs may be unchecked
    /// ([`Executable::run_unchecked`]); otherwise every run is checked.
    fn prepare(&self, vm: &Arc<Vm>, verified: bool) -> Result<Arc<dyn Executable>, String>;
}

/// A program prepared by an [`Engine`], behaving exactly as the
/// interpreter's [`Vm::run_with`] and [`Vm::run_with_unchecked`] would.
pub trait Executable: Send + Sync + fmt::Debug {
    /// Runs with every access checked and the budget enforced.
    fn run_checked(&self, inv: &Invocation) -> Result<u64, ExecError>;

    /// Runs without memory checks where the engine can omit them.
    ///
    /// # Safety
    /// As [`Vm::run_with_unchecked`].
    unsafe fn run_unchecked(&self, inv: &Invocation) -> Result<u64, ExecError>;
}

/// The interpreter: the definition of every instruction's meaning.
#[derive(Debug, Clone, Copy, Default)]
pub struct Interpreter;

impl Engine for Interpreter {
    fn name(&self) -> &'static str {
        "interpreter"
    }

    fn prepare(&self, vm: &Arc<Vm>, _verified: bool) -> Result<Arc<dyn Executable>, String> {
        Ok(Arc::clone(vm) as Arc<dyn Executable>)
    }
}

impl Executable for Vm {
    fn run_checked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        self.run_with(inv)
    }

    unsafe fn run_unchecked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        // SAFETY: forwarded to the caller.
        unsafe { self.run_with_unchecked(inv) }
    }
}
