//! The raw bpf(2) system call and the attribute structures it takes.
//!
//! `union bpf_attr` in `linux/bpf.h` is one anonymous struct per command.
//! Each command gets its own `#[repr(C)]` struct here, laid out field for
//! field like the uapi header (offsets checked by the `layout` tests), and
//! implements [`Attr`], which ties it to its [`Cmd`]. `bpf()` passes a
//! struct's own size: the kernel zero-fills the fields we do not send and
//! rejects nonzero bytes past the ones it knows, so a short struct is the
//! portable choice. A new command slots in as one more struct and one more
//! `impl Attr`; the map element commands share [`MapElemAttr`].
//!
//! This and [`crate::ringbuf`] (shared memory of ring buffers) are the
//! only modules with `unsafe`.

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
    // SAFETY: the caller's guarantee, for the command `A` belongs to.
    unsafe { bpf_cmd(A::CMD, attr) }
}

/// Calls bpf(2) with command `cmd` and `attr`, for the structures several
/// commands share (the element operations all take [`MapElemAttr`]).
///
/// # Safety
///
/// `attr` must be a fully initialised `#[repr(C)]` structure laid out as
/// the kernel expects for `cmd`, and every pointer field must be zero or
/// valid for what the kernel does with it during the call.
unsafe fn bpf_cmd<A: Copy>(cmd: Cmd, attr: &mut A) -> io::Result<i64> {
    // SAFETY: `attr` is a fully initialised repr(C) struct laid out as the
    // kernel expects for `cmd`; the kernel reads and writes at most
    // `size_of::<A>()` bytes of it; the caller guarantees its pointers.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd as u32 as libc::c_long,
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
/// relocations and the fd array are cleared, so no pointer reaches the
/// kernel that this function did not take from a slice.
pub fn prog_load(
    attr: &mut ProgLoadAttr,
    insns: &[u8],
    license: &CStr,
    log: &mut [u8],
) -> io::Result<OwnedFd> {
    prog_load_with_btf_info(attr, insns, license, log, &[], &[])
}

/// [`prog_load`] with BTF function and line information: `func_info`
/// records are `struct bpf_func_info` (`insn_off, type_id`), `line_info`
/// records `struct bpf_line_info` (`insn_off, file_name_off, line_off,
/// line_col`), both referring to the BTF object `attr.prog_btf_fd`.
/// Empty slices send none.
pub fn prog_load_with_btf_info(
    attr: &mut ProgLoadAttr,
    insns: &[u8],
    license: &CStr,
    log: &mut [u8],
    func_info: &[[u32; 2]],
    line_info: &[[u32; 4]],
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
    let count = |n: usize, what: &str| {
        u32::try_from(n)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("too many {what}")))
    };
    attr.insns = ptr_u64(insns.as_ptr());
    attr.insn_cnt = count(insns.len() / 8, "instructions")?;
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
    if func_info.is_empty() {
        attr.func_info = 0;
        attr.func_info_cnt = 0;
        attr.func_info_rec_size = 0;
    } else {
        attr.func_info = ptr_u64(func_info.as_ptr());
        attr.func_info_cnt = count(func_info.len(), "func_info records")?;
        attr.func_info_rec_size = std::mem::size_of::<[u32; 2]>() as u32;
    }
    if line_info.is_empty() {
        attr.line_info = 0;
        attr.line_info_cnt = 0;
        attr.line_info_rec_size = 0;
    } else {
        attr.line_info = ptr_u64(line_info.as_ptr());
        attr.line_info_cnt = count(line_info.len(), "line_info records")?;
        attr.line_info_rec_size = std::mem::size_of::<[u32; 4]>() as u32;
    }
    attr.core_relos = 0;
    attr.core_relo_cnt = 0;
    attr.fd_array = 0;
    attr.fd_array_cnt = 0;
    // SAFETY: the only nonzero pointers are `insns` (insn_cnt * 8 readable
    // bytes), `license` (NUL-terminated), `log_buf` (log_size writable
    // bytes), `func_info` and `line_info` (cnt records of rec_size readable
    // bytes each), all borrowed for the duration of the call.
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

