//! Loading a program into the kernel: `BPF_PROG_LOAD` with the verifier's
//! log captured, then `BPF_OBJ_GET_INFO_BY_FD` for what the kernel made of it.

use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use ebee_isa::Insn;

use crate::error::{LoadError, TestRunError};
use crate::sys::{self, ProgLoadAttr, OBJ_NAME_LEN};
use crate::test_run::{TestRun, TestRunOutput};
use crate::verifier_log::{LogLevel, VerifierLog, VerifierStats};
use crate::AttachType;
use crate::ProgramType;

/// How many times a load failing with `EAGAIN` is retried (the kernel
/// returns it for transient conditions, e.g. a signal during verification).
const EAGAIN_RETRIES: usize = 5;

/// Everything about a load except the program type, instructions and license.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Verifier log verbosity.
    pub log_level: LogLevel,
    /// The first log buffer size; it grows (to what the kernel says it
    /// needs, or doubling) while the kernel reports `ENOSPC`.
    pub initial_log_size: usize,
    /// The log buffer never grows past this; a longer log is truncated.
    pub max_log_size: usize,
    /// `prog_flags` (`BPF_F_STRICT_ALIGNMENT`, `BPF_F_ANY_ALIGNMENT`, ...).
    pub prog_flags: u32,
    /// The expected attach type, for program types that need it at load.
    pub expected_attach_type: Option<AttachType>,
    /// The program's name (at most 15 bytes, `[A-Za-z0-9_.]`).
    pub name: String,
    /// The attach target's type id in the kernel's BTF, for program types
    /// that name their target at load (tracing: `fentry`/`fexit`/`tp_btf`,
    /// LSM); 0 for none.
    pub attach_btf_id: u32,
}

impl Default for LoadOptions {
    fn default() -> LoadOptions {
        LoadOptions {
            log_level: LogLevel::default(),
            initial_log_size: 64 * 1024,
            max_log_size: 256 * 1024 * 1024,
            prog_flags: 0,
            expected_attach_type: None,
            name: String::new(),
            attach_btf_id: 0,
        }
    }
}

/// The BTF a program is loaded with ([`KernelProgram::load_with_btf`]).
#[derive(Debug, Clone, Copy)]
pub struct ProgramBtf<'a> {
    /// The loaded BTF object the records refer to ([`crate::KernelBtf`]).
    pub btf: BorrowedFd<'a>,
    /// `struct bpf_func_info` records (`insn_off, type_id`), one per function, by pc.
    pub func_info: &'a [[u32; 2]],
    /// `struct bpf_line_info` records (`insn_off, file_name_off, line_off,
    /// line << 10 | column`), by pc.
    pub line_info: &'a [[u32; 4]],
}

/// A program loaded into the kernel, owned through its file descriptor
/// (closed, and the program freed unless attached, on drop).
#[derive(Debug)]
pub struct KernelProgram {
    fd: OwnedFd,
    prog_type: ProgramType,
    log: VerifierLog,
    load_duration: Duration,
    info: sys::ProgInfo,
}

impl KernelProgram {
    /// Loads `insns` as a program of type `prog_type` under `license`.
    pub fn load(
        prog_type: ProgramType,
        insns: &[Insn],
        license: &str,
        opts: &LoadOptions,
    ) -> Result<KernelProgram, LoadError> {
        KernelProgram::load_bytes(prog_type, &ebee_isa::encode(insns), license, opts)
    }

    /// Loads a program given in the wire format (8 bytes per slot).
    pub fn load_bytes(
        prog_type: ProgramType,
        bytes: &[u8],
        license: &str,
        opts: &LoadOptions,
    ) -> Result<KernelProgram, LoadError> {
        KernelProgram::load_bytes_with_btf(prog_type, bytes, license, opts, None)
    }

    /// [`KernelProgram::load`] with the program's BTF: its function and
    /// line information, which the kernel checks and the verifier log
    /// then quotes (source lines instead of bare instruction numbers).
    pub fn load_with_btf(
        prog_type: ProgramType,
        insns: &[Insn],
        license: &str,
        opts: &LoadOptions,
        btf: &ProgramBtf<'_>,
    ) -> Result<KernelProgram, LoadError> {
        KernelProgram::load_bytes_with_btf(
            prog_type,
            &ebee_isa::encode(insns),
            license,
            opts,
            Some(btf),
        )
    }

