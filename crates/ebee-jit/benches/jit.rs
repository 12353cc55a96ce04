//! Compile time and run speed of the JIT, printed as plain numbers:
//! `cargo bench -p ebee-jit --bench jit`.
//!
//! - compile time of a 1,000-instruction straight-line-and-branches program;
//! - a byte loop (sum of a 64 KiB input buffer) in verified and checked mode,
//!   with the checked/verified ratio (target ≤ 1.3×).

use ebee_isa::{encode, AluOp, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_jit::{JitOptions, JitProgram};
use std::time::Duration;

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

/// FNV-1a over the input buffer: a byte loop with real work per byte.
fn fnv_loop() -> Vec<Insn> {
    ebee_isa::assemble(
        "
        r0 = 0xcbf29ce4 ll
        r0 <<= 32
        r3 = 0x84222325
        r0 |= r3
        r3 = r1
        r3 += r2
        r4 = 0x100000001b3 ll
    loop:
        if r1 >= r3 goto out
        r5 = *(u8 *)(r1 + 0)
        r0 ^= r5
        r0 *= r4
        r1 += 1
        goto loop
    out:
        exit
    ",
    )
    .unwrap()
}

/// The best of five rounds of `iters` calls, in this thread's CPU time per
/// call (the machine may be shared; the best round is the least disturbed).
fn time<F: FnMut()>(mut f: F, iters: u32) -> Duration {
    f();
    (0..5)
        .map(|_| {
            let start = thread_cpu_time();
            for _ in 0..iters {
                f();
            }
            (thread_cpu_time() - start) / iters
        })
        .min()
        .unwrap()
}

/// CPU time of this thread: on a loaded machine wall-clock compile times
/// mostly measure the other processes.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() {
    let big = thousand_insns();
    let big_vm = ebee_runtime::Vm::new(big).unwrap();
    let unoptimised = |o: JitOptions| JitOptions {
        optimize: false,
        ..o
    };
    for options in [
        JitOptions::VERIFIED,
        JitOptions::CHECKED,
        unoptimised(JitOptions::VERIFIED),
        unoptimised(JitOptions::CHECKED),
    ] {
        let mut best = Duration::MAX;
        let mut best_cpu = Duration::MAX;
        for _ in 0..20 {
            let cpu = thread_cpu_time();
            let p = JitProgram::compile(&big_vm, options).unwrap();
            best_cpu = best_cpu.min(thread_cpu_time() - cpu);
            best = best.min(p.compile_time());
        }
        let code = JitProgram::compile(&big_vm, options).unwrap().code_size();
        let mode = match (options.checked, options.optimize) {
            (true, true) => "checked",
            (false, true) => "verified",
            (true, false) => "checked, unoptimised",
            (false, false) => "verified, unoptimised",
        };
        println!("compile 1000 insns ({mode}): best {best:?} wall, {best_cpu:?} CPU; {code} bytes of code");
    }

    // The conformance corpus: small programs, as most filters are.
    if let Some(dir) = ebee_corpus::conformance_dir() {
        let vms: Vec<ebee_runtime::Vm> = ebee_corpus::conformance::cases(&dir)
            .iter()
            .filter_map(|c| ebee_runtime::Vm::from_bytes(&c.program).ok())
            .collect();
        let insns: usize = vms.iter().map(|v| v.insns().len()).sum();
        for options in [JitOptions::VERIFIED, JitOptions::CHECKED] {
            let start = thread_cpu_time();
            for v in &vms {
                JitProgram::compile(v, options).unwrap();
            }
            let per = (thread_cpu_time() - start) / vms.len() as u32;
            println!(
                "compile conformance corpus ({}): {} programs, {:.1} insns on average, {per:?} CPU each",
                if options.checked { "checked" } else { "verified" },
                vms.len(),
                insns as f64 / vms.len() as f64
            );
        }
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
    let mut fnv = ebee_runtime::Vm::new(fnv_loop()).unwrap();
    fnv.set_budget(u64::MAX);
    let fnv_verified = JitProgram::compile(&fnv, JitOptions::VERIFIED).unwrap();
    let fnv_checked = JitProgram::compile(&fnv, JitOptions::CHECKED).unwrap();
    let fnv_want = fnv.run(&mut mem).unwrap();
    assert_eq!(fnv_checked.run(&mut mem).unwrap(), fnv_want);
    let fv = time(
        || {
            // SAFETY: the loop only reads [r1, r1 + r2).
            unsafe { fnv_verified.run_unchecked(&mut mem) }.unwrap();
        },
        200,
    );
    let fc = time(
        || {
            fnv_checked.run(&mut mem).unwrap();
        },
        200,
    );
    let fi = time(
        || {
            fnv.run(&mut mem).unwrap();
        },
        20,
    );
    println!(
        "fnv-1a 64 KiB: JIT verified {:.2} ns/byte, JIT checked {:.2} ns/byte (checked/verified {:.2}x), interpreter checked {:.2} ns/byte",
        per_byte(fv),
        per_byte(fc),
        fc.as_secs_f64() / fv.as_secs_f64(),
        per_byte(fi)
    );
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
