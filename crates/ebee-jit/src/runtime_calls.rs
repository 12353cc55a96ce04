//! The Rust functions native code calls: the slow-path access check, fault
//! recording, helper calls and legacy packet loads.
//!
//! Each is `extern "C"` and takes the [`JitContext`] pointer first; the
//! Rust-side state of the run is behind `ctx.host`. They never unwind into
//! native code: a panicking helper is caught and recorded as a fault.

use crate::context::JitContext;
use crate::run_state::RunState;
use cranelift_codegen::isa::CallConv;

/// Whether an access reads or writes (bit 0 of the packed `pc_kind` argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum AccessKind {
    /// A load.
    Read = 0,
    /// A store or atomic.
    Write = 1,
}

/// Faults native code reports through [`RuntimeFn::Fault`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum FaultCode {
    /// Execution ran past the last instruction.
    FellOffEnd = 1,
    /// A bpf-to-bpf call exceeded the frame limit.
    CallDepth = 2,
    /// A kfunc call (no kfuncs exist in userspace).
    Kfunc = 3,
}

impl FaultCode {
    fn from_u64(v: u64) -> Option<FaultCode> {
        Some(match v {
            1 => FaultCode::FellOffEnd,
            2 => FaultCode::CallDepth,
            3 => FaultCode::Kfunc,
            _ => return None,
        })
    }
}

/// The Rust functions native code can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuntimeFn {
    /// `(ctx, code, pc, value)`
    Fault,
    /// `(ctx, addr, size, pc << 1 | kind) -> allowed`
    CheckAccess,
    /// `(ctx, block_start, left)`
    BudgetExhausted,
    /// `(ctx, offset, size, pc) -> value`
    PacketLoad,
    /// `(ctx, id, r1, r2, r3, r4, r5, pc) -> r0`
    CallHelper,
}

impl RuntimeFn {
    pub fn param_count(self) -> usize {
        match self {
            RuntimeFn::Fault | RuntimeFn::CheckAccess | RuntimeFn::PacketLoad => 4,
            RuntimeFn::BudgetExhausted => 3,
            RuntimeFn::CallHelper => 8,
        }
    }

    pub fn returns_value(self) -> bool {
        !matches!(self, RuntimeFn::Fault | RuntimeFn::BudgetExhausted)
    }
}

/// The addresses of the runtime functions and the calling convention to
/// call them with (the host's C convention).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RuntimeFns {
    pub call_conv: CallConv,
}

impl RuntimeFns {
    pub fn address(&self, f: RuntimeFn) -> usize {
        match f {
            RuntimeFn::Fault => fault as *const () as usize,
            RuntimeFn::CheckAccess => check_access as *const () as usize,
            RuntimeFn::BudgetExhausted => budget_exhausted as *const () as usize,
            RuntimeFn::PacketLoad => packet_load as *const () as usize,
            RuntimeFn::CallHelper => call_helper as *const () as usize,
        }
    }
}

/// The run state behind a context pointer.
///
/// # Safety
/// `ctx` must be the context of a run in progress: `JitProgram::run` sets
/// `host` to a live `RunState` for exactly the duration of the native call.
unsafe fn state<'a>(ctx: *mut JitContext) -> (&'a mut JitContext, &'a mut RunState<'a>) {
    // SAFETY: guaranteed by the caller (see above); native code passes the
    // pointer it was given and nothing else aliases the state during a call.
    unsafe {
        let c = &mut *ctx;
        let s = &mut *(c.host as *mut RunState<'a>);
        (c, s)
    }
}

extern "C" fn fault(ctx: *mut JitContext, code: u64, pc: u64, value: u64) {
    // SAFETY: only native code of a running program calls this.
    let (c, s) = unsafe { state(ctx) };
    let code = FaultCode::from_u64(code).unwrap_or(FaultCode::FellOffEnd);
    s.record_fault(code, pc as usize, value);
    c.status = 1;
}

extern "C" fn check_access(ctx: *mut JitContext, addr: u64, size: u64, pc_kind: u64) -> u64 {
    // SAFETY: only native code of a running program calls this.
    let (c, s) = unsafe { state(ctx) };
    let kind = if pc_kind & 1 == 1 {
        AccessKind::Write
    } else {
        AccessKind::Read
    };
    if s.check_access(addr, size, (pc_kind >> 1) as usize, kind) {
        1
    } else {
        c.status = 1;
        0
    }
}

extern "C" fn budget_exhausted(ctx: *mut JitContext, block_start: u64, left: u64) {
    // SAFETY: only native code of a running program calls this.
    let (c, s) = unsafe { state(ctx) };
    s.budget_exhausted(block_start as usize, left);
    c.status = 1;
}

extern "C" fn packet_load(ctx: *mut JitContext, offset: u64, size: u64, pc: u64) -> u64 {
    // SAFETY: only native code of a running program calls this.
    let (c, s) = unsafe { state(ctx) };
    match s.packet_load(offset, size, pc as usize) {
        Some(v) => v,
        None => {
            c.status = 1;
            0
        }
    }
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
) -> u64 {
    // SAFETY: only native code of a running program calls this.
    let (c, s) = unsafe { state(ctx) };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        s.call_helper(id, [r1, r2, r3, r4, r5], pc as usize)
    }));
    match result {
        Ok(Some(r0)) => r0,
        Ok(None) => {
            c.status = 1;
            0
        }
        Err(_) => {
            // SAFETY: as above; the closure's borrow ended with the panic.
            let (c, s) = unsafe { state(ctx) };
            s.helper_panicked(id, pc as usize);
            c.status = 1;
            0
        }
    }
}
