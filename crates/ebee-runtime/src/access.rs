//! The two execution modes as a compile-time policy: the interpreter is
//! generic over [`Access`] and monomorphized twice, so the semantics are
//! written once and neither mode pays a run-time branch on the mode.

use crate::region::MemoryRegions;

/// Whether a memory access may proceed.
pub(crate) trait Access {
    /// Whether `size` bytes at `addr` may be read (or written).
    fn allows(regions: &mut MemoryRegions, addr: u64, size: u64, write: bool) -> bool;
}

/// Checked mode: every access must fall inside a region.
pub(crate) struct Checked;

impl Access for Checked {
    #[inline(always)]
    fn allows(regions: &mut MemoryRegions, addr: u64, size: u64, write: bool) -> bool {
        regions.allows(addr, size, write)
    }
}

/// Unchecked mode: the verifier proved every access safe.
pub(crate) struct Unchecked;

impl Access for Unchecked {
    #[inline(always)]
    fn allows(_: &mut MemoryRegions, _: u64, _: u64, _: bool) -> bool {
        true
    }
}
