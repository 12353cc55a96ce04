//! `bpf_perf_event_output` from a clang-built program (tests/c/perf_output.c)
//! in the runtime: with no buffer open the helper fails (`-ENOENT`, as in
//! the kernel with an empty slot); with buffers open the host reads the
//! samples in the kernel's perf record layout.

use std::path::Path;

use ebee_object::Object;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::map::PerfRecord;

fn compile(name: &str) -> Object {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/c/{name}.c"));
    let out = ebee_corpus::clang::compile_bpf(&src, Path::new(env!("CARGO_TARGET_TMPDIR")), &[])
        .unwrap_or_else(|e| panic!("{e}"));
    Object::parse(&std::fs::read(&out).unwrap()).unwrap_or_else(|e| panic!("{name}.o: {e}"))
}

#[test]
fn samples_reach_the_host_in_perf_layout() {
    let obj = compile("perf_output");
    let loaded = LoadedObject::load(&obj, &LoadOptions::new()).unwrap();
    let prog = loaded.program("perf_output").unwrap();
    assert!(prog.verified());
    let events = loaded.map("events").unwrap();
    // No buffer open: every output is -ENOENT.
    assert_eq!(prog.run(&mut []).unwrap(), 2);
    let perf = events.perf_event_array().unwrap();
    let slots = events.spec().max_entries;
    let bufs: Vec<_> = (0..slots).map(|i| perf.open(i, 1).unwrap()).collect();
    assert_eq!(prog.run(&mut []).unwrap(), 1);
    let mut samples = vec![];
    for b in &bufs {
        for raw in b.read_raw() {
            assert_eq!(raw.len() % 8, 0, "records are 8-aligned");
            samples.push(ebee_runtime::map::perf_event_array::decode(&raw).unwrap());
        }
    }
    let data: Vec<u8> = (1..=16).collect();
    // Raw sizes round up so that size field + data is a multiple of 8.
    assert_eq!(
        samples,
        vec![
            PerfRecord::Sample(vec![1, 2, 3, 0]),
            PerfRecord::Sample([&data[..8], &[0; 4]].concat()),
            PerfRecord::Sample([&data[..13], &[0; 7]].concat()),
        ]
    );
}

/// `bpf_perf_event_read` and `bpf_perf_event_read_value` on a software
/// task-clock counter the host put in slot 0: the values lie between the
/// host's own reads before and after the run; an empty slot is `-ENOENT`,
/// one past the end `-E2BIG`, unknown flag bits `-EINVAL`, a wrong size
/// `-EINVAL` with the buffer zeroed.
#[test]
fn perf_counters_read_from_programs() {
    use ebee_runtime::map::{Map, MapSpec, MapType, PerfCounter};
    use ebee_runtime::Vm;
    use std::sync::Arc;
    let map = Arc::new(Map::create(&MapSpec::new(MapType::PerfEventArray, 4, 4, 2)).unwrap());
    let counter = match PerfCounter::open(1, 1) {
        Ok(c) => c,
        Err(e) => {
            println!("skipped: perf_event_open: {e}");
            return;
        }
    };
    let env = Arc::new(ebee_runtime::helpers::HelperEnv::new());
    let h = env.maps().insert(&map);
    // input: u64 flags, u64 size, then 24 bytes of buffer; r0 = read,
    // input[40..48] = read_value's result.
    let text = format!(
        "r6 = r1
         r1 = {h:#x} ll
         r2 = *(u64 *)(r6 + 0)
         call 22
         r7 = r0
         r1 = {h:#x} ll
         r2 = *(u64 *)(r6 + 0)
         r3 = r6
         r3 += 16
         r4 = *(u64 *)(r6 + 8)
         r4 &= 31
         if r4 == 0 goto out
         call 55
         *(u64 *)(r6 + 40) = r0
     out:
         r0 = r7
         exit"
    );
    let mut vm = Vm::new(ebee_isa::assemble(&text).unwrap()).unwrap();
    vm.set_helpers(ebee_runtime::helpers::standard_helpers(&env));
    let run = |flags: u64, size: u64| {
        let mut input = vec![0xaau8; 48];
        input[..8].copy_from_slice(&flags.to_ne_bytes());
        input[8..16].copy_from_slice(&size.to_ne_bytes());
        let r0 = vm.run(&mut input).unwrap() as i64;
        let w = |i: usize| u64::from_ne_bytes(input[i..i + 8].try_into().unwrap());
        (r0, [w(16), w(24), w(32)], w(40) as i64)
    };
    assert_eq!(run(0, 24).0, -2, "empty slot");
    let perf = map.perf_event_array().unwrap();
    perf.set_counter(0, counter).unwrap();
    assert_eq!(run(1, 24).0, -2, "slot 1 still empty");
    assert_eq!(run(2, 24).0, -7, "past the end");
    assert_eq!(run(1 << 40, 24).0, -22, "unknown flags");
    let before = perf.read_counter(0, 0).unwrap();
    let (count, value, ret) = run(0, 24);
    let after = perf.read_counter(0, 0).unwrap();
    assert_eq!(ret, 0);
    assert!(before[0] <= count as u64 && count as u64 <= value[0] && value[0] <= after[0]);
    assert!(
        value[1] >= value[2] && value[1] > 0,
        "enabled and running: {value:?}"
    );
    let (_, value, ret) = run(0, 16);
    assert_eq!(
        (ret, value[..2].to_vec()),
        (-22, vec![0, 0]),
        "wrong size zeroes"
    );
}
