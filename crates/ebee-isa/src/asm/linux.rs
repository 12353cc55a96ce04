//! The Linux syntax (llvm-objdump, clang's BPF assembler, the verifier log):
//! one instruction from the tokens of one line.

use super::lexer::{Kind, Token};
use super::operand::{imm64_kind, target, Cursor};
use super::{Fixup, FixupField, ParseError, Parsed};
use crate::insn::*;

/// A register as written: `r3` (64-bit name) or `w3` (32-bit name).
#[derive(Clone, Copy)]
struct NamedReg {
    reg: Reg,
    width: Width,
    pos: usize,
}

fn parse_reg_name(t: &Token) -> Option<Result<NamedReg, ParseError>> {
    if t.kind != Kind::Ident {
        return None;
    }
    let width = match t.text.as_bytes().first() {
        Some(b'r') => Width::W64,
        Some(b'w') => Width::W32,
        _ => return None,
    };
    let digits = &t.text[1..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        digits
            .parse::<u8>()
            .ok()
            .and_then(Reg::new)
            .map(|reg| NamedReg {
                reg,
                width,
                pos: t.pos,
            })
            .ok_or_else(|| {
                ParseError::new(t.pos, format!("invalid register `{}` (r0 to r10)", t.text))
            }),
    )
}

fn at_reg(c: &Cursor) -> bool {
    c.peek().and_then(|t| parse_reg_name(&t)).is_some()
}

fn reg(c: &mut Cursor) -> Result<NamedReg, ParseError> {
    match c.peek().and_then(|t| parse_reg_name(&t)) {
        Some(r) => {
            c.next();
            r
        }
        None => Err(c.expected("a register")),
    }
}

/// A register that must have the given width's name (`w` for 32 bits).
fn reg_of_width(c: &mut Cursor, width: Width) -> Result<Reg, ParseError> {
    let r = reg(c)?;
    if r.width != width {
        let want = if width == Width::W32 { 'w' } else { 'r' };
        return Err(ParseError::new(
            r.pos,
            format!(
                "mixed register widths: expected a {}-bit register `{want}{}`",
                if width == Width::W32 { 32 } else { 64 },
                r.reg.index()
            ),
        ));
    }
    Ok(r.reg)
}

/// `u8`..`u64`, `s8`..`s32` inside `*(... *)`: size and signedness.
fn size_type(c: &mut Cursor) -> Result<(Size, bool, usize), ParseError> {
    let t = c.ident("a size type (u8, u16, u32, u64, s8, s16, s32)")?;
    let (signed, bits) = match t.text.split_at(1) {
        ("u", b) => (false, b),
        ("s", b) => (true, b),
        _ => {
            return Err(ParseError::new(
                t.pos,
                format!("unknown size type `{}`", t.text),
            ))
        }
    };
    let size = match bits {
        "8" => Size::B,
        "16" => Size::H,
        "32" => Size::W,
        "64" => Size::DW,
        _ => {
            return Err(ParseError::new(
                t.pos,
                format!("unknown size type `{}`", t.text),
            ))
        }
    };
    Ok((size, signed, t.pos))
}

/// `(u32 *)`
fn cast(c: &mut Cursor) -> Result<(Size, bool, usize), ParseError> {
    c.expect("(")?;
    let s = size_type(c)?;
    c.expect("*")?;
    c.expect(")")?;
    Ok(s)
}

fn unsigned_cast(c: &mut Cursor) -> Result<Size, ParseError> {
    let (size, signed, pos) = cast(c)?;
    if signed {
        return Err(ParseError::new(
            pos,
            "only loads can sign-extend (use a u type)",
        ));
    }
    Ok(size)
}

/// `r1 + 0x8`, `r1 - 8`, `r1 +8`, `r1` (inside parentheses or an atomic's argument list).
fn base_offset(c: &mut Cursor) -> Result<(Reg, i16), ParseError> {
    let base = reg(c)?;
    if base.width != Width::W64 {
        return Err(ParseError::new(
            base.pos,
            "an address register must be an `r` register",
        ));
    }
    let off = if c.at_number() {
        c.number("an offset")?.off16()?
    } else {
        0
    };
    Ok((base.reg, off))
}

