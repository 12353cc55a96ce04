//! `perf_event_array`: records from programs to the host through
//! per-CPU perf buffers, in the kernel's perf record layout.
//!
//! In the kernel each slot of the array holds a perf event (a
//! `PERF_COUNT_SW_BPF_OUTPUT` event opened by user space on one CPU, with
//! an mmap()ed ring); `bpf_perf_event_output` writes a `PERF_RECORD_SAMPLE`
//! carrying `PERF_SAMPLE_RAW` data into the ring of the slot its flags
//! name. The runtime has no perf events: the host opens a [`PerfBuffer`]
//! in a slot ([`PerfEventArray::open`], the `perf_event_open` + map update
//! of user space) and reads its records ([`PerfBuffer::read`]).
//!
//! A record is, as in the kernel's ring (`struct perf_event_header` then
//! the sample):
//!
//! - `u32 type` ([`PERF_RECORD_SAMPLE`]), `u16 misc` (0), `u16 size` (the
//!   whole record, a multiple of 8);
//! - `u32 raw size` then the raw data, zero-padded so that the size field
//!   and the data together are a multiple of 8 (`perf_prepare_sample`).
//!
//! A sample that does not fit the buffer's free space is lost: the helper
//! returns `-ENOSPC` and the buffer counts it; before the next sample that
//! fits, a [`PERF_RECORD_LOST`] record (`u64 id`, `u64 lost`) reports the
//! count, as the kernel does. `id` is 0 here (there is no perf event id).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::prog_array::HandleArray;
use super::{errno, Errno};

/// `PERF_RECORD_SAMPLE`.
pub const PERF_RECORD_SAMPLE: u32 = 9;
/// `PERF_RECORD_LOST`.
pub const PERF_RECORD_LOST: u32 = 2;
/// Bytes of `struct perf_event_header`.
pub const PERF_HEADER_SIZE: usize = 8;
/// `BPF_F_INDEX_MASK`: the low 32 bits of the helper's flags name the slot.
pub const BPF_F_INDEX_MASK: u64 = 0xffff_ffff;
/// `BPF_F_CURRENT_CPU`: the slot of the CPU the program runs on.
pub const BPF_F_CURRENT_CPU: u64 = BPF_F_INDEX_MASK;
/// The page size buffer sizes are counted in.
pub const PAGE_SIZE: usize = 4096;
/// The largest record (`size` is a `u16`).
const MAX_RECORD: usize = u16::MAX as usize & !7;

/// One record read from a [`PerfBuffer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerfRecord {
    /// A program's sample: the raw data with its padding (the kernel's
    /// raw size rounds up so the record is 8-aligned).
    Sample(Vec<u8>),
    /// This many samples were lost for want of room.
    Lost(u64),
}

#[derive(Debug, Default)]
struct Ring {
    /// Whole records in the kernel's byte layout, oldest first.
    records: VecDeque<Vec<u8>>,
    bytes: usize,
    lost: u64,
}

/// The buffer of one slot: what the kernel's perf ring for one event is.
#[derive(Debug)]
pub struct PerfBuffer {
    capacity: usize,
    ring: Mutex<Ring>,
}

/// The bytes of a `PERF_RECORD_SAMPLE` with raw `data`.
fn sample_record(data: &[u8]) -> Vec<u8> {
    let raw_size = (data.len() + 4).div_ceil(8) * 8 - 4;
    let size = PERF_HEADER_SIZE + 4 + raw_size;
    let mut r = Vec::with_capacity(size);
    r.extend_from_slice(&PERF_RECORD_SAMPLE.to_ne_bytes());
    r.extend_from_slice(&0u16.to_ne_bytes());
    r.extend_from_slice(&(size as u16).to_ne_bytes());
    r.extend_from_slice(&(raw_size as u32).to_ne_bytes());
    r.extend_from_slice(data);
    r.resize(size, 0);
    r
}

fn lost_record(lost: u64) -> Vec<u8> {
    let mut r = Vec::with_capacity(24);
    r.extend_from_slice(&PERF_RECORD_LOST.to_ne_bytes());
    r.extend_from_slice(&0u16.to_ne_bytes());
    r.extend_from_slice(&24u16.to_ne_bytes());
    r.extend_from_slice(&0u64.to_ne_bytes());
    r.extend_from_slice(&lost.to_ne_bytes());
    r
}

impl PerfBuffer {
    /// A buffer of `pages` data pages (a power of two, at least 1, like
    /// the data area of a perf mmap).
    pub fn new(pages: usize) -> Option<PerfBuffer> {
        if pages == 0 || !pages.is_power_of_two() || pages > 1 << 16 {
            return None;
        }
        Some(PerfBuffer {
            capacity: pages * PAGE_SIZE,
            ring: Mutex::new(Ring::default()),
        })
    }

