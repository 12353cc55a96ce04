//! Userspace execution of eBPF: the interpreter, memory regions, helpers and
//! tail calls, maps ([`map`]), the kernel's helpers ([`helpers`]) and a
//! loader for clang-built objects ([`loader`]), program types
//! ([`program_type`]: XDP, socket filter, tc, host-defined) and hooks
//! with hot swap ([`Hook`]).
//!
//! ```
//! use ebee_runtime::Vm;
//! // r0 = r2 (the input length); exit
//! let bytes = [0xbf, 0x20, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let vm = Vm::from_bytes(&bytes).unwrap();
//! assert_eq!(vm.run(&mut [0u8; 7]).unwrap(), 7);
//!
//! // r0 = *(u64 *)(r1 + 8); exit -- on an 8-byte input: out of bounds.
//! let bytes = [0x79, 0x10, 8, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0];
//! let err = Vm::from_bytes(&bytes).unwrap().run(&mut [0u8; 8]).unwrap_err();
//! let msg = err.to_string();
//! assert!(msg.starts_with("instruction 0 (r0 = *(u64 *)(r1 + 0x8)): read of 8 bytes at 0x"));
//! assert!(msg.contains("no region (0 bytes past the end of `input`"));
//! ```
//!
//! # Execution modes
//!
//! - **checked** ([`Vm::run`], [`Vm::run_with`]), for unverified programs:
//!   every load, store and atomic must fall inside a [`Region`] (the live
//!   stack frames, the input buffer or context, regions the embedder adds to
//!   the [`Invocation`], regions helpers add during the run); a run executes
//!   at most [`Vm::budget`] instructions ([`DEFAULT_BUDGET`] unless set).
//!   Whatever the bytecode and input, a run returns a value or an
//!   [`ExecError`] naming the pc: no panic, no undefined behaviour.
//! - **unchecked** ([`Vm::run_unchecked`], [`Vm::run_with_unchecked`],
//!   `unsafe`): no region checks, for programs the verifier proved safe.
//!   The budget, call depth, alignment of atomics and helpers behave as in
//!   checked mode. Both modes are one generic interpreter monomorphized
//!   twice, so they share every instruction's semantics.
//!
//! # Memory model
//!
//! Registers hold real host addresses, as in the kernel, uBPF and rbpf.
//! [`Vm::run`] sets `r1` = the input buffer, `r2` = its length; `r10` is
//! the top of the current 512-byte frame. Each frame is zeroed the first
//! time a run reaches it and not cleared between calls (Linux does not
//! clear either), so runs are deterministic and nothing reads
//! uninitialised memory.
//!
//! # Semantics decisions (RFC 9669, and Linux where it leaves a choice)
//!
//! - Division by zero gives 0; modulo by zero leaves `dst` (32-bit forms:
//!   its zero-extended low half). `INT_MIN / -1` = `INT_MIN`, `INT_MIN % -1`
//!   = 0. Signed modulo takes the sign of the dividend. Shift amounts are
//!   masked to the width. 32-bit results are zero-extended.
//! - `le`/`be` truncate to their width then convert (on little-endian
//!   hosts `le` is a truncation); `bswap` swaps unconditionally.
//! - Atomics are real host atomics (`SeqCst` read-modify-writes,
//!   acquire/release for load-acquire/store-release) so maps can be shared
//!   between threads; an atomic at a misaligned address fails with
//!   [`ExecError::MisalignedAtomic`] in both modes.
//! - `ldabs`/`ldind` read the packet (for [`Vm::run`]: the input buffer)
//!   big-endian into `r0`, zero-extended; the offset is `imm` (+ the low 32
//!   bits of the index register) as a signed 32-bit value; outside the
//!   packet the whole run ends with `r0 = 0` (Linux). Linux treats them as
//!   implicit calls that scratch `r1`–`r5` (the verifier forbids reading
//!   them after); we leave `r1`–`r5` unchanged, like after helper calls.
//! - Helper calls put the result in `r0` and leave `r1`–`r5` unchanged
//!   (unreadable for verified programs; deterministic for the others).
//! - bpf-to-bpf calls: a fresh frame per call (`r10` = its top),
//!   `r6`–`r9` restored on return, at most [`MAX_CALL_FRAMES`] frames in
//!   total ([`ExecError::CallDepth`] beyond). Only live frames are
//!   accessible in checked mode.
//! - `may_goto` falls through [`MAY_GOTO_LIMIT`] times per function
//!   invocation, then jumps (Linux's `BPF_MAX_LOOPS`).
//! - `lddw rX, func` (`BPF_PSEUDO_FUNC`) loads the function's handle, a
//!   tagged pc the callback helpers accept ([`Vm::function_refs`]).
//!   `lddw` of map references and kfunc calls are rejected by
//!   [`Vm::new`] ([`LoadError::Unsupported`]): the object loader
//!   ([`loader::LoadedObject`]) resolves map and global references to
//!   plain constants first; kfuncs have no userspace definition.
//! - Tail calls: see [`tail_call`].
//!
//! # Helpers and threads
//!
//! A [`Vm`] is `Send + Sync` and `run` takes `&self`, so one program runs
//! on many threads at once. Helpers are therefore `Fn + Send + Sync`
//! closures keeping their own synchronised state (see [`HelperRegistry`]);
//! [`HelperContext`] lets them check pointer arguments, add regions and ask
//! for tail calls.
//!
//! # Performance
//!
//! [`Vm::new`] lowers the program once to 16-byte ops (jump targets
//! resolved, immediates pre-extended, one opcode per operation, width and
//! operand kind); the loop is one `match` per instruction on a local
//! register file, with no allocation. Checked mode's access check is one
//! subtraction and one compare against the region of the previous read
//! (or write). Measured with `examples/speed.rs` (host instructions per
//! eBPF instruction, valgrind): byte loop over 1 MiB 15.9 unchecked, 16.2
//! checked (+2%), stack loop 16.8 / 18.0 (+7%), rbpf's interpreter 108.
//!
//! # For the JIT
//!
//! The JIT reuses [`HelperRegistry::get`] + [`Helper::call`] with a
//! [`HelperContext`] built from the run's [`MemoryRegions`] and
//! [`TailCallState`], calls [`MemoryRegions::check`] on its slow path, and
//! reports faults as [`ExecError`], so both engines accept, reject and
//! describe the same accesses. Callback helpers (`bpf_loop`,
//! `bpf_for_each_map_elem`) call [`HelperContext::call_function`]: the JIT
//! builds its contexts with [`HelperContext::for_run`] on its own
//! [`RunAccess`], which runs the compiled function at that pc
//! ([`Vm::function_refs`] lists them) on a new frame with the run's budget.

