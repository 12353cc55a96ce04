//! Lowering a decoded program ([`Insn`] per slot) to the interpreter's
//! internal form ([`Op`] per slot, plus a final [`OpCode::FellOffEnd`]),
//! validating what the decoder may not have: jump and call targets,
//! `lddw` pairs, and instructions userspace cannot run.

use crate::error::LoadError;
use crate::op::{
    alu64_imm, is_imm_jump, jump_holds, pack_atomic, CondMask, Op, OpCode, SwitchTable,
};
use ebee_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Imm64Kind, Insn, JmpCond, Operand, Size, Width,
};

/// The longest program accepted (jump targets are stored in 31 bits).
pub const MAX_INSNS: usize = i32::MAX as usize;

/// Lowers `insns`; the result has one [`Op`] per slot and a sentinel.
pub(crate) fn lower(insns: &[Insn]) -> Result<Vec<Op>, LoadError> {
    if insns.is_empty() {
        return Err(LoadError::Empty);
    }
    if insns.len() > MAX_INSNS {
        return Err(LoadError::TooLong {
            len: insns.len(),
            max: MAX_INSNS,
        });
    }
    let mut ops = Vec::with_capacity(insns.len() + 1);
    for (pc, insn) in insns.iter().enumerate() {
        check_pairing(insns, pc)?;
        if let Some(target) = insn.branch_target(pc) {
            check_target(insns, pc, target)?;
        }
        ops.push(lower_one(pc, insn)?);
    }
    ops.push(Op::new(OpCode::FellOffEnd, 0, 0, 0, 0));
    let program_len = ops.len();
    fuse_skips(&mut ops, program_len);
    set_runs(&mut ops);
    build_switches(&mut ops, program_len);
    Ok(ops)
}

/// If-converts the pattern clang emits for a conditional assignment (BPF
/// has no conditional move): `if cond goto L; x = y; [x op= imm;] L:`
/// becomes one op ([`OpCode::SkipMovImm`], [`OpCode::SkipMovReg`],
/// [`OpCode::SkipMovAlu`]) that computes the moved value and keeps it
/// unless the condition holds. Run op by op, the jump costs a dispatch and,
/// when the condition is data-dependent, a host branch misprediction half
/// the time; the fused op costs neither. Only the jump's slot changes (to
/// the fused op, with a copy of the jump after the program for precise
/// budget mode), so a jump to one of the skipped moves still runs them.
fn fuse_skips(ops: &mut [Op], program_len: usize) {
    for pc in 0..program_len {
        let jump = ops[pc];
        let Some(mask) = CondMask::of(jump.code) else {
            continue;
        };
        let (Some(first), second) = (ops.get(pc + 1), ops.get(pc + 2)) else {
            continue;
        };
        let code = match (jump.target().wrapping_sub(pc), first.code, second) {
            (2, OpCode::Mov64Imm, _) => OpCode::SkipMovImm,
            (2, OpCode::Mov64Reg, _) => OpCode::SkipMovReg,
            (3, OpCode::Mov64Reg, Some(s))
                if s.dst == first.dst && alu64_imm(s.code, 0, 0).is_some() =>
            {
                OpCode::SkipMovAlu
            }
            _ => continue,
        };
        ops[pc].code = code;
        ops[pc].off = mask;
    }
    // The move before a fused jump (clang's `x = a; if c goto +1; x = b`,
    // a whole select) joins it: one dispatch for the three instructions.
    for pc in 0..program_len.saturating_sub(1) {
        let code = match (ops[pc].code, ops[pc + 1].code) {
            (OpCode::Mov64Imm, OpCode::SkipMovImm | OpCode::SkipMovReg | OpCode::SkipMovAlu) => {
                OpCode::MovImmSkip
            }
            (OpCode::Mov64Reg, OpCode::SkipMovImm | OpCode::SkipMovReg | OpCode::SkipMovAlu) => {
                OpCode::MovRegSkip
            }
            _ => continue,
        };
        ops[pc].code = code;
        ops[pc].off = ops[pc + 1].slots() as i32;
    }
}

