//! [`JitEngine`]: the JIT as an [`Engine`] of the runtime's loader, so a
//! loaded object's programs (raw runs, XDP, socket filter, tc, hooks) run
//! as native code.

use crate::program::{JitOptions, JitProgram};
use ebee_runtime::{Engine, ExecError, Executable, Invocation, Vm};
use std::sync::{Arc, OnceLock};

/// Compiles each loaded program: verified ones in verified mode
/// ([`JitOptions::VERIFIED`]) for their unchecked runs, and in checked
/// mode ([`JitOptions::CHECKED`]) on first need (a run the loader checks,
/// e.g. a context the proof does not cover); unverified ones in checked
/// mode only.
///
/// ```no_run
/// use ebee_jit::JitEngine;
/// use ebee_runtime::loader::{LoadOptions, LoadedObject};
/// use std::sync::Arc;
///
/// let obj = ebee_object::Object::parse(&std::fs::read("prog.o").unwrap()).unwrap();
/// let opts = LoadOptions::new().engine(Arc::new(JitEngine::new()));
/// let loaded = LoadedObject::load(&obj, &opts).unwrap();
/// let r0 = loaded.program("count").unwrap().run(&mut [0u8; 64]).unwrap();
/// # let _ = r0;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct JitEngine {
    /// Every option but `checked`, which each compile sets.
    options: JitOptions,
}

impl JitEngine {
    /// Optimised code (Cranelift's `speed` level).
    pub fn new() -> JitEngine {
        JitEngine {
            options: JitOptions::CHECKED,
        }
    }

    /// Whether Cranelift optimises (on by default; off compiles faster).
    pub fn optimize(mut self, on: bool) -> JitEngine {
        self.options.optimize = on;
        self
    }

    /// Constant blinding for every program compiled
    /// ([`JitOptions::blind_constants`]; off by default).
    pub fn blind_constants(mut self, on: bool) -> JitEngine {
        self.options.blind_constants = on;
        self
    }

    fn options(&self, checked: bool) -> JitOptions {
        JitOptions {
            checked,
            ..self.options
        }
    }
}

impl Default for JitEngine {
    fn default() -> JitEngine {
        JitEngine::new()
    }
}

impl Engine for JitEngine {
    fn name(&self) -> &'static str {
        "jit"
    }

    fn prepare(&self, vm: &Arc<Vm>, verified: bool) -> Result<Arc<dyn Executable>, String> {
        let compile = |checked| {
            JitProgram::compile_shared(Arc::clone(vm), self.options(checked))
                .map_err(|e| e.to_string())
        };
        let checked = OnceLock::new();
        let unchecked = if verified {
            Some(compile(false)?)
        } else {
            let _ = checked.set(Ok(compile(true)?));
            None
        };
        Ok(Arc::new(JitExecutable {
            vm: Arc::clone(vm),
            options: self.options(true),
            unchecked,
            checked,
        }))
    }
}

/// A loaded program's native code in the modes its runs need.
#[derive(Debug)]
struct JitExecutable {
    vm: Arc<Vm>,
    /// The options of the checked code.
    options: JitOptions,
    /// Verified-mode code, for verified programs.
    unchecked: Option<JitProgram>,
    /// Checked-mode code, compiled on first need (or why it could not be).
    checked: OnceLock<Result<JitProgram, String>>,
}

impl Executable for JitExecutable {
    fn run_checked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        let code = self
            .checked
            .get_or_init(|| {
                JitProgram::compile_shared(Arc::clone(&self.vm), self.options)
                    .map_err(|e| e.to_string())
            })
            .as_ref()
            .map_err(|e| ExecError::InvalidInstruction {
                pc: 0,
                insn: format!("the JIT cannot compile the program in checked mode: {e}"),
            })?;
        code.run_with(inv)
    }

    unsafe fn run_unchecked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        match &self.unchecked {
            // SAFETY: forwarded to the caller; the code is compiled from
            // the program the verifier accepted.
            Some(code) => unsafe { code.run_with_unchecked(inv) },
            // An unverified program has only checked code.
            None => self.run_checked(inv),
        }
    }
}