    /// Bytes of the data area.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes a sample of `data` (what `bpf_perf_event_output` does once it
    /// found the slot): `E2BIG` if no record can hold it, `ENOSPC` (and
    /// one more lost sample) if the buffer has no room now.
    pub fn output(&self, data: &[u8]) -> Result<(), Errno> {
        let rec = sample_record(data);
        if rec.len() > MAX_RECORD {
            return Err(errno::E2BIG);
        }
        let mut ring = self.lock();
        let lost = (ring.lost > 0).then(|| lost_record(ring.lost));
        let need = rec.len() + lost.as_ref().map_or(0, Vec::len);
        if ring.bytes + need > self.capacity {
            ring.lost += 1;
            return Err(ENOSPC);
        }
        if let Some(l) = lost {
            ring.bytes += l.len();
            ring.records.push_back(l);
            ring.lost = 0;
        }
        ring.bytes += rec.len();
        ring.records.push_back(rec);
        Ok(())
    }

    /// Bytes written and not yet read.
    pub fn available(&self) -> usize {
        self.lock().bytes
    }

    /// Takes every record written so far, in the kernel's byte layout
    /// (headers included), oldest first.
    pub fn read_raw(&self) -> Vec<Vec<u8>> {
        let mut ring = self.lock();
        ring.bytes = 0;
        ring.records.drain(..).collect()
    }

    /// Takes every record written so far, decoded, oldest first.
    pub fn read(&self) -> Vec<PerfRecord> {
        self.read_raw().iter().filter_map(|r| decode(r)).collect()
    }
}

/// Decodes one record in the kernel's layout (`None` if it is neither a
/// well-formed sample nor a lost record).
pub fn decode(rec: &[u8]) -> Option<PerfRecord> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(rec.get(at..at + 4)?.try_into().ok()?))
    };
    match word(0)? {
        PERF_RECORD_SAMPLE => {
            let n = word(8)? as usize;
            Some(PerfRecord::Sample(rec.get(12..12 + n)?.to_vec()))
        }
        PERF_RECORD_LOST => Some(PerfRecord::Lost(u64::from_ne_bytes(
            rec.get(16..24)?.try_into().ok()?,
        ))),
        _ => None,
    }
}

/// `ENOSPC` (the perf ring is full).
const ENOSPC: Errno = errno::ENOSPC;

/// What a slot of a `perf_event_array` holds: an output buffer (the
/// kernel's `PERF_COUNT_SW_BPF_OUTPUT` event) or a counter
/// (`bpf_perf_event_read`).
#[derive(Debug)]
pub enum PerfSlot {
    /// Records from `bpf_perf_event_output`.
    Buffer(Arc<PerfBuffer>),
    /// A perf counter the host opened.
    Counter(PerfCounter),
}

/// A perf event counting for the thread that opened it
/// (`perf_event_open(2)` with pid 0, any CPU), read with its enabled and
/// running times.
#[derive(Debug)]
pub struct PerfCounter {
    fd: std::os::fd::OwnedFd,
}

/// `PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING`.
const READ_TIMES: u64 = 1 | 2;

impl PerfCounter {
    /// Opens a counter of perf `type_` and `config` (e.g. 1 and 1,
    /// `PERF_TYPE_SOFTWARE` / `PERF_COUNT_SW_TASK_CLOCK`) for the calling
    /// thread, enabled.
    pub fn open(type_: u32, config: u64) -> std::io::Result<PerfCounter> {
        use std::os::fd::FromRawFd;
        // `struct perf_event_attr` up to `PERF_ATTR_SIZE_VER0` (64 bytes):
        // type, size, config, sample_period, sample_type, read_format,
        // flags (all clear: enabled, not inherited), wakeup, bp_type.
        let mut attr = [0u64; 8];
        attr[0] = type_ as u64 | 64 << 32;
        attr[1] = config;
        attr[4] = READ_TIMES;
        // SAFETY: `attr` is a valid 64-byte perf_event_attr of size 64;
        // the other arguments are plain integers.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                0 as libc::c_ulong,
            )
        };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: perf_event_open returned a new descriptor we own.
        Ok(PerfCounter {
            fd: unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) },
        })
    }

    /// The count with its enabled and running times in nanoseconds
    /// (`struct bpf_perf_event_value`).
    pub fn read(&self) -> std::io::Result<[u64; 3]> {
        use std::os::fd::AsRawFd;
        let mut v = [0u64; 3];
        // SAFETY: `v` has room for the 24 bytes requested.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), v.as_mut_ptr().cast(), 24) };
        if n != 24 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(v)
    }
}

/// A `perf_event_array` map's slots.
#[derive(Debug)]
pub struct PerfEventArray {
    slots: HandleArray<PerfSlot>,
    max_entries: u32,
}

impl PerfEventArray {
    pub(super) fn new(max_entries: u32) -> PerfEventArray {
        PerfEventArray {
            slots: HandleArray::new(max_entries),
            max_entries,
        }
    }

    pub(super) fn slots(&self) -> &HandleArray<PerfSlot> {
        &self.slots
    }