/// The most entries one switch table has (values from its lowest to its
/// highest immediate).
const MAX_SWITCH_ENTRIES: u64 = 256;
/// The most jumps one path through a decision tree may take (a longer
/// path, or a loop of jumps, leaves the tree as it is).
const MAX_TREE_DEPTH: u64 = 64;
/// The fewest conditional jumps a tree needs to be worth a table.
const MIN_TREE_JUMPS: usize = 3;

/// Replaces the root of every decision tree with an [`OpCode::Switch`].
///
/// A decision tree is a conditional jump comparing register `x` with an
/// immediate, whose target and fall-through are again such jumps on `x`
/// (or `ja`), and so on: the binary search clang emits for a `switch`
/// (BPF has no indirect jump). Run op by op, each level costs a dispatch
/// and, the condition being data-dependent, a host branch misprediction
/// half the time. The table maps each value of `x` between the tree's
/// lowest and highest immediate to the pc the tree leads to and the
/// number of jumps it takes (charged to the budget, so counts stay
/// exact); other values run the original root jump. The tree's other ops
/// stay as they are, so a jump into the middle of the tree runs it op by
/// op. The table is built by walking the tree with [`jump_holds`] for each
/// value, so it is the tree's meaning by construction.
#[inline(never)]
fn build_switches(ops: &mut Vec<Op>, len: usize) {
    // Interior nodes of a tree already tabled: they are only tabled too if
    // a tree of their own starts there (they are visited in pc order, and
    // clang puts a tree's root first); this bounds the tables' total size.
    let mut covered = vec![false; len];
    let mut budget_slots = 4 * len + 4096;
    // Bounds the analysis itself (ops looked at), so that loading stays
    // linear in the program's length whatever its jumps look like.
    let mut work = 64 * len as u64 + (1 << 20);
    // `seen[pc] == root`: pc was reached by the walk from `root`.
    let mut seen = vec![usize::MAX; len];
    for root in 0..len {
        let op = ops[root];
        if covered[root] || !is_imm_jump(op.code) {
            continue;
        }
        let x = op.dst;
        let in_tree = |o: &Op| (is_imm_jump(o.code) && o.dst == x) || o.code == OpCode::Ja;
        // The tree's nodes, by a walk from the root.
        let mut nodes = Vec::new();
        let mut stack = vec![root];
        seen[root] = root;
        while let Some(pc) = stack.pop() {
            if work == 0 {
                return;
            }
            work -= 1;
            let o = ops[pc];
            if !in_tree(&o) || nodes.len() >= MAX_SWITCH_ENTRIES as usize {
                continue;
            }
            nodes.push(pc);
            let mut next = vec![o.target()];
            if o.code != OpCode::Ja {
                next.push(pc + 1);
            }
            for n in next {
                if n < len && seen[n] != root {
                    seen[n] = root;
                    stack.push(n);
                }
            }
        }
        let jumps: Vec<&Op> = nodes
            .iter()
            .map(|&pc| &ops[pc])
            .filter(|o| o.code != OpCode::Ja)
            .collect();
        if jumps.len() < MIN_TREE_JUMPS {
            continue;
        }
        let lo = jumps.iter().map(|o| o.imm).min().unwrap_or(0);
        let hi = jumps.iter().map(|o| o.imm).max().unwrap_or(0);
        if hi - lo >= MAX_SWITCH_ENTRIES {
            continue;
        }
        let entries = hi - lo + 1;
        let cost = entries * MAX_TREE_DEPTH;
        if cost > work {
            return;
        }
        work -= cost;
        let Some(table) = (0..entries)
            .map(|i| walk_tree(ops, root, x, lo.wrapping_add(i)))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let slots = SwitchTable::HEADER_SLOTS + table.len();
        if slots > budget_slots {
            break;
        }
        budget_slots -= slots;
        let block = ops.len();
        ops.push(op);
        ops.push(Op::new(OpCode::Data, 0, 0, 0, entries));
        for (leaf, extra) in table {
            ops.push(Op::new(OpCode::Data, 0, 0, leaf as i32, extra));
        }
        // `block` < the program's length bound (`MAX_INSNS` = i32::MAX)
        // plus the tables' bound (4 * len + 4096 slots) only if that fits
        // in an i32: otherwise leave the root as it is.
        let Ok(block) = i32::try_from(block) else {
            ops.truncate(block);
            break;
        };
        ops[root].code = OpCode::Switch;
        ops[root].off = block;
        ops[root].imm = lo;
        for &pc in &nodes {
            covered[pc] = true;
        }
    }
}