/// `(r10 - 0x8)`
fn address(c: &mut Cursor) -> Result<(Reg, i16), ParseError> {
    c.expect("(")?;
    let a = base_offset(c)?;
    c.expect(")")?;
    Ok(a)
}

/// The second operand of an ALU operation or jump: a register of `width` or an immediate.
fn operand(c: &mut Cursor, width: Width) -> Result<Operand, ParseError> {
    if at_reg(c) {
        Ok(Operand::Reg(reg_of_width(c, width)?))
    } else if c.at_number() {
        Ok(Operand::Imm(c.number("an immediate")?.imm32()?))
    } else {
        Err(c.expected("a register or an immediate"))
    }
}

fn check_atomic_size(size: Size, pos: usize, what: &str) -> Result<(), ParseError> {
    if matches!(size, Size::W | Size::DW) {
        Ok(())
    } else {
        Err(ParseError::new(
            pos,
            format!("{what} works on u32 or u64 only"),
        ))
    }
}

fn same_reg(a: NamedReg, b: NamedReg, what: &str) -> Result<(), ParseError> {
    if a.reg != b.reg {
        return Err(ParseError::new(
            b.pos,
            format!(
                "{what}: the result register must be the value register (r{})",
                b.reg.index()
            ),
        ));
    }
    Ok(())
}

/// One instruction; `bytes` are the listing's raw byte columns and
/// `opcode` the opcode it shows (objdump bytes, the verifier log's `(18)`).
pub(crate) fn parse(
    c: &mut Cursor,
    bytes: Option<&[u8]>,
    opcode: Option<u8>,
) -> Result<Parsed, ParseError> {
    let first = c.peek().ok_or_else(|| c.expected("an instruction"))?;
    if first.kind == Kind::Punct && first.text == "*" {
        c.next();
        return store(c);
    }
    if at_reg(c) {
        return assignment(c, opcode);
    }
    if first.kind != Kind::Ident {
        return Err(c.expected("an instruction"));
    }
    c.next();
    match first.text {
        "exit" => Ok(Insn::Exit.into()),
        "goto" => {
            let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
            Ok(Parsed {
                insn: Insn::Ja {
                    off: off as i32,
                    long: false,
                },
                fixup,
            })
        }
        "gotol" => {
            let (off, fixup) = target(c)?.off32(FixupField::JaLong)?;
            Ok(Parsed {
                insn: Insn::Ja { off, long: true },
                fixup,
            })
        }
        "may_goto" => {
            let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
            Ok(Parsed {
                insn: Insn::MayGoto { off },
                fixup,
            })
        }
        "if" => jump(c),
        "call" => call(c, bytes),
        "callx" => {
            let r = reg(c)?;
            Ok(Insn::CallX { reg: r.reg }.into())
        }
        "lock" => {
            c.expect("*")?;
            let size = unsigned_cast(c)?;
            let size_pos = c.pos();
            let (dst, off) = address(c)?;
            let op_tok = c.next().ok_or_else(|| c.expected("an atomic operator"))?;
            let op = match op_tok.text {
                "+=" => AtomicOp::Add { fetch: false },
                "|=" => AtomicOp::Or { fetch: false },
                "&=" => AtomicOp::And { fetch: false },
                "^=" => AtomicOp::Xor { fetch: false },
                other => {
                    return Err(ParseError::new(
                        op_tok.pos,
                        format!("`{other}` is not an atomic operator (+=, |=, &=, ^=)"),
                    ))
                }
            };
            check_atomic_size(size, size_pos, "an atomic operation")?;
            let src = reg(c)?.reg;
            Ok(Insn::Atomic {
                size,
                op,
                dst,
                src,
                off,
            }
            .into())
        }
        "store_release" => {
            c.expect("(")?;
            let size = unsigned_cast(c)?;
            let (dst, off) = address(c)?;
            c.expect(",")?;
            let src = reg(c)?.reg;
            c.expect(")")?;
            Ok(Insn::Atomic {
                size,
                op: AtomicOp::StoreRelease,
                dst,
                src,
                off,
            }
            .into())
        }
        "ld_pseudo" => {
            // llvm-objdump's form for `lddw` with a pseudo source: `ld_pseudo r1, 2, 0x5`.
            let dst = reg(c)?.reg;
            c.expect(",")?;
            let n = c.number("the source (1 to 6)")?;
            let kind = u8::try_from(n.mag)
                .ok()
                .filter(|_| !n.neg)
                .and_then(Imm64Kind::from_src)
                .ok_or_else(|| ParseError::new(n.pos, format!("invalid lddw source {}", n.text)))?;
            c.expect(",")?;
            let lo = c.number("an immediate")?.imm32()?;
            let hi = match bytes {
                Some(b) if b.len() == 16 => i32::from_le_bytes([b[12], b[13], b[14], b[15]]),
                _ => 0,
            };
            let imm = (lo as u32 as u64 | ((hi as u32 as u64) << 32)) as i64;
            Ok(Insn::LdImm64 { dst, kind, imm }.into())
        }
        other => Err(ParseError::new(
            first.pos,
            format!("unknown instruction `{other}`"),
        )),
    }
}

