//! Memory regions: the ranges of host memory a program may touch, and the
//! check every load, store and atomic goes through in checked mode.
//!
//! A run starts with two regions, the live part of the stack and the input
//! buffer; the embedder can add more before the run ([`crate::Invocation`])
//! and helpers during it ([`crate::HelperContext::add_region`]), e.g. a map
//! value they return a pointer to. The check looks at the region that
//! satisfied the previous access first, so byte loops over one buffer cost
//! two compares per access.

mod index;

use index::ExtraIndex;

/// One range of host memory a program may access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// Whether stores and atomics may write it (loads are always allowed).
    pub writable: bool,
    /// What the region is, for error messages ("stack", "input", "map value", ...).
    pub name: &'static str,
}

impl Region {
    /// A region of `len` bytes at `start`.
    ///
    /// Constructing a region is safe; handing it to a run is not (see
    /// [`crate::Invocation::add_region`]).
    pub const fn new(start: u64, len: u64, writable: bool, name: &'static str) -> Region {
        Region {
            start,
            len,
            writable,
            name,
        }
    }

    /// Whether `[addr, addr + size)` lies inside the region.
    #[inline(always)]
    pub fn contains(&self, addr: u64, size: u64) -> bool {
        let off = addr.wrapping_sub(self.start);
        off < self.len && size <= self.len - off
    }

    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// Where an access went wrong, for [`crate::ExecError::OutOfBounds`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Miss {
    /// Which region the access missed and how, or "no region".
    pub description: String,
}

/// Index of the stack in [`MemoryRegions`]' numbering.
const STACK: usize = 0;
/// Index of the input buffer.
const INPUT: usize = 1;

/// A region prepared for the one-compare fast path: for each access size
/// 1, 2, 4, 8, how many start offsets leave room for it, so that
/// `addr - start < bound` checks both ends without overflow.
#[derive(Debug, Clone, Copy)]
struct Cached {
    start: u64,
    bound: [u64; 4],
    index: usize,
}

impl Cached {
    fn of(region: &Region, index: usize) -> Cached {
        let b = |size: u64| region.len.saturating_add(1).saturating_sub(size);
        Cached {
            start: region.start,
            bound: [b(1), b(2), b(4), b(8)],
            index,
        }
    }

    /// Matches nothing.
    fn none() -> Cached {
        Cached {
            start: 0,
            bound: [0; 4],
            index: usize::MAX,
        }
    }
}

/// The regions of one run and the access check.
///
/// The interpreter keeps it up to date (the stack region covers exactly the
/// live call frames); the JIT's checked mode calls [`MemoryRegions::check`]
/// on its slow path so both engines accept and reject the same accesses.
#[derive(Debug, Clone)]
pub struct MemoryRegions {
    stack: Region,
    input: Region,
    extra: Vec<Region>,
    /// Finds the added region holding an access (`index.rs`).
    index: ExtraIndex,
    /// The region that satisfied the last read, and the last write.
    read_cache: Cached,
    write_cache: Cached,
}

impl MemoryRegions {
    /// Regions for a run with the live stack `stack` and the input buffer
    /// `input` (length 0 if there is none).
    pub fn new(stack: Region, input: Region) -> MemoryRegions {
        let cached = Cached::of(&input, INPUT);
        MemoryRegions {
            stack,
            input,
            extra: Vec::new(),
            index: ExtraIndex::default(),
            read_cache: cached,
            write_cache: if input.writable {
                cached
            } else {
                Cached::none()
            },
        }
    }

    /// Adds a region for the rest of the run.
    ///
    /// # Safety
    /// The memory must stay valid for reads (and for writes, if
    /// `writable`) until the run ends, and must not be accessed through Rust
    /// references that assume no aliasing while the program runs.
    pub unsafe fn add(&mut self, region: Region) {
        self.extra.push(region);
    }

    /// Removes the regions added after the first `len` extra regions (a
    /// helper's temporary memory, e.g. the key it hands a callback), and
    /// forgets the cached regions so no removed region is used again.
    pub fn truncate(&mut self, len: usize) {
        if len < self.extra.len() {
            self.extra.truncate(len);
            self.index.truncate(len);
            if self.read_cache.index >= 2 {
                self.read_cache = Cached::none();
            }
            if self.write_cache.index >= 2 {
                self.write_cache = Cached::none();
            }
        }
    }

