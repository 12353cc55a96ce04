//! Runtime maps against the kernel's: the same seeded random operations on
//! a `KernelMap` and on an `ebee_runtime::map::Map`, every result (value or
//! error number) compared, then the final contents.
//!
//! Each test prints `skipped: <reason>` when this kernel has no usable bpf(2).

use ebee_kernel::{possible_cpus, KernelMap};
use ebee_runtime::map::{
    Map, MapSpec, MapType, BPF_ANY, BPF_EXIST, BPF_F_NO_COMMON_LRU, BPF_F_NO_PREALLOC,
    BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_RDONLY_PROG, BPF_F_WRONLY, BPF_F_WRONLY_PROG,
    BPF_F_ZERO_SEED, BPF_NOEXIST,
};

macro_rules! require_bpf {
    () => {
        if let Err(reason) = ebee_kernel::probe() {
            println!("skipped: {reason}");
            return;
        }
    };
}

/// xorshift64*: the tests' reproducible randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn kernel_spec(s: &MapSpec) -> ebee_kernel::MapSpec {
    let mut k = ebee_kernel::MapSpec::new(s.map_type, s.key_size, s.value_size, s.max_entries);
    k.flags = s.flags;
    k.map_extra = s.map_extra;
    k.numa_node = s.numa_node;
    k.name = "ebee_diff".into();
    k
}

fn pair(spec: &MapSpec) -> (KernelMap, Map) {
    let k = KernelMap::create(&kernel_spec(spec)).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    let ours = Map::create_with_cpus(spec, possible_cpus().unwrap())
        .unwrap_or_else(|e| panic!("{spec:?}: {e}"));
    assert_eq!(k.value_buf_size(), ours.value_buf_size());
    (k, ours)
}

/// A result reduced to what both sides can say: a value or an errno.
fn kr<T>(r: Result<T, ebee_kernel::MapError>) -> Result<T, i32> {
    r.map_err(|e| {
        e.errno()
            .unwrap_or_else(|| panic!("not a kernel error: {e}"))
    })
}

fn or<T>(r: Result<T, ebee_runtime::map::MapError>) -> Result<T, i32> {
    r.map_err(|e| e.errno().unwrap_or_else(|| panic!("not an errno: {e}")))
}

/// `BPF_MAP_LOOKUP_AND_DELETE_ELEM` on the kernel map (`ENOENT` → `None`).
fn kernel_lookup_and_delete(k: &KernelMap, key: &[u8]) -> Result<Option<Vec<u8>>, i32> {
    let mut value = vec![0u8; k.value_buf_size()];
    match ebee_kernel::sys::map_lookup(k.fd(), Some(key), &mut value, 0, true) {
        Ok(()) => Ok(Some(value)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e.raw_os_error().unwrap()),
    }
}

/// A random value of the map's host buffer size; per-CPU padding bytes are
/// random too (the kernel copies them through).
fn value(rng: &mut Rng, m: &Map) -> Vec<u8> {
    rng.bytes(m.value_buf_size())
}

/// Random keyed operations; returns how many results were compared.
/// `ordered`: next_key results are compared exactly (arrays); otherwise
/// only whether a next key exists when the start key is absent.
fn run_keyed(spec: &MapSpec, keys: &[Vec<u8>], ops: usize, seed: u64, ordered: bool) -> usize {
    let (k, m) = pair(spec);
    let mut rng = Rng(seed);
    let mut compared = 0;
    for step in 0..ops {
        let key = &keys[rng.below(keys.len() as u64) as usize];
        let what = rng.below(10);
        let ctx = format!(
            "{:?} seed {seed} step {step} op {what} key {key:?}",
            spec.map_type
        );
        match what {
            0..=3 => {
                let flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST, 3, 8][rng.below(5) as usize];
                let v = value(&mut rng, &m);
                assert_eq!(
                    kr(k.update(key, &v, flags)),
                    or(m.update(key, &v, flags)),
                    "{ctx}"
                );
            }
            4..=5 => assert_eq!(kr(k.lookup(key)), or(m.lookup(key)), "{ctx}"),
            6 => assert_eq!(kr(k.delete(key)), or(m.delete(key)), "{ctx}"),
            7 => assert_eq!(
                kernel_lookup_and_delete(&k, key),
                or(m.lookup_and_delete(key)),
                "{ctx}"
            ),
            _ => {
                let start = (rng.below(4) != 0).then_some(key.as_slice());
                let kn = kr(k.next_key(start));
                let on = or(m.next_key(start));
                if ordered {
                    assert_eq!(kn, on, "{ctx}");
                } else {
                    let present = start.is_some_and(|s| m.lookup(s).ok().flatten().is_some());
                    if !present {
                        assert_eq!(
                            kn.as_ref().map(Option::is_some),
                            on.as_ref().map(Option::is_some),
                            "{ctx}"
                        );
                    }
                    for n in [kn, on].into_iter().flatten().flatten() {
                        assert!(m.lookup(&n).unwrap().is_some(), "{ctx}: next key {n:?}");
                    }
                }
            }
        }
        compared += 1;
    }
    // Final contents: the same keys, the same values.
    let mut kk: Vec<Vec<u8>> = k.keys().map(Result::unwrap).collect();
    let mut ok: Vec<Vec<u8>> = m.keys().collect();
    kk.sort();
    ok.sort();
    assert_eq!(kk, ok, "{:?} seed {seed}: final keys", spec.map_type);
    for key in &kk {
        assert_eq!(k.lookup(key).unwrap(), m.lookup(key).unwrap());
        compared += 1;
    }
    compared
}

