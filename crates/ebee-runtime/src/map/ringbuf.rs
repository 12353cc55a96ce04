//! `ringbuf`: records from programs to the host, in the kernel's layout.
//!
//! The data area is `max_entries` bytes (a power of two, a multiple of the
//! page size). Each record is an 8-byte header then the sample, padded to
//! 8 bytes:
//!
//! - header bytes 0..4: the sample length, with [`BUSY_BIT`] set while
//!   the program still holds the record and [`DISCARD_BIT`] set if it
//!   discarded it;
//! - header bytes 4..8: the header's page offset, as the kernel computes
//!   it (pages from the start of its `struct bpf_ringbuf`, whose data area
//!   begins after [`META_PAGES`] pages), so a program that reads its own
//!   header sees the kernel's value.
//!
//! Positions are free-running byte counters: the producer position
//! advances at reserve (under a lock, like the kernel's spinlock), the
//! consumer position when the host consumes. A reserve fails when the
//! producer would get more than the data size ahead of the consumer.
//!
//! The kernel maps the data pages twice in a row so that a record that
//! wraps around the end is contiguous; we allocate twice the data size
//! instead: a record is written and read at the same place, past the end
//! if it wraps, so programs get one contiguous sample and the consumer
//! reads it where it was written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{errno, Errno, MapError, MapSpec, ValuePtr, BPF_F_NUMA_NODE};

/// The header's length bit saying the record is still being written.
pub const BUSY_BIT: u32 = 1 << 31;
/// The header's length bit saying the record was discarded.
pub const DISCARD_BIT: u32 = 1 << 30;
/// Bytes of a record header.
pub const HEADER_SIZE: usize = 8;
/// The page size the ring buffer sizes are checked against.
pub const PAGE_SIZE: u32 = 4096;
/// Pages of the kernel's `struct bpf_ringbuf` before the data: its
/// private part, the consumer page and the producer page.
pub const META_PAGES: u32 = 3;
/// The largest sample (`RINGBUF_MAX_RECORD_SZ`).
const MAX_RECORD_SIZE: u64 = (u32::MAX / 4) as u64;

/// `bpf_ringbuf_output`/`submit`/`discard` flag: no notification.
pub const BPF_RB_NO_WAKEUP: u64 = 1;
/// Flag: notify the consumer even if it would not be.
pub const BPF_RB_FORCE_WAKEUP: u64 = 2;

/// `bpf_ringbuf_query` flag: bytes produced and not consumed.
pub const BPF_RB_AVAIL_DATA: u64 = 0;
/// `bpf_ringbuf_query` flag: the data size.
pub const BPF_RB_RING_SIZE: u64 = 1;
/// `bpf_ringbuf_query` flag: the consumer position.
pub const BPF_RB_CONS_POS: u64 = 2;
/// `bpf_ringbuf_query` flag: the producer position.
pub const BPF_RB_PROD_POS: u64 = 3;

/// A ring buffer map's data and positions.
#[derive(Debug)]
pub struct RingBuf {
    /// The map's name, for errors.
    name: Arc<str>,
    size: u64,
    /// Twice the data size, as 8-byte words.
    data: Box<[AtomicU64]>,
    consumer_pos: AtomicU64,
    producer_pos: AtomicU64,
    /// Serializes producers (the kernel's `rb->spinlock`).
    reserve_lock: Mutex<()>,
    /// Commits notify a waiting consumer ([`RingBuf::wait`]): a counter of
    /// notifications and its condition variable.
    wakeups: Mutex<u64>,
    wakeup: Condvar,
}

fn header(len: u32, pg_off: u32) -> u64 {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&len.to_ne_bytes());
    b[4..].copy_from_slice(&pg_off.to_ne_bytes());
    u64::from_ne_bytes(b)
}

