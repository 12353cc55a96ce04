//! Random programs the kernel's verifier accepts: straight-line arithmetic,
//! byte swaps, stack loads/stores/atomics at constant offsets, forward
//! conditional jumps, `may_goto` and calls of subprograms, over scalar
//! registers r0-r9.
//!
//! A program is a body of [`Item`]s; jumps name the item they land on, so
//! items can be removed (to minimise a failing program) without breaking
//! jump targets. [`crate::frame`] wraps the body in a prologue that
//! initialises every register and the stack area, and an epilogue that
//! writes the final registers and stack area to memory.

use ebee_isa::{AluOp, AtomicOp, ByteOrder, Imm64Kind, Insn, JmpCond, Operand, Reg, Size, Width};

use crate::rng::Rng;

/// The stack bytes a body may load, store and update: `len` bytes from
/// `r10 + lo`, all initialised by the prologue.
#[derive(Debug, Clone, Copy)]
pub struct Area {
    /// Lowest offset from r10.
    pub lo: i16,
    /// Size in bytes (a multiple of 8).
    pub len: usize,
}

/// What a body may refer to.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    /// Its stack area.
    pub area: Area,
    /// How many subprograms it may call (0 inside subprograms).
    pub subprogs: usize,
}

/// One element of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// Any instruction but a jump.
    Plain(Insn),
    /// A forward conditional jump to the item with index `target` (the body's
    /// length means the epilogue).
    Jump {
        /// JMP or JMP32.
        width: Width,
        /// The condition.
        cond: JmpCond,
        /// Left operand.
        dst: Reg,
        /// Right operand.
        src: Operand,
        /// Index of the item jumped to.
        target: usize,
    },
    /// An unconditional forward jump (`goto`, or `gotol` when `long`) to
    /// item `target`. Generated only as the end of the "then" branch of an
    /// if/else, so the items it skips stay reachable (the kernel rejects
    /// unreachable instructions).
    Ja {
        /// Encoded as `gotol` (32-bit offset).
        long: bool,
        /// Index of the item jumped to.
        target: usize,
    },
    /// `may_goto` to item `target`: falls through (the loop budget is never
    /// exhausted in a loop-free program), but the verifier explores both.
    MayGoto {
        /// Index of the item jumped to.
        target: usize,
    },
    /// A call of subprogram `subprog`, then `r1`-`r5` set to `reinit` (the
    /// verifier forbids reading the argument registers after a call).
    Call {
        /// Index of the subprogram.
        subprog: usize,
        /// New values of r1..r5.
        reinit: [u64; 5],
    },
}

/// 64-bit values that sit on the edges arithmetic gets wrong.
const EDGES: [u64; 22] = [
    0,
    1,
    2,
    3,
    7,
    8,
    31,
    32,
    63,
    64,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
];

/// A 64-bit value: an edge, its negation, a small number or random bits.
pub fn value64(rng: &mut Rng) -> u64 {
    match rng.below(6) {
        0 => rng.pick(&EDGES),
        1 => rng.pick(&EDGES).wrapping_neg(),
        2 => rng.pick(&EDGES).wrapping_sub(1),
        3 => (rng.below(33) as i64 - 16) as u64,
        4 => rng.next_u64() as u32 as i32 as i64 as u64,
        _ => rng.next_u64(),
    }
}

/// A 32-bit immediate.
pub fn imm32(rng: &mut Rng) -> i32 {
    value64(rng) as i32
}

fn reg(rng: &mut Rng) -> Reg {
    Reg::new(rng.below(10) as u8).expect("r0-r9")
}

fn width(rng: &mut Rng) -> Width {
    if rng.chance(1, 2) {
        Width::W64
    } else {
        Width::W32
    }
}

const BINARY_OPS: [AluOp; 14] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::Arsh,
];

