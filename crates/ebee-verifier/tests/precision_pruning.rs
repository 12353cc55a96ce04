//! Pruning with precision tracking, judged by the kernel.
//!
//! Each unsafe case joins two paths at a prune point with different values
//! of some number; the path explored first (the fall-through) is safe, the
//! other one is not, and the number reaches a check only after the join,
//! through one of the routes precision tracking follows: pointer
//! arithmetic, a branch decided by the value, a spill and fill, zero bytes
//! against unknown bytes on the stack, a copy linked by a branch, a helper's
//! size argument, a checked return value, a local call's argument and
//! result. A verifier that pruned the second path against the first
//! without knowing the number mattered would accept the program; the kernel
//! rejects it, and so must we. The safe cases must be accepted, and those
//! whose paths differ only in numbers nothing checks must be pruned.

mod common;

use common::*;
use ebee_isa::{AluOp::*, Imm64Kind, Insn, JmpCond::*, Size::*};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};

const SF: u32 = 1;
const CG: u32 = 8;

fn maps() -> Vec<MapInfo> {
    vec![MapInfo {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        flags: 0,
        spin_lock_offset: None,
    }]
}

/// r6 = a value of map 0 (8 bytes, NULL-checked), r0 = a random number;
/// the body starts at pc 11.
fn pre() -> Vec<Insn> {
    prog![
        st(W, 10, -4, 0),
        movr(2, 10),
        alu(Add, 2, -4),
        ld_map(1, 0),
        call(1),
        jmp(Ne, 0, 0, 2),
        mov(0, 0),
        exit(),
        movr(6, 0),
        call(7)
    ]
}

struct Case {
    name: &'static str,
    prog_type: u32,
    insns: Vec<Insn>,
    kernel_accepts: bool,
    /// Our verifier must prune at least once.
    pruned: bool,
}

fn case(name: &'static str, prog_type: u32, kernel_accepts: bool, insns: Vec<Insn>) -> Case {
    Case {
        name,
        prog_type,
        insns,
        kernel_accepts,
        pruned: false,
    }
}