fn u32_keys(n: u32) -> Vec<Vec<u8>> {
    (0..n).map(|i| i.to_ne_bytes().to_vec()).collect()
}

#[test]
fn array_agrees_with_kernel() {
    require_bpf!();
    let mut total = 0;
    for (seed, value_size) in [(1, 8), (2, 12), (3, 1)] {
        let spec = MapSpec::new(MapType::Array, 4, value_size, 6);
        total += run_keyed(&spec, &u32_keys(9), 300, seed, true);
    }
    println!("array: {total} results agree");
}

#[test]
fn percpu_array_agrees_with_kernel() {
    require_bpf!();
    let spec = MapSpec::new(MapType::PercpuArray, 4, 12, 5);
    let total = run_keyed(&spec, &u32_keys(7), 300, 4, true);
    println!("percpu_array: {total} results agree");
}

#[test]
fn hash_agrees_with_kernel() {
    require_bpf!();
    let mut total = 0;
    for (seed, key_size, value_size, max) in [(5, 4, 8, 6), (6, 3, 20, 4), (7, 16, 1, 10)] {
        let spec = MapSpec::new(MapType::Hash, key_size, value_size, max);
        let keys: Vec<Vec<u8>> = (0..max as u8 + 4)
            .map(|i| {
                let mut k = vec![0u8; key_size as usize];
                k[0] = i;
                k[key_size as usize - 1] ^= i.wrapping_mul(7);
                k
            })
            .collect();
        total += run_keyed(&spec, &keys, 400, seed, false);
    }
    let spec = MapSpec::new(MapType::Hash, 4, 8, 5).with_flags(BPF_F_NO_PREALLOC);
    total += run_keyed(&spec, &u32_keys(8), 300, 8, false);
    println!("hash: {total} results agree");
}

#[test]
fn percpu_hash_agrees_with_kernel() {
    require_bpf!();
    let spec = MapSpec::new(MapType::PercpuHash, 4, 12, 5);
    let total = run_keyed(&spec, &u32_keys(8), 400, 9, false);
    println!("percpu_hash: {total} results agree");
}

#[test]
fn queue_and_stack_agree_with_kernel() {
    require_bpf!();
    let mut total = 0;
    for (seed, t) in [(10, MapType::Queue), (11, MapType::Stack)] {
        let spec = MapSpec::new(t, 0, 8, 4);
        let (k, m) = pair(&spec);
        let mut rng = Rng(seed);
        for step in 0..400 {
            let ctx = format!("{t:?} step {step}");
            match rng.below(6) {
                0..=2 => {
                    let flags = [BPF_ANY, BPF_EXIST, BPF_NOEXIST, 5][rng.below(4) as usize];
                    let v = rng.bytes(8);
                    assert_eq!(kr(k.push(&v, flags)), or(m.push(&v, flags)), "{ctx}");
                }
                3 => assert_eq!(kr(k.pop()), or(m.pop()), "{ctx}"),
                4 => assert_eq!(kr(k.peek()), or(m.peek()), "{ctx}"),
                _ => {
                    assert_eq!(kr(k.delete(&[])), or(m.delete(&[])), "{ctx}");
                    assert_eq!(kr(k.next_key(None)), or(m.next_key(None)), "{ctx}");
                    total += 1;
                }
            }
            total += 1;
        }
        loop {
            let (a, b) = (kr(k.pop()), or(m.pop()));
            assert_eq!(a, b);
            total += 1;
            if a == Ok(None) {
                break;
            }
        }
    }
    println!("queue/stack: {total} results agree");
}