fn alu(rng: &mut Rng) -> Insn {
    let width = width(rng);
    let dst = reg(rng);
    // Sign-extending moves exist only with a register source; movsx32 only at 64 bits.
    if rng.chance(1, 8) {
        let op = match (width, rng.below(3)) {
            (_, 0) => AluOp::MovSx8,
            (_, 1) => AluOp::MovSx16,
            (Width::W64, _) => AluOp::MovSx32,
            (Width::W32, _) => AluOp::MovSx8,
        };
        return Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Reg(reg(rng)),
        };
    }
    let op = rng.pick(&BINARY_OPS);
    let bits = match width {
        Width::W32 => 32,
        Width::W64 => 64,
    };
    let src = if rng.chance(1, 2) {
        Operand::Reg(reg(rng))
    } else {
        Operand::Imm(match op {
            // The verifier rejects shifts by an immediate >= the width.
            AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => rng.below(bits) as i32,
            // ... and division by an immediate zero.
            AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod => match imm32(rng) {
                0 => -1,
                n => n,
            },
            _ => imm32(rng),
        })
    };
    Insn::Alu {
        width,
        op,
        dst,
        src,
    }
}

fn endian(rng: &mut Rng) -> Insn {
    Insn::Endian {
        order: rng.pick(&[ByteOrder::Le, ByteOrder::Be, ByteOrder::Swap]),
        bits: rng.pick(&[16, 32, 64]),
        dst: reg(rng),
    }
}

/// A stack offset inside the area, aligned to `size` (the verifier insists
/// on aligned stack accesses).
fn area_offset(rng: &mut Rng, area: Area, size: Size) -> i16 {
    let n = size.bytes() as usize;
    area.lo + (rng.below(area.len / n) * n) as i16
}

fn size(rng: &mut Rng) -> Size {
    rng.pick(&[Size::B, Size::H, Size::W, Size::DW])
}

fn load(rng: &mut Rng, area: Area) -> Insn {
    let size = size(rng);
    Insn::Load {
        size,
        signed: size != Size::DW && rng.chance(1, 2),
        dst: reg(rng),
        src: Reg::FP,
        off: area_offset(rng, area, size),
    }
}

fn store(rng: &mut Rng, area: Area) -> Insn {
    let size = size(rng);
    Insn::Store {
        size,
        dst: Reg::FP,
        off: area_offset(rng, area, size),
        src: if rng.chance(1, 3) {
            Operand::Imm(imm32(rng))
        } else {
            Operand::Reg(reg(rng))
        },
    }
}

fn atomic(rng: &mut Rng, area: Area) -> Insn {
    // Load-acquire and store-release (Linux 6.15+), any size.
    if rng.chance(1, 4) {
        let size = size(rng);
        let off = area_offset(rng, area, size);
        return if rng.chance(1, 2) {
            Insn::Atomic {
                size,
                op: AtomicOp::LoadAcquire,
                dst: reg(rng),
                src: Reg::FP,
                off,
            }
        } else {
            Insn::Atomic {
                size,
                op: AtomicOp::StoreRelease,
                dst: Reg::FP,
                src: reg(rng),
                off,
            }
        };
    }
    let size = rng.pick(&[Size::W, Size::DW]);
    let fetch = rng.chance(1, 2);
    let op = match rng.below(6) {
        0 => AtomicOp::Add { fetch },
        1 => AtomicOp::Or { fetch },
        2 => AtomicOp::And { fetch },
        3 => AtomicOp::Xor { fetch },
        4 => AtomicOp::Xchg,
        _ => AtomicOp::CmpXchg,
    };
    Insn::Atomic {
        size,
        op,
        dst: Reg::FP,
        src: reg(rng),
        off: area_offset(rng, area, size),
    }
}

fn lddw(rng: &mut Rng) -> Insn {
    Insn::LdImm64 {
        dst: reg(rng),
        kind: Imm64Kind::Imm,
        imm: value64(rng) as i64,
    }
}

/// A conditional jump to item `target`.
fn jump_to(rng: &mut Rng, target: usize) -> Item {
    Item::Jump {
        width: width(rng),
        cond: rng.pick(&JmpCond::ALL),
        dst: reg(rng),
        src: if rng.chance(1, 2) {
            Operand::Reg(reg(rng))
        } else {
            Operand::Imm(imm32(rng))
        },
        target,
    }
}

