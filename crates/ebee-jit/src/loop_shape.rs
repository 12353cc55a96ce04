//! Loops whose memory checks the checked mode can hoist: the analysis half
//! of loop versioning (`translate/versioned_loop.rs` emits the code).
//!
//! A loop qualifies when it is a straight line with side exits: the pcs
//! `first..=last` where `last` jumps back to `first`, entered from outside
//! at exactly one pc `entry`, and every other jump inside leaves the range.
//! Then one pass around the loop, starting at `entry`, follows the same
//! instructions every time, and a symbolic run of that pass gives every
//! register as an affine function of the registers at `entry`
//! ([`Affine`]). Registers that come back as themselves plus a constant
//! step (`delta`) are induction variables or (step 0) invariants; an
//! address made only of those moves by a fixed `slope` per pass, and an
//! exit test comparing one (moving by ±1) against an invariant bounds the
//! number of passes. From the registers at `entry` the guard then knows the
//! first and last address of every such access before the loop starts, and
//! checks those ranges once instead of each access on every pass.

use crate::control_flow::{successors, FunctionShape};
use ebee_isa::{AluOp, Insn, JmpCond, Operand, Reg, Width};

/// `c + sum(coef[j] * r_j)`, all wrapping, over the registers at the loop
/// entry: exactly what the machine computes, since add, sub, multiply and
/// shift left are ring operations modulo 2^64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Affine {
    /// Coefficient of each entry register `r0`..`r10`.
    pub coef: [i64; 11],
    /// The constant term.
    pub c: i64,
}

impl Affine {
    fn constant(c: i64) -> Affine {
        Affine { coef: [0; 11], c }
    }

    fn reg(j: usize) -> Affine {
        let mut coef = [0; 11];
        coef[j] = 1;
        Affine { coef, c: 0 }
    }

    fn add(self, o: Affine) -> Affine {
        Affine {
            coef: std::array::from_fn(|j| self.coef[j].wrapping_add(o.coef[j])),
            c: self.c.wrapping_add(o.c),
        }
    }

    fn scale(self, k: i64) -> Affine {
        Affine {
            coef: self.coef.map(|x| x.wrapping_mul(k)),
            c: self.c.wrapping_mul(k),
        }
    }
}

/// How a loop goes on after its counting exit test: `x cmp n`, where `x`
/// moves by `step` (±1) per pass and `n` is invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoesOnWhile {
    /// Unsigned `x < n` (step +1) or `x > n` (step -1).
    Unsigned,
    /// Signed `x < n` (step +1) or `x > n` (step -1).
    Signed,
    /// `x != n`.
    NotEqual,
}

/// The exit test that bounds the number of passes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TripTest {
    /// The moving side, at the first pass.
    pub x: Affine,
    /// The invariant side.
    pub n: Affine,
    /// +1 or -1: how `x` moves per pass.
    pub step: i64,
    /// The comparison that keeps the loop going.
    pub cmp: GoesOnWhile,
}

/// A load or store whose check the fast version of the loop leaves out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HoistedAccess {
    /// Its pc.
    pub pc: usize,
    /// Its address at the first pass.
    pub addr: Affine,
    /// How much the address moves per pass (|slope| <= 2^16).
    pub slope: i64,
    /// Access size in bytes.
    pub size: u32,
}

/// A loop the checked mode compiles twice: checked, and with the accesses
/// in `hoisted` unchecked behind one guard.
#[derive(Debug, Clone)]
pub(crate) struct VersionedLoop {
    /// First pc (the back edge's target).
    pub first: usize,
    /// The pc of the back-edge jump.
    pub last: usize,
    /// The only pc entered from outside.
    pub entry: usize,
    /// The exit test bounding the passes.
    pub trip: TripTest,
    /// The accesses checked once by the guard.
    pub hoisted: Vec<HoistedAccess>,
    /// Instructions in the loop: an upper bound on what one pass charges.
    pub insns_per_pass: u64,
}

/// At most this many accesses are hoisted per loop (each costs the guard
/// two compares).
const MAX_HOISTED: usize = 8;

