//! Calls: helpers (through the Rust trampoline, which also performs tail
//! calls), `callx`, bpf-to-bpf calls, and the calls into Rust that record
//! faults and load packet bytes.
//!
//! bpf-to-bpf calls are real native calls: each eBPF function is its own
//! native function taking `(ctx, frame_top, r0..r9)`. As in the
//! interpreter, frames are consecutive 512-byte pieces of one frame area
//! growing down from the entry frame, so the callee's frame top is
//! `frame_top - 512`, which doubles as the depth counter: a call whose
//! frame would start below the area fails with the interpreter's
//! call-depth error. `r6`–`r9` are the callee's own variables, so they
//! survive the call. In checked mode the callee also hands back `r1`–`r5`
//! (through the context), because in the interpreter caller and callee
//! share one register file; verified programs cannot read them after a
//! call, so verified mode skips that.

use super::FunctionTranslator;
use crate::context::{offsets, FRAME_SIZE, TAIL_CALLED};
use crate::runtime_calls::{FaultCode, RuntimeFn};
use cranelift_codegen::ir::{
    condcodes::IntCC, types::I64, AbiParam, BlockArg, FuncRef, InstBuilder, Signature, Value,
};
use ebee_isa::{CallTarget, Reg};

fn reg_n(n: u8) -> Reg {
    Reg::new(n).expect("register number below 11")
}

impl FunctionTranslator<'_, '_> {
    /// Calls the Rust function `f` with `args` and returns its result.
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

    /// Ends the current block by recording `code` at `pc` (with a value,
    /// e.g. an address) and stopping, through the function's shared fault
    /// block.
    pub(super) fn jump_to_fault(&mut self, code: FaultCode, pc: usize, value: Value) {
        let args = self.fault_args(code, pc, value);
        self.b.ins().jump(self.fault_block, &args);
    }

    fn fault_args(&mut self, code: FaultCode, pc: usize, value: Value) -> [BlockArg; 3] {
        let code = self.b.ins().iconst(I64, code.encode() as i64);
        let pc = self.b.ins().iconst(I64, pc as i64);
        [code.into(), pc.into(), value.into()]
    }

    /// Records `code` and stops when `cond` is non-zero. The fault's
    /// arguments are set up in a cold edge block, off the hot path.
    pub(super) fn fault_if(&mut self, cond: Value, code: FaultCode, pc: usize, value: Value) {
        let go = self.b.create_block();
        let fail = self.b.create_block();
        self.b.set_cold_block(fail);
        self.b.ins().brif(cond, fail, &[], go, &[]);
        self.b.seal_block(fail);
        self.b.switch_to_block(fail);
        self.jump_to_fault(code, pc, value);
        self.b.seal_block(go);
        self.b.switch_to_block(go);
    }

    /// Fills the shared fault block: one call into Rust for every fault
    /// site of the function (they never continue, so they can share it).
    pub(super) fn emit_fault_block(&mut self) {
        self.b.switch_to_block(self.fault_block);
        let params = self.b.block_params(self.fault_block).to_vec();
        let ctx = self.ctx;
        self.call_runtime(RuntimeFn::Fault, &[ctx, params[0], params[1], params[2]]);
        self.b.ins().jump(self.stop_block, &[]);
    }

