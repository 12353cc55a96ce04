//! `ebee run OBJ.o`: loads a clang-built object into the userspace
//! runtime (maps created, programs verified unless `--unverified`), runs
//! one program with the raw memory convention (r1 = buffer, r2 = length)
//! on the JIT or the interpreter (`--engine`) and prints r0 and every
//! map's contents afterwards.

use ebee::Failure;
use ebee_object::{MapType, Object, ProgramType};
use ebee_runtime::loader::{LoadOptions, LoadedObject, LoadedProgram, ObjectLoadError};
use ebee_runtime::map::{is_percpu, Map};
use serde_json::{json, Value};
use std::time::Instant;

/// What to run and how.
pub struct ObjectRun<'a> {
    /// The object's bytes.
    pub bytes: &'a [u8],
    /// `--section`.
    pub section: Option<&'a str>,
    /// `--program`.
    pub program: Option<&'a str>,
    /// `--unverified`.
    pub unverified: bool,
    /// `--budget`.
    pub budget: Option<u64>,
    /// `--repeat`.
    pub repeat: u64,
    /// `--json`.
    pub json: bool,
    /// `--packet` / `--packet-hex`: run on a packet as its program type.
    pub packet: Option<Vec<u8>>,
    /// `--kernel`: load and run it in the kernel instead ([`super::run_kernel`]).
    pub kernel: bool,
    /// `--btf`: the target of CO-RE relocations.
    pub btf: Option<ebee_object::btf::Btf>,
    /// `--engine`: the JIT or the interpreter.
    pub engine: ebee::Engine,
    /// `--blind`: constant blinding in the JIT.
    pub blind: bool,
}

/// For a packet program run without a packet (it reads its context out
/// of the raw buffer), how to give it one; empty for other programs.
fn packet_hint(prog: &LoadedProgram) -> String {
    let kind = match prog.program_type() {
        ProgramType::Xdp => "an XDP program",
        ProgramType::SocketFilter => "a socket filter",
        ProgramType::SchedCls => "a tc program",
        _ => return String::new(),
    };
    format!(
        " (program {:?} is {kind}: give it a packet with --packet FILE or --packet-hex HEX)",
        prog.name()
    )
}

/// At most this many entries of a map are printed.
const MAX_ENTRIES: usize = 256;

fn hex(b: &[u8]) -> String {
    ebee::hex::to_hex(b)
}