/// Where the decision tree at `root` on register `x` leads when `x` holds
/// `value`: the first op that is not one of its jumps, and how many jumps
/// after the root it took. `None` if the walk is too long (a loop).
fn walk_tree(ops: &[Op], root: usize, x: crate::op::RegIndex, value: u64) -> Option<(usize, u64)> {
    let mut pc = root;
    let mut steps = 0u64;
    loop {
        let o = &ops[pc];
        let next = if o.code == OpCode::Ja {
            o.target()
        } else if is_imm_jump(o.code) && o.dst == x {
            if jump_holds(o.code, value, o.imm)? {
                o.target()
            } else {
                pc + 1
            }
        } else {
            // The root itself is charged with the run it ends.
            return Some((pc, steps.saturating_sub(1)));
        };
        steps += 1;
        if steps > MAX_TREE_DEPTH {
            return None;
        }
        pc = next;
    }
}

/// Fills in [`Op::run`], from the last op backwards.
fn set_runs(ops: &mut [Op]) {
    for i in (0..ops.len()).rev() {
        let next = i + ops[i].slots();
        let run = if ops[i].ends_run() || next >= ops.len() {
            1
        } else {
            // Stops at `u8::MAX`, which is `LONG_RUN`: such runs are long.
            ops[next].run.saturating_add(ops[i].insns())
        };
        ops[i].run = run;
    }
}

fn check_pairing(insns: &[Insn], pc: usize) -> Result<(), LoadError> {
    let ok = match insns[pc] {
        Insn::LdImm64 { .. } => matches!(insns.get(pc + 1), Some(Insn::LdImm64Tail)),
        Insn::LdImm64Tail => pc > 0 && matches!(insns[pc - 1], Insn::LdImm64 { .. }),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(LoadError::MalformedImm64 { pc })
    }
}

fn check_target(insns: &[Insn], pc: usize, target: i64) -> Result<(), LoadError> {
    if target < 0 || target >= insns.len() as i64 {
        return Err(LoadError::JumpOutOfRange { pc, target });
    }
    if matches!(insns[target as usize], Insn::LdImm64Tail) {
        return Err(LoadError::JumpIntoImm64 { pc, target });
    }
    Ok(())
}

fn reg(r: ebee_isa::Reg) -> u8 {
    r.index()
}

fn target(pc: usize, off: i64) -> i32 {
    // check_target bounded it to [0, len) and len <= i32::MAX.
    (pc as i64 + 1 + off) as i32
}

