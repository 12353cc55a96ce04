//! Maps whose values are handles (`prog_array`, `array_of_maps`,
//! `hash_of_maps`) and ring buffer creation, against the kernel: creation
//! checks, the inner-map template rules, flags, deletes and iteration.

use std::os::fd::AsRawFd;
use std::sync::Arc;

use ebee_kernel::KernelMap;
use ebee_runtime::map::{
    Map, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_F_INNER_MAP, BPF_F_NUMA_NODE, BPF_F_RDONLY_PROG,
    BPF_NOEXIST,
};
use ebee_runtime::Vm;

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

fn kernel(spec: &MapSpec) -> Result<KernelMap, i32> {
    let mut k = ebee_kernel::MapSpec::new(
        spec.map_type,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
    );
    k.flags = spec.flags;
    if let Some(inner) = &spec.inner {
        let inner = kernel(inner).expect("inner template");
        k.inner_map_fd = Some(inner.as_raw_fd());
        // The template is only read during the create.
        return KernelMap::create(&k).map_err(|e| e.errno().unwrap());
    }
    KernelMap::create(&k).map_err(|e| e.errno().unwrap())
}

fn ours(spec: &MapSpec) -> Result<Map, i32> {
    Map::create(spec).map_err(|e| e.errno().unwrap())
}

fn with_inner(mut s: MapSpec, inner: MapSpec) -> MapSpec {
    s.inner = Some(Box::new(inner));
    s
}

#[test]
fn creation_checks_agree_with_kernel() {
    require_bpf!();
    use MapType::*;
    let inner = MapSpec::new(Array, 4, 8, 4);
    let specs = vec![
        MapSpec::new(Ringbuf, 0, 0, 4096),
        MapSpec::new(Ringbuf, 0, 0, 8192),
        MapSpec::new(Ringbuf, 0, 0, 12288),
        MapSpec::new(Ringbuf, 0, 0, 2048),
        MapSpec::new(Ringbuf, 4, 0, 4096),
        MapSpec::new(Ringbuf, 0, 4, 4096),
        MapSpec::new(Ringbuf, 0, 0, 0),
        MapSpec::new(Ringbuf, 0, 0, 4096).with_flags(BPF_F_RDONLY_PROG),
        MapSpec::new(Ringbuf, 0, 0, 4096).with_flags(BPF_F_NUMA_NODE),
        MapSpec::new(ProgArray, 4, 4, 8),
        MapSpec::new(ProgArray, 4, 8, 8),
        MapSpec::new(ProgArray, 8, 4, 8),
        MapSpec::new(ProgArray, 4, 4, 0),
        MapSpec::new(ProgArray, 4, 4, 8).with_flags(BPF_F_RDONLY_PROG),
        MapSpec::new(ProgArray, 4, 4, 8).with_flags(BPF_F_INNER_MAP),
        with_inner(MapSpec::new(ArrayOfMaps, 4, 4, 8), inner.clone()),
        with_inner(MapSpec::new(ArrayOfMaps, 4, 8, 8), inner.clone()),
        with_inner(MapSpec::new(ArrayOfMaps, 4, 4, 0), inner.clone()),
        with_inner(
            MapSpec::new(ArrayOfMaps, 4, 4, 8).with_flags(BPF_F_RDONLY_PROG),
            inner.clone(),
        ),
        with_inner(MapSpec::new(HashOfMaps, 4, 4, 8), inner.clone()),
        with_inner(MapSpec::new(HashOfMaps, 16, 4, 8), inner.clone()),
        with_inner(MapSpec::new(HashOfMaps, 4, 8, 8), inner.clone()),
        with_inner(MapSpec::new(HashOfMaps, 0, 4, 8), inner.clone()),
        with_inner(
            MapSpec::new(HashOfMaps, 4, 4, 8),
            MapSpec::new(ProgArray, 4, 4, 2),
        ),
        with_inner(
            MapSpec::new(ArrayOfMaps, 4, 4, 8),
            MapSpec::new(Hash, 4, 8, 4),
        ),
        with_inner(
            MapSpec::new(ArrayOfMaps, 4, 4, 8),
            MapSpec::new(LpmTrie, 8, 8, 4).with_flags(1),
        ),
        with_inner(
            MapSpec::new(HashOfMaps, 4, 4, 8),
            MapSpec::new(Queue, 0, 8, 4),
        ),
        with_inner(
            MapSpec::new(HashOfMaps, 4, 4, 8),
            MapSpec::new(Ringbuf, 0, 0, 4096),
        ),
        with_inner(
            MapSpec::new(HashOfMaps, 4, 4, 8),
            with_inner(MapSpec::new(ArrayOfMaps, 4, 4, 2), inner.clone()),
        ),
    ];
    let mut disagree = vec![];
    for s in &specs {
        let k = kernel(s).map(|_| ());
        let o = ours(s).map(|_| ());
        if k != o {
            disagree.push(format!("{s:?}: kernel {k:?}, ours {o:?}"));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    println!("creation: {} specs agree", specs.len());
}

fn kr<T>(r: Result<T, ebee_kernel::MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno().unwrap())
}

fn or<T>(r: Result<T, ebee_runtime::map::MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno().unwrap())
}

