//! The object benchmarks do their work: after one run in ebee's runtime
//! the hash map holds, for every key, the number of loop indices hashing
//! to it (counted here independently), and the tail chain's depth counter
//! is 32; the same object run once in the kernel (its own hash map, prog
//! array and helpers, through BPF_PROG_TEST_RUN) leaves the same contents.

use ebee_bench::native_maps::{object_input, HASH_K, HASH_N, PACKET_LEN, TAIL_DEPTH};
use ebee_bench::program::{HASH_COUNT, TAIL_CHAIN};
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use std::collections::BTreeMap;

/// `hash_key` of `programs/hash_count.h`, written out again.
fn expected_counts() -> BTreeMap<u32, u64> {
    let mut counts = BTreeMap::new();
    for i in 0..HASH_N as u32 {
        let key = (i.wrapping_mul(2_654_435_761) >> 7) % HASH_K;
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

fn as_counts(entries: impl Iterator<Item = (Vec<u8>, Vec<u8>)>) -> BTreeMap<u32, u64> {
    entries
        .map(|(k, v)| {
            let k = u32::from_ne_bytes(k[..4].try_into().unwrap());
            let v = u64::from_ne_bytes(v[..8].try_into().unwrap());
            (k, v)
        })
        .collect()
}

/// The kernel's copy of `obj` after one `BPF_PROG_TEST_RUN` of `program`
/// on a zeroed packet, and the run's `r0`; `None` (with `skipped:`
/// printed) where the kernel runs no XDP programs.
#[cfg(target_os = "linux")]
fn kernel_run(
    obj: &ebee_object::Object,
    program: &str,
) -> Option<(ebee_kernel::LoadedObject, u64)> {
    use ebee_kernel::{ObjectLoadOptions, ProgramType, TestRun};
    if let Err(e) = ebee_kernel::probe_program_type(ProgramType::Xdp) {
        println!("skipped: kernel part: no XDP programs here: {e}");
        return None;
    }
    let kernel = ebee_kernel::LoadedObject::load(obj, &ObjectLoadOptions::default()).unwrap();
    let packet = vec![0u8; PACKET_LEN as usize];
    let out = kernel
        .program(program)
        .unwrap()
        .test_run(&TestRun::new(&packet))
        .unwrap();
    Some((kernel, out.retval as u64))
}

#[test]
fn hash_count_counts_every_key_in_ebee_and_in_the_kernel() {
    let want = expected_counts();
    assert_eq!(want.values().sum::<u64>(), HASH_N);
    let obj = HASH_COUNT.parse().unwrap();
    let loaded = LoadedObject::load(&obj, &LoadOptions::new()).unwrap();
    let prog = loaded.program("hash_count").unwrap();
    assert!(prog.verified() && prog.unchecked());
    let r0 = prog.run(&mut object_input(HASH_N)).unwrap();
    let map = loaded.map("counts").unwrap();
    let got = as_counts(map.keys().map(|k| {
        let v = map.lookup(&k).unwrap().unwrap();
        (k, v)
    }));
    assert_eq!(got, want);
    let sum_keys: u64 = want.iter().map(|(k, n)| (1 + u64::from(*k)) * n).sum();
    assert_eq!(r0, sum_keys);

    #[cfg(target_os = "linux")]
    {
        let Some((kernel, retval)) = kernel_run(&obj, "hash_count") else {
            return;
        };
        assert_eq!(retval, r0);
        let map = kernel.map("counts").unwrap();
        let got = as_counts(map.keys().map(|k| {
            let k = k.unwrap();
            let v = map.lookup(&k).unwrap().unwrap();
            (k, v)
        }));
        assert_eq!(got, want, "the kernel's map");
    }
}

#[test]
fn tail_chain_runs_32_links_in_ebee_and_in_the_kernel() {
    let obj = TAIL_CHAIN.parse().unwrap();
    let loaded = LoadedObject::load(&obj, &LoadOptions::new()).unwrap();
    let prog = loaded.program("tail_chain").unwrap();
    assert!(prog.verified() && prog.unchecked());
    assert_eq!(prog.run(&mut object_input(TAIL_DEPTH)).unwrap(), TAIL_DEPTH);
    let depth = loaded
        .map("depth")
        .unwrap()
        .lookup(&0u32.to_ne_bytes())
        .unwrap();
    assert_eq!(depth, Some(TAIL_DEPTH.to_ne_bytes().to_vec()));

    #[cfg(target_os = "linux")]
    {
        let Some((kernel, retval)) = kernel_run(&obj, "tail_chain") else {
            return;
        };
        assert_eq!(retval, TAIL_DEPTH);
        let depth = kernel
            .map("depth")
            .unwrap()
            .lookup(&0u32.to_ne_bytes())
            .unwrap();
        assert_eq!(depth, Some(TAIL_DEPTH.to_ne_bytes().to_vec()));
    }
}
