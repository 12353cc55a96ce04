//! Short forward branches around a few register operations become selects
//! (`cmov` on x86-64): clang compiles `if (c) x = f(x)` on eBPF to a jump
//! over the assignment, and on data-dependent conditions (the `log2`
//! benchmark's binary search) a mispredicted branch costs more than doing
//! the work and picking.
//!
//! The shape is a conditional jump at `pc` to `target`, whose fall-through
//! block (entered from nowhere else) holds at most [`MAX_OPS`] plain ALU
//! instructions and then either reaches `target` or ends with `goto
//! target`. Both ways lead to `target`; the operations run unconditionally
//! on the side and each register they write, and the budget, take the
//! old or the new value by the condition.

use super::FunctionTranslator;
use crate::control_flow::{successors, FunctionShape};
use crate::error::JitError;
use ebee_isa::{AluOp, Insn, Reg};
use std::collections::{HashMap, HashSet};

/// At most this many operations are done on the side.
const MAX_OPS: usize = 4;

/// One branch turned into selects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BranchSelect {
    /// First pc of the skipped operations.
    pub ops_start: usize,
    /// One past their last pc (a trailing `goto target` excluded).
    pub ops_end: usize,
    /// Instructions the skipped block charges (its `goto` included).
    pub ops_count: u64,
}

/// Whether `insn` is a plain register operation, cheap to do on the side.
pub(super) fn cheap(insn: &Insn) -> bool {
    match insn {
        Insn::Alu { op, .. } => !matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod),
        Insn::Neg { .. } | Insn::Endian { .. } => true,
        Insn::LdImm64 { kind, .. } => *kind == ebee_isa::Imm64Kind::Imm,
        Insn::LdImm64Tail => true,
        _ => false,
    }
}

/// The branches of a function to turn into selects, by jump pc; `avoid`
/// holds pcs (versioned loops) none of the shape may touch.
pub(crate) fn branch_selects(
    insns: &[Insn],
    shape: &FunctionShape,
    avoid: &dyn Fn(usize) -> bool,
) -> HashMap<usize, BranchSelect> {
    // Every jump target: a skipped block must be entered only by falling
    // through from its jump.
    let mut targets = HashSet::new();
    for info in shape.blocks.values() {
        let last = info.end - 1;
        if let Some(t) = successors(insns, last).target {
            targets.insert(t);
        }
    }
    let mut out = HashMap::new();
    for info in shape.blocks.values() {
        let pc = info.end - 1;
        if !matches!(insns[pc], Insn::Jump { .. }) {
            continue;
        }
        let Some(target) = successors(insns, pc).target else {
            continue;
        };
        let ops_start = pc + 1;
        let Some(skipped) = shape.blocks.get(&ops_start) else {
            continue;
        };
        if targets.contains(&ops_start)
            || target >= insns.len()
            || !shape.blocks.contains_key(&target)
        {
            continue;
        }
        let tail = skipped.end - 1;
        let ops_end = if skipped.end == target && target > pc {
            skipped.end
        } else if matches!(insns[tail], Insn::Ja { .. })
            && successors(insns, tail).target == Some(target)
        {
            tail
        } else {
            continue;
        };
        let ops = &insns[ops_start..ops_end];
        let n_ops = ops
            .iter()
            .filter(|i| !matches!(i, Insn::LdImm64Tail))
            .count();
        if n_ops > MAX_OPS || !ops.iter().all(cheap) {
            continue;
        }
        if avoid(pc) || avoid(target) || (ops_start..skipped.end).any(avoid) {
            continue;
        }
        out.insert(
            pc,
            BranchSelect {
                ops_start,
                ops_end,
                ops_count: skipped.insn_count,
            },
        );
    }
    out
}

impl FunctionTranslator<'_, '_> {
    /// Does the skipped operations of `sel` on the side of the jump at `pc`
    /// (condition `taken`) and keeps their results only when it is not
    /// taken; then goes on at `target`.
    pub(super) fn select_around(
        &mut self,
        pc: usize,
        taken: cranelift_codegen::ir::Value,
        sel: BranchSelect,
        target: usize,
    ) -> Result<(), JitError> {
        let old: Vec<_> = (0..11u8)
            .map(|j| self.reg(Reg::new(j).unwrap_or(Reg::R0)))
            .collect();
        let mut q = sel.ops_start;
        while q < sel.ops_end {
            let insn = self.insns[q];
            self.translate_insn(q, &insn)?;
            q += insn.slots().max(1);
        }
        for (j, &before) in old.iter().enumerate() {
            let r = Reg::new(j as u8).unwrap_or(Reg::R0);
            let after = self.reg(r);
            if after != before {
                let v = self.b.ins().select(taken, before, after);
                self.set_reg(r, v);
            }
        }
        if self.mode.checked {
            // The skipped operations are charged when they ran (the jump
            // not taken); they follow the jump, so with the jump's block
            // they are one run of instructions, and one test names the
            // first over budget in either (`check.rs`).
            let zero = self.b.ins().iconst(I64, 0);
            let count = self.b.ins().iconst(I64, sel.ops_count as i64);
            let charge = self.b.ins().select(taken, zero, count);
            self.charge_budget_by(charge);
            self.check_budget_with_extra(pc, Some(charge));
        }
        self.jump_to_pc(target, pc);
        Ok(())
    }
}

use cranelift_codegen::ir::{types::I64, InstBuilder};
