//! The frame around a random body: a prologue that saves the memory/context
//! pointer and initialises every register and the stack scratch area (from
//! immediates, or from the input memory so the kernel's verifier cannot
//! know the values), and
//! an epilogue that writes r0-r9 and the scratch area to memory, so a whole
//! machine state can be compared, not just the 32-bit return value.
//!
//! Stack layout (offsets from r10):
//!
//! | offset          | contents                                   |
//! |-----------------|--------------------------------------------|
//! | -8              | r1 at entry (XDP context / memory pointer) |
//! | -136 .. -9      | scratch area the body loads, stores, swaps |
//! | -216 .. -137    | r0..r9 spilled by the epilogue             |
//!
//! Output layout: r0..r9 as 8 little-endian bytes each, then the 128-byte
//! scratch area.
//!
//! Subprograms follow the main program. Each starts by setting r0 and
//! r6-r9 (unreadable at a callee's entry) and its own 32-byte area
//! (`-32 .. -1` of its frame), and ends by folding r0-r9 and that area into
//! r0 with multiply/xor steps, so a difference anywhere in the callee's
//! state reaches the caller.
//!
//! The kernel's and ebee's versions differ only in how they find the
//! memory: the kernel's reads `data`/`data_end` from `struct xdp_md` and
//! bounds-checks (the verifier demands it), ebee's uses r1 as given (the
//! memory itself). Input and output memory have the same layout.

use ebee_isa::{AluOp, Imm64Kind, Insn, JmpCond, Operand, Reg, Size, Width};

use std::ops::Range;

use crate::generator::{value64, Area, Item};
use crate::rng::Rng;

/// The main program's scratch area.
pub const MAIN_AREA: Area = Area {
    lo: AREA_LO,
    len: AREA_LEN,
};
/// A subprogram's scratch area.
pub const CALLEE_AREA: Area = Area { lo: -32, len: 32 };
/// The odd multiplier of the callee's fold.
const FOLD_MUL: i32 = 0x9e37_79b1_u32 as i32;

/// Where r1 at entry is saved.
pub const CTX_SLOT: i16 = -8;
/// Lowest offset of the scratch area.
pub const AREA_LO: i16 = -136;
/// Size of the scratch area in bytes.
pub const AREA_LEN: usize = 128;
/// Where the epilogue spills r0 (r_i at `SPILL_R0 - 8 * i`).
const SPILL_R0: i16 = -144;
/// Bytes of output: ten registers and the scratch area.
pub const OUT_LEN: usize = 10 * 8 + AREA_LEN;
/// The XDP action both epilogues return after writing the output.
pub const XDP_PASS: u64 = 2;

/// Which machine the program is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The kernel, as an XDP program: memory is the packet.
    KernelXdp,
    /// ebee's interpreter: r1 is the memory.
    Ebee,
}

fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}

fn mov_imm(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

fn lddw(dst: Reg, imm: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm: imm as i64,
        },
        Insn::LdImm64Tail,
    ]
}

fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst,
        src,
        off,
    }
}

fn stx(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: Operand::Reg(src),
    }
}

/// The initial machine state: a value for each of r0-r9 and the bytes of
/// the scratch area.
#[derive(Debug, Clone)]
pub struct InitialState {
    /// r0..r9.
    pub regs: [u64; 10],
    /// The scratch area, 8 bytes at a time from [`AREA_LO`] upward.
    pub area: [u64; AREA_LEN / 8],
    /// Whether the prologue loads the state from the input memory (so the
    /// kernel's verifier does not know the values and its JIT must compute
    /// every result at run time) rather than from immediates (constants the
    /// verifier tracks, folds and prunes with).
    pub in_memory: bool,
}

impl InitialState {
    /// A random state.
    pub fn random(rng: &mut Rng) -> InitialState {
        let mut regs = [0u64; 10];
        for v in &mut regs {
            *v = value64(rng);
        }
        let mut area = [0u64; AREA_LEN / 8];
        for v in &mut area {
            *v = value64(rng);
        }
        InitialState {
            regs,
            area,
            in_memory: rng.chance(1, 2),
        }
    }

    /// The input memory (the XDP packet, ebee's `mem`): the registers and
    /// the area in output layout.
    pub fn memory(&self) -> [u8; OUT_LEN] {
        let mut out = [0u8; OUT_LEN];
        for (i, v) in self.regs.iter().chain(self.area.iter()).enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&v.to_le_bytes());
        }
        out
    }
}

