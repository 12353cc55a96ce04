//! The kernel's helper functions for programs of a loaded object, by the
//! kernel's ids and with its semantics, one file per family.
//!
//! They share a [`HelperEnv`]: the object's map table (map handles are
//! looked up there, never dereferenced), where `bpf_trace_printk` writes,
//! the identity `bpf_get_current_*` report, and which programs tail calls
//! may enter. [`standard_helpers`] registers them all.
//!
//! Errors a program can see (a full map, a missing key, a fault in
//! `bpf_probe_read`) are returned in `r0` as `-errno`, as in the kernel.
//! Misuse the kernel's verifier would have rejected (a number that is not
//! a map handle, a pointer outside the run's memory) stops the run with
//! [`crate::ExecError::HelperFailed`].

mod arg_bytes;
mod callback;
pub(crate) mod cgroup;
pub mod fib;
mod format;
mod map_ops;
mod perf_event;
mod probe_read;
mod process;
mod ringbuf;
pub(crate) mod skb;
pub(crate) mod skb_meta;
mod sock_cast;
pub mod sockopt;
mod spin_lock;
mod stack;
mod string;
mod tail_call;
mod time;
mod trace;

pub use format::{format_printf, FormatError};
pub use process::ProcessIdentity;
pub use trace::{SharedBuffer, TraceSink};

use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::loader::MapTable;
use crate::map::Map;
use crate::vm::Vm;
pub(crate) use arg_bytes::read_vec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Where callback handles start: `lddw rX, func` is rewritten to this plus
/// the function's pc, a value that is never a valid address.
pub const FUNC_HANDLE_BASE: u64 = 0xebee_f000_0000_0000;

/// What the helpers of one loaded object share.
#[derive(Debug)]
pub struct HelperEnv {
    maps: MapTable,
    trace: TraceSink,
    identity: Mutex<ProcessIdentity>,
    prandom: AtomicU64,
    /// Set when programs run unchecked: tail calls may only enter these
    /// (set once, at load; read without a lock on every tail call).
    trusted: OnceLock<Vec<Weak<Vm>>>,
    fib: Mutex<Arc<fib::Fib>>,
}

impl Default for HelperEnv {
    fn default() -> HelperEnv {
        HelperEnv::new()
    }
}

impl HelperEnv {
    /// An environment with no maps, `bpf_trace_printk` to stderr and the
    /// identity of this process.
    pub fn new() -> HelperEnv {
        HelperEnv::with_maps(&[])
    }

    /// An environment whose map table holds `maps` (an object's maps).
    pub fn with_maps(maps: &[Arc<Map>]) -> HelperEnv {
        let seed = time::monotonic_ns() ^ 0x9e37_79b9_7f4a_7c15;
        HelperEnv {
            maps: MapTable::with_maps(maps),
            trace: TraceSink::stderr(),
            identity: Mutex::new(ProcessIdentity::current()),
            prandom: AtomicU64::new(seed | 1),
            trusted: OnceLock::new(),
            fib: Mutex::new(Arc::new(fib::Fib::default())),
        }
    }

    /// The map table.
    pub fn maps(&self) -> &MapTable {
        &self.maps
    }

    /// Where `bpf_trace_printk` writes.
    pub fn trace(&self) -> &TraceSink {
        &self.trace
    }

    /// Sets what `bpf_get_current_pid_tgid`, `_uid_gid` and `_comm` report.
    pub fn set_identity(&self, id: ProcessIdentity) {
        *self.identity.lock().unwrap_or_else(|e| e.into_inner()) = id;
    }

