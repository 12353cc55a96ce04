//! The checked mode's run-time guards: memory accesses and the instruction
//! budget.
//!
//! An access is first compared inline against the current 512-byte frame
//! and the input buffer, whose bounds live in registers for the whole
//! function (one subtraction and one unsigned compare each; the frame is
//! tried first when the base register is `r10`). An access through an
//! `r10` the function never writes, at an offset inside the frame, needs
//! no check at all. Only when both miss does
//! native code call `runtime_calls::check_access`, which consults the full
//! region list (caller frames, helper-returned regions) and records the
//! interpreter's error when nothing matches.

use super::FunctionTranslator;
use crate::context::{size_index, FRAME_SIZE};
use crate::runtime_calls::FaultCode;
use cranelift_codegen::ir::{condcodes::IntCC, types::I64, InstBuilder, Value};
use ebee_isa::{JmpCond, Operand, Reg, Width};

impl FunctionTranslator<'_, '_> {
    /// The address `base + off`, checked in checked mode for an access of
    /// `size` bytes. Control continues only when the access is allowed.
    pub(super) fn access_address(
        &mut self,
        pc: usize,
        base: Reg,
        off: i16,
        size: u32,
        write: bool,
    ) -> Value {
        let b = self.reg(base);
        let addr = self.b.ins().iadd_imm_s(b, off as i64);
        if !self.mode.checked || self.unchecked_pcs.contains(&pc) {
            return addr;
        }
        if base == Reg::R10 && self.r10_is_frame_top {
            // `r10` still holds this call's frame top, so `r10 + off` lies in
            // the current frame exactly when the offset does: decided now.
            let end = off as i64 + size as i64;
            if off as i64 >= -(FRAME_SIZE as i64) && end <= 0 {
                return addr;
            }
        }
        // The likelier region first: the frame for `r10`, else the input.
        let (first, second) = if base == Reg::R10 {
            (Region::Frame, Region::Input)
        } else {
            (Region::Input, Region::Frame)
        };
        let ok = self.b.create_block();
        let try_second = self.b.create_block();
        let slow = self.b.create_block();
        // Both out of line: the hot path is one compare and branch.
        self.b.set_cold_block(try_second);
        self.b.set_cold_block(slow);
        let in_first = self.in_region(first, addr, size, false);
        self.b.ins().brif(in_first, ok, &[], try_second, &[]);
        self.b.seal_block(try_second);
        self.b.switch_to_block(try_second);
        let in_second = self.in_region(second, addr, size, true);
        self.b.ins().brif(in_second, ok, &[], slow, &[]);
        self.b.seal_block(slow);
        self.b.switch_to_block(slow);
        self.stop_if_budget_ran_out(pc);
        let allowed = self.call_check_access(pc, addr, size, write);
        self.b.ins().brif(allowed, ok, &[], self.stop_block, &[]);
        self.b.seal_block(ok);
        self.b.switch_to_block(ok);
        addr
    }

    /// Whether `[addr, addr + size)` lies in `region`. Out of line
    /// (`cold`), the frame's bounds come from the context rather than a
    /// register, so the hot path does not keep them alive.
    fn in_region(&mut self, region: Region, addr: Value, size: u32, cold: bool) -> Value {
        match region {
            Region::Frame => {
                let lo = if cold {
                    let top = self.b.ins().load(
                        I64,
                        super::context_flags(),
                        self.ctx,
                        crate::context::offsets::CHECK_FRAME_TOP,
                    );
                    self.b.ins().iadd_imm_s(top, -(FRAME_SIZE as i64))
                } else {
                    self.frame_lo
                };
                let d = self.b.ins().isub(addr, lo);
                self.b.ins().icmp_imm_u(
                    IntCC::UnsignedLessThanOrEqual,
                    d,
                    (FRAME_SIZE - size as u64) as i64,
                )
            }
            Region::Input => {
                let d = self.b.ins().isub(addr, self.mem_lo);
                let bound = self.mem_bound[size_index(size)];
                self.b.ins().icmp(IntCC::UnsignedLessThan, d, bound)
            }
        }
    }

    /// Charges a block of `count` instructions against the budget at its
    /// entry: one subtraction, no test (see [`Self::check_budget`]).
    pub(super) fn charge_budget(&mut self, count: u64) {
        let left = self.b.use_var(self.budget);
        let rest = self.b.ins().iadd_imm_s(left, -(count as i64));
        self.b.def_var(self.budget, rest);
    }

    /// Charges `count` (a value) against the budget.
    pub(super) fn charge_budget_by(&mut self, count: Value) {
        let left = self.b.use_var(self.budget);
        let rest = self.b.ins().isub(left, count);
        self.b.def_var(self.budget, rest);
    }

    /// The budget left now.
    pub(super) fn budget_left(&mut self) -> Value {
        self.b.use_var(self.budget)
    }

    /// At the end of a block and at `exit`: stops with the budget error
    /// once the budget is overdrawn (by less than the block's length, so the
    /// error can name the instruction). Budgets are capped below 2^63, so
    /// the sign is a reliable test.
    pub(super) fn check_budget(&mut self, pc: usize) {
        self.check_budget_with_extra(pc, None);
    }