fn lower_one(pc: usize, insn: &Insn) -> Result<Op, LoadError> {
    use OpCode::*;
    let op = match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => lower_alu(width, op, reg(dst), src),
        Insn::Neg { width, dst } => {
            let code = if width == Width::W64 { Neg64 } else { Neg32 };
            Op::new(code, reg(dst), 0, 0, 0)
        }
        Insn::Endian { order, bits, dst } => {
            let code = match (order, bits) {
                (ByteOrder::Le, 16) => Le16,
                (ByteOrder::Le, 32) => Le32,
                (ByteOrder::Le, _) => Le64,
                (ByteOrder::Be, 16) => Be16,
                (ByteOrder::Be, 32) => Be32,
                (ByteOrder::Be, _) => Be64,
                (ByteOrder::Swap, 16) => Swap16,
                (ByteOrder::Swap, 32) => Swap32,
                (ByteOrder::Swap, _) => Swap64,
            };
            if !matches!(bits, 16 | 32 | 64) {
                return Err(LoadError::Unsupported {
                    pc,
                    what: format!("byte order conversion of {bits} bits"),
                });
            }
            Op::new(code, reg(dst), 0, 0, 0)
        }
        Insn::LdImm64 { dst, kind, imm } => {
            if kind != Imm64Kind::Imm {
                return Err(LoadError::Unsupported {
                    pc,
                    what: format!("lddw of a {kind:?} reference (it needs relocation first)"),
                });
            }
            Op::new(LdDw, reg(dst), 0, 0, imm as u64)
        }
        Insn::LdImm64Tail => Op::new(Imm64Tail, 0, 0, 0, 0),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let code = match (size, signed) {
                (Size::B, false) => LdxB,
                (Size::H, false) => LdxH,
                (Size::W, false) => LdxW,
                (Size::DW, _) => LdxDw,
                (Size::B, true) => LdxsB,
                (Size::H, true) => LdxsH,
                (Size::W, true) => LdxsW,
            };
            Op::new(code, reg(dst), reg(src), off as i32, 0)
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(s) => {
                let code = match size {
                    Size::B => StxB,
                    Size::H => StxH,
                    Size::W => StxW,
                    Size::DW => StxDw,
                };
                Op::new(code, reg(dst), reg(s), off as i32, 0)
            }
            Operand::Imm(imm) => {
                let code = match size {
                    Size::B => StB,
                    Size::H => StH,
                    Size::W => StW,
                    Size::DW => StDw,
                };
                Op::new(code, reg(dst), 0, off as i32, imm as i64 as u64)
            }
        },
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let rmw = !matches!(op, AtomicOp::LoadAcquire | AtomicOp::StoreRelease);
            if rmw && matches!(size, Size::B | Size::H) {
                return Err(LoadError::Unsupported {
                    pc,
                    what: format!("atomic {op:?} of {} bytes", size.bytes()),
                });
            }
            Op::new(
                Atomic,
                reg(dst),
                reg(src),
                off as i32,
                pack_atomic(size, op),
            )
        }
        Insn::LdPacket { size, index, imm } => {
            let bytes = size.bytes() as i32;
            let (src, off) = match index {
                Some(r) => (reg(r), -bytes),
                None => (0, bytes),
            };
            Op::new(LdPacket, 0, src, off, imm as i64 as u64)
        }
        Insn::Ja { off, .. } => Op::new(Ja, 0, 0, target(pc, off as i64), 0),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => lower_jump(width, cond, reg(dst), src, target(pc, off as i64)),
        Insn::Call(CallTarget::Local(imm)) => Op::new(CallLocal, 0, 0, target(pc, imm as i64), 0),
        Insn::Call(CallTarget::Helper(id)) => Op::new(CallHelper, 0, 0, 0, id as i64 as u64),
        Insn::Call(CallTarget::Kfunc { btf_id, .. }) => {
            return Err(LoadError::Unsupported {
                pc,
                what: format!("kfunc call (BTF id {btf_id}): userspace has no kernel functions"),
            })
        }
        Insn::CallX { reg: r } => Op::new(CallX, 0, reg(r), 0, 0),
        Insn::MayGoto { off } => Op::new(MayGoto, 0, 0, target(pc, off as i64), 0),
        Insn::Exit => Op::new(Exit, 0, 0, 0, 0),
    };
    Ok(op)
}

