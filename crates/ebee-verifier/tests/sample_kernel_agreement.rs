//! Real clang-built sample programs (PREVAIL's collection) whose only
//! relocations are legacy map definitions: verified by us and loaded into
//! this machine's kernel with real maps. Programs the kernel rejects must
//! be rejected by us too (anything else would be unsound); programs it
//! accepts that we reject are counted and listed (imprecision, not danger).

mod common;

use ebee_isa::{Imm64Kind, Insn};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget, SectionFlags};

fn prog_type(section: &str) -> Option<u32> {
    let s = section.to_ascii_lowercase();
    Some(if s.starts_with("socket") {
        1
    } else if s.starts_with("kprobe/") || s.starts_with("kretprobe/") {
        2
    } else if s.starts_with("classifier") || s == "tc" || s.starts_with("tc/") {
        3
    } else if s.starts_with("xdp") {
        6
    } else {
        return None;
    })
}

struct Sample {
    name: String,
    prog_type: u32,
    insns: Vec<Insn>,
    relocs: Vec<(usize, usize)>,
    maps: Vec<MapInfo>,
}

fn samples(path: &std::path::Path) -> Vec<Sample> {
    let Ok(bytes) = std::fs::read(path) else {
        return vec![];
    };
    let Ok(obj) = object::File::parse(&*bytes) else {
        return vec![];
    };
    let mut maps = vec![];
    let mut map_addrs = vec![];
    if let Some(ms) = obj.section_by_name("maps") {
        let data = ms.data().unwrap_or(&[]);
        let mut syms: Vec<u64> = obj
            .symbols()
            .filter(|s| s.section_index() == Some(ms.index()))
            .map(|s| s.address())
            .collect();
        syms.sort();
        syms.dedup();
        for &a in &syms {
            let o = a as usize;
            if o + 20 > data.len() {
                return vec![];
            }
            let w = |k: usize| u32::from_le_bytes(data[o + k..o + k + 4].try_into().unwrap());
            let mut m = MapInfo {
                map_type: w(0),
                key_size: w(4),
                value_size: w(8),
                max_entries: w(12),
                flags: w(16),
                spin_lock_offset: None,
            };
            if m.max_entries == 0 {
                m.max_entries = 4;
            }
            maps.push(m);
            map_addrs.push(a);
        }
    }
    let mut out = vec![];
    for sec in obj.sections() {
        let exec = matches!(sec.flags(), SectionFlags::Elf { sh_flags } if sh_flags & 4 != 0);
        let name = sec.name().unwrap_or("").to_string();
        let (Some(t), true) = (prog_type(&name), exec) else {
            continue;
        };
        let Ok(insns) = ebee_isa::decode(sec.data().unwrap_or(&[])) else {
            continue;
        };
        let mut relocs = vec![];
        let mut ok = !insns.is_empty();
        for (off, rel) in sec.relocations() {
            let RelocationTarget::Symbol(i) = rel.target() else {
                ok = false;
                break;
            };
            let Ok(sym) = obj.symbol_by_index(i) else {
                ok = false;
                break;
            };
            let in_maps = obj
                .section_by_name("maps")
                .is_some_and(|ms| sym.section_index() == Some(ms.index()));
            match map_addrs.iter().position(|a| *a == sym.address()) {
                Some(idx) if in_maps => relocs.push((off as usize / 8, idx)),
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            out.push(Sample {
                name: format!("{}:{name}", path.file_name().unwrap().to_string_lossy()),
                prog_type: t,
                insns,
                relocs,
                maps: maps.clone(),
            });
        }
    }
    out
}

fn patch(
    insns: &[Insn],
    relocs: &[(usize, usize)],
    kind: Imm64Kind,
    value: impl Fn(usize) -> i64,
) -> Vec<Insn> {
    let mut out = insns.to_vec();
    for &(pc, idx) in relocs {
        if let Some(Insn::LdImm64 { dst, .. }) = out.get(pc).copied() {
            out[pc] = Insn::LdImm64 {
                dst,
                kind,
                imm: value(idx),
            };
        }
    }
    out
}

#[test]
fn sample_programs_against_the_kernel() {
    if let Err(e) = common::kernel::available() {
        println!("skipped: bpf(2) unavailable: {e}");
        return;
    }
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpora/ebpf-samples"
    ));
    let mut files: Vec<_> = [
        "linux",
        "new_linux",
        "prototype-kernel",
        "build",
        "cilium-examples",
        "bpf_cilium_test",
    ]
    .iter()
    .flat_map(|d| {
        std::fs::read_dir(root.join(d))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
    })
    .filter(|p| p.extension().is_some_and(|x| x == "o"))
    .collect();
    if files.is_empty() {
        println!("skipped: sample objects not found");
        return;
    }
    files.sort();
    let (mut total, mut agree, mut both_reject, mut both_accept) = (0, 0, 0, 0);
    let mut unsound = vec![];
    let mut imprecise = vec![];
    for f in &files {
        for s in samples(f) {
            let Ok(fds) = s
                .maps
                .iter()
                .map(common::kernel::create_map)
                .collect::<Result<Vec<_>, _>>()
            else {
                continue;
            };
            let theirs = patch(&s.insns, &s.relocs, Imm64Kind::MapFd, |i| fds[i].0 as i64);
            let k = common::kernel::load(s.prog_type, &ebee_isa::encode(&theirs));
            let ours = patch(&s.insns, &s.relocs, Imm64Kind::MapIdx, |i| i as i64);
            let pt = ProgramType::from_kernel(s.prog_type).unwrap();
            let table = Maps::from_indexed(&s.maps);
            let v = verify(&Program::new(&ours, &pt, &table), &Options::default());
            total += 1;
            match (k.is_ok(), v.verdict.is_accepted()) {
                (true, true) => {
                    agree += 1;
                    both_accept += 1
                }
                (false, false) => {
                    agree += 1;
                    both_reject += 1
                }
                (false, true) => unsound.push(format!(
                    "{}: kernel rejects ({:?}) but we accept",
                    s.name,
                    k.err()
                )),
                (true, false) => {
                    imprecise.push(format!("{}: {}", s.name, v.verdict.rejection().unwrap()))
                }
            }
        }
    }
    println!("sample programs: {agree}/{total} agree with the kernel ({both_accept} both accept, {both_reject} both reject); we reject {} the kernel accepts:", imprecise.len());
    for i in &imprecise {
        println!("  {}", i.chars().take(300).collect::<String>());
    }
    assert!(unsound.is_empty(), "{}", unsound.join("\n"));
}
