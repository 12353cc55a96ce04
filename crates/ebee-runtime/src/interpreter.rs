//! The dispatch loop: executes the internal form ([`crate::op`]) of a
//! [`Vm`] with the semantics of RFC 9669 (and Linux where the RFC leaves a
//! choice). This file is the definition of every instruction's meaning that
//! the JIT is tested against.

use crate::access::Access;
use crate::error::ExecError;
use crate::helper::{HelperContext, HelperError, RunAccess};
use crate::op::{
    alu64_imm, jump_holds, unpack_atomic, CondMask, Op, OpCode, SwitchTable, LONG_RUN,
};
use crate::region::{MemoryRegions, Region};
use crate::tail_call::TailCallState;
use crate::vm::Vm;
use crate::{FRAME_SIZE, MAX_CALL_FRAMES};
use ebee_isa::{AtomicOp, Size};
use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// How many times `may_goto` falls through in one function invocation
/// before it jumps (Linux's `BPF_MAX_LOOPS`).
pub const MAY_GOTO_LIMIT: u64 = 8 * 1024 * 1024;

/// What a caller frame keeps across a bpf-to-bpf call.
#[derive(Debug, Clone, Copy, Default)]
struct Frame {
    ret_pc: usize,
    saved: [u64; 4],
    may_goto: u64,
}

/// Everything of one run that outlives a single program of a tail-call chain.
pub(crate) struct RunState {
    pub regions: MemoryRegions,
    pub tail_calls: TailCallState,
    /// Caller frames, innermost last (allocated on the first call only).
    frames: Vec<Frame>,
    /// Frames pushed by bpf-to-bpf calls (0 while in the main program).
    depth: usize,
    /// Frames whose memory has been zeroed (frame 0 by the caller of `new`).
    zeroed_frames: usize,
    /// One past the top byte of frame 0.
    stack_top: u64,
    budget: u64,
    budget_left: u64,
    packet: Option<Region>,
    may_goto_left: u64,
}

impl RunState {
    pub fn new(
        regions: MemoryRegions,
        stack_top: u64,
        budget: u64,
        packet: Option<Region>,
    ) -> RunState {
        RunState {
            regions,
            tail_calls: TailCallState::new(),
            frames: Vec::new(),
            depth: 0,
            zeroed_frames: 1,
            stack_top,
            budget,
            budget_left: budget,
            packet,
            may_goto_left: MAY_GOTO_LIMIT,
        }
    }

    /// Zeroes frame `k`, the first time a call reaches it.
    #[cold]
    fn zero_frame(&mut self, k: usize) {
        debug_assert!(k < MAX_CALL_FRAMES && k == self.zeroed_frames);
        let lo = self.stack_top - (k as u64 + 1) * FRAME_SIZE;
        // SAFETY: `k < MAX_CALL_FRAMES` (the call-depth check ran first), so
        // the frame lies inside the run's stack buffer, which outlives the
        // run and is only accessed through raw pointers.
        unsafe { std::ptr::write_bytes(lo as *mut u8, 0, FRAME_SIZE as usize) };
        self.zeroed_frames = k + 1;
    }

    fn frame_pointer(&self) -> u64 {
        self.stack_top - self.depth as u64 * FRAME_SIZE
    }

    fn live_stack(&self) -> Region {
        let len = (self.depth as u64 + 1) * FRAME_SIZE;
        Region::new(self.stack_top - len, len, true, "stack")
    }
}

/// How one program of a chain stopped.
pub(crate) enum Flow {
    /// `exit` at the base frame; r0 is in the registers.
    Exit,
    /// A helper asked for a tail call at the base frame.
    TailCall(Arc<Vm>),
    /// A legacy packet load failed: the whole run ends with this r0.
    Stop(u64),
    /// The budget may run out (or the run is [`LONG_RUN`]) in the
    /// straight-line run starting at this pc: continue there counting one
    /// instruction at a time.
    Resume(usize),
}

/// How a chain stopped.
pub(crate) enum Done {
    Exit,
    Stop(u64),
}

/// Runs `vm` and the programs it tail-calls from frame `base` until the
/// base frame exits.
pub(crate) fn run_chain<A: Access>(
    vm: &Vm,
    st: &mut RunState,
    regs: &mut [u64; 16],
    base: usize,
) -> Result<Done, ExecError> {
    run_chain_from::<A>(vm, st, regs, base, 0)
}

/// [`run_chain`] with `vm` starting at `start` (a callback's first pc).
fn run_chain_from<A: Access>(
    vm: &Vm,
    st: &mut RunState,
    regs: &mut [u64; 16],
    base: usize,
    start: usize,
) -> Result<Done, ExecError> {
    let mut current: Option<Arc<Vm>> = None;
    let mut resume: Option<usize> = None;
    let mut start = start;
    loop {
        let program = current.as_deref().unwrap_or(vm);
        let flow = match resume.take() {
            None => exec::<A, false>(program, st, regs, base, std::mem::take(&mut start))?,
            Some(pc) => exec::<A, true>(program, st, regs, base, pc)?,
        };
        match flow {
            Flow::Exit => return Ok(Done::Exit),
            Flow::Stop(r0) => return Ok(Done::Stop(r0)),
            Flow::TailCall(next) => {
                st.may_goto_left = MAY_GOTO_LIMIT;
                current = Some(next);
            }
            Flow::Resume(pc) => resume = Some(pc),
        }
    }
}

