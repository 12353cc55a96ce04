//! The Linux syntax: what llvm-objdump and the kernel's verifier log print
//! (`r1 = *(u32 *)(r10 - 0x4)`, `if w1 s> w2 goto +3`).

use super::number::{displacement, signed_dec, signed_hex};
use crate::insn::*;

/// `r3` or `w3`.
fn reg(r: Reg, width: Width) -> String {
    match width {
        Width::W64 => format!("r{}", r.index()),
        Width::W32 => format!("w{}", r.index()),
    }
}

fn operand(src: Operand, width: Width) -> String {
    match src {
        Operand::Reg(r) => reg(r, width),
        Operand::Imm(i) => signed_hex(i as i64),
    }
}

/// `u8`, `u16`, `u32`, `u64` (or `s..` when sign-extending).
pub(crate) fn size_type(size: Size, signed: bool) -> String {
    format!("{}{}", if signed { 's' } else { 'u' }, size.bytes() * 8)
}

/// `(r10 - 0x8)`
fn addr(base: Reg, off: i16) -> String {
    format!("(r{}{})", base.index(), displacement(off as i64))
}

/// The width whose register names a memory access of `size` uses.
fn access_width(size: Size) -> Width {
    if size == Size::DW {
        Width::W64
    } else {
        Width::W32
    }
}

pub(crate) fn alu_operator(op: AluOp) -> &'static str {
    match op {
        AluOp::Add => "+=",
        AluOp::Sub => "-=",
        AluOp::Mul => "*=",
        AluOp::Div => "/=",
        AluOp::SDiv => "s/=",
        AluOp::Or => "|=",
        AluOp::And => "&=",
        AluOp::Lsh => "<<=",
        AluOp::Rsh => ">>=",
        AluOp::Mod => "%=",
        AluOp::SMod => "s%=",
        AluOp::Xor => "^=",
        AluOp::Arsh => "s>>=",
        AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => "=",
    }
}

pub(crate) fn jump_operator(cond: JmpCond) -> &'static str {
    match cond {
        JmpCond::Eq => "==",
        JmpCond::Gt => ">",
        JmpCond::Ge => ">=",
        JmpCond::Set => "&",
        JmpCond::Ne => "!=",
        JmpCond::Sgt => "s>",
        JmpCond::Sge => "s>=",
        JmpCond::Lt => "<",
        JmpCond::Le => "<=",
        JmpCond::Slt => "s<",
        JmpCond::Sle => "s<=",
    }
}

pub(crate) fn atomic_operator(op: AtomicOp) -> Option<(&'static str, bool)> {
    match op {
        AtomicOp::Add { fetch } => Some(("add", fetch)),
        AtomicOp::Or { fetch } => Some(("or", fetch)),
        AtomicOp::And { fetch } => Some(("and", fetch)),
        AtomicOp::Xor { fetch } => Some(("xor", fetch)),
        _ => None,
    }
}

