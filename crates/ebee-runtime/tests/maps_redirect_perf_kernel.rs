//! The map types added for the sample objects (`perf_event_array`,
//! `devmap`, `devmap_hash`, `cpumap`, `xskmap`, `cgroup_array`,
//! `stack_trace`) against the kernel: the
//! same creation specs give the same error numbers, and host updates,
//! lookups and deletes with devices/CPUs that exist give the same results.
//!
//! Each test prints `skipped: <reason>` when this kernel has no usable bpf(2).

use ebee_kernel::{possible_cpus, KernelMap};
use ebee_runtime::map::{
    Map, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_RDONLY,
    BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_NOEXIST,
};

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

fn kernel_spec(s: &MapSpec) -> ebee_kernel::MapSpec {
    let mut k = ebee_kernel::MapSpec::new(s.map_type, s.key_size, s.value_size, s.max_entries);
    k.flags = s.flags;
    k.name = "ebee_diff".into();
    k
}

fn kr<T>(r: Result<T, ebee_kernel::MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno().unwrap_or(-1))
}

fn or<T>(r: Result<T, ebee_runtime::map::MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno().unwrap_or(-1))
}

#[test]
fn creation_checks_agree_with_kernel() {
    require_bpf!();
    let cpus = possible_cpus().unwrap();
    let mut specs = vec![];
    for t in [
        MapType::PerfEventArray,
        MapType::Devmap,
        MapType::DevmapHash,
        MapType::Cpumap,
        MapType::Xskmap,
        MapType::CgroupArray,
        MapType::StackTrace,
    ] {
        for (k, v, n) in [
            (4, 4, 4),
            (4, 8, 4),
            (8, 4, 4),
            (4, 0, 4),
            (4, 12, 4),
            (4, 4, 0),
            (0, 4, 4),
            (4, 4, 8192),
            (4, 4, 8193),
            (4, 4, 1 << 20),
        ] {
            for f in [
                0,
                BPF_F_RDONLY,
                BPF_F_WRONLY,
                BPF_F_RDONLY_PROG,
                BPF_F_NO_PREALLOC,
                BPF_F_MMAPABLE,
                BPF_F_RDONLY | BPF_F_WRONLY,
            ] {
                specs.push(MapSpec::new(t, k, v, n).with_flags(f));
            }
        }
    }
    // Stack maps: value sizes around the 127-address limit, build ids,
    // bucket counts.
    for (v, n) in [
        (16, 4),
        (1016, 3),
        (1024, 3),
        (127 * 8, 1),
        (128 * 8, 1),
        (8, 1 << 16),
        (24, 5),
    ] {
        for f in [0, 1 << 5, BPF_F_RDONLY | BPF_F_WRONLY, BPF_F_RDONLY_PROG] {
            specs.push(MapSpec::new(MapType::StackTrace, 4, v, n).with_flags(f));
        }
    }
    let mut checked = 0;
    for s in &specs {
        let k = KernelMap::create(&kernel_spec(s)).map(|_| ());
        let ours = Map::create_with_cpus(s, cpus).map(|_| ());
        assert_eq!(or(ours), kr(k), "{s:?}");
        checked += 1;
    }
    println!("{checked} specs, same result");
}

/// An interface index this machine has (loopback is always there).
const LO: u32 = 1;

