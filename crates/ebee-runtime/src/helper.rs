//! Helper functions, keyed by their kernel ids, and what a helper can do
//! to the run that calls it ([`HelperContext`]).
//!
//! A helper is `Fn + Send + Sync`: one [`crate::Vm`] may run on many
//! threads at once (`run` takes `&self`), so helpers keep their state
//! behind their own synchronisation (atomics, a `Mutex`, a concurrent map)
//! rather than the registry serialising every call behind one lock.
//!
//! After a helper call `r0` holds its result and `r1`–`r5` keep the values
//! they had (Linux leaves them unreadable and the verifier rejects reads;
//! keeping them is deterministic, free, and what the JIT does too).

use crate::region::{MemoryRegions, Region};
use crate::tail_call::{TailCallError, TailCallState};
use crate::Vm;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Why a helper failed; stops the run with [`crate::ExecError::HelperFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HelperError(pub String);

impl fmt::Display for HelperError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HelperError {}

impl From<String> for HelperError {
    fn from(s: String) -> HelperError {
        HelperError(s)
    }
}

impl From<&str> for HelperError {
    fn from(s: &str) -> HelperError {
        HelperError(s.to_string())
    }
}

/// The signature every helper is stored with: the run's context and
/// `r1`–`r5`, returning `r0`.
pub type HelperFn =
    dyn Fn(&mut HelperContext<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync;

/// One registered helper.
#[derive(Clone)]
pub struct Helper {
    id: i32,
    name: Arc<str>,
    f: Arc<HelperFn>,
}

impl Helper {
    /// Its kernel id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// Its name, for messages.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Calls it. A panic inside the helper is caught and reported as a
    /// failure, so native code (the JIT) never unwinds.
    ///
    /// Inlined so the caller reads the helper's result where the helper
    /// wrote it (copying it on in 16-byte words right after the 8-byte
    /// stores stalled every call).
    #[inline(always)]
    pub fn call(&self, ctx: &mut HelperContext<'_>, args: [u64; 5]) -> Result<u64, HelperError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.f)(ctx, args)))
            .unwrap_or_else(|_| Err(HelperError("the helper panicked".to_string())))
    }
}

impl fmt::Debug for Helper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Helper({} {})", self.id, self.name)
    }
}

/// Ids below this are looked up in a dense table (kernel ids are small).
const DENSE_IDS: usize = 1024;

/// The helpers a program may call, by kernel helper id.
#[derive(Clone, Default)]
pub struct HelperRegistry {
    dense: Vec<Option<Helper>>,
    sparse: HashMap<i32, Helper>,
}

impl HelperRegistry {
    /// No helpers.
    pub fn new() -> HelperRegistry {
        HelperRegistry::default()
    }

    /// Registers a helper that only needs its arguments, replacing any
    /// helper with the same id.
    pub fn register<F>(&mut self, id: i32, name: &str, f: F) -> &mut HelperRegistry
    where
        F: Fn([u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        self.register_with_context(id, name, move |_ctx, args| f(args))
    }

    /// Registers a helper that also uses the run's [`HelperContext`] (to
    /// check pointers, add regions, or ask for a tail call).
    pub fn register_with_context<F>(&mut self, id: i32, name: &str, f: F) -> &mut HelperRegistry
    where
        F: Fn(&mut HelperContext<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
    {
        let helper = Helper {
            id,
            name: Arc::from(name),
            f: Arc::new(f),
        };
        match usize::try_from(id) {
            Ok(i) if i < DENSE_IDS => {
                if self.dense.len() <= i {
                    self.dense.resize(i + 1, None);
                }
                self.dense[i] = Some(helper);
            }
            _ => {
                self.sparse.insert(id, helper);
            }
        }
        self
    }

    /// Removes helper `id`; returns whether it was registered.
    pub fn unregister(&mut self, id: i32) -> bool {
        match usize::try_from(id) {
            Ok(i) if i < DENSE_IDS => self.dense.get_mut(i).and_then(Option::take).is_some(),
            _ => self.sparse.remove(&id).is_some(),
        }
    }

    /// The helper with id `id` (a `call` immediate sign-extended, or a
    /// `callx` register value); ids outside `i32` find nothing.
    #[inline]
    pub fn get(&self, id: u64) -> Option<&Helper> {
        if let Some(Some(h)) = self.dense.get(id as usize) {
            return Some(h);
        }
        let id = i32::try_from(id as i64).ok()?;
        self.sparse.get(&id)
    }

    /// The registered ids, ascending.
    pub fn ids(&self) -> Vec<i32> {
        let mut ids: Vec<i32> = self
            .dense
            .iter()
            .filter_map(|h| h.as_ref().map(|h| h.id))
            .chain(self.sparse.keys().copied())
            .collect();
        ids.sort_unstable();
        ids
    }
}

impl fmt::Debug for HelperRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HelperRegistry")
            .field("ids", &self.ids())
            .finish()
    }
}

/// How an engine runs a function of the calling program for a helper
/// (the callbacks of `bpf_loop`, `bpf_for_each_map_elem`): on a new call
/// frame, with `r1`–`r5` = `args`, sharing the run's budget, regions and
/// tail-call state, returning the function's `r0`.
///
/// The engine hands its implementation to [`HelperContext::with_caller`];
/// the regions and tail-call state are passed back in because the
/// [`HelperContext`] holds them during the helper call.
pub trait FunctionCaller {
    /// Runs the function starting at `pc` with `args` in `r1`–`r5`.
    fn call_function(
        &mut self,
        regions: &mut MemoryRegions,
        tail_calls: &mut TailCallState,
        pc: usize,
        args: [u64; 5],
    ) -> Result<u64, HelperError>;
}

/// An engine's whole run state as a helper reaches it: an engine (the
/// interpreter, the JIT) hands this to [`HelperContext::for_run`] so the
/// helper borrows the regions and tail-call state through it and can still
/// run callbacks on the same state (no copies per helper call).
pub trait RunAccess {
    /// The run's regions.
    fn regions(&mut self) -> &mut MemoryRegions;
    /// The run's regions, read-only.
    fn regions_ref(&self) -> &MemoryRegions;
    /// The run's tail-call state.
    fn tail_calls(&mut self) -> &mut TailCallState;
    /// The run's tail-call state, read-only.
    fn tail_calls_ref(&self) -> &TailCallState;
    /// Runs the function at `pc` with `args` on a new frame.
    fn call_function(&mut self, pc: usize, args: [u64; 5]) -> Result<u64, HelperError>;
    /// Makes `packet` the packet of legacy packet loads; `false` if the
    /// engine keeps it elsewhere.
    ///
    /// # Safety
    /// As [`crate::Invocation::set_packet`], for the rest of the run.
    unsafe fn set_packet(&mut self, packet: Region) -> bool;
}

enum State<'a> {
    Parts {
        regions: &'a mut MemoryRegions,
        tail_calls: &'a mut TailCallState,
        caller: Option<&'a mut dyn FunctionCaller>,
    },
    Run(&'a mut dyn RunAccess),
}

/// What a helper sees of the run calling it: the memory regions (to check
/// pointer arguments and to add regions), the tail-call state, the pc, and
/// (if the engine supports it) a way to call functions of the program.
///
/// Engines build one per helper call with [`HelperContext::new`].
pub struct HelperContext<'a> {
    state: State<'a>,
    pc: usize,
}

impl<'a> HelperContext<'a> {
    /// The context of a helper call at `pc` in a run with these regions and
    /// tail-call state.
    pub fn new(
        regions: &'a mut MemoryRegions,
        tail_calls: &'a mut TailCallState,
        pc: usize,
    ) -> HelperContext<'a> {
        HelperContext {
            state: State::Parts {
                regions,
                tail_calls,
                caller: None,
            },
            pc,
        }
    }

    /// The context of a helper call at `pc` reaching the run through `run`.
    pub fn for_run(run: &'a mut dyn RunAccess, pc: usize) -> HelperContext<'a> {
        HelperContext {
            state: State::Run(run),
            pc,
        }
    }

    /// Lets the helper call functions of the program through `caller`
    /// ([`HelperContext::call_function`]).
    pub fn with_caller(mut self, caller: &'a mut dyn FunctionCaller) -> HelperContext<'a> {
        if let State::Parts { caller: c, .. } = &mut self.state {
            *c = Some(caller);
        }
        self
    }

    fn regions_mut(&mut self) -> &mut MemoryRegions {
        match &mut self.state {
            State::Parts { regions, .. } => regions,
            State::Run(r) => r.regions(),
        }
    }

    fn tail_calls_mut(&mut self) -> &mut TailCallState {
        match &mut self.state {
            State::Parts { tail_calls, .. } => tail_calls,
            State::Run(r) => r.tail_calls(),
        }
    }

    /// Runs the program's function at `pc` with `args` in `r1`–`r5` on a
    /// new frame and returns its `r0` (for callbacks). Fails when the
    /// engine gave no [`FunctionCaller`], the call depth is exceeded, or the
    /// function fails.
    pub fn call_function(&mut self, pc: usize, args: [u64; 5]) -> Result<u64, HelperError> {
        match &mut self.state {
            State::Parts {
                regions,
                tail_calls,
                caller: Some(c),
            } => c.call_function(regions, tail_calls, pc, args),
            State::Parts { caller: None, .. } => Err(HelperError(
                "this engine cannot call program functions from helpers".to_string(),
            )),
            State::Run(r) => r.call_function(pc, args),
        }
    }

    /// The pc of the call.
    pub fn pc(&self) -> usize {
        self.pc
    }

    /// The run's regions.
    pub fn regions(&self) -> &MemoryRegions {
        match &self.state {
            State::Parts { regions, .. } => regions,
            State::Run(r) => r.regions_ref(),
        }
    }

    /// Lets the program access `region` for the rest of the run (e.g. the
    /// map value whose address the helper returns).
    ///
    /// # Safety
    /// As [`MemoryRegions::add`]: the memory stays valid (and writable if the
    /// region says so) until the run ends.
    pub unsafe fn add_region(&mut self, region: Region) {
        // SAFETY: forwarded to the caller.
        unsafe { self.regions_mut().add(region) }
    }

    /// Adds `region` unless the run can already access all of it (with
    /// the same writability): a helper returning the same map value in a
    /// loop adds it once.
    ///
    /// # Safety
    /// As [`HelperContext::add_region`].
    pub unsafe fn ensure_region(&mut self, region: Region) {
        if region.len > 0
            && !self
                .regions_mut()
                .allows(region.start, region.len, region.writable)
        {
            // SAFETY: forwarded to the caller.
            unsafe { self.regions_mut().add(region) }
        }
    }

    /// Replaces the added region `old` with `new` for the rest of the run
    /// (a packet-changing helper moving the packet's bounds); returns
    /// whether `old` was found.
    ///
    /// # Safety
    /// As [`HelperContext::add_region`], for `new`.
    pub unsafe fn replace_region(&mut self, old: Region, new: Region) -> bool {
        // SAFETY: forwarded to the caller.
        unsafe { self.regions_mut().replace(old, new) }
    }

    /// Makes `packet` the packet that `ldabs`/`ldind` read for the rest of
    /// the run (a helper that moved or resized the packet); returns
    /// whether the engine follows it (the interpreter does; an engine
    /// building its context with [`HelperContext::new`] keeps its own).
    ///
    /// # Safety
    /// As [`crate::Invocation::set_packet`]: the memory stays valid for
    /// reads until the run ends.
    pub unsafe fn set_packet(&mut self, packet: Region) -> bool {
        match &mut self.state {
            State::Parts { .. } => false,
            // SAFETY: forwarded to the caller.
            State::Run(r) => unsafe { r.set_packet(packet) },
        }
    }

    /// Runs `f` with `region` accessible, then removes it (and every region
    /// added meanwhile): memory that lives only as long as the helper call,
    /// such as the key a helper passes to a callback.
    ///
    /// # Safety
    /// The memory must stay valid (and writable if the region says so)
    /// while `f` runs.
    pub unsafe fn with_temporary_region<T>(
        &mut self,
        region: Region,
        f: impl FnOnce(&mut HelperContext<'a>) -> T,
    ) -> T {
        let n = self.regions().extra().len();
        // SAFETY: forwarded to the caller; the region is removed below,
        // before the memory may go away.
        unsafe { self.regions_mut().add(region) };
        let out = f(self);
        self.regions_mut().truncate(n);
        out
    }

    /// Checks that the program may access `len` bytes at `addr` (a pointer
    /// argument), naming the region it missed otherwise.
    pub fn check(&mut self, addr: u64, len: u64, write: bool) -> Result<(), HelperError> {
        if len == 0 {
            return Ok(());
        }
        self.regions_mut().check(addr, len, write).map_err(|m| {
            HelperError(format!(
                "{} of {len} bytes at {addr:#x}: {}",
                if write { "write" } else { "read" },
                m.description
            ))
        })
    }

    /// Copies `buf.len()` bytes at `addr` out of program memory, checking
    /// the regions.
    pub fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), HelperError> {
        self.check(addr, buf.len() as u64, false)?;
        if !buf.is_empty() {
            // SAFETY: the check found the bytes inside one region, which the
            // embedder or a helper promised valid for the run; `buf` is a
            // distinct Rust allocation, so the ranges do not overlap.
            unsafe {
                std::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len())
            };
        }
        Ok(())
    }

    /// Copies `data` into program memory at `addr`, checking the regions.
    pub fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), HelperError> {
        self.check(addr, data.len() as u64, true)?;
        if !data.is_empty() {
            // SAFETY: as in `read`, and the region is writable.
            unsafe { std::ptr::copy(data.as_ptr(), addr as *mut u8, data.len()) };
        }
        Ok(())
    }

    /// Asks the engine to replace the running program with `target` once
    /// the helper returns (see [`crate::tail_call`]). Refused beyond
    /// [`crate::MAX_TAIL_CALL_CNT`] tail calls per run; the helper then
    /// returns its error value and the program continues.
    pub fn tail_call(&mut self, target: Arc<Vm>) -> Result<(), TailCallError> {
        self.tail_calls_mut().request(target)
    }

    /// How many tail calls the run has made so far.
    pub fn tail_call_count(&self) -> u32 {
        match &self.state {
            State::Parts { tail_calls, .. } => tail_calls.count(),
            State::Run(r) => r.tail_calls_ref().count(),
        }
    }
}
