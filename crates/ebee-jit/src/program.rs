//! [`JitProgram`]: a compiled program and how to run it.

use crate::code_memory::CodeMemory;
use crate::context::{JitContext, FRAME_SIZE};
use crate::error::{ExecError, JitError};
use crate::helpers::Helpers;
use crate::run_state::{frame_area_len, Region, RunState};
use crate::translate::TranslateMode;
use ebee_isa::Insn;
use std::time::{Duration, Instant};

/// How to compile a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitOptions {
    /// Checked mode: every memory access is checked against the regions
    /// the program may touch and the instruction budget is enforced, so
    /// unverified programs run safely. Off (verified mode) for programs the
    /// verifier proved, which then run through [`JitProgram::run_unchecked`].
    pub checked: bool,
    /// Instructions a checked run may execute.
    pub budget: u64,
    /// Frames available to bpf-to-bpf calls, the entry frame included.
    pub max_frames: usize,
}

impl Default for JitOptions {
    fn default() -> JitOptions {
        JitOptions {
            checked: true,
            budget: 1_000_000,
            max_frames: 8,
        }
    }
}

/// Frame areas up to this size live on the Rust stack during a run.
const INLINE_FRAME_AREA: usize = 8 * FRAME_SIZE as usize;

/// An eBPF program compiled to native code.
pub struct JitProgram {
    insns: Vec<Insn>,
    code: CodeMemory,
    options: JitOptions,
    helpers: Helpers,
    compile_time: Duration,
}

type EntryFn = unsafe extern "C" fn(*mut JitContext, u64, u64, u64, u64, u64, u64) -> u64;

impl JitProgram {
    /// Compiles decoded instructions (as [`ebee_isa::decode`] returns them).
    pub fn compile(insns: &[Insn], options: JitOptions) -> Result<JitProgram, JitError> {
        let start = Instant::now();
        let mode = TranslateMode {
            checked: options.checked,
        };
        let code = CodeMemory::compile(insns, mode)?;
        Ok(JitProgram {
            insns: insns.to_vec(),
            code,
            options: JitOptions {
                max_frames: options.max_frames.max(1),
                ..options
            },
            helpers: Helpers::new(),
            compile_time: start.elapsed(),
        })
    }

    /// Decodes and compiles a program in the wire format.
    pub fn from_bytes(bytes: &[u8], options: JitOptions) -> Result<JitProgram, JitError> {
        let insns = ebee_isa::decode(bytes)?;
        JitProgram::compile(&insns, options)
    }

    /// The helpers calls go to; register them before running.
    pub fn helpers_mut(&mut self) -> &mut Helpers {
        &mut self.helpers
    }

    /// Replaces the helper table.
    pub fn set_helpers(&mut self, helpers: Helpers) {
        self.helpers = helpers;
    }

    /// Wall-clock time [`JitProgram::compile`] took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Size of the generated machine code in bytes.
    pub fn code_size(&self) -> usize {
        self.code.code_bytes()
    }

    /// The options the program was compiled with.
    pub fn options(&self) -> JitOptions {
        self.options
    }

    /// The instructions the program was compiled from.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Runs a checked-mode program on `mem` (`r1` points to it, `r2` holds
    /// its length) and returns `r0`. A program compiled in verified mode is
    /// refused with [`ExecError::NotChecked`]: only
    /// [`JitProgram::run_unchecked`] may run it.
    pub fn run(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        if !self.options.checked {
            return Err(ExecError::NotChecked);
        }
        // SAFETY: checked code validates every access and bounds every loop.
        unsafe { self.execute(mem) }
    }

    /// Runs the program without any run-time check beyond what it was
    /// compiled with.
    ///
    /// # Safety
    /// For a program compiled in verified mode, the caller guarantees the
    /// verifier accepted it for memory of this shape: every access it makes
    /// stays inside its stack frames, `mem` and helper-returned memory, and
    /// it terminates.
    pub unsafe fn run_unchecked(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.execute(mem) }
    }

    /// # Safety
    /// See [`JitProgram::run_unchecked`].
    unsafe fn execute(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        let area = frame_area_len(self.options.max_frames);
        let mut inline = [0u8; INLINE_FRAME_AREA];
        let mut heap;
        let stack: &mut [u8] = if area <= INLINE_FRAME_AREA {
            &mut inline[..area]
        } else {
            heap = vec![0u8; area];
            &mut heap
        };
        let stack_lo = stack.as_mut_ptr() as u64;
        let mem_lo = mem.as_mut_ptr() as u64;
        let mem_len = mem.len() as u64;
        let mut state = RunState {
            insns: &self.insns,
            helpers: &self.helpers,
            stack: Region {
                lo: stack_lo,
                len: area as u64,
                writable: true,
            },
            input: Region {
                lo: mem_lo,
                len: mem_len,
                writable: true,
            },
            budget: self.options.budget,
            max_frames: self.options.max_frames,
            fault: None,
        };
        let (lo, bounds) = JitContext::mem_bounds(mem_lo, mem_len);
        let mut ctx = JitContext {
            status: 0,
            budget: self.options.budget,
            stack_hi: stack_lo + area as u64,
            mem_lo: lo,
            mem_bound: bounds,
            host: &mut state as *mut RunState as *mut std::ffi::c_void,
        };
        // SAFETY: the entry pointer is finalised code with the `EntryFn`
        // signature (see `bpf_function_signature`, host C convention).
        let entry: EntryFn = unsafe { std::mem::transmute(self.code.entry()) };
        let frame_top = stack_lo + FRAME_SIZE;
        // SAFETY: the context, the state, the stack and `mem` outlive the
        // call; memory safety of the program itself is the caller's
        // guarantee (verified) or enforced by the checks (checked).
        let r0 = unsafe { entry(&mut ctx, frame_top, mem_lo, mem_len, 0, 0, 0) };
        if ctx.status != 0 {
            return Err(state.fault.take().unwrap_or(ExecError::Stopped));
        }
        Ok(r0)
    }
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("insns", &self.insns.len())
            .field("code_size", &self.code_size())
            .field("options", &self.options)
            .field("compile_time", &self.compile_time)
            .finish()
    }
}
