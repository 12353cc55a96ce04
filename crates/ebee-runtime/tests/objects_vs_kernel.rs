//! Clang-built objects (tests/c/*.c, socket filters that never read their
//! context) loaded into ebee's runtime and into the kernel, run the same
//! number of times on the same packet, then compared: every return value,
//! and every map's contents afterwards (per-CPU maps summed over CPUs,
//! queues and stacks drained, ring buffers consumed).
//!
//! Each test first asks [`ebee_kernel::probe`] and prints
//! `skipped: <reason>` when this kernel has no usable bpf(2).

use std::path::Path;

use ebee_kernel::{ObjectLoadOptions, RingBufReader, TestRun};
use ebee_object::{MapType, Object};
use ebee_runtime::helpers::SharedBuffer;
use ebee_runtime::loader::{LoadOptions, LoadedObject};

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

fn compile_with(name: &str, defines: &[&str]) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out =
        ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), defines)
            .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// An Ethernet + IPv4 packet: what a socket filter's test run needs.
fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p
}

struct Pair {
    obj: Object,
    kernel: ebee_kernel::LoadedObject,
    user: LoadedObject,
}

fn load(name: &str, opts: LoadOptions) -> Pair {
    load_with(name, &[], opts)
}

fn load_with(name: &str, defines: &[&str], opts: LoadOptions) -> Pair {
    let obj = compile_with(name, defines);
    let kernel = ebee_kernel::LoadedObject::load(&obj, &ObjectLoadOptions::default())
        .unwrap_or_else(|e| panic!("kernel load of {name}: {e}"));
    let user =
        LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("ebee load of {name}: {e}"));
    Pair { obj, kernel, user }
}

impl Pair {
    /// Runs `prog` `times` times on both sides; the return values must match.
    fn run(&self, prog: &str, times: usize) -> Vec<u32> {
        let k = self
            .kernel
            .program(prog)
            .unwrap_or_else(|| panic!("kernel has no {prog}"));
        let u = self
            .user
            .program(prog)
            .unwrap_or_else(|| panic!("ebee has no {prog}"));
        let mut rets = vec![];
        for run in 0..times {
            let kr = k.test_run(&TestRun::new(&packet())).unwrap().retval;
            let ur = u
                .run(&mut packet())
                .unwrap_or_else(|e| panic!("{prog} run {run}: {e}"));
            assert_eq!(ur as u32, kr, "{prog} run {run}: r0 ebee vs kernel");
            rets.push(kr);
        }
        rets
    }

    /// Compares every map, except those named in `skip`.
    fn compare_maps(&self, skip: &[&str]) {
        for def in self.obj.maps() {
            let name = def.name.as_str();
            if skip.contains(&name) {
                continue;
            }
            let k = self.kernel.map(name).unwrap();
            let u = self.user.map(name).unwrap();
            match def.map_type {
                MapType::ProgArray | MapType::ArrayOfMaps | MapType::HashOfMaps => {
                    // Hold programs/maps: compare which slots are filled.
                    let mut kk: Vec<Vec<u8>> = k.keys().map(|r| r.unwrap()).collect();
                    let mut uk: Vec<Vec<u8>> = u.keys().collect();
                    kk.sort();
                    uk.sort();
                    if def.map_type == MapType::HashOfMaps {
                        assert_eq!(uk, kk, "{name}: keys");
                    }
                }
                MapType::Queue | MapType::Stack => {
                    let (mut kv, mut uv) = (vec![], vec![]);
                    while let Some(v) = k.pop().unwrap() {
                        kv.push(v);
                    }
                    while let Some(v) = u.pop().unwrap() {
                        uv.push(v);
                    }
                    assert_eq!(uv, kv, "{name}: drained values");
                }
                MapType::Ringbuf => {
                    let mut reader = RingBufReader::new(k).unwrap();
                    let kv = reader.drain();
                    let mut uv = vec![];
                    u.ringbuf().unwrap().consume(|s| uv.push(s.to_vec()));
                    assert_eq!(uv, kv, "{name}: records");
                }
                MapType::BloomFilter => {}
                t if ebee_runtime::map::is_percpu(t) => {
                    let mut kk: Vec<Vec<u8>> = k.keys().map(|r| r.unwrap()).collect();
                    let mut uk: Vec<Vec<u8>> = u.keys().collect();
                    kk.sort();
                    uk.sort();
                    assert_eq!(uk, kk, "{name}: keys");
                    for key in &kk {
                        let sum = |vals: Vec<Vec<u8>>| -> Vec<u64> {
                            let mut s = vec![0u64; def.value_size as usize / 8];
                            for v in vals {
                                for (i, w) in v.chunks_exact(8).enumerate() {
                                    s[i] = s[i]
                                        .wrapping_add(u64::from_ne_bytes(w.try_into().unwrap()));
                                }
                            }
                            s
                        };
                        let kv = sum(k.lookup_percpu(key).unwrap().unwrap());
                        let uv = sum(u.lookup_percpu(key).unwrap().unwrap());
                        assert_eq!(uv, kv, "{name}[{key:?}]: per-CPU sums");
                    }
                }
                _ => {
                    let mut kk: Vec<Vec<u8>> = k.keys().map(|r| r.unwrap()).collect();
                    let mut uk: Vec<Vec<u8>> = u.keys().collect();
                    kk.sort();
                    uk.sort();
                    assert_eq!(uk, kk, "{name}: keys");
                    for key in &kk {
                        let kv = k.lookup(key).unwrap();
                        let uv = u.lookup(key).unwrap();
                        assert_eq!(uv, kv, "{name}[{key:?}]: value");
                    }
                }
            }
        }
    }

