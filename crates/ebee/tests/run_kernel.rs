//! `ebee run --kernel OBJ.o` against `ebee run OBJ.o`: the same clang-built
//! objects (socket filters that never read their context) run 3 times in
//! the kernel (BPF_PROG_TEST_RUN) and in the userspace runtime; r0 and
//! every map's contents printed in JSON must be equal. Prints
//! `skipped: <reason>` without a usable bpf(2).

use std::path::Path;
use std::process::Command;

fn compile(name: &str) -> std::path::PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ebee-runtime/tests/c/{name}.c"));
    ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

fn run_json(args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_ebee"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// Per-CPU values summed over CPUs, as 8-byte words: the kernel's test
/// run updates the CPU it happens to run on, the runtime its thread's.
fn sum_cpus(values: &serde_json::Value) -> Vec<u64> {
    let mut sum = vec![];
    for v in values.as_array().unwrap() {
        let bytes: Vec<u8> = v
            .as_str()
            .unwrap()
            .split_whitespace()
            .map(|b| u8::from_str_radix(b, 16).unwrap())
            .collect();
        for (i, w) in bytes.chunks(8).enumerate() {
            let mut b = [0u8; 8];
            b[..w.len()].copy_from_slice(w);
            if sum.len() <= i {
                sum.push(0u64);
            }
            sum[i] = sum[i].wrapping_add(u64::from_le_bytes(b));
        }
    }
    sum
}

/// The maps with each hash map's entries sorted by key (hash maps iterate
/// in their own bucket order; queues and ring buffers keep theirs) and
/// per-CPU values summed.
fn sorted(maps: &serde_json::Value) -> serde_json::Value {
    let mut maps = maps.clone();
    for m in maps.as_array_mut().unwrap() {
        for e in m["entries"].as_array_mut().unwrap() {
            if !e["values"].is_null() {
                e["values"] = sum_cpus(&e["values"]).into();
            }
        }
        if m["type"].as_str().unwrap().contains("Hash") {
            let es = m["entries"].as_array_mut().unwrap();
            es.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
        }
    }
    maps
}

#[test]
fn kernel_and_userspace_runs_print_the_same() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    // A 64-byte packet: the kernel's socket filter test run needs at least
    // an Ethernet header.
    let mem = "00".repeat(64);
    for (name, program) in [
        ("maps_basic", None),
        ("ringbuf", None),
        ("tail_calls", Some("entry")),
    ] {
        let obj = compile(name);
        let mut args = vec!["run", obj.to_str().unwrap(), "--mem-hex", &mem];
        args.extend(["--repeat", "3", "--json"]);
        if let Some(p) = program {
            args.extend(["--program", p]);
        }
        let user = run_json(&args);
        args.push("--kernel");
        let kernel = run_json(&args);
        assert_eq!(kernel["mode"], "kernel");
        assert_eq!(user["r0"], kernel["r0"], "{name}: r0");
        let (u, k) = (sorted(&user["maps"]), sorted(&kernel["maps"]));
        for (a, b) in u.as_array().unwrap().iter().zip(k.as_array().unwrap()) {
            assert_eq!(a, b, "{name}: map {}", a["name"]);
        }
        assert_eq!(u, k, "{name}: maps");
        assert!(!kernel["maps"].as_array().unwrap().is_empty());
        println!(
            "{name}: r0 {} and {} maps equal",
            user["r0"],
            user["maps"].as_array().unwrap().len()
        );
    }
}

#[test]
fn kernel_rejection_shows_the_verifier_log() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    // An object the kernel refuses:
    // a socket filter reading past its stack.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("run-kernel-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("bad.c");
    std::fs::write(
        &src,
        "__attribute__((section(\"socket\"), used)) int bad(void *ctx) {\n\
         volatile char buf[8]; int i = *(volatile int *)ctx; return buf[i & 0xffff]; }\n\
         char _license[] __attribute__((section(\"license\"), used)) = \"GPL\";\n",
    )
    .unwrap();
    let out = dir.join("bad.o");
    let o = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_ebee"))
        .args(["run", "--kernel", out.to_str().unwrap(), "--mem-hex"])
        .arg("00".repeat(64))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(4));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("verifier log:"), "{err}");
}
