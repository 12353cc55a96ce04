//! `BPF_PROG_TEST_RUN`: running a loaded program on a given packet and
//! context without attaching it anywhere.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use crate::error::TestRunError;
use crate::sys::{self, TestRunAttr};

/// Extra room given to `data_out` beyond the input's size: XDP and tc
/// programs may grow the packet (by up to a page of headroom/tailroom).
const DATA_OUT_SLACK: usize = 4096;

/// The input of a test run.
#[derive(Debug, Clone, Default)]
pub struct TestRun<'a> {
    /// The packet (`data_in`). XDP and skb programs need at least an
    /// Ethernet header (14 bytes).
    pub data: &'a [u8],
    /// Size of the buffer for the resulting packet; `None`: the input's
    /// size plus a page, or no buffer when there is no input packet
    /// (program types without packets refuse a `data_out`).
    pub data_out_capacity: Option<usize>,
    /// The context (`ctx_in`), e.g. a `struct xdp_md` or `struct __sk_buff`;
    /// `None`: the kernel builds a default one.
    pub ctx: Option<&'a [u8]>,
    /// Size of the buffer for the resulting context; `None`: the size of
    /// `ctx` (0 without one). Some program types (`syscall`) refuse a
    /// `ctx_out`: give `Some(0)`.
    pub ctx_out_capacity: Option<usize>,
    /// Number of runs (0 and 1 both mean one); the duration is the average.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on, with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
}

impl<'a> TestRun<'a> {
    /// One run on `data`.
    pub fn new(data: &'a [u8]) -> TestRun<'a> {
        TestRun {
            data,
            ..TestRun::default()
        }
    }

    /// The same, run `repeat` times.
    pub fn repeat(mut self, repeat: u32) -> TestRun<'a> {
        self.repeat = repeat;
        self
    }

    /// The same, with context `ctx`.
    pub fn ctx(mut self, ctx: &'a [u8]) -> TestRun<'a> {
        self.ctx = Some(ctx);
        self
    }
}

/// What a test run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestRunOutput {
    /// The program's return value (r0), truncated to 32 bits by the kernel.
    pub retval: u32,
    /// The average time of one run, as the kernel measured it (ns).
    pub duration_ns: u32,
    /// The packet after the (last) run, `data_size_out` bytes.
    pub data: Vec<u8>,
    /// The context after the run, `ctx_size_out` bytes.
    pub ctx: Vec<u8>,
}

impl TestRunOutput {
    /// [`TestRunOutput::duration_ns`] as a `Duration`.
    pub fn duration(&self) -> Duration {
        Duration::from_nanos(self.duration_ns.into())
    }
}

/// Runs the program `prog` as `run` says.
pub(crate) fn run(prog: BorrowedFd<'_>, run: &TestRun<'_>) -> Result<TestRunOutput, TestRunError> {
    let ctx_in = run.ctx.unwrap_or(&[]);
    let data_cap = run.data_out_capacity.unwrap_or(if run.data.is_empty() {
        0
    } else {
        run.data.len() + DATA_OUT_SLACK
    });
    let ctx_cap = run.ctx_out_capacity.unwrap_or(ctx_in.len());
    let mut data_out = vec![0u8; data_cap];
    let mut ctx_out = vec![0u8; ctx_cap];
    let mut attr = TestRunAttr {
        repeat: run.repeat,
        flags: run.flags,
        cpu: run.cpu,
        ..TestRunAttr::default()
    };
    let result = sys::prog_test_run(
        &mut attr,
        prog,
        run.data,
        &mut data_out,
        ctx_in,
        &mut ctx_out,
    );
    if let Err(e) = result {
        if e.raw_os_error() == Some(libc::ENOSPC) {
            return Err(TestRunError::OutputTooSmall {
                data_needed: attr.data_size_out as usize,
                data_capacity: data_cap,
                ctx_needed: attr.ctx_size_out as usize,
                ctx_capacity: ctx_cap,
            });
        }
        return Err(e.into());
    }
    data_out.truncate(attr.data_size_out as usize);
    ctx_out.truncate(attr.ctx_size_out as usize);
    Ok(TestRunOutput {
        retval: attr.retval,
        duration_ns: attr.duration,
        data: data_out,
        ctx: ctx_out,
    })
}
