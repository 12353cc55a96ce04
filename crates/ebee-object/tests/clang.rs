//! C programs compiled by clang-19 in the test, parsed, and checked against
//! what LLVM's and the kernel's own tools (`llvm-objdump-19`, `bpftool`)
//! say about the same object: maps, globals, subprogram linking, bpf_loop
//! callbacks, several programs per section, BTF and line info.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

mod common;

use ebee_isa::{CallTarget, Imm64Kind, Insn};
use ebee_object::btf::TypeKind;
use ebee_object::{GlobalKind, MapBinding, MapType, Object, ProgramType, RelocKind, SlotTarget};

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(name)
}

/// Compile `tests/c/<name>` into a fresh temp dir (once per test run);
/// `None` without clang-19.
fn compile(name: &str) -> Option<PathBuf> {
    compile_with(name, &[])
}

/// [`compile`] with extra clang arguments (`-DNAME`).
fn compile_with(name: &str, extra: &[&str]) -> Option<PathBuf> {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    if !have("clang-19") {
        println!("skipped: clang-19 not found");
        return None;
    }
    let key = format!("{name}{}", extra.concat());
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap();
    if let Some(p) = cache.get(&key) {
        return Some(p.clone());
    }
    let dir = std::env::temp_dir().join(format!("ebee-object-{}-{key}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name.replace(".c", ".o"));
    let status = Command::new("clang-19")
        .args([
            "-O2",
            "-g",
            "-target",
            "bpf",
            "-mcpu=v4",
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
        ])
        .args(extra)
        .arg(source(name))
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "clang-19 failed on {name}");
    cache.insert(key, out.clone());
    Some(out)
}

fn parse(path: &Path) -> Object {
    Object::parse(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `llvm-objdump -t`: symbol name → (section, value).
fn objdump_symbols(path: &Path) -> Option<BTreeMap<String, (String, u64)>> {
    if !have("llvm-objdump-19") {
        println!("skipped part: llvm-objdump-19 not found");
        return None;
    }
    let out = Command::new("llvm-objdump-19")
        .arg("-t")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut map = BTreeMap::new();
    for line in text.lines() {
        // 0000000000000008 g     O .data	0000000000000004 second
        let Some((left, right)) = line.split_once('\t') else {
            continue;
        };
        let value = u64::from_str_radix(&left[..16.min(left.len())], 16);
        let section = left.split_whitespace().last().unwrap_or("").to_string();
        let name = right.split_whitespace().nth(1).unwrap_or("").to_string();
        if let Ok(value) = value {
            map.insert(name, (section, value));
        }
    }
    Some(map)
}

/// `llvm-objdump -h`: section name → size.
fn objdump_sections(path: &Path) -> BTreeMap<String, u64> {
    let out = Command::new("llvm-objdump-19")
        .arg("-h")
        .arg(path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() >= 3 && f[0].parse::<u32>().is_ok() {
            if let Ok(size) = u64::from_str_radix(f[2], 16) {
                map.insert(f[1].to_string(), size);
            }
        }
    }
    map
}

#[test]
fn subprograms_are_linked_into_each_caller() {
    let Some(path) = compile("subprogs.c") else {
        return;
    };
    let obj = parse(&path);
    assert_eq!(obj.license(), Some("Dual BSD/GPL"));

    let entries: BTreeSet<(&str, &str)> = obj
        .entry_programs()
        .map(|p| (p.section.as_str(), p.name.as_str()))
        .collect();
    assert_eq!(
        entries,
        BTreeSet::from([
            ("xdp", "first"),
            ("xdp", "second"),
            ("tc", "third"),
            ("tc", "fourth")
        ])
    );
    let subs: BTreeSet<&str> = obj
        .programs()
        .iter()
        .filter(|p| p.subprogram)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(
        subs,
        BTreeSet::from(["leaf", "middle", "global_helper", "loop_body"])
    );
    assert_eq!(
        obj.program("first").unwrap().program_type(),
        ProgramType::Xdp
    );
    assert_eq!(
        obj.program("third").unwrap().program_type(),
        ProgramType::SchedCls
    );

    let linked = |name: &str| -> Vec<String> {
        obj.program(name)
            .unwrap()
            .functions
            .iter()
            .map(|f| f.name.clone())
            .collect()
    };
    assert_eq!(linked("first"), ["first", "middle", "leaf"]);
    // Depth first, like libbpf: middle's callee before the next call.
    assert_eq!(
        linked("fourth"),
        ["fourth", "middle", "leaf", "global_helper"]
    );
    assert_eq!(linked("second"), ["second", "leaf"]);
    assert_eq!(
        linked("third"),
        ["third", "loop_body", "global_helper", "middle", "leaf"]
    );

    for p in obj.programs() {
        // Every local call and function address lands on the start of the
        // function the relocation names, and each function appears once.
        let names: BTreeSet<&str> = p.functions.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names.len(),
            p.functions.len(),
            "{}: a function linked twice",
            p.name
        );
        for r in &p.relocs {
            let (function, target_pc) = match &r.kind {
                RelocKind::Call {
                    function,
                    target_pc,
                } => {
                    let Insn::Call(CallTarget::Local(imm)) = p.insns[r.pc] else {
                        panic!("{}: pc {} is not a local call", p.name, r.pc)
                    };
                    assert_eq!(r.pc as i64 + 1 + imm as i64, *target_pc as i64);
                    (function, *target_pc)
                }
                RelocKind::FuncAddr {
                    function,
                    target_pc,
                } => {
                    let Insn::LdImm64 {
                        kind: Imm64Kind::Func,
                        imm,
                        ..
                    } = p.insns[r.pc]
                    else {
                        panic!("{}: pc {} is not lddw of a function", p.name, r.pc)
                    };
                    assert_eq!(r.pc as i64 + 1 + imm, *target_pc as i64);
                    (function, *target_pc)
                }
                other => panic!("{}: unexpected relocation {other:?}", p.name),
            };
            let f = p.functions.iter().find(|f| &f.name == function).unwrap();
            assert_eq!(
                f.start, target_pc,
                "{}: {} placed at {}",
                p.name, function, f.start
            );
        }
        // The linked copy of each function is the function itself, except
        // for the call distances.
        for f in &p.functions {
            let own = obj.program(&f.name).unwrap();
            assert_eq!(own.functions[0].len, f.len);
            for i in 0..f.len {
                let (a, b) = (p.insns[f.start + i], own.insns[i]);
                match (a, b) {
                    (Insn::Call(CallTarget::Local(_)), Insn::Call(CallTarget::Local(_))) => {}
                    (
                        Insn::LdImm64 {
                            kind: Imm64Kind::Func,
                            ..
                        },
                        Insn::LdImm64 {
                            kind: Imm64Kind::Func,
                            ..
                        },
                    ) => {}
                    _ => assert_eq!(a, b, "{}: {} + {i}", p.name, f.name),
                }
            }
        }
    }
    let third = obj.program("third").unwrap();
    assert!(third.relocs.iter().any(
        |r| matches!(&r.kind, RelocKind::FuncAddr { function, .. } if function == "loop_body")
    ));

    // Line info: every record's text is the source line it names, and a pc
    // in a linked subprogram maps to that subprogram's source.
    let src = std::fs::read_to_string(source("subprogs.c")).unwrap();
    let src_lines: Vec<&str> = src.lines().collect();
    let mut checked = 0;
    for p in obj.programs() {
        assert!(!p.lines.is_empty(), "{}: no line info", p.name);
        for l in &p.lines {
            assert!(l.file.ends_with("subprogs.c"), "{}", l.file);
            assert_eq!(
                l.line_text.trim(),
                src_lines[l.line as usize - 1].trim(),
                "{}:{}",
                p.name,
                l.line
            );
            checked += 1;
        }
        assert_eq!(
            p.func_info.len(),
            p.functions.len(),
            "{}: func_info per linked function",
            p.name
        );
        for (fi, f) in p.func_info.iter().zip(&p.functions) {
            assert_eq!(fi.pc, f.start);
            let t = obj.btf().unwrap().type_by_id(fi.type_id).unwrap();
            assert_eq!((t.kind_name(), t.name.as_str()), ("FUNC", f.name.as_str()));
        }
    }
    let first = obj.program("first").unwrap();
    let leaf = first.functions.iter().find(|f| f.name == "leaf").unwrap();
    let line = first.line_for_pc(leaf.start + 1).unwrap();
    assert!(line.line_text.contains("x * 3 + 1"), "{line:?}");
    let shown = line.to_string();
    assert!(
        shown.ends_with(&format!("subprogs.c:{}: return x * 3 + 1;", line.line)),
        "{shown}"
    );
    println!(
        "subprogs.c: {} programs, {checked} line records checked against the source",
        obj.programs().len()
    );
}

#[test]
fn btf_and_legacy_maps() {
    let Some(path) = compile("maps.c") else {
        return;
    };
    let obj = parse(&path);
    let Some(symbols) = objdump_symbols(&path) else {
        return;
    };
    // Legacy maps first, then BTF maps in the order llvm-objdump places them.
    let mut btf_maps = [
        "hash_map",
        "sized_array",
        "inner_map",
        "outer_map",
        "jump_table",
    ];
    btf_maps.sort_by_key(|m| symbols[*m].1);
    let names: Vec<&str> = obj.maps().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names[..2], ["legacy_a", "legacy_b"]);
    assert_eq!(names[2..], btf_maps);
    let (_, m) = obj.map("hash_map").unwrap();
    let btf = obj.btf().unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries, m.flags),
        (MapType::Hash, 8, 48, 1024, 1)
    );
    assert_eq!(
        btf.type_by_id(m.btf_key_type_id.unwrap()).unwrap().name,
        "key"
    );
    assert_eq!(
        btf.type_by_id(m.btf_value_type_id.unwrap()).unwrap().name,
        "value"
    );
    let (_, m) = obj.map("sized_array").unwrap();
    assert_eq!(
        (
            m.map_type,
            m.key_size,
            m.value_size,
            m.max_entries,
            m.pinning
        ),
        (MapType::Array, 4, 8, 16, 1)
    );
    let (_, m) = obj.map("legacy_a").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::PercpuArray, 4, 16, 8)
    );
    let (_, m) = obj.map("legacy_b").unwrap();
    assert_eq!(
        (
            m.map_type.number(),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.flags
        ),
        (9, 8, 4, 100, 2)
    );
    let (_, m) = obj.map("outer_map").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::ArrayOfMaps, 4, 4, 4)
    );
    let inner = m.inner.as_ref().unwrap();
    assert_eq!(
        (
            inner.map_type,
            inner.key_size,
            inner.value_size,
            inner.max_entries
        ),
        (MapType::Array, 4, 8, 2)
    );
    assert_eq!(m.slots.len(), 1);
    assert_eq!(
        (m.slots[0].index, &m.slots[0].target),
        (1, &SlotTarget::Map("inner_map".into()))
    );
    let (_, m) = obj.map("jump_table").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::ProgArray, 4, 4, 8)
    );
    assert_eq!(
        (m.slots[0].index, &m.slots[0].target),
        (3, &SlotTarget::Program("tail".into()))
    );

    // The program's lddw's refer to the maps in source order.
    let p = obj.program("use_maps").unwrap();
    let refs: Vec<&str> = p
        .relocs
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::Map { map } => Some(obj.maps()[map].name.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        refs,
        [
            "hash_map",
            "sized_array",
            "legacy_a",
            "legacy_b",
            "outer_map",
            "jump_table"
        ]
    );
    let fds: Vec<i32> = (0..obj.maps().len() as i32).map(|i| 100 + i).collect();
    let bound = p.bind_maps(MapBinding::Fds(&fds)).unwrap();
    let by_index = p.bind_maps(MapBinding::Indices).unwrap();
    assert_eq!(by_index, p.insns);
    for r in &p.relocs {
        let RelocKind::Map { map } = r.kind else {
            continue;
        };
        assert!(
            matches!(bound[r.pc], Insn::LdImm64 { kind: Imm64Kind::MapFd, imm, .. } if imm == 100 + map as i64)
        );
        assert!(
            matches!(by_index[r.pc], Insn::LdImm64 { kind: Imm64Kind::MapIdx, imm, .. } if imm == map as i64)
        );
    }
    assert!(p.bind_maps(MapBinding::Fds(&fds[..2])).is_err());
}