/// A conditional jump at item `at` of a body of about `len` items: mostly
/// short hops, sometimes to the end.
fn jump(rng: &mut Rng, at: usize, len: usize) -> Item {
    let target = if rng.chance(1, 8) {
        len.max(at + 1)
    } else {
        (at + 1 + rng.below(6)).min(len.max(at + 1))
    };
    jump_to(rng, target)
}

/// A random instruction that is not a jump.
fn plain(rng: &mut Rng, area: Area) -> Insn {
    match rng.below(85) {
        0..=44 => alu(rng),
        45..=49 => Insn::Neg {
            width: width(rng),
            dst: reg(rng),
        },
        50..=57 => endian(rng),
        58..=62 => lddw(rng),
        63..=70 => load(rng, area),
        71..=78 => store(rng, area),
        _ => atomic(rng, area),
    }
}

/// `if cond goto else; <then>; goto end; else: <else>; end:` starting at
/// item `at`: the conditional jump, `then` plain items, the `goto`, and
/// `other` plain items.
fn if_else(rng: &mut Rng, area: Area, at: usize, then: usize, other: usize) -> Vec<Item> {
    let else_at = at + 1 + then + 1;
    let mut out = Vec::with_capacity(then + other + 2);
    out.push(jump_to(rng, else_at));
    out.extend((0..then).map(|_| Item::Plain(plain(rng, area))));
    out.push(Item::Ja {
        long: rng.chance(1, 2),
        target: else_at + other,
    });
    out.extend((0..other).map(|_| Item::Plain(plain(rng, area))));
    out
}

/// A random body of about `len` items; every subprogram of `scope` is
/// called at least once (the kernel rejects unreachable code).
pub fn body(rng: &mut Rng, len: usize, scope: Scope) -> Vec<Item> {
    let mut items = Vec::with_capacity(len + 8 + scope.subprogs);
    let mut uncalled: Vec<usize> = (0..scope.subprogs).collect();
    while items.len() < len || !uncalled.is_empty() {
        let at = items.len();
        if !uncalled.is_empty() && (items.len() >= len || rng.chance(1, 12)) {
            let subprog = uncalled.pop().expect("nonempty");
            items.push(call(rng, subprog));
        } else if scope.subprogs > 0 && rng.chance(1, 30) {
            let subprog = rng.below(scope.subprogs);
            items.push(call(rng, subprog));
        } else if rng.chance(1, 25) {
            let (then, other) = (1 + rng.below(3), 1 + rng.below(3));
            items.extend(if_else(rng, scope.area, at, then, other));
        } else if rng.chance(1, 60) {
            items.push(Item::MayGoto {
                target: (at + 1 + rng.below(4)).min(len.max(at + 1)),
            });
        } else if rng.chance(3, 20) {
            items.push(jump(rng, at, len));
        } else {
            items.push(Item::Plain(plain(rng, scope.area)));
        }
    }
    items
}

fn call(rng: &mut Rng, subprog: usize) -> Item {
    let mut reinit = [0u64; 5];
    for v in &mut reinit {
        *v = value64(rng);
    }
    Item::Call { subprog, reinit }
}

/// The body without item `i`; jumps past it move back by one, jumps to it
/// land on its successor.
pub fn without(items: &[Item], i: usize) -> Vec<Item> {
    items
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, item)| match *item {
            Item::Jump {
                width,
                cond,
                dst,
                src,
                target,
            } => Item::Jump {
                width,
                cond,
                dst,
                src,
                target: if target > i { target - 1 } else { target },
            },
            Item::Ja { long, target } => Item::Ja {
                long,
                target: if target > i { target - 1 } else { target },
            },
            Item::MayGoto { target } => Item::MayGoto {
                target: if target > i { target - 1 } else { target },
            },
            plain => plain,
        })
        .collect()
}
