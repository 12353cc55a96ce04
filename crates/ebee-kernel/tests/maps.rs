//! Map semantics per type, against the running kernel: what each map type
//! does with lookups, updates, deletes, key iteration and the update flags.
//!
//! Each test first asks [`ebee_kernel::probe`] and prints
//! `skipped: <reason>` when this kernel has no usable bpf(2).

use ebee_kernel::{
    lpm_key, possible_cpus, KernelMap, MapError, MapSpec, MapType, BPF_ANY, BPF_EXIST,
    BPF_F_NO_PREALLOC, BPF_NOEXIST,
};

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

fn create(map_type: MapType, key: u32, value: u32, max: u32) -> KernelMap {
    let mut spec = MapSpec::new(map_type, key, value, max);
    spec.name = "test_map".into();
    KernelMap::create(&spec).unwrap_or_else(|e| panic!("{e}"))
}

fn k(n: u32) -> [u8; 4] {
    n.to_ne_bytes()
}

fn v(n: u64) -> [u8; 8] {
    n.to_ne_bytes()
}

fn errno(r: Result<impl std::fmt::Debug, MapError>) -> i32 {
    r.expect_err("the kernel should refuse")
        .errno()
        .expect("a kernel error")
}

#[test]
fn array_elements_always_exist() {
    require_bpf!();
    let m = create(MapType::Array, 4, 8, 4);
    // Every index exists from the start, zeroed.
    assert_eq!(m.lookup(&k(3)).unwrap(), Some(v(0).to_vec()));
    assert_eq!(m.lookup(&k(4)).unwrap(), None);
    m.update(&k(1), &v(42), BPF_ANY).unwrap();
    assert_eq!(m.lookup(&k(1)).unwrap(), Some(v(42).to_vec()));
    m.update(&k(1), &v(43), BPF_EXIST).unwrap();
    // Elements of an array always exist: NOEXIST is refused, delete too.
    assert_eq!(errno(m.update(&k(1), &v(1), BPF_NOEXIST)), libc::EEXIST);
    assert_eq!(errno(m.update(&k(9), &v(1), BPF_ANY)), libc::E2BIG);
    assert_eq!(errno(m.delete(&k(1))), libc::EINVAL);
    let keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
    assert_eq!(keys, (0..4).map(|i| k(i).to_vec()).collect::<Vec<_>>());
    // Sizes are checked before the call.
    assert!(matches!(m.lookup(&[0u8; 2]), Err(MapError::Size { .. })));
    assert!(matches!(
        m.update(&k(0), &[0u8; 4], BPF_ANY),
        Err(MapError::Size { .. })
    ));
}

#[test]
fn hash_flags_and_iteration() {
    require_bpf!();
    let m = create(MapType::Hash, 4, 8, 2);
    assert_eq!(m.lookup(&k(7)).unwrap(), None);
    assert_eq!(errno(m.update(&k(7), &v(1), BPF_EXIST)), libc::ENOENT);
    m.update(&k(7), &v(1), BPF_NOEXIST).unwrap();
    assert_eq!(errno(m.update(&k(7), &v(2), BPF_NOEXIST)), libc::EEXIST);
    m.update(&k(7), &v(2), BPF_EXIST).unwrap();
    m.update(&k(8), &v(3), BPF_ANY).unwrap();
    // Full: a third key is refused with E2BIG.
    assert_eq!(errno(m.update(&k(9), &v(4), BPF_ANY)), libc::E2BIG);
    let mut keys: Vec<Vec<u8>> = m.keys().map(Result::unwrap).collect();
    keys.sort();
    let mut want = vec![k(7).to_vec(), k(8).to_vec()];
    want.sort();
    assert_eq!(keys, want);
    m.delete(&k(7)).unwrap();
    assert_eq!(errno(m.delete(&k(7))), libc::ENOENT);
    assert_eq!(m.lookup(&k(8)).unwrap(), Some(v(3).to_vec()));
    assert_eq!(m.next_key(Some(&k(8))).unwrap(), None);
    let e = m.delete(&k(7)).unwrap_err().to_string();
    assert!(e.contains("ENOENT") && e.contains("test_map"), "{e}");
}

