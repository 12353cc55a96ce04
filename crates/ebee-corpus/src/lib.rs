//! The test corpora written by others, read in place from `../shared/corpora`
//! (next to the checkout) or from `$EBEE_CORPORA`: the bpf_conformance suite
//! and the ebpf-samples objects. One reader for every crate's tests, so all
//! of them agree on what a case is.
//!
//! Tests call [`conformance_dir`] / [`samples_dir`] and return early when
//! they give `None` (a `skipped: …` line is printed).

#![warn(missing_docs)]

pub mod clang;
pub mod conformance;
pub mod data_file;

use std::path::PathBuf;

/// The folder holding the corpora: `$EBEE_CORPORA`, else `shared/corpora`
/// beside the repository.
pub fn corpora_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("EBEE_CORPORA") {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora")
}

fn existing(name: &str) -> Option<PathBuf> {
    let p = corpora_dir().join(name);
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: corpus {name} not found at {}", p.display());
        None
    }
}

/// The bpf_conformance folder (`tests/`, `negative/`, the `.jsonl` files).
pub fn conformance_dir() -> Option<PathBuf> {
    existing("bpf_conformance")
}

/// The ebpf-samples folder (compiled objects, `PREVAIL_EXPECTATIONS.tsv`).
pub fn samples_dir() -> Option<PathBuf> {
    existing("ebpf-samples")
}

/// Parses hex digit pairs (`"b7000000"`), ignoring white space.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits in {s:?}"));
    }
    digits
        .chunks(2)
        .map(|p| {
            let t = std::str::from_utf8(p).map_err(|e| e.to_string())?;
            u8::from_str_radix(t, 16).map_err(|e| format!("{t:?}: {e}"))
        })
        .collect()
}

/// Formats bytes as packed lowercase hex (`"b7000000"`).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
