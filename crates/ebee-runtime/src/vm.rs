//! [`Vm`]: a program prepared for the interpreter, its helpers and budget,
//! and the ways to run it ([`Invocation`] for arbitrary contexts).

use crate::access::{Checked, Unchecked};
use crate::error::{ExecError, LoadError};
use crate::function_ref::resolve_function_refs;
use crate::helper::HelperRegistry;
use crate::interpreter::{run_chain, Done, RunState};
use crate::lower::lower;
use crate::map::{ArrayLayout, Map};
use crate::op::Op;
use crate::region::{MemoryRegions, Region};
use crate::{DEFAULT_BUDGET, FRAME_SIZE, MAX_CALL_FRAMES};
use ebee_isa::Insn;
use std::sync::Arc;

/// Bytes of stack for all frames of one run.
const STACK_BYTES: usize = FRAME_SIZE as usize * MAX_CALL_FRAMES;

/// A program ready to run in the interpreter, with its helpers and budget.
///
/// `run` takes `&self`: one `Vm` may run on many threads at once.
#[derive(Debug, Clone)]
pub struct Vm {
    insns: Vec<Insn>,
    ops: Vec<Op>,
    helpers: HelperRegistry,
    budget: u64,
    functions: Vec<usize>,
    inline_arrays: Vec<InlineArray>,
}

/// An `array` map whose `bpf_map_lookup_elem` an engine may compute itself
/// (as the kernel's JIT does): the program names it by `handle` (its
/// `lddw` constant) and helper 1 is the runtime's own lookup, so a lookup
/// of key `k` is `base + k * stride` when `k < max_entries`, else NULL.
///
/// Every run of a `Vm` on either engine may access the elements of its
/// inline arrays ([`InlineArray::region`]), so a pointer computed inline is
/// as usable as one the helper returns (which would add the value's
/// region).
#[derive(Debug, Clone)]
pub struct InlineArray {
    /// The constant the program loads into `r1` to name the map.
    pub handle: u64,
    /// Where the elements are.
    pub layout: ArrayLayout,
    /// Whether programs may write the elements (no `BPF_F_RDONLY_PROG`).
    pub writable: bool,
    /// Keeps the elements alive as long as the program.
    _map: Arc<Map>,
}

impl InlineArray {
    /// The inlining facts of `map`, named by `handle`: `None` unless it is
    /// an `array` with contiguous elements ([`Map::array_layout`]).
    pub fn of(handle: u64, map: &Arc<Map>) -> Option<InlineArray> {
        Some(InlineArray {
            handle,
            layout: map.array_layout()?,
            writable: map.spec().flags & crate::map::BPF_F_RDONLY_PROG == 0,
            _map: Arc::clone(map),
        })
    }

    /// The elements, as the region runs may access (named as the loader
    /// names array maps).
    pub fn region(&self) -> Region {
        let len = (self.layout.stride as u64).saturating_mul(u64::from(self.layout.max_entries));
        Region::new(self.layout.base as u64, len, self.writable, "array map")
    }
}

/// What a run starts with beyond the program: `r1`–`r5`, the memory the
/// program may touch, and the packet legacy loads read.
///
/// [`Vm::run`] builds the bpf_conformance/uBPF one (r1 = input buffer,
/// r2 = its length); program types (XDP, sk_buff, ...) build theirs with
/// a context pointer in `r1` and regions for the context and the packet.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Initial `r1`–`r5`.
    pub args: [u64; 5],
    input: Region,
    extra: Vec<Region>,
    packet: Option<Region>,
}

impl Invocation {
    /// A run with these arguments and no memory but the stack.
    pub fn new(args: [u64; 5]) -> Invocation {
        Invocation {
            args,
            input: Region::new(0, 0, false, "input"),
            extra: Vec::new(),
            packet: None,
        }
    }

    /// Sets the main region (checked first after the last-hit one; usually
    /// the context or the input buffer).
    ///
    /// # Safety
    /// The memory must stay valid for reads (and writes, if `writable`) for
    /// every run using this invocation, and must not be accessed through
    /// Rust references during the run.
    pub unsafe fn set_input(&mut self, region: Region) -> &mut Invocation {
        self.input = region;
        self
    }

    /// Adds a region the program may access.
    ///
    /// # Safety
    /// As [`Invocation::set_input`].
    pub unsafe fn add_region(&mut self, region: Region) -> &mut Invocation {
        self.extra.push(region);
        self
    }

