//! Splits the instruction part of one line into tokens, remembering where
//! each starts so that errors can point at it.

use super::ParseError;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A name: mnemonic, register (`r1`, `w1`, `%r1`), label, keyword.
    Ident,
    /// An unsigned number, decimal or `0x` hex (a sign is a separate token).
    Number,
    /// An operator or punctuation (`+=`, `s>>=`, `(`, `,`, ...).
    Punct,
}

/// One token of a line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub kind: Kind,
    pub text: &'a str,
    /// Byte offset in the line.
    pub pos: usize,
}

/// Operators, longest first so that the first match is the right one.
const OPERATORS: &[&str] = &[
    "<<=", ">>=", "==", "!=", ">=", "<=", "+=", "-=", "*=", "/=", "%=", "|=", "&=", "^=", "=", "<",
    ">", "&", "+", "-", "*", "(", ")", "[", "]", ",", ":", "#", "/", "%", "|", "^", "!",
];

/// The signed operators, which start with the letter `s`.
const SIGNED_OPERATORS: &[&str] = &["s>>=", "s>=", "s<=", "s/=", "s%=", "s>", "s<"];

fn ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == '.'
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// Tokens of `line[start..end]`; positions are offsets in `line`.
pub(crate) fn lex(line: &str, start: usize, end: usize) -> Result<Vec<Token<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut i = start;
    while i < end {
        let rest = &line[i..end];
        let c = rest.chars().next().unwrap_or(' ');
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let take = |n: usize, kind: Kind| Token {
            kind,
            text: &line[i..i + n],
            pos: i,
        };
        if c == 's' {
            if let Some(op) = SIGNED_OPERATORS.iter().find(|op| rest.starts_with(**op)) {
                out.push(take(op.len(), Kind::Punct));
                i += op.len();
                continue;
            }
        }
        if ident_start(c) || (c == '%' && rest[1..].starts_with(|c: char| ident_start(c))) {
            let n = 1 + rest[1..]
                .find(|c: char| !ident_char(c))
                .unwrap_or(rest.len() - 1);
            out.push(take(n, Kind::Ident));
            i += n;
            continue;
        }
        if c.is_ascii_digit() {
            let n = rest.find(|c: char| !ident_char(c)).unwrap_or(rest.len());
            let text = &rest[..n];
            let digits_ok = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
                Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
                None => text.chars().all(|c| c.is_ascii_digit()),
            };
            if !digits_ok {
                return Err(ParseError::new(i, format!("invalid number `{text}`")));
            }
            out.push(take(n, Kind::Number));
            i += n;
            continue;
        }
        if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
            out.push(take(op.len(), Kind::Punct));
            i += op.len();
            continue;
        }
        return Err(ParseError::new(i, format!("unexpected character `{c}`")));
    }
    Ok(out)
}