fn lower_alu(width: Width, op: AluOp, dst: u8, src: Operand) -> Op {
    use OpCode::*;
    let w64 = width == Width::W64;
    let (src_reg, imm) = match src {
        Operand::Reg(r) => (Some(reg(r)), 0),
        Operand::Imm(i) => (None, i),
    };
    // Immediate forms of sign-extending moves are constants.
    if src_reg.is_none() {
        let constant = match op {
            AluOp::Mov => Some(if w64 {
                imm as i64 as u64
            } else {
                imm as u32 as u64
            }),
            AluOp::MovSx8 => Some(if w64 {
                imm as i8 as i64 as u64
            } else {
                imm as i8 as i32 as u32 as u64
            }),
            AluOp::MovSx16 => Some(if w64 {
                imm as i16 as i64 as u64
            } else {
                imm as i16 as i32 as u32 as u64
            }),
            AluOp::MovSx32 => Some(if w64 {
                imm as i64 as u64
            } else {
                imm as u32 as u64
            }),
            _ => None,
        };
        if let Some(c) = constant {
            return Op::new(Mov64Imm, dst, 0, 0, c);
        }
    }
    let pick = |imm_code, reg_code| {
        if src_reg.is_some() {
            reg_code
        } else {
            imm_code
        }
    };
    let code = if w64 {
        match op {
            AluOp::Add => pick(Add64Imm, Add64Reg),
            AluOp::Sub => pick(Sub64Imm, Sub64Reg),
            AluOp::Mul => pick(Mul64Imm, Mul64Reg),
            AluOp::Div => pick(Div64Imm, Div64Reg),
            AluOp::SDiv => pick(SDiv64Imm, SDiv64Reg),
            AluOp::Mod => pick(Mod64Imm, Mod64Reg),
            AluOp::SMod => pick(SMod64Imm, SMod64Reg),
            AluOp::Or => pick(Or64Imm, Or64Reg),
            AluOp::And => pick(And64Imm, And64Reg),
            AluOp::Xor => pick(Xor64Imm, Xor64Reg),
            AluOp::Lsh => pick(Lsh64Imm, Lsh64Reg),
            AluOp::Rsh => pick(Rsh64Imm, Rsh64Reg),
            AluOp::Arsh => pick(Arsh64Imm, Arsh64Reg),
            AluOp::Mov => Mov64Reg,
            AluOp::MovSx8 => MovSx8To64,
            AluOp::MovSx16 => MovSx16To64,
            AluOp::MovSx32 => MovSx32To64,
        }
    } else {
        match op {
            AluOp::Add => pick(Add32Imm, Add32Reg),
            AluOp::Sub => pick(Sub32Imm, Sub32Reg),
            AluOp::Mul => pick(Mul32Imm, Mul32Reg),
            AluOp::Div => pick(Div32Imm, Div32Reg),
            AluOp::SDiv => pick(SDiv32Imm, SDiv32Reg),
            AluOp::Mod => pick(Mod32Imm, Mod32Reg),
            AluOp::SMod => pick(SMod32Imm, SMod32Reg),
            AluOp::Or => pick(Or32Imm, Or32Reg),
            AluOp::And => pick(And32Imm, And32Reg),
            AluOp::Xor => pick(Xor32Imm, Xor32Reg),
            AluOp::Lsh => pick(Lsh32Imm, Lsh32Reg),
            AluOp::Rsh => pick(Rsh32Imm, Rsh32Reg),
            AluOp::Arsh => pick(Arsh32Imm, Arsh32Reg),
            AluOp::Mov => Mov32Reg,
            AluOp::MovSx8 => MovSx8To32,
            AluOp::MovSx16 => MovSx16To32,
            // `(s32)` at 32 bits is a plain 32-bit move.
            AluOp::MovSx32 => Mov32Reg,
        }
    };
    let imm = match op {
        AluOp::Lsh | AluOp::Rsh | AluOp::Arsh => imm as u64 & if w64 { 63 } else { 31 },
        _ if w64 => imm as i64 as u64,
        _ => imm as u32 as u64,
    };
    Op::new(code, dst, src_reg.unwrap_or(0), 0, imm)
}

