//! Wire format → [`Insn`], rejecting every malformed encoding the way Linux
//! does (unknown opcodes, reserved fields that are not zero, bad registers,
//! broken `lddw` pairs, jumps that leave the program).

use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::insn::*;
use crate::opcode::{alu, atomic, class, jmp, mode, size, source};
use crate::raw::{slots_from_bytes, RawInsn};

fn reg(field: &'static str, n: u8) -> Result<Reg, K> {
    Reg::new(n).ok_or(K::InvalidRegister { field, value: n })
}

fn zero(field: &'static str, value: i64) -> Result<(), K> {
    if value == 0 {
        Ok(())
    } else {
        Err(K::ReservedField { field, value })
    }
}

fn size_of(code: u8) -> Size {
    match code & 0x18 {
        size::W => Size::W,
        size::H => Size::H,
        size::B => Size::B,
        _ => Size::DW,
    }
}

/// Decodes one instruction. `next` is the following slot, needed by `lddw`.
///
/// Jump targets are not checked here (they need the whole program); see
/// [`decode_program`].
pub fn decode_insn(r: RawInsn, next: Option<RawInsn>) -> Result<Insn, K> {
    match r.class() {
        class::ALU | class::ALU64 => decode_alu(r),
        class::JMP | class::JMP32 => decode_jmp(r),
        class::LD => decode_ld(r, next),
        class::LDX => {
            let signed = match r.code & 0xe0 {
                mode::MEM => false,
                mode::MEMSX if size_of(r.code) != Size::DW => true,
                _ => return Err(K::UnknownOpcode(r.code)),
            };
            zero("imm", r.imm as i64)?;
            Ok(Insn::Load {
                size: size_of(r.code),
                signed,
                dst: reg("dst", r.dst)?,
                src: reg("src", r.src)?,
                off: r.off,
            })
        }
        class::ST => {
            if r.code & 0xe0 != mode::MEM {
                return Err(K::UnknownOpcode(r.code));
            }
            zero("src", r.src as i64)?;
            Ok(Insn::Store {
                size: size_of(r.code),
                dst: reg("dst", r.dst)?,
                off: r.off,
                src: Operand::Imm(r.imm),
            })
        }
        _ => match r.code & 0xe0 {
            mode::MEM => {
                zero("imm", r.imm as i64)?;
                Ok(Insn::Store {
                    size: size_of(r.code),
                    dst: reg("dst", r.dst)?,
                    off: r.off,
                    src: Operand::Reg(reg("src", r.src)?),
                })
            }
            mode::ATOMIC => decode_atomic(r),
            _ => Err(K::UnknownOpcode(r.code)),
        },
    }
}

fn decode_alu(r: RawInsn) -> Result<Insn, K> {
    let width = if r.class() == class::ALU64 {
        Width::W64
    } else {
        Width::W32
    };
    let x = r.code & source::X != 0;
    let dst = reg("dst", r.dst)?;
    let opc = r.code & 0xf0;
    if opc == alu::END {
        zero("src", r.src as i64)?;
        zero("offset", r.off as i64)?;
        let order = match (width, x) {
            (Width::W32, false) => ByteOrder::Le,
            (Width::W32, true) => ByteOrder::Be,
            (Width::W64, false) => ByteOrder::Swap,
            (Width::W64, true) => return Err(K::UnknownOpcode(r.code)),
        };
        if !matches!(r.imm, 16 | 32 | 64) {
            return Err(K::InvalidImm {
                what: "byte swap width (16, 32 or 64)",
                value: r.imm as i64,
            });
        }
        return Ok(Insn::Endian {
            order,
            bits: r.imm as u8,
            dst,
        });
    }
    if opc == alu::NEG {
        if x {
            return Err(K::UnknownOpcode(r.code));
        }
        zero("src", r.src as i64)?;
        zero("offset", r.off as i64)?;
        zero("imm", r.imm as i64)?;
        return Ok(Insn::Neg { width, dst });
    }
    let op = match (opc, r.off) {
        (alu::ADD, 0) => AluOp::Add,
        (alu::SUB, 0) => AluOp::Sub,
        (alu::MUL, 0) => AluOp::Mul,
        (alu::DIV, 0) => AluOp::Div,
        (alu::DIV, 1) => AluOp::SDiv,
        (alu::OR, 0) => AluOp::Or,
        (alu::AND, 0) => AluOp::And,
        (alu::LSH, 0) => AluOp::Lsh,
        (alu::RSH, 0) => AluOp::Rsh,
        (alu::MOD, 0) => AluOp::Mod,
        (alu::MOD, 1) => AluOp::SMod,
        (alu::XOR, 0) => AluOp::Xor,
        (alu::MOV, 0) => AluOp::Mov,
        (alu::MOV, 8) if x => AluOp::MovSx8,
        (alu::MOV, 16) if x => AluOp::MovSx16,
        (alu::MOV, 32) if x && width == Width::W64 => AluOp::MovSx32,
        (alu::ARSH, 0) => AluOp::Arsh,
        (0xe0 | 0xf0, _) => return Err(K::UnknownOpcode(r.code)),
        (_, off) => {
            return Err(K::ReservedField {
                field: "offset",
                value: off as i64,
            })
        }
    };
    let src = if x {
        zero("imm", r.imm as i64)?;
        Operand::Reg(reg("src", r.src)?)
    } else {
        zero("src", r.src as i64)?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Alu {
        width,
        op,
        dst,
        src,
    })
}

