//! The shape of a program as the JIT sees it: which pcs start native
//! functions, which instructions each function reaches, where its basic
//! blocks begin, and how many instructions each block executes.
//!
//! A native function is compiled for pc 0, for every target of a local
//! call and for every callback (a function whose address the program
//! loads with `lddw rX, func`). It contains every instruction reachable from its entry through
//! jumps and fall-through (not through calls), so a program that jumps from
//! one subprogram into another (which the interpreter allows) still
//! compiles; well-formed programs reach exactly their own subprogram.

use ebee_isa::{CallTarget, Insn};
use std::collections::BTreeMap;

/// One basic block: a run of instructions entered only at its first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlockInfo {
    /// The pc of the first instruction.
    pub start: usize,
    /// The pc one past the last instruction's last slot.
    pub end: usize,
    /// The number of instructions (an `lddw` counts once).
    pub insn_count: u64,
    /// Whether a jump at or after this block's start jumps to it (so it is
    /// entered from code emitted after it).
    pub has_back_pred: bool,
    /// The start of the only block control can come from, when there is
    /// exactly one such edge (never for the function's entry, which its
    /// caller enters).
    pub single_pred: Option<usize>,
}

/// One native function: an entry pc and its basic blocks.
#[derive(Debug, Clone)]
pub(crate) struct FunctionShape {
    /// Its blocks by start pc.
    pub blocks: BTreeMap<usize, BlockInfo>,
    /// Whether a reachable instruction writes `r10`.
    pub writes_r10: bool,
}

/// Whether `insn` itself writes `reg` (the result of a call, `r0`, and
/// `cmpxchg`'s `r0` aside).
pub(crate) fn writes_reg(insn: &Insn, reg: ebee_isa::Reg) -> bool {
    use ebee_isa::AtomicOp;
    match *insn {
        Insn::Alu { dst, .. }
        | Insn::Neg { dst, .. }
        | Insn::Endian { dst, .. }
        | Insn::LdImm64 { dst, .. }
        | Insn::Load { dst, .. } => dst == reg,
        Insn::Atomic { op, dst, src, .. } => match op {
            AtomicOp::LoadAcquire => dst == reg,
            AtomicOp::Add { fetch }
            | AtomicOp::Or { fetch }
            | AtomicOp::And { fetch }
            | AtomicOp::Xor { fetch } => fetch && src == reg,
            AtomicOp::Xchg => src == reg,
            AtomicOp::CmpXchg | AtomicOp::StoreRelease => false,
        },
        _ => false,
    }
}

/// Whether `insn` may write `r10`.
fn writes_r10(insn: &Insn) -> bool {
    writes_reg(insn, ebee_isa::Reg::R10)
}

/// Where execution goes after the instruction at `pc`.
pub(crate) struct Successors {
    /// The next instruction, when control can fall through to it.
    pub fall_through: Option<usize>,
    /// The jump target, for jumps.
    pub target: Option<usize>,
}

/// The successors of the instruction at `pc` (targets as the decoder
/// checked them: inside the program, never inside an `lddw`).
pub(crate) fn successors(insns: &[Insn], pc: usize) -> Successors {
    let insn = &insns[pc];
    let next = pc + insn.slots().max(1);
    let target = |off: i64| Some((pc as i64 + 1 + off) as usize);
    match *insn {
        Insn::Exit => Successors {
            fall_through: None,
            target: None,
        },
        Insn::Ja { off, .. } => Successors {
            fall_through: None,
            target: target(off as i64),
        },
        Insn::Jump { off, .. } | Insn::MayGoto { off } => Successors {
            fall_through: Some(next),
            target: target(off as i64),
        },
        _ => Successors {
            fall_through: Some(next),
            target: None,
        },
    }
}

/// The in-range targets of the program's local calls, one per call.
pub(crate) fn local_call_targets(insns: &[Insn]) -> impl Iterator<Item = usize> + '_ {
    insns
        .iter()
        .enumerate()
        .filter_map(move |(pc, insn)| match insn {
            Insn::Call(CallTarget::Local(_)) => insn
                .branch_target(pc)
                .filter(|&t| t >= 0 && (t as usize) < insns.len())
                .map(|t| t as usize),
            _ => None,
        })
}

/// Every pc a native function must be compiled for, entry first: pc 0,
/// local call targets and `callbacks` (the functions the program takes the
/// address of, which helpers call; out-of-range pcs are ignored).
pub(crate) fn function_entries(insns: &[Insn], callbacks: &[usize]) -> Vec<usize> {
    let mut entries = vec![0];
    entries.extend(
        callbacks
            .iter()
            .copied()
            .filter(|&pc| pc < insns.len() && !matches!(insns[pc], Insn::LdImm64Tail)),
    );
    entries.extend(local_call_targets(insns));
    entries.sort_unstable();
    entries.dedup();
    entries
}