#[cold]
#[inline(never)]
fn out_of_bounds(
    vm: &Vm,
    regions: &MemoryRegions,
    pc: usize,
    addr: u64,
    size: u64,
    write: bool,
) -> ExecError {
    ExecError::OutOfBounds {
        pc,
        insn: vm.describe_insn(pc),
        addr,
        size,
        write,
        region: regions.describe_miss(addr, size, write),
    }
}

/// Executes `vm` from instruction `start` in the current frame until the
/// frame `base` exits, a tail call replaces it, or an error.
///
/// The budget: with `PRECISE` false, each straight-line run of
/// instructions is charged whole ([`Op::run`]) when control enters it (at
/// the start, after every jump, call, return, `may_goto` and packet load),
/// so straight-line ops do no budget work; a run that does not fit in what
/// is left (or is too long to count in an [`Op`]) returns
/// [`Flow::Resume`], and the caller continues with `PRECISE` true, which
/// charges one instruction at a time, so the budget error names the exact
/// pc and a successful run's count is exact either way. (When an op of a
/// run fails, the rest of that run has been charged too; nothing reads the
/// budget after an error.)
///
/// Never inlined: inlined into [`run_chain`]'s loop (which the compiler did
/// for the unchecked instantiation only) the dispatch loop got a worse
/// register allocation and ran up to 2x slower.
#[inline(never)]
fn exec<A: Access, const PRECISE: bool>(
    vm: &Vm,
    st: &mut RunState,
    regs: &mut [u64; 16],
    base: usize,
    start: usize,
) -> Result<Flow, ExecError> {
    let code: &[Op] = vm.ops();
    let base_ptr: *const Op = code.as_ptr();
    // The next instruction, as a pointer into `code` (one add per step and
    // no bounds check; the pc is recovered from it when needed).
    debug_assert!(start < code.len());
    let mut ip: *const Op = base_ptr.wrapping_add(start);
    let mut r = *regs;
    let mut left = st.budget_left;
    // The live stack's bounds, for `Access::in_stack` (re-read whenever
    // the stack may have moved: after calls, returns and helpers).
    let mut live_stack = st.regions.stack();
    macro_rules! reload_stack {
        () => {
            live_stack = st.regions.stack()
        };
    }

    macro_rules! goto {
        ($pc:expr) => {
            ip = base_ptr.wrapping_add($pc)
        };
    }
    macro_rules! addr {
        ($base:expr, $op:expr) => {
            r[$base.get()].wrapping_add($op.off as i64 as u64)
        };
    }
    macro_rules! check {
        ($addr:expr, $size:expr, $write:expr, $pc:expr) => {
            if !A::in_stack(live_stack.start, live_stack.len, $addr, $size)
                && !A::allows(&mut st.regions, $addr, $size, $write)
            {
                return Err(out_of_bounds(vm, &st.regions, $pc, $addr, $size, $write));
            }
        };
    }
    macro_rules! load {
        ($op:expr, $ty:ty, $pc:expr) => {{
            let a = addr!($op.src, $op);
            check!(a, std::mem::size_of::<$ty>() as u64, false, $pc);
            // SAFETY: in checked mode the access lies inside a region, which
            // its creator promised readable for the run; in unchecked mode the
            // caller of `run_unchecked` promised the program only accesses
            // such memory. `read_unaligned` has no alignment requirement.
            unsafe { (a as *const $ty).read_unaligned() }
        }};
    }
    macro_rules! store {
        ($op:expr, $ty:ty, $value:expr, $pc:expr) => {{
            let a = addr!($op.dst, $op);
            check!(a, std::mem::size_of::<$ty>() as u64, true, $pc);
            // SAFETY: as for loads, with a writable region.
            unsafe { (a as *mut $ty).write_unaligned($value as $ty) }
        }};
    }
    macro_rules! finish {
        ($flow:expr) => {{
            *regs = r;
            st.budget_left = left;
            return Ok($flow);
        }};
    }
    // Control arrives at `ip` other than by falling through from a
    // straight-line op: charge its run (see above).
    macro_rules! enter {
        () => {
            if !PRECISE {
                // SAFETY: `ip` points into `code` (see `step!`).
                let n = unsafe { (*ip).run };
                if n == LONG_RUN || n as u64 > left {
                    finish!(Flow::Resume(
                        (ip as usize - base_ptr as usize) / std::mem::size_of::<Op>()
                    ));
                }
                left -= n as u64;
            }
        };
    }
    macro_rules! jump_if {
        ($op:expr, $cond:expr) => {{
            if $cond {
                goto!($op.target());
            }
            enter!();
        }};
    }
    // Whether the jump a `SkipMov*` op stands for is taken.
    macro_rules! skip_condition {
        ($op:expr) => {{
            let b = std::hint::select_unpredictable(
                CondMask::is_reg($op.off),
                r[$op.src.get()],
                $op.imm,
            );
            CondMask::holds($op.off, r[$op.dst.get()], b)
        }};
    }
    // A `SkipMov*` op `$op` at `$ptr` (see `lower::fuse_skips`), outside
    // precise mode: the moves (in the slots after it) unless the jump's
    // condition holds, then on past the moves.
    macro_rules! skip_fast {
        ($op:expr, $ptr:expr) => {{
            let skip = skip_condition!($op);
            // SAFETY: lowering fuses only where the moves' slots exist
            // (`slots()` slots from the op are inside `code`).
            let first = unsafe { &*$ptr.wrapping_add(1) };
            let x = first.dst.get();
            let moved = match $op.code {
                OpCode::SkipMovImm => first.imm,
                OpCode::SkipMovReg => r[first.src.get()],
                _ => {
                    // SAFETY: as for `first`.
                    let second = unsafe { &*$ptr.wrapping_add(2) };
                    alu64_imm(second.code, r[first.src.get()], second.imm).unwrap_or(r[x])
                }
            };
            r[x] = std::hint::select_unpredictable(skip, r[x], moved);
            // The run charged all the moves: give back the skipped ones.
            let skipped = $op.insns() as u64 - 1;
            left += if skip { skipped } else { 0 };
            ip = $ptr.wrapping_add($op.slots());
        }};
    }
    enter!();

    // One step: fetch, charge the budget (precise mode), dispatch. One
    // copy per loop: with two (for two dispatch branches) the compiler laid
    // out the handlers worse and checked mode ran 1.3-1.6x slower.
    macro_rules! step {
        () => {{
            let op_ptr = ip;
            // The pc of this instruction, computed only on the paths that need it.
            macro_rules! this {
                () => {
                    (op_ptr as usize - base_ptr as usize) / std::mem::size_of::<Op>()
                };
            }
            debug_assert!(this!() < code.len());
            // SAFETY: `ip` always points into `code`: it starts at its first
            // element (lowering never returns an empty program), every jump,
            // call and `may_goto` target was checked to be an instruction at
            // load, a return address is the slot after a call, `lddw` skips
            // exactly its checked tail, and the slot after the last instruction
            // holds `FellOffEnd`, which never advances. (`this!()` is only evaluated on
            // paths that leave the hot loop, so it costs nothing per step.)
            let op = unsafe { &*op_ptr };
            if PRECISE {
                if left == 0 {
                    return Err(ExecError::BudgetExhausted {
                        pc: this!(),
                        budget: st.budget,
                    });
                }
                left -= 1;
            }
            ip = op_ptr.wrapping_add(1);
            let d = op.dst.get();
            let s = op.src.get();
            use OpCode::*;
            match op.code {
                Add64Imm => r[d] = r[d].wrapping_add(op.imm),
                Add64Reg => r[d] = r[d].wrapping_add(r[s]),
                Sub64Imm => r[d] = r[d].wrapping_sub(op.imm),
                Sub64Reg => r[d] = r[d].wrapping_sub(r[s]),
                Mul64Imm => r[d] = r[d].wrapping_mul(op.imm),
                Mul64Reg => r[d] = r[d].wrapping_mul(r[s]),
                Div64Imm => r[d] = div64(r[d], op.imm),
                Div64Reg => r[d] = div64(r[d], r[s]),
                SDiv64Imm => r[d] = sdiv64(r[d], op.imm),
                SDiv64Reg => r[d] = sdiv64(r[d], r[s]),
                Mod64Imm => r[d] = mod64(r[d], op.imm),
                Mod64Reg => r[d] = mod64(r[d], r[s]),
                SMod64Imm => r[d] = smod64(r[d], op.imm),
                SMod64Reg => r[d] = smod64(r[d], r[s]),
                Or64Imm => r[d] |= op.imm,
                Or64Reg => r[d] |= r[s],
                And64Imm => r[d] &= op.imm,
                And64Reg => r[d] &= r[s],
                Xor64Imm => r[d] ^= op.imm,
                Xor64Reg => r[d] ^= r[s],
                Lsh64Imm => r[d] <<= op.imm & 63,
                Lsh64Reg => r[d] <<= r[s] & 63,
                Rsh64Imm => r[d] >>= op.imm & 63,
                Rsh64Reg => r[d] >>= r[s] & 63,
                Arsh64Imm => r[d] = ((r[d] as i64) >> (op.imm & 63)) as u64,
                Arsh64Reg => r[d] = ((r[d] as i64) >> (r[s] & 63)) as u64,
                Mov64Imm => r[d] = op.imm,
                Mov64Reg => r[d] = r[s],
                MovSx8To64 => r[d] = r[s] as i8 as i64 as u64,
                MovSx16To64 => r[d] = r[s] as i16 as i64 as u64,
                MovSx32To64 => r[d] = r[s] as i32 as i64 as u64,
                Neg64 => r[d] = r[d].wrapping_neg(),

                Add32Imm => r[d] = (r[d] as u32).wrapping_add(op.imm as u32) as u64,
                Add32Reg => r[d] = (r[d] as u32).wrapping_add(r[s] as u32) as u64,
                Sub32Imm => r[d] = (r[d] as u32).wrapping_sub(op.imm as u32) as u64,
                Sub32Reg => r[d] = (r[d] as u32).wrapping_sub(r[s] as u32) as u64,
                Mul32Imm => r[d] = (r[d] as u32).wrapping_mul(op.imm as u32) as u64,
                Mul32Reg => r[d] = (r[d] as u32).wrapping_mul(r[s] as u32) as u64,
                Div32Imm => r[d] = div32(r[d], op.imm),
                Div32Reg => r[d] = div32(r[d], r[s]),
                SDiv32Imm => r[d] = sdiv32(r[d], op.imm),
                SDiv32Reg => r[d] = sdiv32(r[d], r[s]),
                Mod32Imm => r[d] = mod32(r[d], op.imm),
                Mod32Reg => r[d] = mod32(r[d], r[s]),
                SMod32Imm => r[d] = smod32(r[d], op.imm),
                SMod32Reg => r[d] = smod32(r[d], r[s]),
                Or32Imm => r[d] = (r[d] as u32 | op.imm as u32) as u64,
                Or32Reg => r[d] = (r[d] as u32 | r[s] as u32) as u64,
                And32Imm => r[d] = (r[d] as u32 & op.imm as u32) as u64,
                And32Reg => r[d] = (r[d] as u32 & r[s] as u32) as u64,
                Xor32Imm => r[d] = (r[d] as u32 ^ op.imm as u32) as u64,
                Xor32Reg => r[d] = (r[d] as u32 ^ r[s] as u32) as u64,
                Lsh32Imm => r[d] = ((r[d] as u32) << (op.imm & 31)) as u64,
                Lsh32Reg => r[d] = ((r[d] as u32) << (r[s] & 31)) as u64,
                Rsh32Imm => r[d] = ((r[d] as u32) >> (op.imm & 31)) as u64,
                Rsh32Reg => r[d] = ((r[d] as u32) >> (r[s] & 31)) as u64,
                Arsh32Imm => r[d] = ((r[d] as i32) >> (op.imm & 31)) as u32 as u64,
                Arsh32Reg => r[d] = ((r[d] as i32) >> (r[s] & 31)) as u32 as u64,
                Mov32Reg => r[d] = r[s] as u32 as u64,
                MovSx8To32 => r[d] = r[s] as i8 as i32 as u32 as u64,
                MovSx16To32 => r[d] = r[s] as i16 as i32 as u32 as u64,
                Neg32 => r[d] = (r[d] as u32).wrapping_neg() as u64,

                LdDw => {
                    r[d] = op.imm;
                    ip = ip.wrapping_add(1);
                }
                Le16 => r[d] = (r[d] as u16).to_le() as u64,
                Le32 => r[d] = (r[d] as u32).to_le() as u64,
                Le64 => r[d] = r[d].to_le(),
                Be16 => r[d] = (r[d] as u16).to_be() as u64,
                Be32 => r[d] = (r[d] as u32).to_be() as u64,
                Be64 => r[d] = r[d].to_be(),
                Swap16 => r[d] = (r[d] as u16).swap_bytes() as u64,
                Swap32 => r[d] = (r[d] as u32).swap_bytes() as u64,
                Swap64 => r[d] = r[d].swap_bytes(),

                LdxB => r[d] = load!(op, u8, this!()) as u64,
                LdxH => r[d] = load!(op, u16, this!()) as u64,
                LdxW => r[d] = load!(op, u32, this!()) as u64,
                LdxDw => r[d] = load!(op, u64, this!()),
                LdxsB => r[d] = load!(op, i8, this!()) as i64 as u64,
                LdxsH => r[d] = load!(op, i16, this!()) as i64 as u64,
                LdxsW => r[d] = load!(op, i32, this!()) as i64 as u64,
                StxB => store!(op, u8, r[s], this!()),
                StxH => store!(op, u16, r[s], this!()),
                StxW => store!(op, u32, r[s], this!()),
                StxDw => store!(op, u64, r[s], this!()),
                StB => store!(op, u8, op.imm, this!()),
                StH => store!(op, u16, op.imm, this!()),
                StW => store!(op, u32, op.imm, this!()),
                StDw => store!(op, u64, op.imm, this!()),
                Atomic => atomic::<A>(vm, st, &mut r, op, this!())?,
                SkipMovImm | SkipMovReg | SkipMovAlu => {
                    if PRECISE {
                        // As the jump: on to the first move or past them.
                        if skip_condition!(op) {
                            ip = op_ptr.wrapping_add(op.slots());
                        }
                    } else {
                        skip_fast!(op, op_ptr);
                    }
                }
                MovImmSkip | MovRegSkip => {
                    r[d] = if op.code == MovImmSkip { op.imm } else { r[s] };
                    if !PRECISE {
                        // SAFETY: lowering fuses a move only with the
                        // `SkipMov*` op in the slot after it.
                        let skip_ptr = op_ptr.wrapping_add(1);
                        let skip_op = unsafe { &*skip_ptr };
                        skip_fast!(skip_op, skip_ptr);
                    }
                }
                LdPacket => {
                    let Some(packet) = st.packet else {
                        return Err(ExecError::NoPacket { pc: this!() });
                    };
                    let index = if op.off < 0 { r[s] as u32 } else { 0 };
                    let offset = (op.imm as u32).wrapping_add(index) as i32;
                    let size = op.off.unsigned_abs() as u64;
                    // Linux: an offset outside the packet ends the program with r0 = 0.
                    if offset < 0
                        || !packet.contains(packet.start.wrapping_add(offset as u64), size)
                    {
                        finish!(Flow::Stop(0));
                    }
                    let p = packet.start.wrapping_add(offset as u64) as *const u8;
                    // SAFETY: the bytes lie inside the packet region, which its
                    // creator promised readable for the run.
                    let bytes = unsafe { std::slice::from_raw_parts(p, size as usize) };
                    r[0] = bytes.iter().fold(0u64, |v, b| (v << 8) | *b as u64);
                    enter!();
                }

                Ja => {
                    goto!(op.target());
                    enter!();
                }
                JeqImm => jump_if!(op, r[d] == op.imm),
                JeqReg => jump_if!(op, r[d] == r[s]),
                JgtImm => jump_if!(op, r[d] > op.imm),
                JgtReg => jump_if!(op, r[d] > r[s]),
                JgeImm => jump_if!(op, r[d] >= op.imm),
                JgeReg => jump_if!(op, r[d] >= r[s]),
                JsetImm => jump_if!(op, r[d] & op.imm != 0),
                JsetReg => jump_if!(op, r[d] & r[s] != 0),
                JneImm => jump_if!(op, r[d] != op.imm),
                JneReg => jump_if!(op, r[d] != r[s]),
                JsgtImm => jump_if!(op, (r[d] as i64) > op.imm as i64),
                JsgtReg => jump_if!(op, (r[d] as i64) > r[s] as i64),
                JsgeImm => jump_if!(op, (r[d] as i64) >= op.imm as i64),
                JsgeReg => jump_if!(op, (r[d] as i64) >= r[s] as i64),
                JltImm => jump_if!(op, r[d] < op.imm),
                JltReg => jump_if!(op, r[d] < r[s]),
                JleImm => jump_if!(op, r[d] <= op.imm),
                JleReg => jump_if!(op, r[d] <= r[s]),
                JsltImm => jump_if!(op, (r[d] as i64) < op.imm as i64),
                JsltReg => jump_if!(op, (r[d] as i64) < r[s] as i64),
                JsleImm => jump_if!(op, (r[d] as i64) <= op.imm as i64),
                JsleReg => jump_if!(op, (r[d] as i64) <= r[s] as i64),
                Jeq32Imm => jump_if!(op, r[d] as u32 == op.imm as u32),
                Jeq32Reg => jump_if!(op, r[d] as u32 == r[s] as u32),
                Jgt32Imm => jump_if!(op, r[d] as u32 > op.imm as u32),
                Jgt32Reg => jump_if!(op, r[d] as u32 > r[s] as u32),
                Jge32Imm => jump_if!(op, r[d] as u32 >= op.imm as u32),
                Jge32Reg => jump_if!(op, r[d] as u32 >= r[s] as u32),
                Jset32Imm => jump_if!(op, r[d] as u32 & op.imm as u32 != 0),
                Jset32Reg => jump_if!(op, r[d] as u32 & r[s] as u32 != 0),
                Jne32Imm => jump_if!(op, r[d] as u32 != op.imm as u32),
                Jne32Reg => jump_if!(op, r[d] as u32 != r[s] as u32),
                Jsgt32Imm => jump_if!(op, (r[d] as i32) > op.imm as i32),
                Jsgt32Reg => jump_if!(op, (r[d] as i32) > r[s] as i32),
                Jsge32Imm => jump_if!(op, (r[d] as i32) >= op.imm as i32),
                Jsge32Reg => jump_if!(op, (r[d] as i32) >= r[s] as i32),
                Jlt32Imm => jump_if!(op, (r[d] as u32) < op.imm as u32),
                Jlt32Reg => jump_if!(op, (r[d] as u32) < r[s] as u32),
                Jle32Imm => jump_if!(op, r[d] as u32 <= op.imm as u32),
                Jle32Reg => jump_if!(op, r[d] as u32 <= r[s] as u32),
                Jslt32Imm => jump_if!(op, (r[d] as i32) < op.imm as i32),
                Jslt32Reg => jump_if!(op, (r[d] as i32) < r[s] as i32),
                Jsle32Imm => jump_if!(op, (r[d] as i32) <= op.imm as i32),
                Jsle32Reg => jump_if!(op, (r[d] as i32) <= r[s] as i32),

                CallLocal => {
                    if st.depth + 1 >= MAX_CALL_FRAMES {
                        return Err(ExecError::CallDepth {
                            pc: this!(),
                            max: MAX_CALL_FRAMES,
                        });
                    }
                    if st.frames.capacity() == 0 {
                        st.frames.reserve_exact(MAX_CALL_FRAMES - 1);
                    }
                    st.frames.push(Frame {
                        ret_pc: this!() + 1,
                        saved: [r[6], r[7], r[8], r[9]],
                        may_goto: st.may_goto_left,
                    });
                    st.depth += 1;
                    if st.depth >= st.zeroed_frames {
                        st.zero_frame(st.depth);
                    }
                    st.may_goto_left = MAY_GOTO_LIMIT;
                    r[10] = st.frame_pointer();
                    let stack = st.live_stack();
                    st.regions.set_stack(stack);
                    reload_stack!();
                    goto!(op.target());
                    enter!();
                }
                CallHelper | CallX => {
                    let id = if op.code == CallHelper { op.imm } else { r[s] };
                    // Callbacks run by the helper share the budget.
                    st.budget_left = left;
                    r[0] = call_helper::<A>(vm, st, &r, id, this!())?;
                    left = st.budget_left;
                    reload_stack!();
                    if let Some(target) = st.tail_calls.take_pending() {
                        // r1 still holds the helper's first argument (the
                        // context): the target starts with it.
                        if st.depth == base {
                            finish!(Flow::TailCall(target));
                        }
                        // A tail call inside a bpf-to-bpf call replaces that
                        // subprogram: run the target in this frame, then return
                        // to the subprogram's caller.
                        st.budget_left = left;
                        st.may_goto_left = MAY_GOTO_LIMIT;
                        let done = run_chain::<A>(&target, st, &mut r, st.depth)?;
                        left = st.budget_left;
                        if let Done::Stop(r0) = done {
                            finish!(Flow::Stop(r0));
                        }
                        goto!(return_from_call(st, &mut r));
                        reload_stack!();
                    }
                    enter!();
                }
                MayGoto => {
                    if st.may_goto_left == 0 {
                        goto!(op.target());
                    } else {
                        st.may_goto_left -= 1;
                    }
                    enter!();
                }
                Exit => {
                    if st.depth == base {
                        finish!(Flow::Exit);
                    }
                    goto!(return_from_call(st, &mut r));
                    reload_stack!();
                    enter!();
                }
                Switch => {
                    // The table (see `lower::build_switches`): the pc the
                    // tree leads to for this value and the jumps it takes
                    // after this one. Precise mode, a value outside the
                    // table or a budget too low for the jumps run the
                    // original root jump instead, and the tree op by op.
                    let block = op.target();
                    let i = r[d].wrapping_sub(op.imm);
                    let entry = match code.get(block + 1) {
                        Some(header) if !PRECISE && i < header.imm => {
                            code.get(block + SwitchTable::HEADER_SLOTS + i as usize)
                        }
                        _ => None,
                    };
                    match entry {
                        Some(e) if e.imm <= left => {
                            left -= e.imm;
                            goto!(e.target());
                            enter!();
                        }
                        _ => {
                            let Some(root) = code.get(block) else {
                                return Err(ExecError::InvalidInstruction {
                                    pc: this!(),
                                    insn: vm.describe_insn(this!()),
                                });
                            };
                            let taken = jump_holds(root.code, r[d], root.imm) == Some(true);
                            jump_if!(root, taken);
                        }
                    }
                }
                Imm64Tail | Data => {
                    // Unreachable: lowering rejects jumps into lddw and lddw
                    // skips its tail. Kept an error rather than a panic.
                    return Err(ExecError::InvalidInstruction {
                        pc: this!(),
                        insn: vm.describe_insn(this!()),
                    });
                }
                FellOffEnd => {
                    return Err(ExecError::FellOffEnd {
                        pc: this!().saturating_sub(1),
                    });
                }
            }
        }};
    }
    loop {
        step!();
    }
}