#[test]
fn percpu_array_has_one_value_per_cpu() {
    require_bpf!();
    let cpus = possible_cpus().unwrap();
    // A 4-byte value is padded to 8 per CPU.
    let m = create(MapType::PercpuArray, 4, 4, 2);
    assert_eq!(m.value_buf_size(), 8 * cpus);
    let values: Vec<Vec<u8>> = (0..cpus as u32)
        .map(|c| (c * 10 + 1).to_ne_bytes().to_vec())
        .collect();
    m.update_percpu(&k(1), &values, BPF_ANY).unwrap();
    assert_eq!(m.lookup_percpu(&k(1)).unwrap(), Some(values));
    let zeros = vec![vec![0u8; 4]; cpus];
    assert_eq!(m.lookup_percpu(&k(0)).unwrap(), Some(zeros));
    assert!(matches!(
        m.update_percpu(&k(1), &vec![vec![0u8; 4]; 1000], BPF_ANY),
        Err(MapError::Size { .. })
    ));
}

#[test]
fn lru_hash_evicts_instead_of_failing() {
    require_bpf!();
    let m = create(MapType::LruHash, 4, 8, 64);
    // Far more inserts than entries: an LRU map never says E2BIG.
    for i in 0..1000 {
        m.update(&k(i), &v(u64::from(i)), BPF_ANY).unwrap();
    }
    assert_eq!(m.lookup(&k(999)).unwrap(), Some(v(999).to_vec()));
    let n = m.keys().count();
    assert!(n > 0 && n <= 1000, "{n} keys");
    assert!(
        m.lookup(&k(0)).unwrap().is_none(),
        "the oldest key was evicted"
    );
}

#[test]
fn queue_is_fifo_and_stack_is_lifo() {
    require_bpf!();
    let q = create(MapType::Queue, 0, 4, 3);
    let s = create(MapType::Stack, 0, 4, 3);
    for m in [&q, &s] {
        assert_eq!(m.pop().unwrap(), None);
        for i in 1..=3 {
            m.push(&k(i), BPF_ANY).unwrap();
        }
        assert_eq!(errno(m.push(&k(4), BPF_ANY)), libc::E2BIG);
    }
    assert_eq!(q.peek().unwrap(), Some(k(1).to_vec()));
    // A plain lookup with the empty key is a peek.
    assert_eq!(q.lookup(&[]).unwrap(), Some(k(1).to_vec()));
    assert_eq!(s.peek().unwrap(), Some(k(3).to_vec()));
    // BPF_EXIST on a full queue drops the oldest element.
    q.push(&k(4), BPF_EXIST).unwrap();
    let popped: Vec<Vec<u8>> = std::iter::from_fn(|| q.pop().unwrap()).collect();
    assert_eq!(popped, [2, 3, 4].map(|i| k(i).to_vec()));
    let popped: Vec<Vec<u8>> = std::iter::from_fn(|| s.pop().unwrap()).collect();
    assert_eq!(popped, [3, 2, 1].map(|i| k(i).to_vec()));
    // Keyed operations do not apply; push does not apply to a hash.
    let h = create(MapType::Hash, 4, 4, 1);
    assert_eq!(errno(h.push(&k(1), BPF_ANY)), libc::EINVAL);
}

