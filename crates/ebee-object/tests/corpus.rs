//! Every object of PREVAIL's sample corpus (real clang-built objects from
//! the kernel, Cilium, prototype-kernel and PREVAIL's own tests) parses,
//! and lists exactly the (section, function) programs PREVAIL lists for
//! it; the deliberately malformed objects of `invalid/` that are broken at
//! the ELF level are rejected with an error that says where.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

mod common;

use ebee_object::{Object, RelocKind};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples")
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|e| e == "o")
            || p.parent().unwrap().ends_with("invalid")
        {
            out.push(p);
        }
    }
}

type Expectations = HashMap<(String, String), (BTreeSet<(String, String)>, bool)>;

/// (project, object) → (set of (section, function), must fail to load),
/// from PREVAIL_EXPECTATIONS.tsv.
fn expectations() -> Expectations {
    let text = std::fs::read_to_string(corpus().join("PREVAIL_EXPECTATIONS.tsv")).unwrap();
    let mut map: Expectations = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("project\t"))
    {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 9 || f[8] != "present" {
            continue;
        }
        let e = map.entry((f[0].to_string(), f[1].to_string())).or_default();
        e.0.insert((f[2].to_string(), f[3].to_string()));
        e.1 |= f[7] == "true";
    }
    map
}

#[test]
fn corpus_objects_parse_and_match_prevail() {
    let root = corpus();
    if !root.exists() {
        println!("skipped: corpus not found at {}", root.display());
        return;
    }
    let mut all = Vec::new();
    files(&root, &mut all);
    let expect = expectations();
    let (mut objects, mut programs, mut entries, mut maps, mut compared) = (0, 0, 0, 0, 0);
    let mut failures = Vec::new();
    let mut parse_time = std::time::Duration::ZERO;
    let mut bytes_total = 0;
    for path in all
        .iter()
        .filter(|p| !p.parent().unwrap().ends_with("invalid"))
    {
        let project = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        bytes_total += bytes.len();
        let start = std::time::Instant::now();
        let parsed = Object::parse(&bytes);
        parse_time += start.elapsed();
        let obj = match parsed {
            Ok(o) => o,
            Err(e) => {
                failures.push(format!("{project}/{name}: {e}"));
                continue;
            }
        };
        objects += 1;
        programs += obj.programs().len();
        entries += obj.entry_programs().count();
        maps += obj.maps().len();
        if let Some((want, reject_load)) = expect.get(&(project.clone(), name.clone())) {
            compared += 1;
            let got: BTreeSet<(String, String)> = obj
                .programs()
                .iter()
                .map(|p| (p.section.clone(), p.name.clone()))
                .collect();
            assert!(want.iter().all(|(s, f)| obj.program_in(s, f).is_some()));
            // PREVAIL's "must fail to load": calls to functions no object defines.
            let unresolved: Vec<String> = obj
                .programs()
                .iter()
                .flat_map(|p| &p.relocs)
                .filter_map(|r| match &r.kind {
                    RelocKind::Extern { symbol, call: true } => Some(symbol.clone()),
                    _ => None,
                })
                .collect();
            if *reject_load == unresolved.is_empty() {
                failures.push(format!(
                    "{project}/{name}: reject_load {reject_load}, unresolved calls {unresolved:?}"
                ));
            } else if *reject_load {
                println!("{project}/{name}: parses, but calls undefined {unresolved:?} (PREVAIL: reject_load)");
            }
            if &got != want {
                failures.push(format!(
                    "{project}/{name}: programs differ from PREVAIL's list\n  missing: {:?}\n  extra: {:?}",
                    want.difference(&got).collect::<Vec<_>>(),
                    got.difference(want).collect::<Vec<_>>()
                ));
            }
        }
    }
    println!(
        "corpus: {objects} objects parsed, {programs} programs ({entries} entry points), {maps} maps; \
         {compared} objects compared with PREVAIL_EXPECTATIONS.tsv; parsing {} KiB took {parse_time:?}",
        bytes_total / 1024
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(objects >= 100, "only {objects} objects found");
}

#[test]
fn invalid_objects_are_rejected_or_explained() {
    let dir = corpus().join("invalid");
    if !dir.exists() {
        println!("skipped: corpus not found at {}", dir.display());
        return;
    }
    let mut all = Vec::new();
    files(&dir, &mut all);
    let expect = expectations();
    let (mut rejected, mut parsed) = (0, 0);
    for path in &all {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(path).unwrap();
        match Object::parse(&bytes) {
            Err(e) => {
                rejected += 1;
                println!("invalid/{name}: rejected: {e}");
            }
            Ok(obj) => {
                parsed += 1;
                // Objects PREVAIL only rejects at verification (or loads)
                // are valid ELF: they must list PREVAIL's programs.
                let got: BTreeSet<(String, String)> = obj
                    .programs()
                    .iter()
                    .map(|p| (p.section.clone(), p.name.clone()))
                    .collect();
                let (want, reject_load) = expect
                    .get(&("invalid".to_string(), name.clone()))
                    .unwrap_or_else(|| {
                        panic!("invalid/{name} parses but PREVAIL has no entry for it")
                    });
                println!(
                    "invalid/{name}: valid ELF, {} programs (PREVAIL: {} programs, reject_load {reject_load})",
                    got.len(),
                    want.len()
                );
                assert!(!reject_load, "invalid/{name} must fail to load");
                assert_eq!(&got, want, "invalid/{name}");
            }
        }
    }
    println!("invalid/: {rejected} rejected, {parsed} valid ELF (verifier-level cases)");
    assert!(rejected >= 2, "only {rejected} objects rejected");
}

fn load(rel: &str) -> Option<Object> {
    let bytes = std::fs::read(corpus().join(rel)).ok()?;
    Some(Object::parse(&bytes).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

#[test]
fn corpus_maps_spot_checks() {
    use ebee_object::{MapType, SlotTarget};
    let Some(legacy) = load("build/map_in_map_legacy.o") else {
        println!("skipped: corpus not found");
        return;
    };
    // struct bpf_map_def with inner_map_idx (word 5) = 1.
    let names: Vec<&str> = legacy.maps().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["array_of_maps", "inner_map"]);
    assert_eq!(legacy.maps()[0].map_type, MapType::ArrayOfMaps);
    assert_eq!(legacy.maps()[0].inner_index, Some(1));
    assert_eq!(
        (legacy.maps()[1].map_type, legacy.maps()[1].value_size),
        (MapType::Array, 8)
    );

    let btf = load("build/map_in_map.o").unwrap();
    let outer = btf
        .maps()
        .iter()
        .find(|m| m.map_type.is_map_in_map())
        .unwrap();
    let inner = outer
        .inner
        .as_ref()
        .expect("BTF map-in-map has an inner definition");
    assert_eq!(inner.map_type, MapType::Array);

    let pa = load("build/prog_array.o").unwrap();
    let table = pa
        .maps()
        .iter()
        .find(|m| m.map_type == MapType::ProgArray)
        .unwrap();
    assert!(!table.slots.is_empty());
    for s in &table.slots {
        let SlotTarget::Program(p) = &s.target else {
            panic!("{s:?}")
        };
        assert!(
            pa.program(p).is_some(),
            "slot {} names unknown program {p}",
            s.index
        );
    }

    // Old Cilium's 7-word iproute2 `struct bpf_elf_map`, 17 maps sorted by
    // offset, and iproute2 tail-call sections.
    let lxc = load("bpf_cilium_test/bpf_lxc-DDROP_ALL.o").unwrap();
    assert_eq!(lxc.maps().len(), 17);
    assert!(lxc.maps().iter().all(|m| matches!(
        m.origin,
        ebee_object::MapOrigin::Legacy { def_size: 28, .. }
    )));
    assert_eq!(lxc.maps()[0].name, "cilium_events");
    assert_eq!(lxc.maps()[0].map_type, MapType::PerfEventArray);
    assert!(lxc.programs().iter().any(|p| p.section == "2/1"));

    // iproute2's 9-word `struct bpf_elf_map` (id, pinning, inner_id, inner_idx).
    let mut sizes = BTreeSet::new();
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    for path in all
        .iter()
        .filter(|p| !p.parent().unwrap().ends_with("invalid"))
    {
        let obj = Object::parse(&std::fs::read(path).unwrap()).unwrap();
        for m in obj.maps() {
            if let ebee_object::MapOrigin::Legacy { def_size, .. } = m.origin {
                sizes.insert(def_size);
            }
        }
    }
    println!("legacy map definition sizes in the corpus: {sizes:?}");

    // `version` and `license` sections of old kprobe samples.
    let tracex1 = load("linux/tracex1_kern.o").unwrap();
    assert_eq!(tracex1.kernel_version(), Some(0x0004_1300)); // 4.19.0
    assert_eq!(tracex1.license(), Some("GPL"));
    let k = tracex1.entry_programs().next().unwrap();
    assert_eq!(
        (k.program_type(), k.attach_target()),
        (
            ebee_object::ProgramType::Kprobe,
            Some("__netif_receive_skb_core")
        )
    );

    // Global data of the PREVAIL tests.
    let g = load("build/global_variable.o").unwrap();
    assert!(g
        .maps()
        .iter()
        .any(|m| matches!(m.origin, ebee_object::MapOrigin::Global(_))));
    assert!(g.programs()[0]
        .relocs
        .iter()
        .any(|r| matches!(r.kind, RelocKind::MapValue { .. })));
}

#[test]
fn corpus_core_relocations_resolve_against_vmlinux() {
    let Ok(vmlinux) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        println!("skipped: /sys/kernel/btf/vmlinux not readable");
        return;
    };
    let target = ebee_object::Btf::parse(&vmlinux).unwrap();
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    let (mut objects, mut relocs, mut poisoned) = (0, 0, 0);
    for path in all
        .iter()
        .filter(|p| !p.parent().unwrap().ends_with("invalid"))
    {
        let mut obj = Object::parse(&std::fs::read(path).unwrap()).unwrap();
        if obj.programs().iter().all(|p| p.core_relos.is_empty()) {
            continue;
        }
        objects += 1;
        let res = obj
            .relocate_core(&target)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for r in res.iter().flatten() {
            relocs += 1;
            if r.target.is_none() {
                poisoned += 1;
                println!(
                    "{}: pc {} {:?} `{}` poisoned",
                    path.display(),
                    r.pc,
                    r.kind,
                    r.access
                );
            }
        }
    }
    println!("CO-RE in the corpus: {objects} objects, {relocs} relocations resolved against vmlinux, {poisoned} poisoned");
}

#[test]
fn corpus_objects_libbpf_loads_get_the_same_instructions() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
        .ok()
        .map(|b| ebee_object::Btf::parse(&b).unwrap());
    let mut all = Vec::new();
    files(&corpus(), &mut all);
    let (mut loaded, mut refused, mut programs, mut maps) = (0, 0, 0, 0);
    for path in all
        .iter()
        .filter(|p| !p.parent().unwrap().ends_with("invalid"))
    {
        let mut obj = Object::parse(&std::fs::read(path).unwrap()).unwrap();
        // libbpf would pin these in /sys/fs/bpf: leave the system alone.
        if obj.maps().iter().any(|m| m.pinning != 0) {
            continue;
        }
        let dump = match common::libbpf_dump(path) {
            Ok(Some(d)) => d,
            Ok(None) => {
                refused += 1;
                continue;
            }
            Err(e) => {
                println!("skipped: {e}");
                return;
            }
        };
        if let Some(target) = &vmlinux {
            obj.relocate_core(target).unwrap();
        }
        if let Ok(Some((_, theirs))) = common::libbpf_open(path) {
            maps += common::compare_maps_with_libbpf(&path.display().to_string(), &obj, &theirs);
        }
        loaded += 1;
        programs += common::compare_with_libbpf(&path.display().to_string(), &obj, &dump);
    }
    println!(
        "libbpf loads {loaded} corpus objects ({refused} refused: legacy maps, kernel verdicts); \
         all {programs} programs are instruction-for-instruction ours, all {maps} map definitions agree"
    );
    assert!(loaded >= 20, "libbpf loaded only {loaded} objects");
}