    /// Sets the packet that `ldabs`/`ldind` read (without one they fail
    /// with [`ExecError::NoPacket`]). Only its bounds matter for other
    /// accesses if it is also added as a region.
    ///
    /// # Safety
    /// The memory must stay valid for reads for every run using this
    /// invocation.
    pub unsafe fn set_packet(&mut self, region: Region) -> &mut Invocation {
        self.packet = Some(region);
        self
    }

    /// The main region.
    pub fn input(&self) -> Region {
        self.input
    }

    /// The other regions.
    pub fn regions(&self) -> &[Region] {
        &self.extra
    }

    /// The packet, if any.
    pub fn packet(&self) -> Option<Region> {
        self.packet
    }
}

impl Vm {
    /// Prepares a decoded program (one entry per slot, as
    /// [`ebee_isa::decode()`] returns) with no helpers and the default budget.
    ///
    /// Function references (`lddw rX, func`, the callbacks of `bpf_loop`
    /// and `bpf_for_each_map_elem`) become the function's handle, a plain
    /// constant; [`Vm::insns`] returns the rewritten program and
    /// [`Vm::function_refs`] the functions.
    pub fn new(mut insns: Vec<Insn>) -> Result<Vm, LoadError> {
        let functions = resolve_function_refs(&mut insns)?;
        let ops = lower(&insns)?;
        Ok(Vm {
            insns,
            ops,
            helpers: HelperRegistry::new(),
            budget: DEFAULT_BUDGET,
            functions,
            inline_arrays: Vec::new(),
        })
    }

    /// Decodes `bytes` (the wire format) and prepares the program.
    pub fn from_bytes(bytes: &[u8]) -> Result<Vm, LoadError> {
        Vm::new(ebee_isa::decode(bytes)?)
    }

    /// The program.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// The pcs of the functions the program takes the address of (with
    /// `lddw rX, func`): the callbacks helpers may call, which an engine
    /// compiling the program prepares as functions. Ascending.
    pub fn function_refs(&self) -> &[usize] {
        &self.functions
    }

    /// The helpers the program may call.
    pub fn helpers(&self) -> &HelperRegistry {
        &self.helpers
    }

    /// The helpers, to register more. Forgets the inline arrays: helper
    /// 1 may no longer be the runtime's lookup.
    pub fn helpers_mut(&mut self) -> &mut HelperRegistry {
        self.inline_arrays.clear();
        &mut self.helpers
    }

    /// Replaces the helper registry (and forgets the inline arrays, as
    /// [`Vm::helpers_mut`]).
    pub fn set_helpers(&mut self, helpers: HelperRegistry) {
        self.inline_arrays.clear();
        self.helpers = helpers;
    }

    /// The array maps whose lookups an engine may inline
    /// ([`InlineArray`]); empty unless the loader set them. Their elements
    /// are regions of every run.
    pub fn inline_arrays(&self) -> &[InlineArray] {
        &self.inline_arrays
    }

    /// Adds the elements of the inline arrays to `regions`, as every run
    /// of this `Vm` on either engine does at its start.
    pub fn add_inline_regions(&self, regions: &mut MemoryRegions) {
        for a in &self.inline_arrays {
            // SAFETY: the elements belong to a map this `Vm` keeps alive
            // (`InlineArray` holds it), and they never move.
            unsafe { regions.add(a.region()) };
        }
    }

    /// Declares the array maps whose lookups an engine may inline (the
    /// loader does, for an object's arrays). Set the helpers first: this is
    /// for a registry whose helper 1 is the runtime's `map_lookup_elem`
    /// ([`crate::helpers::standard_helpers`]) over a table holding these
    /// maps under these handles, since the JIT computes those lookups
    /// without calling it; changing the helpers afterwards forgets them.
    pub fn set_inline_arrays(&mut self, arrays: Vec<InlineArray>) {
        self.inline_arrays = arrays;
    }

    /// Sets how many instructions one run may execute (across bpf-to-bpf
    /// and tail calls) before it stops with [`ExecError::BudgetExhausted`].
    pub fn set_budget(&mut self, budget: u64) {
        self.budget = budget;
    }

    /// The instruction budget of one run.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    pub(crate) fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// The instruction at `pc` in Linux (verifier log) syntax, for error
    /// messages.
    pub fn describe_insn(&self, pc: usize) -> String {
        match self.insns.get(pc) {
            Some(insn) => ebee_isa::format_insn(insn, ebee_isa::Syntax::Linux),
            None => "end of program".to_string(),
        }
    }

