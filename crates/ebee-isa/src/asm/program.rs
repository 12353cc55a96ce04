//! The assembler's driver: lines → instructions, labels → offsets.

use super::lexer::{lex, Kind};
use super::listing::code_of;
use super::operand::Cursor;
use super::{linux, ubpf, AsmError, Fixup, FixupField, ParseError, Syntax};
use crate::helper_names;
use crate::insn::{CallTarget, Insn};
use std::collections::HashMap;

/// 1-based character column of byte offset `pos` in `line`.
fn column(line: &str, pos: usize) -> usize {
    line[..pos.min(line.len())].chars().count() + 1
}

fn error(line_no: usize, line: &str, e: ParseError) -> AsmError {
    AsmError {
        line: line_no,
        column: column(line, e.pos),
        message: e.message,
    }
}

/// A label reference waiting for its label.
struct Pending {
    pc: usize,
    line_no: usize,
    line: String,
    fixup: Fixup,
}

pub(crate) fn assemble(text: &str, syntax: Syntax) -> Result<Vec<Insn>, AsmError> {
    let mut insns: Vec<Insn> = Vec::new();
    let mut labels: HashMap<String, usize> = HashMap::new();
    let mut first_exit: Option<usize> = None;
    let mut pending: Vec<Pending> = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let Some(code) = code_of(line, syntax) else {
            continue;
        };
        let toks = lex(line, code.start, code.end).map_err(|e| error(line_no, line, e))?;
        let mut c = Cursor::new(toks, code.end);
        // Labels: `name:`, possibly followed by an instruction.
        while let (Some(name), Some(colon)) = (c.peek(), c.peek_at(1)) {
            if name.kind != Kind::Ident || colon.text != ":" {
                break;
            }
            if labels.insert(name.text.to_string(), insns.len()).is_some() {
                return Err(error(
                    line_no,
                    line,
                    ParseError::new(name.pos, format!("label `{}` is defined twice", name.text)),
                ));
            }
            c.next();
            c.next();
        }
        if c.at_end() {
            continue;
        }
        let parsed = match syntax {
            Syntax::Linux => linux::parse(&mut c, code.bytes.as_deref(), code.opcode),
            Syntax::Ubpf => ubpf::parse(&mut c),
        }
        .and_then(|p| c.expect_end().map(|_| p))
        .map_err(|e| error(line_no, line, e))?;
        let pc = insns.len();
        if parsed.insn == Insn::Exit && first_exit.is_none() {
            first_exit = Some(pc);
        }
        if let Some(fixup) = parsed.fixup {
            pending.push(Pending {
                pc,
                line_no,
                line: line.to_string(),
                fixup,
            });
        }
        insns.push(parsed.insn);
        if parsed.insn.slots() == 2 {
            insns.push(Insn::LdImm64Tail);
        }
    }
    if insns.is_empty() {
        return Err(AsmError {
            line: 1,
            column: 1,
            message: "no instructions".to_string(),
        });
    }
    for p in pending {
        resolve(&mut insns, &labels, first_exit, syntax, &p)
            .map_err(|e| error(p.line_no, &p.line, e))?;
    }
    Ok(insns)
}

fn resolve(
    insns: &mut [Insn],
    labels: &HashMap<String, usize>,
    first_exit: Option<usize>,
    syntax: Syntax,
    p: &Pending,
) -> Result<(), ParseError> {
    let f = &p.fixup;
    let mut target = labels.get(&f.label).copied();
    // uBPF: `exit` also names the first `exit` instruction.
    if target.is_none() && syntax == Syntax::Ubpf && f.label == "exit" {
        target = first_exit;
    }
    let len = insns.len();
    let insn = &mut insns[p.pc];
    let Some(target) = target else {
        if f.field == FixupField::CallByName {
            if let Some(id) = helper_names::id(&f.label) {
                *insn = Insn::Call(CallTarget::Helper(id));
                return Ok(());
            }
            return Err(ParseError::new(
                f.pos,
                format!("`{}` is neither a label nor a helper name", f.label),
            ));
        }
        return Err(ParseError::new(
            f.pos,
            format!("undefined label `{}`", f.label),
        ));
    };
    if target >= len {
        return Err(ParseError::new(
            f.pos,
            format!("label `{}` is after the last instruction", f.label),
        ));
    }
    let off = target as i64 - (p.pc as i64 + 1);
    let too_far = || {
        ParseError::new(
            f.pos,
            format!(
                "label `{}` is {off} instructions away, too far for a 16-bit jump offset",
                f.label
            ),
        )
    };
    match (f.field, insn) {
        (FixupField::Off16, Insn::Jump { off: o, .. } | Insn::MayGoto { off: o }) => {
            *o = i16::try_from(off).map_err(|_| too_far())?;
        }
        (
            FixupField::Off16,
            Insn::Ja {
                off: o,
                long: false,
            },
        ) => {
            i16::try_from(off).map_err(|_| too_far())?;
            *o = off as i32;
        }
        (FixupField::JaLong, Insn::Ja { off: o, long: true }) => *o = off as i32,
        (FixupField::CallLocal | FixupField::CallByName, insn) => {
            *insn = Insn::Call(CallTarget::Local(off as i32));
        }
        (FixupField::Func, Insn::LdImm64 { imm, .. }) => *imm = off as i32 as u32 as i64,
        _ => {
            return Err(ParseError::new(
                f.pos,
                "internal error: misplaced label reference",
            ))
        }
    }
    Ok(())
}
