//! Compiles the benchmark programs in `programs/*.c` with clang for the BPF
//! target and extracts each one's instructions (its `.text` section) to
//! `$OUT_DIR/<name>.bpf`, which `src/program.rs` embeds.
//!
//! Each program must be one function with no relocations (no calls, no
//! globals, no jump tables in `.rodata`), so its `.text` bytes are runnable
//! as they are; anything else fails the build with a message saying why.
//! The object programs (maps, helpers, tail calls) are compiled with BTF
//! (`-g`, libbpf's headers) and kept whole as `$OUT_DIR/<name>.o`.

use object::{Object, ObjectSection};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The programs, by file stem; `src/program.rs` lists the same names.
const PROGRAMS: &[&str] = &[
    "primes",
    "byte_copy",
    "strcmp",
    "switch64",
    "log2",
    "xdp_parse",
    "unrolled_mix",
];

/// Programs built for the kernel (the kernel JIT column), by file stem,
/// with the section holding the function: extracted to `<stem>.bpf` too.
const KERNEL_PROGRAMS: &[(&str, &str)] = &[("xdp_parse_kernel", "xdp")];

/// Programs kept as whole objects (`src/program.rs` embeds `<stem>.o`).
const OBJECT_PROGRAMS: &[&str] = &["hash_count", "tail_chain"];

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets it"));
    let programs = manifest.join("programs");
    println!("cargo:rerun-if-changed={}", programs.display());
    println!("cargo:rerun-if-env-changed=EBEE_BENCH_CLANG");

    let clang = find_clang();
    for name in PROGRAMS {
        let source = programs.join(format!("{name}.c"));
        println!("cargo:rerun-if-changed={}", source.display());
        let object_path = out_dir.join(format!("{name}.o"));
        compile(&clang, &source, &object_path, &programs, &[]);
        let text = extract_section(&object_path, ".text");
        let bin = out_dir.join(format!("{name}.bpf"));
        std::fs::write(&bin, text)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", bin.display()));
    }
    for (name, section) in KERNEL_PROGRAMS {
        let source = programs.join(format!("{name}.c"));
        println!("cargo:rerun-if-changed={}", source.display());
        let object_path = out_dir.join(format!("{name}.o"));
        compile(&clang, &source, &object_path, &programs, &[]);
        let code = extract_section(&object_path, section);
        let bin = out_dir.join(format!("{name}.bpf"));
        std::fs::write(&bin, code)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", bin.display()));
    }
    for name in OBJECT_PROGRAMS {
        let source = programs.join(format!("{name}.c"));
        println!("cargo:rerun-if-changed={}", source.display());
        let object_path = out_dir.join(format!("{name}.o"));
        // BTF for the map definitions; the multiarch directory for the
        // `asm/` headers `linux/bpf.h` includes.
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
        let multiarch = format!("-I/usr/include/{arch}-linux-gnu");
        compile(
            &clang,
            &source,
            &object_path,
            &programs,
            &["-g", &multiarch],
        );
    }
}

/// `$EBEE_BENCH_CLANG`, else `clang-19`, else `clang`: the first that runs.
fn find_clang() -> String {
    let mut candidates = Vec::new();
    if let Ok(clang) = std::env::var("EBEE_BENCH_CLANG") {
        candidates.push(clang);
    }
    candidates.push("clang-19".to_string());
    candidates.push("clang".to_string());
    for candidate in &candidates {
        let runs = Command::new(candidate)
            .arg("--version")
            .output()
            .map(|out| out.status.success())
            .unwrap_or(false);
        if runs {
            return candidate.clone();
        }
    }
    panic!(
        "ebee-bench: no C compiler for the BPF target: tried {}. \
         Install clang (Debian: `apt-get install -y clang-19`) or set EBEE_BENCH_CLANG.",
        candidates.join(", ")
    );
}

fn compile(clang: &str, source: &Path, object_path: &Path, include: &Path, extra: &[&str]) {
    let output = Command::new(clang)
        .args(["-O2", "-target", "bpf", "-mcpu=v3", "-c"])
        .args(extra)
        .arg("-I")
        .arg(include)
        .arg(source)
        .arg("-o")
        .arg(object_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {clang}: {e}"));
    if !output.status.success() {
        panic!(
            "ebee-bench: {clang} failed on {}:\n{}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The bytes of section `name` of a one-function object, refusing
/// relocations.
fn extract_section(object_path: &Path, name: &str) -> Vec<u8> {
    let data = std::fs::read(object_path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", object_path.display()));
    let file = object::File::parse(&*data)
        .unwrap_or_else(|e| panic!("{}: not an ELF object: {e}", object_path.display()));
    let text = file
        .section_by_name(name)
        .unwrap_or_else(|| panic!("{}: no {name} section", object_path.display()));
    if text.relocations().next().is_some() {
        panic!(
            "ebee-bench: {} has relocations in {name} (a call, a global or a jump table): \
             benchmark programs must be self-contained",
            object_path.display()
        );
    }
    let bytes = text
        .data()
        .unwrap_or_else(|e| panic!("{}: cannot read .text: {e}", object_path.display()))
        .to_vec();
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        panic!(
            "ebee-bench: {}: {name} is {} bytes, not a non-empty whole number of instructions",
            object_path.display(),
            bytes.len()
        );
    }
    bytes
}
