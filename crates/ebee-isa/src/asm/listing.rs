//! What of a line is instruction text: comments, `llvm-objdump` pc and
//! byte columns, symbol annotations and header lines are set aside.

use super::Syntax;

/// The instruction part of one line.
pub(crate) struct CodeLine {
    /// Byte range of the instruction text in the line.
    pub start: usize,
    pub end: usize,
    /// The raw byte columns of an objdump listing, when the line has them.
    pub bytes: Option<Vec<u8>>,
    /// The opcode, when the line shows it: the verifier log's `(18)`, or
    /// the first byte column.
    pub opcode: Option<u8>,
}

/// Where the comment of `line` starts (its length if none).
fn comment_start(line: &str, syntax: Syntax) -> usize {
    let b = line.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b';' => return i,
            b'/' if b.get(i + 1) == Some(&b'/') => return i,
            b'#' => {
                // The verifier log names helpers as `bpf_map_lookup_elem#1`.
                let in_name = syntax == Syntax::Linux
                    && i > 0
                    && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
                    && b.get(i + 1).is_some_and(|c| c.is_ascii_digit());
                if !in_name {
                    return i;
                }
            }
            _ => {}
        }
    }
    b.len()
}

fn skip_ws(s: &str, mut i: usize) -> usize {
    while i < s.len() && s.as_bytes()[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// Lines of an objdump listing that are not instructions.
fn is_listing_header(code: &str) -> bool {
    let t = code.trim();
    if t.starts_with("Disassembly of section") || t.contains("file format ") {
        return true;
    }
    // `0000000000000000 <func>:`
    if let Some((addr, rest)) = t.split_once(' ') {
        if !addr.is_empty()
            && addr.chars().all(|c| c.is_ascii_hexdigit())
            && rest.starts_with('<')
            && rest.ends_with(">:")
        {
            return true;
        }
    }
    // `0000000000000188:  R_BPF_64_64  map` (objdump -r)
    if let Some((addr, rest)) = t.split_once(':') {
        if !addr.is_empty()
            && addr.chars().all(|c| c.is_ascii_hexdigit())
            && rest.trim_start().starts_with("R_")
        {
            return true;
        }
    }
    false
}

/// Reads objdump's raw byte columns (8 or 16 two-digit hex bytes) at `i`.
fn byte_columns(s: &str, i: usize) -> Option<(Vec<u8>, usize)> {
    let b = s.as_bytes();
    let mut bytes = Vec::new();
    let mut j = i;
    loop {
        if j + 2 <= b.len()
            && b[j].is_ascii_hexdigit()
            && b[j + 1].is_ascii_hexdigit()
            && (j + 2 == b.len() || b[j + 2].is_ascii_whitespace())
        {
            bytes.push(u8::from_str_radix(&s[j..j + 2], 16).ok()?);
            j += 2;
            if bytes.len() == 16 {
                break;
            }
            // Bytes are separated by one space; anything else ends them.
            if j < b.len()
                && b[j] == b' '
                && j + 1 < b.len()
                && b[j + 1] != b' '
                && b[j + 1] != b'\t'
            {
                j += 1;
                continue;
            }
        }
        break;
    }
    if bytes.len() == 8 || bytes.len() == 16 {
        Some((bytes, j))
    } else {
        None
    }
}

/// The instruction text of `line`, or `None` if it has none.
pub(crate) fn code_of(line: &str, syntax: Syntax) -> Option<CodeLine> {
    let end = comment_start(line, syntax);
    let code = &line[..end];
    if is_listing_header(code) {
        return None;
    }
    let mut i = skip_ws(code, 0);
    // A leading pc: `  12:` (objdump, verifier log).
    let mut opcode = None;
    let digits = code[i..].bytes().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && code[i + digits..].starts_with(':') {
        i = skip_ws(code, i + digits + 1);
        // The verifier log's opcode: `(b7)`.
        let b = code.as_bytes();
        if b.len() >= i + 4
            && b[i] == b'('
            && b[i + 1].is_ascii_hexdigit()
            && b[i + 2].is_ascii_hexdigit()
            && b[i + 3] == b')'
        {
            opcode = u8::from_str_radix(&code[i + 1..i + 3], 16).ok();
            i = skip_ws(code, i + 4);
        }
    }
    let mut bytes = None;
    if let Some((b, j)) = byte_columns(code, i) {
        opcode = Some(b[0]);
        bytes = Some(b);
        i = skip_ws(code, j);
    }
    let mut stop = code.trim_end().len();
    // A trailing `<func+0x18>` symbol annotation on jump targets.
    if code[..stop].ends_with('>') {
        if let Some(lt) = code[..stop].rfind('<') {
            let inner = &code[lt + 1..stop - 1];
            let spaced = lt > 0 && code.as_bytes()[lt - 1].is_ascii_whitespace();
            if spaced
                && inner != "unknown"
                && !inner.is_empty()
                && !inner.contains(char::is_whitespace)
                && lt > i
            {
                stop = code[..lt].trim_end().len();
            }
        }
    }
    if i >= stop {
        // Nothing, or the byte-only continuation line of a two-slot instruction.
        return None;
    }
    Some(CodeLine {
        start: i,
        end: stop,
        bytes,
        opcode,
    })
}
