//! `assembled_tests.jsonl` and `unused_field_negative.jsonl`: every
//! conformance program with the exact bytes upstream's assembler made.

use crate::parse_hex;
use std::path::Path;

/// One conformance test, as assembled upstream.
#[derive(Debug, Clone)]
pub struct Case {
    /// The `.data` file it comes from.
    pub file: String,
    /// The program's wire bytes.
    pub program: Vec<u8>,
    /// The input memory.
    pub mem: Vec<u8>,
    /// The expected r0, when the test expects success.
    pub expected: Option<u64>,
    /// The expected error text, when the test expects failure.
    pub expected_error: Option<String>,
    /// The conformance groups (`base32`, `atomic64`, `callx`, ...).
    pub groups: Vec<String>,
}

/// Reads an expected result as the suite writes it: `0x…` hex, or decimal
/// (possibly negative, as two's complement).
pub fn parse_result(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if let Some(h) = s.strip_prefix("0x") {
        u64::from_str_radix(h, 16).map_err(|e| format!("{s}: {e}"))
    } else if let Some(d) = s.strip_prefix('-') {
        d.parse::<u64>()
            .map(u64::wrapping_neg)
            .map_err(|e| format!("{s}: {e}"))
    } else {
        s.parse().map_err(|e| format!("{s}: {e}"))
    }
}

fn str_field(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or("").to_string()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

/// Every test of `assembled_tests.jsonl` that has a program (entries the
/// upstream parser skipped have none).
pub fn cases(dir: &Path) -> Vec<Case> {
    lines(&dir.join("assembled_tests.jsonl"))
        .iter()
        .filter(|v| !str_field(v, "program_hex").is_empty())
        .map(|v| {
            let file = str_field(v, "file");
            let error = str_field(v, "expected_error");
            Case {
                program: parse_hex(&str_field(v, "program_hex"))
                    .unwrap_or_else(|e| panic!("{file}: {e}")),
                mem: parse_hex(&str_field(v, "mem_hex")).unwrap_or_else(|e| panic!("{file}: {e}")),
                expected: if error.is_empty() {
                    Some(
                        parse_result(&str_field(v, "expected_result"))
                            .unwrap_or_else(|e| panic!("{file}: {e}")),
                    )
                } else {
                    None
                },
                expected_error: (!error.is_empty()).then_some(error),
                groups: v["groups"]
                    .as_array()
                    .map(|g| {
                        g.iter()
                            .filter_map(|s| s.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default(),
                file,
            }
        })
        .collect()
}

/// The encodings of `unused_field_negative.jsonl`: `(file, program bytes)`,
/// each with a field that must be zero and is not.
pub fn unused_field_cases(dir: &Path) -> Vec<(String, Vec<u8>)> {
    lines(&dir.join("unused_field_negative.jsonl"))
        .iter()
        .map(|v| {
            let file = str_field(v, "file");
            let bytes =
                parse_hex(&str_field(v, "program_hex")).unwrap_or_else(|e| panic!("{file}: {e}"));
            (file, bytes)
        })
        .collect()
}