/// Larger slopes are left checked, so that `slope * passes` (passes below
/// 2^32) stays far from overflow.
const MAX_SLOPE: i64 = 1 << 16;

/// The loops of the function with entry `func_entry` (blocks `shape`) worth
/// versioning, innermost and disjoint, in pc order.
pub(crate) fn versioned_loops(
    insns: &[Insn],
    shape: &FunctionShape,
    func_entry: usize,
) -> Vec<VersionedLoop> {
    let mut loops: Vec<VersionedLoop> = Vec::new();
    for info in shape.blocks.values() {
        let last = info.end - 1;
        let Some(first) = successors(insns, last).target else {
            continue;
        };
        if first > last || !matches!(insns[last], Insn::Jump { .. } | Insn::Ja { .. }) {
            continue;
        }
        if let Some(l) = analyse(insns, shape, func_entry, first, last) {
            if loops.iter().all(|o| l.first > o.last || l.last < o.first) {
                loops.push(l);
            }
        }
    }
    loops.sort_by_key(|l| l.first);
    loops
}

fn in_range(pc: usize, first: usize, last: usize) -> bool {
    (first..=last).contains(&pc)
}

/// The comparison `jmp` makes, as (unsigned?, strict?, less?) etc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Ult,
    Ule,
    Ugt,
    Uge,
    Slt,
    Sle,
    Sgt,
    Sge,
}

impl Cmp {
    fn of(c: JmpCond) -> Option<Cmp> {
        Some(match c {
            JmpCond::Eq => Cmp::Eq,
            JmpCond::Ne => Cmp::Ne,
            JmpCond::Gt => Cmp::Ugt,
            JmpCond::Ge => Cmp::Uge,
            JmpCond::Lt => Cmp::Ult,
            JmpCond::Le => Cmp::Ule,
            JmpCond::Sgt => Cmp::Sgt,
            JmpCond::Sge => Cmp::Sge,
            JmpCond::Slt => Cmp::Slt,
            JmpCond::Sle => Cmp::Sle,
            JmpCond::Set => return None,
        })
    }

    /// `!(a cmp b)`.
    fn inverse(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Ne,
            Cmp::Ne => Cmp::Eq,
            Cmp::Ult => Cmp::Uge,
            Cmp::Uge => Cmp::Ult,
            Cmp::Ugt => Cmp::Ule,
            Cmp::Ule => Cmp::Ugt,
            Cmp::Slt => Cmp::Sge,
            Cmp::Sge => Cmp::Slt,
            Cmp::Sgt => Cmp::Sle,
            Cmp::Sle => Cmp::Sgt,
        }
    }

    /// `b cmp' a` equal to `a cmp b`.
    fn swapped(self) -> Cmp {
        match self {
            Cmp::Eq => Cmp::Eq,
            Cmp::Ne => Cmp::Ne,
            Cmp::Ult => Cmp::Ugt,
            Cmp::Ugt => Cmp::Ult,
            Cmp::Ule => Cmp::Uge,
            Cmp::Uge => Cmp::Ule,
            Cmp::Slt => Cmp::Sgt,
            Cmp::Sgt => Cmp::Slt,
            Cmp::Sle => Cmp::Sge,
            Cmp::Sge => Cmp::Sle,
        }
    }
}

/// An exit test met on the pass: the loop goes on while `a cmp b`.
struct Candidate {
    a: Affine,
    b: Affine,
    cmp: Cmp,
}

