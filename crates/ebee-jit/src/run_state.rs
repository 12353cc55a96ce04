//! The Rust side of one run: the program running now (for helpers and
//! error messages), the memory regions, tail-call state and the fault that
//! stopped the run, reached from native code through `JitContext::host`.
//!
//! Everything here defers to `ebee-runtime` so that both engines accept,
//! reject and describe the same things: [`MemoryRegions`] decides accesses,
//! [`HelperRegistry`](ebee_runtime::HelperRegistry) finds helpers,
//! [`TailCallState`] counts tail calls, [`ExecError`] reports faults.

use crate::context::{JitContext, FAULTED, FRAME_SIZE, RUNNING, STOPPED, TAIL_CALLED};
use crate::program::JitProgram;
use crate::runtime_calls::FaultCode;
use ebee_runtime::{
    ExecError, HelperContext, HelperError, MemoryRegions, Region, RunAccess, TailCallState, Vm,
    MAX_CALL_FRAMES,
};
use std::sync::Arc;

pub(crate) struct RunState<'a> {
    /// The program whose code is running (changes during tail calls): the
    /// root's `Vm` or a tail-call target's, which the root's code cache
    /// keeps for as long as the root (`JitProgram::tail_call_target`).
    pub current: &'a Vm,
    /// The code of `current` when it is a tail-call target (`None`: the
    /// root's), where its callbacks are found.
    pub current_code: Option<&'a JitProgram>,
    /// The program the run started with (owns the tail-call code cache).
    pub root: &'a JitProgram,
    /// The last tail-call target of this run (by address) and its code: a
    /// chain that enters the same program again skips the root's locked
    /// cache.
    pub last_tail_target: Option<(*const Vm, &'a JitProgram)>,
    pub regions: MemoryRegions,
    pub tail_calls: TailCallState,
    /// One past the highest byte of the frame area (the entry frame's top).
    pub stack_top: u64,
    /// Frames zeroed so far, counted from the entry frame (`frames.rs`).
    pub zeroed_frames: usize,
    /// The packet of legacy packet loads.
    pub packet: Option<Region>,
    pub fault: Option<ExecError>,
}

impl<'a> RunState<'a> {
    /// The live frames when the current function's frame ends at `frame_top`.
    fn live_stack(&self, frame_top: u64) -> Region {
        let lo = frame_top.wrapping_sub(FRAME_SIZE);
        Region::new(lo, self.stack_top.wrapping_sub(lo), true, "stack")
    }

    pub fn record_fault(&mut self, code: FaultCode, pc: usize, value: u64) {
        let insn = || self.current.describe_insn(pc);
        self.fault = Some(match code {
            FaultCode::FellOffEnd => ExecError::FellOffEnd { pc },
            FaultCode::CallDepth => ExecError::CallDepth {
                pc,
                max: ebee_runtime::MAX_CALL_FRAMES,
            },
            FaultCode::BudgetExhausted => ExecError::BudgetExhausted {
                pc,
                budget: self.current.budget(),
            },
            // `pc` is the entry of the function the block is in.
            FaultCode::BudgetInBlock { start } => ExecError::BudgetExhausted {
                pc: crate::control_flow::budget_pc(self.current.insns(), pc, start, value as i64)
                    .unwrap_or(start),
                budget: self.current.budget(),
            },
            FaultCode::MisalignedAtomic { size } => ExecError::MisalignedAtomic {
                pc,
                insn: insn(),
                addr: value,
                size,
            },
        });
    }

    pub fn check_access(
        &mut self,
        addr: u64,
        size: u64,
        pc: usize,
        write: bool,
        frame_top: u64,
    ) -> bool {
        self.regions.set_stack(self.live_stack(frame_top));
        if self.regions.allows(addr, size, write) {
            return true;
        }
        self.fault = Some(ExecError::OutOfBounds {
            pc,
            insn: self.current.describe_insn(pc),
            addr,
            size,
            write,
            region: self.regions.describe_miss(addr, size, write),
        });
        false
    }

    /// `ldabs`/`ldind` with the interpreter's semantics: the offset is the
    /// low 32 bits of `index + imm` as a signed value; outside the packet
    /// the run stops with `r0 = 0`.
    pub fn packet_load(&mut self, ctx: &mut JitContext, sum: u64, size: u64, pc: usize) -> u64 {
        let Some(packet) = self.packet else {
            self.fault = Some(ExecError::NoPacket { pc });
            ctx.status = FAULTED;
            return 0;
        };
        let offset = sum as u32 as i32;
        if offset < 0 || !packet.contains(packet.start + offset as u64, size) {
            ctx.status = STOPPED;
            return 0;
        }
        let p = (packet.start + offset as u64) as *const u8;
        // SAFETY: the bytes lie inside the packet region, which its creator
        // promised readable for the run.
        let bytes = unsafe { std::slice::from_raw_parts(p, size as usize) };
        bytes.iter().fold(0u64, |v, b| (v << 8) | *b as u64)
    }

