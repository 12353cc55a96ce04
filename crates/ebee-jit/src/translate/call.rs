//! Calls: helpers (through the Rust trampoline), `callx`, bpf-to-bpf calls
//! (real native calls, one native function per eBPF function), and the
//! calls into Rust that record faults and check accesses.
//!
//! A bpf-to-bpf call passes `r1`–`r5` and the callee's frame top
//! (`frame_top + 512`): frames are consecutive 512-byte pieces of one frame
//! area, so the frame top doubles as the depth counter and a call whose
//! frame would end past the area fails with the interpreter's call-depth
//! error. `r6`–`r9` are the callee's own variables, so they survive the call
//! as eBPF requires.

use super::FunctionTranslator;
use crate::context::{offsets, FRAME_SIZE};
use crate::error::JitError;
use crate::runtime_calls::{AccessKind, FaultCode, RuntimeFn};
use cranelift_codegen::ir::{
    condcodes::IntCC, types::I64, AbiParam, InstBuilder, Signature, Value,
};
use ebee_isa::{CallTarget, Reg};

impl FunctionTranslator<'_, '_> {
    /// Calls the Rust function `f` with `args` and returns its results.
    fn call_runtime(&mut self, f: RuntimeFn, args: &[Value]) -> Option<Value> {
        let mut sig = Signature::new(self.rt.call_conv);
        for _ in 0..f.param_count() {
            sig.params.push(AbiParam::new(I64));
        }
        if f.returns_value() {
            sig.returns.push(AbiParam::new(I64));
        }
        let sigref = self.b.import_signature(sig);
        let addr = self.b.ins().iconst(I64, self.rt.address(f) as i64);
        let call = self.b.ins().call_indirect(sigref, addr, args);
        self.b.inst_results(call).first().copied()
    }

    /// Records a fault in Rust; the caller then jumps to the stop block.
    pub(super) fn record_fault(&mut self, code: FaultCode, pc: usize, value: u64) {
        let ctx = self.ctx;
        let code = self.b.ins().iconst(I64, code as i64);
        let pc = self.b.ins().iconst(I64, pc as i64);
        let value = self.b.ins().iconst(I64, value as i64);
        self.call_runtime(RuntimeFn::Fault, &[ctx, code, pc, value]);
    }

    /// Slow-path access check; the result is non-zero when allowed.
    pub(super) fn call_check_access(
        &mut self,
        pc: usize,
        addr: Value,
        size: u32,
        kind: AccessKind,
    ) -> Value {
        let ctx = self.ctx;
        let size = self.b.ins().iconst(I64, size as i64);
        let pc_kind = self
            .b
            .ins()
            .iconst(I64, ((pc as u64) << 1 | kind as u64) as i64);
        self.call_runtime(RuntimeFn::CheckAccess, &[ctx, addr, size, pc_kind])
            .expect("returns a value")
    }

    pub(super) fn call_budget_exhausted(&mut self, start: usize, left: Value) {
        let ctx = self.ctx;
        let start = self.b.ins().iconst(I64, start as i64);
        self.call_runtime(RuntimeFn::BudgetExhausted, &[ctx, start, left]);
    }

    /// Continues only when the run has not been stopped by the last call.
    fn stop_if_stopped(&mut self) {
        let status = self
            .b
            .ins()
            .load(I64, super::context_flags(), self.ctx, offsets::STATUS);
        let go = self.b.create_block();
        self.b.ins().brif(status, self.stop_block, &[], go, &[]);
        self.b.seal_block(go);
        self.b.switch_to_block(go);
    }

    pub(super) fn call_packet_load(&mut self, pc: usize, off: Value, size: u32) -> Value {
        let ctx = self.ctx;
        let size = self.b.ins().iconst(I64, size as i64);
        let pc = self.b.ins().iconst(I64, pc as i64);
        let v = self
            .call_runtime(RuntimeFn::PacketLoad, &[ctx, off, size, pc])
            .expect("returns a value");
        self.stop_if_stopped();
        v
    }

    fn helper_call(&mut self, pc: usize, id: Value) {
        self.spill_budget();
        let ctx = self.ctx;
        let mut args = vec![ctx, id];
        for r in 1..=5 {
            args.push(self.reg(Reg::new(r).expect("valid register")));
        }
        args.push(self.b.ins().iconst(I64, pc as i64));
        let r0 = self
            .call_runtime(RuntimeFn::CallHelper, &args)
            .expect("returns a value");
        self.set_reg(Reg::R0, r0);
        self.stop_if_stopped();
        self.reload_budget();
    }

    pub(super) fn call(&mut self, pc: usize, target: CallTarget) -> Result<(), JitError> {
        match target {
            CallTarget::Helper(id) => {
                let id = self.b.ins().iconst(I64, id as u32 as i64);
                self.helper_call(pc, id);
            }
            CallTarget::Local(_) => {
                let entry = self.insns[pc].branch_target(pc).unwrap_or(-1);
                let callee = usize::try_from(entry)
                    .ok()
                    .and_then(|e| self.local_funcs.get(&e).copied())
                    .ok_or(JitError::BadCallTarget { pc, target: entry })?;
                self.local_call(pc, callee);
            }
            CallTarget::Kfunc { .. } => {
                self.record_fault(FaultCode::Kfunc, pc, 0);
                self.b.ins().jump(self.stop_block, &[]);
                // Code after an unconditional stop is unreachable but must
                // still go somewhere: a fresh, sealed block.
                let dead = self.b.create_block();
                self.b.seal_block(dead);
                self.b.switch_to_block(dead);
            }
        }
        Ok(())
    }

    pub(super) fn callx(&mut self, pc: usize, reg: Reg) {
        let id = self.reg(reg);
        self.helper_call(pc, id);
    }

    fn local_call(&mut self, pc: usize, callee: cranelift_codegen::ir::FuncRef) {
        let new_top = self.b.ins().iadd_imm_s(self.frame_top, FRAME_SIZE as i64);
        let stack_hi = self
            .b
            .ins()
            .load(I64, super::context_flags(), self.ctx, offsets::STACK_HI);
        let too_deep = self
            .b
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, new_top, stack_hi);
        let deep = self.b.create_block();
        let go = self.b.create_block();
        self.b.set_cold_block(deep);
        self.b.ins().brif(too_deep, deep, &[], go, &[]);
        self.b.seal_block(deep);
        self.b.switch_to_block(deep);
        self.record_fault(FaultCode::CallDepth, pc, 0);
        self.b.ins().jump(self.stop_block, &[]);
        self.b.seal_block(go);
        self.b.switch_to_block(go);

        self.spill_budget();
        let mut args = vec![self.ctx, new_top];
        for r in 1..=5 {
            args.push(self.reg(Reg::new(r).expect("valid register")));
        }
        let call = self.b.ins().call(callee, &args);
        let r0 = self.b.inst_results(call)[0];
        self.set_reg(Reg::R0, r0);
        self.stop_if_stopped();
        self.reload_budget();
    }
}