/// `*(u64 *)(r10 + lo + 8k) = values[k]`, through `scratch` when the value
/// does not fit an immediate.
fn init_area(out: &mut Vec<Insn>, lo: i16, values: &[u64], scratch: Reg) {
    for (k, &v) in values.iter().enumerate() {
        let off = lo + 8 * k as i16;
        if v as i64 == v as i32 as i64 && k % 2 == 0 {
            out.push(Insn::Store {
                size: Size::DW,
                dst: Reg::FP,
                off,
                src: Operand::Imm(v as i32),
            });
        } else {
            out.extend(lddw(scratch, v));
            out.push(stx(Size::DW, Reg::FP, off, scratch));
        }
    }
}

/// `reg = value`, as a `mov` when it fits (sometimes) or `lddw`.
fn set_reg(out: &mut Vec<Insn>, reg: Reg, value: u64, prefer_mov: bool) {
    if value as i64 == value as i32 as i64 && prefer_mov {
        out.push(mov_imm(reg, value as i32));
    } else {
        out.extend(lddw(reg, value));
    }
}

/// Puts the address of the memory in r2: the kernel's way, from `struct
/// xdp_md`, with r4 = r2 + [`OUT_LEN`] and r3 = `data_end` for the bounds
/// check the verifier demands (the caller emits it), or ebee's (the
/// memory itself, saved from r1).
fn memory_pointer(out: &mut Vec<Insn>, target: Target) {
    match target {
        Target::KernelXdp => {
            out.push(ldx(Size::DW, Reg::R1, Reg::FP, CTX_SLOT));
            out.push(ldx(Size::W, Reg::R2, Reg::R1, 0)); // xdp_md.data
            out.push(ldx(Size::W, Reg::R3, Reg::R1, 4)); // xdp_md.data_end
            out.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R4,
                src: Operand::Reg(Reg::R2),
            });
            out.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R4,
                src: Operand::Imm(OUT_LEN as i32),
            });
        }
        Target::Ebee => out.push(ldx(Size::DW, Reg::R2, Reg::FP, CTX_SLOT)),
    }
}

/// `if r4 <cond> r3 goto +off`: the kernel's packet bounds check.
fn bounds_check(cond: JmpCond, off: usize) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: Reg::R4,
        src: Operand::Reg(Reg::R3),
        off: off as i16,
    }
}

/// `r0 = XDP_ABORTED; exit`: where the kernel's bounds checks fail.
const FAIL: [Insn; 2] = [
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R0,
        src: Operand::Imm(0),
    },
    Insn::Exit,
];

fn prologue(init: &InitialState, target: Target) -> Vec<Insn> {
    let mut out = vec![stx(Size::DW, Reg::FP, CTX_SLOT, Reg::R1)];
    if !init.in_memory {
        init_area(&mut out, AREA_LO, &init.area, Reg::R1);
        for (i, &v) in init.regs.iter().enumerate() {
            set_reg(&mut out, r(i as u8), v, i % 2 == 0);
        }
        return out;
    }
    memory_pointer(&mut out, target);
    if target == Target::KernelXdp {
        out.push(bounds_check(JmpCond::Le, FAIL.len()));
        out.extend(FAIL);
    }
    for k in 0..(AREA_LEN / 8) as i16 {
        out.push(ldx(Size::DW, Reg::R0, Reg::R2, 80 + 8 * k));
        out.push(stx(Size::DW, Reg::FP, AREA_LO + 8 * k, Reg::R0));
    }
    for i in (0..10u8).filter(|&i| i != 2) {
        out.push(ldx(Size::DW, r(i), Reg::R2, 8 * i as i16));
    }
    out.push(ldx(Size::DW, Reg::R2, Reg::R2, 16));
    out
}

/// A subprogram: its initial r0, r6-r9 and area, and its body.
#[derive(Debug, Clone)]
pub struct Subprog {
    /// Initial r0, r6, r7, r8, r9 (r1-r5 are the caller's arguments).
    pub regs: [u64; 5],
    /// Initial area, 8 bytes at a time from [`CALLEE_AREA`]`.lo` upward.
    pub area: [u64; 4],
    /// The body (no calls).
    pub body: Vec<Item>,
}

impl Subprog {
    /// A random entry state with the given body.
    pub fn random(rng: &mut Rng, body: Vec<Item>) -> Subprog {
        let mut regs = [0u64; 5];
        for v in &mut regs {
            *v = value64(rng);
        }
        let mut area = [0u64; 4];
        for v in &mut area {
            *v = value64(rng);
        }
        Subprog { regs, area, body }
    }
}