fn ops_agree(spec: &MapSpec, values: &[Vec<u8>]) {
    let k = KernelMap::create(&kernel_spec(spec)).unwrap();
    let ours = Map::create_with_cpus(spec, possible_cpus().unwrap()).unwrap();
    let mut n = 0;
    for key in 0..spec.max_entries + 2 {
        let kb = key.to_ne_bytes();
        for v in values {
            for f in [BPF_ANY, BPF_NOEXIST, BPF_EXIST, 7] {
                assert_eq!(
                    or(ours.update(&kb, v, f)),
                    kr(k.update(&kb, v, f)),
                    "update {key} {v:?} {f} on {:?}",
                    spec.map_type
                );
                assert_eq!(or(ours.lookup(&kb)), kr(k.lookup(&kb)), "lookup {key}");
                n += 1;
            }
        }
        assert_eq!(or(ours.delete(&kb)), kr(k.delete(&kb)), "delete {key}");
        assert_eq!(
            or(ours.delete(&kb)),
            kr(k.delete(&kb)),
            "delete again {key}"
        );
        assert_eq!(
            or(ours.update(&kb, &values[0], BPF_ANY)),
            kr(k.update(&kb, &values[0], BPF_ANY))
        );
        // Hash maps iterate in their own bucket order: compare key sets.
        if spec.map_type != MapType::DevmapHash {
            assert_eq!(
                or(ours.next_key(Some(&kb))),
                kr(k.next_key(Some(&kb))),
                "next_key {key}"
            );
        }
    }
    let mut ok: Vec<Vec<u8>> = ours.keys().collect();
    let mut kk: Vec<Vec<u8>> = k.keys().map_while(Result::ok).collect();
    ok.sort();
    kk.sort();
    assert_eq!(ok, kk);
    println!("{:?}: {n} updates, same results", spec.map_type);
}

fn words(w: &[u32]) -> Vec<u8> {
    w.iter().flat_map(|x| x.to_ne_bytes()).collect()
}

#[test]
fn devmap_updates_agree_with_kernel() {
    require_bpf!();
    let values = [
        words(&[LO]),
        words(&[0]),
        words(&[0x7fff_0000]), // no such interface
    ];
    ops_agree(&MapSpec::new(MapType::Devmap, 4, 4, 3), &values);
    ops_agree(&MapSpec::new(MapType::DevmapHash, 4, 4, 3), &values[..1]);
    ops_agree(&MapSpec::new(MapType::DevmapHash, 4, 4, 3), &values[2..]);
    let values8 = [words(&[LO, 0]), words(&[0, 0])];
    ops_agree(&MapSpec::new(MapType::Devmap, 4, 8, 2), &values8);
}

#[test]
fn cpumap_updates_agree_with_kernel() {
    require_bpf!();
    let cpus = possible_cpus().unwrap() as u32;
    let values = [words(&[64]), words(&[0]), words(&[16385]), words(&[16384])];
    // Keys past the possible CPUs give ENODEV on both sides.
    ops_agree(&MapSpec::new(MapType::Cpumap, 4, 4, cpus + 1), &values);
    ops_agree(
        &MapSpec::new(MapType::Cpumap, 4, 8, cpus),
        &[words(&[32, 0])],
    );
}

#[test]
fn fd_slot_maps_agree_with_kernel_without_fds() {
    require_bpf!();
    // Slots hold perf events and sockets: without one, every host update
    // fails and every slot is empty, identically.
    for t in [
        MapType::PerfEventArray,
        MapType::Xskmap,
        MapType::CgroupArray,
        MapType::StackTrace,
    ] {
        let value = if t == MapType::StackTrace { 32 } else { 4 };
        let spec = MapSpec::new(t, 4, value, 3);
        let k = KernelMap::create(&kernel_spec(&spec)).unwrap();
        let ours = Map::create(&spec).unwrap();
        for key in 0..5u32 {
            let kb = key.to_ne_bytes();
            assert_eq!(
                or(ours.lookup(&kb)),
                kr(k.lookup(&kb)),
                "{t:?} lookup {key}"
            );
            assert_eq!(
                or(ours.delete(&kb)),
                kr(k.delete(&kb)),
                "{t:?} delete {key}"
            );
            assert_eq!(
                or(ours.next_key(Some(&kb))),
                kr(k.next_key(Some(&kb))),
                "{t:?} next_key {key}"
            );
            if t == MapType::StackTrace {
                let v = vec![1u8; 32];
                assert_eq!(
                    or(ours.update(&kb, &v, BPF_ANY)),
                    kr(k.update(&kb, &v, BPF_ANY)),
                    "{t:?} update {key}"
                );
            }
        }
    }
}