/// `BPF_MAP_CREATE` (up to `map_extra`; later fields stay zero).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct MapCreateAttr {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
}

// No implicit padding: `map_extra` sits at 64, its natural alignment.
impl Attr for MapCreateAttr {
    const CMD: Cmd = Cmd::MapCreate;
}

/// The element commands' part of `union bpf_attr`: `BPF_MAP_LOOKUP_ELEM`,
/// `UPDATE_ELEM`, `DELETE_ELEM`, `GET_NEXT_KEY` (`value` is `next_key`
/// there), `LOOKUP_AND_DELETE_ELEM`, and `BPF_MAP_FREEZE` (only `map_fd`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct MapElemAttr {
    pub map_fd: u32,
    /// Explicit padding before the 8-byte aligned `key`.
    pub _pad: u32,
    pub key: u64,
    /// `value`, or `next_key` for `BPF_MAP_GET_NEXT_KEY`.
    pub value: u64,
    pub flags: u64,
}

/// `BPF_BTF_LOAD`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct BtfLoadAttr {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    /// Output (Linux 6.4+): the log size the full log needs.
    pub btf_log_true_size: u32,
}

impl Attr for BtfLoadAttr {
    const CMD: Cmd = Cmd::BtfLoad;
}

/// `BPF_MAP_CREATE`: creates a map as `attr` describes (it holds no
/// pointers: the inner map and BTF are file descriptors).
pub fn map_create(attr: &mut MapCreateAttr) -> io::Result<OwnedFd> {
    // SAFETY: `MapCreateAttr` has no pointer fields.
    let fd = unsafe { bpf(attr)? };
    owned_fd(fd)
}

/// A null pointer or the start of `buf`, as the element commands take
/// keys and values (queues, stacks and bloom filters have no key).
fn buf_ptr(buf: Option<&[u8]>) -> u64 {
    buf.map_or(0, |b| ptr_u64(b.as_ptr()))
}

/// `BPF_MAP_UPDATE_ELEM` with `flags` (`BPF_ANY`, `BPF_NOEXIST`,
/// `BPF_EXIST`, `BPF_F_LOCK`).
///
/// The caller must pass `key` of exactly the map's key size (`None` for
/// maps without keys) and `value` of the map's value size (per-CPU maps:
/// the whole per-CPU buffer): the kernel reads that many bytes.
/// [`crate::KernelMap`] checks both.
pub fn map_update(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    value: &[u8],
    flags: u64,
) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: buf_ptr(key),
        value: ptr_u64(value.as_ptr()),
        flags,
        ..MapElemAttr::default()
    };
    // SAFETY: `key` and `value` are borrowed slices the caller sized to the
    // map's key and value sizes (checked in KernelMap); the kernel only
    // reads them during the call.
    unsafe { bpf_cmd(Cmd::MapUpdateElem, &mut attr)? };
    Ok(())
}

/// `BPF_MAP_LOOKUP_ELEM` (or `BPF_MAP_LOOKUP_AND_DELETE_ELEM` when
/// `and_delete`): the kernel writes the value into `value`, which the
/// caller must size to the map's (per-CPU: whole buffer) value size.
pub fn map_lookup(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    value: &mut [u8],
    flags: u64,
    and_delete: bool,
) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: buf_ptr(key),
        value: ptr_u64(value.as_mut_ptr()),
        flags,
        ..MapElemAttr::default()
    };
    let cmd = if and_delete {
        Cmd::MapLookupAndDeleteElem
    } else {
        Cmd::MapLookupElem
    };
    // SAFETY: `key` is a borrowed slice of the map's key size (read) and
    // `value` one of its value size (written), checked by the caller.
    unsafe { bpf_cmd(cmd, &mut attr)? };
    Ok(())
}

/// `BPF_MAP_DELETE_ELEM` of `key` (exactly the map's key size).
pub fn map_delete(map: BorrowedFd<'_>, key: &[u8]) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: ptr_u64(key.as_ptr()),
        ..MapElemAttr::default()
    };
    // SAFETY: `key` is a borrowed slice of the map's key size, only read.
    unsafe { bpf_cmd(Cmd::MapDeleteElem, &mut attr)? };
    Ok(())
}