/// Pops the innermost bpf-to-bpf frame; returns the pc to continue at.
fn return_from_call(st: &mut RunState, r: &mut [u64; 16]) -> usize {
    st.depth -= 1;
    // Pushes and pops are paired (`depth == frames.len()`), and callers
    // only return from a call when `depth` exceeds their base.
    debug_assert_eq!(st.frames.len(), st.depth + 1);
    let frame = st.frames.pop().unwrap_or_default();
    r[6..10].copy_from_slice(&frame.saved);
    r[10] = st.frame_pointer();
    st.may_goto_left = frame.may_goto;
    let stack = st.live_stack();
    st.regions.set_stack(stack);
    frame.ret_pc
}

#[inline(never)]
fn call_helper<A: Access>(
    vm: &Vm,
    st: &mut RunState,
    r: &[u64; 16],
    id: u64,
    pc: usize,
) -> Result<u64, ExecError> {
    let Some(helper) = vm.helpers().get(id) else {
        return Err(ExecError::UnknownHelper { pc, id });
    };
    let result = {
        let mut run = Callbacks::<A> {
            vm,
            st: &mut *st,
            mode: std::marker::PhantomData,
        };
        let mut ctx = HelperContext::for_run(&mut run, pc);
        helper.call(&mut ctx, [r[1], r[2], r[3], r[4], r[5]])
    };
    result.map_err(|e| ExecError::HelperFailed {
        pc,
        id,
        name: helper.name().to_string(),
        message: e.0,
    })
}

