//! The `kernel-jit` column: the benchmark's kernel XDP program loaded into
//! the running Linux kernel (`bpf(2)`, its verifier and JIT) and timed by
//! `BPF_PROG_TEST_RUN` with a repeat count: the kernel's own average
//! time per run, with no system call in the timed loop. Object benchmarks
//! load the same object into the kernel (`ebee_kernel::LoadedObject`: its
//! maps and prog array in the kernel) and test-run the entry program.
//! Benchmarks without a kernel form, or a kernel without BPF, give `n/a`.

use super::{Engine, EngineError, Loaded};
use crate::benchmark::Benchmark;
use crate::input::HEADER_LEN;
use crate::program::Code;
use ebee_kernel::{
    KernelProgram, LoadOptions, LoadedObject, ObjectLoadOptions, ProgramType, TestRun,
};
use std::time::Duration;

/// The kernel's JIT through `BPF_PROG_TEST_RUN`.
pub struct KernelJit;

enum KernelLoaded {
    Program(Box<KernelProgram>),
    /// A whole object and the name of the program runs start in.
    Object(LoadedObject, &'static str),
}

pub use super::NOT_APPLICABLE;

impl Engine for KernelJit {
    fn name(&self) -> &'static str {
        "kernel-jit"
    }

    fn load(&self, bench: &Benchmark) -> Result<Box<dyn Loaded>, EngineError> {
        if let Code::Object(code) = bench.program {
            let obj = code.parse().map_err(EngineError::new)?;
            let object = LoadedObject::load(&obj, &ObjectLoadOptions::default())
                .map_err(|e| EngineError::new(format!("{NOT_APPLICABLE} kernel load: {e}")))?;
            if object.program(code.entry).is_none() {
                return Err(EngineError::new(format!(
                    "{}.o has no program {} in the kernel",
                    code.name, code.entry
                )));
            }
            return Ok(Box::new(KernelLoaded::Object(object, code.entry)));
        }
        let Some(prog) = bench.kernel_xdp else {
            return Err(EngineError::new(format!(
                "{NOT_APPLICABLE} {} has no kernel form",
                bench.name
            )));
        };
        let opts = LoadOptions {
            name: "ebee_bench".to_string(),
            ..LoadOptions::default()
        };
        let program = KernelProgram::load_bytes(ProgramType::Xdp, prog.bytecode, "GPL", &opts)
            .map_err(|e| EngineError::new(format!("{NOT_APPLICABLE} kernel load: {e}")))?;
        Ok(Box::new(KernelLoaded::Program(Box::new(program))))
    }
}

impl KernelLoaded {
    fn program(&self) -> Result<&KernelProgram, EngineError> {
        match self {
            KernelLoaded::Program(p) => Ok(p),
            KernelLoaded::Object(object, entry) => object
                .program(entry)
                .ok_or_else(|| EngineError::new(format!("no program {entry} in the kernel"))),
        }
    }

    fn test_run(&self, mem: &[u8], repeat: u32) -> Result<(u64, Duration), EngineError> {
        let packet = mem.get(HEADER_LEN..).unwrap_or_default();
        let out = self
            .program()?
            .test_run(&TestRun::new(packet).repeat(repeat))
            .map_err(|e| EngineError::new(format!("BPF_PROG_TEST_RUN: {e}")))?;
        Ok((out.retval as u64, out.duration()))
    }
}

impl Loaded for KernelLoaded {
    fn run(&mut self, mem: &mut [u8]) -> Result<u64, EngineError> {
        Ok(self.test_run(mem, 1)?.0)
    }

    fn time_runs(
        &mut self,
        mem: &mut [u8],
        runs: u32,
    ) -> Option<Result<(u64, Duration), EngineError>> {
        Some(self.test_run(mem, runs.max(1)))
    }
}
