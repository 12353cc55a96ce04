//! Whole clang-built objects on the JIT: loaded by the runtime's loader
//! with [`JitEngine`] (verified programs compiled in verified mode,
//! unverified ones in checked mode) and with the interpreter, which
//! defines the meaning; where the kernel can run the program
//! (`BPF_PROG_TEST_RUN`), against the kernel too. Compared: `r0`, the
//! output packet and every array and hash map afterwards.
//!
//! `tests/c/callbacks.c`: bpf_loop (stopping early), for_each_map_elem over
//! an array and a hash map (stopping early), callbacks calling nested
//! subprograms and bpf_loop, globals. `tests/c/xdp_tail.c`: an XDP rewrite
//! behind a tail call, with callbacks. `tests/c/tc_callbacks.c`: a tc
//! classifier hashing packet bytes with bpf_loop, writing the packet and
//! walking a hash map. Then every sample object of the
//! shared corpus that loads and is an XDP, socket or tc program, on a small
//! packet.
//!
//! Kernel comparisons print `skipped: <reason>` without a usable bpf(2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ebee_jit::JitEngine;
use ebee_kernel::TestRun;
use ebee_object::{MapType, Object, ProgramType};
use ebee_runtime::loader::{LoadOptions, LoadedObject, LoadedProgram};
use ebee_runtime::program_type::skb::{self, Skb, SkbKind};
use ebee_runtime::program_type::xdp::{self, Xdp};
use ebee_runtime::HelperRegistry;

fn compile(name: &str) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out = ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

/// The engines compared, the interpreter (the reference) first.
fn engines(helpers: &HelperRegistry) -> Vec<(&'static str, LoadOptions)> {
    let base = LoadOptions::new().helpers(helpers);
    let jit = || Arc::new(JitEngine::new());
    vec![
        ("interpreter", base.clone()),
        ("jit verified", base.clone().engine(jit())),
        ("jit checked", base.clone().unverified().engine(jit())),
        ("interpreter checked", base.unverified()),
    ]
}

/// Every array and hash map's entries, keys sorted (hash iteration order
/// is not part of the semantics).
type Maps = BTreeMap<String, Vec<(Vec<u8>, Vec<u8>)>>;

fn user_maps(l: &LoadedObject) -> Maps {
    let mut out = Maps::new();
    for (name, m) in l.maps() {
        if !matches!(m.map_type(), MapType::Array | MapType::Hash) {
            continue;
        }
        let mut es: Vec<_> = m
            .keys()
            .map(|k| {
                let v = m.lookup(&k).unwrap().unwrap_or_default();
                (k, v)
            })
            .collect();
        es.sort();
        out.insert(name.to_string(), es);
    }
    out
}

/// A packet run's `r0` and output packet.
type Verdict = (u64, Vec<u8>);

fn kernel_maps(k: &ebee_kernel::LoadedObject, obj: &Object) -> Maps {
    let mut out = Maps::new();
    for def in obj.maps() {
        if !matches!(def.map_type, MapType::Array | MapType::Hash) {
            continue;
        }
        let m = k.map(&def.name).unwrap();
        let mut es: Vec<_> = m
            .keys()
            .map(|k| {
                let k = k.unwrap();
                let v = m.lookup(&k).unwrap().unwrap_or_default();
                (k, v)
            })
            .collect();
        es.sort();
        out.insert(def.name.clone(), es);
    }
    out
}

/// The kernel's copy of `obj`, or why there is none (no usable bpf(2)).
/// A kernel that refuses the object fails the test: these programs are
/// written for it, and a refusal would silently drop the comparison.
fn kernel(obj: &Object) -> Result<ebee_kernel::LoadedObject, String> {
    ebee_kernel::probe().map_err(|e| e.to_string())?;
    Ok(ebee_kernel::LoadedObject::load(obj, &Default::default())
        .unwrap_or_else(|e| panic!("the kernel refuses the object: {e}")))
}

/// A small Ethernet + IPv4 + UDP packet, varied by `seed`.
fn packet(seed: u8) -> Vec<u8> {
    let mut p = vec![0u8; 60];
    for (i, b) in p.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(7).wrapping_add(seed);
    }
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&46u16.to_be_bytes());
    p[22] = 2 + seed % 3; // ttl: 2..4, so some runs drop at 1
    p[23] = [17, 6, 1][seed as usize % 3];
    p
}

