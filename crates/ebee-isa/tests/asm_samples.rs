//! Real clang-built programs (the ebpf-samples corpus): llvm-objdump-19's
//! listing of every executable section assembles to the instructions its
//! byte columns decode to, and our own listings of them in both syntaxes
//! assemble back unchanged.

use ebee_isa::asm::{assemble_as, Syntax};
use ebee_isa::disasm::{disassemble, DisasmOptions};
use ebee_isa::{decode, Insn};
use std::path::{Path, PathBuf};
use std::process::Command;

fn objects(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            objects(&path, out);
        } else if path.extension().is_some_and(|e| e == "o") {
            out.push(path);
        }
    }
}

/// One disassembled section: its listing lines and the bytes they show.
struct Section {
    name: String,
    listing: String,
    bytes: Vec<u8>,
    unknown: bool,
}

/// Splits an llvm-objdump listing of many objects into sections.
fn sections(listing: &str) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut object = String::new();
    for line in listing.lines() {
        if let Some((name, _)) = line.split_once(":\tfile format") {
            object = name.to_string();
            continue;
        }
        if let Some(sec) = line.strip_prefix("Disassembly of section ") {
            out.push(Section {
                name: format!("{object} {}", sec.trim_end_matches(':')),
                listing: String::new(),
                bytes: Vec::new(),
                unknown: false,
            });
            continue;
        }
        let Some(sec) = out.last_mut() else { continue };
        sec.listing.push_str(line);
        sec.listing.push('\n');
        let mut cols = line.split('\t');
        if let (Some(addr), Some(bytes)) = (cols.next(), cols.next()) {
            if addr.trim_end().ends_with(':')
                && addr.trim().trim_end_matches(':').parse::<u64>().is_ok()
            {
                for b in bytes.split(' ') {
                    sec.bytes.push(u8::from_str_radix(b, 16).expect(line));
                }
                sec.unknown |= line.ends_with("<unknown>");
            }
        }
    }
    out
}

#[test]
fn sample_object_listings_assemble_to_their_bytes() {
    let root =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples");
    if !root.is_dir() {
        println!("skipped: sample corpus not found at {}", root.display());
        return;
    }
    let Ok(out) = Command::new("llvm-objdump-19")
        .args(["-d", "--mattr=+alu32"])
        .args({
            let mut v = Vec::new();
            objects(&root, &mut v);
            v.sort();
            v
        })
        .output()
    else {
        println!("skipped: llvm-objdump-19 not found");
        return;
    };
    let listing = String::from_utf8_lossy(&out.stdout);
    let (mut checked, mut slots, mut undecodable, mut unknown) = (0, 0, 0, 0);
    for sec in sections(&listing) {
        if sec.bytes.is_empty() {
            continue;
        }
        if sec.unknown {
            unknown += 1;
            continue;
        }
        // Some sample sections are malformed on purpose.
        let Ok(insns) = decode(&sec.bytes) else {
            undecodable += 1;
            continue;
        };
        let ours = assemble_as(&sec.listing, Syntax::Linux)
            .unwrap_or_else(|e| panic!("{}: {e}", sec.name));
        assert_eq!(ours, insns, "{}", sec.name);
        for syntax in [Syntax::Linux, Syntax::Ubpf] {
            let opts = DisasmOptions {
                syntax,
                show_pc: true,
                show_bytes: syntax == Syntax::Linux,
            };
            let text = disassemble(&insns, &opts);
            let back: Vec<Insn> = assemble_as(&text, syntax)
                .unwrap_or_else(|e| panic!("{} ({syntax:?}): {e}", sec.name));
            assert_eq!(back, insns, "{} ({syntax:?})", sec.name);
        }
        checked += 1;
        slots += insns.len();
    }
    println!(
        "{checked} sections ({slots} slots) checked; {undecodable} undecodable and \
         {unknown} with instructions LLVM cannot print were skipped"
    );
    assert!(checked >= 100, "only {checked} sections checked");
}
