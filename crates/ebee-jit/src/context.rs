//! The block of memory native code and Rust share during one run.
//!
//! Native code receives a pointer to a [`JitContext`] as its first argument
//! and reads the fields below at fixed offsets; everything else a run needs
//! (helpers, the full region list, the recorded fault) lives behind `host`
//! and is only touched by the Rust functions in `runtime_calls.rs`.

use std::mem::offset_of;

/// The size of one call frame in bytes, as in Linux and the interpreter.
pub const FRAME_SIZE: u64 = 512;

/// The shared run state. `#[repr(C)]` because native code reads it by offset.
#[repr(C)]
pub(crate) struct JitContext {
    /// 0 while running; non-zero once a fault or a tail call stopped the run.
    pub status: u64,
    /// Instructions left in the budget (checked mode).
    pub budget: u64,
    /// One past the last byte of the frame area: a call whose new frame
    /// would end above it exceeds the call depth.
    pub stack_hi: u64,
    /// First byte of the input buffer.
    pub mem_lo: u64,
    /// For each access size 1, 2, 4, 8: how many start offsets in the input
    /// buffer leave room for it (`len + 1 - size`, or 0), so one unsigned
    /// `offset < bound` checks both ends without overflow.
    pub mem_bound: [u64; 4],
    /// The Rust side of the run (`runtime_calls::HostState`).
    pub host: *mut std::ffi::c_void,
}

/// Byte offsets of the fields native code reads.
pub(crate) mod offsets {
    use super::*;
    pub const STATUS: i32 = offset_of!(JitContext, status) as i32;
    pub const BUDGET: i32 = offset_of!(JitContext, budget) as i32;
    pub const STACK_HI: i32 = offset_of!(JitContext, stack_hi) as i32;
    pub const MEM_LO: i32 = offset_of!(JitContext, mem_lo) as i32;
    pub const MEM_BOUND: i32 = offset_of!(JitContext, mem_bound) as i32;
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
    /// Bounds for an input buffer of `len` bytes at `lo`.
    pub fn mem_bounds(lo: u64, len: u64) -> (u64, [u64; 4]) {
        let b = |k: u64| (len + 1).saturating_sub(k);
        (lo, [b(1), b(2), b(4), b(8)])
    }
}
