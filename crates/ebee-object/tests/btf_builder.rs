//! `BtfBuilder` against clang: the declarations of `tests/c/btf_layouts.c`
//! built by hand must come out as the BTF clang emits for them (every
//! kind, name, size, member offset, bitfield width and enumerator), and a
//! built BTF must survive the writer and the parser unchanged.

use std::path::Path;

use ebee_object::btf::{Btf, BtfBuilder, Field, TypeId, TypeKind};
use ebee_object::Object;

/// Structural equality of `a` in `ab` and `b` in `bb` (ids may differ).
fn same(ab: &Btf, a: TypeId, bb: &Btf, b: TypeId, path: &str, depth: u32) -> Result<(), String> {
    if depth > 16 {
        return Ok(()); // a cycle through a pointer: compared once already
    }
    let (ta, tb) = (ab.type_by_id(a).unwrap(), bb.type_by_id(b).unwrap());
    let here = format!("{path} ({} `{}`)", ta.kind_name(), ta.name);
    if ta.name != tb.name || ta.kind_name() != tb.kind_name() {
        return Err(format!(
            "{here}: clang has {} `{}`",
            tb.kind_name(),
            tb.name
        ));
    }
    let rec = |x: TypeId, y: TypeId, p: &str| same(ab, x, bb, y, p, depth + 1);
    match (&ta.kind, &tb.kind) {
        (TypeKind::Ptr(x), TypeKind::Ptr(y))
        | (TypeKind::Typedef(x), TypeKind::Typedef(y))
        | (TypeKind::Const(x), TypeKind::Const(y))
        | (TypeKind::Volatile(x), TypeKind::Volatile(y)) => rec(*x, *y, &format!("{path}>")),
        (
            TypeKind::Array {
                elem: e1,
                index: i1,
                len: l1,
            },
            TypeKind::Array {
                elem: e2,
                index: i2,
                len: l2,
            },
        ) => {
            if l1 != l2 {
                return Err(format!("{here}: {l1} elements, clang {l2}"));
            }
            rec(*i1, *i2, &format!("{path}[index]"))?;
            rec(*e1, *e2, &format!("{path}[]"))
        }
        (
            TypeKind::Struct {
                size: s1,
                members: m1,
            },
            TypeKind::Struct {
                size: s2,
                members: m2,
            },
        )
        | (
            TypeKind::Union {
                size: s1,
                members: m1,
            },
            TypeKind::Union {
                size: s2,
                members: m2,
            },
        ) => {
            if s1 != s2 || m1.len() != m2.len() {
                return Err(format!(
                    "{here}: size {s1} with {} members, clang {s2} with {}",
                    m1.len(),
                    m2.len()
                ));
            }
            for (x, y) in m1.iter().zip(m2) {
                let p = format!("{path}.{}", x.name);
                if (x.name.as_str(), x.bit_offset, x.bitfield_size)
                    != (y.name.as_str(), y.bit_offset, y.bitfield_size)
                {
                    return Err(format!(
                        "{p}: bit offset {} width {}, clang `{}` at {} width {}",
                        x.bit_offset, x.bitfield_size, y.name, y.bit_offset, y.bitfield_size
                    ));
                }
                rec(x.ty, y.ty, &p)?;
            }
            Ok(())
        }
        (x, y) => {
            if x == y {
                Ok(())
            } else {
                Err(format!("{here}: {x:?}, clang {y:?}"))
            }
        }
    }
}

/// The declarations of `btf_layouts.c`, by hand. Returns the BTF and the
/// ids of `padded`, `bits`, `either`, `node`.
fn built() -> (Btf, [TypeId; 4]) {
    let mut b = BtfBuilder::new();
    let char_t = b.int("char", 1, true);
    let uchar = b.int("unsigned char", 1, false);
    let short = b.int("short", 2, true);
    let ushort = b.int("unsigned short", 2, false);
    let int = b.int("int", 4, true);
    let uint = b.int("unsigned int", 4, false);
    let long = b.int("long", 8, true);
    let ull = b.int("unsigned long long", 8, false);
    let bool_t = b.bool("_Bool");
    let u32_t = b.typedef("u32_t", uint);
    let u64_t = b.typedef("u64_t", ull);
    let colour = b.add_enum("colour", 4, &[("RED", 0), ("GREEN", 1), ("BLUE", 7)]);
    let delta = b.add_enum("delta", 4, &[("DOWN", -1), ("UP", 1)]);
    let wide = b.add_enum("wide", 8, &[("SMALL", 1), ("HUGE", 0x1_0000_0000)]);
    let padded = b.add_struct(
        "padded",
        &[
            Field::new("c", char_t),
            Field::new("big", u64_t),
            Field::new("s", short),
            Field::new("i", int),
            Field::new("tail", char_t),
        ],
    );
    let bits = b.add_struct(
        "bits",
        &[
            Field::bits("a", uint, 3),
            Field::bits("b", uint, 30),
            Field::bits("c", uchar, 4),
            Field::bits("d", ull, 40),
            Field::new("e", int),
            Field::bits("f", ushort, 9),
        ],
    );
    let bytes6 = b.array(uchar, 6);
    let either = b.add_union(
        "either",
        &[
            Field::new("word", u32_t),
            Field::new("bytes", bytes6),
            Field::new("wide", u64_t),
        ],
    );
    let node = b.declare_struct("node");
    let next = b.ptr(node);
    let int2 = b.array(int, 2);
    let int3x2 = b.array(int2, 3);
    let xy = b.add_struct("", &[Field::new("x", short), Field::new("y", long)]);
    let zw = b.add_union("", &[Field::new("z", char_t), Field::new("w", int)]);
    b.define_struct(
        node,
        &[
            Field::new("next", next),
            Field::new("values", int3x2),
            Field::new("payload", either),
            Field::anonymous(xy),
            Field::anonymous(zw),
            Field::new("colour", colour),
            Field::new("delta", delta),
            Field::new("wide", wide),
            Field::new("inner", padded),
            Field::new("flag", bool_t),
        ],
    );
    (b.build().unwrap(), [padded, bits, either, node])
}