/// `*(u32 *)(r10 - 8) = r1` or `= 5`.
fn store(c: &mut Cursor) -> Result<Parsed, ParseError> {
    let size = unsigned_cast(c)?;
    let (dst, off) = address(c)?;
    c.expect("=")?;
    let src = if at_reg(c) {
        Operand::Reg(reg(c)?.reg)
    } else if c.at_number() {
        Operand::Imm(c.number("an immediate")?.imm32()?)
    } else {
        return Err(c.expected("a register or an immediate"));
    };
    Ok(Insn::Store {
        size,
        dst,
        off,
        src,
    }
    .into())
}

/// `if r1 s> r2 goto +3`
fn jump(c: &mut Cursor) -> Result<Parsed, ParseError> {
    let dst = reg(c)?;
    let op = c.next().ok_or_else(|| c.expected("a comparison"))?;
    let cond = match op.text {
        "==" => JmpCond::Eq,
        "!=" => JmpCond::Ne,
        ">" => JmpCond::Gt,
        ">=" => JmpCond::Ge,
        "<" => JmpCond::Lt,
        "<=" => JmpCond::Le,
        "s>" => JmpCond::Sgt,
        "s>=" => JmpCond::Sge,
        "s<" => JmpCond::Slt,
        "s<=" => JmpCond::Sle,
        "&" => JmpCond::Set,
        other => {
            return Err(ParseError::new(
                op.pos,
                format!(
                    "`{other}` is not a comparison (==, !=, >, >=, <, <=, s>, s>=, s<, s<=, &)"
                ),
            ))
        }
    };
    let src = operand(c, dst.width)?;
    c.expect_word("goto")?;
    let (off, fixup) = target(c)?.off16(FixupField::Off16)?;
    Ok(Parsed {
        insn: Insn::Jump {
            width: dst.width,
            cond,
            dst: dst.reg,
            src,
            off,
        },
        fixup,
    })
}