#[test]
fn lpm_trie_matches_longest_prefix() {
    require_bpf!();
    let mut spec = MapSpec::new(MapType::LpmTrie, 8, 4, 16);
    spec.flags = BPF_F_NO_PREALLOC;
    spec.name = "routes".into();
    let m = KernelMap::create(&spec).unwrap_or_else(|e| panic!("{e}"));
    m.update(&lpm_key(8, &[10, 0, 0, 0]), &k(1), BPF_ANY)
        .unwrap();
    m.update(&lpm_key(24, &[10, 1, 2, 0]), &k(2), BPF_ANY)
        .unwrap();
    m.update(&lpm_key(0, &[0, 0, 0, 0]), &k(3), BPF_ANY)
        .unwrap();
    let route = |addr: [u8; 4]| m.lookup(&lpm_key(32, &addr)).unwrap();
    assert_eq!(route([10, 1, 2, 3]), Some(k(2).to_vec()));
    assert_eq!(route([10, 9, 9, 9]), Some(k(1).to_vec()));
    assert_eq!(route([192, 168, 0, 1]), Some(k(3).to_vec()));
    // A prefix longer than the data is refused.
    assert_eq!(
        errno(m.update(&lpm_key(33, &[1, 2, 3, 4]), &k(0), BPF_ANY)),
        libc::EINVAL
    );
    // Without BPF_F_NO_PREALLOC the kernel refuses the trie.
    let e = KernelMap::create(&MapSpec::new(MapType::LpmTrie, 8, 4, 16)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
}

#[test]
fn bloom_filter_has_no_false_negatives() {
    require_bpf!();
    let mut spec = MapSpec::new(MapType::BloomFilter, 0, 8, 100);
    spec.map_extra = 3; // hash functions
    let m = KernelMap::create(&spec).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..20 {
        m.push(&v(i * 7919), BPF_ANY).unwrap();
    }
    for i in 0..20 {
        assert!(m.contains(&v(i * 7919)).unwrap());
    }
    let false_positives = (1000..1100)
        .filter(|&i| m.contains(&v(i * 7919 + 1)).unwrap())
        .count();
    assert!(
        false_positives < 50,
        "{false_positives} false positives of 100"
    );
}

#[test]
fn ringbuf_and_creation_errors() {
    require_bpf!();
    // A ring buffer's size is a power-of-two number of pages.
    let rb = KernelMap::create(&MapSpec::new(MapType::Ringbuf, 0, 0, 4096 * 4));
    assert!(rb.is_ok(), "{rb:?}");
    let e = KernelMap::create(&MapSpec::new(MapType::Ringbuf, 0, 0, 4096 * 3)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL));
    let e = KernelMap::create(&MapSpec::new(MapType::Hash, 0, 8, 1)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    let e = KernelMap::create(&MapSpec::new(MapType::Other(9999), 4, 4, 1)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert!(e.to_string().contains("BPF_MAP_CREATE"), "{e}");
}

#[test]
fn frozen_maps_refuse_user_writes() {
    require_bpf!();
    let m = create(MapType::Array, 4, 8, 1);
    m.update(&k(0), &v(5), BPF_ANY).unwrap();
    m.freeze().unwrap();
    assert_eq!(errno(m.update(&k(0), &v(6), BPF_ANY)), libc::EPERM);
    assert_eq!(m.lookup(&k(0)).unwrap(), Some(v(5).to_vec()));
}

#[test]
fn map_in_map_takes_inner_map_fds() {
    require_bpf!();
    use std::os::fd::AsRawFd;
    let inner = create(MapType::Array, 4, 8, 1);
    let mut spec = MapSpec::new(MapType::ArrayOfMaps, 4, 4, 2);
    spec.inner_map_fd = Some(inner.as_raw_fd());
    let outer = KernelMap::create(&spec).unwrap_or_else(|e| panic!("{e}"));
    outer
        .update(&k(0), &(inner.as_raw_fd() as u32).to_ne_bytes(), BPF_ANY)
        .unwrap();
    // User space reads back the inner map's id, not its fd.
    assert!(outer.lookup(&k(0)).unwrap().is_some());
    // A map of another shape does not fit.
    let other = create(MapType::Hash, 4, 8, 1);
    assert_eq!(
        errno(outer.update(&k(1), &(other.as_raw_fd() as u32).to_ne_bytes(), BPF_ANY)),
        libc::EINVAL
    );
}
