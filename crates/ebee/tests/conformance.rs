//! The bpf_conformance suite, end to end: every `tests/*.data` program is
//! assembled by our uBPF-syntax assembler (or taken from its `-- raw`
//! section), checked against the bytes the upstream assembler produced, and
//! run through the `ebee conformance` plugin protocol (the real binary, stdin
//! and argument as the suite's runner passes them); r0 must match exactly.
//! The `negative/` cases must each fail somewhere along that path.

use ebee_corpus::data_file::{self, DataFile};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn program_bytes(f: &DataFile) -> Result<Vec<u8>, String> {
    if let Some(raw) = &f.raw {
        return Ok(raw.clone());
    }
    let asm = f.asm.as_ref().ok_or("no program")?;
    let insns =
        ebee_isa::asm::assemble_as(asm, ebee_isa::asm::Syntax::Ubpf).map_err(|e| e.to_string())?;
    Ok(ebee_isa::encode(&insns))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x} ")).collect()
}

fn run_plugin(program: &[u8], mem: &[u8], jit: bool) -> Result<u64, String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ebee"));
    cmd.arg("conformance");
    if jit {
        cmd.arg("--jit");
    }
    let mut child = cmd
        .arg(ebee_corpus::to_hex(mem))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(hex(program).as_bytes())
        .unwrap();
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
        assert_eq!(err.lines().count(), 1, "failure must be one line: {err:?}");
        return Err(err);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    u64::from_str_radix(text.trim(), 16).map_err(|e| format!("bad plugin output {text:?}: {e}"))
}

/// Runs one file the way the suite does; Ok(()) when it passes.
fn check(path: &Path, expected_bytes: Option<&String>, jit: bool) -> Result<(), String> {
    let f = data_file::parse(&std::fs::read_to_string(path).unwrap())?;
    let program = program_bytes(&f)?;
    if let Some(hex) = expected_bytes.filter(|h| !h.is_empty() && f.raw.is_none()) {
        let got = ebee_corpus::to_hex(&program);
        if &got != hex {
            return Err(format!("assembled bytes differ:\n ours {got}\n want {hex}"));
        }
    }
    let got = run_plugin(&program, &f.mem, jit);
    match (&f.result, &f.error, got) {
        (Some(want), _, Ok(r0)) => {
            let want = ebee_corpus::conformance::parse_result(want)?;
            if r0 == want {
                Ok(())
            } else {
                Err(format!("r0 = {r0:#x}, expected {want:#x}"))
            }
        }
        (None, Some(_), Err(_)) => Ok(()),
        (None, Some(e), Ok(r0)) => Err(format!("expected error {e:?}, got r0 = {r0:#x}")),
        (Some(_), _, Err(e)) => Err(format!("failed: {e}")),
        (None, None, _) => Err("no result or error section".into()),
    }
}

fn expected_bytes(dir: &Path) -> HashMap<String, String> {
    ebee_corpus::conformance::cases(dir)
        .into_iter()
        .map(|c| (c.file, ebee_corpus::to_hex(&c.program)))
        .collect()
}

#[test]
fn every_conformance_test_passes() {
    every_conformance_test_passes_on(false);
}

/// The same through `ebee conformance --jit` (checked mode).
#[test]
fn every_conformance_test_passes_on_the_jit() {
    every_conformance_test_passes_on(true);
}

fn every_conformance_test_passes_on(jit: bool) {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    let bytes = expected_bytes(&dir);
    let files = data_file::files(&dir.join("tests"));
    let mut failures = Vec::new();
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if let Err(e) = check(path, bytes.get(&name), jit) {
            failures.push(format!("{name}: {e}"));
        }
    }
    println!(
        "conformance ({}): {} passed, {} failed",
        if jit { "jit" } else { "interpreter" },
        files.len() - failures.len(),
        failures.len()
    );
    assert!(files.len() >= 200, "only {} tests found", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `negative/` holds two kinds of cases. `unused-*.data`: encodings with a
/// non-zero unused field and an `-- error` section; a conforming VM rejects
/// them, so for these the suite's verdict must be "expected error seen".
/// Every other file is a self-test of the assembler or harness (bad
/// mnemonics, out-of-range immediates, a wrong expected result, no result
/// at all), which must end in a failure somewhere along the path.
#[test]
fn every_negative_case_fails() {
    let Some(dir) = ebee_corpus::conformance_dir() else {
        return;
    };
    let files = data_file::files(&dir.join("negative"));
    let mut wrong = Vec::new();
    let mut unused = 0;
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let verdict = check(path, None, false);
        if name.starts_with("unused-") {
            unused += 1;
            let f = data_file::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
            let program = program_bytes(&f).unwrap();
            match run_plugin(&program, &f.mem, false) {
                Err(e) if e.contains("must be 0") => {}
                other => wrong.push(format!(
                    "{name}: not rejected for its unused field: {other:?}"
                )),
            }
            assert!(verdict.is_ok(), "{name}: {verdict:?}");
        } else if verdict.is_ok() {
            wrong.push(format!("{name}: passed, but is a negative case"));
        }
    }
    println!(
        "negative: {} cases, {unused} unused-field encodings rejected",
        files.len()
    );
    assert_eq!(unused, 45);
    assert!(files.len() >= 50, "only {} negative files", files.len());
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
