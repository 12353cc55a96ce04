//! The Rust side of one run: the program running now (for helpers and
//! error messages), the memory regions, tail-call state and the fault that
//! stopped the run, reached from native code through `JitContext::host`.
//!
//! Everything here defers to `ebee-runtime` so that both engines accept,
//! reject and describe the same things: [`MemoryRegions`] decides accesses,
//! [`HelperRegistry`](ebee_runtime::HelperRegistry) finds helpers,
//! [`TailCallState`] counts tail calls, [`ExecError`] reports faults.

use crate::context::{JitContext, FAULTED, FRAME_SIZE, STOPPED, TAIL_CALLED};
use crate::program::JitProgram;
use crate::runtime_calls::FaultCode;
use ebee_runtime::{ExecError, HelperContext, MemoryRegions, Region, TailCallState, Vm};
use std::sync::Arc;

pub(crate) struct RunState<'a> {
    /// The program whose code is running (changes during tail calls).
    pub current: Arc<Vm>,
    /// The program the run started with (owns the tail-call code cache).
    pub root: &'a JitProgram,
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

impl RunState<'_> {
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

    /// Calls helper `id`. A tail call it requests is returned for the
    /// caller to perform ([`RunState::start_tail_call`]) once this borrow of
    /// the state has ended, since the target's code calls back into it.
    pub fn call_helper(
        &mut self,
        ctx: &mut JitContext,
        id: u64,
        args: [u64; 5],
        pc: usize,
        frame_top: u64,
    ) -> HelperOutcome {
        self.regions.set_stack(self.live_stack(frame_top));
        let current = self.current.clone();
        let Some(helper) = current.helpers().get(id) else {
            self.fault = Some(ExecError::UnknownHelper { pc, id });
            ctx.status = FAULTED;
            return HelperOutcome::Return(0);
        };
        let mut hctx = HelperContext::new(&mut self.regions, &mut self.tail_calls, pc);
        let r0 = match helper.call(&mut hctx, args) {
            Ok(r0) => r0,
            Err(e) => {
                self.fault = Some(ExecError::HelperFailed {
                    pc,
                    id,
                    name: helper.name().to_string(),
                    message: e.0,
                });
                ctx.status = FAULTED;
                return HelperOutcome::Return(0);
            }
        };
        match self.tail_calls.take_pending() {
            None => HelperOutcome::Return(r0),
            Some(target) => HelperOutcome::TailCall { target, r0 },
        }
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
    ) -> Option<(Arc<JitProgram>, Arc<Vm>)> {
        match self.root.tail_call_target(&target) {
            Ok(code) => {
                // The target runs in this frame (index `frame` counted
                // from the entry frame's 0) and may call deeper.
                let frame = (self.stack_top.wrapping_sub(frame_top) / FRAME_SIZE) as usize;
                self.zero_frames(frame.saturating_add(code.frames()));
                Some((code, std::mem::replace(&mut self.current, target)))
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
    pub fn finish_tail_call(&mut self, ctx: &mut JitContext, outer: Arc<Vm>) {
        self.current = outer;
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
