//! Compile time and run speed of the JIT, printed as plain numbers:
//! `cargo bench -p ebee-jit --bench jit`.
//!
//! - compile time of a 1,000-instruction straight-line-and-branches program;
//! - a byte loop (sum of a 64 KiB input buffer) in verified and checked mode,
//!   with the checked/verified ratio (target ≤ 1.3×).

use ebee_isa::{encode, AluOp, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_jit::{JitOptions, JitProgram};
use std::time::{Duration, Instant};

/// A 1,000-instruction program: arithmetic, stack stores and loads, and
/// forward conditional jumps, like compiled filter code.
fn thousand_insns() -> Vec<Insn> {
    let mut p = Vec::new();
    let r = |n| Reg::new(n).unwrap();
    p.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: r(0),
        src: Operand::Imm(0),
    });
    let mut i = 0u32;
    while p.len() < 999 {
        let k = (i % 7) as u8 + 1;
        match i % 5 {
            0 => p.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: r(0),
                src: Operand::Imm(i as i32),
            }),
            1 => p.push(Insn::Store {
                size: Size::DW,
                dst: Reg::R10,
                off: -8 * (k as i16),
                src: Operand::Reg(r(0)),
            }),
            2 => p.push(Insn::Load {
                size: Size::DW,
                signed: false,
                dst: r(k.min(9)),
                src: Reg::R10,
                off: -8 * (k as i16),
            }),
            3 => p.push(Insn::Jump {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst: r(0),
                src: Operand::Imm(1_000_000),
                off: 1,
            }),
            _ => p.push(Insn::Alu {
                width: Width::W32,
                op: AluOp::Xor,
                dst: r(0),
                src: Operand::Reg(r(k.min(9))),
            }),
        }
        i += 1;
    }
    p.push(Insn::Exit);
    p
}

/// `r0 = sum of the bytes of the input buffer`.
fn byte_loop() -> Vec<Insn> {
    ebee_isa::decode(&encode(&[
        // r0 = 0; r3 = r1 + r2 (end)
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R3,
            src: Operand::Reg(Reg::R1),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R3,
            src: Operand::Reg(Reg::R2),
        },
        // loop: if r1 >= r3 goto out
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Ge,
            dst: Reg::R1,
            src: Operand::Reg(Reg::R3),
            off: 4,
        },
        Insn::Load {
            size: Size::B,
            signed: false,
            dst: Reg::R4,
            src: Reg::R1,
            off: 0,
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R4),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R1,
            src: Operand::Imm(1),
        },
        Insn::Ja {
            off: -5,
            long: false,
        },
        Insn::Exit,
    ]))
    .unwrap()
}

fn time<F: FnMut()>(mut f: F, iters: u32) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

fn main() {
    let big = thousand_insns();
    let big_vm = ebee_runtime::Vm::new(big).unwrap();
    for options in [JitOptions::VERIFIED, JitOptions::CHECKED] {
        let mut best = Duration::MAX;
        let mut total = Duration::ZERO;
        for _ in 0..20 {
            let p = JitProgram::compile(&big_vm, options).unwrap();
            best = best.min(p.compile_time());
            total += p.compile_time();
        }
        println!(
            "compile 1000 insns ({}): best {:?}, mean {:?}",
            if options.checked {
                "checked"
            } else {
                "verified"
            },
            best,
            total / 20
        );
    }

    let mut mem: Vec<u8> = (0..65536u32).map(|i| (i * 7) as u8).collect();
    let want: u64 = mem.iter().map(|b| *b as u64).sum();
    let mut vm = ebee_runtime::Vm::new(byte_loop()).unwrap();
    vm.set_budget(u64::MAX);
    let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).unwrap();
    let checked = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
    // SAFETY: the byte loop only reads [r1, r1 + r2).
    assert_eq!(unsafe { verified.run_unchecked(&mut mem) }.unwrap(), want);
    assert_eq!(checked.run(&mut mem).unwrap(), want);
    assert_eq!(vm.run(&mut mem).unwrap(), want);
    let tv = time(
        || {
            // SAFETY: as above.
            unsafe { verified.run_unchecked(&mut mem) }.unwrap();
        },
        200,
    );
    let tc = time(
        || {
            checked.run(&mut mem).unwrap();
        },
        200,
    );
    let ti = time(
        || {
            vm.run(&mut mem).unwrap();
        },
        20,
    );
    let tiu = time(
        || {
            // SAFETY: as above.
            unsafe { vm.run_unchecked(&mut mem) }.unwrap();
        },
        20,
    );
    let per_byte = |d: Duration| d.as_nanos() as f64 / 65536.0;
    println!(
        "byte loop 64 KiB: JIT verified {:.2} ns/byte, JIT checked {:.2} ns/byte (checked/verified {:.2}x)",
        per_byte(tv),
        per_byte(tc),
        tc.as_secs_f64() / tv.as_secs_f64()
    );
    println!(
        "byte loop 64 KiB: interpreter checked {:.2} ns/byte, unchecked {:.2} ns/byte; JIT speed-up {:.1}x checked, {:.1}x verified",
        per_byte(ti),
        per_byte(tiu),
        ti.as_secs_f64() / tc.as_secs_f64(),
        tiu.as_secs_f64() / tv.as_secs_f64()
    );
}
