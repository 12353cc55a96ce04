//! The object loader's contract, without the kernel: verification by
//! default with the verifier's diagnostic on rejection, unknown helpers
//! refused at load by id and name, forged map handles refused at run
//! time, host helpers alongside the kernel's, callbacks, and a real
//! `bpf_spin_lock` between threads.

use std::path::Path;
use std::sync::Arc;

use ebee_object::Object;
use ebee_runtime::loader::{LoadOptions, LoadedObject, ObjectLoadError};
use ebee_runtime::{ExecError, HelperRegistry};

fn compile(name: &str, defines: &[&str]) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out =
        ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), defines)
            .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

fn u64_of(obj: &LoadedObject, map: &str) -> u64 {
    let v = obj
        .map(map)
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

#[test]
fn a_rejected_program_is_a_load_error_with_the_diagnostic() {
    let obj = compile("loader_cases", &["-DOUT_OF_BOUNDS"]);
    let e = LoadedObject::load(&obj, &LoadOptions::new()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ObjectLoadError::Rejected { .. }), "{msg}");
    assert!(
        msg.contains("program \"oob\"") && msg.contains("loader_cases.c:"),
        "{msg}"
    );
    // Unverified it loads, and the checked run catches the access.
    let l = LoadedObject::load(&obj, &LoadOptions::new().unverified()).unwrap();
    let p = l.program("oob").unwrap();
    assert!(!p.verified() && !p.unchecked());
    let r = p.run(&mut [0u8; 16]);
    // v[1] is the second element of the array map: inside the map's
    // memory, so the checked run allows it (as it is the map's memory).
    assert_eq!(r.unwrap(), 0);
}

#[test]
fn unknown_helpers_fail_at_load_with_id_and_name() {
    // bpf_xdp_adjust_head called from a socket filter.
    let obj = compile("loader_cases", &["-DXDP_HELPER"]);
    let e = LoadedObject::load(&obj, &LoadOptions::new().unverified()).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            ObjectLoadError::UnknownHelper {
                id: 44,
                name: Some("xdp_adjust_head"),
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("helper 44 (xdp_adjust_head)"), "{msg}");
}

#[test]
fn a_forged_map_handle_fails_the_run_without_touching_memory() {
    let obj = compile("loader_cases", &["-DFORGED_MAP"]);
    assert!(
        LoadedObject::load(&obj, &LoadOptions::new()).is_err(),
        "the verifier refuses it"
    );
    let l = LoadedObject::load(&obj, &LoadOptions::new().unverified()).unwrap();
    let e = l.program("forged").unwrap().run(&mut [0u8; 4]).unwrap_err();
    assert!(matches!(e, ExecError::HelperFailed { id: 1, .. }), "{e}");
    assert!(
        e.to_string().contains("0x1234 is not a map of this object"),
        "{e}"
    );
}

#[test]
fn host_helpers_work_alongside_kernel_helpers() {
    let obj = compile("loader_cases", &["-DHOST_HELPER"]);
    let mut host = HelperRegistry::new();
    host.register(0x1000, "host_add", |a| Ok(a[0] + a[1]));
    // Replacing a kernel helper: a deterministic "random" number.
    host.register(7, "get_prandom_u32", |_| Ok(100));
    let l = LoadedObject::load(&obj, &LoadOptions::new().unverified().helpers(&host)).unwrap();
    l.program("with_host_helper").unwrap().run(&mut []).unwrap();
    assert_eq!(u64_of(&l, ".bss"), 142);
}

#[test]
fn bpf_loop_callbacks_run_on_their_own_frame() {
    let obj = compile("loader_cases", &["-DLOOP"]);
    for (opts, unchecked) in [
        (LoadOptions::new(), true),
        (LoadOptions::new().unverified(), false),
    ] {
        let l = LoadedObject::load(&obj, &opts).unwrap();
        let p = l.program("sum_loop").unwrap();
        assert_eq!(p.unchecked(), unchecked);
        p.run(&mut []).unwrap();
        assert_eq!(u64_of(&l, ".bss"), 4950);
    }
}

#[test]
fn spin_lock_excludes_other_threads() {
    let obj = compile("spin_lock", &[]);
    // Verified: the loader finds the lock's offset in the value's BTF.
    let l = Arc::new(LoadedObject::load(&obj, &LoadOptions::new()).unwrap());
    assert!(l.program("locked_add").unwrap().unchecked());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let l = Arc::clone(&l);
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    assert_eq!(l.program("locked_add").unwrap().run(&mut []).unwrap(), 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = l
        .map("counters")
        .unwrap()
        .lookup(&1u32.to_ne_bytes())
        .unwrap()
        .unwrap();
    let value = u64::from_ne_bytes(v[8..16].try_into().unwrap());
    let updates = u64::from_ne_bytes(v[16..24].try_into().unwrap());
    assert_eq!(updates, 8000, "no update lost");
    let expected = (0..8000).fold(0u64, |v, _| v.wrapping_mul(3).wrapping_add(1));
    assert_eq!(value, expected);
}