    /// Replaces the first added region equal to `old` with `new` (a
    /// packet whose bounds a helper moved); returns whether one was found.
    /// Forgets the cached regions so the old bounds are not used again.
    ///
    /// # Safety
    /// As [`MemoryRegions::add`], for `new`.
    pub unsafe fn replace(&mut self, old: Region, new: Region) -> bool {
        match self.extra.iter().position(|r| *r == old) {
            Some(i) => {
                self.extra[i] = new;
                self.index.replaced(&self.extra, i);
                self.read_cache = Cached::none();
                self.write_cache = Cached::none();
                true
            }
            None => false,
        }
    }

    /// Moves the live stack region (after a call or return).
    #[inline]
    pub fn set_stack(&mut self, stack: Region) {
        self.stack = stack;
        if self.read_cache.index == STACK {
            self.read_cache = Cached::of(&stack, STACK);
        }
        if self.write_cache.index == STACK {
            self.write_cache = Cached::of(&stack, STACK);
        }
    }

    /// The live stack region.
    pub fn stack(&self) -> Region {
        self.stack
    }

    /// The input buffer region.
    pub fn input(&self) -> Region {
        self.input
    }

    /// The regions added by the embedder and helpers, in order.
    pub fn extra(&self) -> &[Region] {
        &self.extra
    }

    /// Whether an access of `size` bytes at `addr` is allowed. The fast
    /// path (the region of the last read, or of the last write) is one
    /// subtraction and one compare once inlined with a constant size.
    #[inline(always)]
    pub fn allows(&mut self, addr: u64, size: u64, write: bool) -> bool {
        let cache = if write {
            &self.write_cache
        } else {
            &self.read_cache
        };
        if size.is_power_of_two() && size <= 8 {
            let index = size.trailing_zeros() as usize;
            if addr.wrapping_sub(cache.start) < cache.bound[index] {
                return true;
            }
        }
        self.allows_slow(addr, size, write)
    }

    #[inline(never)]
    fn allows_slow(&mut self, addr: u64, size: u64, write: bool) -> bool {
        let fits = |r: &Region| r.contains(addr, size) && (r.writable || !write);
        let found = if fits(&self.stack) {
            Some((STACK, self.stack))
        } else if fits(&self.input) {
            Some((INPUT, self.input))
        } else {
            self.index
                .find(&self.extra, addr, size, write)
                .map(|i| (i + 2, self.extra[i]))
        };
        match found {
            Some((index, region)) => {
                let cached = Cached::of(&region, index);
                if write {
                    self.write_cache = cached;
                } else {
                    self.read_cache = cached;
                }
                true
            }
            None => false,
        }
    }

    /// Checks an access, describing the miss if it is not allowed.
    pub fn check(&mut self, addr: u64, size: u64, write: bool) -> Result<(), Miss> {
        if self.allows(addr, size, write) {
            Ok(())
        } else {
            Err(Miss {
                description: self.describe_miss(addr, size, write),
            })
        }
    }

    fn all(&self) -> impl Iterator<Item = &Region> {
        [&self.stack, &self.input]
            .into_iter()
            .chain(self.extra.iter())
            .filter(|r| r.len > 0)
    }

    /// Describes why `[addr, addr + size)` is not allowed: a read-only
    /// region it lies in, the region it overlaps partly, or the nearest one.
    pub fn describe_miss(&self, addr: u64, size: u64, write: bool) -> String {
        if write {
            if let Some(r) = self.all().find(|r| r.contains(addr, size)) {
                return format!(
                    "region `{}` [{:#x}, {:#x}) is read-only",
                    r.name,
                    r.start,
                    r.end()
                );
            }
        }
        let access_end = addr.saturating_add(size);
        if let Some(r) = self.all().find(|r| addr < r.end() && access_end > r.start) {
            return format!(
                "partly outside region `{}` [{:#x}, {:#x})",
                r.name,
                r.start,
                r.end()
            );
        }
        let distance = |r: &Region| {
            if addr >= r.end() {
                addr - r.end()
            } else {
                r.start - access_end.min(r.start)
            }
        };
        match self.all().min_by_key(|r| distance(r)) {
            Some(r) if distance(r) <= 4096 => {
                let d = distance(r);
                if addr >= r.end() {
                    format!(
                        "no region ({d} bytes past the end of `{}` [{:#x}, {:#x}))",
                        r.name,
                        r.start,
                        r.end()
                    )
                } else {
                    format!(
                        "no region ({d} bytes before the start of `{}` [{:#x}, {:#x}))",
                        r.name,
                        r.start,
                        r.end()
                    )
                }
            }
            _ => "no region".to_string(),
        }
    }
}
