//! `bpf_map_lookup_elem` on array maps computed in native code
//! (`translate/map_lookup.rs`), against the interpreter, which calls the
//! helper, and the kernel.
//!
//! `tests/c/array_lookup.c` is an XDP program with 13 lookups: keys in and
//! out of range, a 12-byte value (stride 16), a key kept in another map's
//! value, writes through the results. It runs on every engine and in the
//! kernel (`BPF_PROG_TEST_RUN`), comparing verdicts and maps. The
//! assembled programs pin down the edges: which call sites are inlined,
//! bad key pointers and accesses past a value in checked mode.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use ebee_jit::{JitEngine, JitOptions, JitProgram};
use ebee_kernel::TestRun;
use ebee_object::Object;
use ebee_runtime::helpers::{standard_helpers, HelperEnv};
use ebee_runtime::loader::{handle_of, LoadOptions, LoadedObject};
use ebee_runtime::map::{Map, MapSpec, MapType};
use ebee_runtime::program_type::xdp::{self, Xdp};
use ebee_runtime::{HelperRegistry, InlineArray, Vm};

mod support;
use support::verdict;

fn compile(name: &str) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out = ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// Ethernet-sized packets whose first bytes are the program's keys.
fn packet(seed: u8) -> Vec<u8> {
    (0..64u8)
        .map(|i| i.wrapping_mul(29).wrapping_add(seed.wrapping_mul(13)) ^ (seed >> 1))
        .collect()
}

type Maps = BTreeMap<String, Vec<Vec<u8>>>;

fn ebee_maps(l: &LoadedObject) -> Maps {
    l.maps()
        .filter(|(_, m)| m.map_type() == MapType::Array)
        .map(|(n, m)| {
            let vals = (0..m.spec().max_entries)
                .map(|i| m.lookup(&i.to_ne_bytes()).unwrap().unwrap())
                .collect();
            (n.to_string(), vals)
        })
        .collect()
}

fn lookup_sites(vm: &Vm) -> usize {
    vm.insns()
        .iter()
        .filter(|i| matches!(i, ebee_isa::Insn::Call(ebee_isa::CallTarget::Helper(1))))
        .count()
}

#[test]
fn clang_array_lookups_agree_with_the_interpreter_and_the_kernel() {
    let obj = compile("array_lookup");
    let packets: Vec<Vec<u8>> = (0..40).map(packet).collect();
    let base = LoadOptions::new().helpers(&xdp::helpers());
    let jit = || Arc::new(JitEngine::new());
    let engines = [
        ("interpreter", base.clone(), None),
        (
            "jit verified",
            base.clone().engine(jit()),
            Some(JitOptions::VERIFIED),
        ),
        (
            "jit checked",
            base.clone().unverified().engine(jit()),
            Some(JitOptions::CHECKED),
        ),
    ];
    let mut reference: Option<(Vec<u64>, Maps)> = None;
    for (label, opts, jit_opts) in engines {
        let l = LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
        let p = l.program("array_lookup").unwrap();
        assert_eq!(p.vm().inline_arrays().len(), 3, "{label}: three arrays");
        if let Some(o) = jit_opts {
            let code = JitProgram::compile_shared(p.vm().clone(), o).unwrap();
            assert_eq!(lookup_sites(p.vm()), 13);
            assert_eq!(code.inlined_lookups(), 13, "{label}: every lookup inline");
        }
        let mut x = Xdp::new().unwrap();
        let rets: Vec<u64> = packets
            .iter()
            .enumerate()
            .map(|(i, pk)| {
                x.run_loaded(p, pk)
                    .unwrap_or_else(|e| panic!("{label} packet {i}: {e}"))
                    .ret
            })
            .collect();
        let maps = ebee_maps(&l);
        match &reference {
            None => reference = Some((rets, maps)),
            Some((r, m)) => {
                assert_eq!(&rets, r, "{label}: verdicts");
                assert_eq!(&maps, m, "{label}: maps");
            }
        }
    }
    let (rets, maps) = reference.unwrap();
    assert!(rets.contains(&1) && rets.contains(&2), "both verdicts");
    let counts = &maps["counts"];
    assert!(counts.iter().all(|v| v.len() == 8));
    assert!(counts.iter().filter(|v| v.iter().any(|b| *b != 0)).count() > 8);
    assert!(maps["recs"].iter().any(|v| v.iter().any(|b| *b != 0)));
    if let Err(e) = ebee_kernel::probe() {
        println!("skipped: kernel comparison: {e}");
        return;
    }
    let k = ebee_kernel::LoadedObject::load(&obj, &Default::default())
        .unwrap_or_else(|e| panic!("the kernel refuses the object: {e}"));
    let kp = k.program("array_lookup").unwrap();
    for (i, pk) in packets.iter().enumerate() {
        let got = kp.test_run(&TestRun::new(pk)).unwrap().retval;
        assert_eq!(u64::from(got), rets[i], "packet {i}: verdict vs kernel");
    }
    for (name, vals) in &maps {
        let m = k.map(name).unwrap();
        for (i, v) in vals.iter().enumerate() {
            let kv = m.lookup(&(i as u32).to_ne_bytes()).unwrap().unwrap();
            assert_eq!(&kv, v, "{name}[{i}] vs kernel");
        }
    }
}