fn lower_jump(width: Width, cond: JmpCond, dst: u8, src: Operand, target: i32) -> Op {
    use OpCode::*;
    let (src_reg, imm) = match src {
        Operand::Reg(r) => (Some(reg(r)), 0u64),
        Operand::Imm(i) => (
            None,
            if width == Width::W64 {
                i as i64 as u64
            } else {
                i as u32 as u64
            },
        ),
    };
    let pick = |imm_code, reg_code| {
        if src_reg.is_some() {
            reg_code
        } else {
            imm_code
        }
    };
    let code = match (width, cond) {
        (Width::W64, JmpCond::Eq) => pick(JeqImm, JeqReg),
        (Width::W64, JmpCond::Gt) => pick(JgtImm, JgtReg),
        (Width::W64, JmpCond::Ge) => pick(JgeImm, JgeReg),
        (Width::W64, JmpCond::Set) => pick(JsetImm, JsetReg),
        (Width::W64, JmpCond::Ne) => pick(JneImm, JneReg),
        (Width::W64, JmpCond::Sgt) => pick(JsgtImm, JsgtReg),
        (Width::W64, JmpCond::Sge) => pick(JsgeImm, JsgeReg),
        (Width::W64, JmpCond::Lt) => pick(JltImm, JltReg),
        (Width::W64, JmpCond::Le) => pick(JleImm, JleReg),
        (Width::W64, JmpCond::Slt) => pick(JsltImm, JsltReg),
        (Width::W64, JmpCond::Sle) => pick(JsleImm, JsleReg),
        (Width::W32, JmpCond::Eq) => pick(Jeq32Imm, Jeq32Reg),
        (Width::W32, JmpCond::Gt) => pick(Jgt32Imm, Jgt32Reg),
        (Width::W32, JmpCond::Ge) => pick(Jge32Imm, Jge32Reg),
        (Width::W32, JmpCond::Set) => pick(Jset32Imm, Jset32Reg),
        (Width::W32, JmpCond::Ne) => pick(Jne32Imm, Jne32Reg),
        (Width::W32, JmpCond::Sgt) => pick(Jsgt32Imm, Jsgt32Reg),
        (Width::W32, JmpCond::Sge) => pick(Jsge32Imm, Jsge32Reg),
        (Width::W32, JmpCond::Lt) => pick(Jlt32Imm, Jlt32Reg),
        (Width::W32, JmpCond::Le) => pick(Jle32Imm, Jle32Reg),
        (Width::W32, JmpCond::Slt) => pick(Jslt32Imm, Jslt32Reg),
        (Width::W32, JmpCond::Sle) => pick(Jsle32Imm, Jsle32Reg),
    };
    Op::new(code, dst, src_reg.unwrap_or(0), target, imm)
}

#[cfg(test)]
mod tests {
    use super::lower;
    use crate::op::{CondMask, OpCode, SwitchTable};
    use ebee_isa::{Insn, JmpCond, Operand, Reg, Width};

    fn jump(cond: JmpCond, k: i32, off: i16) -> Insn {
        Insn::Jump {
            width: Width::W64,
            cond,
            dst: Reg::new(1).unwrap(),
            src: Operand::Imm(k),
            off,
        }
    }

    fn ret(k: i32) -> [Insn; 2] {
        [
            Insn::Alu {
                width: Width::W64,
                op: ebee_isa::AluOp::Mov,
                dst: Reg::new(0).unwrap(),
                src: Operand::Imm(k),
            },
            Insn::Exit,
        ]
    }

    /// `switch (r1) { case 0: case 1: case 2: }` as clang lowers it: the
    /// root becomes a switch whose table holds, per value, the leaf pc and
    /// the jumps after the root.
    #[test]
    fn a_compare_tree_becomes_a_switch_table() {
        let mut insns = vec![
            jump(JmpCond::Sgt, 1, 3), // 0: -> 4
            jump(JmpCond::Eq, 0, 4),  // 1: -> 6
            jump(JmpCond::Eq, 1, 5),  // 2: -> 8
            Insn::Ja {
                off: 8,
                long: false,
            }, // 3: -> 12
            jump(JmpCond::Eq, 2, 5),  // 4: -> 10
            Insn::Ja {
                off: 6,
                long: false,
            }, // 5: -> 12
        ];
        for k in 0..4 {
            insns.extend(ret(k));
        }
        // 6: case 0, 8: case 1, 10: case 2, 12: default.
        let ops = lower(&insns).unwrap();
        assert_eq!(ops[0].code, OpCode::Switch);
        assert_eq!(ops[0].imm, 0, "the table starts at the lowest immediate");
        let block = ops[0].target();
        assert_eq!(block, insns.len() + 1, "the table follows the sentinel");
        assert_eq!(ops[block].code, OpCode::JsgtImm, "the original root");
        assert_eq!(ops[block + 1].imm, 3, "entries for 0, 1 and 2");
        let entries: Vec<(usize, u64)> = ops[block + SwitchTable::HEADER_SLOTS..]
            .iter()
            .map(|e| (e.target(), e.imm))
            .collect();
        assert_eq!(entries, [(6, 1), (8, 2), (10, 1)]);
        // The inner nodes stay plain ops, for jumps into the middle.
        assert_eq!(ops[1].code, OpCode::JeqImm);
        assert_eq!(ops[4].code, OpCode::JeqImm);
    }

