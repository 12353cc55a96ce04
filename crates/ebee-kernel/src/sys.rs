//! The raw bpf(2) system call and the attribute structures it takes.
//!
//! `union bpf_attr` in `linux/bpf.h` is one anonymous struct per command.
//! Each command gets its own `#[repr(C)]` struct here, laid out field for
//! field like the uapi header (offsets checked by the `layout` tests), and
//! implements [`Attr`], which ties it to its [`Cmd`]. [`bpf`] passes a
//! struct's own size: the kernel zero-fills the fields we do not send and
//! rejects nonzero bytes past the ones it knows, so a short struct is the
//! portable choice. New commands (map create, element operations, links)
//! slot in as one more struct and one more `impl Attr`.
//!
//! This is the only module with `unsafe`.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// A bpf(2) command number (`enum bpf_cmd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
#[allow(missing_docs)] // the names are the uapi's
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    /// Also known as `BPF_PROG_RUN`.
    ProgTestRun = 10,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    ProgQuery = 16,
    RawTracepointOpen = 17,
    BtfLoad = 18,
    BtfGetFdById = 19,
    TaskFdQuery = 20,
    MapLookupAndDeleteElem = 21,
    MapFreeze = 22,
    BtfGetNextId = 23,
    MapLookupBatch = 24,
    MapLookupAndDeleteBatch = 25,
    MapUpdateBatch = 26,
    MapDeleteBatch = 27,
    LinkCreate = 28,
    LinkUpdate = 29,
    LinkGetFdById = 30,
    LinkGetNextId = 31,
    EnableStats = 32,
    IterCreate = 33,
    LinkDetach = 34,
    ProgBindMap = 35,
    TokenCreate = 36,
}

/// An attribute structure for one bpf(2) command: `#[repr(C)]` plain data
/// laid out exactly like the command's part of `union bpf_attr`, with every
/// padding byte an explicit field (the kernel rejects nonzero bytes it does
/// not know, and we must never pass uninitialised memory).
pub trait Attr: Copy {
    /// The command this structure belongs to.
    const CMD: Cmd;
}

/// Calls bpf(2) with `attr`; returns the kernel's nonnegative result.
///
/// # Safety
///
/// Every pointer field of `attr` must be zero or point to memory valid for
/// what the kernel does with it during the call (reading `insn_cnt`
/// instructions, writing `log_size` bytes, ...).
unsafe fn bpf<A: Attr>(attr: &mut A) -> io::Result<i64> {
    // SAFETY: `A: Attr` is a fully initialised repr(C) struct laid out as
    // the kernel expects for `A::CMD`; the kernel reads and writes at most
    // `size_of::<A>()` bytes of it; the caller guarantees its pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            A::CMD as u32 as libc::c_long,
            attr as *mut A as *mut libc::c_void,
            std::mem::size_of::<A>() as libc::c_long,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as i64)
    }
}

/// Takes ownership of the file descriptor a bpf(2) command returned.
fn owned_fd(fd: i64) -> io::Result<OwnedFd> {
    let fd = i32::try_from(fd)
        .map_err(|_| io::Error::other(format!("bpf(2) returned {fd}, not a file descriptor")))?;
    // SAFETY: for fd-returning commands a nonnegative result is a fresh file
    // descriptor that nothing else owns; we take ownership exactly once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A user pointer as the kernel wants it: a `__aligned_u64`.
pub fn ptr_u64<T>(p: *const T) -> u64 {
    p as usize as u64
}

/// Length of object names (`BPF_OBJ_NAME_LEN`), including the NUL.
pub const OBJ_NAME_LEN: usize = 16;

/// `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)] // field names and meanings are the uapi's
pub struct ProgLoadAttr {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd`.
    pub attach_prog_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (Linux 6.4+): the log size the full log needs.
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub fd_array_cnt: u32,
}

// No implicit padding: size 152 is the sum of the fields (layout test).
impl Attr for ProgLoadAttr {
    const CMD: Cmd = Cmd::ProgLoad;
}

/// `BPF_PROG_TEST_RUN`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct TestRunAttr {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    /// Explicit tail padding to the struct's 8-byte alignment.
    pub _pad: u32,
}

// The tail padding is the explicit `_pad` field.
impl Attr for TestRunAttr {
    const CMD: Cmd = Cmd::ProgTestRun;
}

/// `BPF_OBJ_GET_INFO_BY_FD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct ObjInfoAttr {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}

impl Attr for ObjInfoAttr {
    const CMD: Cmd = Cmd::ObjGetInfoByFd;
}

/// `struct bpf_prog_info`, the answer of `BPF_OBJ_GET_INFO_BY_FD` for a program.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    /// When the program was loaded, ns since boot.
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub flags: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    /// Instructions the verifier processed (Linux 5.16+).
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad: u32,
}

/// `BPF_PROG_LOAD`: loads `insns` (wire format) with `license`, the
/// verifier writing its log into `log` (empty: no log).
///
/// The pointer and length fields of `attr` for instructions, license and
/// log are set from the slices; the ones for BTF function/line info, CO-RE
/// relocations and the fd array are cleared (not supported yet), so no
/// pointer reaches the kernel that this function did not take from a slice.
pub fn prog_load(
    attr: &mut ProgLoadAttr,
    insns: &[u8],
    license: &CStr,
    log: &mut [u8],
) -> io::Result<OwnedFd> {
    if !insns.len().is_multiple_of(8) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} bytes of instructions is not a multiple of 8",
                insns.len()
            ),
        ));
    }
    attr.insns = ptr_u64(insns.as_ptr());
    attr.insn_cnt = u32::try_from(insns.len() / 8)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many instructions"))?;
    attr.license = ptr_u64(license.as_ptr());
    attr.log_buf = if log.is_empty() {
        0
    } else {
        ptr_u64(log.as_mut_ptr())
    };
    attr.log_size = u32::try_from(log.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "log buffer too large"))?;
    if log.is_empty() {
        attr.log_level = 0;
    }
    attr.func_info = 0;
    attr.func_info_cnt = 0;
    attr.line_info = 0;
    attr.line_info_cnt = 0;
    attr.core_relos = 0;
    attr.core_relo_cnt = 0;
    attr.fd_array = 0;
    attr.fd_array_cnt = 0;
    // SAFETY: the only nonzero pointers are `insns` (insn_cnt * 8 readable
    // bytes), `license` (NUL-terminated) and `log_buf` (log_size writable
    // bytes), all borrowed for the duration of the call.
    let fd = unsafe { bpf(attr)? };
    owned_fd(fd)
}