/// `call 1`, `call pc+3`, `call kfunc(7)`, `call bpf_map_lookup_elem`, `call label`.
fn call(c: &mut Cursor, bytes: Option<&[u8]>) -> Result<Parsed, ParseError> {
    if c.at_number() {
        let id = c.number("a helper id")?.imm32()?;
        // llvm-objdump prints local and kfunc calls like helper calls; in a
        // listing with byte columns, the source field says which it is.
        let target = match bytes {
            Some(b) if b[0] == 0x85 && b[1] >> 4 == 1 => CallTarget::Local(id),
            Some(b) if b[0] == 0x85 && b[1] >> 4 == 2 => CallTarget::Kfunc {
                btf_id: id,
                module: i16::from_le_bytes([b[2], b[3]]),
            },
            _ => CallTarget::Helper(id),
        };
        return Ok(Insn::Call(target).into());
    }
    if at_reg(c) {
        return Ok(Insn::CallX { reg: reg(c)?.reg }.into());
    }
    let name = c.ident("a helper id, `pc+N`, `kfunc(ID)` or a function name")?;
    if name.text == "pc" && c.at_number() {
        let (off, fixup) = target_after_pc(c)?;
        return Ok(Parsed {
            insn: Insn::Call(CallTarget::Local(off)),
            fixup,
        });
    }
    if name.text == "kfunc" && c.eat("(") {
        let btf_id = c.number("a BTF id")?.signed32("BTF id")?;
        let mut module = 0;
        if c.eat(",") {
            module = c.number("a module index")?.off16()?;
        }
        c.expect(")")?;
        return Ok(Insn::Call(CallTarget::Kfunc { btf_id, module }).into());
    }
    // The verifier log: `call bpf_map_lookup_elem#1`.
    if c.eat("#") {
        let id = c.number("a helper id")?.imm32()?;
        return Ok(Insn::Call(CallTarget::Helper(id)).into());
    }
    Ok(Parsed {
        insn: Insn::Call(CallTarget::Helper(0)),
        fixup: Some(Fixup {
            label: name.text.to_string(),
            pos: name.pos,
            field: FixupField::CallByName,
        }),
    })
}

fn target_after_pc(c: &mut Cursor) -> Result<(i32, Option<Fixup>), ParseError> {
    let n = c.number("an offset")?;
    Ok((n.signed32("call offset")?, None))
}

/// Every form that starts with `rN` or `wN`.
fn assignment(c: &mut Cursor, opcode: Option<u8>) -> Result<Parsed, ParseError> {
    let dst = reg(c)?;
    let width = dst.width;
    let op = c
        .next()
        .ok_or_else(|| c.expected("an assignment operator"))?;
    let alu_op = match op.text {
        "=" => return assign(c, dst, opcode),
        "+=" => AluOp::Add,
        "-=" => AluOp::Sub,
        "*=" => AluOp::Mul,
        "/=" => AluOp::Div,
        "s/=" => AluOp::SDiv,
        "|=" => AluOp::Or,
        "&=" => AluOp::And,
        "<<=" => AluOp::Lsh,
        ">>=" => AluOp::Rsh,
        "s>>=" => AluOp::Arsh,
        "%=" => AluOp::Mod,
        "s%=" => AluOp::SMod,
        "^=" => AluOp::Xor,
        other => {
            return Err(ParseError::new(
                op.pos,
                format!(
                    "expected an assignment operator after `{}`, found `{other}`",
                    dst_name(dst)
                ),
            ))
        }
    };
    let src = operand(c, width)?;
    Ok(Insn::Alu {
        width,
        op: alu_op,
        dst: dst.reg,
        src,
    }
    .into())
}

fn dst_name(r: NamedReg) -> String {
    format!(
        "{}{}",
        if r.width == Width::W32 { 'w' } else { 'r' },
        r.reg.index()
    )
}