#[test]
fn globals_are_array_maps() {
    let Some(path) = compile("globals.c") else {
        return;
    };
    let obj = parse(&path);
    let Some(symbols) = objdump_symbols(&path) else {
        return;
    };
    let sizes = objdump_sections(&path);
    let names: Vec<&str> = obj.maps().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, [".data", ".rodata", ".data.custom", ".bss"]);
    for m in obj.maps() {
        assert_eq!(u64::from(m.value_size), sizes[&m.name], "{}", m.name);
        assert_eq!(
            (m.map_type, m.key_size, m.max_entries),
            (MapType::Array, 4, 1)
        );
        let ds = m.btf_value_type_id.unwrap();
        assert_eq!(obj.btf().unwrap().type_by_id(ds).unwrap().name, m.name);
    }
    let (_, rodata) = obj.map(".rodata").unwrap();
    assert!(rodata.frozen && rodata.flags & ebee_object::map_def::BPF_F_RDONLY_PROG != 0);
    assert!(matches!(
        rodata.origin,
        ebee_object::MapOrigin::Global(GlobalKind::Rodata)
    ));
    let data = rodata.data.as_ref().unwrap();
    let limit_off = symbols["limit"].1 as usize;
    assert_eq!(
        u32::from_le_bytes(data[limit_off..limit_off + 4].try_into().unwrap()),
        42
    );
    let (_, d) = obj.map(".data").unwrap();
    assert!(!d.frozen);
    assert_eq!(
        &d.data.as_ref().unwrap()[symbols["counter"].1 as usize..][..8],
        &7u64.to_le_bytes()
    );
    assert!(obj
        .map(".bss")
        .unwrap()
        .1
        .data
        .as_ref()
        .unwrap()
        .iter()
        .all(|&b| b == 0));

    // Every global access points at the variable llvm-objdump places there.
    let p = obj.program("globals").unwrap();
    let got: BTreeSet<(String, u32)> = p
        .relocs
        .iter()
        .filter_map(|r| match r.kind {
            RelocKind::MapValue { map, offset } => Some((obj.maps()[map].name.clone(), offset)),
            _ => None,
        })
        .collect();
    let want: BTreeSet<(String, u32)> =
        ["counter", "limit", "second", "zeroed", "factor", "custom"]
            .iter()
            .map(|v| (symbols[*v].0.clone(), symbols[*v].1 as u32))
            // `more_zeroed[2]`: clang folds the element offset into the store.
            .chain([(
                symbols["more_zeroed"].0.clone(),
                symbols["more_zeroed"].1 as u32,
            )])
            .collect();
    assert_eq!(got, want);
    for r in &p.relocs {
        let RelocKind::MapValue { map, offset } = r.kind else {
            continue;
        };
        let Insn::LdImm64 {
            kind: Imm64Kind::MapIdxValue,
            imm,
            ..
        } = p.insns[r.pc]
        else {
            panic!()
        };
        assert_eq!(imm, (i64::from(offset) << 32) | map as i64);
    }
}