/// The blocks reachable from `entry`. Fall-through past the last
/// instruction is represented by a successor equal to `insns.len()`, which
/// the translator turns into an error exit.
pub(crate) fn function_shape(insns: &[Insn], entry: usize) -> FunctionShape {
    let n = insns.len();
    let mut reached = vec![false; n];
    let mut leader = vec![false; n];
    leader[entry] = true;
    let mut work = vec![entry];
    while let Some(pc) = work.pop() {
        if pc >= n || reached[pc] {
            continue;
        }
        reached[pc] = true;
        let s = successors(insns, pc);
        if let Some(t) = s.target {
            if t < n {
                leader[t] = true;
                // The instruction after a conditional jump starts a block too.
                if let Some(f) = s.fall_through {
                    if f < n {
                        leader[f] = true;
                    }
                }
            }
            work.push(t);
        }
        if let Some(f) = s.fall_through {
            work.push(f);
        }
    }
    let mut back_pred = vec![false; n];
    let mut writes = false;
    for pc in (0..n).filter(|&pc| reached[pc]) {
        writes |= writes_r10(&insns[pc]);
        if let Some(t) = successors(insns, pc).target {
            if t <= pc {
                back_pred[t] = true;
            }
        }
    }
    let mut blocks = BTreeMap::new();
    let mut pc = 0;
    while pc < n {
        if !(reached[pc] && leader[pc]) {
            pc += 1;
            continue;
        }
        let start = pc;
        let mut count = 0;
        loop {
            count += 1;
            let s = successors(insns, pc);
            let next = pc + insns[pc].slots().max(1);
            let ends = s.target.is_some() || s.fall_through.is_none();
            pc = next;
            if ends || pc >= n || leader[pc] {
                break;
            }
        }
        blocks.insert(
            start,
            BlockInfo {
                start,
                end: pc,
                insn_count: count,
                has_back_pred: back_pred[start],
                single_pred: None,
            },
        );
    }
    // Predecessor edges: (count, last predecessor) per block start.
    let mut preds: BTreeMap<usize, (u32, usize)> = BTreeMap::new();
    preds.insert(entry, (1, usize::MAX));
    for b in blocks.values() {
        let last = last_insn(insns, b);
        let s = successors(insns, last);
        for succ in [s.fall_through, s.target].into_iter().flatten() {
            let e = preds.entry(succ).or_insert((0, b.start));
            e.0 += 1;
            e.1 = b.start;
        }
    }
    for b in blocks.values_mut() {
        b.single_pred = match preds.get(&b.start) {
            Some(&(1, p)) if p != usize::MAX => Some(p),
            _ => None,
        };
    }
    FunctionShape {
        blocks,
        writes_r10: writes,
    }
}

/// Where the interpreter's budget ran out, for a budget error found in
/// the block at `start` of the function at `entry`: `index` is the
/// position in that block of the first instruction over budget, negative
/// when it lies in the block's single predecessor (or further back, along
/// single-predecessor edges: the only edges without a budget test).
pub(crate) fn budget_pc(insns: &[Insn], entry: usize, start: usize, index: i64) -> Option<usize> {
    let (mut start, mut index) = (start, index);
    if index < 0 {
        let shape = function_shape(insns, entry);
        while index < 0 {
            let pred = shape.blocks.get(&start)?.single_pred?;
            index += shape.blocks.get(&pred)?.insn_count as i64;
            start = pred;
        }
    }
    let mut pc = start;
    for _ in 0..index {
        pc += insns.get(pc)?.slots().max(1);
    }
    (pc < insns.len()).then_some(pc)
}

/// The pc of each instruction in `start..end` (a `lddw` once), in order.
pub(crate) fn insn_pcs(
    insns: &[Insn],
    start: usize,
    end: usize,
) -> impl Iterator<Item = usize> + '_ {
    // The next pc is computed only from one inside the range.
    std::iter::successors((start < end).then_some(start), move |&pc| {
        let next = pc + insns[pc].slots().max(1);
        (next < end).then_some(next)
    })
}

/// The pc of a block's last instruction.
pub(crate) fn last_insn(insns: &[Insn], b: &BlockInfo) -> usize {
    insn_pcs(insns, b.start, b.end).last().unwrap_or(b.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebee_isa::decode;

    fn prog(words: &[u64]) -> Vec<Insn> {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        decode(&bytes).unwrap()
    }

    #[test]
    fn loop_has_three_blocks() {
        // r0 = 0; r1 = 10; L: r0 += 1; if r0 < r1 goto L; exit
        let insns = prog(&[
            0x0000_0000_0000_00b7,
            0x0000_000a_0000_01b7,
            0x0000_0001_0000_0007,
            0x0000_0000_fffe_10ad,
            0x0000_0000_0000_0095,
        ]);
        let shape = function_shape(&insns, 0);
        let starts: Vec<_> = shape.blocks.keys().copied().collect();
        assert_eq!(starts, vec![0, 2, 4]);
        assert_eq!(shape.blocks[&0].insn_count, 2);
        assert_eq!(shape.blocks[&2].insn_count, 2);
        assert_eq!(shape.blocks[&4].insn_count, 1);
    }
}
