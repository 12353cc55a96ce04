//! Telling the two syntaxes apart.

use super::lexer::{lex, Kind};
use super::listing::code_of;
use super::{ubpf, Syntax};

/// What one line says about its syntax, if anything.
fn classify(line: &str) -> Option<Syntax> {
    let code = code_of(line, Syntax::Linux)?;
    let text = &line[code.start..code.end];
    if text.contains("%r") {
        return Some(Syntax::Ubpf);
    }
    let toks = lex(line, code.start, code.end).ok()?;
    // Skip labels.
    let mut i = 0;
    while i + 1 < toks.len() && toks[i].kind == Kind::Ident && toks[i + 1].text == ":" {
        i += 2;
    }
    let first = toks.get(i)?;
    let second = toks.get(i + 1);
    match (first.kind, first.text) {
        (Kind::Punct, "*") => Some(Syntax::Linux),
        (Kind::Ident, "if" | "goto" | "gotol" | "callx" | "store_release" | "ld_pseudo") => {
            Some(Syntax::Linux)
        }
        (Kind::Ident, "lock") => match second {
            Some(t) if t.text == "*" => Some(Syntax::Linux),
            Some(_) => Some(Syntax::Ubpf),
            None => None,
        },
        (Kind::Ident, "call") => match second.map(|t| t.text) {
            Some("local" | "helper" | "kfunc" | "runtime") => {
                if toks.get(i + 2).is_some_and(|t| t.text == "(") {
                    Some(Syntax::Linux)
                } else {
                    Some(Syntax::Ubpf)
                }
            }
            Some("pc") => Some(Syntax::Linux),
            _ => None,
        },
        (Kind::Ident, "exit" | "may_goto") => None,
        (Kind::Ident, word) => {
            if second.is_some_and(|t| t.kind == Kind::Punct && t.text.ends_with('=')) {
                Some(Syntax::Linux)
            } else if ubpf::is_mnemonic(word) {
                Some(Syntax::Ubpf)
            } else {
                None
            }
        }
        _ => None,
    }
}

pub(crate) fn detect(text: &str) -> Syntax {
    text.lines().find_map(classify).unwrap_or(Syntax::Linux)
}