#![warn(missing_docs)]

mod access;
pub mod engine;
mod error;
mod function_ref;
mod helper;
pub mod helpers;
pub mod hook;
mod interpreter;
pub mod loader;
mod lower;
pub mod map;
mod op;
pub mod program_type;
mod region;
pub mod tail_call;
mod vm;

pub use engine::{Engine, Executable, Interpreter};
pub use error::{ExecError, LoadError};
pub use helper::{
    FunctionCaller, Helper, HelperContext, HelperError, HelperFn, HelperRegistry, RunAccess,
};
pub use hook::Hook;
pub use interpreter::MAY_GOTO_LIMIT;
pub use lower::MAX_INSNS;
pub use region::{MemoryRegions, Miss, Region};
pub use tail_call::{TailCallError, TailCallState, MAX_TAIL_CALL_CNT};
pub use vm::{InlineArray, Invocation, Vm};

/// The size of one call frame in bytes (Linux's `MAX_BPF_STACK`).
pub const FRAME_SIZE: u64 = 512;

/// How many frames one run may have at once, the main program's included
/// (Linux's `MAX_CALL_FRAMES`).
pub const MAX_CALL_FRAMES: usize = 8;

/// The default instruction budget of a run: ten million instructions, a
/// few tens of milliseconds of interpretation, far above what any
/// terminating test program needs and small enough to stop a runaway loop
/// quickly.
pub const DEFAULT_BUDGET: u64 = 10_000_000;
