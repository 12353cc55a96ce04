//! eBPF → Cranelift IR, one native function per eBPF function.
//!
//! Registers are Cranelift [`Variable`]s so the SSA builder and the register
//! allocator keep them in machine registers; the frame pointer `r10` starts
//! at the top of this call's 512-byte frame. Each concern has its own file:
//! arithmetic (`alu.rs`), memory and atomics (`mem.rs`), jumps and the
//! instruction budget (`jump.rs`), calls (`call.rs`), the checked mode's
//! bounds checks (`check.rs`), and verified mode's jump tables for compare
//! trees (`switch.rs`) and copied exit blocks (`exit_tail.rs`).

mod alu;
mod call;
mod check;
mod exit_tail;
mod jump;
mod map_lookup;
mod mem;
mod select;
mod stub;
mod switch;
mod versioned_loop;

pub(crate) use map_lookup::{inline_arrays, InlineArrays};
pub(crate) use stub::{build_check_stub, check_stub_signature};

use crate::blinding::Blinding;
use crate::context::offsets;
use crate::control_flow::{function_shape, insn_pcs, local_call_targets, BlockInfo, FunctionShape};
use crate::error::JitError;
use crate::loop_shape::versioned_loops;
use crate::runtime_calls::RuntimeFns;
use cranelift_codegen::ir::{
    self, types::I64, AbiParam, Block, FuncRef, InstBuilder, MemFlagsData, Signature, Value,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use ebee_isa::{Imm64Kind, Insn};
use std::collections::{HashMap, HashSet};

/// How one native function is translated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TranslateMode {
    /// Emit bounds checks and the instruction budget.
    pub checked: bool,
    /// Let Cranelift optimise (its e-graph pass).
    pub optimize: bool,
    /// Blind the program's immediates with this key (`blinding.rs`).
    pub blind: Option<Blinding>,
    /// The program is a tail-call target: its entry function's `exit` may
    /// return to a subprogram's caller (a tail call made in a subprogram),
    /// which reads `r1`-`r5` in checked mode.
    pub tail_target: bool,
}

/// What a translation is for: the mode, the target's conventions, and
/// what is known of the program's maps.
#[derive(Clone, Copy)]
pub(crate) struct TargetInfo<'a> {
    /// Checked or verified.
    pub mode: TranslateMode,
    /// How to call into Rust.
    pub rt: RuntimeFns,
    /// Pointer width and such.
    pub frontend: TargetFrontendConfig,
    /// Array maps whose lookups are computed inline (`map_lookup.rs`).
    pub inline: &'a InlineArrays,
}