/// Every type of `path`'s BTF as `bpftool btf dump file` prints it: the
/// header line's id, kind, name and size, and each member line.
fn compare_with_bpftool(
    path: &Path,
    btf: &ebee_object::Btf,
    sections: &BTreeMap<String, u64>,
) -> Option<usize> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file"])
        .arg(path)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).unwrap();
    let mut current: Option<(u32, usize)> = None;
    let mut count = 0;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            let (id, rest) = rest.split_once("] ").unwrap();
            let id: u32 = id.parse().unwrap();
            let (kind, rest) = rest.split_once(' ').unwrap();
            let name = rest.split('\'').nth(1).unwrap();
            let t = btf
                .type_by_id(id)
                .unwrap_or_else(|| panic!("type {id} missing"));
            assert_eq!(t.kind_name(), kind, "type {id}");
            let name = if name == "(anon)" { "" } else { name };
            assert_eq!(t.name, name, "type {id}");
            if let Some(size) = rest
                .split_whitespace()
                .find_map(|w| w.strip_prefix("size="))
            {
                let size: u64 = size.trim_end_matches(',').parse().unwrap();
                match &t.kind {
                    // clang leaves DATASEC sizes at 0; we fill them in
                    // from the ELF sections.
                    TypeKind::Datasec { size: ours, .. } if size == 0 && !sections.is_empty() => {
                        if let Some(&want) = sections.get(&t.name) {
                            assert_eq!(u64::from(*ours), want, "DATASEC {}", t.name);
                        }
                    }
                    TypeKind::Datasec { size: ours, .. } => {
                        assert_eq!(u64::from(*ours), size, "type {id}")
                    }
                    _ => assert_eq!(btf.size_of(id).unwrap(), size, "size of type {id}"),
                }
            }
            current = Some((id, 0));
            count += 1;
        } else if let (Some((id, idx)), Some(rest)) = (current.as_mut(), line.strip_prefix('\t')) {
            let t = btf.type_by_id(*id).unwrap();
            if let Some(members) = t.members() {
                let m = &members[*idx];
                let name = rest.split('\'').nth(1).unwrap();
                let name = if name == "(anon)" { "" } else { name };
                assert_eq!(m.name, name, "type {id} member {idx}");
                let ty: u32 = rest
                    .split("type_id=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(m.ty, ty, "type {id} member {idx}");
                let off: u32 = rest
                    .split("bits_offset=")
                    .nth(1)
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert_eq!(m.bit_offset, off, "type {id} member {idx}");
            }
            *idx += 1;
        }
    }
    assert_eq!(count + 1, btf.len(), "number of types");
    Some(count)
}

