//! `ebee inspect OBJ [--json]`: what an ELF object holds — programs, maps,
//! BTF and relocations — the way `bpftool` and `llvm-objdump` would tell it.

use ebee::input::read_file;
use ebee::Failure;
use ebee_object::{Object, Program, RelocKind};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Arguments of `ebee inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// An eBPF ELF object (clang `-target bpf` or rustc/aya output).
    object: PathBuf,
    /// List every relocation, not only their counts.
    #[arg(long)]
    relocs: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn source_file(p: &Program) -> Option<&str> {
    p.lines.first().map(|l| l.file.as_str())
}

fn reloc_target(obj: &Object, kind: &RelocKind) -> String {
    let map_name = |i: usize| {
        obj.maps()
            .get(i)
            .map_or("?", |m| m.name.as_str())
            .to_string()
    };
    match kind {
        RelocKind::Map { map } => format!("map {}", map_name(*map)),
        RelocKind::MapValue { map, offset } => format!("map value {}+{offset}", map_name(*map)),
        RelocKind::Call {
            function,
            target_pc,
        } => format!("call {function} (pc {target_pc})"),
        RelocKind::FuncAddr {
            function,
            target_pc,
        } => format!("function address {function} (pc {target_pc})"),
        other => format!("{other:?}"),
    }
}

fn reloc_kind_name(kind: &RelocKind) -> &'static str {
    match kind {
        RelocKind::Map { .. } => "map",
        RelocKind::MapValue { .. } => "map_value",
        RelocKind::Call { .. } => "call",
        RelocKind::FuncAddr { .. } => "func_addr",
        _ => "extern",
    }
}

fn to_json(obj: &Object, with_relocs: bool) -> Value {
    let programs: Vec<Value> = obj
        .programs()
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name,
                "section": p.section,
                "type": format!("{:?}", p.program_type()),
                "type_number": p.program_type() as u32,
                "attach_type": p.kind.attach_type.map(|a| format!("{a:?}")),
                "attach_target": p.attach_target(),
                "subprogram": p.subprogram,
                "insns": p.insns.len(),
                "source_file": source_file(p),
                "functions": p.functions.iter().map(|f| f.name.clone()).collect::<Vec<_>>(),
                "relocations": p.relocs.len(),
                "core_relocations": p.core_relos.len(),
            });
            if with_relocs {
                v["relocation_list"] = p
                    .relocs
                    .iter()
                    .map(|r| json!({"pc": r.pc, "kind": reloc_kind_name(&r.kind), "target": reloc_target(obj, &r.kind)}))
                    .collect();
            }
            v
        })
        .collect();
    let maps: Vec<Value> = obj
        .maps()
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "section": m.section,
                "type": format!("{:?}", m.map_type),
                "type_number": m.map_type.number(),
                "key_size": m.key_size,
                "value_size": m.value_size,
                "max_entries": m.max_entries,
                "flags": m.flags,
                "frozen": m.frozen,
                "inner": m.inner.as_ref().map(|i| format!("{:?}", i.map_type)),
            })
        })
        .collect();
    json!({
        "license": obj.license(),
        "kernel_version": obj.kernel_version(),
        "machine": obj.machine(),
        "programs": programs,
        "maps": maps,
        "btf_types": obj.btf().map(|b| b.len()),
        "btf_ext": obj.btf_ext().map(|e| json!({
            "func_info": e.func_info.len(),
            "line_info": e.line_info.len(),
            "core_relocations": e.core_relos.len(),
        })),
        "externs": obj.externs().iter().map(|e| e.name.clone()).collect::<Vec<_>>(),
    })
}

fn print_table(rows: &[Vec<String>]) {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        println!("  {}", line.join("  ").trim_end());
    }
}

fn print_text(obj: &Object, with_relocs: bool) {
    println!(
        "license: {}   kernel version: {}",
        obj.license().unwrap_or("-"),
        obj.kernel_version()
            .map_or("-".to_string(), |v| format!("{:#x}", v))
    );
    println!("\nprograms:");
    let mut rows = vec![vec![
        "NAME".to_string(),
        "SECTION".into(),
        "TYPE".into(),
        "ATTACH".into(),
        "INSNS".into(),
        "SOURCE".into(),
    ]];
    for p in obj.programs() {
        let name = if p.subprogram {
            format!("{} (subprogram)", p.name)
        } else {
            p.name.clone()
        };
        rows.push(vec![
            name,
            p.section.clone(),
            format!("{:?}", p.program_type()),
            p.attach_target().unwrap_or("-").to_string(),
            p.insns.len().to_string(),
            source_file(p).unwrap_or("-").to_string(),
        ]);
    }
    print_table(&rows);
    println!("\nmaps:");
    let mut rows = vec![vec![
        "NAME".to_string(),
        "TYPE".into(),
        "KEY".into(),
        "VALUE".into(),
        "ENTRIES".into(),
        "FLAGS".into(),
    ]];
    for m in obj.maps() {
        rows.push(vec![
            m.name.clone(),
            format!("{:?}", m.map_type),
            m.key_size.to_string(),
            m.value_size.to_string(),
            m.max_entries.to_string(),
            format!("{:#x}", m.flags),
        ]);
    }
    print_table(&rows);
    match (obj.btf(), obj.btf_ext()) {
        (Some(b), Some(e)) => println!(
            "\nbtf: {} types; func_info {}, line_info {}, CO-RE relocations {}",
            b.len(),
            e.func_info.len(),
            e.line_info.len(),
            e.core_relos.len()
        ),
        (Some(b), None) => println!("\nbtf: {} types; no .BTF.ext", b.len()),
        _ => println!("\nbtf: none"),
    }
    if !obj.externs().is_empty() {
        let names: Vec<&str> = obj.externs().iter().map(|e| e.name.as_str()).collect();
        println!("externs: {}", names.join(", "));
    }
    println!("\nrelocations:");
    for p in obj.programs().iter().filter(|p| !p.relocs.is_empty()) {
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for r in &p.relocs {
            let k = reloc_kind_name(&r.kind);
            match counts.iter_mut().find(|(n, _)| *n == k) {
                Some(c) => c.1 += 1,
                None => counts.push((k, 1)),
            }
        }
        let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!("  {}: {}", p.name, summary.join(", "));
        if with_relocs {
            for r in &p.relocs {
                println!("    pc {:>5}  {}", r.pc, reloc_target(obj, &r.kind));
            }
        }
    }
}

/// Runs `ebee inspect`.
pub fn run(args: Args) -> Result<(), Failure> {
    let bytes = read_file(&args.object)?;
    let obj = Object::parse(&bytes)
        .map_err(|e| Failure::Input(format!("{}: {e}", args.object.display())))?;
    if args.json {
        println!("{}", to_json(&obj, args.relocs));
    } else {
        print_text(&obj, args.relocs);
    }
    Ok(())
}
