//! Decoding against the bpf_conformance corpus: every assembled test decodes
//! and re-encodes to the same bytes; every encoding with a non-zero unused
//! field is rejected.

use std::path::PathBuf;

fn corpus() -> Option<PathBuf> {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/bpf_conformance");
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: conformance corpus not found at {}", p.display());
        None
    }
}

fn field<'a>(line: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\":");
    let start = line
        .find(&key)
        .map(|i| i + key.len())
        .unwrap_or_else(|| panic!("no {name} in {line}"));
    let rest = line[start..].trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let end = rest.find('"').unwrap();
    &rest[..end]
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn assembled_tests_round_trip() {
    let Some(dir) = corpus() else { return };
    let text = std::fs::read_to_string(dir.join("assembled_tests.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bytes = unhex(field(line, "program_hex"));
        let file = field(line, "file");
        let insns = ebee_isa::decode(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(ebee_isa::encode(&insns), bytes, "{file}");
        n += 1;
    }
    assert!(n >= 200, "only {n} tests read");
}

#[test]
fn unused_fields_are_rejected() {
    let Some(dir) = corpus() else { return };
    let text = std::fs::read_to_string(dir.join("unused_field_negative.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let bytes = unhex(field(line, "program_hex"));
        let err = ebee_isa::decode(&bytes).expect_err(field(line, "file"));
        assert_eq!(err.pc, 0, "{}: {err}", field(line, "file"));
        n += 1;
    }
    assert_eq!(n, 45);
}
