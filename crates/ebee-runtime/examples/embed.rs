//! Embedding ebee in an application with its own program type: a tiny
//! key-value store runs a user "compute" program on every GET (the XRP
//! pattern). The store declares its context (`struct kv_ctx`), which
//! fields programs may read and write, and one helper with state
//! (`kv_get`, reading another key, counting calls); programs are
//! assembled from text and attached to a hook that can be swapped.
//!
//! `cargo run --release -p ebee-runtime --example embed`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ebee_runtime::program_type::custom::CustomType;
use ebee_runtime::{HelperRegistry, Hook, Vm};
use ebee_verifier::{Access, ContextLayout, CtxField, FieldKind};

/// `struct kv_ctx { u64 key; u64 value; u64 result; u32 found; }`.
fn layout() -> ContextLayout {
    let f = |name, offset, size, write| CtxField {
        name,
        offset,
        size,
        read: Access::Exact,
        write,
        kind: FieldKind::Scalar,
    };
    ContextLayout {
        name: "kv_ctx",
        size: 28,
        fields: vec![
            f("key", 0, 8, Access::Denied),
            f("value", 8, 8, Access::Denied),
            f("result", 16, 8, Access::Exact),
            f("found", 24, 4, Access::Denied),
        ],
    }
}

const KV_GET: i32 = 0x1000;

fn main() {
    let store: Arc<Mutex<HashMap<u64, u64>>> =
        Arc::new(Mutex::new((0..100u64).map(|k| (k, k * k)).collect()));
    let calls = Arc::new(AtomicU64::new(0));
    let mut helpers = HelperRegistry::new();
    {
        let (store, calls) = (store.clone(), calls.clone());
        // kv_get(key) -> value, or u64::MAX when absent.
        helpers.register(KV_GET, "kv_get", move |a| {
            calls.fetch_add(1, Ordering::Relaxed);
            let s = store.lock().map_err(|_| "store poisoned")?;
            Ok(s.get(&a[0]).copied().unwrap_or(u64::MAX))
        });
    }
    let ty = CustomType::new(layout(), helpers);

    // v1: result = value + kv_get(key + 1) (a two-key "join").
    let v1 = ebee_isa::assemble(
        "r6 = r1
         r1 = *(u64 *)(r6 + 0)
         r1 += 1
         call 4096
         r1 = *(u64 *)(r6 + 8)
         r0 += r1
         *(u64 *)(r6 + 16) = r0
         r0 = 1
         exit",
    )
    .expect("assemble v1");
    // v2: filter: keep only even values; also tries to overwrite `key`
    // (not writable: the store restores it).
    let v2 = ebee_isa::assemble(
        "r2 = *(u64 *)(r1 + 8)
         r3 = r2
         r3 &= 1
         r0 = 0
         if r3 != 0 goto out
         *(u64 *)(r1 + 16) = r2
         r0 = 1
         out:
         *(u64 *)(r1 + 0) = r0
         exit",
    )
    .expect("assemble v2");
    let hook = Hook::with(Arc::new(ty.prepare(Vm::new(v1).expect("v1"))));

    let get = |key: u64| -> Option<(u64, u64)> {
        let value = *store.lock().unwrap().get(&key)?;
        let mut ctx = [0u8; 28];
        ctx[0..8].copy_from_slice(&key.to_ne_bytes());
        ctx[8..16].copy_from_slice(&value.to_ne_bytes());
        ctx[24..28].copy_from_slice(&1u32.to_ne_bytes());
        let keep = hook
            .run(|vm| ty.run(vm, &mut ctx))
            .expect("attached")
            .expect("run");
        assert_eq!(u64::from_ne_bytes(ctx[0..8].try_into().unwrap()), key);
        (keep != 0).then(|| (key, u64::from_ne_bytes(ctx[16..24].try_into().unwrap())))
    };

    for k in [3, 7, 99] {
        println!("v1 GET {k}: {:?}", get(k));
    }
    assert_eq!(get(3), Some((3, 9 + 16)));
    assert_eq!(get(99), Some((99, (99u64 * 99).wrapping_add(u64::MAX)))); // key 100 is absent
    hook.replace(Arc::new(ty.prepare(Vm::new(v2).expect("v2"))));
    for k in [3, 4] {
        println!("v2 GET {k}: {:?}", get(k));
    }
    assert_eq!(get(3), None);
    assert_eq!(get(4), Some((4, 16)));
    println!("kv_get called {} times", calls.load(Ordering::Relaxed));
}
