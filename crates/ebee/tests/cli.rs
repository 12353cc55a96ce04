//! The `ebee` binary as a user runs it: outputs, `--json`, one-line errors
//! and the exit codes scripts rely on.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ebee(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ebee"))
        .args(args)
        .output()
        .expect("run ebee")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ebee-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn samples() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples");
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: sample objects not found at {}", p.display());
        None
    }
}

const SUM: &str = "r0 = 0\nr1 = 10\nloop:\nr0 += r1\nr1 -= 1\nif r1 != 0 goto loop\nexit\n";

#[test]
fn asm_disasm_run_round_trip() {
    let dir = temp_dir("roundtrip");
    let src = dir.join("sum.s");
    std::fs::write(&src, SUM).unwrap();
    let bin = dir.join("sum.bin");
    let o = ebee(&["asm", src.to_str().unwrap(), "-o", bin.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(std::fs::read(&bin).unwrap().len(), 6 * 8);

    let o = ebee(&["run", bin.to_str().unwrap()]);
    assert_eq!(stdout(&o).trim(), "r0 = 55 (0x37)");

    // The listing (with pc and bytes) re-assembles to the same bytecode, in both syntaxes.
    for syntax in ["linux", "ubpf"] {
        let o = ebee(&[
            "disasm",
            bin.to_str().unwrap(),
            "--syntax",
            syntax,
            "--bytes",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let listing = dir.join(format!("sum.{syntax}.s"));
        std::fs::write(&listing, stdout(&o)).unwrap();
        let again = dir.join(format!("sum.{syntax}.bin"));
        let o = ebee(&[
            "asm",
            listing.to_str().unwrap(),
            "-o",
            again.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(std::fs::read(&again).unwrap(), std::fs::read(&bin).unwrap());
    }

    let o = ebee(&["run", src.to_str().unwrap(), "--repeat", "100", "--json"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["r0"], 55);
    assert_eq!(v["runs"], 100);
    assert!(v["duration_ns"].is_u64());
}

#[test]
fn run_reads_memory_and_reports_faults() {
    let dir = temp_dir("mem");
    let src = dir.join("load.s");
    // r0 = the second byte of the input + the input length
    std::fs::write(&src, "r0 = *(u8 *)(r1 + 1)\nr0 += r2\nexit\n").unwrap();
    let o = ebee(&["run", src.to_str().unwrap(), "--mem-hex", "01 02 03"]);
    assert_eq!(stdout(&o).trim(), "r0 = 5 (0x5)");

    let mem = dir.join("mem.bin");
    std::fs::write(&mem, [9u8, 7]).unwrap();
    let o = ebee(&["run", src.to_str().unwrap(), "--mem", mem.to_str().unwrap()]);
    assert_eq!(stdout(&o).trim(), "r0 = 9 (0x9)");

    // Out of bounds: exit code 1, one line naming the pc and the region.
    let o = ebee(&["run", src.to_str().unwrap(), "--mem-hex", "01"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("instruction 0") && err.contains("input"),
        "{err}"
    );

    // A runaway loop stops at the budget.
    std::fs::write(&src, "r0 = 0\nloop:\nr0 += 1\ngoto loop\n").unwrap();
    let o = ebee(&["run", src.to_str().unwrap(), "--budget", "1000"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
}

/// `--engine jit` (the default) and `--engine interp` print the same
/// result and the same fault.
#[test]
fn both_engines_give_the_same_answers() {
    let dir = temp_dir("engines");
    let src = dir.join("sum.s");
    // Sums the input bytes in a loop.
    std::fs::write(
        &src,
        "r0 = 0\nr3 = 0\nloop:\nr4 = r1\nr4 += r3\nr5 = *(u8 *)(r4 + 0)\nr0 += r5\nr3 += 1\nif r3 < 3 goto loop\nexit\n",
    )
    .unwrap();
    for engine in ["jit", "interp"] {
        let s = src.to_str().unwrap();
        let o = ebee(&["run", s, "--engine", engine, "--mem-hex", "01 02 03"]);
        assert_eq!(
            stdout(&o).trim(),
            "r0 = 6 (0x6)",
            "{engine}: {}",
            stderr(&o)
        );
        let o = ebee(&["run", s, "--engine", engine, "--mem-hex", "01 02"]);
        assert_eq!(o.status.code(), Some(1), "{engine}");
        assert!(
            stderr(&o).contains("instruction 4"),
            "{engine}: {}",
            stderr(&o)
        );
    }
    let o = ebee(&["run", src.to_str().unwrap(), "--engine", "wasm"]);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn bad_input_is_one_line_with_exit_code_3() {
    let dir = temp_dir("bad");
    let src = dir.join("bad.s");
    std::fs::write(&src, "r0 = 1\nr0 = %foo\nexit\n").unwrap();
    let o = ebee(&["run", src.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let err = stderr(&o);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    let raw = dir.join("bad.bin");
    std::fs::write(
        &raw,
        [0x07u8, 0x00, 0x01, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0],
    )
    .unwrap();
    let o = ebee(&["disasm", raw.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stderr(&o).contains("instruction 0"), "{}", stderr(&o));

    let o = ebee(&["run", dir.join("missing").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    let o = ebee(&["run"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_lists_programs_and_maps() {
    let Some(dir) = samples() else { return };
    let obj = dir.join("linux/sockex3_kern.o");
    let o = ebee(&["inspect", obj.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("jmp_table") && text.contains("ProgArray"),
        "{text}"
    );
    let o = ebee(&["inspect", obj.to_str().unwrap(), "--json", "--relocs"]);
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["programs"].as_array().unwrap().len(), 5);
    assert_eq!(v["maps"].as_array().unwrap().len(), 3);
    assert_eq!(v["license"], "GPL");

    // Every malformed object fails cleanly: exit code 3 and one line.
    let mut rejected = 0;
    for entry in std::fs::read_dir(dir.join("invalid")).unwrap() {
        let path = entry.unwrap().path();
        let o = ebee(&["inspect", path.to_str().unwrap()]);
        assert!(
            matches!(o.status.code(), Some(0) | Some(3)),
            "{}: {:?}",
            path.display(),
            o.status
        );
        if o.status.code() == Some(3) {
            rejected += 1;
            assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
        }
    }
    assert!(rejected >= 8, "only {rejected} invalid objects rejected");
}

#[test]
fn verify_accepts_safe_and_rejects_unsafe_programs() {
    let dir = temp_dir("verify");
    let src = dir.join("v.s");
    std::fs::write(&src, "r0 = *(u32 *)(r1 + 4)\nexit\n").unwrap();
    let o = ebee(&["verify", src.to_str().unwrap(), "--mem-size", "8"]);
    assert!(o.status.success(), "{}", stdout(&o));
    let o = ebee(&["verify", src.to_str().unwrap(), "--mem-size", "4", "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(v["accepted"], false);
    assert_eq!(v["rejection"]["pc"], 0);

    let Some(samples) = samples() else { return };
    let obj = samples.join("linux/sockex3_kern.o");
    let o = ebee(&["verify", obj.to_str().unwrap(), "--section", "socket/1"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 1, "{}", stdout(&o));
    assert!(stdout(&o).contains("accepted"));
}

/// `--blind` runs the JIT with constant blinding: same result as the
/// interpreter; refused with the interpreter and for objects.
#[test]
fn run_blind_gives_the_same_result_and_is_jit_only() {
    let dir = temp_dir("blind");
    let src = dir.join("mix.s");
    std::fs::write(
        &src,
        "r0 = 0x12345678 ll\nr0 ^= 0x5a5a5a5a\nr1 = 7\nr0 += r1\nif r0 == 0x486e0c29 goto +1\nr0 = 0\nexit\n",
    )
    .unwrap();
    let src = src.to_str().unwrap();
    let interp = ebee(&["run", src, "--engine", "interp"]);
    assert!(interp.status.success(), "{}", stderr(&interp));
    let blind = ebee(&["run", src, "--blind"]);
    assert!(blind.status.success(), "{}", stderr(&blind));
    assert_eq!(stdout(&blind), stdout(&interp));
    assert_ne!(stdout(&blind).trim(), "r0 = 0 (0x0)");

    let o = ebee(&["run", src, "--blind", "--engine", "interp"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--blind"), "{}", stderr(&o));
}
