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
