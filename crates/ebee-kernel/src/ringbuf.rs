//! Reading a `BPF_MAP_TYPE_RINGBUF` from user space, through its memory
//! mappings, the way the kernel lays them out:
//!
//! - offset 0, one page, read-write: the consumer position (`u64`), which
//!   user space advances past the records it has read;
//! - offset one page, read-only: a page with the producer position (`u64`),
//!   then the data area, mapped twice in a row so that a record that wraps
//!   around the end reads as one contiguous slice.
//!
//! Each record starts with an 8-byte header: a `u32` length whose bit 31
//! says "still being written" and bit 30 "discarded", then a `u32` page
//! offset (kernel use). Records are 8-byte aligned.

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use ebee_object::MapType;

use crate::map::{KernelMap, MapError};

const BUSY_BIT: u32 = 1 << 31;
const DISCARD_BIT: u32 = 1 << 30;
const HEADER_LEN: usize = 8;

/// One shared mapping, unmapped on drop.
struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    fn new(fd: i32, len: usize, prot: i32, offset: usize) -> std::io::Result<Mapping> {
        let offset = libc::off_t::try_from(offset)
            .map_err(|_| std::io::Error::other("ring buffer offset does not fit off_t"))?;
        // SAFETY: a fresh shared mapping of a map fd; no existing memory is
        // touched, the kernel checks the length and protection.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                libc::MAP_SHARED,
                fd,
                offset,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { ptr, len })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` are exactly what mmap returned, unmapped once;
        // no reference into the mapping outlives the reader that owns it.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// A consumer of a ring buffer map ([`KernelMap`] of type `Ringbuf`).
/// Borrows the map, so the map outlives its mappings.
pub struct RingBufReader<'m> {
    map: &'m KernelMap,
    consumer: Mapping,
    producer: Mapping,
    page_size: usize,
    data_size: usize,
}

impl std::fmt::Debug for RingBufReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufReader")
            .field("map", &self.map.name())
            .field("data_size", &self.data_size)
            .finish()
    }
}

impl<'m> RingBufReader<'m> {
    /// Maps `map`'s consumer and producer pages and data area.
    pub fn new(map: &'m KernelMap) -> Result<RingBufReader<'m>, MapError> {
        let err = |e: std::io::Error| match e.raw_os_error() {
            Some(errno) => MapError::Kernel {
                op: "mmap",
                map: map.name().to_string(),
                errno,
            },
            None => MapError::Io(e),
        };
        if map.spec().map_type != MapType::Ringbuf {
            return Err(MapError::Kernel {
                op: "ring buffer reader",
                map: map.name().to_string(),
                errno: libc::EINVAL,
            });
        }
        // SAFETY: sysconf has no memory effects.
        let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page_size = usize::try_from(page_size).unwrap_or(4096);
        let data_size = map.spec().max_entries as usize;
        if !data_size.is_power_of_two() {
            return Err(MapError::Kernel {
                op: "ring buffer reader",
                map: map.name().to_string(),
                errno: libc::EINVAL,
            });
        }
        let fd = map.as_raw_fd();
        let consumer =
            Mapping::new(fd, page_size, libc::PROT_READ | libc::PROT_WRITE, 0).map_err(err)?;
        let producer =
            Mapping::new(fd, page_size + 2 * data_size, libc::PROT_READ, page_size).map_err(err)?;
        Ok(RingBufReader {
            map,
            consumer,
            producer,
            page_size,
            data_size,
        })
    }

    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is mapped read-write for our lifetime,
        // page aligned, and the kernel keeps the position at its start.
        unsafe { &*(self.consumer.ptr as *const AtomicU64) }
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: the producer page is mapped for our lifetime, page
        // aligned, with the position at its start (read-only for us).
        unsafe { &*(self.producer.ptr as *const AtomicU64) }
    }

    /// The next complete record, copied out (`None`: nothing to read now).
    /// Discarded records are skipped.
    pub fn next_record(&mut self) -> Option<Vec<u8>> {
        let mask = self.data_size as u64 - 1;
        loop {
            let cons = self.consumer_pos().load(Ordering::Acquire);
            let prod = self.producer_pos().load(Ordering::Acquire);
            if cons >= prod {
                return None;
            }
            let off = (cons & mask) as usize;
            // SAFETY: the data area starts a page into the producer mapping
            // and is mapped twice (2 * data_size bytes), so `off + 8`
            // (off < data_size) is inside it; headers are 8-byte aligned.
            let header = unsafe {
                let base = (self.producer.ptr as *const u8).add(self.page_size);
                &*(base.add(off) as *const AtomicU32)
            };
            let len_word = header.load(Ordering::Acquire);
            if len_word & BUSY_BIT != 0 {
                return None; // the producer has not committed it yet
            }
            let len = (len_word & !(BUSY_BIT | DISCARD_BIT)) as usize;
            if len > self.data_size {
                return None; // cannot happen with a sane kernel; never read past the mapping
            }
            let record = if len_word & DISCARD_BIT == 0 {
                // SAFETY: off < data_size and len <= data_size, so
                // [off + 8, off + 8 + len) lies within the double mapping
                // of 2 * data_size bytes; the producer is done with it.
                let bytes = unsafe {
                    let base =
                        (self.producer.ptr as *const u8).add(self.page_size + off + HEADER_LEN);
                    std::slice::from_raw_parts(base, len)
                };
                Some(bytes.to_vec())
            } else {
                None
            };
            let next = cons + (len + HEADER_LEN).div_ceil(8) as u64 * 8;
            self.consumer_pos().store(next, Ordering::Release);
            if record.is_some() {
                return record;
            }
        }
    }

    /// Every record available now.
    pub fn drain(&mut self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.next_record()).collect()
    }
}
