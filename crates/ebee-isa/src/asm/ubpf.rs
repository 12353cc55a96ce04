//! The uBPF / bpf_conformance syntax: one instruction from the tokens of
//! one line (`mnemonic operand, operand, ...`).

use super::lexer::{Kind, Token};
use super::operand::{imm64_kind, target, Cursor};
use super::{Fixup, FixupField, ParseError, Parsed};
use crate::insn::*;

const ALU: [(&str, AluOp); 13] = [
    ("add", AluOp::Add),
    ("sub", AluOp::Sub),
    ("mul", AluOp::Mul),
    ("div", AluOp::Div),
    ("sdiv", AluOp::SDiv),
    ("or", AluOp::Or),
    ("and", AluOp::And),
    ("lsh", AluOp::Lsh),
    ("rsh", AluOp::Rsh),
    ("mod", AluOp::Mod),
    ("smod", AluOp::SMod),
    ("xor", AluOp::Xor),
    ("arsh", AluOp::Arsh),
];

const JUMPS: [(&str, JmpCond); 11] = [
    ("jeq", JmpCond::Eq),
    ("jgt", JmpCond::Gt),
    ("jge", JmpCond::Ge),
    ("jset", JmpCond::Set),
    ("jne", JmpCond::Ne),
    ("jsgt", JmpCond::Sgt),
    ("jsge", JmpCond::Sge),
    ("jlt", JmpCond::Lt),
    ("jle", JmpCond::Le),
    ("jslt", JmpCond::Slt),
    ("jsle", JmpCond::Sle),
];

/// What a mnemonic is, with the facts its name carries.
#[derive(Clone, Copy)]
enum Mnemonic {
    Alu(AluOp, Width),
    Mov(Width),
    Neg(Width),
    MovSx(AluOp, Width),
    Endian(ByteOrder, u8),
    Lddw,
    Load(Size, bool),
    Store(Size),
    StoreReg(Size),
    LoadAcquire(Size),
    StoreRelease(Size),
    LdAbs(Size),
    LdInd(Size),
    Ja,
    Ja32,
    Jump(JmpCond, Width),
    Call,
    CallX,
    Exit,
    MayGoto,
    Lock,
}

fn size_of(s: &str) -> Option<Size> {
    Some(match s {
        "b" => Size::B,
        "h" => Size::H,
        "w" => Size::W,
        "dw" => Size::DW,
        _ => return None,
    })
}

/// Splits `add32` into `add` and its width (`add` and `add64` are 64-bit).
fn width_suffix(word: &str) -> (&str, Width) {
    if let Some(base) = word.strip_suffix("32") {
        (base, Width::W32)
    } else if let Some(base) = word.strip_suffix("64") {
        (base, Width::W64)
    } else {
        (word, Width::W64)
    }
}

fn mnemonic(word: &str) -> Option<Mnemonic> {
    use Mnemonic as M;
    Some(match word {
        "lddw" => M::Lddw,
        "ja" => M::Ja,
        "ja32" => M::Ja32,
        "call" => M::Call,
        "callx" => M::CallX,
        "exit" => M::Exit,
        "may_goto" => M::MayGoto,
        "lock" => M::Lock,
        "movsx832" => M::MovSx(AluOp::MovSx8, Width::W32),
        "movsx864" => M::MovSx(AluOp::MovSx8, Width::W64),
        "movsx1632" => M::MovSx(AluOp::MovSx16, Width::W32),
        "movsx1664" => M::MovSx(AluOp::MovSx16, Width::W64),
        "movsx3264" => M::MovSx(AluOp::MovSx32, Width::W64),
        _ => {
            for (prefix, order) in [
                ("le", ByteOrder::Le),
                ("be", ByteOrder::Be),
                ("bswap", ByteOrder::Swap),
                ("swap", ByteOrder::Swap),
            ] {
                if let Some(bits) = word.strip_prefix(prefix) {
                    if let Ok(b @ (16 | 32 | 64)) = bits.parse::<u8>() {
                        return Some(M::Endian(order, b));
                    }
                }
            }
            if let Some(s) = word.strip_prefix("ldxacq") {
                return size_of(s).map(M::LoadAcquire);
            }
            if let Some(s) = word.strip_prefix("stxrel") {
                return size_of(s).map(M::StoreRelease);
            }
            if let Some(s) = word.strip_prefix("ldxs") {
                return size_of(s)
                    .filter(|s| *s != Size::DW)
                    .map(|s| M::Load(s, true));
            }
            if let Some(s) = word.strip_prefix("ldx") {
                return size_of(s).map(|s| M::Load(s, false));
            }
            if let Some(s) = word.strip_prefix("stx") {
                return size_of(s).map(M::StoreReg);
            }
            if let Some(s) = word.strip_prefix("st") {
                return size_of(s).map(M::Store);
            }
            if let Some(s) = word.strip_prefix("ldabs") {
                return size_of(s).filter(|s| *s != Size::DW).map(M::LdAbs);
            }
            if let Some(s) = word.strip_prefix("ldind") {
                return size_of(s).filter(|s| *s != Size::DW).map(M::LdInd);
            }
            let (base, width) = width_suffix(word);
            if base == "mov" {
                return Some(M::Mov(width));
            }
            if base == "neg" {
                return Some(M::Neg(width));
            }
            if let Some((_, op)) = ALU.iter().find(|(n, _)| *n == base) {
                return Some(M::Alu(*op, width));
            }
            if let Some((_, cond)) = JUMPS.iter().find(|(n, _)| *n == base) {
                return Some(M::Jump(*cond, width));
            }
            return None;
        }
    })
}

