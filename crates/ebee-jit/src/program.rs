//! [`JitProgram`]: a compiled program and how to run it.

use crate::code_memory::CodeMemory;
use crate::context::{JitContext, FAULTED, FRAME_SIZE, RUNNING, STOPPED, TAIL_CALLED};
use crate::error::JitError;
use crate::frames::frames_needed;
use crate::run_state::RunState;
use crate::translate::{inline_arrays, TranslateMode};
use ebee_runtime::{
    ExecError, Invocation, MemoryRegions, Region, TailCallState, Vm, MAX_CALL_FRAMES,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to compile a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitOptions {
    /// Checked mode: every memory access is checked against the regions
    /// the program may touch and the instruction budget is enforced, so
    /// unverified programs run safely ([`JitProgram::run`]). Off (verified
    /// mode) for programs the verifier proved, which then run through
    /// [`JitProgram::run_unchecked`].
    pub checked: bool,
    /// Let Cranelift optimise (on by default). Off compiles for speed of
    /// compilation: no e-graph pass and the single-pass register allocator,
    /// 1.5-2.5x faster to compile on large programs (a 1,000-instruction
    /// clang-built program in about 1 ms verified), while the code runs 1.5x to 5x
    /// slower: for large or short-lived programs run a few times.
    pub optimize: bool,
    /// Constant blinding (off by default; see
    /// [`JitOptions::blind_constants`]).
    pub blind_constants: bool,
}

impl JitOptions {
    /// Checked mode, optimised.
    pub const CHECKED: JitOptions = JitOptions {
        checked: true,
        optimize: true,
        blind_constants: false,
    };
    /// Verified mode, optimised.
    pub const VERIFIED: JitOptions = JitOptions {
        checked: false,
        optimize: true,
        blind_constants: false,
    };

    /// These options with constant blinding on or off, as the kernel's
    /// `bpf_jit_harden`: every immediate of an ALU, jump, store, `lddw` or
    /// legacy packet-load instruction is XORed with a random key drawn for each compile and
    /// un-XORed at run time with the key read from memory, so no constant
    /// the program chose appears in executable memory (no JIT spraying).
    /// Results are unchanged; the cost is an XOR per immediate, and in
    /// checked mode loops are not versioned (their guards would compute
    /// constants from the immediates).
    pub const fn blind_constants(self, on: bool) -> JitOptions {
        JitOptions {
            blind_constants: on,
            ..self
        }
    }
}

impl Default for JitOptions {
    /// Checked mode: safe for any program.
    fn default() -> JitOptions {
        JitOptions::CHECKED
    }
}

/// The frame area: as in the interpreter, `MAX_CALL_FRAMES` frames of
/// `FRAME_SIZE` bytes, the entry frame at the top.
const STACK_BYTES: usize = FRAME_SIZE as usize * MAX_CALL_FRAMES;

/// Compiled tail-call targets by the address of their `Vm` (kept alive
/// alongside, so the address stays unique).
type TailTargets = HashMap<usize, (Arc<Vm>, Arc<JitProgram>)>;

/// An eBPF program compiled to native code.
///
/// It carries the interpreter's [`Vm`] it was compiled from: helpers, the
/// instruction budget and the instructions (for error messages) come from
/// it, so a program behaves the same on both engines.
pub struct JitProgram {
    vm: Arc<Vm>,
    code: CodeMemory,
    options: JitOptions,
    compile_time: Duration,
    /// Stack frames a run can reach through local calls (`frames.rs`).
    frames: usize,
    /// Tail-call targets compiled on first use, by the target's address.
    tail_targets: Mutex<TailTargets>,
    /// Callbacks at pcs no `lddw rX, func` names (a handle computed by an
    /// unverified program), compiled on first use, by pc.
    late_callbacks: Mutex<HashMap<usize, Arc<CodeMemory>>>,
}

/// The code of `vm` in the mode of `options`: its entry, its local call
/// targets and the functions at `callbacks`, compiled as a tail-call
/// target when `tail_target`.
fn compile_code(
    vm: &Vm,
    options: JitOptions,
    callbacks: &[usize],
    tail_target: bool,
) -> Result<CodeMemory, JitError> {
    let mode = TranslateMode {
        checked: options.checked,
        optimize: options.optimize,
        blind: None,
        tail_target,
    };
    CodeMemory::compile(
        (vm.insns(), &inline_arrays(vm)),
        callbacks,
        mode,
        options.blind_constants,
    )
}

impl JitProgram {
    /// Compiles the program of `vm` (which already checked that it can be
    /// executed: decoding, jump targets, supported instructions).
    pub fn compile(vm: &Vm, options: JitOptions) -> Result<JitProgram, JitError> {
        JitProgram::compile_shared(Arc::new(vm.clone()), options)
    }

    /// [`JitProgram::compile`] without copying the `Vm`.
    pub fn compile_shared(vm: Arc<Vm>, options: JitOptions) -> Result<JitProgram, JitError> {
        JitProgram::compile_as(vm, options, false)
    }

    /// Compiles `vm`, as a tail-call target when `tail_target`.
    fn compile_as(
        vm: Arc<Vm>,
        options: JitOptions,
        tail_target: bool,
    ) -> Result<JitProgram, JitError> {
        let start = Instant::now();
        let code = compile_code(&vm, options, vm.function_refs(), tail_target)?;
        let frames = frames_needed(vm.insns());
        Ok(JitProgram {
            vm,
            code,
            options,
            frames,
            compile_time: start.elapsed(),
            tail_targets: Mutex::new(HashMap::new()),
            late_callbacks: Mutex::new(HashMap::new()),
        })
    }

    /// Decodes, loads (as [`Vm::from_bytes`]) and compiles a program in the
    /// wire format, with no helpers.
    pub fn from_bytes(bytes: &[u8], options: JitOptions) -> Result<JitProgram, JitError> {
        let vm = Vm::from_bytes(bytes)?;
        JitProgram::compile_shared(Arc::new(vm), options)
    }

    /// The interpreter program this was compiled from.
    pub fn vm(&self) -> &Vm {
        &self.vm
    }

    /// Wall-clock time compilation took.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Size of the generated machine code in bytes.
    pub fn code_size(&self) -> usize {
        self.code.code_bytes()
    }

    /// How many `bpf_map_lookup_elem` call sites in the program's code
    /// compute the lookup natively instead of calling the helper: lookups
    /// in `array` maps the program names with a constant, when the `Vm`
    /// declares them ([`Vm::inline_arrays`], as the runtime's loader does).
    pub fn inlined_lookups(&self) -> usize {
        self.code.inlined_lookups()
    }

    /// The options the program was compiled with.
    pub fn options(&self) -> JitOptions {
        self.options
    }

    /// Runs a checked-mode program on `mem` (`r1` points to it, `r2` holds
    /// its length; it is also the packet of legacy packet loads) and returns
    /// `r0`, exactly as [`Vm::run`] would.
    ///
    /// A program compiled in verified mode has no checks, so `run` refuses
    /// it (with [`ExecError::InvalidInstruction`] at pc 0, naming the
    /// reason): only [`JitProgram::run_unchecked`] may run it.
    pub fn run(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        if !self.options.checked {
            return Err(not_checked());
        }
        // SAFETY: checked code validates every access and bounds every loop.
        unsafe { self.execute(&raw_invocation(mem)) }
    }

    /// Runs a checked-mode program with explicit arguments and regions, as
    /// [`Vm::run_with`] (the invocation's regions were promised valid when
    /// they were added to it). Refused like [`JitProgram::run`] for a
    /// program compiled in verified mode.
    pub fn run_with(&self, inv: &Invocation) -> Result<u64, ExecError> {
        if !self.options.checked {
            return Err(not_checked());
        }
        // SAFETY: checked code validates every access against the
        // invocation's regions and bounds every loop.
        unsafe { self.execute(inv) }
    }

    /// [`JitProgram::run_with`] without checks, as [`Vm::run_with_unchecked`].
    ///
    /// # Safety
    /// As [`JitProgram::run_unchecked`], for the invocation's memory.
    pub unsafe fn run_with_unchecked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.execute(inv) }
    }

    /// Runs the program on `mem` without run-time checks beyond those it
    /// was compiled with (as [`Vm::run_unchecked`]).
    ///
    /// # Safety
    /// For a program compiled in verified mode, the caller guarantees the
    /// verifier accepted it for memory of this shape: every access it makes
    /// stays inside its stack frames, `mem` and helper-returned memory.
    pub unsafe fn run_unchecked(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.execute(&raw_invocation(mem)) }
    }

    /// The stack frames a run of this program can reach (without tail
    /// calls).
    pub(crate) fn frames(&self) -> usize {
        self.frames
    }

    /// The compiled code for a tail call to `target`, compiled on first use
    /// in this program's mode. The code (and `target`) stay in the cache,
    /// never replaced or removed, for as long as this program lives.
    pub(crate) fn tail_call_target(&self, target: &Arc<Vm>) -> Result<&JitProgram, JitError> {
        let key = Arc::as_ptr(target) as usize;
        let mut cache = self
            .tail_targets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let code = match cache.get(&key) {
            Some((_, code)) => Arc::as_ptr(code),
            None => {
                let code = Arc::new(JitProgram::compile_as(target.clone(), self.options, true)?);
                let ptr = Arc::as_ptr(&code);
                cache.insert(key, (target.clone(), code));
                ptr
            }
        };
        // SAFETY: the cache holds an `Arc` of this code from now until
        // `self` is dropped (entries are only ever added), so the code
        // outlives the borrow of `self`; moving the entry in a rehash does
        // not move the `JitProgram` the `Arc` points to.
        Ok(unsafe { &*code })
    }

    /// Calls this program's entry function in an existing run.
    ///
    /// # Safety
    /// As [`CodeMemory::call_entry`].
    pub(crate) unsafe fn call_entry(
        &self,
        ctx: *mut JitContext,
        frame_top: u64,
        regs: [u64; 10],
    ) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe { self.code.call_entry(ctx, frame_top, regs) }
    }

    /// Calls this program's function at `pc` (a callback) in an existing
    /// run. A pc no `lddw rX, func` names is compiled on first use (the
    /// interpreter runs any pc a handle names); the error says why one
    /// cannot be.
    ///
    /// # Safety
    /// As [`CodeMemory::call_entry`].
    pub(crate) unsafe fn call_function(
        &self,
        pc: usize,
        ctx: *mut JitContext,
        frame_top: u64,
        regs: [u64; 10],
    ) -> Result<u64, JitError> {
        // SAFETY: forwarded from the caller.
        if let Some(r0) = unsafe { self.code.call_function(pc, ctx, frame_top, regs) } {
            return Ok(r0);
        }
        let code = self.late_callback(pc)?;
        // SAFETY: forwarded from the caller; `code` holds the function at
        // `pc` and stays alive (an `Arc`) during the call.
        unsafe { code.call_function(pc, ctx, frame_top, regs) }.ok_or_else(|| {
            JitError::Unsupported {
                pc,
                what: "a callback here (no function compiled)".into(),
            }
        })
    }

    /// The code of a callback at `pc` that was not compiled with the
    /// program, compiled now (in this program's mode, cached). The cache's
    /// lock is not held while it runs, since it may call back again.
    fn late_callback(&self, pc: usize) -> Result<Arc<CodeMemory>, JitError> {
        let mut cache = self
            .late_callbacks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(code) = cache.get(&pc) {
            return Ok(code.clone());
        }
        if matches!(
            self.vm.insns().get(pc),
            None | Some(ebee_isa::Insn::LdImm64Tail)
        ) {
            return Err(JitError::Unsupported {
                pc,
                what: "a callback starting here (not an instruction)".into(),
            });
        }
        let code = Arc::new(compile_code(&self.vm, self.options, &[pc], false)?);
        cache.insert(pc, code.clone());
        Ok(code)
    }

    /// # Safety
    /// See [`JitProgram::run_unchecked`].
    unsafe fn execute(&self, inv: &Invocation) -> Result<u64, ExecError> {
        // u64 elements keep the frames 8-byte aligned, as in the interpreter.
        // Only the frames the program can reach are zeroed (`frames.rs`);
        // a tail call zeroes those its target needs (`RunState::zero_frames`).
        let mut stack = std::mem::MaybeUninit::<[u64; STACK_BYTES / 8]>::uninit();
        let stack_lo = stack.as_mut_ptr() as u64;
        let stack_top = stack_lo + STACK_BYTES as u64;
        let input = inv.input();
        let live = Region::new(stack_top - FRAME_SIZE, FRAME_SIZE, true, "stack");
        // Built in place (a run is ~30 ns; moving the regions in was a
        // 200-byte copy of them).
        let mut state = RunState {
            current: &self.vm,
            current_code: None,
            root: self,
            last_tail_target: None,
            regions: MemoryRegions::new(live, input),
            tail_calls: TailCallState::new(),
            stack_top,
            zeroed_frames: 0,
            packet: inv.packet(),
            fault: None,
        };
        for r in inv.regions() {
            // SAFETY: whoever added the region to the invocation promised it
            // valid for runs of it (`Invocation::add_region`).
            unsafe { state.regions.add(*r) };
        }
        self.vm.add_inline_regions(&mut state.regions);
        state.zero_frames(self.frames);
        // The inline check allows reads and writes, so a read-only input
        // buffer is left to the slow path (bounds of zero match nothing).
        let mem_bound = if input.writable {
            JitContext::mem_bounds(input.len)
        } else {
            [0; 4]
        };
        let mut ctx = JitContext {
            status: RUNNING,
            // Native code tests the budget's sign; no run gets near 2^63.
            budget: self.vm.budget().min(i64::MAX as u64) as i64,
            min_frame_top: stack_lo + FRAME_SIZE,
            mem_lo: input.start,
            mem_bound,
            ret_regs: [0; 5],
            call_regs: [0; 4],
            check_frame_top: 0,
            host: &mut state as *mut RunState as *mut std::ffi::c_void,
        };
        let [a1, a2, a3, a4, a5] = inv.args;
        let regs = [0, a1, a2, a3, a4, a5, 0, 0, 0, 0];
        // SAFETY: the context, the state, the stack and `mem` outlive the
        // call; memory safety of the program itself is the caller's
        // guarantee (verified) or enforced by the checks (checked).
        let r0 = unsafe { self.code.call_entry(&mut ctx, stack_top, regs) };
        match ctx.status {
            RUNNING | TAIL_CALLED => Ok(r0),
            STOPPED => Ok(0),
            FAULTED => Err(state.fault.take().unwrap_or(ExecError::InvalidInstruction {
                pc: 0,
                insn: "the JIT stopped without recording why".into(),
            })),
            _ => Err(ExecError::InvalidInstruction {
                pc: 0,
                insn: format!("the JIT stopped with unknown status {}", ctx.status),
            }),
        }
    }
}

/// The error `run` gives for a program compiled without checks.
fn not_checked() -> ExecError {
    ExecError::InvalidInstruction {
        pc: 0,
        insn: "program compiled in verified mode: use run_unchecked".into(),
    }
}

/// The invocation [`Vm::run`] makes for `mem`: `r1` = its address, `r2` =
/// its length, writable input region, and the packet of legacy loads.
fn raw_invocation(mem: &mut [u8]) -> Invocation {
    let region = Region::new(mem.as_mut_ptr() as u64, mem.len() as u64, true, "input");
    let mut inv = Invocation::new([region.start, region.len, 0, 0, 0]);
    // SAFETY: `mem` is borrowed mutably for as long as the invocation is
    // used (the run that follows), so the region is valid and unaliased.
    unsafe {
        inv.set_input(region);
        inv.set_packet(region);
    }
    inv
}

impl std::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JitProgram")
            .field("insns", &self.vm.insns().len())
            .field("code_size", &self.code_size())
            .field("options", &self.options)
            .field("compile_time", &self.compile_time)
            .finish()
    }
}