/// The signature of every compiled eBPF function:
/// `(ctx, frame_top, r0, r1, ..., r9) -> r0`. The caller's whole register
/// file goes in, because in the interpreter a callee (or tail-call target)
/// sees it.
pub(crate) fn bpf_function_signature(call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    for _ in 0..12 {
        sig.params.push(AbiParam::new(I64));
    }
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Memory flags for the program's own loads and stores: unaligned accesses
/// are legal in eBPF, so only the defaults.
pub(crate) fn program_mem_flags() -> MemFlagsData {
    MemFlagsData::new()
}

/// Memory flags for the context block, always valid and aligned.
pub(crate) fn context_flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// State while translating one function.
pub(crate) struct FunctionTranslator<'a, 'b> {
    pub b: FunctionBuilder<'b>,
    pub insns: &'a [Insn],
    pub mode: TranslateMode,
    pub regs: [Variable; 11],
    /// Remaining instruction budget (checked mode).
    pub budget: Variable,
    /// Whether `r10` keeps this call's frame top throughout the function
    /// (no reachable instruction writes it).
    pub r10_is_frame_top: bool,
    /// `may_goto` fall-throughs left in this invocation.
    pub may_goto_left: Variable,
    pub ctx: Value,
    pub frame_top: Value,
    pub frame_lo: Value,
    pub mem_lo: Value,
    pub mem_bound: [Value; 4],
    pub blocks: HashMap<usize, Block>,
    /// Returns 0 after a fault or tail call was recorded by Rust.
    pub stop_block: Block,
    /// Records a fault `(code, pc, value)` in Rust, then stops.
    pub fault_block: Block,
    pub rt: RuntimeFns,
    pub local_funcs: &'a HashMap<usize, FuncRef>,
    /// The address of the `preserve_all` slow-path stub (checked mode).
    pub check_stub: Option<u64>,
    /// Blocks that record "fell off the end" for a jump at a pc, filled last.
    pub off_end_blocks: Vec<(Block, usize)>,
    /// Accesses compiled without a check (inside a versioned loop's fast
    /// version, whose guard checked them).
    pub unchecked_pcs: HashSet<usize>,
    /// Translating a versioned loop's fast version (no budget tests).
    pub in_fast_loop: bool,
    /// Instructions after the one being translated in its basic block.
    pub after_in_block: u64,
    /// Jumps turned into selects, by pc (`select.rs`).
    pub selects: HashMap<usize, select::BranchSelect>,
    /// While translating a versioned loop's fast copy: how it charges the
    /// budget (`versioned_loop.rs`).
    pub fast_pass: Option<versioned_loop::FastPass>,
    /// The start pc of the basic block being translated.
    pub current_block: usize,
    /// Constant blinding: the key, and the key loaded at the function's
    /// entry at 64 and 32 bits.
    pub blind_key: Option<(Blinding, Value, Value)>,
    /// Stack slots kept in variables (`stack_slots.rs`), by offset from
    /// `r10`: the variable and the slot's size.
    pub slots: HashMap<i16, (Variable, ebee_isa::Size)>,
    /// Array maps whose lookups are computed inline (`map_lookup.rs`).
    pub inline: &'a InlineArrays,
    /// Lookups computed inline so far.
    pub inlined: usize,
    /// Exit blocks copied into the jumps that reach them (`exit_tail.rs`).
    pub exit_tails: HashMap<usize, exit_tail::ExitTail>,
    /// Copies of exit tails to fill, with the tail's start pc.
    pub tail_copies: Vec<(Block, usize)>,
    /// Compare trees turned into jump tables, by root pc (`switch.rs`).
    pub switches: HashMap<usize, switch::SwitchTable>,
    /// Whether a bpf-to-bpf call can run this function, so that its `exit`
    /// hands `r1`–`r5` back to a caller (checked mode).
    pub is_call_target: bool,
    /// Instructions in the block being translated.
    pub block_len: u64,
    /// The function's entry pc (budget errors find their block from it).
    pub entry: usize,
    /// Blocks with exactly one predecessor block, by start: an edge into
    /// one needs no budget test, since the error found there can be traced
    /// back to the predecessor (`check.rs`).
    pub single_preds: HashMap<usize, usize>,
}

/// Translates the function starting at `entry` into `func`.
/// `local_funcs` maps entry pcs to the callee references already declared in `func`.
/// Returns how many map lookups it computed inline.
pub(crate) fn translate_function<'a>(
    func: &mut ir::Function,
    fctx: &mut FunctionBuilderContext,
    insns: &'a [Insn],
    entry: usize,
    local_funcs: &'a HashMap<usize, FuncRef>,
    check_stub: Option<u64>,
    target: &TargetInfo<'a>,
) -> Result<usize, JitError> {
    let TargetInfo {
        mode,
        rt,
        frontend,
        inline,
    } = *target;
    let shape = function_shape(insns, entry);
    let mut b = FunctionBuilder::new(func, fctx);
    let entry_block = b.create_block();
    b.append_block_params_for_function_params(entry_block);
    b.switch_to_block(entry_block);
    b.seal_block(entry_block);
    let params = b.block_params(entry_block).to_vec();
    let regs: [Variable; 11] = std::array::from_fn(|_| b.declare_var(I64));
    let budget = b.declare_var(I64);
    let ctx = params[0];
    let frame_top = params[1];
    let zero = b.ins().iconst(I64, 0);
    for (i, r) in regs.iter().enumerate() {
        let v = if i == 10 { frame_top } else { params[i + 2] };
        b.def_var(*r, v);
    }
    let frame_lo = b
        .ins()
        .iadd_imm_s(frame_top, -(crate::context::FRAME_SIZE as i64));
    let (mem_lo, mem_bound, initial_budget) = if mode.checked {
        let f = context_flags();
        let lo = b.ins().load(I64, f, ctx, offsets::MEM_LO);
        let bounds =
            std::array::from_fn(|i| b.ins().load(I64, f, ctx, offsets::MEM_BOUND + 8 * i as i32));
        let budget = b.ins().load(I64, f, ctx, offsets::BUDGET);
        (lo, bounds, budget)
    } else {
        (zero, [zero; 4], zero)
    };
    b.def_var(budget, initial_budget);
    let blind_key = mode.blind.map(|bl| {
        // A load Cranelift cannot see through, so `imm ^ key ^ key` is not
        // folded back into `imm`.
        let addr = b.ins().iconst(I64, bl.key_addr as i64);
        let flags = MemFlagsData::trusted().with_readonly();
        let key64 = b.ins().load(I64, flags, addr, 0);
        let key32 = b.ins().ireduce(ir::types::I32, key64);
        (bl, key64, key32)
    });
    // Each promoted slot starts as the frame's bytes (`stack_slots.rs`).
    let mut slots = HashMap::new();
    for (off, size) in crate::stack_slots::promotable_slots(insns, &shape).unwrap_or_default() {
        let var = b.declare_var(I64);
        let v = mem::sized_load(&mut b, size, false, frame_top, i32::from(off));
        b.def_var(var, v);
        slots.insert(off, (var, size));
    }
    let may_goto_left = b.declare_var(I64);
    let limit = b.ins().iconst(I64, ebee_runtime::MAY_GOTO_LIMIT as i64);
    b.def_var(may_goto_left, limit);

    let mut blocks = HashMap::new();
    for &start in shape.blocks.keys() {
        blocks.insert(start, b.create_block());
    }
    let stop_block = b.create_block();
    b.set_cold_block(stop_block);
    let fault_block = b.create_block();
    b.set_cold_block(fault_block);
    for _ in 0..3 {
        b.append_block_param(fault_block, I64);
    }
    if mode.checked {
        // For the out-of-line checks (see `FunctionTranslator::publish_frame_top`).
        b.ins()
            .store(context_flags(), frame_top, ctx, offsets::CHECK_FRAME_TOP);
    }
    let first = blocks[&entry];
    b.ins().jump(first, &[]);

    let mut t = FunctionTranslator {
        b,
        insns,
        mode,
        regs,
        budget,
        may_goto_left,
        r10_is_frame_top: !shape.writes_r10,
        ctx,
        frame_top,
        frame_lo,
        mem_lo,
        mem_bound,
        blocks,
        stop_block,
        fault_block,
        rt,
        local_funcs,
        check_stub,
        off_end_blocks: Vec::new(),
        unchecked_pcs: HashSet::new(),
        in_fast_loop: false,
        after_in_block: 0,
        selects: HashMap::new(),
        fast_pass: None,
        current_block: 0,
        blind_key,
        slots,
        inline,
        inlined: 0,
        exit_tails: exit_tail::exit_tails(insns, &shape),
        tail_copies: Vec::new(),
        switches: HashMap::new(),
        is_call_target: local_call_targets(insns).any(|t| t == entry)
            || (mode.tail_target && entry == 0),
        block_len: 0,
        entry,
        single_preds: shape
            .blocks
            .values()
            .filter_map(|b| Some((b.start, b.single_pred?)))
            .collect(),
    };
    t.translate_blocks(&shape, entry)?;
    t.emit_exit_tail_copies()?;
    t.emit_off_end_blocks();
    t.emit_fault_block();
    t.b.switch_to_block(stop_block);
    let z = t.b.ins().iconst(I64, 0);
    t.b.ins().return_(&[z]);
    t.b.seal_all_blocks();
    let inlined = t.inlined;
    t.b.finalize(frontend);
    Ok(inlined)
}

