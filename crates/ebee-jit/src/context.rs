//! The block of memory native code and Rust share during one run.
//!
//! Native code receives a pointer to a [`JitContext`] as its first argument
//! and reads the fields below at fixed offsets; everything else a run needs
//! (the region list, helpers, tail-call state, the recorded fault) lives
//! behind `host` and is only touched by the Rust functions in
//! `runtime_calls.rs`.

use std::mem::offset_of;

pub use ebee_runtime::FRAME_SIZE;

/// `status`: the run goes on.
pub(crate) const RUNNING: u64 = 0;
/// `status`: a fault was recorded; every native frame returns at once.
pub(crate) const FAULTED: u64 = 1;
/// `status`: the run ends with `r0 = 0` (a legacy packet load outside the
/// packet, as in Linux); every native frame returns at once.
pub(crate) const STOPPED: u64 = 2;
/// `status`: a helper performed a tail call and it finished; the function
/// that called the helper returns the result at once (and clears this).
pub(crate) const TAIL_CALLED: u64 = 3;

/// The shared run state. `#[repr(C)]` because native code reads it by offset.
#[repr(C)]
pub(crate) struct JitContext {
    /// [`RUNNING`], [`FAULTED`], [`STOPPED`] or [`TAIL_CALLED`].
    pub status: u64,
    /// Instructions left in the budget (checked mode); goes negative when
    /// overdrawn, which native code tests at backward jumps, calls and exits.
    pub budget: i64,
    /// The lowest frame top a call may create: `stack_lo + FRAME_SIZE`.
    pub min_frame_top: u64,
    /// First byte of the input buffer.
    pub mem_lo: u64,
    /// For each access size 1, 2, 4, 8: how many start offsets in the input
    /// buffer leave room for it (`len + 1 - size`, or 0), so one unsigned
    /// `offset < bound` checks both ends without overflow.
    pub mem_bound: [u64; 4],
    /// `r1`–`r5` as a function left them at `exit` (checked mode), which the
    /// interpreter's shared register file hands back to the caller.
    pub ret_regs: [u64; 5],
    /// `r6`–`r9` at a helper call (checked mode): a tail-call target starts
    /// with the caller's whole register file, as in the interpreter.
    pub call_regs: [u64; 4],
    /// The frame top of the function running now (checked mode): stored on
    /// entry and after each call returns, read by the out-of-line checks so
    /// that hot loops need not keep it in a register.
    pub check_frame_top: u64,
    /// The Rust side of the run (`run_state::RunState`).
    pub host: *mut std::ffi::c_void,
}

/// Byte offsets of the fields native code reads.
pub(crate) mod offsets {
    use super::*;
    pub const STATUS: i32 = offset_of!(JitContext, status) as i32;
    pub const BUDGET: i32 = offset_of!(JitContext, budget) as i32;
    pub const MIN_FRAME_TOP: i32 = offset_of!(JitContext, min_frame_top) as i32;
    pub const MEM_LO: i32 = offset_of!(JitContext, mem_lo) as i32;
    pub const MEM_BOUND: i32 = offset_of!(JitContext, mem_bound) as i32;
    pub const RET_REGS: i32 = offset_of!(JitContext, ret_regs) as i32;
    pub const CALL_REGS: i32 = offset_of!(JitContext, call_regs) as i32;
    pub const CHECK_FRAME_TOP: i32 = offset_of!(JitContext, check_frame_top) as i32;
}

/// Index of an access size in [`JitContext::mem_bound`].
pub(crate) fn size_index(bytes: u32) -> usize {
    match bytes {
        1 => 0,
        2 => 1,
        4 => 2,
        _ => 3,
    }
}

impl JitContext {
    /// The `mem_bound` values for an input buffer of `len` bytes.
    pub fn mem_bounds(len: u64) -> [u64; 4] {
        let b = |k: u64| (len + 1).saturating_sub(k);
        [b(1), b(2), b(4), b(8)]
    }
}