    /// Prepares a tail call to `target` requested by helper `id` at `pc`:
    /// its code (compiled on first use) and the program it replaces, which
    /// [`RunState::finish_tail_call`] restores. `None` when the target
    /// cannot be compiled (recorded as the helper's failure).
    pub fn start_tail_call(
        &mut self,
        ctx: &mut JitContext,
        target: Arc<Vm>,
        (pc, id): (usize, u64),
        frame_top: u64,
    ) -> Option<(&'a JitProgram, Outer<'a>)> {
        let cached = match self.last_tail_target {
            Some((vm, code)) if std::ptr::eq(vm, Arc::as_ptr(&target)) => Ok(code),
            _ => self.root.tail_call_target(&target),
        };
        match cached {
            Ok(code) => {
                // The root's cache keeps `target` alive (and its address
                // unique) for as long as the run.
                self.last_tail_target = Some((Arc::as_ptr(&target), code));
                // The target runs in this frame (index `frame` counted
                // from the entry frame's 0) and may call deeper.
                let frame = (self.stack_top.wrapping_sub(frame_top) / FRAME_SIZE) as usize;
                self.zero_frames(frame.saturating_add(code.frames()));
                let outer = Outer {
                    vm: std::mem::replace(&mut self.current, code.vm()),
                    code: self.current_code.replace(code),
                };
                Some((code, outer))
            }
            Err(e) => {
                let name = self
                    .current
                    .helpers()
                    .get(id)
                    .map_or_else(String::new, |h| h.name().to_string());
                self.fault = Some(ExecError::HelperFailed {
                    pc,
                    id,
                    name,
                    message: format!("the JIT cannot compile the tail-call target: {e}"),
                });
                ctx.status = FAULTED;
                None
            }
        }
    }

    /// Zeroes the frames up to `frames` (from the entry frame, at most
    /// all of them) that are not zeroed yet.
    pub fn zero_frames(&mut self, frames: usize) {
        let frames = frames.min(ebee_runtime::MAX_CALL_FRAMES);
        if frames <= self.zeroed_frames {
            return;
        }
        let lo = self.stack_top - frames as u64 * FRAME_SIZE;
        let len = (frames - self.zeroed_frames) as u64 * FRAME_SIZE;
        // SAFETY: the frame area of this run spans MAX_CALL_FRAMES frames
        // below `stack_top` (`JitProgram::execute`), so these frames lie
        // in it; no frame below `zeroed_frames` is live yet, so no program
        // access or reference overlaps the bytes written.
        unsafe { std::ptr::write_bytes(lo as *mut u8, 0, len as usize) };
        self.zeroed_frames = frames;
    }

    /// Ends a tail call: the caller's program is current again, and unless
    /// the target faulted or stopped, the caller returns its result.
    pub fn finish_tail_call(&mut self, ctx: &mut JitContext, outer: Outer<'a>) {
        self.current = outer.vm;
        self.current_code = outer.code;
        if ctx.status == crate::context::RUNNING {
            ctx.status = TAIL_CALLED;
        }
    }
}

/// What a helper call leads to.
pub(crate) enum HelperOutcome {
    /// Put this in `r0` and go on (or stop, if the status says so).
    Return(u64),
    /// Run `target` in this frame; `r0` is the helper's result, which the
    /// target starts with.
    TailCall {
        /// The program to run.
        target: Arc<Vm>,
        /// The helper's result.
        r0: u64,
    },
}

/// The program a tail call replaced, restored when it ends.
pub(crate) struct Outer<'a> {
    vm: &'a Vm,
    code: Option<&'a JitProgram>,
}

/// Calls helper `id` with `args` for the function whose frame ends at
/// `frame_top`. A tail call it requests is returned for the caller to
/// perform ([`RunState::start_tail_call`]), since the target's code calls
/// back into the state.
///
/// No reference to the context or the state lives across the helper call:
/// a callback the helper runs re-enters both from native code.
///
/// # Safety
/// `ctx` is the context of a run in progress (its `host` the live
/// `RunState`), and no reference to either exists.
///
/// Inlined into the runtime function native code calls, so the arguments
/// stay in registers (an array of them stored word by word and reloaded
/// in wider words stalled every call).
#[inline(always)]
pub(crate) unsafe fn call_helper(
    ctx: *mut JitContext,
    id: u64,
    args: [u64; 5],
    pc: usize,
    frame_top: u64,
) -> HelperOutcome {
    // SAFETY: `host` points to the run's state (see above).
    let state = unsafe { (*ctx).host as *mut RunState<'_> };
    let current: &Vm = {
        // SAFETY: the only reference to the state, dropped at the block's end.
        let s = unsafe { &mut *state };
        s.regions.set_stack(s.live_stack(frame_top));
        s.current
    };
    let fail = |error: ExecError| {
        // SAFETY: the helper has returned; nothing else borrows either.
        unsafe {
            (*state).fault = Some(error);
            (*ctx).status = FAULTED;
        }
        HelperOutcome::Return(0)
    };
    let Some(helper) = current.helpers().get(id) else {
        return fail(ExecError::UnknownHelper { pc, id });
    };
    let result = {
        let mut run = JitRun {
            ctx,
            state,
            frame_top,
        };
        let mut hctx = HelperContext::for_run(&mut run, pc);
        helper.call(&mut hctx, args)
    };
    match result {
        Ok(r0) => {
            // SAFETY: the helper has returned; this is the only reference.
            match unsafe { (*state).tail_calls.take_pending() } {
                None => HelperOutcome::Return(r0),
                Some(target) => HelperOutcome::TailCall { target, r0 },
            }
        }
        Err(e) => fail(ExecError::HelperFailed {
            pc,
            id,
            name: helper.name().to_string(),
            message: e.0,
        }),
    }
}

/// The run as one helper call reaches it. It holds raw pointers and
/// borrows the state only inside each method, because a callback the
/// helper runs enters the same state from native code.
struct JitRun<'a> {
    ctx: *mut JitContext,
    state: *mut RunState<'a>,
    /// The frame top of the function calling the helper.
    frame_top: u64,
}