/// Creation checks: the kernel accepts or refuses each spec with the same errno.
#[test]
fn creation_checks_agree_with_kernel() {
    require_bpf!();
    use MapType::*;
    let mut specs = vec![];
    for t in [
        Array,
        PercpuArray,
        Hash,
        PercpuHash,
        LruHash,
        LruPercpuHash,
        Queue,
        Stack,
    ] {
        for (key, value, max) in [
            (4, 8, 4),
            (0, 8, 4),
            (4, 0, 4),
            (4, 8, 0),
            (8, 8, 4),
            (1, 1, 1),
            (513, 8, 4),
            (4, 40000, 4),
            (4, 5 << 20, 4),
        ] {
            specs.push(MapSpec::new(t, key, value, max));
        }
        for flags in [
            BPF_F_NO_PREALLOC,
            BPF_F_NO_COMMON_LRU,
            BPF_F_NUMA_NODE,
            BPF_F_RDONLY,
            BPF_F_WRONLY,
            BPF_F_RDONLY | BPF_F_WRONLY,
            BPF_F_RDONLY_PROG,
            BPF_F_WRONLY_PROG,
            BPF_F_RDONLY_PROG | BPF_F_WRONLY_PROG,
            BPF_F_ZERO_SEED,
            1 << 10,
            1 << 12,
            1 << 11,
            1 << 20,
        ] {
            let key = match t {
                Queue | Stack | BloomFilter => 0,
                LpmTrie => 8,
                _ => 4,
            };
            specs.push(MapSpec::new(t, key, 8, 4).with_flags(flags));
        }
        let key = match t {
            Queue | Stack | BloomFilter => 0,
            LpmTrie => 8,
            _ => 4,
        };
        let mut numa = MapSpec::new(t, key, 8, 4).with_flags(BPF_F_NUMA_NODE);
        numa.numa_node = 5;
        specs.push(numa);
    }
    let mut agree = 0;
    let mut disagree = vec![];
    for spec in &specs {
        let k = KernelMap::create(&kernel_spec(spec))
            .map(|_| ())
            .map_err(|e| e.errno().unwrap());
        let o = Map::create_with_cpus(spec, 2)
            .map(|_| ())
            .map_err(|e| e.errno().unwrap());
        if k == o {
            agree += 1;
        } else {
            disagree.push(format!(
                "{:?} key {} value {} max {} flags {:#x}: kernel {k:?}, ours {o:?}",
                spec.map_type, spec.key_size, spec.value_size, spec.max_entries, spec.flags
            ));
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    println!("creation: {agree} specs agree");
}

/// While an LRU map is not full it is a hash map: the same results.
#[test]
fn lru_below_capacity_agrees_with_kernel() {
    require_bpf!();
    let mut total = 0;
    for (seed, t) in [(12, MapType::LruHash), (13, MapType::LruPercpuHash)] {
        let spec = MapSpec::new(t, 4, 8, 64);
        total += run_keyed(&spec, &u32_keys(10), 300, seed, false);
    }
    println!("lru below capacity: {total} results agree");
}

/// What the kernel guarantees of LRU eviction: inserts never fail for
/// lack of room, at most `max_entries` elements, a key rewritten before
/// every insert survives.
#[test]
fn lru_eviction_keeps_what_the_kernel_keeps() {
    require_bpf!();
    for t in [MapType::LruHash, MapType::LruPercpuHash] {
        let spec = MapSpec::new(t, 4, 8, 64);
        let (k, m) = pair(&spec);
        let hot = 1_000_000u32.to_ne_bytes();
        let hot_value = vec![7u8; m.value_buf_size()];
        for i in 0..600u32 {
            let v = vec![i as u8; m.value_buf_size()];
            k.update(&hot, &hot_value, BPF_ANY).unwrap();
            m.update(&hot, &hot_value, BPF_ANY).unwrap();
            k.update(&i.to_ne_bytes(), &v, BPF_ANY).unwrap();
            m.update(&i.to_ne_bytes(), &v, BPF_NOEXIST).unwrap();
        }
        let kn = k.keys().count();
        let on = m.keys().count();
        assert!(kn <= 64 && on <= 64, "{t:?}: kernel {kn} keys, ours {on}");
        assert_eq!(on, 64, "ours keeps the map full");
        assert_eq!(
            k.lookup(&hot).unwrap(),
            Some(hot_value.clone()),
            "{t:?} kernel"
        );
        assert_eq!(m.lookup(&hot).unwrap(), Some(hot_value), "{t:?} ours");
        // The newest key survives in both.
        let last = 599u32.to_ne_bytes();
        assert!(k.lookup(&last).unwrap().is_some());
        assert!(m.lookup(&last).unwrap().is_some());
        // Ours is exact LRU: the 62 newest keys besides the hot one.
        for i in 537..600u32 {
            assert!(m.lookup(&i.to_ne_bytes()).unwrap().is_some(), "{i}");
        }
    }
}

/// An `lpm_trie` key: prefix length, then the address.
fn lpm_key(prefix_len: u32, data: &[u8]) -> Vec<u8> {
    let mut k = prefix_len.to_ne_bytes().to_vec();
    k.extend_from_slice(data);
    k
}

/// Longest prefix matches, exact updates and deletes, and the kernel's
/// post-order iteration, compared result for result.
#[test]
fn lpm_trie_agrees_with_kernel() {
    require_bpf!();
    let mut total = 0;
    for (seed, data_size, max) in [(20u64, 4usize, 16u32), (21, 2, 8), (22, 16, 32)] {
        let spec = MapSpec::new(MapType::LpmTrie, 4 + data_size as u32, 8, max)
            .with_flags(BPF_F_NO_PREALLOC);
        let (k, m) = pair(&spec);
        let mut rng = Rng(seed);
        let bases: Vec<Vec<u8>> = (0..4).map(|_| rng.bytes(data_size)).collect();
        let bits = data_size as u64 * 8;
        let random_key = |rng: &mut Rng| {
            let mut data = bases[rng.below(4) as usize].clone();
            // Flip a few bits, mostly low ones, so prefixes nest.
            for _ in 0..rng.below(3) {
                let bit = bits - 1 - rng.below(bits).min(rng.below(bits));
                data[(bit / 8) as usize] ^= 0x80 >> (bit % 8);
            }
            let len = match rng.below(4) {
                0 => bits as u32,
                1 => bits as u32 + 1,
                _ => rng.below(bits + 1) as u32,
            };
            lpm_key(len, &data)
        };
        for step in 0..500 {
            let key = random_key(&mut rng);
            let what = rng.below(10);
            let ctx = format!("lpm seed {seed} step {step} op {what} key {key:?}");
            match what {
                0..=3 => {
                    let flags = [BPF_ANY, BPF_NOEXIST, BPF_EXIST, 3][rng.below(4) as usize];
                    let v = rng.bytes(8);
                    assert_eq!(
                        kr(k.update(&key, &v, flags)),
                        or(m.update(&key, &v, flags)),
                        "{ctx}"
                    );
                }
                4..=6 => assert_eq!(kr(k.lookup(&key)), or(m.lookup(&key)), "{ctx}"),
                7 => assert_eq!(kr(k.delete(&key)), or(m.delete(&key)), "{ctx}"),
                _ => {
                    let start = (rng.below(3) != 0).then_some(key.as_slice());
                    assert_eq!(kr(k.next_key(start)), or(m.next_key(start)), "{ctx}");
                }
            }
            total += 1;
        }
        let kk: Vec<Vec<u8>> = k.keys().map(Result::unwrap).collect();
        let ok: Vec<Vec<u8>> = m.keys().collect();
        assert_eq!(kk, ok, "lpm seed {seed}: iteration order");
        for key in &kk {
            assert_eq!(k.lookup(key).unwrap(), m.lookup(key).unwrap());
            total += 1;
        }
    }
    println!("lpm_trie: {total} results agree");
}

/// Bloom filters: no false negative on either side, few false positives,
/// the same errors for what a bloom filter does not do.
#[test]
fn bloom_filter_agrees_with_kernel() {
    require_bpf!();
    let mut spec = MapSpec::new(MapType::BloomFilter, 0, 8, 100);
    spec.map_extra = 3;
    let (k, m) = pair(&spec);
    let mut rng = Rng(30);
    let added: Vec<Vec<u8>> = (0..100).map(|_| rng.bytes(8)).collect();
    for v in &added {
        assert_eq!(kr(k.push(v, BPF_ANY)), or(m.push(v, BPF_ANY)));
    }
    for v in &added {
        assert!(k.contains(v).unwrap());
        assert!(m.contains(v).unwrap());
    }
    let (mut kfp, mut ofp) = (0, 0);
    for _ in 0..2000 {
        let v = rng.bytes(8);
        kfp += usize::from(k.contains(&v).unwrap());
        ofp += usize::from(m.contains(&v).unwrap());
    }
    println!("bloom false positives in 2000: kernel {kfp}, ours {ofp}");
    // 100 values, 3 hashes, 512 bits: about 8.7% expected on both sides.
    assert!(ofp < 300 && kfp < 300);
    let v = rng.bytes(8);
    for flags in [BPF_NOEXIST, BPF_EXIST] {
        assert_eq!(kr(k.push(&v, flags)), or(m.push(&v, flags)));
    }
    // (KernelMap::delete passes a non-null empty key, which bpf(2) refuses
    // with EINVAL before the map sees it; with no key the bloom filter's
    // delete says EOPNOTSUPP.)
    assert_eq!(or(m.delete(&[])), Err(95));
    assert_eq!(kr(k.next_key(None)), or(m.next_key(None)));
    assert_eq!(kr(k.pop()), or(m.pop()));
    let mut bad = 0;
    for (extra, flags) in [
        (16, 0),
        (0, BPF_F_ZERO_SEED),
        (15, 0),
        (0, BPF_F_NO_PREALLOC),
    ] {
        let mut s = MapSpec::new(MapType::BloomFilter, 0, 4, 10).with_flags(flags);
        s.map_extra = extra;
        let ke = KernelMap::create(&kernel_spec(&s))
            .map(|_| ())
            .map_err(|e| e.errno().unwrap());
        let oe = Map::create(&s).map(|_| ()).map_err(|e| e.errno().unwrap());
        assert_eq!(ke, oe, "{s:?}");
        bad += 1;
    }
    assert_eq!(bad, 4);
}

/// Freezing and the user-space access flags: the kernel's EPERM/EBUSY.
#[test]
fn freeze_and_access_flags_agree_with_kernel() {
    require_bpf!();
    let mut compared = 0;
    for t in [MapType::Array, MapType::Hash, MapType::Queue] {
        let key: &[u8] = if t == MapType::Queue {
            &[]
        } else {
            &[0, 0, 0, 0]
        };
        let ks = if t == MapType::Queue { 0 } else { 4 };
        for flags in [0, BPF_F_RDONLY, BPF_F_WRONLY] {
            let spec = MapSpec::new(t, ks, 8, 4).with_flags(flags);
            let (k, m) = pair(&spec);
            let ctx = format!("{t:?} flags {flags:#x}");
            let v = [1u8; 8];
            if t == MapType::Queue {
                assert_eq!(kr(k.push(&v, BPF_ANY)), or(m.push(&v, BPF_ANY)), "{ctx}");
                assert_eq!(kr(k.peek()), or(m.peek()), "{ctx}");
            } else {
                assert_eq!(
                    kr(k.update(key, &v, BPF_ANY)),
                    or(m.update(key, &v, BPF_ANY)),
                    "{ctx}"
                );
                assert_eq!(kr(k.lookup(key)), or(m.lookup(key)), "{ctx}");
            }
            assert_eq!(kr(k.freeze()), or(m.freeze()), "{ctx} freeze");
            assert_eq!(kr(k.freeze()), or(m.freeze()), "{ctx} freeze again");
            if t == MapType::Queue {
                assert_eq!(
                    kr(k.push(&v, BPF_ANY)),
                    or(m.push(&v, BPF_ANY)),
                    "{ctx} frozen"
                );
                assert_eq!(kr(k.pop()), or(m.pop()), "{ctx} frozen");
            } else {
                assert_eq!(
                    kr(k.update(key, &v, BPF_ANY)),
                    or(m.update(key, &v, BPF_ANY)),
                    "{ctx} frozen"
                );
                assert_eq!(kr(k.delete(key)), or(m.delete(key)), "{ctx} frozen");
                assert_eq!(kr(k.lookup(key)), or(m.lookup(key)), "{ctx} frozen");
            }
            compared += 7;
        }
    }
    println!("freeze/access: {compared} results agree");
}
