//! The Rust functions native code calls: the slow-path access check, fault
//! recording, helper calls (with tail calls) and legacy packet loads.
//!
//! Each is `extern "C"` and takes the [`JitContext`] pointer first; the
//! Rust-side state of the run is behind `ctx.host`. They never unwind into
//! native code: a panic is caught and recorded as a fault.

use crate::context::{JitContext, FAULTED};
use crate::run_state::{HelperOutcome, RunState};
use cranelift_codegen::isa::CallConv;

/// Faults native code reports through [`RuntimeFn::Fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultCode {
    /// Execution ran past the last instruction.
    FellOffEnd,
    /// A bpf-to-bpf call exceeded the frame limit.
    CallDepth,
    /// The instruction budget is overdrawn (at the fault's pc).
    BudgetExhausted,
    /// The instruction budget ran out in the block starting at `start`:
    /// the fault's value is the index in the block of the first
    /// instruction over budget (negative: not in this block; then the
    /// fault's pc is named).
    BudgetInBlock {
        /// The block's first pc.
        start: usize,
    },
    /// An atomic at an address not a multiple of `size` (the fault's value).
    MisalignedAtomic {
        /// The access size.
        size: u64,
    },
}

impl FaultCode {
    /// The number native code passes.
    pub fn encode(self) -> u64 {
        match self {
            FaultCode::FellOffEnd => 1,
            FaultCode::CallDepth => 2,
            FaultCode::BudgetExhausted => 3,
            FaultCode::MisalignedAtomic { size } => 4 | size << 8,
            FaultCode::BudgetInBlock { start } => 5 | (start as u64) << 8,
        }
    }

    fn decode(v: u64) -> Option<FaultCode> {
        Some(match v & 0xff {
            1 => FaultCode::FellOffEnd,
            2 => FaultCode::CallDepth,
            3 => FaultCode::BudgetExhausted,
            4 => FaultCode::MisalignedAtomic { size: v >> 8 },
            5 => FaultCode::BudgetInBlock {
                start: (v >> 8) as usize,
            },
            _ => return None,
        })
    }
}

/// The Rust functions native code can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimeFn {
    /// `(ctx, code, pc, value)`
    Fault,
    /// `(ctx, addr, size, pc << 1 | write, frame_top) -> allowed`
    CheckAccess,
    /// `(ctx, index + imm, size, pc) -> value`
    PacketLoad,
    /// `(ctx, id, r1, r2, r3, r4, r5, pc, frame_top) -> r0`
    CallHelper,
}

impl RuntimeFn {
    pub fn param_count(self) -> usize {
        match self {
            RuntimeFn::Fault | RuntimeFn::PacketLoad => 4,
            RuntimeFn::CheckAccess => 5,
            RuntimeFn::CallHelper => 9,
        }
    }

    pub fn returns_value(self) -> bool {
        !matches!(self, RuntimeFn::Fault)
    }
}

/// The calling convention to call the runtime functions with (the host's
/// C convention), and their addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuntimeFns {
    pub call_conv: CallConv,
}

impl RuntimeFns {
    pub fn address(&self, f: RuntimeFn) -> usize {
        match f {
            RuntimeFn::Fault => fault as *const () as usize,
            RuntimeFn::CheckAccess => check_access as *const () as usize,
            RuntimeFn::PacketLoad => packet_load as *const () as usize,
            RuntimeFn::CallHelper => call_helper as *const () as usize,
        }
    }
}