    /// No table for two jumps, for immediates too far apart, or for a
    /// loop of jumps.
    #[test]
    fn small_wide_or_looping_trees_stay_jumps() {
        let mut two = vec![jump(JmpCond::Eq, 0, 1), jump(JmpCond::Eq, 1, 0)];
        two.extend(ret(0));
        assert_eq!(lower(&two).unwrap()[0].code, OpCode::JeqImm);

        let mut wide = vec![
            jump(JmpCond::Eq, 0, 2),
            jump(JmpCond::Eq, 1000, 1),
            jump(JmpCond::Eq, 2, 0),
        ];
        wide.extend(ret(0));
        assert_eq!(lower(&wide).unwrap()[0].code, OpCode::JeqImm);

        // 0: if r1 == 0 goto 3; 1: if r1 == 1 goto 3; 2: if r1 == 2 goto 4;
        // 3: goto 0 (for r1 = 0 or 1 the tree jumps forever).
        let mut looping = vec![
            jump(JmpCond::Eq, 0, 2),
            jump(JmpCond::Eq, 1, 1),
            jump(JmpCond::Eq, 2, 1),
            Insn::Ja {
                off: -4,
                long: false,
            },
        ];
        looping.extend(ret(0));
        let ops = lower(&looping).unwrap();
        assert!(ops.iter().all(|o| o.code != OpCode::Switch));
        assert_eq!(ops.len(), looping.len() + 1, "no table slots");
    }