/// True if `word` is a uBPF mnemonic (used to detect the syntax).
pub(crate) fn is_mnemonic(word: &str) -> bool {
    mnemonic(word).is_some()
}

fn reg_tok(t: &Token) -> Option<Result<Reg, ParseError>> {
    if t.kind != Kind::Ident {
        return None;
    }
    let digits = t
        .text
        .strip_prefix("%r")
        .or_else(|| t.text.strip_prefix('r'))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return if t.text.starts_with('%') {
            Some(Err(ParseError::new(
                t.pos,
                format!("invalid register: {}", t.text),
            )))
        } else {
            None
        };
    }
    Some(digits.parse::<u8>().ok().and_then(Reg::new).ok_or_else(|| {
        ParseError::new(t.pos, format!("invalid register: {} (%r0 to %r10)", t.text))
    }))
}

fn at_reg(c: &Cursor) -> bool {
    c.peek().and_then(|t| reg_tok(&t)).is_some()
}

fn reg(c: &mut Cursor) -> Result<Reg, ParseError> {
    match c.peek().and_then(|t| reg_tok(&t)) {
        Some(r) => {
            c.next();
            r
        }
        None => Err(c.expected("a register")),
    }
}

/// `[%r1+4]`, `[%r10-8]`, `[%r1]`.
fn mem(c: &mut Cursor) -> Result<(Reg, i16), ParseError> {
    if !c.eat("[") {
        return Err(match c.peek() {
            Some(t) => ParseError::new(
                t.pos,
                format!("expected a memory operand like [%r1+4], found `{}`", t.text),
            ),
            None => c.expected("a memory operand like [%r1+4]"),
        });
    }
    let base = reg(c)?;
    let off = if c.at_number() {
        c.number("an offset")?.off16()?
    } else {
        0
    };
    c.expect("]")?;
    Ok((base, off))
}

fn operand(c: &mut Cursor) -> Result<Operand, ParseError> {
    if at_reg(c) {
        Ok(Operand::Reg(reg(c)?))
    } else if c.at_number() {
        Ok(Operand::Imm(c.number("an immediate")?.imm32()?))
    } else {
        Err(c.expected("a register or an immediate"))
    }
}

/// Counts the comma-separated operands left on the line.
fn operand_count(c: &Cursor) -> usize {
    let mut n = 0;
    let mut depth = 0i32;
    let mut any = false;
    let mut i = 0;
    while let Some(t) = c.peek_at(i) {
        match t.text {
            "[" | "(" => depth += 1,
            "]" | ")" => depth -= 1,
            "," if depth == 0 => {
                n += 1;
                any = false;
                i += 1;
                continue;
            }
            _ => {}
        }
        any = true;
        i += 1;
    }
    if any || n > 0 {
        n + 1
    } else {
        0
    }
}

