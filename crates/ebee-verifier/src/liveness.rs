//! Which registers each instruction may still read before overwriting them
//! ("live"), by a backward fixpoint over each function's control flow.
//!
//! Pruning ignores dead registers: a state remembered at a pc covers a
//! new one there whatever the dead registers hold, since no path from the
//! pc reads them. Linux gets the same effect from its read marks.

use ebee_isa::{AtomicOp, CallTarget, Insn, Operand};

use crate::cfg::Cfg;
use crate::helpers::helper;

/// A set of registers, bit `n` for `rn`.
pub type RegSet = u16;

const ARGS: RegSet = 0b11_1110; // r1..r5
const CALLER_CLOBBERED: RegSet = 0b11_1111; // r0..r5
const FP: RegSet = 1 << 10;

fn bit(r: ebee_isa::Reg) -> RegSet {
    1 << r.index()
}

fn op_bits(o: Operand) -> RegSet {
    match o {
        Operand::Reg(r) => bit(r),
        Operand::Imm(_) => 0,
    }
}

/// Registers read and written by one instruction (`use`, `def`).
fn use_def(insn: &Insn) -> (RegSet, RegSet) {
    match *insn {
        Insn::Alu {
            op:
                ebee_isa::AluOp::Mov
                | ebee_isa::AluOp::MovSx8
                | ebee_isa::AluOp::MovSx16
                | ebee_isa::AluOp::MovSx32,
            dst,
            src,
            ..
        } => (op_bits(src), bit(dst)),
        Insn::Alu { dst, src, .. } => (bit(dst) | op_bits(src), bit(dst)),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => (bit(dst), bit(dst)),
        Insn::LdImm64 { dst, .. } => (0, bit(dst)),
        Insn::LdImm64Tail => (0, 0),
        Insn::Load { dst, src, .. } => (bit(src), bit(dst)),
        Insn::Store { dst, src, .. } => (bit(dst) | op_bits(src), 0),
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::LoadAcquire => (bit(src), bit(dst)),
            AtomicOp::StoreRelease => (bit(dst) | bit(src), 0),
            AtomicOp::CmpXchg => (bit(dst) | bit(src) | 1, 1),
            AtomicOp::Xchg => (bit(dst) | bit(src), bit(src)),
            AtomicOp::Add { fetch }
            | AtomicOp::Or { fetch }
            | AtomicOp::And { fetch }
            | AtomicOp::Xor { fetch } => (bit(dst) | bit(src), if fetch { bit(src) } else { 0 }),
        },
        Insn::LdPacket { index, .. } => (1 << 6 | index.map_or(0, bit), CALLER_CLOBBERED),
        Insn::Ja { .. } | Insn::MayGoto { .. } => (0, 0),
        Insn::Jump { dst, src, .. } => (bit(dst) | op_bits(src), 0),
        Insn::Call(CallTarget::Helper(id)) => {
            let n = helper(id).map_or(5, |h| h.args.len());
            (ARGS & ((1 << (n + 1)) - 2), CALLER_CLOBBERED)
        }
        Insn::Call(_) => (ARGS, CALLER_CLOBBERED),
        Insn::CallX { reg } => (bit(reg) | ARGS, CALLER_CLOBBERED),
        Insn::Exit => (1, 0),
    }
}

/// Registers live before each instruction.
pub fn live_in(insns: &[Insn], cfg: &Cfg) -> Vec<RegSet> {
    let n = insns.len();
    let mut live = vec![0 as RegSet; n];
    let succs = |pc: usize| -> Vec<usize> {
        let insn = &insns[pc];
        let mut v = vec![];
        match insn {
            Insn::Exit => {}
            Insn::Ja { .. } => v.extend(insn.branch_target(pc).map(|t| t as usize)),
            Insn::Jump { .. } | Insn::MayGoto { .. } => {
                v.push(pc + 1);
                v.extend(insn.branch_target(pc).map(|t| t as usize));
            }
            Insn::LdImm64 { .. } => v.push(pc + 2),
            _ => v.push(pc + 1),
        }
        v.retain(|&s| s < n && cfg.func_of(s) == cfg.func_of(pc));
        v
    };
    let mut changed = true;
    while changed {
        changed = false;
        for pc in (0..n).rev() {
            let (u, d) = use_def(&insns[pc]);
            let out = succs(pc).iter().fold(0, |acc, &s| acc | live[s]);
            let new = u | (out & !d) | FP;
            if new != live[pc] {
                live[pc] = new;
                changed = true;
            }
        }
    }
    live
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebee_isa::{AluOp, Reg, Width};

    #[test]
    fn dead_after_overwrite() {
        let mov = |d: Reg, v| Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: d,
            src: Operand::Imm(v),
        };
        let insns = [mov(Reg::R2, 1), mov(Reg::R0, 0), Insn::Exit];
        let cfg = Cfg::build(&insns).unwrap();
        let l = live_in(&insns, &cfg);
        assert_eq!(l[2] & 0x3ff, 1);
        assert_eq!(l[1] & 0x3ff, 0);
        assert_eq!(l[0] & 0x3ff, 0);
    }
}