/// A whole generated program: main state and body, and subprograms.
#[derive(Debug, Clone)]
pub struct Program {
    /// The main program's initial state.
    pub init: InitialState,
    /// The main program's body.
    pub body: Vec<Item>,
    /// Subprograms, called from the main body.
    pub subprogs: Vec<Subprog>,
}

fn callee_prologue(sub: &Subprog) -> Vec<Insn> {
    let mut out = Vec::new();
    init_area(&mut out, CALLEE_AREA.lo, &sub.area, Reg::R0);
    for (k, &v) in sub.regs.iter().enumerate() {
        let reg = if k == 0 { Reg::R0 } else { r(5 + k as u8) };
        set_reg(&mut out, reg, v, k % 2 == 1);
    }
    out
}

fn callee_epilogue() -> Vec<Insn> {
    let mut out = Vec::new();
    let fold = |out: &mut Vec<Insn>, reg: Reg| {
        out.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mul,
            dst: Reg::R0,
            src: Operand::Imm(FOLD_MUL),
        });
        out.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: Reg::R0,
            src: Operand::Reg(reg),
        });
    };
    for i in 1..10u8 {
        fold(&mut out, r(i));
    }
    for k in 0..(CALLEE_AREA.len / 8) as i16 {
        out.push(ldx(Size::DW, Reg::R1, Reg::FP, CALLEE_AREA.lo + 8 * k));
        fold(&mut out, Reg::R1);
    }
    out.push(Insn::Exit);
    out
}

fn epilogue(target: Target) -> Vec<Insn> {
    let mut out = Vec::new();
    for i in 0..10u8 {
        out.push(stx(Size::DW, Reg::FP, SPILL_R0 - 8 * i as i16, r(i)));
    }
    // r2 = the output memory.
    memory_pointer(&mut out, target);
    if target == Target::KernelXdp {
        // The copy below is 2 * 26 + 2 instructions long.
        out.push(bounds_check(JmpCond::Gt, 2 * (10 + AREA_LEN / 8) + 2));
    }
    for i in 0..10u8 {
        out.push(ldx(Size::DW, Reg::R5, Reg::FP, SPILL_R0 - 8 * i as i16));
        out.push(stx(Size::DW, Reg::R2, 8 * i as i16, Reg::R5));
    }
    for k in 0..(AREA_LEN / 8) as i16 {
        out.push(ldx(Size::DW, Reg::R5, Reg::FP, AREA_LO + 8 * k));
        out.push(stx(Size::DW, Reg::R2, 80 + 8 * k, Reg::R5));
    }
    out.push(mov_imm(Reg::R0, XDP_PASS as i32));
    out.push(Insn::Exit);
    if target == Target::KernelXdp {
        out.extend(FAIL);
    }
    out
}

/// KERNEL_CMPXCHG32_ZEXT_WORKAROUND: whether `insn` is a 32-bit
/// `cmpxchg`, after which the lowering adds `r0 = r0` (64-bit move, a no-op
/// for any correct machine).
///
/// Why: RFC 9669 says cmpxchg zero-extends the old value into r0 (ebee
/// does). x86-64's `lock cmpxchg` leaves rax untouched when the comparison
/// succeeds, so Linux inserts an explicit zero-extension after a 32-bit
/// cmpxchg, but only when the verifier sees r0 read as 64 bits on the
/// path it walks from there. On Linux 6.18 (x86-64, JIT on), if that path
/// is pruned at a state-equivalence point before the 64-bit read (r0 is
/// imprecise, so the explored state subsumes it), the zero-extension is
/// never inserted and r0 keeps its old upper 32 bits: found by this test
/// (seed 9023279 with the generator of commit a559286; an 11-instruction
/// body where removing any instruction hides it). The 64-bit read right after the cmpxchg makes the
/// verifier mark the zero-extension before any pruning point, so the
/// kernel computes the RFC's result and the cmpxchg32 result, upper half
/// included, is still compared.
fn is_cmpxchg32(insn: &Insn) -> bool {
    matches!(
        insn,
        Insn::Atomic {
            size: Size::W,
            op: ebee_isa::AtomicOp::CmpXchg,
            ..
        }
    )
}

/// The 64-bit read of r0 that makes Linux zero-extend after a 32-bit
/// cmpxchg (see [`is_cmpxchg32`]).
const R0_READ64: Insn = Insn::Alu {
    width: Width::W64,
    op: AluOp::Mov,
    dst: Reg::R0,
    src: Operand::Reg(Reg::R0),
};

