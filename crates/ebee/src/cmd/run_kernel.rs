//! `ebee run --kernel OBJ.o`: the same object loaded into the running
//! kernel through ebee-kernel (BTF, maps, relocations, CO-RE against the
//! kernel's BTF, `BPF_PROG_LOAD`; the verifier log shown on refusal), one
//! program run with `BPF_PROG_TEST_RUN` on the memory as packet data, and
//! r0 (32 bits, as the kernel returns it) and the maps printed in the
//! userspace run's table/JSON format.

use ebee::Failure;
use ebee_kernel::{KernelMap, LoadedObject, ObjectLoadOptions, RingBufReader, TestRun};
use ebee_object::{MapType, Object};
use serde_json::{json, Value};

use super::run_object::ObjectRun;

/// At most this many entries of a map are printed (as the userspace run).
const MAX_ENTRIES: usize = 256;

fn hex(b: &[u8]) -> String {
    ebee::hex::to_hex(b)
}

/// One printed entry: the key and its values (as the userspace run's).
type Entry = (Vec<u8>, Vec<Vec<u8>>);

/// The entries of a kernel map: keys with their values (one per CPU for
/// per-CPU maps), drained for queues, stacks and ring buffers.
fn entries(map: &KernelMap) -> (Vec<Entry>, bool) {
    let mut out = vec![];
    let t = map.spec().map_type;
    match t {
        MapType::Queue | MapType::Stack => {
            while let Ok(Some(v)) = map.pop() {
                out.push((vec![], vec![v]));
                if out.len() > MAX_ENTRIES {
                    break;
                }
            }
        }
        MapType::Ringbuf => {
            if let Ok(mut r) = RingBufReader::new(map) {
                for s in r.drain().into_iter().take(MAX_ENTRIES + 1) {
                    out.push((vec![], vec![s]));
                }
            }
        }
        MapType::BloomFilter => {}
        MapType::ProgArray
        | MapType::ArrayOfMaps
        | MapType::HashOfMaps
        | MapType::PerfEventArray
        | MapType::Xskmap => {
            // Slots hold fds, which mean nothing to print: the keys only,
            // as the userspace run lists them.
            for k in map.keys().map_while(Result::ok).take(MAX_ENTRIES + 1) {
                out.push((k, vec![]));
            }
        }
        _ => {
            for k in map.keys().map_while(Result::ok).take(MAX_ENTRIES + 1) {
                let v = if ebee_runtime::map::is_percpu(t) {
                    map.lookup_percpu(&k).ok().flatten().unwrap_or_default()
                } else {
                    map.lookup(&k).ok().flatten().into_iter().collect()
                };
                out.push((k, v));
            }
        }
    }
    let truncated = out.len() > MAX_ENTRIES;
    out.truncate(MAX_ENTRIES);
    (out, truncated)
}

/// Runs `ebee run --kernel` on an object.
pub fn run(r: ObjectRun<'_>, memory: &[u8]) -> Result<(), Failure> {
    ebee_kernel::probe().map_err(|e| Failure::Kernel(format!("no usable bpf(2): {e}")))?;
    let obj = Object::parse(r.bytes).map_err(|e| Failure::Input(e.to_string()))?;
    let entry: Vec<_> = obj.entry_programs().collect();
    let names = || {
        entry
            .iter()
            .map(|p| format!("{} ({})", p.name, p.section))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let chosen = match (r.program, r.section) {
        (Some(n), _) => entry.iter().find(|p| p.name == n),
        (None, Some(s)) => entry.iter().find(|p| p.section == s),
        (None, None) if entry.len() == 1 => entry.first(),
        (None, None) => {
            return Err(Failure::Input(format!(
                "the object has {} programs; pick one with --program or --section: {}",
                entry.len(),
                names()
            )))
        }
    }
    .ok_or_else(|| Failure::Input(format!("no such program; the object has: {}", names())))?;
    let opts = ObjectLoadOptions {
        core_target: r.btf.clone(),
        ..ObjectLoadOptions::default()
    };
    let loaded = LoadedObject::load(&obj, &opts).map_err(|e| {
        let log = match &e {
            ebee_kernel::ObjectLoadError::Program { source, .. } => source
                .log()
                .map(|l| format!("\nverifier log:\n{}", l.text()))
                .unwrap_or_default(),
            _ => String::new(),
        };
        Failure::Kernel(format!("{e}{log}"))
    })?;
    let prog = loaded
        .program(&chosen.name)
        .ok_or_else(|| Failure::Kernel(format!("{} was not loaded", chosen.name)))?;
    let repeat = u32::try_from(r.repeat).unwrap_or(u32::MAX);
    let out = prog
        .test_run(&TestRun {
            repeat,
            ..TestRun::new(memory)
        })
        .map_err(|e| Failure::Kernel(format!("BPF_PROG_TEST_RUN: {e}")))?;
    let r0 = u64::from(out.retval);
    let maps: Vec<(String, MapType, Vec<Entry>, bool)> = loaded
        .maps()
        .filter(|(n, _)| *n != ".kconfig")
        .map(|(n, m)| {
            let (es, t) = entries(m);
            (n.to_string(), m.spec().map_type, es, t)
        })
        .collect();
    if r.json {
        let maps: Vec<Value> = maps
            .iter()
            .map(|(name, t, es, truncated)| {
                let es: Vec<Value> = es
                    .iter()
                    .map(|(k, v)| {
                        let mut e = json!({ "key": hex(k) });
                        if ebee_runtime::map::is_percpu(*t) {
                            e["values"] = v.iter().map(|x| hex(x)).collect::<Vec<_>>().into();
                        } else if let Some(x) = v.first() {
                            e["value"] = hex(x).into();
                        }
                        e
                    })
                    .collect();
                json!({ "name": name, "type": format!("{t:?}"), "entries": es, "truncated": truncated })
            })
            .collect();
        let j = json!({
            "program": chosen.name,
            "section": chosen.section,
            "mode": "kernel",
            "r0": r0,
            "r0_hex": format!("{r0:#x}"),
            "runs": r.repeat,
            "duration_ns": out.duration_ns,
            "maps": maps,
        });
        println!("{j}");
        return Ok(());
    }
    println!(
        "program {} (section {}, kernel)",
        chosen.name, chosen.section
    );
    println!("r0 = {r0} ({r0:#x})");
    if r.repeat > 1 {
        println!(
            "duration (average, kernel-measured): {} ns over {} runs",
            out.duration_ns, r.repeat
        );
    }
    for (name, t, es, truncated) in &maps {
        println!("map {name} ({t:?}, {} entries shown)", es.len());
        match t {
            MapType::BloomFilter => println!("  (a bloom filter cannot be listed)"),
            MapType::Queue | MapType::Stack | MapType::Ringbuf => {
                for (_, v) in es {
                    println!("  {}", hex(&v[0]));
                }
            }
            _ => {
                for (k, v) in es {
                    let vals: Vec<String> = v.iter().map(|x| hex(x)).collect();
                    if vals.is_empty() {
                        println!("  {}", hex(k));
                    } else {
                        println!("  {} => {}", hex(k), vals.join(" | "));
                    }
                }
            }
        }
        if *truncated {
            println!("  ... (more than {MAX_ENTRIES} entries)");
        }
    }
    Ok(())
}
