//! bpf_loop callbacks compiled by clang (so they carry the BTF function
//! info the kernel requires), verified by us and by this machine's kernel.
//! The callback's state at a branch repeats exactly in the next round of
//! the loop; that is no infinite loop (Linux tells rounds apart by
//! `callback_unroll_depth`). A callback returning 2 stays rejected.

use std::process::Command;

use ebee_kernel::{LoadedObject, ObjectLoadOptions};
use ebee_verifier::{verify, ObjectProgram, Options};

const STEP: &str = r#"
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct loop_ctx { __u64 sum; __u32 stop_at; };
static long step(__u64 i, void *data)
{
	struct loop_ctx *c = data;
	__u32 k = (__u32)i;
	c->sum += i * i;
	if (k < 6)
		c->sum += 1;
	return RET;
}
SEC("socket") int prog(struct __sk_buff *skb)
{
	struct loop_ctx c = { .sum = 0, .stop_at = 1000 };
	long n = bpf_loop(20, step, &c, 0);
	return (int)(n + c.sum);
}
char _license[] SEC("license") = "GPL";
"#;

struct Case {
    name: &'static str,
    /// The C source (file content).
    source: String,
    /// The program to verify.
    program: &'static str,
    /// The kernel's verdict, recorded from loading the object.
    kernel_accepts: bool,
}

fn cases() -> Vec<Case> {
    let runtime_c = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../ebee-runtime/tests/c/callbacks.c");
    let mut v = vec![
        Case {
            name: "callback testing k < 6 after summing into the caller's stack",
            source: STEP.replace("RET", "i == c->stop_at"),
            program: "prog",
            kernel_accepts: true,
        },
        Case {
            name: "the same callback returning 2",
            source: STEP.replace("RET", "2"),
            program: "prog",
            kernel_accepts: false,
        },
    ];
    // The program the runtime engineers found: its state at `if w6 > 0x5`
    // repeats in the next round (the regression case).
    v.push(Case {
        name: "ebee-runtime tests/c/callbacks.c",
        source: std::fs::read_to_string(&runtime_c).expect("ebee-runtime's callbacks.c"),
        program: "callbacks",
        kernel_accepts: true,
    });
    v
}

fn compile(dir: &std::path::Path, i: usize, src: &str) -> Result<Vec<u8>, String> {
    let c = dir.join(format!("c{i}.c"));
    let o = dir.join(format!("c{i}.o"));
    std::fs::write(&c, src).map_err(|e| e.to_string())?;
    let arch_inc = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let out = Command::new("clang-19")
        .args([
            "-O2", "-g", "-target", "bpf", "-mcpu=v3", "-I", &arch_inc, "-c",
        ])
        .arg(&c)
        .arg("-o")
        .arg(&o)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    std::fs::read(&o).map_err(|e| e.to_string())
}

#[test]
fn bpf_loop_callback_rounds_agree_with_the_kernel() {
    if Command::new("clang-19").arg("--version").output().is_err() {
        println!("skipped: clang-19 not installed");
        return;
    }
    let kernel = ebee_kernel::probe();
    if let Err(e) = &kernel {
        println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
    }
    let dir = std::env::temp_dir().join(format!("ebee-verifier-rounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut failures = vec![];
    let (mut agree, mut total) = (0, 0);
    for (i, c) in cases().iter().enumerate() {
        total += 1;
        let bytes = compile(&dir, i, &c.source).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let obj = ebee_object::Object::parse(&bytes).expect("clang object parses");
        let prog = obj
            .programs()
            .iter()
            .find(|p| p.name == c.program)
            .expect("program in object");
        let p = ObjectProgram::new(prog, obj.maps()).expect("supported program");
        let v = verify(&p.program(), &Options::default());
        let why = v.verdict.rejection().map(|r| r.to_string());
        if kernel.is_ok() {
            let opts = ObjectLoadOptions {
                only_programs: Some(vec![c.program.to_string()]),
                ..ObjectLoadOptions::default()
            };
            let k = LoadedObject::load(&obj, &opts).map(|_| ());
            if std::env::var_os("EBEE_SHOW").is_some() {
                println!("{}\n  kernel: {:?}\n  ours:   {:?}", c.name, k, why);
            }
            if k.is_ok() != c.kernel_accepts {
                failures.push(format!(
                    "{}: recorded kernel verdict {} but the kernel now says {:?}",
                    c.name, c.kernel_accepts, k
                ));
            }
        }
        if v.verdict.is_accepted() == c.kernel_accepts {
            agree += 1;
        } else {
            failures.push(format!(
                "{}: kernel accepts={} but ours: {why:?}",
                c.name, c.kernel_accepts
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("bpf_loop callback rounds: {agree}/{total} agree with the kernel");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
