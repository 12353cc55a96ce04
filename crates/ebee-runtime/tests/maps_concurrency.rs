//! Maps shared between threads running "programs" (through the pointers
//! `lookup_ptr` gives, as the helpers will) and the host: no lost update,
//! no torn value.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use ebee_runtime::map::{Map, MapSpec, MapType, BPF_ANY};

const THREADS: u64 = 4;
const ITERS: u64 = 20_000;

#[test]
fn atomic_increments_and_whole_values_under_host_iteration() {
    let array = Arc::new(Map::create(&MapSpec::new(MapType::Array, 4, 8, 4)).unwrap());
    // Values of four equal words: a torn read would show two different ones.
    let hash = Arc::new(Map::create(&MapSpec::new(MapType::Hash, 4, 32, 16)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (array, hash) = (array.clone(), hash.clone());
            thread::spawn(move || {
                for i in 0..ITERS {
                    let v = array.lookup_ptr(&1u32.to_ne_bytes()).unwrap();
                    assert_eq!(v.len, 8);
                    assert_eq!(v.ptr as usize % 8, 0);
                    // SAFETY: the pointer is to the 8-aligned, 8-byte value
                    // of a live array element, accessed only atomically.
                    let counter = unsafe { AtomicU64::from_ptr(v.ptr.cast::<u64>()) };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let word = (t << 32 | i).to_ne_bytes();
                    let value: Vec<u8> = word.iter().copied().cycle().take(32).collect();
                    let key = ((i % 8) as u32 + t as u32 * 2).to_ne_bytes();
                    hash.prog_update(&key, &value, BPF_ANY).unwrap();
                    if let Some(p) = hash.lookup_ptr(&key) {
                        assert_eq!(p.len, 32);
                    }
                }
            })
        })
        .collect();
    let host = {
        let (array, hash, done) = (array.clone(), hash.clone(), done.clone());
        thread::spawn(move || {
            let mut reads = 0u64;
            let mut last = 0u64;
            while !done.load(Ordering::Acquire) {
                for key in hash.keys() {
                    if let Some(v) = hash.lookup(&key).unwrap() {
                        let words: Vec<&[u8]> = v.chunks(8).collect();
                        assert!(words.iter().all(|w| *w == words[0]), "torn: {v:?}");
                        reads += 1;
                    }
                }
                let c = u64::from_ne_bytes(
                    array.lookup(&1u32.to_ne_bytes()).unwrap().unwrap()[..8]
                        .try_into()
                        .unwrap(),
                );
                assert!(c >= last, "the counter went back: {c} < {last}");
                last = c;
            }
            reads
        })
    };
    for w in workers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let reads = host.join().unwrap();
    let total = array.lookup(&1u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(
        u64::from_ne_bytes(total[..8].try_into().unwrap()),
        THREADS * ITERS
    );
    assert!(hash.keys().count() <= 16);
    println!(
        "{} increments, {reads} whole hash values read by the host",
        THREADS * ITERS
    );
}

/// Producers on several threads, the host consuming meanwhile: every
/// record arrives once, whole, in each producer's order.
#[test]
fn ringbuf_producers_and_a_consumer() {
    use ebee_runtime::map::ringbuf::BPF_RB_NO_WAKEUP;
    const RECORDS: u32 = 5_000;
    let m = Arc::new(Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, 16384)).unwrap());
    let done = Arc::new(AtomicBool::new(false));
    let producers: Vec<_> = (0..3u32)
        .map(|t| {
            let m = m.clone();
            thread::spawn(move || {
                let rb = m.ringbuf().unwrap();
                let mut i = 0;
                while i < RECORDS {
                    // Records of 8 to 60 bytes: producer, sequence, filler.
                    let len = 8 + (i % 53) as usize;
                    let mut rec = vec![t as u8; len];
                    rec[..4].copy_from_slice(&t.to_ne_bytes());
                    rec[4..8].copy_from_slice(&i.to_ne_bytes());
                    let ok = if i % 2 == 0 {
                        rb.output(&rec, BPF_RB_NO_WAKEUP).is_ok()
                    } else if let Some(s) = rb.reserve(len as u64, 0) {
                        // SAFETY: `reserve` gave `len` writable bytes.
                        unsafe { std::ptr::copy_nonoverlapping(rec.as_ptr(), s.ptr, len) };
                        rb.submit(s.ptr, 0).unwrap();
                        true
                    } else {
                        false
                    };
                    if ok {
                        i += 1;
                    } else {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let consumer = {
        let (m, done) = (m.clone(), done.clone());
        thread::spawn(move || {
            let rb = m.ringbuf().unwrap();
            let mut next = [0u32; 3];
            let mut total = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                total += rb.consume(|s| {
                    let t = u32::from_ne_bytes(s[..4].try_into().unwrap()) as usize;
                    let i = u32::from_ne_bytes(s[4..8].try_into().unwrap());
                    assert_eq!(i, next[t], "producer {t} out of order");
                    assert_eq!(s.len(), 8 + (i % 53) as usize);
                    assert!(s[8..].iter().all(|&b| b == t as u8), "torn record");
                    next[t] += 1;
                });
                if finished {
                    break;
                }
            }
            (total, next)
        })
    };
    for p in producers {
        p.join().unwrap();
    }
    done.store(true, Ordering::Release);
    let (total, next) = consumer.join().unwrap();
    assert_eq!(total, 3 * RECORDS as usize);
    assert_eq!(next, [RECORDS; 3]);
}

/// Every keyed map type under mixed program and host traffic: no panic,
/// no deadlock, sizes within bounds.
#[test]
fn all_keyed_types_under_mixed_traffic() {
    use ebee_runtime::map::{BPF_F_NO_PREALLOC, BPF_NOEXIST};
    let specs = [
        MapSpec::new(MapType::Hash, 4, 16, 32),
        MapSpec::new(MapType::PercpuHash, 4, 16, 32),
        MapSpec::new(MapType::LruHash, 4, 16, 32),
        MapSpec::new(MapType::LruPercpuHash, 4, 16, 32),
        MapSpec::new(MapType::PercpuArray, 4, 16, 32),
        MapSpec::new(MapType::LpmTrie, 8, 16, 32).with_flags(BPF_F_NO_PREALLOC),
    ];
    for spec in specs {
        let m = Arc::new(Map::create(&spec).unwrap());
        let workers: Vec<_> = (0..3u32)
            .map(|t| {
                let m = m.clone();
                thread::spawn(move || {
                    for i in 0..3_000u32 {
                        let mut key = vec![0u8; m.spec().key_size as usize];
                        let n = (i * 7 + t) % 48;
                        if m.map_type() == MapType::LpmTrie {
                            key[..4].copy_from_slice(&(n % 33).to_ne_bytes());
                            key[4] = n as u8;
                        } else {
                            key[..4].copy_from_slice(&n.to_ne_bytes());
                        }
                        let v = [i as u8; 16];
                        let _ = m.prog_update(&key, &v, [BPF_ANY, BPF_NOEXIST][(i % 2) as usize]);
                        if let Some(p) = m.lookup_ptr(&key) {
                            assert_eq!(p.len, 16);
                        }
                        if i % 5 == 0 {
                            let _ = m.prog_delete(&key);
                        }
                    }
                })
            })
            .collect();
        // Iterating while keys come and go may restart from the first key
        // (a deleted key has no successor; the kernel does the same), so
        // only the final count is bounded.
        for _ in 0..50 {
            for k in m.keys().take(100) {
                let _ = m.lookup(&k);
            }
        }
        for w in workers {
            w.join().unwrap();
        }
        assert!(m.keys().count() <= 32, "{:?}", spec.map_type);
    }
}

/// Eviction does not scan the map: a large LRU map under churn stays fast,
/// and keeps the most recently used keys.
#[test]
fn large_lru_churn() {
    let m = Map::create(&MapSpec::new(MapType::LruHash, 4, 8, 20_000)).unwrap();
    let start = std::time::Instant::now();
    for i in 0..80_000u32 {
        m.update(&i.to_ne_bytes(), &[1; 8], BPF_ANY).unwrap();
        // A program keeps using key 0.
        assert!(m.lookup_ptr(&0u32.to_ne_bytes()).is_some(), "{i}");
    }
    assert_eq!(m.keys().count(), 20_000);
    assert!(m.lookup(&79_999u32.to_ne_bytes()).unwrap().is_some());
    assert!(m.lookup(&60_001u32.to_ne_bytes()).unwrap().is_some());
    assert!(m.lookup(&1u32.to_ne_bytes()).unwrap().is_none());
    println!(
        "80000 LRU inserts into 20000 entries in {:?}",
        start.elapsed()
    );
}

/// The host waits for records: woken by a submit, not by a commit with
/// `BPF_RB_NO_WAKEUP`, timing out when nothing comes.
#[test]
fn ringbuf_consumer_waits_for_records() {
    use ebee_runtime::map::ringbuf::BPF_RB_NO_WAKEUP;
    use std::time::Duration;
    let m = Arc::new(Map::create(&MapSpec::new(MapType::Ringbuf, 0, 0, 4096)).unwrap());
    let rb = m.ringbuf().unwrap();
    assert!(!rb.wait(Duration::from_millis(10)), "nothing to wait for");
    let producer = {
        let m = m.clone();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            m.ringbuf().unwrap().output(&[1, 2, 3], 0).unwrap();
        })
    };
    assert!(rb.wait(Duration::from_secs(10)), "woken by the submit");
    let mut got = vec![];
    rb.consume(|s| got.push(s.to_vec()));
    assert_eq!(got, vec![vec![1, 2, 3]]);
    producer.join().unwrap();
    // A reserved record not yet submitted is not ready.
    let s = rb.reserve(4, 0).unwrap();
    assert!(!rb.wait(Duration::from_millis(10)));
    rb.submit(s.ptr, BPF_RB_NO_WAKEUP).unwrap();
    // No wakeup was sent, but the record is there for the next wait.
    assert!(rb.wait(Duration::from_millis(10)));
    assert_eq!(rb.consume(|_| {}), 1);
}
