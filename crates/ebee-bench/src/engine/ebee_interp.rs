//! The `ebee-interp` and `ebee-interp-unchecked` columns: ebee's
//! interpreter in its two modes.

use super::runtime_object::RuntimeObject;
use super::{require_fit, Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;
use crate::program::Code;
use ebee_runtime::Vm;

/// `ebee_runtime::Vm::run` (checked: every access against the regions, an
/// instruction budget) or `Vm::run_unchecked` (no region checks). Object
/// programs go through the runtime's loader and run as
/// `LoadedProgram::run_with` (checked) or `LoadedProgram::run` (unchecked,
/// which the loader allows only for verified programs).
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

struct EbeeInterpObject {
    object: RuntimeObject,
    checked: bool,
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
        let bytecode = match bench.program {
            Code::Raw(p) => p.bytecode,
            Code::Object(code) => {
                let object = RuntimeObject::load(bench, &code, BUDGET)?;
                if !self.checked {
                    object.unchecked_program(bench)?;
                }
                return Ok(Box::new(EbeeInterpObject {
                    object,
                    checked: self.checked,
                }));
            }
        };
        let mut vm = Vm::from_bytes(bytecode)
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

impl Loaded for EbeeInterpObject {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        let program = self.object.program();
        let result = if self.checked {
            // `run_with` adds the object's regions itself.
            self.object
                .with_invocation(mem, |inv| program.vm().run_with(inv))
        } else {
            // Unchecked: `load` made sure the verifier cleared it.
            program.run(mem)
        };
        result.map_err(|e| EngineError::new(format!("ebee interpreter: {e}")))
    }
}
