//! Every code section of the real clang-built sample objects (PREVAIL's
//! collection) through the verifier: no panic, and every program finishes
//! quickly. Map references are left unresolved (the object loader does
//! that), so this is a robustness run, not a verdict comparison.

use std::time::{Duration, Instant};

use ebee_verifier::{verify, Maps, Options, Program, ProgramType};
use object::{Object, ObjectSection, SectionFlags};

fn objects(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            objects(&p, out);
        } else if p.extension().is_some_and(|x| x == "o") {
            out.push(p);
        }
    }
}

#[test]
fn sample_objects_never_panic_and_finish_quickly() {
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/ebpf-samples"
    ));
    let mut files = vec![];
    objects(root, &mut files);
    if files.is_empty() {
        println!("skipped: sample objects not found at {}", root.display());
        return;
    }
    files.sort();
    let maps = Maps::new();
    let types = [
        ProgramType::socket_filter(),
        ProgramType::kprobe(),
        ProgramType::xdp(),
    ];
    let (mut programs, mut accepted) = (0, 0);
    let mut slowest = (Duration::ZERO, String::new());
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        let Ok(obj) = object::File::parse(&*bytes) else {
            continue;
        };
        for sec in obj.sections() {
            let exec = matches!(sec.flags(), SectionFlags::Elf { sh_flags } if sh_flags & 4 != 0);
            let Ok(data) = sec.data() else { continue };
            if !exec || data.is_empty() {
                continue;
            }
            let Ok(insns) = ebee_isa::decode(data) else {
                continue;
            };
            let name = sec.name().unwrap_or("");
            let pt = if name.starts_with("xdp") {
                &types[2]
            } else if name.starts_with("kprobe") || name.starts_with("kretprobe") {
                &types[1]
            } else {
                &types[0]
            };
            programs += 1;
            let start = Instant::now();
            let v = verify(
                &Program::new(&insns, pt, &maps),
                &Options {
                    max_insns: 200_000,
                    ..Options::default()
                },
            );
            let took = start.elapsed();
            if took > slowest.0 {
                slowest = (took, format!("{}:{name}", f.display()));
            }
            assert!(
                took < Duration::from_secs(20),
                "{}:{name} took {took:?}",
                f.display()
            );
            if let Some(r) = v.verdict.rejection() {
                assert!(r.pc < insns.len());
            } else {
                accepted += 1;
            }
        }
    }
    println!("sample objects: {programs} code sections, {accepted} accepted without map resolution; slowest {:?} ({})", slowest.0, slowest.1);
    assert!(programs > 100, "only {programs} code sections found");
}
