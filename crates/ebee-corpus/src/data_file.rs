//! The `.data` test format of bpf_conformance: sections introduced by
//! `-- name` lines (`asm`, `mem`, `result`, `raw`, `error`, and the ignored
//! `c` and `no register offset`); `#` starts a comment.

use std::path::{Path, PathBuf};

/// The sections of one `.data` file that matter to a VM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataFile {
    /// The `-- asm` section, comments removed (uBPF syntax).
    pub asm: Option<String>,
    /// The `-- raw` section: instruction bytes, which override `asm`.
    pub raw: Option<Vec<u8>>,
    /// The input memory (`-- mem`, hex bytes).
    pub mem: Vec<u8>,
    /// The `-- result` text (expected r0).
    pub result: Option<String>,
    /// The `-- error` text (expected failure; may be empty).
    pub error: Option<String>,
}

/// The section names the format defines; any other `-- x` line is an
/// unknown directive.
pub const DIRECTIVES: [&str; 7] = [
    "asm",
    "mem",
    "result",
    "raw",
    "error",
    "c",
    "no register offset",
];

/// A `-- raw` body: 64-bit words (`0x5566778800000018`, byte 0 in the low
/// bits) or byte pairs (`07 00 01 00 ...`).
pub fn parse_raw(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for w in text.split_whitespace() {
        if let Some(h) = w.strip_prefix("0x") {
            let v = u64::from_str_radix(h, 16).map_err(|e| format!("{w}: {e}"))?;
            out.extend_from_slice(&v.to_le_bytes());
        } else {
            out.push(u8::from_str_radix(w, 16).map_err(|e| format!("{w}: {e}"))?);
        }
    }
    Ok(out)
}

/// Parses a `.data` file. An unknown directive inside `-- asm` stays in the
/// assembly text (for the assembler to reject, as upstream does).
pub fn parse(text: &str) -> Result<DataFile, String> {
    let mut f = DataFile::default();
    let mut section: Option<String> = None;
    let mut body = String::new();
    let finish = |section: &Option<String>, body: String, f: &mut DataFile| -> Result<(), String> {
        match section.as_deref() {
            Some("asm") => f.asm = Some(body),
            Some("raw") => f.raw = Some(parse_raw(&body)?),
            Some("mem") => f.mem = crate::parse_hex(&body)?,
            Some("result") => f.result = Some(body.trim().to_string()),
            Some("error") => f.error = Some(body.trim().to_string()),
            _ => {}
        }
        Ok(())
    };
    for line in text.lines() {
        if let Some(d) = line.trim().strip_prefix("--") {
            let d = d.split('#').next().unwrap_or("").trim();
            if DIRECTIVES.contains(&d) || section.as_deref() != Some("asm") {
                finish(&section, std::mem::take(&mut body), &mut f)?;
                section = Some(d.to_string());
                continue;
            }
        }
        body.push_str(line.split('#').next().unwrap_or(""));
        body.push('\n');
    }
    finish(&section, body, &mut f)?;
    Ok(f)
}

/// The `.data` files of a folder, sorted by name.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sections_and_both_raw_forms() {
        let f =
            parse("# c\n-- asm\nmov %r0, 1 # one\nexit\n-- mem\n01 02\n-- result\n0x1\n").unwrap();
        assert_eq!(f.asm.as_deref(), Some("mov %r0, 1 \nexit\n"));
        assert_eq!(f.mem, vec![1, 2]);
        assert_eq!(f.result.as_deref(), Some("0x1"));
        let f = parse("-- raw\n0x0000000000000095\n-- error\n").unwrap();
        assert_eq!(f.raw, Some(vec![0x95, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(f.error.as_deref(), Some(""));
        let f = parse("-- raw\n95 00 00 00 00 00 00 00\n").unwrap();
        assert_eq!(f.raw, Some(vec![0x95, 0, 0, 0, 0, 0, 0, 0]));
        let f = parse("-- asm\n-- Unknown directive\n").unwrap();
        assert_eq!(f.asm.as_deref(), Some("-- Unknown directive\n"));
    }
}