    fn load_bytes_with_btf(
        prog_type: ProgramType,
        bytes: &[u8],
        license: &str,
        opts: &LoadOptions,
        btf: Option<&ProgramBtf<'_>>,
    ) -> Result<KernelProgram, LoadError> {
        if !bytes.len().is_multiple_of(8) {
            return Err(LoadError::InvalidInput(format!(
                "{} bytes is not a whole number of 8-byte instructions",
                bytes.len()
            )));
        }
        let license = CString::new(license)
            .map_err(|_| LoadError::InvalidInput("the license contains a NUL byte".into()))?;
        let mut attr = ProgLoadAttr {
            prog_type: prog_type.number(),
            log_level: opts.log_level.0,
            prog_flags: opts.prog_flags,
            prog_name: prog_name(&opts.name)?,
            expected_attach_type: opts.expected_attach_type.map_or(0, AttachType::number),
            prog_btf_fd: btf.map_or(0, |b| b.btf.as_raw_fd() as u32),
            attach_btf_id: opts.attach_btf_id,
            ..ProgLoadAttr::default()
        };
        let (func_info, line_info) = btf.map_or((&[][..], &[][..]), |b| (b.func_info, b.line_info));

        let mut log_size = if opts.log_level == LogLevel::NONE {
            0
        } else {
            opts.initial_log_size
                .clamp(1024, opts.max_log_size.max(1024))
        };
        let mut eagain_left = EAGAIN_RETRIES;
        loop {
            let mut log = vec![0u8; log_size];
            let start = Instant::now();
            let result = sys::prog_load_with_btf_info(
                &mut attr, bytes, &license, &mut log, func_info, line_info,
            );
            let load_duration = start.elapsed();
            match result {
                Ok(fd) => {
                    let info = sys::prog_info(fd.as_fd()).map_err(LoadError::Info)?;
                    return Ok(KernelProgram {
                        fd,
                        prog_type,
                        log: VerifierLog::from_bytes(&log, false),
                        load_duration,
                        info,
                    });
                }
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(0);
                    if errno == libc::EAGAIN && eagain_left > 0 {
                        eagain_left -= 1;
                        continue;
                    }
                    if errno == libc::ENOSPC && log_size > 0 && log_size < opts.max_log_size {
                        // The log did not fit. Kernels since 6.4 say how much
                        // it needs; older ones make us guess.
                        let needed = attr.log_true_size as usize;
                        let grown = if needed > log_size {
                            needed
                        } else {
                            log_size * 2
                        };
                        log_size = grown.min(opts.max_log_size);
                        continue;
                    }
                    let truncated = errno == libc::ENOSPC && log_size > 0;
                    return Err(LoadError::Rejected {
                        errno,
                        log: Box::new(VerifierLog::from_bytes(&log, truncated)),
                    });
                }
            }
        }
    }

    /// The program's file descriptor.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The type it was loaded as.
    pub fn prog_type(&self) -> ProgramType {
        self.prog_type
    }

    /// The verifier's log of the successful load (statistics only at the
    /// default log level).
    pub fn log(&self) -> &VerifierLog {
        &self.log
    }

    /// The verifier's statistics from its log, if the log level gave them.
    pub fn verifier_stats(&self) -> Option<&VerifierStats> {
        self.log.stats.as_ref()
    }

    /// Instructions the verifier processed, as `bpf_prog_info` reports it
    /// (0 on kernels before 5.16).
    pub fn verified_insns(&self) -> u32 {
        self.info.verified_insns
    }

    /// Wall-clock time of the successful `BPF_PROG_LOAD` call (verification,
    /// fixups and JIT compilation).
    pub fn load_duration(&self) -> Duration {
        self.load_duration
    }

    /// The kernel's id of the program.
    pub fn id(&self) -> u32 {
        self.info.id
    }

    /// The kernel's tag: a hash of the instructions before rewriting.
    pub fn tag(&self) -> [u8; 8] {
        self.info.tag
    }

    /// Size in bytes of the rewritten ("xlated") program.
    pub fn xlated_len(&self) -> u32 {
        self.info.xlated_prog_len
    }

    /// Size in bytes of the JIT-compiled code (0 when not JITed).
    pub fn jited_len(&self) -> u32 {
        self.info.jited_prog_len
    }

    /// Runs the program once or more with `BPF_PROG_TEST_RUN`.
    pub fn test_run(&self, run: &TestRun<'_>) -> Result<TestRunOutput, TestRunError> {
        crate::test_run::run(self.fd(), run)
    }
}

impl AsFd for KernelProgram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// The name as the kernel wants it: at most 15 bytes of `[A-Za-z0-9_.]`, NUL-padded.
fn prog_name(name: &str) -> Result<[u8; OBJ_NAME_LEN], LoadError> {
    let mut out = [0u8; OBJ_NAME_LEN];
    if name.len() >= OBJ_NAME_LEN {
        return Err(LoadError::InvalidInput(format!(
            "program name {name:?} is longer than {} bytes",
            OBJ_NAME_LEN - 1
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '.'))
    {
        return Err(LoadError::InvalidInput(format!(
            "program name {name:?} contains {c:?}; the kernel allows only [A-Za-z0-9_.]"
        )));
    }
    out[..name.len()].copy_from_slice(name.as_bytes());
    Ok(out)
}