/// The value part of `lddw` for a kind other than a plain constant, as
/// both syntaxes write it: `map_fd(5)`, `map_value(5)+16`, `func(+3)`.
pub(crate) fn imm64_value(kind: Imm64Kind, imm: i64, spaced: bool) -> String {
    let lo = imm as i32;
    let hi = (imm >> 32) as i32;
    let plus = |name: &str| {
        let (sign, mag) = if hi < 0 {
            ('-', hi.unsigned_abs())
        } else {
            ('+', hi as u32)
        };
        if spaced {
            format!("{name}({lo}) {sign} {mag}")
        } else {
            format!("{name}({lo}){sign}{mag}")
        }
    };
    match kind {
        Imm64Kind::Imm => signed_hex(imm),
        Imm64Kind::MapFd => format!("map_fd({lo})"),
        Imm64Kind::MapValue => plus("map_value"),
        Imm64Kind::BtfId => format!("btf_id({lo})"),
        Imm64Kind::Func => format!("func({})", signed_dec(lo as i64)),
        Imm64Kind::MapIdx => format!("map_idx({lo})"),
        Imm64Kind::MapIdxValue => plus("map_idx_value"),
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
            let d = reg(dst, width);
            let s = operand(src, width);
            match op {
                AluOp::MovSx8 => format!("{d} = (s8){s}"),
                AluOp::MovSx16 => format!("{d} = (s16){s}"),
                AluOp::MovSx32 => format!("{d} = (s32){s}"),
                _ => format!("{d} {} {s}", alu_operator(op)),
            }
        }
        Insn::Neg { width, dst } => {
            let d = reg(dst, width);
            format!("{d} = -{d}")
        }
        Insn::Endian { order, bits, dst } => {
            let name = match order {
                ByteOrder::Le => "le",
                ByteOrder::Be => "be",
                ByteOrder::Swap => "bswap",
            };
            format!("r{0} = {name}{bits} r{0}", dst.index())
        }
        Insn::LdImm64 { dst, kind, imm } => {
            format!("r{} = {} ll", dst.index(), imm64_value(kind, imm, true))
        }
        Insn::LdImm64Tail => String::new(),
        Insn::Load {
            size,
            signed,
            dst,
            src,
            off,
        } => format!(
            "r{} = *({} *){}",
            dst.index(),
            size_type(size, signed),
            addr(src, off)
        ),
        Insn::Store {
            size,
            dst,
            off,
            src,
        } => format!(
            "*({} *){} = {}",
            size_type(size, false),
            addr(dst, off),
            operand(src, access_width(size))
        ),
        Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        } => {
            let w = access_width(size);
            let ty = size_type(size, false);
            let v = reg(src, w);
            match op {
                AtomicOp::Xchg => match size {
                    Size::DW => format!(
                        "{v} = xchg_64(r{}{}, {v})",
                        dst.index(),
                        displacement(off as i64)
                    ),
                    _ => format!(
                        "{v} = xchg32_32(r{}{}, {v})",
                        dst.index(),
                        displacement(off as i64)
                    ),
                },
                AtomicOp::CmpXchg => {
                    let r0 = reg(Reg::R0, w);
                    let name = if size == Size::DW {
                        "cmpxchg_64"
                    } else {
                        "cmpxchg32_32"
                    };
                    format!(
                        "{r0} = {name}(r{}{}, {r0}, {v})",
                        dst.index(),
                        displacement(off as i64)
                    )
                }
                AtomicOp::LoadAcquire => {
                    format!("{} = load_acquire(({ty} *){})", reg(dst, w), addr(src, off))
                }
                AtomicOp::StoreRelease => {
                    format!("store_release(({ty} *){}, {v})", addr(dst, off))
                }
                _ => {
                    let (name, fetch) = atomic_operator(op).unwrap_or(("add", false));
                    if fetch {
                        format!("{v} = atomic_fetch_{name}(({ty} *){}, {v})", addr(dst, off))
                    } else {
                        let sym = match name {
                            "add" => "+=",
                            "or" => "|=",
                            "and" => "&=",
                            _ => "^=",
                        };
                        format!("lock *({ty} *){} {sym} {v}", addr(dst, off))
                    }
                }
            }
        }
        Insn::LdPacket { size, index, imm } => {
            let ty = size_type(size, false);
            match index {
                None => format!("r0 = *({ty} *)skb[{}]", signed_hex(imm as i64)),
                Some(r) if imm == 0 => format!("r0 = *({ty} *)skb[r{}]", r.index()),
                Some(r) => format!(
                    "r0 = *({ty} *)skb[r{}{}]",
                    r.index(),
                    displacement(imm as i64)
                ),
            }
        }
        Insn::Ja { off, long } => {
            format!(
                "{} {}",
                if long { "gotol" } else { "goto" },
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
            "if {} {} {} goto {}",
            reg(dst, width),
            jump_operator(cond),
            operand(src, width),
            signed_dec(off as i64)
        ),
        Insn::Call(CallTarget::Helper(id)) => format!("call {id}"),
        Insn::Call(CallTarget::Local(off)) => {
            let o = signed_dec(off as i64);
            format!("call pc{o}")
        }
        Insn::Call(CallTarget::Kfunc { btf_id, module: 0 }) => format!("call kfunc({btf_id})"),
        Insn::Call(CallTarget::Kfunc { btf_id, module }) => {
            format!("call kfunc({btf_id}, {module})")
        }
        Insn::CallX { reg } => format!("callx r{}", reg.index()),
        Insn::MayGoto { off } => format!("may_goto {}", signed_dec(off as i64)),
        Insn::Exit => "exit".to_string(),
    }
}