/// The run as a helper reaches it: its regions and tail-call state, and
/// callbacks into `vm` in the run's mode.
struct Callbacks<'v, 's, A> {
    vm: &'v Vm,
    st: &'s mut RunState,
    mode: std::marker::PhantomData<A>,
}

impl<A: Access> RunAccess for Callbacks<'_, '_, A> {
    fn regions(&mut self) -> &mut MemoryRegions {
        &mut self.st.regions
    }

    fn regions_ref(&self) -> &MemoryRegions {
        &self.st.regions
    }

    fn tail_calls(&mut self) -> &mut TailCallState {
        &mut self.st.tail_calls
    }

    fn tail_calls_ref(&self) -> &TailCallState {
        &self.st.tail_calls
    }

    fn call_function(&mut self, pc: usize, args: [u64; 5]) -> Result<u64, HelperError> {
        run_callback::<A>(self.vm, self.st, pc, args)
            .map_err(|e| HelperError(format!("in the callback at {pc}: {e}")))
    }

    unsafe fn set_packet(&mut self, packet: Region) -> bool {
        self.st.packet = Some(packet);
        true
    }
}

/// Calls the function at `pc` on a new frame, as a bpf-to-bpf call from a
/// helper would, and returns its `r0`.
fn run_callback<A: Access>(
    vm: &Vm,
    st: &mut RunState,
    pc: usize,
    args: [u64; 5],
) -> Result<u64, ExecError> {
    if pc >= vm.insns().len() {
        return Err(ExecError::InvalidInstruction {
            pc,
            insn: "callback target outside the program".to_string(),
        });
    }
    if st.depth + 1 >= MAX_CALL_FRAMES {
        return Err(ExecError::CallDepth {
            pc,
            max: MAX_CALL_FRAMES,
        });
    }
    if st.frames.capacity() == 0 {
        st.frames.reserve_exact(MAX_CALL_FRAMES - 1);
    }
    st.frames.push(Frame {
        ret_pc: 0,
        saved: [0; 4],
        may_goto: st.may_goto_left,
    });
    st.depth += 1;
    if st.depth >= st.zeroed_frames {
        st.zero_frame(st.depth);
    }
    st.may_goto_left = MAY_GOTO_LIMIT;
    let stack = st.live_stack();
    st.regions.set_stack(stack);
    let mut regs = [0u64; 16];
    regs[1..6].copy_from_slice(&args);
    regs[10] = st.frame_pointer();
    let done = run_chain_from::<A>(vm, st, &mut regs, st.depth, pc);
    let mut scratch = [0u64; 16];
    return_from_call(st, &mut scratch);
    Ok(match done? {
        Done::Exit => regs[0],
        Done::Stop(r0) => r0,
    })
}

