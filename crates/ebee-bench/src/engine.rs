//! [`Engine`]: something that runs a benchmark program, one column of the
//! table. Adding a column is one more file in `engine/` and one line in
//! [`all`].

mod ebee_interp;
mod ebee_jit;
#[cfg(target_os = "linux")]
pub mod kernel_jit;
mod native;
mod rbpf_interp;
#[cfg(target_arch = "x86_64")]
mod rbpf_jit;
mod runtime_object;

use crate::benchmark::Benchmark;
use std::fmt;

/// The prefix of load errors that mean "this cell does not apply": the
/// table shows `n/a`.
pub const NOT_APPLICABLE: &str = "n/a:";

/// Why an engine could not load or run a program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError(pub String);

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EngineError {}

impl EngineError {
    /// An error from anything printable.
    pub fn new(message: impl fmt::Display) -> EngineError {
        EngineError(message.to_string())
    }
}

/// A way of executing a benchmark.
pub trait Engine {
    /// Column name, e.g. `rbpf-interp`.
    fn name(&self) -> &'static str;

    /// Prepares `bench` (decode, compile, …); the time this takes is not
    /// measured.
    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError>;
}

/// A program an [`Engine`] prepared, ready to run many times.
pub trait Loaded {
    /// Runs once on `mem` (the benchmark's input buffer) and returns `r0`.
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError>;

    /// For engines that time themselves (the kernel, whose test runs
    /// repeat inside one system call): runs `runs` times and returns `r0`
    /// and the time of one run. `None`: the harness times [`Loaded::run`].
    fn time_runs(
        &mut self,
        _mem: &mut [u8],
        _runs: u32,
    ) -> Option<Result<(u64, std::time::Duration), EngineError>> {
        None
    }
}

/// Every engine this build can run, in column order.
pub fn all() -> Vec<Box<dyn Engine>> {
    let mut engines: Vec<Box<dyn Engine>> = vec![
        Box::new(ebee_interp::EbeeInterp { checked: true }),
        Box::new(ebee_interp::EbeeInterp { checked: false }),
        Box::new(ebee_jit::EbeeJit { checked: true }),
        Box::new(ebee_jit::EbeeJit { checked: false }),
        Box::new(rbpf_interp::RbpfInterp),
    ];
    #[cfg(target_arch = "x86_64")]
    engines.push(Box::new(rbpf_jit::RbpfJit));
    #[cfg(target_os = "linux")]
    engines.push(Box::new(kernel_jit::KernelJit));
    engines.push(Box::new(native::Native));
    engines
}

/// Refuses a buffer that does not hold everything the program touches,
/// for engines that run without run-time memory checks.
fn require_fit(bench: &Benchmark, mem: &[u8]) -> Result<(), EngineError> {
    if bench.fits(mem) {
        Ok(())
    } else {
        Err(EngineError::new(format!(
            "{}: a {}-byte buffer is too short for the size in its header; \
             an engine without run-time checks will not run it",
            bench.name,
            mem.len()
        )))
    }
}