    /// What `bpf_get_current_*` report.
    pub fn identity(&self) -> ProcessIdentity {
        self.identity
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets the forwarding table `bpf_fib_lookup` consults (empty at
    /// first: no interface, so every lookup is `-ENODEV`).
    pub fn set_fib(&self, fib: fib::Fib) {
        *self.fib.lock().unwrap_or_else(|e| e.into_inner()) = Arc::new(fib);
    }

    /// The forwarding table.
    pub fn fib(&self) -> Arc<fib::Fib> {
        Arc::clone(&self.fib.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Programs of this environment run without memory checks, so a tail
    /// call may only enter the programs given here (verified alike). The
    /// loader calls it once, for the environment it just created; a second
    /// call would keep the first list (tail calls could still only enter
    /// verified programs).
    pub(crate) fn set_unchecked_targets(&self, programs: &[Arc<Vm>]) {
        let first = self
            .trusted
            .set(programs.iter().map(Arc::downgrade).collect());
        debug_assert!(first.is_ok(), "unchecked tail-call targets set twice");
    }

    /// Whether a tail call may enter `target`.
    fn may_enter(&self, target: &Arc<Vm>) -> bool {
        match self.trusted.get() {
            None => true,
            Some(t) => t
                .iter()
                .any(|w| std::ptr::eq(w.as_ptr(), Arc::as_ptr(target))),
        }
    }

    /// Runs `f` on the map a program's handle names: an object's own map
    /// is lent from the table, with no reference-count traffic per call.
    #[inline]
    pub(crate) fn with_map<T>(
        &self,
        handle: u64,
        f: impl FnOnce(&Arc<Map>) -> Result<T, HelperError>,
    ) -> Result<T, HelperError> {
        match self.maps.get_fixed(handle) {
            Some(map) => f(map),
            None => f(&self.map(handle)?),
        }
    }

    /// The map a program's handle names.
    pub(crate) fn map(&self, handle: u64) -> Result<Arc<Map>, HelperError> {
        self.maps
            .get(handle)
            .ok_or_else(|| HelperError(format!("{handle:#x} is not a map of this object")))
    }

    /// Restarts the sequence `bpf_get_prandom_u32` draws from at `seed`,
    /// for reproducible runs (e.g. the same program on two engines).
    pub fn seed_random(&self, seed: u64) {
        self.prandom.store(seed | 1, Ordering::Relaxed);
    }

    /// The next pseudo-random number (xorshift64*).
    fn next_random(&self) -> u64 {
        let mut x = self.prandom.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y >> 12;
            y ^= y << 25;
            y ^= y >> 27;
            match self
                .prandom
                .compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return y.wrapping_mul(0x2545_f491_4f6c_dd1d),
                Err(now) => x = now,
            }
        }
    }
}

/// `-errno` as a helper's `r0`.
pub(crate) fn neg(errno: i32) -> u64 {
    (-(errno as i64)) as u64
}

/// EFAULT, for probe reads.
pub(crate) const EFAULT: i32 = 14;
/// EINVAL.
pub(crate) const EINVAL: i32 = 22;
/// E2BIG.
pub(crate) const E2BIG: i32 = 7;
/// ERANGE.
pub(crate) const ERANGE: i32 = 34;
/// ENOENT.
pub(crate) const ENOENT: i32 = 2;

/// A NUL-terminated string of program memory at `addr`, at most `max`
/// bytes (without the NUL); `None` if the memory ends first.
pub(crate) fn read_cstr(ctx: &mut HelperContext<'_>, addr: u64, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    for i in 0..=max as u64 {
        ctx.read(addr.wrapping_add(i), &mut b).ok()?;
        if b[0] == 0 {
            return Some(out);
        }
        out.push(b[0]);
    }
    Some(out)
}

/// A registry with every helper of this module, sharing `env`.
pub fn standard_helpers(env: &Arc<HelperEnv>) -> HelperRegistry {
    let mut reg = HelperRegistry::new();
    map_ops::register(&mut reg, env);
    ringbuf::register(&mut reg, env);
    perf_event::register(&mut reg, env);
    tail_call::register(&mut reg, env);
    callback::register(&mut reg, env);
    probe_read::register(&mut reg);
    time::register(&mut reg);
    process::register(&mut reg, env);
    trace::register(&mut reg, env);
    string::register(&mut reg);
    spin_lock::register(&mut reg);
    stack::register(&mut reg, env);
    cgroup::register(&mut reg, env);
    sock_cast::register(&mut reg);
    reg
}

/// Registers `f` as helper `name` under the kernel's id for it.
pub(crate) fn add<F>(reg: &mut HelperRegistry, name: &str, f: F)
where
    F: Fn(&mut HelperContext<'_>, [u64; 5]) -> Result<u64, HelperError> + Send + Sync + 'static,
{
    match ebee_isa::helper_names::id(name) {
        Some(id) => {
            reg.register_with_context(id, name, f);
        }
        None => debug_assert!(false, "no kernel helper is called {name}"),
    }
}