    fn user_bss(&self) -> Vec<u8> {
        self.user
            .map(".bss")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap()
            .unwrap()
    }
}

fn words(bytes: &[u8]) -> Vec<i64> {
    bytes
        .chunks_exact(8)
        .map(|c| i64::from_ne_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn keyed_maps_globals_and_calls() {
    require_bpf!();
    let p = load("maps_basic", LoadOptions::new());
    assert!(
        p.user.program("maps_basic").unwrap().unchecked(),
        "verified, runs unchecked"
    );
    p.run("maps_basic", 12);
    p.compare_maps(&[]);
    let out = words(&p.user_bss());
    // Spot checks that the comparison compared something real.
    assert_eq!(out[3], -17, "BPF_NOEXIST on an array: -EEXIST");
    assert_eq!(out[4], -7, "index out of range: -E2BIG");
}

#[test]
fn queue_stack_and_bloom_filter() {
    require_bpf!();
    // Run checked: this test keeps the unverified path against the kernel
    // (ebee-verifier's runtime_gaps test covers push/peek on bloom filters).
    let p = load("queue_stack_bloom", LoadOptions::new().unverified());
    p.run("queue_stack_bloom", 4);
    p.compare_maps(&[]);
}

#[test]
fn ring_buffer_records_and_queries() {
    require_bpf!();
    let p = load("ringbuf", LoadOptions::new());
    p.run("ring", 5);
    p.compare_maps(&[]);
}

#[test]
fn tail_calls_chain_fall_through_and_stop_at_the_limit() {
    require_bpf!();
    let p = load("tail_calls", LoadOptions::new());
    assert!(
        p.user.program("entry").unwrap().unchecked(),
        "ctx only handed to bpf_tail_call"
    );
    assert_eq!(p.run("entry", 3), vec![11; 3]);
    assert_eq!(p.run("entry_self", 1), vec![33]);
    p.compare_maps(&[]);
    let bss = words(&p.user_bss());
    assert_eq!(bss[4] as u32, 33, "depth: 33 tail calls, then fall through");
}

#[test]
fn map_in_maps() {
    require_bpf!();
    let p = load("map_in_map", LoadOptions::new());
    p.run("through_outer", 4);
    p.compare_maps(&[]);
}

#[test]
fn loop_and_for_each_callbacks() {
    require_bpf!();
    // Run checked: this test keeps the unverified path against the kernel
    // (ebee-verifier's callback_rounds test verifies this very object).
    let p = load("callbacks", LoadOptions::new().unverified());
    p.run("callbacks", 3);
    p.compare_maps(&[]);
}

#[test]
fn string_helpers_snprintf_and_probe_reads() {
    require_bpf!();
    // Run checked: this test keeps the unverified path against the kernel
    // (ebee-verifier's runtime_gaps test covers strtol/strtoul).
    let p = load("strings", LoadOptions::new().unverified());
    let trace = SharedBuffer::default();
    p.user.env().trace().set(Box::new(trace.clone()));
    p.run("strings", 1);
    p.compare_maps(&[]);
    let bss = String::from_utf8_lossy(&p.user_bss()).into_owned();
    // The first 40 bytes of the full text, then the %pI4/%pi4 text
    // written at text + 40, truncated to 24 bytes with its NUL.
    assert!(
        bss.contains("[-42|    7|ab  |00042|deadbeefcafe|hello192.168.1.20 192.168.00\0"),
        "{bss:?}"
    );
    let lines = String::from_utf8(trace.0.lock().unwrap().clone()).unwrap();
    assert_eq!(lines, "x=-3 y=77\nno newline hello\n");
}

#[test]
fn time_cpu_identity_and_random_helpers() {
    require_bpf!();
    let p = load("misc_helpers", LoadOptions::new());
    p.run("misc", 2);
    p.compare_maps(&[]);
    assert_eq!(&words(&p.user_bss())[..7], &[1, 1, 1, 1, 1, 0, 1]);
}

#[test]
fn spin_lock_guards_a_map_value() {
    require_bpf!();
    let p = load("spin_lock", LoadOptions::new());
    assert!(p.user.program("locked_add").unwrap().unchecked());
    p.run("locked_add", 5);
    p.compare_maps(&[]);
}

#[test]
fn identity_helpers_describe_the_calling_thread() {
    require_bpf!();
    let p = load_with("misc_helpers", &["-DIDENTITY"], LoadOptions::new());
    p.run("identity", 1);
    // pid_tgid, uid_gid and comm of this test thread, from both sides.
    p.compare_maps(&[]);
    let bss = words(&p.user_bss());
    let pid = u64::from(std::process::id());
    assert!(
        bss.iter().any(|&w| w as u64 >> 32 == pid),
        "tgid recorded: {bss:?}"
    );
}