/// `BPF_MAP_GET_NEXT_KEY`: the key after `key` (`None`: the first) is
/// written to `next_key`; both have the map's key size.
pub fn map_next_key(
    map: BorrowedFd<'_>,
    key: Option<&[u8]>,
    next_key: &mut [u8],
) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        key: buf_ptr(key),
        value: ptr_u64(next_key.as_mut_ptr()),
        ..MapElemAttr::default()
    };
    // SAFETY: `key` (read) and `next_key` (written) are borrowed slices of
    // the map's key size, checked by the caller.
    unsafe { bpf_cmd(Cmd::MapGetNextKey, &mut attr)? };
    Ok(())
}

/// `BPF_MAP_FREEZE`: programs keep their access, user space loses write access.
pub fn map_freeze(map: BorrowedFd<'_>) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: map.as_raw_fd() as u32,
        ..MapElemAttr::default()
    };
    // SAFETY: no pointer fields are set.
    unsafe { bpf_cmd(Cmd::MapFreeze, &mut attr)? };
    Ok(())
}

/// `BPF_BTF_LOAD` of `btf` (the wire format), the kernel's BTF checker
/// writing its log into `log` (empty: no log; then `attr.btf_log_level`
/// is forced to 0). Returns the BTF object's fd.
pub fn btf_load(attr: &mut BtfLoadAttr, btf: &[u8], log: &mut [u8]) -> io::Result<OwnedFd> {
    attr.btf = ptr_u64(btf.as_ptr());
    attr.btf_size = u32::try_from(btf.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "BTF too large"))?;
    attr.btf_log_size = u32::try_from(log.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "log buffer too large"))?;
    if log.is_empty() {
        attr.btf_log_buf = 0;
        attr.btf_log_level = 0;
    } else {
        attr.btf_log_buf = ptr_u64(log.as_mut_ptr());
    }
    // SAFETY: `btf` is btf_size readable bytes and `btf_log_buf` is zero or
    // btf_log_size writable bytes, both borrowed for the call.
    let fd = unsafe { bpf(attr)? };
    owned_fd(fd)
}

/// `struct bpf_map_info`, the answer of `BPF_OBJ_GET_INFO_BY_FD` for a map.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
#[allow(missing_docs)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    /// The uapi's alignment pad.
    pub _pad: u32,
    pub map_extra: u64,
}

/// `BPF_OBJ_GET_INFO_BY_FD` for the map `fd`: its `struct bpf_map_info`
/// (plain data, no pointers).
pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<MapInfo> {
    let mut info = MapInfo::default();
    let mut attr = ObjInfoAttr {
        bpf_fd: fd.as_raw_fd() as u32,
        info_len: std::mem::size_of::<MapInfo>() as u32,
        info: ptr_u64(&mut info as *mut MapInfo),
    };
    // SAFETY: `info` points at a `MapInfo` of `info_len` writable bytes,
    // plain data without pointer fields.
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

    #[test]
    fn maps_and_btf() {
        assert_eq!(offset_of!(MapCreateAttr, map_name), 28);
        assert_eq!(offset_of!(MapCreateAttr, btf_fd), 48);
        assert_eq!(offset_of!(MapCreateAttr, map_extra), 64);
        assert_eq!(size_of::<MapCreateAttr>(), 72);
        assert_eq!(offset_of!(MapElemAttr, key), 8);
        assert_eq!(offset_of!(MapElemAttr, flags), 24);
        assert_eq!(size_of::<MapElemAttr>(), 32);
        assert_eq!(offset_of!(BtfLoadAttr, btf_log_level), 24);
        assert_eq!(size_of::<BtfLoadAttr>(), 32);
        assert_eq!(offset_of!(MapInfo, name), 24);
        assert_eq!(offset_of!(MapInfo, netns_dev), 48);
        assert_eq!(offset_of!(MapInfo, btf_id), 64);
        assert_eq!(offset_of!(MapInfo, map_extra), 80);
        assert_eq!(size_of::<MapInfo>(), 88);
    }
}