impl JitRun<'_> {
    /// Runs the function at `pc` of the current program on the frame below
    /// the helper caller's, as the interpreter's callbacks do.
    fn run_callback(&mut self, pc: usize, args: [u64; 5]) -> Result<u64, ExecError> {
        let (code, root, new_top) = {
            // SAFETY: the only reference to the state while it lives; see
            // `call_helper`.
            let s = unsafe { &mut *self.state };
            if pc >= s.current.insns().len() {
                return Err(ExecError::InvalidInstruction {
                    pc,
                    insn: "callback target outside the program".to_string(),
                });
            }
            let new_top = self.frame_top.wrapping_sub(FRAME_SIZE);
            // SAFETY: as above, for the context.
            if new_top < unsafe { (*self.ctx).min_frame_top } {
                return Err(ExecError::CallDepth {
                    pc,
                    max: MAX_CALL_FRAMES,
                });
            }
            // The callback's frame and any it calls read as zero until
            // written, as in the interpreter: frames no call has reached
            // yet are zeroed when a callback first runs (`frames.rs`
            // counts only local calls; a no-op once all are zeroed).
            s.zero_frames(MAX_CALL_FRAMES);
            s.regions.set_stack(s.live_stack(new_top));
            (s.current_code, s.root, new_top)
        };
        let program: &JitProgram = code.unwrap_or(root);
        // The callee overwrites what the helper's caller keeps in the
        // context: its frame top for out-of-line checks and its r6-r9.
        // SAFETY: no reference to the context is live.
        let (saved_top, saved_regs) =
            unsafe { ((*self.ctx).check_frame_top, (*self.ctx).call_regs) };
        let [a1, a2, a3, a4, a5] = args;
        let regs = [0, a1, a2, a3, a4, a5, 0, 0, 0, 0];
        // SAFETY: the code is this run's program's (or its tail-call
        // target's), compiled in the run's mode; the context and the state
        // are valid and unborrowed while it runs.
        let r0 = unsafe { program.call_function(pc, self.ctx, new_top, regs) };
        // SAFETY: the callee has returned; these are the only references.
        let (c, s) = unsafe { (&mut *self.ctx, &mut *self.state) };
        c.check_frame_top = saved_top;
        c.call_regs = saved_regs;
        s.regions.set_stack(s.live_stack(self.frame_top));
        let r0 = r0.map_err(|e| ExecError::InvalidInstruction {
            pc,
            insn: format!("callback the JIT cannot compile: {e}"),
        })?;
        match c.status {
            // A legacy packet load outside the packet ends the callback
            // with r0 = 0, as in the interpreter.
            STOPPED => {
                c.status = RUNNING;
                Ok(0)
            }
            FAULTED => {
                c.status = RUNNING;
                Err(s.fault.take().unwrap_or(ExecError::InvalidInstruction {
                    pc,
                    insn: "the JIT stopped without recording why".into(),
                }))
            }
            _ => {
                c.status = RUNNING;
                Ok(r0)
            }
        }
    }
}

impl RunAccess for JitRun<'_> {
    fn regions(&mut self) -> &mut MemoryRegions {
        // SAFETY: borrowed for as long as `self` is; no other reference to
        // the state exists while a helper runs (see `call_helper`).
        unsafe { &mut (*self.state).regions }
    }

    fn regions_ref(&self) -> &MemoryRegions {
        // SAFETY: as in `regions`.
        unsafe { &(*self.state).regions }
    }

    fn tail_calls(&mut self) -> &mut TailCallState {
        // SAFETY: as in `regions`.
        unsafe { &mut (*self.state).tail_calls }
    }

    fn tail_calls_ref(&self) -> &TailCallState {
        // SAFETY: as in `regions`.
        unsafe { &(*self.state).tail_calls }
    }

    fn call_function(&mut self, pc: usize, args: [u64; 5]) -> Result<u64, HelperError> {
        self.run_callback(pc, args)
            .map_err(|e| HelperError(format!("in the callback at {pc}: {e}")))
    }

    unsafe fn set_packet(&mut self, packet: Region) -> bool {
        // SAFETY: as in `regions`.
        unsafe { (*self.state).packet = Some(packet) };
        true
    }
}
