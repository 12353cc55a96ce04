//! Hot swap: four threads run the program attached to a [`Hook`] while the
//! main thread replaces it; every run sees one version whole (its return
//! value and its map update agree), no thread sees the old version after
//! the new one, and the map both versions share survives the swap and the
//! object being dropped.

mod prog_type;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::Hook;

#[test]
fn replace_while_threads_run() {
    let obj = prog_type::compile("hook_swap");
    let loaded = LoadedObject::load(&obj, &LoadOptions::new()).expect("load");
    let v1 = loaded.program("v1").unwrap().vm().clone();
    let v2 = loaded.program("v2").unwrap().vm().clone();
    let counter = loaded.map("counter").unwrap().clone();
    drop(loaded); // the programs keep the map alive

    let hook = Arc::new(Hook::with(v1));
    let go = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (hook, go) = (hook.clone(), go.clone());
            std::thread::spawn(move || {
                while !go.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                let mut seen = Vec::with_capacity(20_000);
                for _ in 0..20_000 {
                    let r = hook.run(|vm| vm.run(&mut []).unwrap()).unwrap();
                    seen.push(r);
                }
                seen
            })
        })
        .collect();
    go.store(true, Ordering::Release);
    std::thread::sleep(std::time::Duration::from_millis(5));
    let old = hook.replace(v2).unwrap();
    let results: Vec<Vec<u64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let (mut n1, mut n2) = (0u64, 0u64);
    for seen in &results {
        let first_new = seen.iter().position(|&r| r == 2).unwrap_or(seen.len());
        assert!(seen[..first_new].iter().all(|&r| r == 1));
        assert!(
            seen[first_new..].iter().all(|&r| r == 2),
            "old program after the new one"
        );
        n1 += first_new as u64;
        n2 += (seen.len() - first_new) as u64;
    }
    println!("runs on v1: {n1}, on v2: {n2}");
    assert!(n2 > 0, "the swap happened during the runs");
    let v = counter.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
    assert_eq!(
        u64::from_ne_bytes(v[..8].try_into().unwrap()),
        n1 + 1000 * n2
    );
    // The old program still runs on the same map after being replaced.
    assert_eq!(old.run(&mut []).unwrap(), 1);
    assert!(hook.detach().is_some());
    assert!(hook.run(|_| ()).is_none());
}