fn decode_jmp(r: RawInsn) -> Result<Insn, K> {
    let wide = r.class() == class::JMP;
    let width = if wide { Width::W64 } else { Width::W32 };
    let x = r.code & source::X != 0;
    let cond = match r.code & 0xf0 {
        jmp::JA => {
            if x {
                return Err(K::UnknownOpcode(r.code));
            }
            zero("dst", r.dst as i64)?;
            zero("src", r.src as i64)?;
            return if wide {
                zero("imm", r.imm as i64)?;
                Ok(Insn::Ja {
                    off: r.off as i32,
                    long: false,
                })
            } else {
                zero("offset", r.off as i64)?;
                Ok(Insn::Ja {
                    off: r.imm,
                    long: true,
                })
            };
        }
        jmp::CALL if wide => {
            if x {
                zero("src", r.src as i64)?;
                zero("offset", r.off as i64)?;
                zero("imm", r.imm as i64)?;
                return Ok(Insn::CallX {
                    reg: reg("dst", r.dst)?,
                });
            }
            zero("dst", r.dst as i64)?;
            let target = match r.src {
                0 => CallTarget::Helper(r.imm),
                1 => CallTarget::Local(r.imm),
                2 => {
                    return Ok(Insn::Call(CallTarget::Kfunc {
                        btf_id: r.imm,
                        module: r.off,
                    }))
                }
                s => {
                    return Err(K::InvalidRegister {
                        field: "src (call kind 0, 1 or 2)",
                        value: s,
                    })
                }
            };
            zero("offset", r.off as i64)?;
            return Ok(Insn::Call(target));
        }
        jmp::EXIT if wide => {
            if x {
                return Err(K::UnknownOpcode(r.code));
            }
            zero("dst", r.dst as i64)?;
            zero("src", r.src as i64)?;
            zero("offset", r.off as i64)?;
            zero("imm", r.imm as i64)?;
            return Ok(Insn::Exit);
        }
        jmp::JCOND if wide => {
            if x {
                return Err(K::UnknownOpcode(r.code));
            }
            zero("dst", r.dst as i64)?;
            zero("src (may_goto)", r.src as i64)?;
            zero("imm", r.imm as i64)?;
            return Ok(Insn::MayGoto { off: r.off });
        }
        jmp::JEQ => JmpCond::Eq,
        jmp::JGT => JmpCond::Gt,
        jmp::JGE => JmpCond::Ge,
        jmp::JSET => JmpCond::Set,
        jmp::JNE => JmpCond::Ne,
        jmp::JSGT => JmpCond::Sgt,
        jmp::JSGE => JmpCond::Sge,
        jmp::JLT => JmpCond::Lt,
        jmp::JLE => JmpCond::Le,
        jmp::JSLT => JmpCond::Slt,
        jmp::JSLE => JmpCond::Sle,
        _ => return Err(K::UnknownOpcode(r.code)),
    };
    let dst = reg("dst", r.dst)?;
    let src = if x {
        zero("imm", r.imm as i64)?;
        Operand::Reg(reg("src", r.src)?)
    } else {
        zero("src", r.src as i64)?;
        Operand::Imm(r.imm)
    };
    Ok(Insn::Jump {
        width,
        cond,
        dst,
        src,
        off: r.off,
    })
}