/// The right-hand side of `rN = ...`.
fn assign(c: &mut Cursor, dst: NamedReg, opcode: Option<u8>) -> Result<Parsed, ParseError> {
    let width = dst.width;
    let Some(t) = c.peek() else {
        return Err(c.expected("a value"));
    };
    // `r0 = -r0`
    if t.text == "-" && c.peek_at(1).and_then(|t| parse_reg_name(&t)).is_some() {
        c.next();
        let r = reg(c)?;
        if r.reg != dst.reg || r.width != width {
            return Err(ParseError::new(
                r.pos,
                format!("negation is in place: write `{0} = -{0}`", dst_name(dst)),
            ));
        }
        return Ok(Insn::Neg {
            width,
            dst: dst.reg,
        }
        .into());
    }
    if c.at_number() {
        let n = c.number("a value")?;
        // The verifier log writes `lddw` without `ll`; its `(18)` says it.
        if c.eat_word("ll") || opcode == Some(0x18) {
            return lddw(dst, Imm64Kind::Imm, n.imm64()?, None);
        }
        let imm = n.imm32().map_err(|mut e| {
            e.message.push_str(" (add `ll` for a 64-bit immediate)");
            e
        })?;
        return Ok(Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: dst.reg,
            src: Operand::Imm(imm),
        }
        .into());
    }
    if let Some((kind, imm, fixup)) = imm64_kind(c)? {
        c.eat_word("ll");
        return lddw(dst, kind, imm, fixup);
    }
    if at_reg(c) {
        let src = reg_of_width(c, width)?;
        return Ok(Insn::Alu {
            width,
            op: AluOp::Mov,
            dst: dst.reg,
            src: Operand::Reg(src),
        }
        .into());
    }
    if t.text == "(" {
        // `r0 = (s8)r1`
        let (size, signed, pos) = cast_no_star(c)?;
        let op = match (size, signed, width) {
            (Size::B, true, _) => AluOp::MovSx8,
            (Size::H, true, _) => AluOp::MovSx16,
            (Size::W, true, Width::W64) => AluOp::MovSx32,
            _ => {
                return Err(ParseError::new(
                    pos,
                    "sign extension is (s8) or (s16), or (s32) into an `r` register",
                ))
            }
        };
        let src = reg_of_width(c, width)?;
        return Ok(Insn::Alu {
            width,
            op,
            dst: dst.reg,
            src: Operand::Reg(src),
        }
        .into());
    }
    if t.text == "*" {
        c.next();
        let (size, signed, pos) = cast(c)?;
        if c.eat_word("skb") {
            return packet_load(c, dst, size, signed, pos);
        }
        if signed && size == Size::DW {
            return Err(ParseError::new(
                pos,
                "there is no sign-extending 64-bit load",
            ));
        }
        let (src, off) = address(c)?;
        return Ok(Insn::Load {
            size,
            signed,
            dst: dst.reg,
            src,
            off,
        }
        .into());
    }
    if t.kind != Kind::Ident {
        return Err(c.expected("a value"));
    }
    c.next();
    let word = t.text;
    // Byte order: `r0 = be16 r0`.
    for (prefix, order) in [
        ("le", ByteOrder::Le),
        ("be", ByteOrder::Be),
        ("bswap", ByteOrder::Swap),
    ] {
        if let Some(bits) = word.strip_prefix(prefix) {
            if let Ok(bits @ (16 | 32 | 64)) = bits.parse::<u8>() {
                let r = reg(c)?;
                if r.reg != dst.reg {
                    return Err(ParseError::new(
                        r.pos,
                        format!(
                            "byte swaps are in place: write `{0} = {word} {0}`",
                            dst_name(dst)
                        ),
                    ));
                }
                return Ok(Insn::Endian {
                    order,
                    bits,
                    dst: dst.reg,
                }
                .into());
            }
        }
    }
    // Atomics that return a value.
    let fetch_op = word
        .strip_prefix("atomic_fetch_")
        .or_else(|| word.strip_prefix("atomic64_fetch_"))
        .or_else(|| word.strip_prefix("atomic32_fetch_"));
    if let Some(name) = fetch_op {
        let op = match name {
            "add" => AtomicOp::Add { fetch: true },
            "or" => AtomicOp::Or { fetch: true },
            "and" => AtomicOp::And { fetch: true },
            "xor" => AtomicOp::Xor { fetch: true },
            _ => {
                return Err(ParseError::new(
                    t.pos,
                    format!("unknown atomic operation `{word}`"),
                ))
            }
        };
        c.expect("(")?;
        let size_pos = c.pos();
        let size = unsigned_cast(c)?;
        check_atomic_size(size, size_pos, "an atomic operation")?;
        let (base, off) = address(c)?;
        c.expect(",")?;
        let v = reg(c)?;
        c.expect(")")?;
        same_reg(v, dst, word)?;
        return atomic(size, op, base, v.reg, off);
    }
    match word {
        "xchg_64" | "xchg32_32" | "cmpxchg_64" | "cmpxchg32_32" => {
            let size = if word.ends_with("_64") {
                Size::DW
            } else {
                Size::W
            };
            c.expect("(")?;
            let (base, off) = base_offset(c)?;
            c.expect(",")?;
            rest_of_xchg(c, word.starts_with("cmp"), dst, size, base, off)
        }
        "atomic64_xchg" | "atomic_xchg" | "atomic64_cmpxchg" | "atomic_cmpxchg" => {
            c.expect("(")?;
            let size_pos = c.pos();
            let size = unsigned_cast(c)?;
            check_atomic_size(size, size_pos, word)?;
            let (base, off) = address(c)?;
            c.expect(",")?;
            rest_of_xchg(c, word.contains("cmpxchg"), dst, size, base, off)
        }
        "load_acquire" => {
            c.expect("(")?;
            let size = unsigned_cast(c)?;
            let (src, off) = address(c)?;
            c.expect(")")?;
            atomic(size, AtomicOp::LoadAcquire, dst.reg, src, off)
        }
        _ => Err(ParseError::new(t.pos, format!("unknown value `{word}`"))),
    }
}