#[test]
fn a_host_lookup_helper_turns_inlining_off() {
    let obj = compile("array_lookup");
    let mut host = HelperRegistry::new();
    host.register(1, "map_lookup_elem", |_| Ok(0));
    let opts = LoadOptions::new()
        .helpers(&host)
        .engine(Arc::new(JitEngine::new()));
    let l = LoadedObject::load(&obj, &opts).unwrap();
    let p = l.program("array_lookup").unwrap();
    assert!(p.vm().inline_arrays().is_empty());
    let code = JitProgram::compile_shared(p.vm().clone(), JitOptions::VERIFIED).unwrap();
    assert_eq!(code.inlined_lookups(), 0);
    // Every lookup is the host's NULL: a sum of 8 * 1000 + 7, odd: XDP_PASS.
    let mut x = Xdp::new().unwrap();
    assert_eq!(x.run_loaded(p, &packet(3)).unwrap().ret, 2);
    assert!(ebee_maps(&l)["counts"]
        .iter()
        .all(|v| v.iter().all(|b| *b == 0)));
}

/// An array of 4 u64s, a `Vm` of `asm` (`HANDLE` replaced by the array's
/// handle) looking it up with the runtime's helpers, and the array.
fn array_vm(asm: &str) -> (Arc<Vm>, Arc<Map>) {
    let spec = MapSpec::new(MapType::Array, 4, 8, 4);
    let map = Arc::new(Map::create(&spec).unwrap());
    let handle = handle_of(&map);
    let text = asm.replace("HANDLE", &format!("{handle:#x}"));
    let mut vm = Vm::new(ebee_isa::assemble(&text).unwrap()).unwrap();
    let env = Arc::new(HelperEnv::with_maps(std::slice::from_ref(&map)));
    vm.set_helpers(standard_helpers(&env));
    vm.set_inline_arrays(vec![InlineArray::of(handle, &map).unwrap()]);
    (Arc::new(vm), map)
}