fn analyse(
    insns: &[Insn],
    shape: &FunctionShape,
    func_entry: usize,
    first: usize,
    last: usize,
) -> Option<VersionedLoop> {
    if in_range(func_entry, first, last) {
        return None;
    }
    // The range must be reachable code, block after block.
    let mut pc = first;
    let mut insns_per_pass = 0;
    while pc <= last {
        let b = shape.blocks.get(&pc)?;
        insns_per_pass += b.insn_count;
        pc = b.end;
    }
    if pc != last + 1 {
        return None;
    }
    // Exactly one pc entered from outside.
    let mut entry = None;
    for info in shape.blocks.values() {
        let mut q = info.start;
        while q < info.end {
            let next = q + insns[q].slots().max(1);
            if !in_range(q, first, last) {
                let s = successors(insns, q);
                for t in [s.target, s.fall_through].into_iter().flatten() {
                    if in_range(t, first, last) {
                        if entry.is_some_and(|e| e != t) {
                            return None;
                        }
                        entry = Some(t);
                    }
                }
            }
            q = next;
        }
    }
    let entry = entry?;
    // Inside: only side exits, the back edge, and instructions the
    // symbolic pass models (anything writing a register it cannot follow
    // makes that register unknown).
    let mut regs: [Option<Affine>; 11] = std::array::from_fn(|j| Some(Affine::reg(j)));
    let mut candidates = Vec::new();
    let mut accesses = Vec::new();
    let order = (entry..=last).chain(first..entry);
    for q in order {
        let insn = insns[q];
        match insn {
            Insn::LdImm64Tail => {}
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => {
                let d = dst.index() as usize;
                let s = match src {
                    Operand::Reg(r) => regs[r.index() as usize],
                    Operand::Imm(i) => Some(Affine::constant(i as i64)),
                };
                regs[d] = if width == Width::W64 {
                    alu64(op, regs[d], s, src)
                } else {
                    None
                };
            }
            Insn::Neg { width, dst } => {
                let d = dst.index() as usize;
                regs[d] = match width {
                    Width::W64 => regs[d].map(|a| a.scale(-1)),
                    Width::W32 => None,
                };
            }
            Insn::Endian { dst, .. } => regs[dst.index() as usize] = None,
            Insn::LdImm64 { dst, imm, .. } => {
                regs[dst.index() as usize] = Some(Affine::constant(imm));
            }
            Insn::Load {
                size,
                dst,
                src,
                off,
                ..
            } => {
                if let Some(a) = regs[src.index() as usize] {
                    accesses.push((q, a.add(Affine::constant(off as i64)), size.bytes()));
                }
                regs[dst.index() as usize] = None;
            }
            Insn::Store { size, dst, off, .. } => {
                if let Some(a) = regs[dst.index() as usize] {
                    accesses.push((q, a.add(Affine::constant(off as i64)), size.bytes()));
                }
            }
            Insn::Atomic { dst, src, .. } => {
                // Keeps its own check; forget every register it may write.
                for r in [Reg::R0, dst, src] {
                    regs[r.index() as usize] = None;
                }
            }
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let target = successors(insns, q).target?;
                let goes_on_when_taken = if q == last {
                    if target != first {
                        return None;
                    }
                    true
                } else if in_range(target, first, last) {
                    return None;
                } else {
                    false
                };
                if width == Width::W64 {
                    if let Some(cmp) = Cmp::of(cond) {
                        let a = regs[dst.index() as usize];
                        let b = match src {
                            Operand::Reg(r) => regs[r.index() as usize],
                            Operand::Imm(i) => Some(Affine::constant(i as i64)),
                        };
                        if let (Some(a), Some(b)) = (a, b) {
                            let cmp = if goes_on_when_taken {
                                cmp
                            } else {
                                cmp.inverse()
                            };
                            candidates.push(Candidate { a, b, cmp });
                        }
                    }
                }
            }
            Insn::Ja { .. } => {
                if q != last {
                    return None;
                }
            }
            Insn::Exit
            | Insn::Call(_)
            | Insn::CallX { .. }
            | Insn::MayGoto { .. }
            | Insn::LdPacket { .. } => return None,
        }
    }
    // Each register's step per pass, if it comes back as itself + step.
    let delta: [Option<i64>; 11] = std::array::from_fn(|j| {
        let a = regs[j]?;
        (a.coef == Affine::reg(j).coef).then_some(a.c)
    });
    // How much `a` moves per pass, if it is made of stepping registers only.
    let slope = |a: &Affine| -> Option<i128> {
        let mut s: i128 = 0;
        for (&k, d) in a.coef.iter().zip(delta) {
            if k != 0 {
                s += k as i128 * d? as i128;
            }
        }
        Some(s)
    };
    let trip = candidates.iter().find_map(|c| {
        let (sa, sb) = (slope(&c.a)?, slope(&c.b)?);
        let (x, n, cmp, step) = match (sa, sb) {
            (1 | -1, 0) => (c.a, c.b, c.cmp, sa),
            (0, 1 | -1) => (c.b, c.a, c.cmp.swapped(), sb),
            _ => return None,
        };
        let cmp = match (cmp, step) {
            (Cmp::Ult, 1) | (Cmp::Ugt, -1) => GoesOnWhile::Unsigned,
            (Cmp::Slt, 1) | (Cmp::Sgt, -1) => GoesOnWhile::Signed,
            (Cmp::Ne, _) => GoesOnWhile::NotEqual,
            _ => return None,
        };
        Some(TripTest {
            x,
            n,
            step: step as i64,
            cmp,
        })
    })?;
    let hoisted: Vec<HoistedAccess> = accesses
        .into_iter()
        .filter_map(|(pc, addr, size)| {
            // Frame addresses are checked statically or against the frame.
            if addr.coef[Reg::R10.index() as usize] != 0 {
                return None;
            }
            let s = slope(&addr)?;
            (s.abs() <= MAX_SLOPE as i128).then_some(HoistedAccess {
                pc,
                addr,
                slope: s as i64,
                size,
            })
        })
        .take(MAX_HOISTED)
        .collect();
    if hoisted.is_empty() {
        return None;
    }
    Some(VersionedLoop {
        first,
        last,
        entry,
        trip,
        hoisted,
        insns_per_pass,
    })
}

