//! The `rbpf-interp` column: the interpreter of the `rbpf` crate.

use super::{Engine, EngineError, Loaded, NOT_APPLICABLE};
use crate::benchmark::Benchmark;

/// `rbpf::EbpfVmRaw::execute_program`: `r1` = the buffer (rbpf leaves `r2`
/// at zero, which is why the programs read their size from the buffer).
pub struct RbpfInterp;

struct RbpfInterpProgram {
    vm: rbpf::EbpfVmRaw<'static>,
}

impl Engine for RbpfInterp {
    fn name(&self) -> &'static str {
        "rbpf-interp"
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        let bytecode = bench.program.raw().ok_or_else(|| no_objects(bench))?;
        let vm = rbpf::EbpfVmRaw::new(Some(bytecode))
            .map_err(|e| EngineError::new(format!("rbpf refuses {}: {e}", bench.name)))?;
        Ok(Box::new(RbpfInterpProgram { vm }))
    }
}

impl Loaded for RbpfInterpProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        let mem = extend_lifetime(mem);
        self.vm
            .execute_program(mem)
            .map_err(|e| EngineError::new(format!("rbpf: {e}")))
    }
}

/// Why rbpf gets no cell for object programs.
pub(super) fn no_objects(bench: &Benchmark) -> EngineError {
    EngineError::new(format!(
        "{NOT_APPLICABLE} {}: rbpf has no maps, no object loader and no tail calls \
         (its raw VM runs one function on a buffer, with host helpers only)",
        bench.name
    ))
}

/// rbpf's `execute_program(&self, mem: &'a mut [u8])` ties the buffer's
/// borrow to the VM's lifetime parameter `'a`, here `'static` (the program
/// bytes are static), although the VM only uses the buffer during the call.
pub(super) fn extend_lifetime(mem: &mut [u8]) -> &'static mut [u8] {
    // SAFETY: the returned slice covers exactly `mem`, which stays mutably
    // borrowed for this call's caller; the callers in this module pass it to
    // one rbpf execution, which neither keeps nor returns it, so it is never
    // used after `mem`'s borrow ends.
    unsafe { std::slice::from_raw_parts_mut(mem.as_mut_ptr(), mem.len()) }
}
