//! Object benchmarks ([`Code::Object`]) in ebee's runtime: the object
//! loaded by `ebee_runtime::loader` (maps created, programs verified, prog
//! array filled), for the interpreter and JIT columns.

use super::EngineError;
use crate::benchmark::Benchmark;
use crate::program::ObjectProgram;
use ebee_runtime::loader::{LoadOptions, LoadedObject, LoadedProgram};
use ebee_runtime::{Invocation, Region};

/// A loaded object and which of its programs a run starts in.
pub struct RuntimeObject {
    object: LoadedObject,
    entry: usize,
}

impl RuntimeObject {
    /// Loads `code` (verifying every program) with `budget` per run.
    pub fn load(
        bench: &Benchmark,
        code: &ObjectProgram,
        budget: u64,
    ) -> Result<RuntimeObject, EngineError> {
        let obj = code.parse().map_err(EngineError::new)?;
        let object = LoadedObject::load(&obj, &LoadOptions::new().budget(budget))
            .map_err(|e| EngineError::new(format!("ebee cannot load {}: {e}", bench.name)))?;
        let entry = object
            .programs()
            .iter()
            .position(|p| p.name() == code.entry)
            .ok_or_else(|| {
                EngineError::new(format!("{}.o has no program {}", code.name, code.entry))
            })?;
        Ok(RuntimeObject { object, entry })
    }

    /// The entry program.
    pub fn program(&self) -> &LoadedProgram {
        &self.object.programs()[self.entry]
    }

    /// The entry program, refused unless the verifier proved it (and every
    /// program it can tail-call) safe to run without memory checks.
    pub fn unchecked_program(&self, bench: &Benchmark) -> Result<&LoadedProgram, EngineError> {
        let p = self.program();
        if p.unchecked() {
            Ok(p)
        } else {
            Err(EngineError::new(format!(
                "{}: the verifier did not clear {} for unchecked runs",
                bench.name,
                p.name()
            )))
        }
    }

    /// Runs the entry program with the `run` closure on the invocation
    /// `LoadedProgram::run` makes for `mem`: `r1` = `mem`, `r2` = its
    /// length, the object's array maps and globals as regions.
    pub fn with_invocation<T>(&self, mem: &mut [u8], run: impl FnOnce(&Invocation) -> T) -> T {
        let input = Region::new(mem.as_mut_ptr() as u64, mem.len() as u64, true, "input");
        let mut inv = Invocation::new([input.start, input.len, 0, 0, 0]);
        // SAFETY: `mem` stays mutably borrowed until `run` returns, and the
        // maps behind the object's regions live as long as `self.object`,
        // which outlives the call.
        unsafe {
            inv.set_input(input).set_packet(input);
            for r in self.program().regions() {
                inv.add_region(*r);
            }
        }
        run(&inv)
    }
}
