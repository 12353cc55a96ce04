//! Exit tails are copied into each jump that reaches them (verified mode).
//!
//! clang ends a function with one shared `exit` block (often after a move
//! into `r0`) that every return path jumps to. Kept shared, a loop whose
//! exit test leaves for it ends with `jcc exit; jmp header`: Cranelift lays
//! the shared block out after the other return paths, so neither branch
//! falls through. A private copy for each jump is laid out right after its
//! only predecessor, the branch is inverted to `jcc header` and the copy
//! falls through, as a native compiler duplicates its epilogues; values
//! used only on the way out (`r0 = 0` before the exit test) are computed in
//! the copy instead of in the loop.
//!
//! A tail is a basic block of at most [`MAX_TAIL_OPS`] plain ALU
//! instructions ending in `exit`. In checked mode the exit also charges
//! and tests the budget and stores registers, so copies are only made in
//! verified mode, where an exit is a return.

use super::FunctionTranslator;
use crate::control_flow::{insn_pcs, FunctionShape};
use crate::error::JitError;
use cranelift_codegen::ir::Block;
use ebee_isa::Insn;
use std::collections::HashMap;

/// At most this many instructions before the `exit` of a copied tail.
const MAX_TAIL_OPS: usize = 2;

/// At most this many copies of one tail (each is a function epilogue).
const MAX_COPIES: u32 = 16;

/// A block that may be copied: where it ends, and how many copies exist.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ExitTail {
    /// One past the block's last pc.
    end: usize,
    /// Copies made so far.
    copies: u32,
}

/// The exit tails of a function by start pc.
pub(crate) fn exit_tails(insns: &[Insn], shape: &FunctionShape) -> HashMap<usize, ExitTail> {
    let mut out = HashMap::new();
    for info in shape.blocks.values() {
        let last = info.end - 1;
        if !matches!(insns[last], Insn::Exit) {
            continue;
        }
        let ops = &insns[info.start..last];
        let n_ops = ops
            .iter()
            .filter(|i| !matches!(i, Insn::LdImm64Tail))
            .count();
        if n_ops <= MAX_TAIL_OPS && ops.iter().all(super::select::cheap) {
            out.insert(
                info.start,
                ExitTail {
                    end: info.end,
                    copies: 0,
                },
            );
        }
    }
    out
}

impl FunctionTranslator<'_, '_> {
    /// A fresh copy of the exit tail starting at `target`, to be entered
    /// only from the block being translated; `None` when `target` starts no
    /// tail (or in checked mode).
    pub(super) fn exit_tail_copy(&mut self, target: usize) -> Option<Block> {
        if self.mode.checked || self.fast_pass.is_some() {
            return None;
        }
        let tail = self.exit_tails.get_mut(&target)?;
        if tail.copies >= MAX_COPIES {
            return None;
        }
        tail.copies += 1;
        let block = self.b.create_block();
        self.tail_copies.push((block, target));
        Some(block)
    }

    /// Fills the copies [`Self::exit_tail_copy`] made; each one's only
    /// predecessor is finished by now.
    pub(super) fn emit_exit_tail_copies(&mut self) -> Result<(), JitError> {
        for (block, start) in std::mem::take(&mut self.tail_copies) {
            let end = self.exit_tails[&start].end;
            self.b.switch_to_block(block);
            self.b.seal_block(block);
            for pc in insn_pcs(self.insns, start, end) {
                let insn = self.insns[pc];
                self.translate_insn(pc, &insn)?;
            }
        }
        Ok(())
    }
}