fn clang_btf() -> Option<Btf> {
    if std::process::Command::new("clang-19")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("skipped: clang-19 not found");
        return None;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/btf_layouts.c");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("btf_layouts.o");
    let st = std::process::Command::new("clang-19")
        .args(["-O2", "-g", "-target", "bpf", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "clang-19 failed on btf_layouts.c");
    let obj = Object::parse(&std::fs::read(&out).unwrap()).unwrap();
    Some(obj.btf().expect("clang -g emits .BTF").clone())
}

#[test]
fn built_types_match_what_clang_emits() {
    let Some(theirs) = clang_btf() else { return };
    let (ours, ids) = built();
    for (id, (name, kind)) in ids.into_iter().zip([
        ("padded", "STRUCT"),
        ("bits", "STRUCT"),
        ("either", "UNION"),
        ("node", "STRUCT"),
    ]) {
        let t = theirs
            .id_by_name_kind(name, kind)
            .unwrap_or_else(|| panic!("clang emitted no {kind} {name}"));
        same(&ours, id, &theirs, t, name, 0).unwrap_or_else(|e| panic!("{e}"));
    }
    // Sizes the layout computed, as clang computed them.
    let sizes: Vec<u64> = ids.iter().map(|&i| ours.size_of(i).unwrap()).collect();
    assert_eq!(sizes, [32, 24, 8, 120]);
}

#[test]
fn built_btf_round_trips_through_the_writer_and_parser() {
    let (ours, _) = built();
    let back = Btf::parse(&ours.to_bytes()).unwrap();
    assert_eq!(back.types(), ours.types());
    for id in 1..ours.len() as TypeId {
        same(&ours, id, &back, id, "round trip", 0).unwrap();
        if let Some(t) = ours.type_by_id(id).filter(|t| !t.name.is_empty()) {
            assert_eq!(back.ids_by_name(&t.name), ours.ids_by_name(&t.name));
        }
    }
    // The built string table is the one written (no name appended).
    assert_eq!(Btf::parse(&back.to_bytes()).unwrap().types(), ours.types());
}

#[test]
fn merged_btf_keeps_both_sides_with_shifted_ids() {
    let (a, ids) = built();
    let mut b = BtfBuilder::new();
    let u8_t = b.int("unsigned char", 1, false);
    let p = b.ptr(u8_t);
    let s = b.add_struct("extra", &[Field::new("p", p), Field::new("n", u8_t)]);
    let b = b.build().unwrap();
    let m = a.merged(&b).unwrap();
    assert_eq!(m.len(), a.len() + b.len() - 1);
    same(&m, ids[3], &a, ids[3], "node", 0).unwrap();
    let shifted = s + a.len() as TypeId - 1;
    same(&m, shifted, &b, s, "extra", 0).unwrap();
    assert_eq!(m.id_by_name_kind("extra", "STRUCT"), Some(shifted));
    assert_eq!(m.size_of(shifted).unwrap(), 16);
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    let s = b.add_struct("s", &[Field::new("a", int)]);
    b.define_struct(s, &[Field::new("a", int)]);
    assert!(b.build().unwrap_err().to_string().contains("defined twice"));

    let mut b = BtfBuilder::new();
    let int = b.int("int", 4, true);
    b.add_struct("wide", &[Field::bits("a", int, 33)]);
    assert!(b.build().unwrap_err().to_string().contains("bitfield"));

    let mut b = BtfBuilder::new();
    b.ptr(42);
    assert!(b
        .build()
        .unwrap_err()
        .to_string()
        .contains("refers to type 42"));

    let mut b = BtfBuilder::new();
    let f = b.fwd("opaque", false);
    b.add_struct("holder", &[Field::new("o", f)]);
    assert!(b.build().is_err());
}