#[inline(always)]
fn div64(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

#[inline(always)]
fn sdiv64(a: u64, b: u64) -> u64 {
    if b == 0 {
        0
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

#[inline(always)]
fn mod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        a % b
    }
}

#[inline(always)]
fn smod64(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

#[inline(always)]
fn div32(a: u64, b: u64) -> u64 {
    (a as u32).checked_div(b as u32).unwrap_or(0) as u64
}

#[inline(always)]
fn sdiv32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        0
    } else {
        (a as i32).wrapping_div(b as i32) as u32 as u64
    }
}

#[inline(always)]
fn mod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        a as u32 as u64
    } else {
        ((a as u32) % (b as u32)) as u64
    }
}

#[inline(always)]
fn smod32(a: u64, b: u64) -> u64 {
    if b as u32 == 0 {
        a as u32 as u64
    } else {
        (a as i32).wrapping_rem(b as i32) as u32 as u64
    }
}

/// Executes one atomic instruction.
#[inline(never)]
fn atomic<A: Access>(
    vm: &Vm,
    st: &mut RunState,
    r: &mut [u64; 16],
    op: &Op,
    pc: usize,
) -> Result<(), ExecError> {
    let (size, aop) = unpack_atomic(op.imm);
    let d = op.dst.get();
    let s = op.src.get();
    let base = if aop == AtomicOp::LoadAcquire { s } else { d };
    let addr = r[base].wrapping_add(op.off as i64 as u64);
    let bytes = size.bytes() as u64;
    let write = aop != AtomicOp::LoadAcquire;
    if !A::allows(&mut st.regions, addr, bytes, write) {
        return Err(out_of_bounds(vm, &st.regions, pc, addr, bytes, write));
    }
    // Checked in both modes: a misaligned atomic would be undefined behaviour.
    if !addr.is_multiple_of(bytes) {
        return Err(ExecError::MisalignedAtomic {
            pc,
            insn: vm.describe_insn(pc),
            addr,
            size: bytes,
        });
    }
    let seq = Ordering::SeqCst;
    // SAFETY (all blocks below): the address is inside a region (checked
    // mode) or proved accessible (unchecked mode), and aligned to the access
    // size (checked above), as `Atomic*::from_ptr` requires; accesses to it
    // from other threads go through atomics of the same size or plain
    // accesses the program's author accepted racing with.
    match (aop, size) {
        (AtomicOp::LoadAcquire, Size::B) => {
            r[d] = unsafe { AtomicU8::from_ptr(addr as *mut u8) }.load(Ordering::Acquire) as u64
        }
        (AtomicOp::LoadAcquire, Size::H) => {
            r[d] = unsafe { AtomicU16::from_ptr(addr as *mut u16) }.load(Ordering::Acquire) as u64
        }
        (AtomicOp::LoadAcquire, Size::W) => {
            r[d] = unsafe { AtomicU32::from_ptr(addr as *mut u32) }.load(Ordering::Acquire) as u64
        }
        (AtomicOp::LoadAcquire, Size::DW) => {
            r[d] = unsafe { AtomicU64::from_ptr(addr as *mut u64) }.load(Ordering::Acquire)
        }
        (AtomicOp::StoreRelease, Size::B) => {
            unsafe { AtomicU8::from_ptr(addr as *mut u8) }.store(r[s] as u8, Ordering::Release)
        }
        (AtomicOp::StoreRelease, Size::H) => {
            unsafe { AtomicU16::from_ptr(addr as *mut u16) }.store(r[s] as u16, Ordering::Release)
        }
        (AtomicOp::StoreRelease, Size::W) => {
            unsafe { AtomicU32::from_ptr(addr as *mut u32) }.store(r[s] as u32, Ordering::Release)
        }
        (AtomicOp::StoreRelease, Size::DW) => {
            unsafe { AtomicU64::from_ptr(addr as *mut u64) }.store(r[s], Ordering::Release)
        }
        (_, Size::W) => {
            let a = unsafe { AtomicU32::from_ptr(addr as *mut u32) };
            let v = r[s] as u32;
            match aop {
                AtomicOp::Add { fetch } => fetch_result(r, s, fetch, a.fetch_add(v, seq) as u64),
                AtomicOp::Or { fetch } => fetch_result(r, s, fetch, a.fetch_or(v, seq) as u64),
                AtomicOp::And { fetch } => fetch_result(r, s, fetch, a.fetch_and(v, seq) as u64),
                AtomicOp::Xor { fetch } => fetch_result(r, s, fetch, a.fetch_xor(v, seq) as u64),
                AtomicOp::Xchg => r[s] = a.swap(v, seq) as u64,
                AtomicOp::CmpXchg => {
                    let old = match a.compare_exchange(r[0] as u32, v, seq, seq) {
                        Ok(old) | Err(old) => old,
                    };
                    r[0] = old as u64;
                }
                AtomicOp::LoadAcquire | AtomicOp::StoreRelease => {}
            }
        }
        (_, Size::B | Size::H) => {
            // Read-modify-writes exist at W and DW only; lowering rejects
            // the others, so this is never reached.
            return Err(ExecError::InvalidInstruction {
                pc,
                insn: vm.describe_insn(pc),
            });
        }
        (_, Size::DW) => {
            let a = unsafe { AtomicU64::from_ptr(addr as *mut u64) };
            let v = r[s];
            match aop {
                AtomicOp::Add { fetch } => fetch_result(r, s, fetch, a.fetch_add(v, seq)),
                AtomicOp::Or { fetch } => fetch_result(r, s, fetch, a.fetch_or(v, seq)),
                AtomicOp::And { fetch } => fetch_result(r, s, fetch, a.fetch_and(v, seq)),
                AtomicOp::Xor { fetch } => fetch_result(r, s, fetch, a.fetch_xor(v, seq)),
                AtomicOp::Xchg => r[s] = a.swap(v, seq),
                AtomicOp::CmpXchg => {
                    r[0] = match a.compare_exchange(r[0], v, seq, seq) {
                        Ok(old) | Err(old) => old,
                    };
                }
                AtomicOp::LoadAcquire | AtomicOp::StoreRelease => {}
            }
        }
    }
    Ok(())
}