/// Runs `vm` on the interpreter and the JIT (checked; verified too when
/// `verified`) with the `u32` key `key` as input, returning each result
/// and the array afterwards; resets the array between engines.
fn run_all(vm: &Arc<Vm>, map: &Map, key: u32, verified: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let reset = || {
        for i in 0..4u32 {
            map.update(&i.to_ne_bytes(), &(u64::from(i) * 10).to_ne_bytes(), 0)
                .unwrap();
        }
    };
    let snapshot = || {
        (0..4u32)
            .map(|i| map.lookup(&i.to_ne_bytes()).unwrap().unwrap()[0].to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut mem = key.to_ne_bytes().to_vec();
    reset();
    out.push((verdict(&vm.run(&mut mem)), snapshot()));
    reset();
    let checked = JitProgram::compile_shared(vm.clone(), JitOptions::CHECKED).unwrap();
    out.push((verdict(&checked.run(&mut mem)), snapshot()));
    if verified {
        reset();
        let v = JitProgram::compile_shared(vm.clone(), JitOptions::VERIFIED).unwrap();
        // SAFETY: callers pass `verified` only for programs whose accesses
        // stay in the input, the stack and the array's values.
        out.push((verdict(&unsafe { v.run_unchecked(&mut mem) }), snapshot()));
    }
    out
}

fn inlined(vm: &Arc<Vm>) -> usize {
    JitProgram::compile_shared(vm.clone(), JitOptions::VERIFIED)
        .unwrap()
        .inlined_lookups()
}

fn assert_agree(vm: &Arc<Vm>, map: &Map, keys: &[u32], verified: bool) -> Vec<String> {
    keys.iter()
        .map(|&k| {
            let all = run_all(vm, map, k, verified);
            assert!(all.iter().all(|r| *r == all[0]), "key {k}: {all:?}");
            all[0].0.clone()
        })
        .collect()
}

/// Increments the element of the input's key, returning the new value;
/// 99 when the key is out of range.
const INCREMENT: &str = "
    r6 = *(u32 *)(r1 + 0)
    *(u32 *)(r10 - 4) = r6
    r2 = r10
    r2 += -4
    r1 = HANDLE ll
    call 1
    if r0 == 0 goto null
    r1 = *(u64 *)(r0 + 0)
    r1 += 1
    *(u64 *)(r0 + 0) = r1
    r0 = r1
    exit
null:
    r0 = 99
    exit";

#[test]
fn inline_lookups_match_the_helper_at_every_key() {
    let (vm, map) = array_vm(INCREMENT);
    assert_eq!(inlined(&vm), 1);
    let got = assert_agree(&vm, &map, &[0, 1, 3, 4, 5, 0x8000_0000, u32::MAX], true);
    assert_eq!(
        got,
        ["ok 1", "ok 11", "ok 31", "ok 99", "ok 99", "ok 99", "ok 99"]
    );
}

#[test]
fn only_a_constant_r1_from_the_same_block_is_inlined() {
    // The lddw is before a jump target: the scan does not cross it.
    let (vm, map) = array_vm(
        "
        r6 = *(u32 *)(r1 + 0)
        r1 = HANDLE ll
        if r6 == 7 goto call
        r6 = 1
    call:
        *(u32 *)(r10 - 4) = r6
        r2 = r10
        r2 += -4
        call 1
        if r0 == 0 goto null
        r0 = *(u64 *)(r0 + 0)
        exit
    null:
        r0 = 99
        exit",
    );
    assert_eq!(inlined(&vm), 0, "a jump target between lddw and call");
    assert_eq!(assert_agree(&vm, &map, &[7, 3], true), ["ok 99", "ok 10"]);

    // r1 copied from another register: not followed.
    let (vm, map) = array_vm(
        "
        r7 = HANDLE ll
        r6 = *(u32 *)(r1 + 0)
        *(u32 *)(r10 - 4) = r6
        r2 = r10
        r2 += -4
        r1 = r7
        call 1
        if r0 == 0 goto null
        r0 = *(u64 *)(r0 + 0)
        exit
    null:
        r0 = 99
        exit",
    );
    assert_eq!(inlined(&vm), 0, "r1 = r7");
    assert_eq!(assert_agree(&vm, &map, &[2, 9], true), ["ok 20", "ok 99"]);
}

#[test]
fn checked_mode_keys_outside_the_frame_take_the_helper() {
    // The key read from the input buffer itself (not the stack).
    let (vm, map) = array_vm(
        "
        r2 = r1
        r1 = HANDLE ll
        call 1
        if r0 == 0 goto null
        r0 = *(u64 *)(r0 + 0)
        exit
    null:
        r0 = 99
        exit",
    );
    assert_eq!(inlined(&vm), 1);
    assert_eq!(assert_agree(&vm, &map, &[3, 4], true), ["ok 30", "ok 99"]);

    // A key straddling the frame's top: the helper's error, on both.
    let (vm, map) = array_vm(
        "
        r2 = r10
        r2 += -2
        r1 = HANDLE ll
        call 1
        exit",
    );
    let got = assert_agree(&vm, &map, &[0], false);
    assert!(got[0].contains("map_lookup_elem"), "{got:?}");

    // A key pointer that is no memory at all.
    let (vm, map) = array_vm(
        "
        r2 = 4096
        r1 = HANDLE ll
        call 1
        exit",
    );
    let got = assert_agree(&vm, &map, &[0], false);
    assert!(got[0].contains("read of 4 bytes at 0x1000"), "{got:?}");
}

#[test]
fn checked_accesses_through_an_inline_result_see_the_whole_array() {
    // Element 1 read through element 0's pointer stays inside the array
    // (as in the interpreter, whose helper path the array's region
    // covers); past the last element it faults, identically.
    let program = |off: i32| {
        format!(
            "
        *(u32 *)(r10 - 4) = 0
        r2 = r10
        r2 += -4
        r1 = HANDLE ll
        call 1
        if r0 == 0 goto null
        r0 = *(u64 *)(r0 + {off})
        exit
    null:
        r0 = 99
        exit"
        )
    };
    let (vm, map) = array_vm(&program(8));
    assert_eq!(assert_agree(&vm, &map, &[0], false), ["ok 10"]);
    let (vm, map) = array_vm(&program(32));
    let got = assert_agree(&vm, &map, &[0], false);
    assert!(got[0].starts_with("OutOfBounds pc=7 size=8"), "{got:?}");
}
