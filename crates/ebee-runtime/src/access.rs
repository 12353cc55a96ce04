//! The two execution modes as a compile-time policy: the interpreter is
//! generic over [`Access`] and monomorphized twice, so the semantics are
//! written once and neither mode pays a run-time branch on the mode.

use crate::region::MemoryRegions;

/// Whether a memory access may proceed.
pub(crate) trait Access {
    /// Whether `size` bytes at `addr` may be read (or written).
    fn allows(regions: &mut MemoryRegions, addr: u64, size: u64, write: bool) -> bool;

    /// Whether `size` bytes at `addr` lie inside the live stack, which
    /// starts at `lo` and is `len` bytes long (it is writable): checked
    /// before [`Access::allows`], whose one-entry cache a program
    /// alternating between its stack and another region would miss on
    /// every access.
    fn in_stack(lo: u64, len: u64, addr: u64, size: u64) -> bool;
}

/// Checked mode: every access must fall inside a region.
pub(crate) struct Checked;

impl Access for Checked {
    #[inline(always)]
    fn allows(regions: &mut MemoryRegions, addr: u64, size: u64, write: bool) -> bool {
        regions.allows(addr, size, write)
    }

    #[inline(always)]
    fn in_stack(lo: u64, len: u64, addr: u64, size: u64) -> bool {
        // As `Region::contains`.
        let off = addr.wrapping_sub(lo);
        off < len && size <= len - off
    }
}

/// Unchecked mode: the verifier proved every access safe.
pub(crate) struct Unchecked;

impl Access for Unchecked {
    #[inline(always)]
    fn allows(_: &mut MemoryRegions, _: u64, _: u64, _: bool) -> bool {
        true
    }

    #[inline(always)]
    fn in_stack(_: u64, _: u64, _: u64, _: u64) -> bool {
        true
    }
}