fn arity(c: &Cursor, name: &Token, want: usize) -> Result<(), ParseError> {
    let found = operand_count(c);
    if found != want {
        return Err(ParseError::new(
            name.pos,
            format!(
                "invalid number of operands for `{}`: takes {want}, found {found}",
                name.text
            ),
        ));
    }
    Ok(())
}

/// One instruction.
pub(crate) fn parse(c: &mut Cursor) -> Result<Parsed, ParseError> {
    let name = c.ident("a mnemonic")?;
    let Some(m) = mnemonic(name.text) else {
        return Err(ParseError::new(
            name.pos,
            format!("invalid mnemonic: {}", name.text),
        ));
    };
    use Mnemonic as M;
    let arity_of = match m {
        M::Alu(..) | M::Mov(_) | M::MovSx(..) | M::Lddw | M::Load(..) | M::Store(_) => 2,
        M::StoreReg(_) | M::LoadAcquire(_) | M::StoreRelease(_) | M::LdInd(_) => 2,
        M::Neg(_) | M::Endian(..) | M::LdAbs(_) | M::Ja | M::Ja32 | M::CallX | M::MayGoto => 1,
        M::Jump(..) => 3,
        M::Exit => 0,
        M::Call | M::Lock => usize::MAX,
    };
    if arity_of != usize::MAX {
        arity(c, &name, arity_of)?;
    }
    let insn = match m {
        M::Alu(op, width) => {
            let dst = reg(c)?;
            c.expect(",")?;
            Insn::Alu {
                width,
                op,
                dst,
                src: operand(c)?,
            }
        }
        M::Mov(width) => {
            let dst = reg(c)?;
            c.expect(",")?;
            Insn::Alu {
                width,
                op: AluOp::Mov,
                dst,
                src: operand(c)?,
            }
        }
        M::MovSx(op, width) => {
            let dst = reg(c)?;
            c.expect(",")?;
            Insn::Alu {
                width,
                op,
                dst,
                src: Operand::Reg(reg(c)?),
            }
        }
        M::Neg(width) => Insn::Neg {
            width,
            dst: reg(c)?,
        },
        M::Endian(order, bits) => Insn::Endian {
            order,
            bits,
            dst: reg(c)?,
        },
        M::Lddw => {
            let dst = reg(c)?;
            c.expect(",")?;
            if let Some((kind, imm, fixup)) = imm64_kind(c)? {
                return Ok(Parsed {
                    insn: Insn::LdImm64 { dst, kind, imm },
                    fixup,
                });
            }
            let imm = c.number("a 64-bit immediate")?.imm64()?;
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::Imm,
                imm,
            }
        }
        M::Load(size, signed) => {
            let dst = reg(c)?;
            c.expect(",")?;
            let (src, off) = mem(c)?;
            Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            }
        }
        M::LoadAcquire(size) => {
            let dst = reg(c)?;
            c.expect(",")?;
            let (src, off) = mem(c)?;
            Insn::Atomic {
                size,
                op: AtomicOp::LoadAcquire,
                dst,
                src,
                off,
            }
        }
        M::Store(size) => {
            let (dst, off) = mem(c)?;
            c.expect(",")?;
            let imm = c.number("an immediate")?.imm32()?;
            Insn::Store {
                size,
                dst,
                off,
                src: Operand::Imm(imm),
            }
        }
        M::StoreReg(size) | M::StoreRelease(size) => {
            let (dst, off) = mem(c)?;
            c.expect(",")?;
            let src = reg(c)?;
            match m {
                M::StoreReg(_) => Insn::Store {
                    size,
                    dst,
                    off,
                    src: Operand::Reg(src),
                },
                _ => Insn::Atomic {
                    size,
                    op: AtomicOp::StoreRelease,
                    dst,
                    src,
                    off,
                },
            }
        }
        M::LdAbs(size) => Insn::LdPacket {
            size,
            index: None,
            imm: c.number("an offset")?.imm32()?,
        },
        M::LdInd(size) => {
            let index = Some(reg(c)?);
            c.expect(",")?;
            Insn::LdPacket {
                size,
                index,
                imm: c.number("an offset")?.imm32()?,
            }
        }
        M::Ja => {
            let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
            return Ok(Parsed {
                insn: Insn::Ja {
                    off: off as i32,
                    long: false,
                },
                fixup,
            });
        }
        M::Ja32 => {
            let (off, fixup) = target(c)?.off32(FixupField::JaLong)?;
            return Ok(Parsed {
                insn: Insn::Ja { off, long: true },
                fixup,
            });
        }
        M::MayGoto => {
            let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
            return Ok(Parsed {
                insn: Insn::MayGoto { off },
                fixup,
            });
        }
        M::Jump(cond, width) => {
            let dst = reg(c)?;
            c.expect(",")?;
            let src = operand(c)?;
            c.expect(",")?;
            let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
            return Ok(Parsed {
                insn: Insn::Jump {
                    width,
                    cond,
                    dst,
                    src,
                    off,
                },
                fixup,
            });
        }
        M::CallX => Insn::CallX { reg: reg(c)? },
        M::Exit => Insn::Exit,
        M::Call => return call(c, &name),
        M::Lock => return lock(c, &name),
    };
    Ok(insn.into())
}