#[test]
fn btf_matches_bpftool() {
    if !have("clang-19") {
        println!("skipped: clang-19 not found");
        return;
    }
    if Command::new("bpftool").arg("version").output().is_err() {
        println!("skipped: bpftool not found");
        return;
    }
    for name in ["maps.c", "globals.c", "subprogs.c"] {
        let path = compile(name).unwrap();
        let obj = parse(&path);
        let btf = obj.btf().unwrap();
        let n = compare_with_bpftool(&path, btf, &objdump_sections(&path)).expect("bpftool failed");
        // Written back and read again, it is the same BTF.
        let again = ebee_object::Btf::parse(&btf.to_bytes()).unwrap();
        assert_eq!(again.types(), btf.types(), "{name}: BTF round trip");
        println!("{name}: {n} BTF types agree with bpftool, and survive a round trip");
    }
}

#[test]
fn kernel_btf_parses_and_matches_bpftool() {
    let path = Path::new("/sys/kernel/btf/vmlinux");
    let Ok(bytes) = std::fs::read(path) else {
        println!("skipped: /sys/kernel/btf/vmlinux not readable");
        return;
    };
    let t0 = std::time::Instant::now();
    let btf = ebee_object::Btf::parse(&bytes).unwrap();
    println!(
        "vmlinux BTF: {} types parsed in {:?}",
        btf.len(),
        t0.elapsed()
    );
    let ts = btf.id_by_name_kind("task_struct", "STRUCT").unwrap();
    assert!(btf.size_of(ts).unwrap() > 1000);
    assert!(btf.types()[ts as usize]
        .members()
        .unwrap()
        .iter()
        .any(|m| m.name == "pid"));
    if Command::new("bpftool").arg("version").output().is_err() {
        println!("skipped part: bpftool not found");
        return;
    }
    let n = compare_with_bpftool(path, &btf, &BTreeMap::new()).expect("bpftool failed");
    let bytes_again = btf.to_bytes();
    assert_eq!(
        ebee_object::Btf::parse(&bytes_again).unwrap().types(),
        btf.types()
    );
    println!(
        "vmlinux: {n} BTF types agree with bpftool; written back {}",
        if bytes_again == bytes {
            "byte for byte"
        } else {
            "with the same types"
        }
    );
}

/// `bpftool btf dump file /sys/kernel/btf/vmlinux`, kept in memory.
fn vmlinux_dump() -> Option<String> {
    let out = Command::new("bpftool")
        .args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8(out.stdout).unwrap())
}

/// From a bpftool dump: the header line and member lines of `kind 'name'`.
fn bpftool_type<'a>(dump: &'a str, header: &str) -> Vec<&'a str> {
    let mut lines = dump.lines().skip_while(|l| !l.contains(header));
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("{header} not in vmlinux BTF"));
    std::iter::once(head)
        .chain(lines.take_while(|l| l.starts_with('\t')))
        .collect()
}

