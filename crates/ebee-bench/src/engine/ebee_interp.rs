//! The `ebee-interp` and `ebee-interp-unchecked` columns: ebee's
//! interpreter in its two modes.

use super::{require_fit, Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;
use ebee_runtime::Vm;

/// `ebee_runtime::Vm::run` (checked: every access against the regions, an
/// instruction budget) or `Vm::run_unchecked` (no region checks).
pub struct EbeeInterp {
    /// Checked mode rather than unchecked mode.
    pub checked: bool,
}

/// Instruction budget: far above any benchmark's count, so checked runs pay
/// for counting but are never cut short.
const BUDGET: u64 = 1 << 40;

struct EbeeInterpProgram {
    vm: Vm,
    checked: bool,
    bench: Benchmark,
}

impl Engine for EbeeInterp {
    fn name(&self) -> &'static str {
        if self.checked {
            "ebee-interp"
        } else {
            "ebee-interp-unchecked"
        }
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        let mut vm = Vm::from_bytes(bench.program.bytecode)
            .map_err(|e| EngineError::new(format!("ebee cannot load {}: {e}", bench.name)))?;
        vm.set_budget(BUDGET);
        Ok(Box::new(EbeeInterpProgram {
            vm,
            checked: self.checked,
            bench: *bench,
        }))
    }
}

impl Loaded for EbeeInterpProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        let result = if self.checked {
            self.vm.run(mem)
        } else {
            require_fit(&self.bench, mem)?;
            // SAFETY: unchecked mode checks no memory access; the program is
            // one of this crate's clang-built benchmarks, which only touch
            // the header and the data its size names (checked against `mem`
            // just above) and their stack, and terminate; the checked
            // engines run the same bytes with bounds checks in the tests.
            unsafe { self.vm.run_unchecked(mem) }
        };
        result.map_err(|e| EngineError::new(format!("ebee interpreter: {e}")))
    }
}
