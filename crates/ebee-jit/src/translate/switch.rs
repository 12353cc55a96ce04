//! Compare trees become jump tables (verified mode).
//!
//! eBPF has no indirect jump, so clang lowers a `switch` to a binary
//! search: blocks holding a single `if rX <cond> imm goto` each, on one
//! register. On data-dependent values each level is a branch the
//! predictor misses half the time. When the register was just masked
//! (`rX &= m` with a small `m`), its values are `0..=m`, so the tree's
//! whole decision is known for each value: the first compare becomes one
//! `br_table` over them, to the block the tree reaches for each value (a
//! native `switch` compiles the same way).
//!
//! Skipping the tree's compares would change the instruction count, so
//! checked mode (which charges the budget per block) keeps them.

use super::FunctionTranslator;
use crate::control_flow::{successors, FunctionShape};
use cranelift_codegen::ir::{types::I32, Block, InstBuilder, JumpTableData};
use ebee_isa::{AluOp, Insn, JmpCond, Operand, Reg, Width};
use std::collections::{HashMap, HashSet};

/// The mask must leave at least this many values.
const MIN_VALUES: u64 = 4;
/// And at most this many (the table's entries).
const MAX_VALUES: u64 = 256;
/// A tree must have at least this many compares to be worth a table.
const MIN_COMPARES: usize = 3;
/// Compares followed from the root for one value before giving up (a
/// tree that loops).
const MAX_DEPTH: usize = 64;

/// The jump table replacing a compare tree rooted at one jump.
#[derive(Debug, Clone)]
pub(crate) struct SwitchTable {
    /// The register compared.
    reg: Reg,
    /// For each value `0..=mask` of the register, the pc the tree reaches.
    leaves: Vec<usize>,
    /// The tree's compares (the root's block excluded).
    compares: HashSet<usize>,
}

/// The compare blocks no code reaches once the tables replace their roots
/// (entered only from their tree), which need not be translated; never
/// `entry`.
pub(crate) fn dead_compares(
    insns: &[Insn],
    shape: &FunctionShape,
    tables: &HashMap<usize, SwitchTable>,
    entry: usize,
) -> HashSet<usize> {
    let mut preds: HashMap<usize, Vec<usize>> = HashMap::new();
    for info in shape.blocks.values() {
        let last = info.end - 1;
        let succ = successors(insns, last);
        for s in succ.target.into_iter().chain(succ.fall_through) {
            preds.entry(s).or_default().push(last);
        }
    }
    let mut dead: HashSet<usize> = tables
        .values()
        .flat_map(|t| t.compares.iter().copied())
        .filter(|&c| c != entry)
        .collect();
    // A compare stays dead while every jump into it is a table's root
    // (now a `br_table` that goes elsewhere) or another dead compare.
    loop {
        let alive: Vec<usize> = dead
            .iter()
            .copied()
            .filter(|c| {
                preds.get(c).is_some_and(|ps| {
                    ps.iter()
                        .any(|p| !tables.contains_key(p) && !dead.contains(p))
                })
            })
            .collect();
        if alive.is_empty() {
            return dead;
        }
        for c in alive {
            dead.remove(&c);
        }
    }
}

/// Whether `insn` leaves `r` unchanged (conservatively).
fn keeps(insn: &Insn, r: Reg) -> bool {
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LdImm64 { dst, .. }
        | Insn::Load { dst, .. } => dst != r,
        Insn::Store { .. } | Insn::LdImm64Tail => true,
        _ => false,
    }
}

/// The largest value `r` can hold at the end of the block (before its
/// last instruction) when the last write to it in the block is an `and`
/// with a constant.
fn masked_range(insns: &[Insn], start: usize, last: usize, r: Reg) -> Option<u64> {
    let mut range = None;
    for insn in &insns[start..last] {
        range = match *insn {
            Insn::Alu {
                width,
                op: AluOp::And,
                dst,
                src: Operand::Imm(m),
            } if dst == r => match width {
                Width::W64 if m >= 0 => Some(m as u64),
                Width::W32 => Some(u64::from(m as u32)),
                _ => None,
            },
            ref other if keeps(other, r) => range,
            _ => None,
        };
    }
    range
}