fn cases() -> Vec<Case> {
    vec![
        case(
            "offset 64 or 0 added to a map value pointer after the join",
            SF,
            false,
            prog![
                pre(),
                mov(7, 64),
                jmp(Gt, 0, 5, 1),
                mov(7, 0),
                alur(Add, 6, 7),
                ldx(DW, 0, 6, 0),
                exit()
            ],
        ),
        case(
            "offset 4 or 0 added to a map value pointer after the join",
            SF,
            true,
            prog![
                pre(),
                mov(7, 4),
                jmp(Gt, 0, 5, 1),
                mov(7, 0),
                alur(Add, 6, 7),
                ldx(B, 0, 6, 0),
                exit()
            ],
        ),
        Case {
            pruned: true,
            ..case(
                "64 or 0 only stored after the join: pruned",
                SF,
                true,
                prog![
                    pre(),
                    mov(7, 64),
                    jmp(Gt, 0, 5, 1),
                    mov(7, 0),
                    stx(DW, 6, 0, 7),
                    mov(0, 0),
                    exit()
                ],
            )
        },
        case(
            "a branch after the join decided by 64 or 0",
            SF,
            false,
            prog![
                pre(),
                mov(7, 64),
                jmp(Gt, 0, 5, 1),
                mov(7, 0),
                jmp(Ne, 7, 0, 2),
                mov(0, 0),
                exit(),
                ldx(DW, 0, 6, 8),
                exit()
            ],
        ),
        case(
            "64 or 0 spilled before the join, filled and added after it",
            SF,
            false,
            prog![
                pre(),
                mov(7, 64),
                stx(DW, 10, -16, 7),
                jmp(Gt, 0, 5, 2),
                mov(7, 0),
                stx(DW, 10, -16, 7),
                ldx(DW, 7, 10, -16),
                alur(Add, 6, 7),
                ldx(DW, 0, 6, 0),
                exit()
            ],
        ),
        Case {
            pruned: true,
            ..case(
                "64 or 0 spilled before the join and only returned: pruned",
                SF,
                true,
                prog![
                    pre(),
                    mov(7, 64),
                    stx(DW, 10, -16, 7),
                    jmp(Gt, 0, 5, 2),
                    mov(7, 0),
                    stx(DW, 10, -16, 7),
                    ldx(DW, 0, 10, -16),
                    exit()
                ],
            )
        },
        case(
            "zero bytes or unknown bytes on the stack, read and added after the join",
            SF,
            false,
            prog![
                pre(),
                stx(W, 10, -4, 0),
                jmp(Gt, 0, 5, 1),
                st(W, 10, -4, 0),
                ldx(W, 7, 10, -4),
                alur(Add, 6, 7),
                ldx(B, 0, 6, 0),
                exit()
            ],
        ),
        case(
            "a copy bounded through its twin on one path only",
            SF,
            false,
            prog![
                pre(),
                movr(8, 0),
                call(7),
                movr(9, 0),
                call(7),
                movr(7, 0),
                jmp(Gt, 8, 5, 1),
                movr(7, 9),
                jmp(Gt, 9, 7, 3),
                alur(Add, 6, 7),
                ldx(B, 0, 6, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "a copy bounded through its twin on both paths",
            SF,
            true,
            prog![
                pre(),
                movr(8, 0),
                call(7),
                movr(9, 0),
                call(7),
                movr(7, 9),
                jmp(Gt, 8, 5, 1),
                movr(7, 9),
                jmp(Gt, 9, 7, 3),
                alur(Add, 6, 7),
                ldx(B, 0, 6, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_skb_load_bytes of 64 or 8 bytes into an 8-byte buffer",
            SF,
            false,
            prog![
                movr(9, 1),
                call(7),
                mov(7, 64),
                jmp(Gt, 0, 5, 1),
                mov(7, 8),
                movr(1, 9),
                mov(2, 0),
                movr(3, 10),
                alu(Add, 3, -8),
                movr(4, 7),
                call(26),
                mov(0, 0),
                exit()
            ],
        ),
        Case {
            pruned: true,
            ..case(
                "bpf_skb_load_bytes at offset 64 or 0 (not checked): pruned",
                SF,
                true,
                prog![
                    movr(9, 1),
                    call(7),
                    mov(7, 64),
                    jmp(Gt, 0, 5, 1),
                    mov(7, 0),
                    movr(1, 9),
                    movr(2, 7),
                    movr(3, 10),
                    alu(Add, 3, -8),
                    mov(4, 8),
                    call(26),
                    mov(0, 0),
                    exit()
                ],
            )
        },
        case(
            "cgroup_skb returning 5 or 1 chosen before the join",
            CG,
            false,
            prog![
                call(7),
                mov(6, 5),
                jmp(Gt, 0, 5, 1),
                mov(6, 1),
                movr(0, 6),
                exit()
            ],
        ),
        case(
            "64 or 0 through a function's argument and result",
            SF,
            false,
            prog![
                pre(),
                mov(7, 64),
                jmp(Gt, 0, 5, 1),
                mov(7, 0),
                movr(1, 7),
                call_local(3),
                alur(Add, 6, 0),
                ldx(DW, 0, 6, 0),
                exit(),
                movr(0, 1),
                exit()
            ],
        ),
        case(
            "4 or 0 through a function's argument and result",
            SF,
            true,
            prog![
                pre(),
                mov(7, 4),
                jmp(Gt, 0, 5, 1),
                mov(7, 0),
                movr(1, 7),
                call_local(3),
                alur(Add, 6, 0),
                ldx(B, 0, 6, 0),
                exit(),
                movr(0, 1),
                exit()
            ],
        ),
    ]
}

fn to_kernel(insns: &[Insn], fd: i32) -> Vec<Insn> {
    insns
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapIdx,
                ..
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapFd,
                imm: fd as i64,
            },
            i => i,
        })
        .collect()
}

#[test]
fn pruning_keeps_what_later_checks_rely_on() {
    let infos = maps();
    let maps = Maps::from_indexed(&infos);
    let fd = match kernel::available() {
        Ok(()) => Some(kernel::create_map(&infos[0]).expect("map create")),
        Err(e) => {
            println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
            None
        }
    };
    let mut failures = vec![];
    for c in cases() {
        let pt = ProgramType::from_kernel(c.prog_type).unwrap();
        let v = verify(&Program::new(&c.insns, &pt, &maps), &Options::default());
        let ours = v.verdict.is_accepted();
        if let Some(fd) = &fd {
            let k = kernel::load(c.prog_type, &ebee_isa::encode(&to_kernel(&c.insns, fd.0)));
            if k.is_ok() != c.kernel_accepts {
                failures.push(format!(
                    "{}: recorded kernel verdict {} but the kernel now says {k:?}",
                    c.name, c.kernel_accepts
                ));
            }
        }
        if ours != c.kernel_accepts {
            failures.push(format!(
                "{}: the kernel {} but we {} ({:?})",
                c.name,
                if c.kernel_accepts {
                    "accepts"
                } else {
                    "rejects"
                },
                if ours { "accept" } else { "reject" },
                v.verdict.rejection().map(|r| r.to_string())
            ));
        }
        if c.pruned && v.stats.pruned == 0 {
            failures.push(format!("{}: no state was pruned", c.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