fn bpftool_member_bits(dump: &str, header: &str, member: &str) -> u64 {
    let lines = bpftool_type(dump, header);
    let line = lines
        .iter()
        .find(|l| l.starts_with(&format!("\t'{member}' ")))
        .unwrap();
    line.split("bits_offset=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn core_relocations_resolve_against_vmlinux() {
    let Some(path) = compile("core.c") else {
        return;
    };
    let Ok(vmlinux) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        println!("skipped: /sys/kernel/btf/vmlinux not readable");
        return;
    };
    let Some(dump) = vmlinux_dump() else {
        println!("skipped: bpftool not found");
        return;
    };
    let target = ebee_object::Btf::parse(&vmlinux).unwrap();
    let mut obj = parse(&path);

    // Our CO-RE records are the ones llvm-objdump lists (pc and access).
    let out = Command::new("llvm-objdump-19")
        .arg("-dr")
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let listed: BTreeSet<(usize, String)> = text
        .lines()
        .filter(|l| l.contains("CO-RE <"))
        .map(|l| {
            let off = usize::from_str_radix(l.trim().split(':').next().unwrap(), 16).unwrap();
            // Field relocations end with their access string in parens.
            let access = match l.trim_end().strip_suffix(')') {
                Some(rest) => rest.rsplit('(').next().unwrap().to_string(),
                None => String::new(),
            };
            (off / 8, access)
        })
        .collect();
    let prog = obj.program("core").unwrap();
    let ours: BTreeSet<(usize, String)> = prog
        .core_relos
        .iter()
        .map(|r| {
            let field = (r.kind as u32) <= 5; // the FIELD_* kinds
            (
                r.pc,
                if field {
                    r.access.clone()
                } else {
                    String::new()
                },
            )
        })
        .collect();
    assert_eq!(ours, listed);

    let res = obj.relocate_core(&target).unwrap().remove(0);
    let task = "STRUCT 'task_struct' ";
    let byte = |m: &str| bpftool_member_bits(&dump, task, m) / 8;
    let list_prev = bpftool_member_bits(&dump, "STRUCT 'list_head' ", "prev") / 8;
    let task_size: u64 = bpftool_type(&dump, task)[0]
        .split("size=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let tgid_value: u64 = bpftool_type(&dump, "ENUM 'pid_type' ")
        .iter()
        .find(|l| l.contains("'PIDTYPE_TGID'"))
        .unwrap()
        .split("val=")
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let task_id: u64 = dump.lines().find(|l| l.contains(task)).unwrap()[1..]
        .split(']')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let by_pc: BTreeMap<usize, Option<u64>> = res.iter().map(|r| (r.pc, r.target)).collect();
    let expect = [
        (2, byte("pid")),
        (13, byte("tgid")),
        (22, byte("real_parent")),
        (29, byte("comm") + 3),
        (38, tgid_value),
        (41, byte("children") + list_prev),
        (43, 16),
        (45, task_size),
        (47, 0),
        (49, 1),
        (51, 0),
        (96, task_id),
        (99, 1),
        (101, 0),
    ];
    // Bitfields: libbpf's rule (the smallest aligned load of the member's
    // type that holds all its bits) on bpftool's bit offsets.
    let mut expect = expect.to_vec();
    for (field, pcs) in [
        ("sched_reset_on_fork", [54, 59, 62, 63, 65, 67]),
        ("sched_migrated", [71, 77, 80, 81, 83, 85]),
    ] {
        let bit = bpftool_member_bits(&dump, task, field);
        let (mut sz, bits) = (4u64, 1u64);
        let mut off = bit / 8 / sz * sz;
        while bit + bits - off * 8 > sz * 8 {
            sz *= 2;
            off = bit / 8 / sz * sz;
        }
        let lshift = 64 - (bit + bits - off * 8);
        expect.extend([
            (pcs[0], off),
            (pcs[1], sz),
            (pcs[2], lshift),
            (pcs[3], 0),
            (pcs[4], 63),
            (pcs[5], 63),
        ]);
    }
    // A field the kernel does not have: the read is poisoned.
    assert_eq!(by_pc[&87], None);
    assert_eq!(
        obj.program("core").unwrap().insns[87],
        Insn::Call(CallTarget::Helper(ebee_object::core::POISON_HELPER))
    );
    for (pc, want) in expect {
        assert_eq!(by_pc[&pc], Some(want), "pc {pc}");
        let got = match obj.program("core").unwrap().insns[pc] {
            Insn::Alu {
                src: ebee_isa::Operand::Imm(i),
                ..
            } => i as u64,
            Insn::LdImm64 { imm, .. } => imm as u64,
            other => panic!("pc {pc}: {other:?}"),
        };
        assert_eq!(got, want, "patched instruction at pc {pc}");
    }
    println!(
        "CO-RE: {} relocations resolved against vmlinux (task_struct.pid at {}, size {task_size})",
        res.len(),
        byte("pid")
    );
}

fn mix(x: u32) -> u32 {
    x.wrapping_mul(2654435761) ^ (x >> 7)
}

fn twice(x: u32) -> u32 {
    mix(x).wrapping_add(mix(x.wrapping_add(1)))
}

fn thrice(x: u32) -> u32 {
    twice(x) ^ mix(x.wrapping_mul(3))
}

#[test]
fn linked_programs_run_in_the_kernel() {
    let Some(path) = compile("kernel.c") else {
        return;
    };
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let obj = parse(&path);
    let license = obj.license().unwrap();
    let mut runs = 0;
    for (name, expect) in [
        (
            "sock_a",
            (|len: u32| thrice(len) & 0xffff) as fn(u32) -> u32,
        ),
        ("sock_b", |len: u32| {
            mix(len + 3).wrapping_add(twice(7)) & 0xffff
        }),
    ] {
        let p = obj.program(name).unwrap();
        assert_eq!(
            p.program_type().number(),
            ebee_kernel::ProgramType::SocketFilter.number()
        );
        let insns = p.bind_maps(MapBinding::Indices).unwrap();
        let prog = ebee_kernel::KernelProgram::load(
            ebee_kernel::ProgramType::SocketFilter,
            &insns,
            license,
            &ebee_kernel::LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{name}: the kernel rejects our linked program: {e}"));
        for len in [14u32, 60, 61, 200, 1500] {
            let packet = vec![0u8; len as usize];
            let out = prog.test_run(&ebee_kernel::TestRun::new(&packet)).unwrap();
            // Socket filters see the packet after its Ethernet header.
            assert_eq!(out.retval, expect(len - 14), "{name} on {len} bytes");
            runs += 1;
        }
    }
    println!("kernel: 2 linked programs loaded, {runs} test runs agree with the C semantics");
}

#[test]
fn iproute2_elf_maps() {
    let Some(path) = compile("iproute2.c") else {
        return;
    };
    let obj = parse(&path);
    let names: Vec<&str> = obj.maps().iter().map(|m| m.name.as_str()).collect();
    let Some(symbols) = objdump_symbols(&path) else {
        return;
    };
    let mut want = ["inner_tpl", "outer"];
    want.sort_by_key(|m| symbols[*m].1);
    assert_eq!(names, want);
    let (oi, outer) = obj.map("outer").unwrap();
    let (ii, _) = obj.map("inner_tpl").unwrap();
    assert_eq!(
        (outer.map_type, outer.pinning, outer.inner_index),
        (MapType::HashOfMaps, 2, Some(ii))
    );
    assert!(matches!(
        outer.origin,
        ebee_object::MapOrigin::Legacy { def_size: 36, .. }
    ));
    let p = obj.program("cls").unwrap();
    assert_eq!(p.program_type(), ProgramType::SchedCls);
    assert!(p
        .relocs
        .iter()
        .any(|r| r.kind == RelocKind::Map { map: oi }));
}

/// `BPF_BTF_LOAD` (the part of `union bpf_attr` it uses).
#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    btf_log_true_size: u32,
}

fn btf_load(bytes: &[u8]) -> Result<std::os::fd::OwnedFd, String> {
    use std::os::fd::FromRawFd;
    let mut log = vec![0u8; 1 << 20];
    let mut attr = BtfLoadAttr {
        btf: bytes.as_ptr() as u64,
        btf_log_buf: log.as_mut_ptr() as u64,
        btf_size: bytes.len() as u32,
        btf_log_size: log.len() as u32,
        btf_log_level: 1,
        btf_log_true_size: 0,
    };
    // SAFETY: `attr` is a repr(C) prefix of `union bpf_attr` for
    // BPF_BTF_LOAD (18); its pointers are to `bytes` (readable, `btf_size`
    // long) and `log` (writable, `btf_log_size` long), both alive for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            18 as libc::c_long,
            &mut attr as *mut BtfLoadAttr as *mut libc::c_void,
            std::mem::size_of::<BtfLoadAttr>() as libc::c_long,
        )
    };
    if fd < 0 {
        let err = std::io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        return Err(format!("{err}: {}", String::from_utf8_lossy(&log[..end])));
    }
    // SAFETY: a nonnegative BPF_BTF_LOAD result is a new fd nobody else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

