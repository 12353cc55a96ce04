//! The `ebee-jit-checked` and `ebee-jit` columns: ebee's Cranelift JIT.

use super::runtime_object::RuntimeObject;
use super::{require_fit, Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;
use crate::program::Code;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;
use std::sync::Arc;

/// `ebee_jit::JitProgram` in checked mode (bounds checks and an instruction
/// budget, run with `run`) or verified mode (no checks, `run_unchecked`).
/// Object programs are loaded (and verified) by the runtime's loader and
/// their entry program compiled; tail-call targets compile on first use.
pub struct EbeeJit {
    /// Checked mode rather than verified mode.
    pub checked: bool,
}

/// Instruction budget of checked runs: far above any benchmark's count, so
/// it measures the cost of counting, never stops a run.
const BUDGET: u64 = 1 << 40;

struct EbeeJitProgram {
    program: JitProgram,
    bench: Benchmark,
    /// For object programs: the loaded object (maps, prog array).
    object: Option<RuntimeObject>,
}

impl Engine for EbeeJit {
    fn name(&self) -> &'static str {
        if self.checked {
            "ebee-jit-checked"
        } else {
            "ebee-jit"
        }
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        let (vm, object) = match bench.program {
            Code::Raw(p) => {
                let mut vm = Vm::from_bytes(p.bytecode).map_err(|e| {
                    EngineError::new(format!("ebee cannot load {}: {e}", bench.name))
                })?;
                vm.set_budget(BUDGET);
                (Arc::new(vm), None)
            }
            Code::Object(code) => {
                let object = RuntimeObject::load(bench, &code, BUDGET)?;
                let vm = if self.checked {
                    object.program().vm().clone()
                } else {
                    object.unchecked_program(bench)?.vm().clone()
                };
                (vm, Some(object))
            }
        };
        let options = if self.checked {
            JitOptions::CHECKED
        } else {
            JitOptions::VERIFIED
        };
        let program = JitProgram::compile_shared(vm, options).map_err(|e| {
            EngineError::new(format!("ebee JIT cannot compile {}: {e}", bench.name))
        })?;
        Ok(Box::new(EbeeJitProgram {
            program,
            bench: *bench,
            object,
        }))
    }
}

impl Loaded for EbeeJitProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        let checked = self.program.options().checked;
        let result = match &self.object {
            Some(object) => object.with_invocation(mem, |inv| {
                if checked {
                    self.program.run_with(inv)
                } else {
                    // SAFETY: `load` made sure the runtime's verifier
                    // cleared the program, and every program it can
                    // tail-call, for unchecked runs with this invocation
                    // (the one `LoadedProgram::run` makes).
                    unsafe { self.program.run_with_unchecked(inv) }
                }
            }),
            None if checked => self.program.run(mem),
            None => {
                require_fit(&self.bench, mem)?;
                // SAFETY: verified-mode code checks nothing; the program is
                // one of this crate's clang-built benchmarks, which only
                // touch the header and the data its size names (checked
                // against `mem` just above) and their stack, and terminate;
                // the checked engines run the same bytes with bounds checks
                // in the tests.
                unsafe { self.program.run_unchecked(mem) }
            }
        };
        result.map_err(|e| EngineError::new(format!("ebee JIT: {e}")))
    }
}