#[test]
fn callbacks_agree_on_every_engine_and_the_kernel() {
    let obj = compile("callbacks");
    const RUNS: usize = 6;
    let mut reference: Option<(Vec<u64>, Maps)> = None;
    for (label, opts) in engines(&HelperRegistry::new()) {
        let l = LoadedObject::load(&obj, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
        let p = l.program("callbacks").unwrap();
        if label == "jit verified" {
            assert!(p.unchecked(), "verified, and run without checks");
        }
        let rets: Vec<u64> = (0..RUNS)
            .map(|i| {
                p.run(&mut packet(0))
                    .unwrap_or_else(|e| panic!("{label} run {i}: {e}"))
            })
            .collect();
        let maps = user_maps(&l);
        match &reference {
            None => reference = Some((rets, maps)),
            Some((r, m)) => {
                assert_eq!(&rets, r, "{label}: r0 of each run");
                assert_eq!(&maps, m, "{label}: maps");
            }
        }
    }
    let (rets, maps) = reference.unwrap();
    // The comparison compares real work: the first bpf_loop ran 16 + 5
    // times in the last run, the second stopped after 5 + 5 + 1 calls.
    let bss = &maps[".bss"][0].1;
    let out = |i: usize| i64::from_ne_bytes(bss[8 + 8 * i..16 + 8 * i].try_into().unwrap());
    assert_eq!((out(0), out(2)), (21, 21), "bpf_loop count and calls");
    assert_eq!((out(3), out(5)), (11, 11), "stopped early");
    assert_eq!((out(6), out(9)), (8, 8), "for_each over the array");
    assert_eq!(out(11), RUNS as i64, "for_each over the hash map");
    assert_eq!((out(15), out(16)), (3, 3), "for_each stopped early");
    match kernel(&obj) {
        Err(reason) => println!("skipped: kernel comparison: {reason}"),
        Ok(k) => {
            let kp = k.program("callbacks").unwrap();
            let kr: Vec<u64> = (0..RUNS)
                .map(|_| u64::from(kp.test_run(&TestRun::new(&packet(0))).unwrap().retval))
                .collect();
            let ur: Vec<u64> = rets.iter().map(|r| *r as u32 as u64).collect();
            assert_eq!(ur, kr, "r0 ebee vs kernel");
            assert_eq!(maps, kernel_maps(&k, &obj), "maps ebee vs kernel");
        }
    }
}

/// Runs `program` of `obj` on each of `packets` on every engine (each on
/// fresh runners) and asserts they agree on the verdicts, the packets out
/// and the maps afterwards; returns the interpreter's.
fn engines_agree_on_packets(
    obj: &Object,
    program: &str,
    helpers: &HelperRegistry,
    packets: &[Vec<u8>],
) -> (Vec<Verdict>, Maps) {
    let mut reference: Option<(Vec<Verdict>, Maps)> = None;
    for (label, opts) in engines(helpers) {
        let l = LoadedObject::load(obj, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
        let p = l.program(program).unwrap();
        if label == "jit verified" {
            assert!(
                p.packet_unchecked(),
                "verified as {:?}, run without checks",
                p.program_type()
            );
        }
        let mut runners = Runners::new();
        let outs: Vec<Verdict> = packets
            .iter()
            .enumerate()
            .map(|(i, pk)| {
                runners
                    .run(p, pk)
                    .unwrap_or_else(|e| panic!("{label} packet {i}: {e}"))
            })
            .collect();
        let maps = user_maps(&l);
        match &reference {
            None => reference = Some((outs, maps)),
            Some((o, m)) => {
                assert_eq!(&outs, o, "{label}: verdicts and packets");
                assert_eq!(&maps, m, "{label}: maps");
            }
        }
    }
    reference.unwrap()
}

/// Where the kernel can run `obj`: asserts its `program` gives `outs` on
/// `packets` (output room for a packet from `out_capacity`) and leaves
/// `maps`.
fn kernel_agrees_on_packets(
    obj: &Object,
    program: &str,
    packets: &[Vec<u8>],
    (outs, maps): &(Vec<Verdict>, Maps),
    out_capacity: impl Fn(&[u8]) -> usize,
) {
    match kernel(obj) {
        Err(reason) => println!("skipped: kernel comparison: {reason}"),
        Ok(k) => {
            let kp = k.program(program).unwrap();
            for (i, pk) in packets.iter().enumerate() {
                let mut run = TestRun::new(pk);
                run.data_out_capacity = Some(out_capacity(pk));
                let ko = kp.test_run(&run).unwrap();
                assert_eq!(outs[i].0 as u32, ko.retval, "packet {i}: verdict");
                assert_eq!(outs[i].1, ko.data, "packet {i}: output packet");
            }
            assert_eq!(*maps, kernel_maps(&k, obj), "maps ebee vs kernel");
        }
    }
}

#[test]
fn xdp_rewrite_behind_a_tail_call_agrees_everywhere() {
    let obj = compile("xdp_tail");
    let packets: Vec<Vec<u8>> = (0..24).map(packet).collect();
    let reference = engines_agree_on_packets(&obj, "xdp_entry", &xdp::helpers(), &packets);
    let (outs, maps) = &reference;
    assert_ne!(outs[0].1, packets[0], "the rewrite changed the packet");
    assert!(outs.iter().any(|o| o.0 == 2) && outs.iter().any(|o| o.0 == 3));
    assert_eq!(maps["protos"].len(), 3, "three protocols counted");
    kernel_agrees_on_packets(&obj, "xdp_entry", &packets, &reference, |_| 4096);
}

#[test]
fn tc_classifier_with_callbacks_agrees_everywhere() {
    let obj = compile("tc_callbacks");
    let packets: Vec<Vec<u8>> = (0..24).map(packet).collect();
    let reference = engines_agree_on_packets(&obj, "tc_hash", &skb::helpers(), &packets);
    let (outs, maps) = &reference;
    assert_ne!(outs[0].1, packets[0], "the hash was stored in the packet");
    assert!(maps["verdicts"].len() > 1, "several verdict keys counted");
    kernel_agrees_on_packets(&obj, "tc_hash", &packets, &reference, |pk| pk.len() + 64);
}

fn sample_objects(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            sample_objects(&p, out);
        } else if p.extension().is_some_and(|x| x == "o") {
            out.push(p);
        }
    }
}