fn pick<'o>(loaded: &'o LoadedObject, run: &ObjectRun<'_>) -> Result<&'o LoadedProgram, Failure> {
    let names = || {
        loaded
            .programs()
            .iter()
            .map(|p| format!("{} ({})", p.name(), p.section()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let found = match (run.program, run.section) {
        (Some(n), _) => loaded.program(n),
        (None, Some(s)) => loaded.program_in_section(s),
        (None, None) if loaded.programs().len() == 1 => loaded.programs().first(),
        (None, None) => {
            return Err(Failure::Input(format!(
                "the object has {} programs; pick one with --program or --section: {}",
                loaded.programs().len(),
                names()
            )))
        }
    };
    found.ok_or_else(|| Failure::Input(format!("no such program; the object has: {}", names())))
}

/// One printed entry: the key and its value (one per CPU for per-CPU maps,
/// none for slots of prog arrays and map-in-maps).
type Entry = (Vec<u8>, Vec<Vec<u8>>);

/// The entries of `map`, and whether there were more than [`MAX_ENTRIES`].
fn entries(map: &Map) -> (Vec<Entry>, bool) {
    let mut out = vec![];
    let t = map.map_type();
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
            if let Some(rb) = map.ringbuf() {
                rb.consume(|s| {
                    if out.len() <= MAX_ENTRIES {
                        out.push((vec![], vec![s.to_vec()]))
                    }
                });
            }
        }
        MapType::BloomFilter => {}
        MapType::ProgArray | MapType::ArrayOfMaps | MapType::HashOfMaps => {
            for k in map.keys().take(MAX_ENTRIES + 1) {
                out.push((k, vec![]));
            }
        }
        _ => {
            for k in map.keys().take(MAX_ENTRIES + 1) {
                let v = if is_percpu(t) {
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

/// Runs `ebee run` on an object.
pub fn run(r: ObjectRun<'_>, memory: &mut [u8]) -> Result<(), Failure> {
    if r.kernel {
        return super::run_kernel::run(r, memory);
    }
    let obj = Object::parse(r.bytes).map_err(|e| Failure::Input(e.to_string()))?;
    let mut opts = LoadOptions::new().engine(r.engine.for_objects(r.blind));
    if r.unverified {
        opts = opts.unverified();
    }
    if let Some(b) = r.budget {
        opts = opts.budget(b);
    }
    if let Some(btf) = &r.btf {
        opts = opts.target_btf(btf.clone());
    }
    let first = match &r.packet {
        Some(_) => super::run_packet::with_any_packet_helpers(opts.clone()),
        None => opts.clone(),
    };
    let loaded = LoadedObject::load(&obj, &first).map_err(|e| match e {
        ObjectLoadError::Rejected { .. } | ObjectLoadError::Poisoned { .. } => Failure::Rejected(
            format!("{e} (use --unverified to run it with runtime checks)"),
        ),
        _ => Failure::Input(e.to_string()),
    })?;
    let prog = pick(&loaded, &r)?;
    if let Some(p) = &r.packet {
        let section = prog.section().to_string();
        return super::run_packet::run(&obj, opts, &section, |l| pick(l, &r), p);
    }
    let start = Instant::now();
    let mut r0 = 0;
    for _ in 0..r.repeat {
        r0 = prog
            .run(memory)
            .map_err(|e| Failure::Exec(format!("{e}{}", packet_hint(prog))))?;
    }
    let per_run_ns = start.elapsed().as_nanos() / u128::from(r.repeat);
    let mode = if prog.unchecked() {
        "verified, unchecked"
    } else if prog.verified() {
        "verified, checked (it uses its context)"
    } else {
        "unverified, checked"
    };
    if r.json {
        let maps: Vec<Value> = loaded
            .maps()
            .map(|(name, m)| {
                let (es, truncated) = entries(m);
                let es: Vec<Value> = es
                    .iter()
                    .map(|(k, v)| {
                        let mut e = json!({ "key": hex(k) });
                        if is_percpu(m.map_type()) {
                            e["values"] = v.iter().map(|x| hex(x)).collect::<Vec<_>>().into();
                        } else if let Some(x) = v.first() {
                            e["value"] = hex(x).into();
                        }
                        e
                    })
                    .collect();
                json!({
                    "name": name,
                    "type": format!("{:?}", m.map_type()),
                    "entries": es,
                    "truncated": truncated,
                })
            })
            .collect();
        let out = json!({
            "program": prog.name(),
            "section": prog.section(),
            "mode": mode,
            "engine": r.engine.name(),
            "r0": r0,
            "r0_hex": format!("{r0:#x}"),
            "runs": r.repeat,
            "duration_ns": per_run_ns as u64,
            "maps": maps,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "program {} (section {}, {mode}, {})",
        prog.name(),
        prog.section(),
        r.engine.name()
    );
    println!("r0 = {r0} ({r0:#x})");
    if r.repeat > 1 {
        println!("duration (average): {per_run_ns} ns over {} runs", r.repeat);
    }
    for (name, m) in loaded.maps() {
        let (es, truncated) = entries(m);
        println!(
            "map {name} ({:?}, {} entries shown)",
            m.map_type(),
            es.len()
        );
        match m.map_type() {
            MapType::BloomFilter => println!("  (a bloom filter cannot be listed)"),
            MapType::Queue | MapType::Stack | MapType::Ringbuf => {
                for (_, v) in &es {
                    println!("  {}", hex(&v[0]));
                }
            }
            _ => {
                for (k, v) in &es {
                    let vals: Vec<String> = v.iter().map(|x| hex(x)).collect();
                    if vals.is_empty() {
                        println!("  {}", hex(k));
                    } else {
                        println!("  {} => {}", hex(k), vals.join(" | "));
                    }
                }
            }
        }
        if truncated {
            println!("  ... (more than {MAX_ENTRIES} entries)");
        }
    }
    Ok(())
}
