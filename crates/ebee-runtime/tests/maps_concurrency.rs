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
