//! Reading tokens: a cursor over one line, and the operand pieces both
//! syntaxes share (numbers with their range rules, jump targets, the
//! `lddw` value forms).

use super::lexer::{Kind, Token};
use super::{Fixup, FixupField, ParseError};
use crate::insn::Imm64Kind;

/// A cursor over the tokens of one line.
pub(crate) struct Cursor<'a> {
    toks: Vec<Token<'a>>,
    i: usize,
    /// Byte offset just past the instruction text (for "missing ..." errors).
    end: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(toks: Vec<Token<'a>>, end: usize) -> Self {
        Cursor { toks, i: 0, end }
    }

    pub(crate) fn peek(&self) -> Option<Token<'a>> {
        self.toks.get(self.i).copied()
    }

    pub(crate) fn peek_at(&self, n: usize) -> Option<Token<'a>> {
        self.toks.get(self.i + n).copied()
    }

    pub(crate) fn next(&mut self) -> Option<Token<'a>> {
        let t = self.peek();
        if t.is_some() {
            self.i += 1;
        }
        t
    }

    pub(crate) fn at_end(&self) -> bool {
        self.i >= self.toks.len()
    }

    /// Where the next token starts, or the end of the line.
    pub(crate) fn pos(&self) -> usize {
        self.peek().map_or(self.end, |t| t.pos)
    }

    /// True (and consumed) if the next token is the punctuation `p`.
    pub(crate) fn eat(&mut self, p: &str) -> bool {
        match self.peek() {
            Some(t) if t.kind == Kind::Punct && t.text == p => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }

    /// True (and consumed) if the next token is the name `word`.
    pub(crate) fn eat_word(&mut self, word: &str) -> bool {
        match self.peek() {
            Some(t) if t.kind == Kind::Ident && t.text == word => {
                self.i += 1;
                true
            }
            _ => false,
        }
    }

    /// An error at the next token saying what was expected there.
    pub(crate) fn expected(&self, what: &str) -> ParseError {
        match self.peek() {
            Some(t) => ParseError::new(t.pos, format!("expected {what}, found `{}`", t.text)),
            None => ParseError::new(self.end, format!("expected {what} at the end of the line")),
        }
    }

    pub(crate) fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }

    pub(crate) fn expect_word(&mut self, word: &str) -> Result<(), ParseError> {
        if self.eat_word(word) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{word}`")))
        }
    }

    pub(crate) fn ident(&mut self, what: &str) -> Result<Token<'a>, ParseError> {
        match self.peek() {
            Some(t) if t.kind == Kind::Ident => {
                self.i += 1;
                Ok(t)
            }
            _ => Err(self.expected(what)),
        }
    }

    pub(crate) fn expect_end(&self) -> Result<(), ParseError> {
        match self.peek() {
            None => Ok(()),
            Some(t) => Err(ParseError::new(
                t.pos,
                format!("unexpected `{}` after the end of the instruction", t.text),
            )),
        }
    }

    /// A number with an optional sign.
    pub(crate) fn number(&mut self, what: &str) -> Result<Number, ParseError> {
        let start = self.pos();
        let mut neg = false;
        let mut sign = false;
        // One sign, or a displacement's sign and the number's (`r1 + -4`).
        for _ in 0..2 {
            if self.eat("-") {
                neg = !neg;
                sign = true;
            } else if self.eat("+") {
                sign = true;
            } else {
                break;
            }
        }
        match self.peek() {
            Some(t) if t.kind == Kind::Number => {
                self.i += 1;
                let (digits, radix) = match t.text.get(..2) {
                    Some("0x" | "0X") => (&t.text[2..], 16),
                    _ => (t.text, 10),
                };
                let text = format!(
                    "{}{}",
                    if neg {
                        "-"
                    } else if sign {
                        "+"
                    } else {
                        ""
                    },
                    t.text
                );
                let mag = u64::from_str_radix(digits, radix).map_err(|_| {
                    ParseError::new(start, format!("number out of 64-bit range: {text}"))
                })?;
                Ok(Number {
                    neg,
                    mag,
                    hex: radix == 16,
                    pos: start,
                    text,
                })
            }
            _ => Err(self.expected(what)),
        }
    }

    /// True if the next tokens start a number (an optional sign, then digits).
    pub(crate) fn at_number(&self) -> bool {
        match self.peek() {
            Some(t) if t.kind == Kind::Number => true,
            Some(t) if t.kind == Kind::Punct && (t.text == "+" || t.text == "-") => {
                match self.peek_at(1) {
                    Some(n) if n.kind == Kind::Number => true,
                    Some(s) if s.kind == Kind::Punct && (s.text == "+" || s.text == "-") => {
                        matches!(self.peek_at(2), Some(n) if n.kind == Kind::Number)
                    }
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// A number as written: sign, magnitude and base, for range checks.
#[derive(Debug, Clone)]
pub(crate) struct Number {
    pub neg: bool,
    pub mag: u64,
    pub hex: bool,
    pub pos: usize,
    pub text: String,
}

impl Number {
    /// The value as a signed integer, if it fits in an i128 (always).
    fn value(&self) -> i128 {
        if self.neg {
            -(self.mag as i128)
        } else {
            self.mag as i128
        }
    }

    /// A 32-bit immediate. Decimal values must fit a signed 32-bit integer;
    /// hex values may also be written as their unsigned bit pattern
    /// (`0xffffffff` is -1), as the conformance suite's assembler reads them.
    pub(crate) fn imm32(&self) -> Result<i32, ParseError> {
        let v = self.value();
        let max = if self.hex {
            u32::MAX as i128
        } else {
            i32::MAX as i128
        };
        if v < i32::MIN as i128 || v > max {
            return Err(ParseError::new(
                self.pos,
                format!("immediate out of 32-bit range: {}", self.text),
            ));
        }
        Ok(v as i64 as u32 as i32)
    }

    /// A 64-bit immediate, signed or as its unsigned bit pattern.
    pub(crate) fn imm64(&self) -> Result<i64, ParseError> {
        let v = self.value();
        if v < i64::MIN as i128 || v > u64::MAX as i128 {
            return Err(ParseError::new(
                self.pos,
                format!("immediate out of 64-bit range: {}", self.text),
            ));
        }
        Ok(v as i64 as u64 as i64)
    }

    /// A signed 16-bit memory offset.
    pub(crate) fn off16(&self) -> Result<i16, ParseError> {
        i16::try_from(self.value()).map_err(|_| {
            ParseError::new(
                self.pos,
                format!("offset out of 16-bit range: {}", self.text),
            )
        })
    }

    /// A signed value that must fit `i32` (jump offsets of `gotol`, local
    /// calls, BTF ids).
    pub(crate) fn signed32(&self, what: &str) -> Result<i32, ParseError> {
        i32::try_from(self.value()).map_err(|_| {
            ParseError::new(
                self.pos,
                format!("{what} out of 32-bit range: {}", self.text),
            )
        })
    }
}

/// A jump target: a relative offset or a label.
pub(crate) enum Target {
    /// `+3`, `-2`, `pc+3`.
    Offset(Number),
    /// A label name and where it was written.
    Label(String, usize),
}

/// Reads `+3`, `-3`, `3`, `pc+3`, `pc-3` or a label.
pub(crate) fn target(c: &mut Cursor) -> Result<Target, ParseError> {
    if c.at_number() {
        return c.number("a jump offset").map(Target::Offset);
    }
    let t = c.ident("a jump offset (+N, -N) or a label")?;
    if t.text == "pc" && matches!(c.peek(), Some(p) if p.text == "+" || p.text == "-") {
        let mut n = c.number("an offset after `pc`")?;
        n.pos = t.pos;
        return Ok(Target::Offset(n));
    }
    Ok(Target::Label(t.text.to_string(), t.pos))
}

impl Target {
    /// The offset as a 16-bit jump offset, or a fixup for the label.
    pub(crate) fn off16(self, field: FixupField) -> Result<(i16, Option<Fixup>), ParseError> {
        match self {
            Target::Offset(n) => {
                let v = i16::try_from(n.value()).map_err(|_| {
                    ParseError::new(
                        n.pos,
                        format!("jump offset out of 16-bit range: {}", n.text),
                    )
                })?;
                Ok((v, None))
            }
            Target::Label(label, pos) => Ok((0, Some(Fixup { label, pos, field }))),
        }
    }

    /// The offset as a 32-bit offset (`gotol`, local calls), or a fixup.
    pub(crate) fn off32(self, field: FixupField) -> Result<(i32, Option<Fixup>), ParseError> {
        match self {
            Target::Offset(n) => Ok((n.signed32("jump offset")?, None)),
            Target::Label(label, pos) => Ok((0, Some(Fixup { label, pos, field }))),
        }
    }
}

/// The `lddw` value forms other than a plain number, shared by both
/// syntaxes: `map_fd(N)`, `map_value(N) + OFF`, `btf_id(N)`,
/// `func(+N)` or `func(label)`, `map_idx(N)`, `map_idx_value(N) + OFF`.
/// Returns `None` (consuming nothing) if the next token is not one of them.
pub(crate) fn imm64_kind(
    c: &mut Cursor,
) -> Result<Option<(Imm64Kind, i64, Option<Fixup>)>, ParseError> {
    let kind = match (c.peek(), c.peek_at(1)) {
        (Some(t), Some(p)) if t.kind == Kind::Ident && p.text == "(" => match t.text {
            "map_fd" => Imm64Kind::MapFd,
            "map_value" => Imm64Kind::MapValue,
            "btf_id" => Imm64Kind::BtfId,
            "func" => Imm64Kind::Func,
            "map_idx" => Imm64Kind::MapIdx,
            "map_idx_value" => Imm64Kind::MapIdxValue,
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    c.next();
    c.next();
    let mut fixup = None;
    let lo: i32 = if kind == Imm64Kind::Func {
        let (off, f) = target(c)?.off32(FixupField::Func)?;
        fixup = f;
        off
    } else {
        c.number("a number")?.imm32()?
    };
    c.expect(")")?;
    let mut hi: i32 = 0;
    if matches!(kind, Imm64Kind::MapValue | Imm64Kind::MapIdxValue) && c.at_number() {
        let n = c.number("an offset into the map value")?;
        hi = n.signed32("map value offset")?;
    }
    let imm = (lo as u32 as u64 | ((hi as u32 as u64) << 32)) as i64;
    Ok(Some((kind, imm, fixup)))
}