/// Runs `f` on the run state behind `ctx`; a panic becomes a fault.
///
/// # Safety
/// `ctx` must be the context of a run in progress: `JitProgram` sets
/// `host` to a live `RunState` for exactly the duration of the native call,
/// and native code passes the pointer it was given.
unsafe fn with_state<'a, T>(
    ctx: *mut JitContext,
    failed: T,
    f: impl FnOnce(&mut JitContext, &mut RunState<'a>) -> T,
) -> T {
    // SAFETY: see above; nothing else touches the context or the state
    // while native code waits for this call. `'a` is the run's: the state
    // borrows the root program (and through its cache, tail-call code)
    // for the whole run, and callers use what `f` returns only within it.
    let (c, s) = unsafe { (&mut *ctx, &mut *((*ctx).host as *mut RunState<'a>)) };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *c, &mut *s))) {
        Ok(v) => v,
        Err(_) => {
            record_panic(c, s);
            failed
        }
    }
}

/// Stops the run for a panic in the JIT's runtime functions.
fn record_panic(c: &mut JitContext, s: &mut RunState<'_>) {
    s.fault = Some(ebee_runtime::ExecError::HelperFailed {
        pc: 0,
        id: 0,
        name: String::new(),
        message: "a panic in the JIT runtime".into(),
    });
    c.status = FAULTED;
}

extern "C" fn fault(ctx: *mut JitContext, code: u64, pc: u64, value: u64) {
    // SAFETY: only native code of a running program calls this.
    unsafe {
        with_state(ctx, (), |c, s| {
            let code = FaultCode::decode(code).unwrap_or(FaultCode::FellOffEnd);
            s.record_fault(code, pc as usize, value);
            c.status = FAULTED;
        })
    };
}

extern "C" fn check_access(
    ctx: *mut JitContext,
    addr: u64,
    size: u64,
    pc_write: u64,
    frame_top: u64,
) -> u64 {
    // SAFETY: only native code of a running program calls this.
    unsafe {
        with_state(ctx, 0, |c, s| {
            let write = pc_write & 1 == 1;
            if s.check_access(addr, size, (pc_write >> 1) as usize, write, frame_top) {
                1
            } else {
                c.status = FAULTED;
                0
            }
        })
    }
}

extern "C" fn packet_load(ctx: *mut JitContext, sum: u64, size: u64, pc: u64) -> u64 {
    // SAFETY: only native code of a running program calls this.
    unsafe { with_state(ctx, 0, |c, s| s.packet_load(c, sum, size, pc as usize)) }
}

#[allow(clippy::too_many_arguments)]
extern "C" fn call_helper(
    ctx: *mut JitContext,
    id: u64,
    r1: u64,
    r2: u64,
    r3: u64,
    r4: u64,
    r5: u64,
    pc: u64,
    frame_top: u64,
) -> u64 {
    let args = [r1, r2, r3, r4, r5];
    let pc = pc as usize;
    // SAFETY: only native code of a running program calls this, and it
    // holds no reference to the context or the state.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe {
        crate::run_state::call_helper(ctx, id, args, pc, frame_top)
    }))
    .unwrap_or_else(|_| {
        // SAFETY: as above; the unwound call dropped its references.
        unsafe { with_state(ctx, (), record_panic) };
        HelperOutcome::Return(0)
    });
    let (target, r0) = match outcome {
        HelperOutcome::Return(r0) => return r0,
        HelperOutcome::TailCall { target, r0 } => (target, r0),
    };
    // The target runs in this frame with the caller's registers, as in the
    // interpreter; no borrow of the context or the state is held while its
    // code runs (it calls back into them).
    // SAFETY: as above.
    let started = unsafe {
        with_state(ctx, None, |c, s| {
            s.start_tail_call(c, target, (pc, id), frame_top)
        })
    };
    let Some((code, outer)) = started else {
        return 0;
    };
    // SAFETY: `ctx` is valid for the run; reading the saved registers
    // through it creates no lasting reference.
    let [r6, r7, r8, r9] = unsafe { (*ctx).call_regs };
    let regs = [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9];
    // SAFETY: `code` is finalised code of the target compiled in this run's
    // mode; the context and the state stay valid throughout.
    let result = unsafe { code.call_entry(ctx, frame_top, regs) };
    // SAFETY: as above.
    unsafe { with_state(ctx, (), |c, s| s.finish_tail_call(c, outer)) };
    result
}
