//! Helpers that call back into the program (`bpf_loop`,
//! `bpf_for_each_map_elem`). The kernel only loads such programs with BTF
//! function info, which these hand-built programs do not carry (it rejects
//! them all with "missing btf func_info"), so here the expected verdicts
//! follow the kernel's rules for callbacks rather than a recorded load:
//! the callback gets the helper's arguments, must return 0 or 1, and may be
//! called any number of times (including zero).

mod common;

use common::*;
use ebee_isa::{AluOp::*, Insn, Size::*};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};

const SF: u32 = 1;

struct Case {
    name: &'static str,
    prog_type: u32,
    insns: Vec<Insn>,
    accepts: bool,
}

fn case(name: &'static str, prog_type: u32, accepts: bool, insns: Vec<Insn>) -> Case {
    Case {
        name,
        prog_type,
        insns,
        accepts,
    }
}

#[test]
fn callbacks() {
    let maps = Maps::from_indexed(&[MapInfo {
        map_type: 2,
        key_size: 4,
        value_size: 8,
        max_entries: 4,
        flags: 0,
        spin_lock_offset: None,
    }]);
    let cases = vec![
        case(
            "bpf_loop with a trivial callback",
            SF,
            true,
            prog![
                mov(1, 10),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(181),
                mov(0, 0),
                exit(),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_loop callback counts through the stack",
            SF,
            true,
            prog![
                st(DW, 10, -8, 0),
                mov(1, 10),
                ld_func(2, 7),
                movr(3, 10),
                alu(Add, 3, -8),
                mov(4, 0),
                call(181),
                ldx(DW, 0, 10, -8),
                exit(),
                ldx(DW, 3, 2, 0),
                alu(Add, 3, 1),
                stx(DW, 2, 0, 3),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_loop callback stops with 1",
            SF,
            true,
            prog![
                mov(1, 10),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(181),
                mov(0, 0),
                exit(),
                movr(0, 1),
                alu(And, 0, 1),
                exit()
            ],
        ),
        case(
            "for_each_map_elem reads each value",
            SF,
            true,
            prog![
                ld_map(1, 0),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(164),
                mov(0, 0),
                exit(),
                ldx(DW, 0, 3, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_loop callback returns 2",
            SF,
            false,
            prog![
                mov(1, 10),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(181),
                mov(0, 0),
                exit(),
                mov(0, 2),
                exit()
            ],
        ),
        case(
            "bpf_loop callback reads r6",
            SF,
            false,
            prog![
                mov(6, 1),
                mov(1, 10),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(181),
                mov(0, 0),
                exit(),
                movr(0, 6),
                exit()
            ],
        ),
        case(
            "bpf_loop callback index used as stack offset unchecked",
            SF,
            false,
            prog![
                mov(1, 10),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(181),
                mov(0, 0),
                exit(),
                movr(2, 10),
                alur(Add, 2, 1),
                st(B, 2, -1, 0),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "for_each_map_elem reads past the value",
            SF,
            false,
            prog![
                ld_map(1, 0),
                ld_func(2, 6),
                mov(3, 0),
                mov(4, 0),
                call(164),
                mov(0, 0),
                exit(),
                ldx(DW, 0, 3, 4),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_loop callback leaves a counter that grows each call",
            SF,
            true,
            prog![
                st(DW, 10, -8, 0),
                mov(1, 100),
                ld_func(2, 7),
                movr(3, 10),
                alu(Add, 3, -8),
                mov(4, 0),
                call(181),
                ldx(DW, 0, 10, -8),
                exit(),
                ldx(DW, 3, 2, 0),
                alu(Add, 3, 1),
                stx(DW, 2, 0, 3),
                mov(0, 0),
                exit()
            ],
        ),
        case(
            "bpf_loop callback uses the caller's stack as an array",
            SF,
            false,
            prog![
                st(DW, 10, -8, 0),
                mov(1, 100),
                ld_func(2, 7),
                movr(3, 10),
                alu(Add, 3, -8),
                mov(4, 0),
                call(181),
                ldx(DW, 0, 10, -8),
                exit(),
                ldx(DW, 3, 2, 0),
                alu(Add, 3, 1),
                stx(DW, 2, 0, 3),
                alur(Add, 2, 3),
                ldx(B, 0, 2, 0),
                mov(0, 0),
                exit()
            ],
        ),
    ];
    let mut failures = vec![];
    for c in &cases {
        let pt = ProgramType::from_kernel(c.prog_type).unwrap();
        let v = verify(&Program::new(&c.insns, &pt, &maps), &Options::default());
        if v.verdict.is_accepted() != c.accepts {
            failures.push(format!(
                "{}: expected accepts={} got {:?}",
                c.name,
                c.accepts,
                v.verdict.rejection().map(|r| r.to_string())
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
