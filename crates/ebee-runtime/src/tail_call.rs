//! The runtime side of tail calls (`bpf_tail_call`).
//!
//! A helper (in the next step, the one reading a `prog_array` map) asks for
//! a tail call through [`crate::HelperContext::tail_call`] with the target
//! program. When the helper returns, the interpreter replaces the running
//! program with the target, as Linux does:
//!
//! - the target starts at its first instruction **in the current frame**:
//!   `r10` and the stack contents stay, `r1` is the helper's first argument
//!   (the context, by the `bpf_tail_call(ctx, map, index)` convention), the
//!   other registers keep their values (a verified target reads only `r1`
//!   and `r10`);
//! - from inside a bpf-to-bpf call the target replaces that subprogram: its
//!   `exit` returns to the subprogram's caller (Linux allows mixing tail
//!   calls and bpf-to-bpf calls on JITs that support it);
//! - the chain of a run may hold at most [`MAX_TAIL_CALL_CNT`] tail calls;
//!   beyond, [`crate::HelperContext::tail_call`] refuses, and the helper
//!   returns its error value in `r0` and the program continues after the call;
//! - the budget, the regions and the tail-call count are those of the run.

use crate::Vm;
use std::sync::Arc;

/// How many tail calls one run may chain (Linux's `MAX_TAIL_CALL_CNT`).
pub const MAX_TAIL_CALL_CNT: u32 = 33;

/// Why a tail call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TailCallError {
    /// The run already chained [`MAX_TAIL_CALL_CNT`] tail calls.
    #[error("tail call limit of {MAX_TAIL_CALL_CNT} reached")]
    LimitReached,
    /// The helper already asked for a tail call during this call.
    #[error("a tail call is already pending")]
    AlreadyPending,
}

/// The tail-call state of one run: how many were made, and the one a helper
/// asked for and the engine has not performed yet.
#[derive(Debug, Default)]
pub struct TailCallState {
    count: u32,
    pending: Option<Arc<Vm>>,
}

impl TailCallState {
    /// No tail call made yet.
    pub fn new() -> TailCallState {
        TailCallState::default()
    }

    /// How many tail calls the run has made (or accepted).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Accepts a tail call to `target`, counting it.
    pub fn request(&mut self, target: Arc<Vm>) -> Result<(), TailCallError> {
        if self.pending.is_some() {
            return Err(TailCallError::AlreadyPending);
        }
        if self.count >= MAX_TAIL_CALL_CNT {
            return Err(TailCallError::LimitReached);
        }
        self.count += 1;
        self.pending = Some(target);
        Ok(())
    }

    /// The accepted tail call, if any, for the engine to perform.
    pub fn take_pending(&mut self) -> Option<Arc<Vm>> {
        self.pending.take()
    }
}
