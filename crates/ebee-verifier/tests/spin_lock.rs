//! bpf_spin_lock rules. The kernel only creates maps with a spin lock from
//! BTF describing the value, so these expectations follow its documented
//! rules (one lock at a time, no calls while holding it, unlock on every
//! path, the lock field only through the helpers) rather than a recorded load.

mod common;

use common::*;
use ebee_isa::{Insn, JmpCond::*, Size::*};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};

fn maps() -> Maps {
    Maps::from_indexed(&[
        MapInfo {
            map_type: 1,
            key_size: 4,
            value_size: 16,
            max_entries: 8,
            flags: 0,
            spin_lock_offset: Some(0),
        },
        MapInfo {
            map_type: 1,
            key_size: 4,
            value_size: 16,
            max_entries: 8,
            flags: 0,
            spin_lock_offset: None,
        },
    ])
}

/// r6 = lookup(map) or exit with 0; the body follows, then `r0 = 0; exit`.
fn with_value(map: u32, body: Vec<Insn>) -> Vec<Insn> {
    let n = body.len() as i16;
    prog![
        st(W, 10, -4, 0),
        movr(2, 10),
        ebee_isa::Insn::Alu {
            width: ebee_isa::Width::W64,
            op: ebee_isa::AluOp::Add,
            dst: r(2),
            src: ebee_isa::Operand::Imm(-4)
        },
        ld_map(1, map),
        call(1),
        jmp(Eq, 0, 0, n + 1),
        movr(6, 0),
        body,
        mov(0, 0),
        exit()
    ]
}

fn run(insns: &[Insn]) -> Result<(), String> {
    let pt = ProgramType::socket_filter();
    let maps = maps();
    match verify(&Program::new(insns, &pt, &maps), &Options::default())
        .verdict
        .rejection()
    {
        None => Ok(()),
        Some(r) => Err(r.to_string()),
    }
}

#[test]
fn lock_update_unlock() {
    let p = with_value(
        0,
        prog![movr(1, 6), call(93), st(DW, 6, 8, 1), movr(1, 6), call(94)],
    );
    assert_eq!(run(&p), Ok(()));
}

#[test]
fn rejections() {
    let cases: Vec<(&str, Vec<Insn>, &str)> = vec![
        (
            "missing unlock",
            with_value(0, prog![movr(1, 6), call(93)]),
            "bpf_spin_unlock is missing",
        ),
        (
            "helper while locked",
            with_value(
                0,
                prog![movr(1, 6), call(93), call(5), movr(1, 6), call(94)],
            ),
            "while a bpf_spin_lock is held",
        ),
        (
            "direct access to the lock",
            with_value(
                0,
                prog![movr(1, 6), call(93), ldx(W, 2, 6, 0), movr(1, 6), call(94)],
            ),
            "would touch the map value's bpf_spin_lock",
        ),
        (
            "unlock without lock",
            with_value(0, prog![movr(1, 6), call(94)]),
            "without a bpf_spin_lock held",
        ),
        (
            "double lock",
            with_value(0, prog![movr(1, 6), call(93), movr(1, 6), call(93)]),
            "while a bpf_spin_lock is held",
        ),
        (
            "map without a lock",
            with_value(1, prog![movr(1, 6), call(93), movr(1, 6), call(94)]),
            "has none",
        ),
        (
            "wrong offset",
            with_value(
                0,
                prog![
                    movr(1, 6),
                    ebee_isa::Insn::Alu {
                        width: ebee_isa::Width::W64,
                        op: ebee_isa::AluOp::Add,
                        dst: r(1),
                        src: ebee_isa::Operand::Imm(8)
                    },
                    call(93)
                ],
            ),
            "must point exactly at the bpf_spin_lock",
        ),
        (
            "lock on one path only",
            with_value(
                0,
                prog![
                    call(7),
                    jmp(Gt, 0, 5, 2),
                    movr(1, 6),
                    call(93),
                    movr(1, 6),
                    call(94)
                ],
            ),
            "without a bpf_spin_lock held",
        ),
        (
            "local call while locked",
            {
                let mut p = with_value(
                    0,
                    prog![movr(1, 6), call(93), call_local(4), movr(1, 6), call(94)],
                );
                p.extend(prog![mov(0, 0), exit()]);
                p
            },
            "functions may not be called",
        ),
    ];
    for (name, p, want) in cases {
        let e = run(&p).expect_err(name);
        assert!(e.contains(want), "{name}: {e}");
    }
}
