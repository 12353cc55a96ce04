//! Errors of the kernel backend.

use std::io;

use crate::verifier_log::VerifierLog;

/// How many log lines a [`LoadError`] shows in its message.
const SHOWN_LOG_LINES: usize = 6;

/// A program could not be loaded into the kernel.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The request was malformed before reaching the kernel (e.g. a license
    /// containing NUL, an instruction count that does not fit).
    #[error("invalid program load request: {0}")]
    InvalidInput(String),
    /// `BPF_PROG_LOAD` failed: the verifier rejected the program (its log
    /// says why) or the kernel refused the request (`EPERM`, `EINVAL` on a
    /// bad attribute, ...; then the log is usually empty).
    #[error("{}", rejected_message(.errno, .log))]
    Rejected {
        /// The error number the kernel returned.
        errno: i32,
        /// The complete verifier log (boxed: it is large, errors are passed around).
        log: Box<VerifierLog>,
    },
    /// The program loaded but `BPF_OBJ_GET_INFO_BY_FD` on it failed.
    #[error("reading the loaded program's info: {0}")]
    Info(#[source] io::Error),
}

impl LoadError {
    /// The kernel's error number, if the kernel returned one.
    pub fn errno(&self) -> Option<i32> {
        match self {
            LoadError::Rejected { errno, .. } => Some(*errno),
            LoadError::Info(e) => e.raw_os_error(),
            LoadError::InvalidInput(_) => None,
        }
    }

    /// The verifier log of a rejection.
    pub fn log(&self) -> Option<&VerifierLog> {
        match self {
            LoadError::Rejected { log, .. } => Some(log),
            _ => None,
        }
    }
}

fn rejected_message(errno: &i32, log: &VerifierLog) -> String {
    let mut msg = format!("kernel rejected the program: {}", errno_name(*errno));
    let lines = log.last_meaningful_lines(SHOWN_LOG_LINES);
    if lines.is_empty() {
        msg.push_str("; the verifier log is empty");
    } else {
        msg.push_str("; verifier log ends:");
        for l in lines {
            msg.push_str("\n  ");
            msg.push_str(l);
        }
    }
    if log.truncated {
        msg.push_str("\n  (log truncated)");
    }
    msg
}

/// The symbolic name of the error numbers bpf(2) returns, with what it
/// means there.
pub fn errno_name(errno: i32) -> String {
    let (name, meaning) = match errno {
        libc::EPERM => ("EPERM", "not permitted"),
        libc::ENOENT => ("ENOENT", "no such object"),
        libc::E2BIG => ("E2BIG", "program or attribute too large"),
        libc::EBADF => ("EBADF", "bad file descriptor"),
        libc::EAGAIN => ("EAGAIN", "try again"),
        libc::ENOMEM => ("ENOMEM", "out of memory"),
        libc::EACCES => ("EACCES", "the verifier rejected the program"),
        libc::EFAULT => ("EFAULT", "bad address"),
        libc::EINVAL => ("EINVAL", "invalid argument or malformed program"),
        libc::EEXIST => ("EEXIST", "the element already exists"),
        libc::EBUSY => ("EBUSY", "busy"),
        libc::ENODEV => ("ENODEV", "no such device"),
        libc::ENOSPC => ("ENOSPC", "buffer too small"),
        libc::ENOSYS => ("ENOSYS", "bpf(2) not implemented"),
        libc::EOPNOTSUPP => ("EOPNOTSUPP", "not supported"),
        524 => ("ENOTSUPP", "not supported by this kernel"),
        _ => return format!("errno {errno} ({})", io::Error::from_raw_os_error(errno)),
    };
    format!("{name} ({meaning})")
}

/// A `BPF_PROG_TEST_RUN` failed.
#[derive(Debug, thiserror::Error)]
pub enum TestRunError {
    /// The kernel refused the run (the program type does not support test
    /// runs, the input is too short for its type, ...).
    #[error("BPF_PROG_TEST_RUN failed: {0}")]
    Syscall(#[source] io::Error),
    /// The output buffer for packet data or context was too small.
    #[error("BPF_PROG_TEST_RUN output did not fit: the kernel needs {data_needed} bytes of data_out (had {data_capacity}) and {ctx_needed} of ctx_out (had {ctx_capacity})")]
    OutputTooSmall {
        /// Bytes of packet the run produced.
        data_needed: usize,
        /// Size of the data_out buffer given.
        data_capacity: usize,
        /// Bytes of context the run produced.
        ctx_needed: usize,
        /// Size of the ctx_out buffer given.
        ctx_capacity: usize,
    },
    /// A buffer size does not fit the kernel's 32-bit fields.
    #[error("invalid test run request: {0}")]
    InvalidInput(String),
}

impl From<io::Error> for TestRunError {
    fn from(e: io::Error) -> TestRunError {
        if e.kind() == io::ErrorKind::InvalidInput && e.raw_os_error().is_none() {
            TestRunError::InvalidInput(e.to_string())
        } else {
            TestRunError::Syscall(e)
        }
    }
}
