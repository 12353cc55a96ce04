//! kprobe and perf_event programs run on contexts the embedder fills:
//! [`Kprobe`] on a `struct pt_regs` (x86-64 layout), with
//! `bpf_override_return`; [`PerfEvent`] on a `struct
//! bpf_perf_event_data`, with `bpf_perf_prog_read_value` reading the perf
//! counter the embedder attached as the event.
//!
//! Both contexts are read-only for the program; the helpers find the run
//! through a thread-local and refuse a context pointer that is not the
//! run's.

use crate::error::ExecError;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::helpers::{neg, EINVAL};
use crate::map::PerfCounter;
use crate::region::Region;
use crate::vm::Invocation;
use std::cell::Cell;

/// Helper ids (the kernel's).
pub mod helper_id {
    /// `bpf_perf_prog_read_value`.
    pub const PERF_PROG_READ_VALUE: i32 = 56;
    /// `bpf_override_return`.
    pub const OVERRIDE_RETURN: i32 = 58;
}

/// `struct pt_regs` on x86-64 (168 bytes), as kprobes see the probed
/// function's registers.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct PtRegs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub bp: u64,
    pub bx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    /// The return value register (`regs_return_value`).
    pub ax: u64,
    pub cx: u64,
    pub dx: u64,
    pub si: u64,
    pub di: u64,
    pub orig_ax: u64,
    pub ip: u64,
    pub cs: u64,
    pub flags: u64,
    pub sp: u64,
    pub ss: u64,
}

const _: () = assert!(std::mem::size_of::<PtRegs>() == 168);

/// `struct bpf_perf_event_data` (184 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BpfPerfEventData {
    /// The registers at the sample.
    pub regs: PtRegs,
    /// The event's sample period.
    pub sample_period: u64,
    /// The sampled address (`PERF_SAMPLE_ADDR`), 0 if none.
    pub addr: u64,
}

const _: () = assert!(std::mem::size_of::<BpfPerfEventData>() == 184);

/// The result of a kprobe run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KprobeOutcome {
    /// `r0`.
    pub ret: u64,
    /// The return value `bpf_override_return` asked for (the last call),
    /// if any: the host should make the probed function return it
    /// without running (the kernel sets `ax` and skips the function).
    pub override_return: Option<u64>,
}

enum Run {
    Kprobe {
        regs: PtRegs,
        override_return: Option<u64>,
    },
    PerfEvent {
        data: BpfPerfEventData,
        counter: Option<*const PerfCounter>,
    },
}

impl Run {
    fn ctx_addr(&self) -> u64 {
        match self {
            Run::Kprobe { regs, .. } => regs as *const PtRegs as u64,
            Run::PerfEvent { data, .. } => data as *const BpfPerfEventData as u64,
        }
    }
}

thread_local! {
    static CURRENT: Cell<*mut Run> = const { Cell::new(std::ptr::null_mut()) };
}

fn with_run<T>(
    ctx: u64,
    f: impl FnOnce(&mut Run) -> Result<T, HelperError>,
) -> Result<T, HelperError> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("a kprobe or perf_event helper called outside such a run".into());
    }
    // SAFETY: `p` points at the `Run` on `run_inner`'s stack, set for
    // exactly the program run on this thread, which does not touch it
    // meanwhile; helpers run one at a time.
    let st = unsafe { &mut *p };
    if ctx != st.ctx_addr() {
        return Err(format!("{ctx:#x} is not this run's context").into());
    }
    f(st)
}

/// `bpf_override_return(regs, rc)`: `ax` = `rc`, recorded for the host.
fn override_return(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_run(a[0], |st| match st {
        Run::Kprobe {
            regs,
            override_return,
        } => {
            regs.ax = a[1];
            *override_return = Some(a[1]);
            Ok(0)
        }
        Run::PerfEvent { .. } => Err("bpf_override_return in a perf_event run".into()),
    })
}