/// Storing inner maps: the template's rules, the flags, deletes and
/// next_key give the kernel's answers.
#[test]
fn inner_maps_agree_with_kernel() {
    require_bpf!();
    let mut compared = 0;
    for (template, outer_type, key_size) in [
        (
            MapSpec::new(MapType::Array, 4, 8, 4),
            MapType::ArrayOfMaps,
            4,
        ),
        (
            MapSpec::new(MapType::Array, 4, 8, 4),
            MapType::HashOfMaps,
            4,
        ),
        (MapSpec::new(MapType::Hash, 4, 8, 4), MapType::HashOfMaps, 4),
        (
            MapSpec::new(MapType::Array, 4, 8, 4).with_flags(BPF_F_INNER_MAP),
            MapType::ArrayOfMaps,
            4,
        ),
    ] {
        let spec = with_inner(MapSpec::new(outer_type, key_size, 4, 3), template.clone());
        let kouter = kernel(&spec).unwrap();
        let oouter = ours(&spec).unwrap();
        let candidates = [
            template.clone(),
            MapSpec {
                max_entries: 9,
                ..template.clone()
            },
            MapSpec {
                value_size: 16,
                ..template.clone()
            },
            MapSpec::new(MapType::Hash, 4, 8, 4),
            MapSpec::new(MapType::Array, 4, 8, 4),
        ];
        let mut keep = vec![];
        for step in 0..40u32 {
            let c = &candidates[(step * 7 % 5) as usize];
            let key = (step % 5).to_ne_bytes();
            let flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST][(step % 3) as usize];
            let km = kernel(c).unwrap();
            let om = Arc::new(ours(c).unwrap());
            let fd = (km.as_raw_fd() as u32).to_ne_bytes();
            let ctx = format!("{outer_type:?} step {step} {c:?} flags {flags}");
            assert_eq!(
                kr(kouter.update(&key, &fd, flags)),
                or(oouter.set_inner_map(&key, om.clone(), flags)),
                "{ctx}"
            );
            keep.push(km);
            if step % 4 == 3 {
                assert_eq!(
                    kr(kouter.delete(&key)),
                    or(oouter.delete(&key)),
                    "{ctx} delete"
                );
            }
            // Arrays iterate by index, exactly; hash order is the
            // implementation's, so only "a key not in the map gives the
            // first key" is compared.
            let (kn, on) = (
                kr(kouter.next_key(Some(&key))),
                or(oouter.next_key(Some(&key))),
            );
            if outer_type == MapType::ArrayOfMaps {
                assert_eq!(kn, on, "{ctx} next_key");
            } else if oouter.inner_map(&key).is_none() {
                assert_eq!(
                    kn.map(|k| k.is_some()),
                    on.map(|k| k.is_some()),
                    "{ctx} next_key"
                );
            }
            compared += 3;
        }
        let mut kk: Vec<Vec<u8>> = kouter.keys().map(Result::unwrap).collect();
        let mut ok: Vec<Vec<u8>> = oouter.keys().collect();
        kk.sort();
        ok.sort();
        assert_eq!(kk, ok);
    }
    println!("inner maps: {compared} results agree");
}

#[test]
fn prog_array_holds_programs() {
    require_bpf!();
    let spec = MapSpec::new(MapType::ProgArray, 4, 4, 4);
    let k = kernel(&spec).unwrap();
    let m = ours(&spec).unwrap();
    for i in [0u32, 3, 4, 9] {
        let key = i.to_ne_bytes();
        assert_eq!(kr(k.delete(&key)), or(m.delete(&key)), "delete {i}");
        assert_eq!(
            kr(k.next_key(Some(&key))),
            or(m.next_key(Some(&key))),
            "next {i}"
        );
    }
    // r0 = 7; exit
    let vm =
        Arc::new(Vm::from_bytes(&[0xb7, 0, 0, 0, 7, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]).unwrap());
    m.set_program(2, vm.clone(), BPF_ANY).unwrap();
    assert_eq!(
        m.set_program(2, vm.clone(), BPF_NOEXIST)
            .unwrap_err()
            .errno(),
        Some(22)
    );
    assert_eq!(m.set_program(4, vm, BPF_ANY).unwrap_err().errno(), Some(7));
    assert_eq!(m.program(2).unwrap().run(&mut []).unwrap(), 7);
    assert!(m.program(1).is_none());
    m.delete(&2u32.to_ne_bytes()).unwrap();
    assert!(m.program(2).is_none());
}
