//! Lowering a decoded program ([`Insn`] per slot) to the interpreter's
//! internal form ([`Op`] per slot, plus a final [`OpCode::FellOffEnd`]),
//! validating what the decoder may not have: jump and call targets,
//! `lddw` pairs, and instructions userspace cannot run.

use crate::error::LoadError;
use crate::op::{pack_atomic, Op, OpCode};
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
    set_runs(&mut ops);
    Ok(ops)
}

/// Fills in [`Op::run`], from the last op backwards.
fn set_runs(ops: &mut [Op]) {
    for i in (0..ops.len()).rev() {
        let next = if ops[i].code == OpCode::LdDw {
            i + 2
        } else {
            i + 1
        };
        let run = if ops[i].ends_run() || next >= ops.len() {
            1
        } else {
            // Stops at `u8::MAX`, which is `LONG_RUN`: such runs are long.
            ops[next].run.saturating_add(1)
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
