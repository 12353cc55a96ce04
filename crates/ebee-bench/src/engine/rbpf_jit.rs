//! The `rbpf-jit` column: the x86-64 JIT of the `rbpf` crate.

use super::rbpf_interp::{extend_lifetime, no_objects};
use super::{require_fit, Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;

/// `rbpf::EbpfVmRaw::jit_compile` then `execute_program_jit`. rbpf's JIT
/// checks no memory access, so runs are refused unless the buffer holds
/// everything the program touches ([`Benchmark::fits`]).
pub struct RbpfJit;

struct RbpfJitProgram {
    vm: rbpf::EbpfVmRaw<'static>,
    bench: Benchmark,
}

impl Engine for RbpfJit {
    fn name(&self) -> &'static str {
        "rbpf-jit"
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        let bytecode = bench.program.raw().ok_or_else(|| no_objects(bench))?;
        let mut vm = rbpf::EbpfVmRaw::new(Some(bytecode))
            .map_err(|e| EngineError::new(format!("rbpf refuses {}: {e}", bench.name)))?;
        vm.jit_compile().map_err(|e| {
            EngineError::new(format!("rbpf JIT cannot compile {}: {e}", bench.name))
        })?;
        Ok(Box::new(RbpfJitProgram { vm, bench: *bench }))
    }
}

impl Loaded for RbpfJitProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        require_fit(&self.bench, mem)?;
        let mem = extend_lifetime(mem);
        // SAFETY: the program is one of this crate's clang-built benchmarks,
        // which only touch the header and the data its size names (checked
        // against `mem` just above) and their stack, and terminate; the
        // checked engines run the same bytes with bounds checks in the tests.
        unsafe { self.vm.execute_program_jit(mem) }
            .map_err(|e| EngineError::new(format!("rbpf JIT: {e}")))
    }
}