#[test]
fn btf_func_and_line_info_load_in_the_kernel() {
    use std::os::fd::AsRawFd;
    let Some(path) = compile("subprogs.c") else {
        return;
    };
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    // The fixed-up BTF of every test object is accepted by the kernel.
    for name in ["maps.c", "globals.c", "subprogs.c", "core.c", "kernel.c"] {
        let obj = parse(&compile(name).unwrap());
        btf_load(&obj.btf().unwrap().to_bytes())
            .unwrap_or_else(|e| panic!("{name}: kernel rejects BTF: {e}"));
    }
    // `third` hands a static callback to bpf_loop, which the kernel only
    // accepts with func_info that matches the linked layout exactly.
    let obj = parse(&path);
    let btf_fd = btf_load(&obj.btf().unwrap().to_bytes()).unwrap();
    let p = obj.program("third").unwrap();
    let insns = ebee_isa::encode(&p.bind_maps(MapBinding::Indices).unwrap());
    let func_info: Vec<[u32; 2]> = p.func_info.iter().map(|f| f.to_kernel()).collect();
    let line_info: Vec<[u32; 4]> = p.lines.iter().map(|l| l.to_kernel()).collect();
    let mut attr = ebee_kernel::sys::ProgLoadAttr {
        prog_type: ebee_kernel::ProgramType::SchedCls.number(),
        log_level: 1,
        prog_btf_fd: btf_fd.as_raw_fd() as u32,
        func_info_rec_size: 8,
        func_info: func_info.as_ptr() as u64,
        func_info_cnt: func_info.len() as u32,
        line_info_rec_size: 16,
        line_info: line_info.as_ptr() as u64,
        line_info_cnt: line_info.len() as u32,
        ..Default::default()
    };
    let license = std::ffi::CString::new(obj.license().unwrap()).unwrap();
    let mut log = vec![0u8; 1 << 20];
    attr.insns = insns.as_ptr() as u64;
    attr.insn_cnt = (insns.len() / 8) as u32;
    attr.license = license.as_ptr() as u64;
    attr.log_buf = log.as_mut_ptr() as u64;
    attr.log_size = log.len() as u32;
    // (ebee-kernel's safe `prog_load` does not take BTF records yet, so this
    // test makes the call itself.)
    // SAFETY: `attr` is ebee-kernel's repr(C) BPF_PROG_LOAD (5) attribute;
    // every nonzero pointer in it refers to a live buffer of the size or
    // count given next to it (`insns`, `license`, `log`, `func_info`,
    // `line_info`), all borrowed until the call returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            5 as libc::c_long,
            &mut attr as *mut ebee_kernel::sys::ProgLoadAttr as *mut libc::c_void,
            std::mem::size_of::<ebee_kernel::sys::ProgLoadAttr>() as libc::c_long,
        )
    };
    if ret < 0 {
        let e = std::io::Error::last_os_error();
        let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
        panic!(
            "kernel rejects `third`: {e}\n{}",
            String::from_utf8_lossy(&log[..end])
        );
    }
    // SAFETY: a nonnegative BPF_PROG_LOAD result is a new fd nobody else owns.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(ret as i32) };
    use std::os::fd::AsFd;
    for len in [14usize, 64, 100] {
        let packet = vec![0u8; len];
        let mut out = vec![0u8; len + 4096];
        let mut run = ebee_kernel::sys::TestRunAttr::default();
        ebee_kernel::sys::prog_test_run(&mut run, fd.as_fd(), &packet, &mut out, &[], &mut [])
            .unwrap();
        // sum of 0..10, global_helper(len) = len ^ 0x55, middle(1) = 4 + 7.
        assert_eq!(
            run.retval,
            45 + (len as u32 ^ 0x55) + 11,
            "third on {len} bytes"
        );
    }
    println!(
        "kernel: BTF of 5 objects loaded; `third` loaded with {} func_info and {} line_info records and ran",
        func_info.len(),
        line_info.len()
    );
}

