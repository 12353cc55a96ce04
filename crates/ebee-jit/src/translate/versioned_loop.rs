//! Loop versioning in checked mode: a loop found by `loop_shape.rs` is
//! compiled twice, and a guard in front of it picks the version.
//!
//! - The **checked** version is the loop as every other code is compiled:
//!   each access checked, the budget tested at the back edge.
//! - The **fast** version leaves out the checks of the hoisted accesses and
//!   the budget test. The guard enters it only when, from the registers at
//!   the loop entry, it has proven that no pass can fault: the number of
//!   passes is below 2^32, the budget covers all of them at the loop's full
//!   length, and every hoisted access stays inside the input buffer at the
//!   first and at the last pass (addresses move linearly and without
//!   wrapping in between, so then at every pass).
//!
//! A run that would fault goes through the checked version, which stops
//! exactly where the interpreter does; a run that would not fault computes
//! the same values either way, and leaves with the budget the interpreter
//! would have (the checked version charges block by block, the fast one a
//! pass at a time, see [`FastPass`]), so what comes after the loop sees the
//! same state.

use super::FunctionTranslator;
use crate::context::size_index;
use crate::loop_shape::{Affine, GoesOnWhile, VersionedLoop};
use cranelift_codegen::ir::{condcodes::IntCC, types::I64, Block, InstBuilder, Value};
use ebee_isa::Reg;
use std::collections::HashMap;

/// How a fast loop copy charges the budget (the guard proved it covers
/// every pass in full, so the copy never tests it): a whole pass at once,
/// in the pass's last block, and on a side exit from an earlier block what
/// the pass ran up to there, so that the code after the loop sees the
/// interpreter's exact budget.
///
/// Charging late keeps the hot path free of copies: the usual way out (the
/// last block's exit test) leaves with the budget the pass already
/// computed, so it needs no edge block of its own, and a side exit's edge
/// reads only the budget at the pass's start. Any value made in one block
/// and read in another is recomputed there when cheap (Cranelift's
/// rematerialisation of `x + k`), which would keep the old `x` alive next
/// to the new one and cost a register copy per pass.
#[derive(Debug, Clone)]
pub(crate) struct FastPass {
    /// Its first and last pc.
    pub range: (usize, usize),
    /// The start pc of the pass's last block, where the pass is charged.
    pub charge_at: usize,
    /// Instructions in one pass.
    pub per_pass: u64,
    /// For each block start: the pass's instructions up to the end of that
    /// block.
    pub done_after: HashMap<usize, u64>,
    /// Exit edges made so far: (edge block, budget charge, target pc).
    pub exits: Vec<(Block, u64, usize)>,
}

/// Passes at or above this make the guard fail: keeps `slope * passes`
/// and `insns * passes` far from overflow.
const MAX_PASSES: i64 = 1 << 32;

/// Instructions in the block starting at `start` (it ends at the next
/// start in `starts`, or after `last`).
fn block_count(insns: &[ebee_isa::Insn], start: usize, starts: &[usize], last: usize) -> u64 {
    let end = starts
        .iter()
        .copied()
        .find(|&s| s > start)
        .unwrap_or(last + 1);
    insns[start..end]
        .iter()
        .filter(|i| !matches!(i, ebee_isa::Insn::LdImm64Tail))
        .count() as u64
}

impl FunctionTranslator<'_, '_> {
    /// In a fast loop copy, for a jump leaving the loop to `target`: the
    /// edge block that charges what the pass ran before going there, if the
    /// budget is not already right (the pass's last block charged it all).
    pub(super) fn fast_exit_edge(&mut self, target: usize) -> Option<Block> {
        let current = self.current_block;
        let fp = self.fast_pass.as_mut()?;
        if (fp.range.0..=fp.range.1).contains(&target)
            || !self.blocks.contains_key(&target)
            || current == fp.charge_at
        {
            return None;
        }
        let done = *fp.done_after.get(&current)?;
        let edge = self.b.create_block();
        // Leaving early is the rare way: keep the pass itself contiguous.
        self.b.set_cold_block(edge);
        fp.exits.push((edge, done, target));
        Some(edge)
    }