fn decode_ld(r: RawInsn, next: Option<RawInsn>) -> Result<Insn, K> {
    match r.code & 0xe0 {
        mode::IMM if size_of(r.code) == Size::DW => {
            let kind = Imm64Kind::from_src(r.src).ok_or(K::InvalidRegister {
                field: "src (lddw kind 0 to 6)",
                value: r.src,
            })?;
            let dst = reg("dst", r.dst)?;
            zero("offset", r.off as i64)?;
            let tail = next.ok_or(K::MissingImm64Tail)?;
            if tail.code != 0 || tail.dst != 0 || tail.src != 0 || tail.off != 0 {
                return Err(K::BadImm64Tail);
            }
            if matches!(
                kind,
                Imm64Kind::MapFd | Imm64Kind::BtfId | Imm64Kind::Func | Imm64Kind::MapIdx
            ) {
                zero("imm of the second lddw slot", tail.imm as i64)?;
            }
            let imm = (r.imm as u32 as u64 | ((tail.imm as u32 as u64) << 32)) as i64;
            Ok(Insn::LdImm64 { dst, kind, imm })
        }
        m @ (mode::ABS | mode::IND) if size_of(r.code) != Size::DW => {
            zero("dst", r.dst as i64)?;
            zero("offset", r.off as i64)?;
            let index = if m == mode::IND {
                Some(reg("src", r.src)?)
            } else {
                zero("src", r.src as i64)?;
                None
            };
            Ok(Insn::LdPacket {
                size: size_of(r.code),
                index,
                imm: r.imm,
            })
        }
        _ => Err(K::UnknownOpcode(r.code)),
    }
}

fn decode_atomic(r: RawInsn) -> Result<Insn, K> {
    let size = size_of(r.code);
    let op = match r.imm {
        atomic::LOAD_ACQ => AtomicOp::LoadAcquire,
        atomic::STORE_REL => AtomicOp::StoreRelease,
        _ if !matches!(size, Size::W | Size::DW) => return Err(K::UnknownOpcode(r.code)),
        atomic::ADD => AtomicOp::Add { fetch: false },
        0x01 => AtomicOp::Add { fetch: true },
        atomic::OR => AtomicOp::Or { fetch: false },
        0x41 => AtomicOp::Or { fetch: true },
        atomic::AND => AtomicOp::And { fetch: false },
        0x51 => AtomicOp::And { fetch: true },
        atomic::XOR => AtomicOp::Xor { fetch: false },
        0xa1 => AtomicOp::Xor { fetch: true },
        atomic::XCHG => AtomicOp::Xchg,
        atomic::CMPXCHG => AtomicOp::CmpXchg,
        v => {
            return Err(K::InvalidImm {
                what: "atomic operation",
                value: v as i64,
            })
        }
    };
    Ok(Insn::Atomic {
        size,
        op,
        dst: reg("dst", r.dst)?,
        src: reg("src", r.src)?,
        off: r.off,
    })
}

/// Decodes a whole program of slots into one [`Insn`] per slot (the second
/// slot of `lddw` becomes [`Insn::LdImm64Tail`]), and checks that every
/// jump, local call and function address lands on an instruction inside
/// the program.
pub fn decode_program(slots: &[RawInsn]) -> Result<Vec<Insn>, DecodeError> {
    if slots.is_empty() {
        return Err(DecodeError {
            pc: 0,
            raw: None,
            kind: K::Empty,
        });
    }
    let mut insns = Vec::with_capacity(slots.len());
    let mut pc = 0;
    while pc < slots.len() {
        let raw = slots[pc];
        let insn = decode_insn(raw, slots.get(pc + 1).copied()).map_err(|kind| DecodeError {
            pc,
            raw: Some(raw),
            kind,
        })?;
        insns.push(insn);
        if insn.slots() == 2 {
            insns.push(Insn::LdImm64Tail);
        }
        pc += insn.slots();
    }
    for (pc, insn) in insns.iter().enumerate() {
        if let Some(target) = insn.branch_target(pc) {
            let bad = if target < 0 || target >= insns.len() as i64 {
                Some(K::JumpOutOfRange { target })
            } else if insns[target as usize] == Insn::LdImm64Tail {
                Some(K::JumpIntoImm64 { target })
            } else {
                None
            };
            if let Some(kind) = bad {
                return Err(DecodeError {
                    pc,
                    raw: Some(slots[pc]),
                    kind,
                });
            }
        }
    }
    Ok(insns)
}

/// Decodes a program from its wire bytes; see [`decode_program`].
pub fn decode(bytes: &[u8]) -> Result<Vec<Insn>, DecodeError> {
    let slots = slots_from_bytes(bytes).ok_or(DecodeError {
        pc: bytes.len() / RawInsn::SIZE,
        raw: None,
        kind: K::TrailingBytes(bytes.len() % RawInsn::SIZE),
    })?;
    decode_program(&slots)
}