/// `call 5`, `call helper 5`, `call %r2`, `call local label`, `call local +3`,
/// `call kfunc 7`, `call kfunc 7, 2` (`runtime` is an alias of `kfunc`),
/// `call name` (a label, else a helper by name).
fn call(c: &mut Cursor, name: &Token) -> Result<Parsed, ParseError> {
    if c.at_end() {
        return Err(ParseError::new(
            name.pos,
            "invalid number of operands for `call`: takes 1, found 0",
        ));
    }
    if at_reg(c) {
        return Ok(Insn::CallX { reg: reg(c)? }.into());
    }
    if c.at_number() || c.eat_word("helper") {
        let id = c.number("a helper id")?.imm32()?;
        return Ok(Insn::Call(CallTarget::Helper(id)).into());
    }
    if c.eat_word("local") {
        let (off, fixup) = target(c)?.off32(FixupField::CallLocal)?;
        return Ok(Parsed {
            insn: Insn::Call(CallTarget::Local(off)),
            fixup,
        });
    }
    if c.eat_word("kfunc") || c.eat_word("runtime") {
        let btf_id = c.number("a BTF id")?.signed32("BTF id")?;
        let mut module = 0;
        if c.eat(",") {
            module = c.number("a module index")?.off16()?;
        }
        return Ok(Insn::Call(CallTarget::Kfunc { btf_id, module }).into());
    }
    let t = c.ident("a helper id, a register, `local` or a name")?;
    Ok(Parsed {
        insn: Insn::Call(CallTarget::Helper(0)),
        fixup: Some(Fixup {
            label: t.text.to_string(),
            pos: t.pos,
            field: FixupField::CallByName,
        }),
    })
}

/// `lock [fetch] op[32] [%rD+off], %rS`.
fn lock(c: &mut Cursor, name: &Token) -> Result<Parsed, ParseError> {
    let fetch = c.eat_word("fetch");
    let Some(op_tok) = c.peek().filter(|t| t.kind == Kind::Ident) else {
        return Err(ParseError::new(
            name.pos,
            "invalid number of operands for lock: expected `lock [fetch] OP [%rD+OFF], %rS`",
        ));
    };
    c.next();
    let (base, width) = width_suffix(op_tok.text);
    let size = if width == Width::W32 {
        Size::W
    } else {
        Size::DW
    };
    let op = match (base, fetch) {
        ("add", f) => AtomicOp::Add { fetch: f },
        ("or", f) => AtomicOp::Or { fetch: f },
        ("and", f) => AtomicOp::And { fetch: f },
        ("xor", f) => AtomicOp::Xor { fetch: f },
        ("xchg", _) => AtomicOp::Xchg,
        ("cmpxchg", _) => AtomicOp::CmpXchg,
        _ => {
            return Err(ParseError::new(
                op_tok.pos,
                format!("invalid atomic operation: {}", op_tok.text),
            ))
        }
    };
    let found = operand_count(c);
    if found != 2 {
        return Err(ParseError::new(
            op_tok.pos,
            format!(
                "invalid number of operands for `lock {}`: takes 2, found {found}",
                op_tok.text
            ),
        ));
    }
    let (dst, off) = mem(c)?;
    c.expect(",")?;
    let src = reg(c)?;
    Ok(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }
    .into())
}
