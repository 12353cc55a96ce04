//! Programs the runtime engineers found the kernel accepts but we refused
//! (bpf_strtol/strtoul, bloom filter push/peek, 32-bit packet pointer
//! subtraction; the bpf_loop callback case needs BTF and is in
//! callback_rounds.rs), each next to a nearby unsafe
//! program the kernel rejects. The kernel's verdict is recorded next to each
//! and re-checked where bpf(2) works.

mod common;

use common::*;
use ebee_isa::{AluOp::*, Imm64Kind, Insn, Size::*};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};

const SF: u32 = 1;
const XDP: u32 = 6;

/// Maps every case may use, by index.
fn fixture_maps() -> Vec<MapInfo> {
    let m = |map_type, key_size, value_size, max_entries| MapInfo {
        map_type,
        key_size,
        value_size,
        max_entries,
        flags: 0,
        spin_lock_offset: None,
    };
    vec![
        m(30, 0, 8, 16), // 0: bloom filter, 8-byte values
        m(22, 0, 8, 16), // 1: queue
    ]
}

struct Case {
    name: &'static str,
    prog_type: u32,
    insns: Vec<Insn>,
    /// The kernel's verdict, recorded from loading this program.
    kernel_accepts: bool,
}

fn case(name: &'static str, prog_type: u32, kernel_accepts: bool, insns: Vec<Insn>) -> Case {
    Case {
        name,
        prog_type,
        insns,
        kernel_accepts,
    }
}

/// "12\0\0" at fp-16, r1 = fp-16, r2 = `len`, r3 = 0, r4 = fp+`res`, call `id`.
fn strto(id: i32, len: i32, res: i32) -> Vec<Insn> {
    prog![
        st(W, 10, -16, 0x3231),
        movr(1, 10),
        alu(Add, 1, -16),
        mov(2, len),
        mov(3, 0),
        movr(4, 10),
        alu(Add, 4, res),
        call(id),
        mov(0, 0),
        exit()
    ]
}

/// r1 = map `map`, r2 = fp-8 holding 7, r3 = 0, call `id`.
fn value_call(map: u32, id: i32) -> Vec<Insn> {
    prog![
        st(DW, 10, -8, 7),
        ld_map(1, map),
        movr(2, 10),
        alu(Add, 2, -8),
        mov(3, 0),
        call(id),
        mov(0, 0),
        exit()
    ]
}

/// r2 = data, r3 = data_end, r1 = data_meta (XDP), then `tail`.
fn xdp(tail: Vec<Insn>) -> Vec<Insn> {
    let mut v = prog![ldx(W, 2, 1, 0), ldx(W, 3, 1, 4), ldx(W, 1, 1, 8)];
    v.extend(tail);
    v
}