impl FunctionTranslator<'_, '_> {
    fn translate_blocks(&mut self, shape: &FunctionShape, entry: usize) -> Result<(), JitError> {
        // Versioned loops (checked mode): outside code enters each through
        // its guard block. Not with blinding: their guards compute
        // constants from the program's immediates (trip counts, slopes).
        let loops = if self.mode.checked && self.blind_key.is_none() {
            versioned_loops(self.insns, shape, entry)
        } else {
            Vec::new()
        };
        // (The entry block must stay: the function starts there.)
        let in_loop =
            |pc: usize| pc == entry || loops.iter().any(|l| (l.first..=l.last).contains(&pc));
        self.selects = select::branch_selects(self.insns, shape, &in_loop);
        let mut skipped: HashSet<usize> = self.selects.values().map(|s| s.ops_start).collect();
        if !self.mode.checked {
            self.switches = switch::switch_tables(self.insns, shape, &skipped);
            skipped.extend(switch::dead_compares(
                self.insns,
                shape,
                &self.switches,
                entry,
            ));
        }
        let mut guarded = HashMap::new();
        for lp in loops {
            let guard = self.b.create_block();
            let checked_entry = self.blocks[&lp.entry];
            self.blocks.insert(lp.entry, guard);
            guarded.insert(lp.first, (lp, guard, checked_entry));
        }
        let starts: Vec<usize> = shape.blocks.keys().copied().collect();
        let mut i = 0;
        while i < starts.len() {
            let start = starts[i];
            if let Some((lp, guard, checked_entry)) = guarded.remove(&start) {
                let range: Vec<usize> = starts[i..]
                    .iter()
                    .take_while(|&&s| s <= lp.last)
                    .copied()
                    .collect();
                i += range.len();
                self.translate_versioned_loop(&lp, guard, checked_entry, &range, &mut |t, s| {
                    t.translate_block(&shape.blocks[&s])
                })?;
            } else {
                if !skipped.contains(&start) {
                    self.translate_block(&shape.blocks[&start])?;
                }
                i += 1;
            }
        }
        Ok(())
    }

