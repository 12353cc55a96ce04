//! The `ebee-jit-checked` and `ebee-jit` columns: ebee's Cranelift JIT.

use super::{require_fit, Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;

/// `ebee_jit::JitProgram` in checked mode (bounds checks and an instruction
/// budget, run with `run`) or verified mode (no checks, `run_unchecked`).
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
        let mut vm = Vm::from_bytes(bench.program.bytecode)
            .map_err(|e| EngineError::new(format!("ebee cannot load {}: {e}", bench.name)))?;
        vm.set_budget(BUDGET);
        let options = if self.checked {
            JitOptions::CHECKED
        } else {
            JitOptions::VERIFIED
        };
        let program = JitProgram::compile(&vm, options).map_err(|e| {
            EngineError::new(format!("ebee JIT cannot compile {}: {e}", bench.name))
        })?;
        Ok(Box::new(EbeeJitProgram {
            program,
            bench: *bench,
        }))
    }
}

impl Loaded for EbeeJitProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        let result = if self.program.options().checked {
            self.program.run(mem)
        } else {
            require_fit(&self.bench, mem)?;
            // SAFETY: verified-mode code checks nothing; the program is one
            // of this crate's clang-built benchmarks, which only touch the
            // header and the data its size names (checked against `mem`
            // just above) and their stack, and terminate; the checked
            // engines run the same bytes with bounds checks in the tests.
            unsafe { self.program.run_unchecked(mem) }
        };
        result.map_err(|e| EngineError::new(format!("ebee JIT: {e}")))
    }
}
