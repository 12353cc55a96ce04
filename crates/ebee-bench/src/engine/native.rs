//! The `native` column: the Rust twin of each program.

use super::{Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;

/// Calls [`Benchmark::native`].
pub struct Native;

struct NativeProgram(fn(&mut [u8]) -> u64);

impl Engine for Native {
    fn name(&self) -> &'static str {
        "native"
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        Ok(Box::new(NativeProgram(bench.native)))
    }
}

impl Loaded for NativeProgram {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        Ok((self.0)(mem))
    }
}