    /// `a` evaluated on the current registers.
    fn eval_affine(&mut self, a: &Affine) -> Value {
        let mut acc = self.b.ins().iconst(I64, a.c);
        for (j, &k) in a.coef.iter().enumerate() {
            if k == 0 {
                continue;
            }
            let r = self.reg(Reg::new(j as u8).unwrap_or(Reg::R0));
            let term = if k == 1 {
                r
            } else {
                self.b.ins().imul_imm_s(r, k)
            };
            acc = self.b.ins().iadd(acc, term);
        }
        acc
    }

    /// Emits, in the current (new) block, the guard of `lp`: jumps to
    /// `fast` when no pass can fault, else to `checked`.
    pub(super) fn emit_loop_guard(&mut self, lp: &VersionedLoop, fast: Block, checked: Block) {
        let x = self.eval_affine(&lp.trip.x);
        let n = self.eval_affine(&lp.trip.n);
        // The last pass's index (passes - 1): where the exit test first fails.
        let (hi, lo) = if lp.trip.step > 0 { (n, x) } else { (x, n) };
        let diff = self.b.ins().isub(hi, lo);
        let zero = self.b.ins().iconst(I64, 0);
        let last_pass = match lp.trip.cmp {
            GoesOnWhile::NotEqual => diff,
            GoesOnWhile::Unsigned | GoesOnWhile::Signed => {
                let cc = if lp.trip.cmp == GoesOnWhile::Unsigned {
                    IntCC::UnsignedGreaterThan
                } else {
                    IntCC::SignedGreaterThan
                };
                let more = self.b.ins().icmp(cc, hi, lo);
                self.b.ins().select(more, diff, zero)
            }
        };
        let mut ok = self
            .b
            .ins()
            .icmp_imm_u(IntCC::UnsignedLessThan, last_pass, MAX_PASSES);
        // The budget covers every pass at the loop's full length.
        let passes = self.b.ins().iadd_imm_s(last_pass, 1);
        let need = self.b.ins().imul_imm_s(passes, lp.insns_per_pass as i64);
        let left = self.budget_left();
        let rest = self.b.ins().isub(left, need);
        let covered = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, rest, 0);
        ok = self.b.ins().band(ok, covered);
        for h in &lp.hoisted {
            let a0 = self.eval_affine(&h.addr);
            let d0 = self.b.ins().isub(a0, self.mem_lo);
            let bound = self.mem_bound[size_index(h.size)];
            let in0 = self.b.ins().icmp(IntCC::UnsignedLessThan, d0, bound);
            // d0 < bound < 2^63 and |slope * last_pass| < 2^48: the sum is
            // exact, and a negative one compares as huge.
            let moved = self.b.ins().imul_imm_s(last_pass, h.slope);
            let dl = self.b.ins().iadd(d0, moved);
            let inl = self.b.ins().icmp(IntCC::UnsignedLessThan, dl, bound);
            let both = self.b.ins().band(in0, inl);
            ok = self.b.ins().band(ok, both);
        }
        self.b.ins().brif(ok, fast, &[], checked, &[]);
    }

    /// For each pc outside `lp` that the loop jumps to: a block both copies
    /// leave through, which then goes there, and the block it goes to.
    /// While the copies are translated, `blocks` maps the pc to the shared
    /// block.
    ///
    /// The registers reach the shared block from both copies, so the
    /// values that differ between them arrive as block arguments, passed by
    /// the loop's own branch; values the loop does not change are read
    /// there directly. Were the loop to jump straight to code that other
    /// paths also reach, the values the loop does not change but those
    /// paths do would be block arguments too, and Cranelift recomputes a
    /// cheap one (`r1 + 8`) in the block passing it: in every pass.
    fn shared_exit_blocks(
        &mut self,
        lp: &VersionedLoop,
        starts: &[usize],
    ) -> HashMap<usize, (Block, Block)> {
        let mut out = HashMap::new();
        for (i, &s) in starts.iter().enumerate() {
            let end = starts.get(i + 1).copied().unwrap_or(lp.last + 1);
            let Some(last) = (s..end)
                .rev()
                .find(|&pc| !matches!(self.insns[pc], ebee_isa::Insn::LdImm64Tail))
            else {
                continue;
            };
            let succ = crate::control_flow::successors(self.insns, last);
            for t in [succ.fall_through, succ.target].into_iter().flatten() {
                if (lp.first..=lp.last).contains(&t) || out.contains_key(&t) {
                    continue;
                }
                let Some(&outside) = self.blocks.get(&t) else {
                    continue;
                };
                let shared = self.b.create_block();
                self.blocks.insert(t, shared);
                out.insert(t, (shared, outside));
            }
        }
        out
    }

    /// Translates the blocks of `lp` (`starts`, in order) twice behind its
    /// guard block `guard`, which outside code already jumps to.
    pub(super) fn translate_versioned_loop(
        &mut self,
        lp: &VersionedLoop,
        guard: Block,
        checked_entry: Block,
        starts: &[usize],
        translate_block: &mut dyn FnMut(&mut Self, usize) -> Result<(), crate::error::JitError>,
    ) -> Result<(), crate::error::JitError> {
        let fast: HashMap<usize, Block> =
            starts.iter().map(|&s| (s, self.b.create_block())).collect();
        let exit_blocks = self.shared_exit_blocks(lp, starts);
        self.b.switch_to_block(guard);
        self.emit_loop_guard(lp, fast[&lp.entry], checked_entry);
        // The checked version: inside, the entry is the loop's own block.
        self.blocks.insert(lp.entry, checked_entry);
        for &s in starts {
            translate_block(self, s)?;
        }
        // The fast version: inside, every block is its fast twin.
        let saved: Vec<(usize, Block)> = starts.iter().map(|&s| (s, self.blocks[&s])).collect();
        for (&s, &b) in &fast {
            self.blocks.insert(s, b);
        }
        self.unchecked_pcs = lp.hoisted.iter().map(|h| h.pc).collect();
        self.in_fast_loop = true;
        let order: Vec<usize> = starts
            .iter()
            .copied()
            .filter(|&s| s >= lp.entry)
            .chain(starts.iter().copied().filter(|&s| s < lp.entry))
            .collect();
        let mut done = 0;
        let mut done_after = HashMap::new();
        for &s in &order {
            done += block_count(self.insns, s, starts, lp.last);
            done_after.insert(s, done);
        }
        self.fast_pass = Some(FastPass {
            range: (lp.first, lp.last),
            charge_at: order.last().copied().unwrap_or(lp.entry),
            per_pass: done,
            done_after,
            exits: Vec::new(),
        });
        // In pass order, so that the hot path falls through from block to
        // block and takes one jump per pass (back to the entry).
        let result = order.iter().try_for_each(|&s| translate_block(self, s));
        let exits = self.fast_pass.take().map(|f| f.exits).unwrap_or_default();
        for (edge, done, target) in exits {
            self.b.switch_to_block(edge);
            self.b.seal_block(edge);
            self.charge_budget(done);
            self.jump_to_pc(target, lp.last);
        }
        for (target, (shared, outside)) in exit_blocks {
            self.b.switch_to_block(shared);
            self.b.seal_block(shared);
            self.b.ins().jump(outside, &[]);
            self.blocks.insert(target, outside);
        }
        self.in_fast_loop = false;
        self.unchecked_pcs.clear();
        for (s, b) in saved {
            self.blocks.insert(s, b);
        }
        // Outside code enters through the guard again.
        self.blocks.insert(lp.entry, guard);
        result
    }
}
