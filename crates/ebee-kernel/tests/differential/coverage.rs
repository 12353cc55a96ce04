//! Which instruction forms the generated programs contain, so the test can
//! prove it compared every form it claims to cover.

use std::collections::BTreeSet;

use ebee_isa::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, Operand, Size, Width};

use crate::generator::Item;

fn w(width: Width) -> &'static str {
    match width {
        Width::W32 => "32",
        Width::W64 => "64",
    }
}

fn operand(src: Operand) -> &'static str {
    match src {
        Operand::Reg(_) => "reg",
        Operand::Imm(_) => "imm",
    }
}

fn atomic_name(op: AtomicOp) -> String {
    match op {
        AtomicOp::Add { fetch } => format!("add fetch={fetch}"),
        AtomicOp::Or { fetch } => format!("or fetch={fetch}"),
        AtomicOp::And { fetch } => format!("and fetch={fetch}"),
        AtomicOp::Xor { fetch } => format!("xor fetch={fetch}"),
        other => format!("{other:?}"),
    }
}

/// The form of one body item, e.g. `alu64 SDiv imm` or `jmp32 Sle reg`.
pub fn form(item: &Item) -> String {
    match *item {
        Item::Jump {
            width, cond, src, ..
        } => format!("jmp{} {cond:?} {}", w(width), operand(src)),
        Item::Ja { long: false, .. } => "goto".to_string(),
        Item::Ja { long: true, .. } => "gotol".to_string(),
        Item::MayGoto { .. } => "may_goto".to_string(),
        Item::Call { .. } => "call".to_string(),
        Item::Plain(insn) => match insn {
            Insn::Alu { width, op, src, .. } => {
                format!("alu{} {op:?} {}", w(width), operand(src))
            }
            Insn::Neg { width, .. } => format!("neg{}", w(width)),
            Insn::Endian { order, bits, .. } => format!("endian {order:?}{bits}"),
            Insn::LdImm64 { .. } => "lddw".to_string(),
            Insn::Load { size, signed, .. } => format!("ldx {size:?} signed={signed}"),
            Insn::Store { size, src, .. } => format!("st {size:?} {}", operand(src)),
            Insn::Atomic { size, op, .. } => format!("atomic {size:?} {}", atomic_name(op)),
            other => format!("{other:?}"),
        },
    }
}

/// Every form the generator is meant to produce.
pub fn expected_forms() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let binary = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Mul,
        AluOp::Div,
        AluOp::SDiv,
        AluOp::Or,
        AluOp::And,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Mod,
        AluOp::SMod,
        AluOp::Xor,
        AluOp::Mov,
        AluOp::Arsh,
    ];
    for width in [Width::W32, Width::W64] {
        for op in binary {
            for src in ["reg", "imm"] {
                out.insert(format!("alu{} {op:?} {src}", w(width)));
            }
        }
        for op in [AluOp::MovSx8, AluOp::MovSx16] {
            out.insert(format!("alu{} {op:?} reg", w(width)));
        }
        out.insert(format!("neg{}", w(width)));
        for cond in JmpCond::ALL {
            for src in ["reg", "imm"] {
                out.insert(format!("jmp{} {cond:?} {src}", w(width)));
            }
        }
    }
    out.insert("alu64 MovSx32 reg".to_string());
    for order in [ByteOrder::Le, ByteOrder::Be, ByteOrder::Swap] {
        for bits in [16, 32, 64] {
            out.insert(format!("endian {order:?}{bits}"));
        }
    }
    out.insert("lddw".to_string());
    out.insert("goto".to_string());
    out.insert("gotol".to_string());
    out.insert("may_goto".to_string());
    out.insert("call".to_string());
    for size in [Size::B, Size::H, Size::W, Size::DW] {
        out.insert(format!("ldx {size:?} signed=false"));
        if size != Size::DW {
            out.insert(format!("ldx {size:?} signed=true"));
        }
        for src in ["reg", "imm"] {
            out.insert(format!("st {size:?} {src}"));
        }
    }
    for size in [Size::B, Size::H, Size::W, Size::DW] {
        out.insert(format!("atomic {size:?} LoadAcquire"));
        out.insert(format!("atomic {size:?} StoreRelease"));
    }
    for size in [Size::W, Size::DW] {
        for fetch in [false, true] {
            for op in [
                AtomicOp::Add { fetch },
                AtomicOp::Or { fetch },
                AtomicOp::And { fetch },
                AtomicOp::Xor { fetch },
            ] {
                out.insert(format!("atomic {size:?} {}", atomic_name(op)));
            }
        }
        out.insert(format!("atomic {size:?} Xchg"));
        out.insert(format!("atomic {size:?} CmpXchg"));
    }
    out
}