/// How many slots an item takes.
fn item_slots(item: &Item) -> usize {
    match item {
        Item::Plain(insn) if is_cmpxchg32(insn) => 2,
        Item::Plain(insn) => insn.slots(),
        Item::Jump { .. } | Item::Ja { .. } | Item::MayGoto { .. } => 1,
        Item::Call { .. } => 1 + 2 * 5,
    }
}

/// A body as instructions (with `LdImm64Tail` placeholders), starting at
/// pc `start`; subprogram `k` starts at pc `subprog_pcs[k]`.
pub fn lower_body(items: &[Item], start: usize, subprog_pcs: &[usize]) -> Vec<Insn> {
    // pc of each item, and of the epilogue (index items.len()).
    let mut pcs = Vec::with_capacity(items.len() + 1);
    let mut pc = 0usize;
    for item in items {
        pcs.push(pc);
        pc += item_slots(item);
    }
    pcs.push(pc);
    let mut out = Vec::with_capacity(pc);
    for (i, item) in items.iter().enumerate() {
        match *item {
            Item::Plain(insn) => {
                out.push(insn);
                if matches!(insn, Insn::LdImm64 { .. }) {
                    out.push(Insn::LdImm64Tail);
                }
                if is_cmpxchg32(&insn) {
                    out.push(R0_READ64);
                }
            }
            Item::Jump {
                width,
                cond,
                dst,
                src,
                target,
            } => out.push(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: (pcs[target] - pcs[i] - 1) as i16,
            }),
            Item::Ja { long, target } => out.push(Insn::Ja {
                off: (pcs[target] - pcs[i] - 1) as i32,
                long,
            }),
            Item::MayGoto { target } => out.push(Insn::MayGoto {
                off: (pcs[target] - pcs[i] - 1) as i16,
            }),
            Item::Call { subprog, reinit } => {
                let call_pc = start + pcs[i];
                out.push(Insn::Call(ebee_isa::CallTarget::Local(
                    subprog_pcs[subprog] as i32 - call_pc as i32 - 1,
                )));
                for (k, &v) in reinit.iter().enumerate() {
                    out.extend(lddw(r(1 + k as u8), v));
                }
            }
        }
    }
    out
}

/// A program lowered to instructions, with where the generated parts are.
pub struct Lowered {
    /// All instructions, one per slot.
    pub insns: Vec<Insn>,
    /// The pcs of the main body and of each subprogram body.
    pub bodies: Vec<Range<usize>>,
}

fn body_len(items: &[Item]) -> usize {
    items.iter().map(item_slots).sum()
}

/// The whole program for `target`: prologue, body, epilogue, then each
/// subprogram's prologue, body and epilogue.
pub fn program(p: &Program, target: Target) -> Lowered {
    let main_prologue = prologue(&p.init, target);
    let main_epilogue = epilogue(target);
    let callee_epilogue = callee_epilogue();
    let body_start = main_prologue.len();
    let mut pc = body_start + body_len(&p.body) + main_epilogue.len();
    let mut subprog_pcs = Vec::new();
    let mut callee_prologues = Vec::new();
    for sub in &p.subprogs {
        subprog_pcs.push(pc);
        let pro = callee_prologue(sub);
        pc += pro.len() + body_len(&sub.body) + callee_epilogue.len();
        callee_prologues.push(pro);
    }
    let mut insns = main_prologue;
    insns.extend(lower_body(&p.body, body_start, &subprog_pcs));
    let mut bodies = Vec::with_capacity(1 + p.subprogs.len());
    bodies.push(body_start..insns.len());
    insns.extend(main_epilogue);
    for (sub, pro) in p.subprogs.iter().zip(callee_prologues) {
        insns.extend(pro);
        let start = insns.len();
        insns.extend(lower_body(&sub.body, start, &subprog_pcs));
        bodies.push(start..insns.len());
        insns.extend(callee_epilogue.iter().copied());
    }
    debug_assert_eq!(insns.len(), pc);
    Lowered { insns, bodies }
}

/// The final state read back from the output memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalState {
    /// r0..r9.
    pub regs: [u64; 10],
    /// The scratch area.
    pub area: Vec<u8>,
}

impl FinalState {
    /// Decodes [`OUT_LEN`] bytes of output.
    pub fn from_output(out: &[u8]) -> FinalState {
        let mut regs = [0u64; 10];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u64::from_le_bytes(out[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        }
        FinalState {
            regs,
            area: out[80..OUT_LEN].to_vec(),
        }
    }
}