    /// Runs the program in checked mode with `r1` = `mem`'s address and
    /// `r2` = its length (the bpf_conformance/uBPF convention); `mem` is
    /// also the packet of `ldabs`/`ldind`. Returns `r0`.
    pub fn run(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        let inv = raw_invocation(mem);
        // SAFETY: `mem` is borrowed mutably for the whole run, so the
        // region stays valid and nothing else accesses it.
        unsafe { self.run_invocation::<Checked>(&inv) }
    }

    /// Runs as [`Vm::run`] without memory checks (atomics are still checked
    /// for alignment; budget, call depth and helpers as in checked mode).
    ///
    /// # Safety
    /// Every load, store and atomic the program (and every program it tail
    /// calls) can execute on this input must stay inside `mem`, the live
    /// stack frames, or memory helpers hand out: what the verifier proves.
    pub unsafe fn run_unchecked(&self, mem: &mut [u8]) -> Result<u64, ExecError> {
        let inv = raw_invocation(mem);
        // SAFETY: forwarded to the caller; `mem` is borrowed for the run.
        unsafe { self.run_invocation::<Unchecked>(&inv) }
    }

    /// Runs in checked mode with an arbitrary context: `inv.args` in
    /// `r1`–`r5` and the regions of `inv`. Returns `r0`.
    pub fn run_with(&self, inv: &Invocation) -> Result<u64, ExecError> {
        // SAFETY: the invocation's regions were declared valid by whoever
        // added them (an unsafe call); checked mode touches nothing else.
        unsafe { self.run_invocation::<Checked>(inv) }
    }

    /// Runs as [`Vm::run_with`] without memory checks.
    ///
    /// # Safety
    /// As [`Vm::run_unchecked`], with the regions of `inv`.
    pub unsafe fn run_with_unchecked(&self, inv: &Invocation) -> Result<u64, ExecError> {
        // SAFETY: forwarded to the caller.
        unsafe { self.run_invocation::<Unchecked>(inv) }
    }

    /// # Safety
    /// The regions of `inv` are valid for the run; in unchecked mode, the
    /// program stays inside the regions.
    unsafe fn run_invocation<A: crate::access::Access>(
        &self,
        inv: &Invocation,
    ) -> Result<u64, ExecError> {
        // The frames: u64s for 8-byte alignment (atomics on the stack).
        // Only frame 0 is zeroed here; the interpreter zeroes each deeper
        // frame the first time a call reaches it, so no byte is read
        // uninitialised, runs are deterministic, and a run that makes no
        // calls pays for 512 bytes, not 4 KiB.
        let mut stack = std::mem::MaybeUninit::<[u64; STACK_BYTES / 8]>::uninit();
        let stack_lo = stack.as_mut_ptr() as *mut u8;
        let stack_top = stack_lo as u64 + STACK_BYTES as u64;
        // SAFETY: frame 0, the top FRAME_SIZE bytes, lies inside `stack`.
        unsafe {
            std::ptr::write_bytes(
                stack_lo.add(STACK_BYTES - FRAME_SIZE as usize),
                0,
                FRAME_SIZE as usize,
            )
        };
        let live = Region::new(stack_top - FRAME_SIZE, FRAME_SIZE, true, "stack");
        let mut regions = MemoryRegions::new(live, inv.input);
        for r in &inv.extra {
            // SAFETY: the caller of `Invocation::add_region` promised validity.
            unsafe { regions.add(*r) };
        }
        self.add_inline_regions(&mut regions);
        let mut st = RunState::new(regions, stack_top, self.budget, inv.packet);
        let mut regs = [0u64; 16];
        regs[1..6].copy_from_slice(&inv.args);
        regs[10] = stack_top;
        let done = run_chain::<A>(self, &mut st, &mut regs, 0)?;
        Ok(match done {
            Done::Exit => regs[0],
            Done::Stop(r0) => r0,
        })
    }
}

fn raw_invocation(mem: &mut [u8]) -> Invocation {
    let region = Region::new(mem.as_mut_ptr() as u64, mem.len() as u64, true, "input");
    let mut inv = Invocation::new([region.start, region.len, 0, 0, 0]);
    inv.input = region;
    inv.packet = Some(region);
    inv
}

// One `Vm` runs on many threads at once; keep it so.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<Vm>();
    shared::<Invocation>();
};
