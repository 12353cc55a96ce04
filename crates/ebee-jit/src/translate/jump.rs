//! Jumps: `ja`/`gotol`, conditional jumps at 64 (JMP) and 32 (JMP32) bits.

use super::FunctionTranslator;
use crate::runtime_calls::FaultCode;
use cranelift_codegen::ir::{condcodes::IntCC, types::I32, types::I64, InstBuilder, Value};
use ebee_isa::{JmpCond, Operand, Reg, Width};

impl FunctionTranslator<'_, '_> {
    /// Ends the current block with a jump to `target`; a target past the
    /// program's end (falling off it) records an error at `pc`.
    pub(super) fn jump_to_pc(&mut self, target: usize, pc: usize) {
        if let Some(edge) = self.fast_exit_edge(target) {
            self.b.ins().jump(edge, &[]);
            return;
        }
        if let Some(copy) = self.exit_tail_copy(target) {
            self.b.ins().jump(copy, &[]);
            return;
        }
        match self.blocks.get(&target) {
            Some(&block) => {
                self.b.ins().jump(block, &[]);
            }
            None => {
                let zero = self.b.ins().iconst(I64, 0);
                self.jump_to_fault(FaultCode::FellOffEnd, pc, zero);
            }
        }
    }

    fn jump_operands(&mut self, width: Width, dst: Reg, src: Operand) -> (Value, Value) {
        let ty = match width {
            Width::W64 => I64,
            Width::W32 => I32,
        };
        let narrow = |t: &mut Self, v: Value| {
            if ty == I64 {
                v
            } else {
                t.b.ins().ireduce(ty, v)
            }
        };
        let d = self.reg(dst);
        let d = narrow(self, d);
        let s = match src {
            Operand::Reg(r) => {
                let v = self.reg(r);
                narrow(self, v)
            }
            Operand::Imm(i) => self.imm_const(ty, i as i64),
        };
        (d, s)
    }

    /// Whether the jump `if dst cond src` is taken, as a Cranelift value.
    pub(super) fn jump_taken(
        &mut self,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
    ) -> Value {
        let (d, s) = self.jump_operands(width, dst, src);
        match cond {
            JmpCond::Set => {
                let both = self.b.ins().band(d, s);
                self.b.ins().icmp_imm_u(IntCC::NotEqual, both, 0)
            }
            _ => {
                let cc = match cond {
                    JmpCond::Eq => IntCC::Equal,
                    JmpCond::Ne => IntCC::NotEqual,
                    JmpCond::Gt => IntCC::UnsignedGreaterThan,
                    JmpCond::Ge => IntCC::UnsignedGreaterThanOrEqual,
                    JmpCond::Lt => IntCC::UnsignedLessThan,
                    JmpCond::Le => IntCC::UnsignedLessThanOrEqual,
                    JmpCond::Sgt => IntCC::SignedGreaterThan,
                    JmpCond::Sge => IntCC::SignedGreaterThanOrEqual,
                    JmpCond::Slt => IntCC::SignedLessThan,
                    JmpCond::Sle => IntCC::SignedLessThanOrEqual,
                    JmpCond::Set => unreachable!("handled above"),
                };
                self.b.ins().icmp(cc, d, s)
            }
        }
    }

    pub(super) fn cond_jump(
        &mut self,
        pc: usize,
        width: Width,
        cond: JmpCond,
        dst: Reg,
        src: Operand,
        target: usize,
    ) {
        let taken = self.jump_taken(width, cond, dst, src);
        let next = pc + 1;
        let then_block = self.target_block(target, pc);
        let else_block = self.target_block(next, pc);
        self.b.ins().brif(taken, then_block, &[], else_block, &[]);
    }

    /// `may_goto`: falls through (counting down) until the invocation's
    /// allowance is used up, then jumps.
    pub(super) fn may_goto(&mut self, pc: usize, target: usize) {
        let left = self.b.use_var(self.may_goto_left);
        let count_down = self.b.create_block();
        let taken = self.target_block(target, pc);
        self.b.ins().brif(left, count_down, &[], taken, &[]);
        self.b.seal_block(count_down);
        self.b.switch_to_block(count_down);
        let rest = self.b.ins().iadd_imm_s(left, -1);
        self.b.def_var(self.may_goto_left, rest);
        let next = self.target_block(pc + 1, pc);
        self.b.ins().jump(next, &[]);
    }

    /// The block for `target`, or a block recording "fell off the end".
    pub(super) fn target_block(
        &mut self,
        target: usize,
        pc: usize,
    ) -> cranelift_codegen::ir::Block {
        if let Some(edge) = self.fast_exit_edge(target) {
            return edge;
        }
        if let Some(copy) = self.exit_tail_copy(target) {
            return copy;
        }
        if let Some(&b) = self.blocks.get(&target) {
            return b;
        }
        let off_end = self.b.create_block();
        self.b.set_cold_block(off_end);
        self.off_end_blocks.push((off_end, pc));
        off_end
    }

    /// Fills the blocks made by [`Self::target_block`] once the current
    /// block is finished.
    pub(super) fn emit_off_end_blocks(&mut self) {
        for (block, pc) in std::mem::take(&mut self.off_end_blocks) {
            self.b.switch_to_block(block);
            let zero = self.b.ins().iconst(I64, 0);
            self.jump_to_fault(FaultCode::FellOffEnd, pc, zero);
        }
    }
}
