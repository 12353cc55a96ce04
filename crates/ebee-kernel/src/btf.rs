//! BTF in the kernel: `BPF_BTF_LOAD` of an object's type information, so
//! maps can name their key and value types and programs can carry function
//! and line information (which the verifier log then quotes).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::errno_name;
use crate::sys::{self, BtfLoadAttr};
use crate::verifier_log::VerifierLog;

/// How many lines of the kernel's BTF log a [`BtfLoadError`] shows.
const SHOWN_LOG_LINES: usize = 6;

/// The log buffer for a failed load (the BTF checker's log is short: it
/// stops at the first bad type).
const LOG_SIZE: usize = 64 * 1024;

/// The kernel refused a BTF blob.
#[derive(Debug, thiserror::Error)]
#[error("{}", btf_error_message(*.errno, .log))]
pub struct BtfLoadError {
    /// The error number of `BPF_BTF_LOAD`.
    pub errno: i32,
    /// The kernel's BTF log of the failed load (empty for errors found
    /// before the checker ran, such as `EPERM`).
    pub log: Box<VerifierLog>,
}

fn btf_error_message(errno: i32, log: &VerifierLog) -> String {
    let mut msg = format!("kernel rejected the BTF: {}", errno_name(errno));
    for l in log.last_meaningful_lines(SHOWN_LOG_LINES) {
        msg.push_str("\n  ");
        msg.push_str(l);
    }
    msg
}

/// A BTF object loaded into the kernel, owned through its file descriptor.
#[derive(Debug)]
pub struct KernelBtf {
    fd: OwnedFd,
}

impl KernelBtf {
    /// `BPF_BTF_LOAD` of `bytes` (header, types, strings, as
    /// `ebee_object::Btf::to_bytes` writes them). The first attempt runs
    /// without a log; a failure is retried with one to say why.
    pub fn load(bytes: &[u8]) -> Result<KernelBtf, BtfLoadError> {
        let mut attr = BtfLoadAttr::default();
        let errno = match sys::btf_load(&mut attr, bytes, &mut []) {
            Ok(fd) => return Ok(KernelBtf { fd }),
            Err(e) => e.raw_os_error().unwrap_or(libc::EINVAL),
        };
        let mut log = vec![0u8; LOG_SIZE];
        let mut attr = BtfLoadAttr {
            btf_log_level: 1,
            ..BtfLoadAttr::default()
        };
        match sys::btf_load(&mut attr, bytes, &mut log) {
            // Loads the second time (a transient failure): keep it.
            Ok(fd) => Ok(KernelBtf { fd }),
            Err(e) => Err(BtfLoadError {
                errno: e.raw_os_error().unwrap_or(errno),
                log: Box::new(VerifierLog::from_bytes(
                    &log,
                    e.raw_os_error() == Some(libc::ENOSPC),
                )),
            }),
        }
    }

    /// The BTF object's file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsFd for KernelBtf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for KernelBtf {
    fn as_raw_fd(&self) -> i32 {
        self.fd.as_raw_fd()
    }
}