fn cases() -> Vec<Case> {
    vec![
        // ---- bpf_strtol / bpf_strtoul ----
        case("strtol into fp-8", SF, true, strto(105, 4, -8)),
        case("strtoul into fp-8", SF, true, strto(106, 4, -8)),
        case("strtol with res misaligned", SF, false, strto(105, 4, -12)),
        case("strtoul with buf_len 0", SF, false, strto(106, 0, -8)),
        case(
            "strtol with buf_len past the stack",
            SF,
            false,
            strto(105, 17, -8),
        ),
        case(
            "strtol with res past the frame",
            SF,
            false,
            strto(105, 4, -4),
        ),
        // ---- bloom filter ----
        case("bloom push", SF, true, value_call(0, 87)),
        case("bloom peek", SF, true, value_call(0, 89)),
        case("bloom pop", SF, false, value_call(0, 88)),
        case(
            "bloom lookup",
            SF,
            false,
            prog![
                ld_map(1, 0),
                movr(2, 10),
                alu(Add, 2, -8),
                st(DW, 10, -8, 0),
                call(1),
                mov(0, 0),
                exit()
            ],
        ),
        case("queue pop", SF, true, value_call(1, 88)),
        // ---- 32-bit arithmetic on pointers ----
        case(
            "clang's (int)(data - data_meta): w0 = w2; w0 -= w1",
            XDP,
            true,
            xdp(prog![alu32r(Mov, 0, 2), alu32r(Sub, 0, 1), exit()]),
        ),
        case(
            "w0 = w3; w0 -= w2 (end - data)",
            XDP,
            true,
            xdp(prog![alu32r(Mov, 0, 3), alu32r(Sub, 0, 2), exit()]),
        ),
        case(
            "w2 -= w1 on two packet pointers",
            XDP,
            true,
            xdp(prog![alu32r(Sub, 2, 1), movr(0, 2), exit()]),
        ),
        case(
            "w2 -= 14 on a packet pointer",
            XDP,
            true,
            xdp(prog![alu32(Sub, 2, 14), movr(0, 2), exit()]),
        ),
        case(
            "w0 = w2; w0 += w1 (32-bit scalar plus pointer)",
            XDP,
            false,
            xdp(prog![alu32r(Mov, 0, 2), alu32r(Add, 0, 1), exit()]),
        ),
        case(
            "w2 += 14 on a packet pointer",
            XDP,
            false,
            xdp(prog![alu32(Add, 2, 14), movr(0, 2), exit()]),
        ),
        case(
            "r0 = 5; r0 -= r2 (64-bit number minus pointer)",
            XDP,
            false,
            xdp(prog![mov(0, 5), alur(Sub, 0, 2), exit()]),
        ),
        case(
            "load through the result of w2 -= w1",
            XDP,
            false,
            xdp(prog![alu32r(Sub, 2, 1), ldx(B, 0, 2, 0), exit()]),
        ),
        case(
            "upper half of a 32-bit pointer difference used as a stack offset",
            XDP,
            false,
            xdp(prog![
                alu32r(Mov, 0, 2),
                alu32r(Sub, 0, 1),
                alu(Rsh, 0, 32),
                movr(4, 10),
                alu(Add, 4, -8),
                alur(Add, 4, 0),
                st(DW, 4, 0, 0),
                mov(0, 2),
                exit()
            ]),
        ),
        case(
            "bloom push of a value past the stack",
            SF,
            false,
            prog![
                ld_map(1, 0),
                movr(2, 10),
                alu(Add, 2, -4),
                mov(3, 0),
                call(87),
                mov(0, 0),
                exit()
            ],
        ),
    ]
}

fn to_kernel(insns: &[Insn], fds: &[kernel::Fd]) -> Vec<Insn> {
    insns
        .iter()
        .map(|i| match *i {
            Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapIdx,
                imm,
            } => Insn::LdImm64 {
                dst,
                kind: Imm64Kind::MapFd,
                imm: fds[imm as usize].0 as i64,
            },
            i => i,
        })
        .collect()
}

#[test]
fn runtime_gap_verdicts_agree_with_the_kernel() {
    let infos = fixture_maps();
    let maps = Maps::from_indexed(&infos);
    let fds: Option<Vec<kernel::Fd>> = match kernel::available() {
        Ok(()) => Some(
            infos
                .iter()
                .map(|m| kernel::create_map(m).expect("map create"))
                .collect(),
        ),
        Err(e) => {
            println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
            None
        }
    };
    let (mut agree, mut total) = (0, 0);
    let mut failures = vec![];
    for c in cases() {
        total += 1;
        let pt = ProgramType::from_kernel(c.prog_type).unwrap();
        let v = verify(&Program::new(&c.insns, &pt, &maps), &Options::default());
        let ours = v.verdict.is_accepted();
        let why = v
            .verdict
            .rejection()
            .map(|r| r.to_string())
            .unwrap_or_default();
        if let Some(fds) = &fds {
            let k = kernel::load(c.prog_type, &ebee_isa::encode(&to_kernel(&c.insns, fds)));
            if std::env::var_os("EBEE_SHOW").is_some() {
                println!("{}\n  kernel: {:?}\n  ours:   {}", c.name, k, why);
            }
            if k.is_ok() != c.kernel_accepts {
                failures.push(format!(
                    "{}: recorded kernel verdict {} but the kernel now says {:?}",
                    c.name, c.kernel_accepts, k
                ));
            }
        }
        if ours == c.kernel_accepts {
            agree += 1;
        } else {
            failures.push(format!(
                "{}: kernel accepts={} but we accept={ours} {why}",
                c.name, c.kernel_accepts
            ));
        }
    }
    println!("runtime gaps: {agree}/{total} agree with the kernel");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