    /// [`jump_holds`](crate::op::jump_holds), which builds the tables,
    /// agrees with the interpreter's jump handlers on every condition,
    /// width and operand kind.
    #[test]
    fn jump_holds_agrees_with_the_interpreter() {
        use crate::op::jump_holds;
        let conds = JmpCond::ALL;
        let values: [i64; 10] = [
            0,
            1,
            2,
            -1,
            -2,
            i32::MIN as i64,
            i32::MAX as i64,
            1 << 32,
            (1 << 32) + 1,
            i64::MIN,
        ];
        let lddw = |dst: u8, v: i64| {
            [
                Insn::LdImm64 {
                    dst: Reg::new(dst).unwrap(),
                    kind: ebee_isa::Imm64Kind::Imm,
                    imm: v,
                },
                Insn::LdImm64Tail,
            ]
        };
        for width in [Width::W64, Width::W32] {
            for cond in conds {
                for &a in &values {
                    for &b in &values {
                        for by_reg in [false, true] {
                            let src = if by_reg {
                                Operand::Reg(Reg::new(2).unwrap())
                            } else if let Ok(k) = i32::try_from(b) {
                                Operand::Imm(k)
                            } else {
                                continue;
                            };
                            let mut insns = lddw(1, a).to_vec();
                            insns.extend(lddw(2, b));
                            insns.push(Insn::Jump {
                                width,
                                cond,
                                dst: Reg::new(1).unwrap(),
                                src,
                                off: 2,
                            });
                            insns.extend(ret(0));
                            insns.extend(ret(1));
                            let ops = lower(&insns).unwrap();
                            let op = ops[4];
                            let second = if by_reg { b as u64 } else { op.imm };
                            let expected = jump_holds(op.code, a as u64, second).map(u64::from);
                            let got = crate::Vm::new(insns).unwrap().run(&mut []).ok();
                            assert_eq!(
                                got, expected,
                                "{width:?} {cond:?} {a:#x} {b:#x} reg {by_reg}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// A jump over `x = imm`, `x = y` or `x = y; x op= imm` becomes one
    /// fused op (the skipped moves stay); a jump
    /// over anything else, or not exactly over the moves, stays a jump.
    #[test]
    fn jumps_over_moves_are_fused() {
        let mov = |dst: u8, src: Operand| Insn::Alu {
            width: Width::W64,
            op: ebee_isa::AluOp::Mov,
            dst: Reg::new(dst).unwrap(),
            src,
        };
        let rsh = |dst: u8| Insn::Alu {
            width: Width::W64,
            op: ebee_isa::AluOp::Rsh,
            dst: Reg::new(dst).unwrap(),
            src: Operand::Imm(4),
        };
        let r = |n: u8| Operand::Reg(Reg::new(n).unwrap());
        let cases = [
            (
                vec![jump(JmpCond::Gt, 3, 1), mov(2, Operand::Imm(1))],
                Some(OpCode::SkipMovImm),
            ),
            (
                vec![jump(JmpCond::Gt, 3, 1), mov(2, r(3))],
                Some(OpCode::SkipMovReg),
            ),
            (
                vec![jump(JmpCond::Lt, 3, 2), mov(2, r(3)), rsh(2)],
                Some(OpCode::SkipMovAlu),
            ),
            // The shift is on another register.
            (vec![jump(JmpCond::Lt, 3, 2), mov(2, r(3)), rsh(4)], None),
            // The jump goes past the moves.
            (
                vec![jump(JmpCond::Gt, 3, 2), mov(2, r(3)), mov(4, r(3))],
                None,
            ),
        ];
        for (mut insns, fused) in cases {
            let original = lower(&[insns[0], Insn::Exit, Insn::Exit, Insn::Exit]).unwrap()[0];
            insns.extend(ret(0));
            let ops = lower(&insns).unwrap();
            match fused {
                Some(code) => {
                    assert_eq!(ops[0].code, code);
                    assert_eq!(Some(ops[0].off), CondMask::of(original.code));
                    assert_eq!((ops[0].dst, ops[0].imm), (original.dst, 3));
                    assert!(matches!(ops[1].code, OpCode::Mov64Imm | OpCode::Mov64Reg));
                }
                None => assert_eq!(ops[0].code, original.code),
            }
        }
    }

    /// The branch-free [`CondMask`] agrees with
    /// [`jump_holds`](crate::op::jump_holds) for every conditional jump on
    /// operands around every sign and width boundary.
    #[test]
    fn cond_masks_agree_with_jump_holds() {
        use crate::op::jump_holds;
        let edges: Vec<u64> = [
            0u64,
            1,
            2,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            1 << 32,
            1 << 63,
        ]
        .iter()
        .flat_map(|&v| [v, v.wrapping_sub(1), v.wrapping_add(1), !v])
        .collect();
        let conds = JmpCond::ALL;
        let mut codes = 0;
        for width in [Width::W64, Width::W32] {
            for cond in conds {
                for src in [Operand::Imm(0), Operand::Reg(Reg::new(2).unwrap())] {
                    let insn = Insn::Jump {
                        width,
                        cond,
                        dst: Reg::new(1).unwrap(),
                        src,
                        off: 0,
                    };
                    let code = lower(&[insn, Insn::Exit]).unwrap()[0].code;
                    let mask = CondMask::of(code).unwrap();
                    assert_eq!(CondMask::is_reg(mask), matches!(src, Operand::Reg(_)));
                    codes += 1;
                    for &a in &edges {
                        for &b in &edges {
                            assert_eq!(
                                Some(CondMask::holds(mask, a, b)),
                                jump_holds(code, a, b),
                                "{code:?} {a:#x} {b:#x}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(codes, 44);
        assert_eq!(CondMask::of(OpCode::Ja), None);
    }
}
