//! [`LowFrame`]: packet memory in the low 4 GiB of the address space.
//!
//! XDP's `struct xdp_md` and `struct __sk_buff` hand the program its
//! packet as 32-bit fields (`data`, `data_end`, `data_meta`) that it loads
//! with 32-bit loads and then dereferences. The kernel's verifier rewrites
//! those loads into 64-bit pointer loads; we do not rewrite the program.
//! Instead the packet lives in memory whose addresses fit in 32 bits, so
//! the value a 32-bit load zero-extends IS the packet's address, for the
//! interpreter and the JIT alike, checked or not. On x86-64 the frame is
//! mapped with `MAP_32BIT` (the low 2 GiB); elsewhere with address hints
//! below 4 GiB, and refused if the kernel places it higher.

use std::io;

/// A zeroed, page-aligned, read-write mapping whose every byte has an
/// address below 2^32.
#[derive(Debug)]
pub struct LowFrame {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is plain memory owned by the frame; it is only
// reached through `&self`/`&mut self` (or by a program run the owner
// starts), so moving or sharing the owner between threads is sound.
unsafe impl Send for LowFrame {}
// SAFETY: as above; `&LowFrame` gives only reads.
unsafe impl Sync for LowFrame {}

impl LowFrame {
    /// Maps `len` bytes (rounded up to whole pages, at least one page).
    pub fn new(len: usize) -> io::Result<LowFrame> {
        let page = 4096usize;
        let len = len.max(1).div_ceil(page) * page;
        let ptr = map_low(len)?;
        Ok(LowFrame { ptr, len })
    }

    /// The address of the first byte (below 2^32).
    pub fn addr(&self) -> u64 {
        self.ptr as u64
    }

    /// The size of the mapping.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is empty (never: at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole mapping.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes owned by
        // `self`; no program runs while `self` is borrowed this way (runs
        // take `&mut self` of the owner).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    /// The whole mapping, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, and `&mut self` makes this the only view.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl Drop for LowFrame {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly the mapping `map_low` made, and
        // nothing refers to it after drop.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn fits_low(p: *mut libc::c_void, len: usize) -> bool {
    p != libc::MAP_FAILED && (p as u64).saturating_add(len as u64) <= 1 << 32
}

#[cfg(target_arch = "x86_64")]
fn map_low(len: usize) -> io::Result<*mut u8> {
    // SAFETY: an anonymous private mapping with no address requirement
    // beyond MAP_32BIT; the result is checked.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    if !fits_low(p, len) {
        // SAFETY: unmapping what we just mapped.
        unsafe { libc::munmap(p, len) };
        return Err(io::Error::other("mmap(MAP_32BIT) returned a high address"));
    }
    Ok(p.cast())
}

#[cfg(not(target_arch = "x86_64"))]
fn map_low(len: usize) -> io::Result<*mut u8> {
    // Try hints from 256 MiB up in 64 MiB steps.
    for i in 0..56u64 {
        let hint = ((256 + 64 * i) << 20) as *mut libc::c_void;
        // SAFETY: an anonymous private mapping at a hint (not MAP_FIXED,
        // so nothing existing is replaced); the result is checked.
        let p = unsafe {
            libc::mmap(
                hint,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if fits_low(p, len) {
            return Ok(p.cast());
        }
        if p != libc::MAP_FAILED {
            // SAFETY: unmapping what we just mapped.
            unsafe { libc::munmap(p, len) };
        }
    }
    Err(io::Error::other("no memory below 4 GiB for packets"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_low_zeroed_and_writable() {
        let mut f = LowFrame::new(5000).unwrap();
        assert_eq!(f.len(), 8192);
        assert!(f.addr() + f.len() as u64 <= 1 << 32);
        assert!(f.bytes().iter().all(|&b| b == 0));
        f.bytes_mut()[8191] = 7;
        assert_eq!(f.bytes()[8191], 7);
    }
}