/// The packet runners, shared by both engines so that packets sit at the
/// same addresses (some programs return pointer bits).
struct Runners {
    xdp: Xdp,
    socket: Skb,
    tc: Skb,
}

impl Runners {
    fn new() -> Runners {
        Runners {
            xdp: Xdp::new().unwrap(),
            socket: Skb::new(SkbKind::SocketFilter).unwrap(),
            tc: Skb::new(SkbKind::Tc).unwrap(),
        }
    }

    /// One run of a packet program: its result or error, and the packet out.
    fn run(&mut self, p: &LoadedProgram, pk: &[u8]) -> Result<(u64, Vec<u8>), String> {
        match p.program_type() {
            ProgramType::Xdp => self
                .xdp
                .run_loaded(p, pk)
                .map(|o| (o.ret, o.data_out()))
                .map_err(|e| e.to_string()),
            t => {
                let skb = if t == ProgramType::SocketFilter {
                    &mut self.socket
                } else {
                    &mut self.tc
                };
                skb.run_loaded(p, pk)
                    .map(|o| (o.ret, o.packet))
                    .map_err(|e| e.to_string())
            }
        }
    }
}

/// Loads `obj` with `opts` (verified, else unverified; untyped sections as
/// tc, as the runtime's sample test does), on `engine`.
fn load_sample(obj: &Object, engine: Option<Arc<JitEngine>>) -> Option<LoadedObject> {
    let helpers = {
        let mut h = skb::helpers();
        ebee_runtime::program_type::merge_helpers(&mut h, &xdp::helpers());
        h
    };
    let with = |o: LoadOptions| match &engine {
        Some(e) => o.engine(e.clone()),
        None => o,
    };
    let untyped = obj
        .entry_programs()
        .any(|p| p.kind.program_type == ProgramType::Unspec);
    let opts = [LoadOptions::new(), LoadOptions::new().unverified()];
    for o in opts {
        let o = with(o.helpers(&helpers));
        if let Ok(l) = LoadedObject::load(obj, &o) {
            return Some(l);
        }
        if untyped {
            if let Ok(l) = LoadedObject::load(obj, &o.program_type(ProgramType::SchedCls)) {
                return Some(l);
            }
        }
    }
    None
}

#[test]
fn sample_packet_programs_agree_on_both_engines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples");
    let mut files = vec![];
    sample_objects(&root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no sample objects under {}",
        root.display()
    );
    let engine = Arc::new(JitEngine::new());
    let (mut objects, mut programs, mut verified, mut failing) = (0, 0, 0, 0);
    let packets = [packet(0), packet(1), packet(2)];
    let mut runners = Runners::new();
    for f in &files {
        let Ok(obj) = Object::parse(&std::fs::read(f).unwrap()) else {
            continue;
        };
        let Some(interp) = load_sample(&obj, None) else {
            continue;
        };
        let is_packet = |t: ProgramType| {
            matches!(
                t,
                ProgramType::Xdp
                    | ProgramType::SocketFilter
                    | ProgramType::SchedCls
                    | ProgramType::SchedAct
            )
        };
        if !interp
            .programs()
            .iter()
            .any(|p| is_packet(p.program_type()))
        {
            continue;
        }
        let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        let jit = load_sample(&obj, Some(engine.clone()))
            .unwrap_or_else(|| panic!("{name}: loads for the interpreter, not for the JIT"));
        objects += 1;
        for (ip, jp) in interp.programs().iter().zip(jit.programs()) {
            if !is_packet(ip.program_type()) {
                continue;
            }
            assert_eq!(ip.verified(), jp.verified(), "{name}: same load");
            programs += 1;
            verified += usize::from(jp.packet_unchecked());
            for (i, pk) in packets.iter().enumerate() {
                // The same random numbers for both.
                interp.env().seed_random(i as u64 + 1);
                jit.env().seed_random(i as u64 + 1);
                let a = runners.run(ip, pk);
                let b = runners.run(jp, pk);
                failing += usize::from(a.is_err());
                assert_eq!(b, a, "{name} {} packet {i}: jit vs interpreter", ip.name());
            }
        }
        assert_eq!(user_maps(&jit), user_maps(&interp), "{name}: maps");
    }
    println!(
        "{objects} sample objects with packet programs, {programs} programs \
         ({verified} run verified, {failing} runs fail alike on both engines)"
    );
    // Measured: 40 objects, 69 programs (60 verified for their packet type;
    // 39, 67 and 58 before the sock_ops and fib_lookup helpers).
    assert!(
        objects >= 40 && programs >= 69 && verified >= 60,
        "{objects} objects, {programs} programs, {verified} verified"
    );
}
