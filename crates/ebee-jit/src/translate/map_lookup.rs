//! `bpf_map_lookup_elem` on an `array` map the program names with a
//! constant, computed in native code as the kernel's JIT does
//! (`array_map_gen_lookup`): `r0 = key < max_entries ? base + key * stride
//! : NULL`, with no call into Rust.
//!
//! The map is known when `r1` was set by `lddw r1, handle` earlier in the
//! same basic block and the loader declared the handle's array
//! ([`ebee_runtime::Vm::inline_arrays`], only while helper 1 is the
//! runtime's own lookup). The value is the one the helper would return:
//! the element's address inside the map's contiguous storage, which the
//! run can already access (the loader gives every array map a region).
//!
//! Verified mode reads the 4-byte key unchecked, as the verifier proved
//! `r2` points to it. Checked mode inlines only when the key lies in the
//! current stack frame (where clang puts it) and otherwise calls the
//! helper, which reports a bad key pointer exactly as in the interpreter.

use super::{program_mem_flags, FunctionTranslator};
use crate::context::FRAME_SIZE;
use crate::control_flow::writes_reg;
use cranelift_codegen::ir::{condcodes::IntCC, types::I64, InstBuilder, Value};
use ebee_isa::{Imm64Kind, Insn, Reg};
use ebee_runtime::map::ArrayLayout;
use std::collections::HashMap;

/// The helper id of `bpf_map_lookup_elem`.
pub(crate) const MAP_LOOKUP_ELEM: i32 = 1;

/// The arrays whose lookups are inlined, by the handle programs name them by.
pub(crate) type InlineArrays = HashMap<u64, ArrayLayout>;

/// The inline arrays a `Vm` declares.
pub(crate) fn inline_arrays(vm: &ebee_runtime::Vm) -> InlineArrays {
    vm.inline_arrays()
        .iter()
        .map(|a| (a.handle, a.layout))
        .collect()
}

/// Whether `insn` may change `r1`: writes it, or is a call or legacy
/// packet load (which scratch `r1`-`r5` in the kernel's convention).
fn may_write_r1(insn: &Insn) -> bool {
    writes_reg(insn, Reg::R1)
        || matches!(
            insn,
            Insn::Call(_) | Insn::CallX { .. } | Insn::LdPacket { .. }
        )
}

impl FunctionTranslator<'_, '_> {
    /// The constant `r1` holds at the call at `pc`, if the block set it
    /// with `lddw r1, imm` and nothing since could have changed it.
    fn r1_constant_at(&self, pc: usize) -> Option<u64> {
        let mut p = pc;
        while p > self.current_block {
            // No path may enter between the `lddw` and the call.
            if self.blocks.contains_key(&p) {
                return None;
            }
            p -= 1;
            let insn = &self.insns[p];
            if let Insn::LdImm64 {
                dst: Reg::R1,
                kind: Imm64Kind::Imm,
                imm,
            } = *insn
            {
                return Some(imm as u64);
            }
            if may_write_r1(insn) {
                return None;
            }
        }
        None
    }

    /// Translates the helper call at `pc` inline if it is a lookup in a
    /// known array; returns whether it did.
    pub(super) fn try_inline_lookup(&mut self, pc: usize) -> bool {
        let Some(layout) = self
            .r1_constant_at(pc)
            .and_then(|h| self.inline.get(&h).copied())
        else {
            return false;
        };
        self.inlined += 1;
        let key_ptr = self.reg(Reg::R2);
        if !self.mode.checked {
            let r0 = self.array_element(key_ptr, &layout);
            self.set_reg(Reg::R0, r0);
            return true;
        }
        // Checked: inline when the 4-byte key lies in this frame.
        let off = self.b.ins().isub(key_ptr, self.frame_lo);
        let in_frame =
            self.b
                .ins()
                .icmp_imm_u(IntCC::UnsignedLessThanOrEqual, off, FRAME_SIZE as i64 - 4);
        let fast = self.b.create_block();
        let slow = self.b.create_block();
        let join = self.b.create_block();
        self.b.set_cold_block(slow);
        self.b.ins().brif(in_frame, fast, &[], slow, &[]);
        self.b.seal_block(fast);
        self.b.seal_block(slow);
        self.b.switch_to_block(fast);
        let r0 = self.array_element(key_ptr, &layout);
        self.set_reg(Reg::R0, r0);
        self.b.ins().jump(join, &[]);
        self.b.switch_to_block(slow);
        let id = self.b.ins().iconst(I64, MAP_LOOKUP_ELEM as i64);
        self.helper_call(pc, id);
        self.b.ins().jump(join, &[]);
        self.b.seal_block(join);
        self.b.switch_to_block(join);
        true
    }

    /// `key < max_entries ? base + key * stride : 0` for the `u32` key at
    /// `key_ptr`.
    fn array_element(&mut self, key_ptr: Value, layout: &ArrayLayout) -> Value {
        let key = self.b.ins().uload32(program_mem_flags(), key_ptr, 0);
        let inside =
            self.b
                .ins()
                .icmp_imm_u(IntCC::UnsignedLessThan, key, i64::from(layout.max_entries));
        let offset = self.b.ins().imul_imm_u(key, layout.stride as i64);
        let elem = self.b.ins().iadd_imm_s(offset, layout.base as i64);
        let null = self.b.ins().iconst(I64, 0);
        self.b.ins().select(inside, elem, null)
    }
}