/// Whether the jump `if v <cond> imm` at `width` is taken.
fn taken(width: Width, cond: JmpCond, v: u64, imm: i32) -> bool {
    let (a, b) = match width {
        Width::W64 => (v, imm as i64 as u64),
        Width::W32 => (u64::from(v as u32), u64::from(imm as u32)),
    };
    let (sa, sb) = match width {
        Width::W64 => (a as i64, b as i64),
        Width::W32 => (i64::from(a as u32 as i32), i64::from(b as u32 as i32)),
    };
    match cond {
        JmpCond::Eq => a == b,
        JmpCond::Ne => a != b,
        JmpCond::Gt => a > b,
        JmpCond::Ge => a >= b,
        JmpCond::Lt => a < b,
        JmpCond::Le => a <= b,
        JmpCond::Sgt => sa > sb,
        JmpCond::Sge => sa >= sb,
        JmpCond::Slt => sa < sb,
        JmpCond::Sle => sa <= sb,
        JmpCond::Set => a & b != 0,
    }
}

/// The compare on `r` a block consists of, if it is only that.
fn compare_node(insns: &[Insn], shape: &FunctionShape, pc: usize, r: Reg) -> bool {
    let Some(info) = shape.blocks.get(&pc) else {
        return false;
    };
    info.end == pc + 1
        && matches!(insns[pc], Insn::Jump { dst, src: Operand::Imm(_), .. } if dst == r)
}

/// The compare trees of a function to turn into jump tables, by root jump
/// pc. `skipped` holds block starts that are not translated as blocks
/// (the operations of branch selects): no table may lead there.
pub(crate) fn switch_tables(
    insns: &[Insn],
    shape: &FunctionShape,
    skipped: &HashSet<usize>,
) -> HashMap<usize, SwitchTable> {
    let mut out = HashMap::new();
    for info in shape.blocks.values() {
        let root = info.end - 1;
        let Insn::Jump {
            dst: reg,
            src: Operand::Imm(_),
            ..
        } = insns[root]
        else {
            continue;
        };
        let Some(mask) = masked_range(insns, info.start, root, reg) else {
            continue;
        };
        if !(MIN_VALUES - 1..MAX_VALUES).contains(&mask) {
            continue;
        }
        if let Some(table) = tree_table(insns, shape, skipped, root, reg, mask) {
            out.insert(root, table);
        }
    }
    out
}

/// The table for the tree at `root` over the values `0..=mask` of `reg`.
fn tree_table(
    insns: &[Insn],
    shape: &FunctionShape,
    skipped: &HashSet<usize>,
    root: usize,
    reg: Reg,
    mask: u64,
) -> Option<SwitchTable> {
    let mut compares = HashSet::new();
    let mut leaves = Vec::with_capacity(mask as usize + 1);
    for v in 0..=mask {
        let mut at = root;
        let mut leaf = None;
        for _ in 0..MAX_DEPTH {
            compares.insert(at);
            let Insn::Jump {
                width,
                cond,
                src: Operand::Imm(imm),
                ..
            } = insns[at]
            else {
                return None;
            };
            let next = if taken(width, cond, v, imm) {
                successors(insns, at).target?
            } else {
                at + 1
            };
            if compare_node(insns, shape, next, reg) {
                at = next;
            } else {
                leaf = Some(next);
                break;
            }
        }
        let leaf = leaf?;
        let block = shape.blocks.get(&leaf)?;
        // A leaf emitted before the root and sealed then could not take
        // the table as a new predecessor.
        if skipped.contains(&leaf) || (leaf < root && !block.has_back_pred) {
            return None;
        }
        leaves.push(leaf);
    }
    if compares.len() < MIN_COMPARES {
        return None;
    }
    compares.remove(&root);
    Some(SwitchTable {
        reg,
        leaves,
        compares,
    })
}

impl FunctionTranslator<'_, '_> {
    /// Ends the block at the root `pc` of a compare tree with its table.
    pub(super) fn switch_jump(&mut self, pc: usize, table: &SwitchTable) {
        let v = self.reg(table.reg);
        // The register holds at most `MAX_VALUES - 1` here.
        let index = self.b.ins().ireduce(I32, v);
        let mut block_of: HashMap<usize, Block> = HashMap::new();
        let mut calls = Vec::with_capacity(table.leaves.len());
        for &leaf in &table.leaves {
            let block = match block_of.get(&leaf) {
                Some(&b) => b,
                None => {
                    let b = self.target_block(leaf, pc);
                    block_of.insert(leaf, b);
                    b
                }
            };
            calls.push(self.b.func.dfg.block_call(block, &[]));
        }
        // Every value has its entry; the default is never taken. (Its own
        // call: the SSA builder appends arguments to each call in place.)
        let default = self.b.func.dfg.block_call(block_of[&table.leaves[0]], &[]);
        let jt = self
            .b
            .create_jump_table(JumpTableData::new(default, &calls));
        self.b.ins().br_table(index, jt);
    }
}