/// The symbolic value of a 64-bit ALU operation, if it stays affine.
fn alu64(op: AluOp, d: Option<Affine>, s: Option<Affine>, src: Operand) -> Option<Affine> {
    match op {
        AluOp::Mov => s,
        AluOp::Add => Some(d?.add(s?)),
        AluOp::Sub => Some(d?.add(s?.scale(-1))),
        AluOp::Mul => match src {
            Operand::Imm(i) => Some(d?.scale(i as i64)),
            Operand::Reg(_) => None,
        },
        AluOp::Lsh => match src {
            Operand::Imm(i) => Some(d?.scale(1i64.wrapping_shl(i as u32 & 63))),
            Operand::Reg(_) => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_flow::function_shape;
    use ebee_isa::assemble;

    fn loops(src: &str) -> Vec<VersionedLoop> {
        let insns = assemble(src).unwrap();
        let shape = function_shape(&insns, 0);
        versioned_loops(&insns, &shape, 0)
    }

    #[test]
    fn byte_copy_loop_is_versioned() {
        // clang's byte_copy: two accesses off r1 + r4 and r3 + r4.
        let l = loops(
            "r0 = 0\n r2 = *(u64 *)(r1 + 0)\n if r2 == 0 goto +13\n r1 += 8\n r3 = r1\n \
             r3 += r2\n r4 = 0\n r5 = r3\n r5 += r4\n r6 = r1\n r6 += r4\n \
             r6 = *(u8 *)(r6 + 0)\n *(u8 *)(r5 + 0) = r6\n r0 += r6\n r4 += 1\n \
             if r4 < r2 goto -9\n exit",
        );
        assert_eq!(l.len(), 1);
        let l = &l[0];
        assert_eq!((l.first, l.last, l.entry), (7, 15, 7));
        assert_eq!(l.trip.cmp, GoesOnWhile::Unsigned);
        assert_eq!(l.trip.step, 1);
        assert_eq!(l.hoisted.len(), 2);
        assert!(l.hoisted.iter().all(|h| h.slope == 1 && h.size == 1));
    }

    #[test]
    fn loop_with_call_is_not_versioned() {
        let l =
            loops("r4 = 0\n r3 = *(u8 *)(r1 + 0)\n call 5\n r4 += 1\n if r4 < 10 goto -4\n exit");
        assert!(l.is_empty());
    }
}