    /// Translates one basic block into the Cranelift block `blocks` maps
    /// its start to now.
    fn translate_block(&mut self, info: &BlockInfo) -> Result<(), JitError> {
        let block = self.blocks[&info.start];
        self.b.switch_to_block(block);
        if !info.has_back_pred && self.fast_pass.is_none() {
            // Every predecessor comes earlier and is already emitted:
            // sealing now spares the SSA builder placeholder parameters.
            // (A fast loop copy is emitted in pass order, not pc order.)
            self.b.seal_block(block);
        }
        self.current_block = info.start;
        self.block_len = info.insn_count;
        if self.mode.checked {
            match &self.fast_pass {
                // A fast loop copy charges a whole pass in its last block.
                Some(fp) if info.start == fp.charge_at => self.charge_budget(fp.per_pass),
                Some(_) => {}
                None => self.charge_budget(info.insn_count),
            }
        }
        let mut terminated = false;
        let mut done = 0;
        for pc in insn_pcs(self.insns, info.start, info.end) {
            let insn = self.insns[pc];
            done += 1;
            self.after_in_block = info.insn_count - done;
            terminated = self.translate_insn(pc, &insn)?;
        }
        if !terminated {
            // Fall through into the next block, or off the program's end.
            let last = info.end.saturating_sub(1);
            if self.edge_needs_budget_test(info.end) {
                self.check_budget_at_block_end(last);
            }
            self.jump_to_pc(info.end, last);
        }
        Ok(())
    }

    /// Reads a register.
    pub fn reg(&mut self, r: ebee_isa::Reg) -> Value {
        self.b.use_var(self.regs[r.index() as usize])
    }

    /// Writes a register.
    pub fn set_reg(&mut self, r: ebee_isa::Reg, v: Value) {
        self.b.def_var(self.regs[r.index() as usize], v);
    }

    /// Translates one instruction; returns whether it ended the block.
    fn translate_insn(&mut self, pc: usize, insn: &Insn) -> Result<bool, JitError> {
        match *insn {
            Insn::Alu {
                width,
                op,
                dst,
                src,
            } => self.alu(width, op, dst, src),
            Insn::Neg { width, dst } => self.neg(width, dst),
            Insn::Endian { order, bits, dst } => self.endian(order, bits, dst),
            Insn::LdImm64 { dst, kind, imm } => {
                if kind != Imm64Kind::Imm {
                    return Err(JitError::Unsupported {
                        pc,
                        what: format!("lddw of kind {kind:?} (resolve it before compiling)"),
                    });
                }
                let v = self.imm_const(I64, imm);
                self.set_reg(dst, v);
            }
            Insn::LdImm64Tail => {}
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            } => self.load(pc, size, signed, dst, src, off),
            Insn::Store {
                size,
                dst,
                off,
                src,
            } => self.store(pc, size, dst, off, src),
            Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            } => self.atomic(pc, size, op, dst, src, off),
            Insn::LdPacket { size, index, imm } => self.packet_load(pc, size, index, imm),
            Insn::Ja { .. } => {
                let target = self.insns[pc].branch_target(pc).unwrap_or(0) as usize;
                if self.edge_needs_budget_test(target) {
                    self.check_budget_at_block_end(pc);
                }
                self.jump_to_pc(target, pc);
                return Ok(true);
            }
            Insn::Jump {
                width,
                cond,
                dst,
                src,
                ..
            } => {
                let target = self.insns[pc].branch_target(pc).unwrap_or(0) as usize;
                if let Some(sel) = self.selects.get(&pc).copied() {
                    let taken = self.jump_taken(width, cond, dst, src);
                    self.select_around(pc, taken, sel, target)?;
                    return Ok(true);
                }
                if let Some(table) = self.switches.get(&pc).cloned() {
                    self.switch_jump(pc, &table);
                    return Ok(true);
                }
                self.budget_tested_cond_jump(pc, (width, cond, dst, src), target);
                return Ok(true);
            }
            Insn::MayGoto { .. } => {
                let target = self.insns[pc].branch_target(pc).unwrap_or(0) as usize;
                self.check_budget_at_block_end(pc);
                self.may_goto(pc, target);
                return Ok(true);
            }
            Insn::Call(target) => self.call(pc, target),
            Insn::CallX { reg } => self.callx(pc, reg),
            Insn::Exit => {
                if self.mode.checked && !self.is_call_target {
                    // Only a bpf-to-bpf call site reads the `r1`–`r5` an
                    // `exit` hands back; run from Rust (the program's
                    // entry, a callback, a tail call), this function has
                    // none, so they are dead here. Saying so spares loops
                    // computing values only an exit would read: a pointer
                    // clang keeps in `r5` costs an extra add per pass.
                    let zero = self.b.ins().iconst(I64, 0);
                    use ebee_isa::Reg;
                    for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R4, Reg::R5] {
                        self.set_reg(r, zero);
                    }
                }
                self.exit(pc);
                return Ok(true);
            }
        }
        Ok(false)
    }
}
