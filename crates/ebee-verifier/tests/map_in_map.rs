//! Lookups in maps of maps, judged by the kernel with real maps: the
//! result is a map or NULL, usable as a helper's map argument once checked,
//! never as memory. (Linux also lets a program read `struct bpf_map`
//! fields through it; we refuse that, deliberately stricter.)

mod common;

use common::*;
use ebee_isa::{Imm64Kind, Insn, JmpCond, Size};
use ebee_verifier::maps::map_type;
use ebee_verifier::{verify, MapInfo, MapRef, Maps, Options, Program, ProgramType};

fn array(value_size: u32) -> MapInfo {
    MapInfo {
        map_type: map_type::ARRAY,
        key_size: 4,
        value_size,
        max_entries: 4,
        flags: 0,
        spin_lock_offset: None,
    }
}

/// `r0 = lookup(map 0, &0)`, then `tail`.
fn outer_lookup(tail: Vec<Insn>) -> Vec<Insn> {
    prog![
        st(Size::W, 10, -4, 0),
        movr(2, 10),
        alu(ebee_isa::AluOp::Add, 2, -4),
        ld_map(1, 0),
        call(1),
        tail,
    ]
}

#[test]
fn map_in_map_lookups_match_the_kernel() {
    if let Err(e) = kernel::available() {
        println!("skipped: bpf(2) unavailable: {e}");
        return;
    }
    let inner = array(4);
    let outer = MapInfo {
        map_type: map_type::ARRAY_OF_MAPS,
        value_size: 4,
        ..array(4)
    };
    let inner_fd = kernel::create_map(&inner).expect("inner map");
    let outer_fd = kernel::create_map_with_inner(&outer, Some(&inner_fd)).expect("outer map");
    let inner_lookup = |tail: Vec<Insn>| {
        prog![
            jmp(JmpCond::Eq, 0, 0, 5 + tail.len() as i16),
            movr(1, 0),
            movr(2, 10),
            alu(ebee_isa::AluOp::Add, 2, -4),
            call(1),
            jmp(JmpCond::Eq, 0, 0, tail.len() as i16),
            tail,
            mov(0, 0),
            exit(),
        ]
    };
    let cases: Vec<(&str, Vec<Insn>)> = vec![
        (
            "inner lookup, read the value",
            outer_lookup(inner_lookup(vec![ldx(Size::W, 3, 0, 0)])),
        ),
        (
            "inner lookup, read past the value",
            outer_lookup(inner_lookup(vec![ldx(Size::W, 3, 0, 4)])),
        ),
        (
            "write through the outer lookup's result",
            outer_lookup(prog![
                jmp(JmpCond::Eq, 0, 0, 1),
                st(Size::W, 0, 0, 1),
                mov(0, 0),
                exit()
            ]),
        ),
        (
            "read through the outer lookup's result",
            outer_lookup(prog![
                jmp(JmpCond::Eq, 0, 0, 1),
                ldx(Size::W, 3, 0, 0),
                mov(0, 0),
                exit()
            ]),
        ),
        (
            "inner map used without a NULL check",
            outer_lookup(prog![
                movr(1, 0),
                movr(2, 10),
                alu(ebee_isa::AluOp::Add, 2, -4),
                call(1),
                mov(0, 0),
                exit()
            ]),
        ),
        (
            "arithmetic on the inner map",
            outer_lookup(prog![
                jmp(JmpCond::Eq, 0, 0, 5),
                alu(ebee_isa::AluOp::Add, 0, 8),
                movr(1, 0),
                movr(2, 10),
                alu(ebee_isa::AluOp::Add, 2, -4),
                call(1),
                mov(0, 0),
                exit()
            ]),
        ),
    ];
    let mut maps = Maps::from_indexed(&[outer]);
    maps.insert(MapRef::InnerOfIndex(0), inner);
    let pt = ProgramType::socket_filter();
    let mut mismatches = vec![];
    for (name, insns) in &cases {
        let theirs: Vec<Insn> = insns
            .iter()
            .map(|i| match *i {
                Insn::LdImm64 {
                    dst,
                    kind: Imm64Kind::MapIdx,
                    ..
                } => Insn::LdImm64 {
                    dst,
                    kind: Imm64Kind::MapFd,
                    imm: outer_fd.0 as i64,
                },
                i => i,
            })
            .collect();
        let k = kernel::load(1, &ebee_isa::encode(&theirs));
        let v = verify(&Program::new(insns, &pt, &maps), &Options::default());
        println!(
            "{name}: kernel {}, ebee {}",
            if k.is_ok() { "accepts" } else { "rejects" },
            v.verdict
                .rejection()
                .map_or("accepts".to_string(), |r| r.to_string())
        );
        // Linux lets programs read `struct bpf_map` fields through a map
        // pointer (BTF-typed); we do not model that struct and refuse.
        let stricter = name.starts_with("read through") && k.is_ok() && !v.verdict.is_accepted();
        if k.is_ok() != v.verdict.is_accepted() && !stricter {
            mismatches.push(format!("{name}: kernel {:?}", k.err()));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