    /// Slow-path access check through the `preserve_all` stub; the result
    /// is non-zero when the access is allowed.
    pub(super) fn call_check_access(
        &mut self,
        pc: usize,
        addr: Value,
        size: u32,
        write: bool,
    ) -> Value {
        let ctx = self.ctx;
        let size = self.b.ins().iconst(I64, size as i64);
        let pc_write = self
            .b
            .ins()
            .iconst(I64, ((pc as u64) << 1 | write as u64) as i64);
        let stub = self.check_stub.expect("checked mode has the stub");
        let sig = self.b.import_signature(super::check_stub_signature());
        let stub = self.b.ins().iconst(I64, stub as i64);
        self.b
            .ins()
            .call_indirect(sig, stub, &[ctx, addr, size, pc_write]);
        let status = self
            .b
            .ins()
            .load(I64, super::context_flags(), self.ctx, offsets::STATUS);
        self.b.ins().icmp_imm_u(IntCC::Equal, status, 0)
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

    pub(super) fn call_packet_load(&mut self, pc: usize, sum: Value, size: u32) -> Value {
        let ctx = self.ctx;
        let size = self.b.ins().iconst(I64, size as i64);
        let pc = self.b.ins().iconst(I64, pc as i64);
        let v = self
            .call_runtime(RuntimeFn::PacketLoad, &[ctx, sum, size, pc])
            .expect("returns a value");
        self.stop_if_stopped();
        v
    }

    /// Before a call at `pc` that may run eBPF code or have effects (checked
    /// mode): stops first if the interpreter would have run out of budget
    /// before the call, then hands the callee the budget without the
    /// instructions after the call in this block, which the block charged
    /// on entry and which have not run yet.
    fn spill_budget_for_call(&mut self, pc: usize) {
        if !self.mode.checked {
            return;
        }
        self.stop_if_budget_ran_out(pc);
        let left = self.budget_left();
        let for_callee = self.b.ins().iadd_imm_s(left, self.after_in_block as i64);
        self.b.ins().store(
            super::context_flags(),
            for_callee,
            self.ctx,
            offsets::BUDGET,
        );
    }

    /// After a call: the budget the callee left, less the rest of this
    /// block again.
    fn reload_budget_after_call(&mut self) {
        if self.mode.checked {
            self.reload_budget();
            self.charge_budget(self.after_in_block);
        }
    }

    pub(super) fn helper_call(&mut self, pc: usize, id: Value) {
        self.spill_budget_for_call(pc);
        if self.mode.checked {
            // A tail-call target starts with the whole register file.
            for (i, r) in (6..=9).enumerate() {
                let v = self.reg(reg_n(r));
                self.b.ins().store(
                    super::context_flags(),
                    v,
                    self.ctx,
                    offsets::CALL_REGS + 8 * i as i32,
                );
            }
        }
        let mut args = vec![self.ctx, id];
        for r in 1..=5 {
            args.push(self.reg(reg_n(r)));
        }
        args.push(self.b.ins().iconst(I64, pc as i64));
        args.push(self.frame_top);
        let r0 = self
            .call_runtime(RuntimeFn::CallHelper, &args)
            .expect("returns a value");
        self.set_reg(Reg::R0, r0);
        // Status: running → go on; tail call finished → return its r0
        // (its exit already stored r1–r5); fault or stop → unwind.
        let status = self
            .b
            .ins()
            .load(I64, super::context_flags(), self.ctx, offsets::STATUS);
        let go = self.b.create_block();
        let not_running = self.b.create_block();
        let tail_done = self.b.create_block();
        self.b.set_cold_block(not_running);
        self.b.ins().brif(status, not_running, &[], go, &[]);
        self.b.seal_block(not_running);
        self.b.switch_to_block(not_running);
        let is_tail = self
            .b
            .ins()
            .icmp_imm_u(IntCC::Equal, status, TAIL_CALLED as i64);
        self.b
            .ins()
            .brif(is_tail, tail_done, &[], self.stop_block, &[]);
        self.b.seal_block(tail_done);
        self.b.switch_to_block(tail_done);
        let zero = self.b.ins().iconst(I64, 0);
        self.b
            .ins()
            .store(super::context_flags(), zero, self.ctx, offsets::STATUS);
        self.b.ins().return_(&[r0]);
        self.b.seal_block(go);
        self.b.switch_to_block(go);
        self.reload_budget_after_call();
    }

    pub(super) fn call(&mut self, pc: usize, target: CallTarget) {
        match target {
            CallTarget::Helper(id) => {
                if id == super::map_lookup::MAP_LOOKUP_ELEM && self.try_inline_lookup(pc) {
                    return;
                }
                let id = self.b.ins().iconst(I64, id as u32 as i64);
                self.helper_call(pc, id);
            }
            CallTarget::Local(_) => {
                // Function entries were planned from these very targets.
                let entry = self.insns[pc].branch_target(pc).unwrap_or(-1);
                match usize::try_from(entry)
                    .ok()
                    .and_then(|e| self.local_funcs.get(&e).copied())
                {
                    Some(callee) => self.local_call(pc, callee),
                    None => {
                        let zero = self.b.ins().iconst(I64, 0);
                        self.jump_to_fault(FaultCode::FellOffEnd, pc, zero);
                        self.continue_in_dead_block();
                    }
                }
            }
            CallTarget::Kfunc { .. } => {
                // `Vm::new` rejects kfunc calls, so this is never compiled;
                // stop rather than guess if it ever is.
                let zero = self.b.ins().iconst(I64, 0);
                self.jump_to_fault(FaultCode::FellOffEnd, pc, zero);
                self.continue_in_dead_block();
            }
        }
    }

    /// After an unconditional stop, code that follows in the same eBPF block
    /// is unreachable but must still go somewhere: a fresh, sealed block.
    fn continue_in_dead_block(&mut self) {
        let dead = self.b.create_block();
        self.b.seal_block(dead);
        self.b.switch_to_block(dead);
    }

    pub(super) fn callx(&mut self, pc: usize, reg: Reg) {
        let id = self.reg(reg);
        self.helper_call(pc, id);
    }

    fn local_call(&mut self, pc: usize, callee: FuncRef) {
        let new_top = self
            .b
            .ins()
            .iadd_imm_s(self.frame_top, -(FRAME_SIZE as i64));
        let min_top = self.b.ins().load(
            I64,
            super::context_flags(),
            self.ctx,
            offsets::MIN_FRAME_TOP,
        );
        let too_deep = self.b.ins().icmp(IntCC::UnsignedLessThan, new_top, min_top);
        let zero = self.b.ins().iconst(I64, 0);
        self.fault_if(too_deep, FaultCode::CallDepth, pc, zero);

        self.spill_budget_for_call(pc);
        let mut args = vec![self.ctx, new_top];
        for r in 0..=9 {
            args.push(self.reg(reg_n(r)));
        }
        let call = self.b.ins().call(callee, &args);
        let r0 = self.b.inst_results(call)[0];
        self.set_reg(Reg::R0, r0);
        self.stop_if_stopped();
        self.reload_budget_after_call();
        if self.mode.checked {
            self.publish_frame_top();
            for r in 1..=5u8 {
                let v = self.b.ins().load(
                    I64,
                    super::context_flags(),
                    self.ctx,
                    offsets::RET_REGS + 8 * (r as i32 - 1),
                );
                self.set_reg(reg_n(r), v);
            }
        }
    }

    /// Stores this function's frame top in the context for the out-of-line
    /// checks (on entry and when a callee returns).
    pub(super) fn publish_frame_top(&mut self) {
        self.b.ins().store(
            super::context_flags(),
            self.frame_top,
            self.ctx,
            offsets::CHECK_FRAME_TOP,
        );
    }

    /// `exit`: in checked mode, test the budget and hand `r1`–`r5` and the
    /// budget back to the caller through the context; return `r0`.
    pub(super) fn exit(&mut self, pc: usize) {
        if self.mode.checked {
            self.check_budget(pc);
            for r in 1..=5u8 {
                let v = self.reg(reg_n(r));
                self.b.ins().store(
                    super::context_flags(),
                    v,
                    self.ctx,
                    offsets::RET_REGS + 8 * (r as i32 - 1),
                );
            }
            self.spill_budget();
        }
        let r0 = self.reg(Reg::R0);
        self.b.ins().return_(&[r0]);
    }
}