/// `BPF_PROG_TEST_RUN` of the program `prog`: runs it on `data_in` (and
/// the context `ctx_in`, if any), the kernel writing the resulting packet to
/// `data_out` and context to `ctx_out`. Sizes, retval and duration come back
/// in `attr`.
pub fn prog_test_run(
    attr: &mut TestRunAttr,
    prog: BorrowedFd<'_>,
    data_in: &[u8],
    data_out: &mut [u8],
    ctx_in: &[u8],
    ctx_out: &mut [u8],
) -> io::Result<()> {
    let len = |n: usize| {
        u32::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "buffer too large"))
    };
    let ptr_or_zero = |p: *const u8, n: usize| if n == 0 { 0 } else { ptr_u64(p) };
    attr.prog_fd = prog.as_raw_fd() as u32;
    attr.data_in = ptr_or_zero(data_in.as_ptr(), data_in.len());
    attr.data_size_in = len(data_in.len())?;
    attr.data_out = ptr_or_zero(data_out.as_ptr(), data_out.len());
    attr.data_size_out = len(data_out.len())?;
    attr.ctx_in = ptr_or_zero(ctx_in.as_ptr(), ctx_in.len());
    attr.ctx_size_in = len(ctx_in.len())?;
    attr.ctx_out = ptr_or_zero(ctx_out.as_ptr(), ctx_out.len());
    attr.ctx_size_out = len(ctx_out.len())?;
    // SAFETY: each pointer is zero or comes from a slice of exactly the size
    // given next to it (readable for `*_in`, writable for `*_out`), borrowed
    // for the duration of the call.
    unsafe { bpf(attr)? };
    Ok(())
}

/// `BPF_OBJ_GET_INFO_BY_FD` for the program `fd`: its `struct bpf_prog_info`.
///
/// All pointer fields are sent as zero, so the kernel only fills counts and
/// scalars and copies nothing else out.
pub fn prog_info(fd: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    let mut info = ProgInfo::default();
    let mut attr = ObjInfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: ptr_u64(&mut info as *mut ProgInfo),
    };
    // SAFETY: `info` points at a `ProgInfo` of `info_len` bytes, plain data
    // the kernel may overwrite, with all its own pointer fields zero.
    unsafe { bpf(&mut attr)? };
    Ok(info)
}

#[cfg(test)]
mod layout {
    use super::*;
    use std::mem::{offset_of, size_of};

    // Offsets as in linux/bpf.h (checked against the installed header with
    // offsetof in C).
    #[test]
    fn prog_load() {
        assert_eq!(offset_of!(ProgLoadAttr, log_buf), 32);
        assert_eq!(offset_of!(ProgLoadAttr, prog_flags), 44);
        assert_eq!(offset_of!(ProgLoadAttr, prog_name), 48);
        assert_eq!(offset_of!(ProgLoadAttr, expected_attach_type), 68);
        assert_eq!(offset_of!(ProgLoadAttr, fd_array), 120);
        assert_eq!(offset_of!(ProgLoadAttr, core_relo_rec_size), 136);
        assert_eq!(offset_of!(ProgLoadAttr, log_true_size), 140);
        assert_eq!(size_of::<ProgLoadAttr>(), 152);
    }

    #[test]
    fn test_run() {
        assert_eq!(offset_of!(TestRunAttr, duration), 36);
        assert_eq!(offset_of!(TestRunAttr, ctx_out), 56);
        assert_eq!(offset_of!(TestRunAttr, batch_size), 72);
        assert_eq!(size_of::<TestRunAttr>(), 80);
    }

    #[test]
    fn prog_info() {
        assert_eq!(offset_of!(ProgInfo, load_time), 40);
        assert_eq!(offset_of!(ProgInfo, netns_dev), 88);
        assert_eq!(offset_of!(ProgInfo, run_time_ns), 192);
        assert_eq!(offset_of!(ProgInfo, verified_insns), 216);
        assert_eq!(size_of::<ProgInfo>(), 232);
        assert_eq!(size_of::<ObjInfoAttr>(), 16);
    }
}