fn header_len(word: u64) -> u32 {
    let b = word.to_ne_bytes();
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

impl RingBuf {
    /// `ringbuf_map_alloc`'s checks and the allocation.
    pub(super) fn new(spec: &MapSpec) -> Result<RingBuf, MapError> {
        let fail = |errno| MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno,
        };
        if spec.flags & !BPF_F_NUMA_NODE != 0
            || spec.key_size != 0
            || spec.value_size != 0
            || !spec.max_entries.is_power_of_two()
            || !spec.max_entries.is_multiple_of(PAGE_SIZE)
        {
            return Err(fail(errno::EINVAL));
        }
        let size = u64::from(spec.max_entries);
        Ok(RingBuf {
            name: spec.name.as_str().into(),
            size,
            data: (0..2 * size / 8).map(|_| AtomicU64::new(0)).collect(),
            consumer_pos: AtomicU64::new(0),
            producer_pos: AtomicU64::new(0),
            reserve_lock: Mutex::new(()),
            wakeups: Mutex::new(0),
            wakeup: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.reserve_lock.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> *mut u8 {
        self.data[0].as_ptr().cast::<u8>()
    }

    /// The data size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// For programs (`bpf_ringbuf_reserve`): room for a `size`-byte
    /// sample, or `None` when it does not fit (or `flags` is not 0). The
    /// program fills it, then calls [`RingBuf::submit`] or
    /// [`RingBuf::discard`] with its address.
    pub fn reserve(&self, size: u64, flags: u64) -> Option<ValuePtr> {
        if flags != 0 || size > MAX_RECORD_SIZE {
            return None;
        }
        let len = (size + HEADER_SIZE as u64).div_ceil(8) * 8;
        let _guard = self.lock();
        let cons = self.consumer_pos.load(Ordering::Acquire);
        let prod = self.producer_pos.load(Ordering::Relaxed);
        let new_prod = prod + len;
        if new_prod - cons > self.size - 1 {
            return None;
        }
        let off = prod & (self.size - 1);
        let pg_off = META_PAGES + (off / u64::from(PAGE_SIZE)) as u32;
        self.data[(off / 8) as usize]
            .store(header(size as u32 | BUSY_BIT, pg_off), Ordering::Relaxed);
        self.producer_pos.store(new_prod, Ordering::Release);
        // SAFETY: `off + HEADER_SIZE + size <= off + len <= 2 * size` stays
        // inside `data` (off < size and len < size), so the pointer is in
        // bounds of the allocation.
        let ptr = unsafe { self.base().add(off as usize + HEADER_SIZE) };
        Some(ValuePtr {
            ptr,
            len: size as usize,
        })
    }

    /// The header word of the busy record whose sample is at `sample`.
    /// (Any 8-aligned data position whose word has the busy bit passes:
    /// memory stays safe, and a verified program only commits what it
    /// reserved.)
    fn busy_header(&self, sample: *mut u8) -> Result<&AtomicU64, Errno> {
        let off = (sample as usize)
            .checked_sub(self.base() as usize + HEADER_SIZE)
            .ok_or(errno::EINVAL)?;
        if !off.is_multiple_of(8) || off as u64 >= self.size {
            return Err(errno::EINVAL);
        }
        let word = &self.data[off / 8];
        if header_len(word.load(Ordering::Relaxed)) & BUSY_BIT == 0 {
            return Err(errno::EINVAL);
        }
        Ok(word)
    }

    fn commit(&self, sample: *mut u8, discard: bool, flags: u64) -> Result<(), Errno> {
        let word = self.busy_header(sample)?;
        let old = word.load(Ordering::Relaxed);
        let b = old.to_ne_bytes();
        let mut len = header_len(old) & !BUSY_BIT;
        if discard {
            len |= DISCARD_BIT;
        }
        let pg_off = u32::from_ne_bytes([b[4], b[5], b[6], b[7]]);
        word.store(header(len, pg_off), Ordering::Release);
        if flags & BPF_RB_NO_WAKEUP == 0 {
            let mut n = self.wakeups.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            self.wakeup.notify_all();
        }
        Ok(())
    }

    /// Is the record at the consumer position complete (submitted or
    /// discarded)?
    fn record_ready(&self) -> bool {
        let cons = self.consumer_pos.load(Ordering::Acquire);
        if cons >= self.producer_pos.load(Ordering::Acquire) {
            return false;
        }
        let off = cons & (self.size - 1);
        header_len(self.data[(off / 8) as usize].load(Ordering::Acquire)) & BUSY_BIT == 0
    }

    /// The host's `epoll_wait`: blocks until a complete record is waiting
    /// or `timeout` passes; `true` if one is. Commits with
    /// [`BPF_RB_NO_WAKEUP`] do not wake the consumer (the record is seen
    /// at the next wakeup or poll), as in the kernel; every other commit
    /// does (the kernel skips some wakeups when the consumer is behind,
    /// which only saves work).
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self.wakeups.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.record_ready() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = self
                .wakeup
                .wait_timeout(n, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// For programs (`bpf_ringbuf_submit`): the record at `sample` (from
    /// [`RingBuf::reserve`]) is complete. `EINVAL` if `sample` is not a
    /// reserved, uncommitted sample of this ring buffer.
    pub fn submit(&self, sample: *mut u8, flags: u64) -> Result<(), MapError> {
        self.commit(sample, false, flags)
            .map_err(|e| self.err("submit", e))
    }

    /// For programs (`bpf_ringbuf_discard`): the consumer skips the record.
    pub fn discard(&self, sample: *mut u8, flags: u64) -> Result<(), MapError> {
        self.commit(sample, true, flags)
            .map_err(|e| self.err("discard", e))
    }

    /// For programs (`bpf_ringbuf_output`): one record holding `data`;
    /// `EINVAL` for unknown flags, `EAGAIN` when it does not fit (the
    /// kernel's answers).
    pub fn output(&self, data: &[u8], flags: u64) -> Result<(), MapError> {
        if flags & !(BPF_RB_NO_WAKEUP | BPF_RB_FORCE_WAKEUP) != 0 {
            return Err(self.err("output", errno::EINVAL));
        }
        let Some(sample) = self.reserve(data.len() as u64, 0) else {
            return Err(self.err("output", errno::EAGAIN));
        };
        // SAFETY: `reserve` gave `data.len()` writable bytes at
        // `sample.ptr`, which no one else writes until the commit below.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), sample.ptr, data.len()) };
        self.commit(sample.ptr, false, flags)
            .map_err(|e| self.err("output", e))
    }

    /// For programs (`bpf_ringbuf_query`).
    pub fn query(&self, flags: u64) -> u64 {
        let cons = self.consumer_pos.load(Ordering::Acquire);
        let prod = self.producer_pos.load(Ordering::Acquire);
        match flags {
            BPF_RB_AVAIL_DATA => prod - cons,
            BPF_RB_RING_SIZE => self.size,
            BPF_RB_CONS_POS => cons,
            BPF_RB_PROD_POS => prod,
            _ => 0,
        }
    }

    /// The host's consumer: calls `f` with each submitted sample in order,
    /// skipping discarded ones, up to the first record still being written;
    /// returns how many samples `f` saw.
    pub fn consume(&self, mut f: impl FnMut(&[u8])) -> usize {
        let mut seen = 0;
        let mut cons = self.consumer_pos.load(Ordering::Acquire);
        let mut sample = Vec::new();
        loop {
            let prod = self.producer_pos.load(Ordering::Acquire);
            if cons >= prod {
                break;
            }
            let off = cons & (self.size - 1);
            let word = self.data[(off / 8) as usize].load(Ordering::Acquire);
            let len = header_len(word);
            if len & BUSY_BIT != 0 {
                break;
            }
            let size = (len & !DISCARD_BIT) as usize;
            if size + HEADER_SIZE > self.size as usize {
                // Not a header a producer wrote (only a program writing
                // outside its sample can do that): stop rather than read
                // past the buffer.
                break;
            }
            if len & DISCARD_BIT == 0 {
                sample.clear();
                let first = (off as usize + HEADER_SIZE) / 8;
                for w in &self.data[first..first + size.div_ceil(8)] {
                    sample.extend_from_slice(&w.load(Ordering::Relaxed).to_ne_bytes());
                }
                sample.truncate(size);
                f(&sample);
                seen += 1;
            }
            cons += (size + HEADER_SIZE).div_ceil(8) as u64 * 8;
            self.consumer_pos.store(cons, Ordering::Release);
        }
        seen
    }

    /// The raw record header at data offset `off` (8-aligned, below the
    /// size): what a consumer mapping the buffer reads.
    pub fn header_at(&self, off: u64) -> Option<(u32, u32)> {
        if !off.is_multiple_of(8) || off >= self.size {
            return None;
        }
        let b = self.data[(off / 8) as usize]
            .load(Ordering::Acquire)
            .to_ne_bytes();
        Some((
            u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
        ))
    }
}

impl RingBuf {
    fn err(&self, op: &'static str, errno: Errno) -> MapError {
        MapError::Errno {
            op,
            map_type: super::MapType::Ringbuf,
            map: self.name.clone(),
            errno,
        }
    }
}