    /// [`Self::check_budget`] after the block was charged `extra` more
    /// instructions, when given, which directly follow it (a select's
    /// operations).
    pub(super) fn check_budget_with_extra(&mut self, pc: usize, extra: Option<Value>) {
        let left = self.budget_left();
        let overdrawn = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, left, 0);
        self.budget_fault_if(overdrawn, pc, extra);
    }

    /// At the end of a block (its last instruction at `pc`), checked mode
    /// outside a fast loop copy: the budget is tested on every edge, not
    /// only backward ones, so a budget that runs out is caught in the block
    /// where it ran out and the error names the exact instruction.
    pub(super) fn check_budget_at_block_end(&mut self, pc: usize) {
        if self.mode.checked && !self.in_fast_loop {
            self.check_budget(pc);
        }
    }

    /// Whether the edge from the block being translated to `target` needs
    /// the end-of-block budget test: not when `target` has no other
    /// predecessor, because a budget error found in `target` is traced
    /// back into this block (`budget_pc`).
    pub(super) fn edge_needs_budget_test(&self, target: usize) -> bool {
        self.single_preds.get(&target) != Some(&self.current_block)
    }

    /// A conditional jump at `pc` with the budget tested on the edges that
    /// need it (`edge_needs_budget_test`): before the branch when both do,
    /// on its own edge when one does.
    pub(super) fn budget_tested_cond_jump(
        &mut self,
        pc: usize,
        (width, cond, dst, src): (Width, JmpCond, Reg, Operand),
        target: usize,
    ) {
        let next = pc + 1;
        let tested = self.mode.checked && !self.in_fast_loop;
        let taken = tested && self.edge_needs_budget_test(target);
        let fall = tested && self.edge_needs_budget_test(next);
        let one = match (taken, fall) {
            (true, true) => {
                self.check_budget(pc);
                None
            }
            (true, false) => Some(target),
            (false, true) => Some(next),
            (false, false) => None,
        };
        let Some(edge_to) = one else {
            self.cond_jump(pc, width, cond, dst, src, target);
            return;
        };
        let Some(&to) = self.blocks.get(&edge_to) else {
            // Off the program's end: that edge faults anyway.
            self.cond_jump(pc, width, cond, dst, src, target);
            return;
        };
        let edge = self.b.create_block();
        self.blocks.insert(edge_to, edge);
        self.cond_jump(pc, width, cond, dst, src, target);
        self.blocks.insert(edge_to, to);
        self.b.seal_block(edge);
        self.b.switch_to_block(edge);
        self.check_budget(pc);
        self.b.ins().jump(to, &[]);
    }

    /// Before a store or atomic at `pc` through `base` (checked mode, not in
    /// a fast loop copy, whose guard proved the budget): stops if the
    /// interpreter would have run out of budget first, so no memory the
    /// run's caller can see is written past that point. Stores to this
    /// call's own frame are left out: no one sees the stack after a run.
    pub(super) fn stop_before_effect_over_budget(&mut self, pc: usize, base: Reg) {
        if self.in_fast_loop || (base == Reg::R10 && self.r10_is_frame_top) {
            return;
        }
        self.stop_if_budget_ran_out(pc);
    }

    /// Before a fault, a helper or a local call at `pc`: stops with the
    /// budget error instead when the interpreter would have run out before
    /// reaching `pc`. The block was charged in full on entry, so the budget
    /// left at `pc` is the register plus the instructions after `pc` in its
    /// block (`after_in_block`).
    pub(super) fn stop_if_budget_ran_out(&mut self, pc: usize) {
        if !self.mode.checked {
            return;
        }
        let left = self.budget_left();
        let at_pc = self.b.ins().iadd_imm_s(left, self.after_in_block as i64);
        let overdrawn = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, at_pc, 0);
        self.budget_fault_if(overdrawn, pc, None);
    }

    /// Stops with the budget error when `overdrawn`, detected at `pc`. The
    /// interpreter names the first instruction over budget: in this block,
    /// the one whose index is the budget the block started with (the
    /// register plus the block's length), which Rust finds by walking the
    /// block, or, when negative, back through single-predecessor blocks
    /// whose edges skip the test (`FaultCode::BudgetInBlock`,
    /// `control_flow::budget_pc`). In a fast loop copy, which charges a
    /// whole pass at once, the budget register is not the block's own
    /// count, and the error names `pc`.
    fn budget_fault_if(&mut self, overdrawn: Value, pc: usize, extra: Option<Value>) {
        if self.fast_pass.is_some() {
            let zero = self.b.ins().iconst(I64, 0);
            self.fault_if(overdrawn, FaultCode::BudgetExhausted, pc, zero);
            return;
        }
        let left = self.budget_left();
        let mut index = self.b.ins().iadd_imm_s(left, self.block_len as i64);
        if let Some(extra) = extra {
            index = self.b.ins().iadd(index, extra);
        }
        let code = FaultCode::BudgetInBlock {
            start: self.current_block,
        };
        // The fault's pc is the function's entry, to find the block in.
        self.fault_if(overdrawn, code, self.entry, index);
    }

    /// Stores the budget register to the context (before calls that may
    /// run more eBPF code) and reloads it afterwards.
    pub(super) fn spill_budget(&mut self) {
        if self.mode.checked {
            let v = self.budget_left();
            self.b.ins().store(
                super::context_flags(),
                v,
                self.ctx,
                crate::context::offsets::BUDGET,
            );
        }
    }

    /// See [`Self::spill_budget`].
    pub(super) fn reload_budget(&mut self) {
        if self.mode.checked {
            let v = self.b.ins().load(
                I64,
                super::context_flags(),
                self.ctx,
                crate::context::offsets::BUDGET,
            );
            self.b.def_var(self.budget, v);
        }
    }
}

/// The regions checked inline.
#[derive(Clone, Copy)]
enum Region {
    Frame,
    Input,
}