/// `, r2)` of xchg, or `, r0, r2)` of cmpxchg.
fn rest_of_xchg(
    c: &mut Cursor,
    cmp: bool,
    dst: NamedReg,
    size: Size,
    base: Reg,
    off: i16,
) -> Result<Parsed, ParseError> {
    if cmp {
        let r0 = reg(c)?;
        if r0.reg != Reg::R0 {
            return Err(ParseError::new(r0.pos, "cmpxchg compares with r0"));
        }
        if dst.reg != Reg::R0 {
            return Err(ParseError::new(
                dst.pos,
                "cmpxchg returns the old value in r0",
            ));
        }
        c.expect(",")?;
        let v = reg(c)?;
        c.expect(")")?;
        atomic(size, AtomicOp::CmpXchg, base, v.reg, off)
    } else {
        let v = reg(c)?;
        c.expect(")")?;
        same_reg(v, dst, "xchg")?;
        atomic(size, AtomicOp::Xchg, base, v.reg, off)
    }
}

fn atomic(size: Size, op: AtomicOp, dst: Reg, src: Reg, off: i16) -> Result<Parsed, ParseError> {
    Ok(Insn::Atomic {
        size,
        op,
        dst,
        src,
        off,
    }
    .into())
}

/// `(s8)` of a sign-extending move.
fn cast_no_star(c: &mut Cursor) -> Result<(Size, bool, usize), ParseError> {
    c.expect("(")?;
    let s = size_type(c)?;
    c.expect(")")?;
    Ok(s)
}

/// `r0 = *(u16 *)skb[0x10]` or `skb[r1 + 0x4]` (after `skb`).
fn packet_load(
    c: &mut Cursor,
    dst: NamedReg,
    size: Size,
    signed: bool,
    pos: usize,
) -> Result<Parsed, ParseError> {
    if signed || size == Size::DW {
        return Err(ParseError::new(pos, "packet loads are u8, u16 or u32"));
    }
    if dst.reg != Reg::R0 {
        return Err(ParseError::new(dst.pos, "packet loads always load into r0"));
    }
    c.expect("[")?;
    let (index, imm) = if at_reg(c) {
        let r = reg(c)?.reg;
        let imm = if c.at_number() {
            c.number("an offset")?.imm32()?
        } else {
            0
        };
        (Some(r), imm)
    } else {
        (None, c.number("an offset")?.imm32()?)
    };
    c.expect("]")?;
    Ok(Insn::LdPacket { size, index, imm }.into())
}

fn lddw(
    dst: NamedReg,
    kind: Imm64Kind,
    imm: i64,
    fixup: Option<Fixup>,
) -> Result<Parsed, ParseError> {
    if dst.width != Width::W64 {
        return Err(ParseError::new(
            dst.pos,
            "a 64-bit immediate needs an `r` register",
        ));
    }
    Ok(Parsed {
        insn: Insn::LdImm64 {
            dst: dst.reg,
            kind,
            imm,
        },
        fixup,
    })
}