    /// Puts `counter` in slot `index` (replacing any): `E2BIG` out of
    /// range.
    pub fn set_counter(&self, index: u32, counter: PerfCounter) -> Result<(), Errno> {
        self.slots.set(
            &index.to_ne_bytes(),
            Arc::new(PerfSlot::Counter(counter)),
            super::BPF_ANY,
            |_| Ok(()),
        )
    }

    /// `bpf_perf_event_read_value`'s lookup: the counter of the slot
    /// `flags` names (as for [`PerfEventArray::output`]) read now;
    /// `EINVAL` for other flag bits, a buffer slot or a failed read,
    /// `E2BIG` out of range, `ENOENT` for an empty slot.
    pub fn read_counter(&self, flags: u64, cpu: u32) -> Result<[u64; 3], Errno> {
        let slot = self.slot(flags, cpu)?;
        match &*slot {
            PerfSlot::Counter(c) => c.read().map_err(|_| errno::EINVAL),
            PerfSlot::Buffer(_) => Err(errno::EINVAL),
        }
    }

    fn slot(&self, flags: u64, cpu: u32) -> Result<Arc<PerfSlot>, Errno> {
        if flags & !BPF_F_INDEX_MASK != 0 {
            return Err(errno::EINVAL);
        }
        let index = match flags & BPF_F_INDEX_MASK {
            BPF_F_CURRENT_CPU => cpu,
            i => i as u32,
        };
        if index >= self.max_entries {
            return Err(errno::E2BIG);
        }
        self.slots.get(&index.to_ne_bytes()).ok_or(errno::ENOENT)
    }

    /// Opens a buffer of `pages` data pages in slot `index` (replacing
    /// any): `E2BIG` out of range, `EINVAL` for a page count that is not a
    /// power of two.
    pub fn open(&self, index: u32, pages: usize) -> Result<Arc<PerfBuffer>, Errno> {
        let buf = Arc::new(PerfBuffer::new(pages).ok_or(errno::EINVAL)?);
        self.slots.set(
            &index.to_ne_bytes(),
            Arc::new(PerfSlot::Buffer(Arc::clone(&buf))),
            super::BPF_ANY,
            |_| Ok(()),
        )?;
        Ok(buf)
    }

    /// The buffer in slot `index`, if one is open.
    pub fn buffer(&self, index: u32) -> Option<Arc<PerfBuffer>> {
        match &*self.slots.get(&index.to_ne_bytes())? {
            PerfSlot::Buffer(b) => Some(Arc::clone(b)),
            PerfSlot::Counter(_) => None,
        }
    }

    /// `bpf_perf_event_output` (the tracing variant): `flags` names the
    /// slot (low 32 bits, [`BPF_F_CURRENT_CPU`] for `cpu`'s); other bits
    /// are `EINVAL`, a slot out of range `E2BIG`, an empty slot `ENOENT`,
    /// a counter slot `EINVAL` (not an output event).
    pub fn output(&self, flags: u64, cpu: u32, data: &[u8]) -> Result<(), Errno> {
        match &*self.slot(flags, cpu)? {
            PerfSlot::Buffer(b) => b.output(data),
            PerfSlot::Counter(_) => Err(errno::EINVAL),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_the_kernel_layout() {
        let r = sample_record(&[1, 2, 3, 4, 5]);
        // header 8 + size 4 + 5 bytes -> raw size 12 (4 + 12 = 16)
        assert_eq!(r.len(), 24);
        assert_eq!(u32::from_ne_bytes(r[8..12].try_into().unwrap()), 12);
        assert_eq!(&r[12..17], &[1, 2, 3, 4, 5]);
        assert_eq!(&r[17..], &[0; 7]);
        let r = sample_record(&[9; 4]);
        assert_eq!(r.len(), 16);
        assert_eq!(decode(&r), Some(PerfRecord::Sample(vec![9; 4])));
    }

    #[test]
    fn full_buffer_loses_then_reports() {
        let a = PerfEventArray::new(2);
        let b = a.open(1, 1).unwrap();
        assert_eq!(a.output(0, 0, &[1]), Err(errno::ENOENT));
        assert_eq!(a.output(2, 0, &[1]), Err(errno::E2BIG));
        assert_eq!(a.output(1 << 32 | 1, 0, &[1]), Err(errno::EINVAL));
        // 4096 bytes hold 4096 / 16 records of 4 bytes.
        for _ in 0..256 {
            a.output(BPF_F_CURRENT_CPU, 1, &[7; 4]).unwrap();
        }
        assert_eq!(a.output(1, 0, &[7; 4]), Err(ENOSPC));
        assert_eq!(a.output(1, 0, &[7; 4]), Err(ENOSPC));
        assert_eq!(b.read().len(), 256);
        a.output(1, 0, &[8; 4]).unwrap();
        assert_eq!(
            b.read(),
            vec![PerfRecord::Lost(2), PerfRecord::Sample(vec![8; 4])]
        );
        assert!(PerfBuffer::new(3).is_none());
        assert_eq!(a.open(2, 1).unwrap_err(), errno::E2BIG);
    }
}