#[inline(always)]
fn fetch_result(r: &mut [u64; 16], s: usize, fetch: bool, old: u64) {
    if fetch {
        r[s] = old;
    }
}

#[cfg(test)]
mod tests {
    use crate::{ExecError, Vm};
    use ebee_isa::{AluOp, Insn, Operand, Reg, Width};

    fn add(dst: u8, value: i32) -> Insn {
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::new(dst).unwrap(),
            src: Operand::Imm(value),
        }
    }

    /// The budget error names the pc of the first instruction over budget,
    /// wherever it falls in a straight-line run, and a run that fits
    /// exactly succeeds — also for runs too long to charge whole.
    #[test]
    fn budget_is_exact_inside_straight_line_runs() {
        for len in [3usize, 254, 255, 300] {
            let mut insns = vec![add(0, 1); len];
            insns.push(Insn::Exit);
            let mut vm = Vm::new(insns).unwrap();
            for budget in [0, 1, 2, len as u64 - 1, len as u64, len as u64 + 1] {
                vm.set_budget(budget);
                let expected = if budget > len as u64 {
                    Ok(len as u64)
                } else {
                    Err(ExecError::BudgetExhausted {
                        pc: budget as usize,
                        budget,
                    })
                };
                assert_eq!(vm.run(&mut []), expected, "len {len}, budget {budget}");
            }
        }
    }

    /// A loop whose body is a run of six: the pc of the first instruction
    /// over budget is computed by hand for every budget up to 40.
    #[test]
    fn budget_is_exact_across_loop_iterations() {
        let mut insns = vec![add(0, 0)];
        insns.extend([add(0, 1); 5]);
        insns.push(Insn::Ja {
            off: -6,
            long: false,
        });
        let mut vm = Vm::new(insns).unwrap();
        for budget in 0..40u64 {
            vm.set_budget(budget);
            let pc = if budget == 0 {
                0
            } else {
                1 + (budget as usize - 1) % 6
            };
            assert_eq!(
                vm.run(&mut []),
                Err(ExecError::BudgetExhausted { pc, budget })
            );
        }
    }
}
