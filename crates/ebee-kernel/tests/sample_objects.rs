//! Every object of the sample corpus (`shared/corpora/ebpf-samples`)
//! through [`LoadedObject::load`]: whatever the kernel makes of it, the
//! loader answers with a loaded object or an error naming the map or
//! program, never a panic. Which programs the kernel accepts is the
//! verifier tests' business; this one only counts.
//!
//! `EBEE_SHOW_FAILURES=1` prints every failure with its message.
//!
//! Prints `skipped: <reason>` when this kernel has no usable bpf(2).

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ebee_kernel::{LoadedObject, ObjectLoadError, ObjectLoadOptions};
use ebee_object::Object;

fn objects(dir: &Path, out: &mut Vec<PathBuf>) {
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

/// A short label for an error, to count failures by kind.
fn kind(e: &ObjectLoadError) -> String {
    match e {
        ObjectLoadError::MapCreate { source, .. } => format!(
            "map create {}",
            source.errno().map_or("?".into(), ebee_kernel::errno_name)
        ),
        ObjectLoadError::MapInit { .. } => "map init".into(),
        ObjectLoadError::Program { source, .. } => format!(
            "program {}",
            source.errno().map_or("?".into(), ebee_kernel::errno_name)
        ),
        ObjectLoadError::Relocation { .. } => "relocation".into(),
        ObjectLoadError::Unsupported(m) if m.contains("names no program type") => {
            "section names no program type".into()
        }
        ObjectLoadError::Unsupported(m) if m.contains("extern symbol") => {
            "unresolved extern".into()
        }
        ObjectLoadError::Unsupported(_) => "unsupported".into(),
        ObjectLoadError::Kconfig(_) => "kconfig".into(),
        _ => "other".into(),
    }
}

#[test]
fn every_sample_object_loads_or_fails_cleanly() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpora/ebpf-samples");
    let mut paths = Vec::new();
    objects(&root, &mut paths);
    paths.sort();
    assert!(
        paths.len() > 100,
        "{} objects under {}",
        paths.len(),
        root.display()
    );

    let opts = ObjectLoadOptions::default();
    let (mut parsed, mut loaded, mut programs, mut programs_alone) = (0, 0, 0, 0);
    let mut failures: BTreeMap<String, usize> = BTreeMap::new();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let Ok(obj) = Object::parse(&bytes) else {
            continue;
        };
        parsed += 1;
        let result = catch_unwind(AssertUnwindSafe(|| LoadedObject::load(&obj, &opts)));
        match result {
            Ok(Ok(o)) => {
                loaded += 1;
                programs += o.programs().count();
            }
            // The whole object failed: which of its programs load alone?
            Ok(Err(e)) if obj.entry_programs().count() > 1 => {
                *failures.entry(kind(&e)).or_default() += 1;
                for p in obj.entry_programs() {
                    let alone = ObjectLoadOptions {
                        only_programs: Some(vec![p.name.clone()]),
                        ..ObjectLoadOptions::default()
                    };
                    let r = catch_unwind(AssertUnwindSafe(|| LoadedObject::load(&obj, &alone)));
                    match r {
                        Ok(Ok(_)) => programs_alone += 1,
                        Ok(Err(_)) => {}
                        Err(_) => panic!("LoadedObject::load panicked on {}", path.display()),
                    }
                }
            }
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(!msg.is_empty(), "{}: empty error", path.display());
                *failures.entry(kind(&e)).or_default() += 1;
                if std::env::var_os("EBEE_SHOW_FAILURES").is_some() {
                    println!("{}: {}", path.display(), msg);
                }
            }
            Err(_) => panic!("LoadedObject::load panicked on {}", path.display()),
        }
    }
    let failed: usize = failures.values().sum();
    println!(
        "{} objects, {parsed} parsed: {loaded} loaded whole ({programs} programs), {failed} failed",
        paths.len()
    );
    println!("  {programs_alone} more programs load alone from objects that failed whole");
    for (k, n) in &failures {
        println!("  {n:4} {k}");
    }
    assert_eq!(loaded + failed, parsed);
    assert!(loaded > 0, "not one sample object loaded");
}
