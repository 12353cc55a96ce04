//! [`Insn`] → wire format. The inverse of `decode.rs`: for every valid
//! encoding `e`, `encode(decode(e)) == e`.

use crate::insn::*;
use crate::opcode::{alu, atomic, class, jmp, mode, size, source};
use crate::raw::RawInsn;

fn size_bits(s: Size) -> u8 {
    match s {
        Size::W => size::W,
        Size::H => size::H,
        Size::B => size::B,
        Size::DW => size::DW,
    }
}

fn operand(src: Operand) -> (u8, u8, i32) {
    match src {
        Operand::Reg(r) => (source::X, r.index(), 0),
        Operand::Imm(i) => (source::K, 0, i),
    }
}

fn alu_class(w: Width) -> u8 {
    match w {
        Width::W32 => class::ALU,
        Width::W64 => class::ALU64,
    }
}

/// Appends the slots of `insn` (none for [`Insn::LdImm64Tail`], two for
/// `lddw`) to `out`.
pub fn encode_into(insn: &Insn, out: &mut Vec<RawInsn>) {
    let r = |code, dst: u8, src: u8, off: i16, imm: i32| RawInsn::new(code, dst, src, off, imm);
    let slot = match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let (opc, off) = match op {
                AluOp::Add => (alu::ADD, 0),
                AluOp::Sub => (alu::SUB, 0),
                AluOp::Mul => (alu::MUL, 0),
                AluOp::Div => (alu::DIV, 0),
                AluOp::SDiv => (alu::DIV, 1),
                AluOp::Or => (alu::OR, 0),
                AluOp::And => (alu::AND, 0),
                AluOp::Lsh => (alu::LSH, 0),
                AluOp::Rsh => (alu::RSH, 0),
                AluOp::Mod => (alu::MOD, 0),
                AluOp::SMod => (alu::MOD, 1),
                AluOp::Xor => (alu::XOR, 0),
                AluOp::Mov => (alu::MOV, 0),
                AluOp::MovSx8 => (alu::MOV, 8),
                AluOp::MovSx16 => (alu::MOV, 16),
                AluOp::MovSx32 => (alu::MOV, 32),
                AluOp::Arsh => (alu::ARSH, 0),
            };
            let (s, sreg, imm) = operand(src);
            r(alu_class(width) | opc | s, dst.index(), sreg, off, imm)
        }
        Insn::Neg { width, dst } => r(alu_class(width) | alu::NEG, dst.index(), 0, 0, 0),
        Insn::Endian { order, bits, dst } => {
            let code = match order {
                ByteOrder::Le => class::ALU | alu::END | source::K,
                ByteOrder::Be => class::ALU | alu::END | source::X,
                ByteOrder::Swap => class::ALU64 | alu::END | source::K,
            };
            r(code, dst.index(), 0, 0, bits as i32)
        }
        Insn::LdImm64 { dst, kind, imm } => {
            out.push(r(
                class::LD | mode::IMM | size::DW,
                dst.index(),
                kind.src(),
                0,
                imm as i32,
            ));
            r(0, 0, 0, 0, (imm >> 32) as i32)
        }
        Insn::LdImm64Tail => return,
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => {
            let m = if signed { mode::MEMSX } else { mode::MEM };
            r(
                class::LDX | m | size_bits(size),
                dst.index(),
                src.index(),
                off,
                0,
            )
        }
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(s) => r(
                class::STX | mode::MEM | size_bits(size),
                dst.index(),
                s.index(),
                off,
                0,
            ),
            Operand::Imm(i) => r(
                class::ST | mode::MEM | size_bits(size),
                dst.index(),
                0,
                off,
                i,
            ),
        },
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let f = |fetch: bool| if fetch { atomic::FETCH } else { 0 };
            let imm = match op {
                AtomicOp::Add { fetch } => atomic::ADD | f(fetch),
                AtomicOp::Or { fetch } => atomic::OR | f(fetch),
                AtomicOp::And { fetch } => atomic::AND | f(fetch),
                AtomicOp::Xor { fetch } => atomic::XOR | f(fetch),
                AtomicOp::Xchg => atomic::XCHG,
                AtomicOp::CmpXchg => atomic::CMPXCHG,
                AtomicOp::LoadAcquire => atomic::LOAD_ACQ,
                AtomicOp::StoreRelease => atomic::STORE_REL,
            };
            r(
                class::STX | mode::ATOMIC | size_bits(size),
                dst.index(),
                src.index(),
                off,
                imm,
            )
        }
        Insn::LdPacket { size, index, imm } => match index {
            None => r(class::LD | mode::ABS | size_bits(size), 0, 0, 0, imm),
            Some(i) => r(
                class::LD | mode::IND | size_bits(size),
                0,
                i.index(),
                0,
                imm,
            ),
        },
        Insn::Ja { off, long: false } => r(class::JMP | jmp::JA, 0, 0, off as i16, 0),
        Insn::Ja { off, long: true } => r(class::JMP32 | jmp::JA, 0, 0, 0, off),
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => {
            let opc = match cond {
                JmpCond::Eq => jmp::JEQ,
                JmpCond::Gt => jmp::JGT,
                JmpCond::Ge => jmp::JGE,
                JmpCond::Set => jmp::JSET,
                JmpCond::Ne => jmp::JNE,
                JmpCond::Sgt => jmp::JSGT,
                JmpCond::Sge => jmp::JSGE,
                JmpCond::Lt => jmp::JLT,
                JmpCond::Le => jmp::JLE,
                JmpCond::Slt => jmp::JSLT,
                JmpCond::Sle => jmp::JSLE,
            };
            let cls = match width {
                Width::W32 => class::JMP32,
                Width::W64 => class::JMP,
            };
            let (s, sreg, imm) = operand(src);
            r(cls | opc | s, dst.index(), sreg, off, imm)
        }
        Insn::Call(target) => {
            let code = class::JMP | jmp::CALL;
            match target {
                CallTarget::Helper(id) => r(code, 0, 0, 0, id),
                CallTarget::Local(off) => r(code, 0, 1, 0, off),
                CallTarget::Kfunc { btf_id, module } => r(code, 0, 2, module, btf_id),
            }
        }
        Insn::CallX { reg } => r(class::JMP | jmp::CALL | source::X, reg.index(), 0, 0, 0),
        Insn::MayGoto { off } => r(class::JMP | jmp::JCOND, 0, 0, off, 0),
        Insn::Exit => r(class::JMP | jmp::EXIT, 0, 0, 0, 0),
    };
    out.push(slot);
}

/// The slots of one instruction.
pub fn encode_insn(insn: &Insn) -> Vec<RawInsn> {
    let mut v = Vec::with_capacity(2);
    encode_into(insn, &mut v);
    v
}

/// The slots of a program (tail placeholders are skipped; `lddw` emits both halves).
pub fn encode_program(insns: &[Insn]) -> Vec<RawInsn> {
    let mut v = Vec::with_capacity(insns.len());
    for i in insns {
        encode_into(i, &mut v);
    }
    v
}

/// The wire bytes of a program.
pub fn encode(insns: &[Insn]) -> Vec<u8> {
    crate::raw::slots_to_bytes(&encode_program(insns))
}