#[test]
fn same_instructions_as_libbpf() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let mut compared = 0;
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux")
        .ok()
        .map(|b| ebee_object::Btf::parse(&b).unwrap());
    let mut objects = vec![
        ("subprogs.c", &[][..]),
        ("globals.c", &[]),
        ("kernel.c", &[]),
        ("maps.c", &["-DNO_LEGACY"]),
    ];
    if vmlinux.is_some() {
        // libbpf applies CO-RE relocations against the running kernel too.
        objects.push(("core.c", &["-DLOADABLE"]));
    }
    for (name, extra) in objects {
        let Some(path) = compile_with(name, extra) else {
            return;
        };
        let dump = match common::libbpf_dump(&path) {
            Ok(Some(d)) => d,
            Ok(None) => panic!("libbpf fails to load {name}"),
            Err(e) => {
                println!("skipped: {e}");
                return;
            }
        };
        let mut obj = parse(&path);
        if let Some(target) = &vmlinux {
            obj.relocate_core(target).unwrap();
        }
        compared += common::compare_with_libbpf(name, &obj, &dump);
    }
    println!("libbpf: {compared} programs are instruction-for-instruction what libbpf loads");
}

#[test]
fn externs_are_classified_by_btf() {
    use ebee_object::ExternKind::*;
    let Some(path) = compile("externs.c") else {
        return;
    };
    let obj = parse(&path);
    let got: BTreeMap<&str, (ebee_object::ExternKind, bool)> = obj
        .externs()
        .iter()
        .map(|e| (e.name.as_str(), (e.kind, e.weak)))
        .collect();
    let want = BTreeMap::from([
        ("bpf_task_acquire", (Kfunc, false)),
        ("bpf_task_release", (Kfunc, false)),
        ("bpf_prog_active", (Ksym, false)),
        ("bpf_link_fops", (Ksym, true)),
        ("LINUX_KERNEL_VERSION", (Kconfig, false)),
        ("CONFIG_HZ", (Kconfig, true)),
    ]);
    assert_eq!(got, want);
    for e in obj.externs() {
        let t = obj.btf().unwrap().type_by_id(e.btf_type.unwrap()).unwrap();
        assert_eq!(t.name, e.name);
    }
    // Every use is a relocation naming the extern: calls for kfuncs, lddw for the rest.
    let p = obj.program("newtask").unwrap();
    let uses: BTreeMap<&str, bool> = p
        .relocs
        .iter()
        .filter_map(|r| match &r.kind {
            RelocKind::Extern { symbol, call } => Some((symbol.as_str(), *call)),
            _ => None,
        })
        .collect();
    assert_eq!(uses.len(), 6);
    for (name, call) in uses {
        assert_eq!(call, got[name].0 == Kfunc, "{name}");
    }
}

/// Section names libbpf 1.1 (the reference on these machines) knows.
/// (Newer ones we also classify, after later libbpf: `tcx/*`, `netkit/*`,
/// `sk_skb/verdict`, `struct_ops.s`, `uprobe.multi`, `kprobe.session`.)
const LIBBPF_SECTIONS: &[&str] = &[
    "socket",
    "sk_reuseport",
    "sk_reuseport/migrate",
    "kprobe/do_unlinkat",
    "uprobe/bin:func",
    "kretprobe/do_unlinkat",
    "uretprobe/bin:func",
    "uprobe.s/bin:func",
    "uretprobe.s/bin:func",
    "kprobe.multi/do_*",
    "kretprobe.multi/do_*",
    "ksyscall/write",
    "kretsyscall/write",
    "usdt/bin:p:n",
    "tc",
    "classifier",
    "action",
    "tracepoint/syscalls/sys_enter_write",
    "tp/sched/sched_switch",
    "raw_tracepoint/sys_enter",
    "raw_tp/sys_enter",
    "raw_tracepoint.w/sys_enter",
    "raw_tp.w/sys_enter",
    "tp_btf/sched_switch",
    "fentry/do_unlinkat",
    "fmod_ret/do_unlinkat",
    "fexit/do_unlinkat",
    "fentry.s/do_unlinkat",
    "fmod_ret.s/do_unlinkat",
    "fexit.s/do_unlinkat",
    "freplace/func",
    "lsm/file_open",
    "lsm.s/file_open",
    "lsm_cgroup/file_open",
    "iter/task",
    "iter.s/task",
    "syscall",
    "xdp.frags/devmap",
    "xdp/devmap",
    "xdp.frags/cpumap",
    "xdp/cpumap",
    "xdp.frags",
    "xdp",
    "perf_event",
    "lwt_in",
    "lwt_out",
    "lwt_xmit",
    "lwt_seg6local",
    "sockops",
    "sk_skb/stream_parser",
    "sk_skb/stream_verdict",
    "sk_skb",
    "sk_msg",
    "lirc_mode2",
    "flow_dissector",
    "cgroup_skb/ingress",
    "cgroup_skb/egress",
    "cgroup/skb",
    "cgroup/sock_create",
    "cgroup/sock_release",
    "cgroup/sock",
    "cgroup/post_bind4",
    "cgroup/post_bind6",
    "cgroup/bind4",
    "cgroup/bind6",
    "cgroup/connect4",
    "cgroup/connect6",
    "cgroup/sendmsg4",
    "cgroup/sendmsg6",
    "cgroup/recvmsg4",
    "cgroup/recvmsg6",
    "cgroup/getpeername4",
    "cgroup/getpeername6",
    "cgroup/getsockname4",
    "cgroup/getsockname6",
    "cgroup/sysctl",
    "cgroup/getsockopt",
    "cgroup/setsockopt",
    "cgroup/dev",
    "struct_ops/init",
    "sk_lookup",
];

