//! The maps of real clang-built objects (the shared sample corpus):
//! created from their definitions here and in the kernel, the same
//! verdict for each; global data written and `.rodata` frozen.

use std::path::Path;

use ebee_kernel::KernelMap;
use ebee_runtime::map::{Map, MapSpec, MapType};

fn objects(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            objects(&p, out);
        } else if p.extension().is_some_and(|x| x == "o") {
            out.push(p);
        }
    }
}

fn kernel_create(spec: &MapSpec) -> Result<KernelMap, i32> {
    let mut k = ebee_kernel::MapSpec::new(
        spec.map_type,
        spec.key_size,
        spec.value_size,
        spec.max_entries,
    );
    k.flags = spec.flags;
    k.map_extra = spec.map_extra;
    k.numa_node = spec.numa_node;
    match &spec.inner {
        Some(inner) => {
            let inner = kernel_create(inner)?;
            k.inner_map_fd = Some(std::os::fd::AsRawFd::as_raw_fd(&inner));
            KernelMap::create(&k).map_err(|e| e.errno().unwrap_or(0))
        }
        None => KernelMap::create(&k).map_err(|e| e.errno().unwrap_or(0)),
    }
}

#[test]
fn sample_object_maps_agree_with_kernel() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples");
    let mut files = vec![];
    objects(&root, &mut files);
    files.sort();
    assert!(
        !files.is_empty(),
        "no sample objects under {}",
        root.display()
    );
    let (mut agree, mut created, mut globals, mut other_types) = (0, 0, 0, 0);
    let mut disagree = vec![];
    for f in &files {
        let Ok(obj) = ebee_object::Object::parse(&std::fs::read(f).unwrap()) else {
            continue;
        };
        for def in obj.maps() {
            let mut spec = MapSpec::from_def(def);
            if let (Some(i), None) = (def.inner_index, &spec.inner) {
                spec.inner = obj.maps().get(i).map(|d| Box::new(MapSpec::from_def(d)));
            }
            if spec.map_type == MapType::StructOps {
                continue;
            }
            let k = kernel_create(&spec).map(|_| ());
            let o = Map::create(&spec)
                .map(|_| ())
                .map_err(|e| e.errno().unwrap_or(0));
            // Types the runtime does not have (perf event arrays, socket
            // and storage maps...) are EINVAL here whatever the kernel says.
            let unsupported = o == Err(22) && k.is_ok();
            if k == o {
                agree += 1;
            } else if unsupported {
                other_types += 1;
            } else {
                disagree.push(format!(
                    "{} {}: {spec:?}: kernel {k:?}, ours {o:?}",
                    f.display(),
                    def.name
                ));
            }
            if o.is_ok() {
                created += 1;
                if let (Some(data), None) = (&def.data, &spec.inner) {
                    let mut spec_def = def.clone();
                    spec_def.inner = None;
                    let m = Map::from_def(&spec_def).unwrap();
                    let v = m.lookup(&0u32.to_ne_bytes()).unwrap().unwrap();
                    assert_eq!(&v[..data.len()], &data[..], "{}", def.name);
                    assert_eq!(m.freeze().is_err(), def.frozen, "{}", def.name);
                    globals += 1;
                }
            }
        }
    }
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    println!(
        "sample objects: {} files, {agree} map definitions with the kernel's verdict, {created} created, {globals} global data maps initialized, {other_types} of types the runtime lacks",
        files.len()
    );
}
