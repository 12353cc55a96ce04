//! `ebee run OBJ.o`: a clang-built object run in the userspace runtime,
//! its maps printed afterwards.

use std::path::Path;
use std::process::Command;

fn compile(name: &str) -> std::path::PathBuf {
    compile_with(name, &[])
}

fn compile_with(name: &str, defines: &[&str]) -> std::path::PathBuf {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ebee-runtime/tests/c/{name}.c"));
    ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), defines)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ebee(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ebee"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn runs_an_object_and_prints_its_maps() {
    let obj = compile("maps_basic");
    let o = ebee(&[
        "run",
        obj.to_str().unwrap(),
        "--mem-hex",
        "00",
        "--repeat",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["program"], "maps_basic");
    assert_eq!(v["mode"], "verified, unchecked");
    // The third run returns `runs` (1000 + 2) & 0xff.
    assert_eq!(v["r0"], 1002 & 0xff);
    let data = v["maps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == ".data")
        .unwrap();
    assert_eq!(
        data["entries"][0]["value"], "eb 03 00 00 00 00 00 00",
        "runs = 1003"
    );

    let text = ebee(&["run", obj.to_str().unwrap(), "--section", "socket"]);
    let out = String::from_utf8(text.stdout).unwrap();
    assert!(out.contains("r0 = 232 (0xe8)"), "{out}");
    assert!(
        out.contains("map .rodata (Array, 1 entries shown)\n  00 00 00 00 => 07 00"),
        "{out}"
    );
}

#[test]
fn picks_programs_and_explains_rejections() {
    let obj = compile("tail_calls");
    let o = ebee(&["run", obj.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("pick one with --program"));
    let o = ebee(&["run", obj.to_str().unwrap(), "--program", "entry"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("r0 = 11 (0xb)"));
    // Reads 8 bytes past an 8-byte map value: the verifier refuses it, and
    // the error names the way out.
    let obj = compile_with("loader_cases", &["-DOUT_OF_BOUNDS"]);
    let o = ebee(&["run", obj.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(5), "rejected by the verifier");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--unverified") && err.contains("loader_cases.c:"),
        "{err}"
    );
    // Unverified it runs checked (the read stays inside the map's memory).
    let o = ebee(&["run", obj.to_str().unwrap(), "--unverified"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("checked"));
}

fn jit_object(name: &str) -> std::path::PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../ebee-jit/tests/c/{name}.c"));
    ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn engine_jit_runs_objects_like_the_interpreter() {
    // Callbacks, nested subprograms, maps and globals.
    let obj = jit_object("callbacks");
    let run = |engine: &str| {
        let o = ebee(&[
            "run",
            obj.to_str().unwrap(),
            "--engine",
            engine,
            "--repeat",
            "3",
            "--json",
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let (jit, interp) = (run("jit"), run("interp"));
    assert_eq!(jit["engine"], "jit");
    assert_eq!(interp["engine"], "interpreter");
    assert_eq!(jit["mode"], "verified, unchecked");
    assert_eq!(jit["r0"], interp["r0"]);
    assert_eq!(jit["maps"], interp["maps"]);
    assert_ne!(jit["r0"], 0, "the program computed something");
    // The JIT is the default, also for objects.
    assert_eq!(run_default(&obj)["engine"], "jit");

    // An XDP rewrite behind a tail call, on a packet: the same action and
    // output packet on both engines, checked (unverified) too.
    let obj = jit_object("xdp_tail");
    let packet = "ffffffffffff0202020202020800450000140000000040110000\
                  0a0a0a0a0a0a0a0a";
    let mut outs = vec![];
    let engines: [&[&str]; 5] = [
        &["--engine", "jit"],
        &["--engine", "interp"],
        &["--unverified", "--engine", "jit"],
        &["--blind"],
        &["--unverified", "--blind"],
    ];
    for args in engines {
        let mut a = vec!["run", obj.to_str().unwrap(), "--program", "xdp_entry"];
        a.extend(args);
        a.extend(["--packet-hex", packet]);
        let o = ebee(&a);
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "{out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        outs.push(out);
    }
    assert!(outs[0].contains("action = XDP_TX (r0 = 3)"), "{}", outs[0]);
    // MACs swapped, TTL 0x40 -> 0x3f with its checksum.
    assert!(
        outs[0].contains("packet (34 bytes): 020202020202ffffffffffff080045000014000000003f110100"),
        "{}",
        outs[0]
    );
    for (i, out) in outs.iter().enumerate().skip(1) {
        assert_eq!(out, &outs[0], "engine #{i}");
    }
}

fn run_default(obj: &Path) -> serde_json::Value {
    let o = ebee(&["run", obj.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}