#[test]
fn section_names_classified_like_libbpf() {
    if !have("clang-19") {
        println!("skipped: clang-19 not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ebee-object-{}-sections", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut c = String::from("#define SEC(n) __attribute__((section(n), used))\n");
    for (i, name) in LIBBPF_SECTIONS.iter().enumerate() {
        c.push_str(&format!(
            "SEC(\"{name}\") int prog{i}(void *ctx) {{ return 0; }}\n"
        ));
    }
    c.push_str("char LICENSE[] SEC(\"license\") = \"GPL\";\n");
    let (src, obj_path) = (dir.join("sections.c"), dir.join("sections.o"));
    std::fs::write(&src, c).unwrap();
    let ok = Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj_path)
        .status()
        .unwrap();
    assert!(ok.success());
    let obj = parse(&obj_path);
    let theirs = match common::libbpf_open(&obj_path) {
        Ok(Some((t, _))) => t,
        Ok(None) => panic!("libbpf cannot open the sections object"),
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    assert_eq!(theirs.len(), LIBBPF_SECTIONS.len());
    let mut differ = Vec::new();
    for (name, ty, eat) in &theirs {
        let p = obj.program(name).unwrap();
        let ours = (
            p.program_type().number(),
            p.kind.attach_type.map_or(0, |a| a.number()),
        );
        if ours != (*ty, *eat) {
            differ.push(format!(
                "`{}`: ours {ours:?}, libbpf {:?}",
                p.section,
                (ty, eat)
            ));
        }
    }
    assert!(
        differ.is_empty(),
        "(program type, expected attach type) differ:\n{}",
        differ.join("\n")
    );
    println!(
        "{} section names: program type and expected attach type agree with libbpf",
        theirs.len()
    );
}

#[test]
fn map_definitions_like_libbpf() {
    let mut compared = 0;
    for (name, extra) in [
        ("maps.c", &["-DNO_LEGACY"][..]),
        ("globals.c", &[]),
        ("core.c", &[]),
    ] {
        let Some(path) = compile_with(name, extra) else {
            return;
        };
        let theirs = match common::libbpf_open(&path) {
            Ok(Some((_, maps))) => maps,
            Ok(None) => panic!("libbpf cannot open {name}"),
            Err(e) => {
                println!("skipped: {e}");
                return;
            }
        };
        compared += common::compare_maps_with_libbpf(name, &parse(&path), &theirs);
    }
    println!("{compared} map definitions agree with libbpf's");
}

#[test]
fn struct_ops_maps() {
    let Some(path) = compile("struct_ops.c") else {
        return;
    };
    let obj = parse(&path);
    let (_, m) = obj.map("ebee_cc").unwrap();
    assert_eq!(
        (m.map_type, m.key_size, m.value_size, m.max_entries),
        (MapType::StructOps, 4, 48, 1)
    );
    assert_eq!(m.flags, ebee_object::map_def::BPF_F_LINK);
    let slots: Vec<(u32, &SlotTarget)> = m.slots.iter().map(|s| (s.index, &s.target)).collect();
    assert_eq!(
        slots,
        [
            (0, &SlotTarget::Program("ebee_init".into())),
            (8, &SlotTarget::Program("ebee_ssthresh".into())),
            (16, &SlotTarget::Program("ebee_cong_avoid".into())),
        ]
    );
    // The initial value holds the name where BTF puts the member.
    let btf = obj.btf().unwrap();
    let st = btf.type_by_id(m.btf_value_type_id.unwrap()).unwrap();
    assert_eq!(st.name, "tcp_congestion_ops");
    let name_off = st
        .members()
        .unwrap()
        .iter()
        .find(|f| f.name == "name")
        .unwrap()
        .bit_offset as usize
        / 8;
    assert_eq!(
        &m.data.as_ref().unwrap()[name_off..name_off + 8],
        b"ebee_cc\0"
    );
    for p in ["ebee_init", "ebee_ssthresh", "ebee_cong_avoid"] {
        assert_eq!(
            obj.program(p).unwrap().program_type(),
            ProgramType::StructOps
        );
    }

    // libbpf 1.1 knows `.struct_ops` (not yet `.link`): same definition.
    let Some(plain) = compile_with("struct_ops.c", &["-DSO_SEC=\".struct_ops\""]) else {
        return;
    };
    match common::libbpf_open(&plain) {
        Ok(Some((progs, maps))) => {
            let plain_obj = parse(&plain);
            common::compare_maps_with_libbpf("struct_ops.c", &plain_obj, &maps);
            // libbpf gives each program its member index as expected attach type.
            for (name, _, eat) in progs {
                assert_eq!(
                    plain_obj.struct_ops_member(&name).map(|(_, i)| i),
                    Some(eat),
                    "{name}"
                );
            }
        }
        Ok(None) => panic!("libbpf cannot open struct_ops.c"),
        Err(e) => println!("skipped part: {e}"),
    }
}
