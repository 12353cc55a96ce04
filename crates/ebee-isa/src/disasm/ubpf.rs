//! The uBPF / bpf_conformance syntax (`ldxw %r0, [%r1+4]`, `jeq32 %r1, 0x5, +3`).

use super::linux::{atomic_operator, imm64_value};
use super::number::{signed_dec, signed_hex};
use crate::insn::*;

fn reg(r: Reg) -> String {
    format!("%r{}", r.index())
}

fn operand(src: Operand) -> String {
    match src {
        Operand::Reg(r) => reg(r),
        Operand::Imm(i) => signed_hex(i as i64),
    }
}

/// `[%r1+4]`, `[%r10-8]`, `[%r1]`.
fn mem(base: Reg, off: i16) -> String {
    if off == 0 {
        format!("[{}]", reg(base))
    } else {
        format!("[{}{}]", reg(base), signed_dec(off as i64))
    }
}

/// `b`, `h`, `w`, `dw`.
pub(crate) fn size_suffix(size: Size) -> &'static str {
    match size {
        Size::B => "b",
        Size::H => "h",
        Size::W => "w",
        Size::DW => "dw",
    }
}

pub(crate) fn alu_name(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "add",
        AluOp::Sub => "sub",
        AluOp::Mul => "mul",
        AluOp::Div => "div",
        AluOp::SDiv => "sdiv",
        AluOp::Or => "or",
        AluOp::And => "and",
        AluOp::Lsh => "lsh",
        AluOp::Rsh => "rsh",
        AluOp::Mod => "mod",
        AluOp::SMod => "smod",
        AluOp::Xor => "xor",
        AluOp::Mov => "mov",
        AluOp::Arsh => "arsh",
        AluOp::MovSx8 => "movsx8",
        AluOp::MovSx16 => "movsx16",
        AluOp::MovSx32 => "movsx32",
    }
}

pub(crate) fn jump_name(cond: JmpCond) -> &'static str {
    match cond {
        JmpCond::Eq => "jeq",
        JmpCond::Gt => "jgt",
        JmpCond::Ge => "jge",
        JmpCond::Set => "jset",
        JmpCond::Ne => "jne",
        JmpCond::Sgt => "jsgt",
        JmpCond::Sge => "jsge",
        JmpCond::Lt => "jlt",
        JmpCond::Le => "jle",
        JmpCond::Slt => "jslt",
        JmpCond::Sle => "jsle",
    }
}

pub(crate) fn format(insn: &Insn) -> String {
    match *insn {
        Insn::Alu {
            width,
            op,
            dst,
            src,
        } => {
            let name = alu_name(op);
            let suffix = match (op, width) {
                // movsx<from><to>: movsx832, movsx1664, movsx3264.
                (AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, Width::W32) => "32",
                (AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, Width::W64) => "64",
                (_, Width::W32) => "32",
                (_, Width::W64) => "",
            };
            format!("{name}{suffix} {}, {}", reg(dst), operand(src))
        }
        Insn::Neg { width, dst } => match width {
            Width::W32 => format!("neg32 {}", reg(dst)),
            Width::W64 => format!("neg {}", reg(dst)),
        },
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::Le => "le",
                ByteOrder::Be => "be",
                ByteOrder::Swap => "bswap",
            };
            format!("{name}{bits} {}", reg(dst))
        }
        Insn::LdImm64 { dst, kind, imm } => {
            let value = match kind {
                Imm64Kind::Imm => format!("{:#x}", imm as u64),
                _ => imm64_value(kind, imm, false),
            };
            format!("lddw {}, {value}", reg(dst))
        }
        Insn::LdImm64Tail => String::new(),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => format!(
            "ldx{}{} {}, {}",
            if signed { "s" } else { "" },
            size_suffix(size),
            reg(dst),
            mem(src, off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => match src {
            Operand::Reg(r) => format!("stx{} {}, {}", size_suffix(size), mem(dst, off), reg(r)),
            Operand::Imm(i) => format!(
                "st{} {}, {}",
                size_suffix(size),
                mem(dst, off),
                signed_hex(i as i64)
            ),
        },
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let w = if size == Size::W { "32" } else { "" };
            match op {
                AtomicOp::Xchg => format!("lock xchg{w} {}, {}", mem(dst, off), reg(src)),
                AtomicOp::CmpXchg => format!("lock cmpxchg{w} {}, {}", mem(dst, off), reg(src)),
                AtomicOp::LoadAcquire => format!(
                    "ldxacq{} {}, {}",
                    size_suffix(size),
                    reg(dst),
                    mem(src, off)
                ),
                AtomicOp::StoreRelease => format!(
                    "stxrel{} {}, {}",
                    size_suffix(size),
                    mem(dst, off),
                    reg(src)
                ),
                _ => {
                    let (name, fetch) = atomic_operator(op).unwrap_or(("add", false));
                    let f = if fetch { "fetch " } else { "" };
                    format!("lock {f}{name}{w} {}, {}", mem(dst, off), reg(src))
                }
            }
        }
        Insn::LdPacket { size, index, imm } => match index {
            None => format!("ldabs{} {}", size_suffix(size), signed_hex(imm as i64)),
            Some(r) => format!(
                "ldind{} {}, {}",
                size_suffix(size),
                reg(r),
                signed_hex(imm as i64)
            ),
        },
        Insn::Ja { off, long } => {
            format!(
                "{} {}",
                if long { "ja32" } else { "ja" },
                signed_dec(off as i64)
            )
        }
        Insn::Jump {
            width,
            cond,
            dst,
            src,
            off,
        } => format!(
            "{}{} {}, {}, {}",
            jump_name(cond),
            if width == Width::W32 { "32" } else { "" },
            reg(dst),
            operand(src),
            signed_dec(off as i64)
        ),
        Insn::Call(CallTarget::Helper(id)) => format!("call {id}"),
        Insn::Call(CallTarget::Local(off)) => format!("call local {}", signed_dec(off as i64)),
        Insn::Call(CallTarget::Kfunc { btf_id, module: 0 }) => format!("call kfunc {btf_id}"),
        Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
            format!("call kfunc {btf_id}, {module}")
        }
        Insn::CallX { reg: r } => format!("call {}", reg(r)),
        Insn::MayGoto { off } => format!("may_goto {}", signed_dec(off as i64)),
        Insn::Exit => "exit".to_string(),
    }
}