/// `bpf_perf_prog_read_value(ctx, buf, size)`: the event's counter,
/// enabled and running times (24 bytes, else `-EINVAL`); the buffer is
/// zeroed on errors, `-EINVAL` too when the event cannot be read (the
/// host attached no counter, or reading it failed), as the kernel's
/// `perf_event_read_local` refuses an event it cannot read.
fn perf_prog_read_value(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (buf, size) = (a[1], a[2] as u32 as usize);
    ctx.check(buf, size as u64, true)?;
    let v = with_run(a[0], |st| match st {
        Run::PerfEvent { counter, .. } => Ok(match (size, counter) {
            (24, Some(c)) => {
                // SAFETY: the counter is borrowed by the runner for the
                // whole run.
                unsafe { &**c }.read().ok()
            }
            _ => None,
        }),
        Run::Kprobe { .. } => Err("bpf_perf_prog_read_value in a kprobe run".into()),
    })?;
    match v {
        Some(v) => {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
            ctx.write(buf, &bytes)?;
            Ok(0)
        }
        None => {
            ctx.write(buf, &vec![0; size])?;
            Ok(neg(EINVAL))
        }
    }
}

/// The helpers of kprobe programs this module provides:
/// `bpf_override_return`.
pub fn kprobe_helpers() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register_with_context(
        helper_id::OVERRIDE_RETURN,
        "bpf_override_return",
        override_return,
    );
    h
}

/// The helpers of perf_event programs this module provides:
/// `bpf_perf_prog_read_value`.
pub fn perf_event_helpers() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register_with_context(
        helper_id::PERF_PROG_READ_VALUE,
        "bpf_perf_prog_read_value",
        perf_prog_read_value,
    );
    h
}

fn run_inner(
    mut st: Run,
    size: u64,
    name: &'static str,
    run: impl FnOnce(&Invocation) -> Result<u64, ExecError>,
) -> Result<(u64, Run), ExecError> {
    let stp: *mut Run = &raw mut st;
    // SAFETY: `stp` is valid; until the run ends `st` is only reached
    // through it.
    let ctx_addr = unsafe { (*stp).ctx_addr() };
    let mut inv = Invocation::new([ctx_addr, 0, 0, 0, 0]);
    // SAFETY: the context lives in `st` for the whole run; it is
    // read-only for the program (helpers write it through `stp`).
    unsafe {
        inv.set_input(Region::new(ctx_addr, size, false, name));
    }
    let prev = CURRENT.with(|c| c.replace(stp));
    let r = run(&inv);
    CURRENT.with(|c| c.set(prev));
    Ok((r?, st))
}

/// Runs kprobe programs on registers the host supplies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kprobe;

impl Kprobe {
    /// Runs a kprobe program of a loaded object (checked) on `regs`;
    /// `regs.ax` holds the override afterwards, if one was asked.
    pub fn run_loaded(
        prog: &crate::loader::LoadedProgram,
        regs: &mut PtRegs,
    ) -> Result<KprobeOutcome, ExecError> {
        let st = Run::Kprobe {
            regs: *regs,
            override_return: None,
        };
        let (ret, st) = run_inner(st, size_of::<PtRegs>() as u64, "pt_regs", |inv| {
            prog.run_with(inv)
        })?;
        let mut out = KprobeOutcome {
            ret,
            override_return: None,
        };
        if let Run::Kprobe {
            regs: after,
            override_return,
        } = st
        {
            *regs = after;
            out.override_return = override_return;
        }
        Ok(out)
    }
}

/// Runs perf_event programs on a sample the host supplies.
#[derive(Debug, Default)]
pub struct PerfEvent {
    /// The sample.
    pub data: BpfPerfEventData,
    /// The event's counter (`bpf_perf_prog_read_value` reads it).
    pub counter: Option<PerfCounter>,
}

impl PerfEvent {
    /// Runs a perf_event program of a loaded object (checked); returns `r0`.
    pub fn run_loaded(&self, prog: &crate::loader::LoadedProgram) -> Result<u64, ExecError> {
        let st = Run::PerfEvent {
            data: self.data,
            counter: self.counter.as_ref().map(|c| c as *const PerfCounter),
        };
        let (ret, _) = run_inner(
            st,
            size_of::<BpfPerfEventData>() as u64,
            "bpf_perf_event_data",
            |inv| prog.run_with(inv),
        )?;
        Ok(ret)
    }
}
