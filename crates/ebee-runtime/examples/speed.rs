//! Quick interpreter speed check: checked vs unchecked mode vs rbpf's
//! interpreter on three loops. `cargo run --release --example speed`.
//! (The real benchmark suite is `ebee-bench`.)

use ebee_isa::{encode, AluOp, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_runtime::Vm;
use std::time::Instant;

fn reg(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

fn alu(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}

fn imm(i: i32) -> Operand {
    Operand::Imm(i)
}

fn rg(n: u8) -> Operand {
    Operand::Reg(reg(n))
}

/// r0 = sum of the input's bytes.
fn byte_sum() -> Vec<Insn> {
    vec![
        alu(AluOp::Mov, 0, imm(0)),
        alu(AluOp::Mov, 3, rg(1)),
        alu(AluOp::Mov, 4, rg(1)),
        alu(AluOp::Add, 4, imm(1 << 20)), // rbpf does not pass the length in r2
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Ge,
            dst: reg(3),
            src: rg(4),
            off: 4,
        },
        Insn::Load {
            size: Size::B,
            signed: false,
            dst: reg(5),
            src: reg(3),
            off: 0,
        },
        alu(AluOp::Add, 0, rg(5)),
        alu(AluOp::Add, 3, imm(1)),
        Insn::Ja {
            off: -5,
            long: false,
        },
        Insn::Exit,
    ]
}

/// A register-only loop: 1M iterations of a small hash.
fn alu_loop() -> Vec<Insn> {
    vec![
        alu(AluOp::Mov, 0, imm(1)),
        alu(AluOp::Mov, 1, imm(1_000_000)),
        alu(AluOp::Mul, 0, imm(31)),
        alu(AluOp::Xor, 0, rg(1)),
        alu(AluOp::Rsh, 0, imm(1)),
        alu(AluOp::Sub, 1, imm(1)),
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Ne,
            dst: reg(1),
            src: imm(0),
            off: -5,
        },
        Insn::Exit,
    ]
}

/// A stack loop: 1M iterations of a stack store and load.
fn stack_loop() -> Vec<Insn> {
    vec![
        alu(AluOp::Mov, 0, imm(0)),
        alu(AluOp::Mov, 1, imm(1_000_000)),
        Insn::Store {
            size: Size::DW,
            dst: reg(10),
            off: -8,
            src: rg(1),
        },
        Insn::Load {
            size: Size::DW,
            signed: false,
            dst: reg(2),
            src: reg(10),
            off: -8,
        },
        alu(AluOp::Add, 0, rg(2)),
        alu(AluOp::Sub, 1, imm(1)),
        Insn::Jump {
            width: Width::W64,
            cond: JmpCond::Ne,
            dst: reg(1),
            src: imm(0),
            off: -5,
        },
        Insn::Exit,
    ]
}

/// CPU time of this thread in seconds (the machine is shared: wall time
/// would count other processes).
fn cpu_time() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Best of 7 runs, in CPU seconds.
fn time<F: FnMut() -> u64>(mut f: F) -> (f64, u64) {
    let mut best = f64::MAX;
    let mut r = 0;
    for _ in 0..7 {
        let t = cpu_time();
        let wall = Instant::now();
        r = f();
        let _ = wall.elapsed();
        best = best.min(cpu_time() - t);
    }
    (best, r)
}

fn main() {
    // `speed <program> <mode>` runs one combination 20 times (for `perf stat`).
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 2 && args[1] == "tiny" {
        return tiny();
    }
    if args.len() == 3 {
        return run_one(&args[1], &args[2]);
    }
    let mut input = vec![0u8; 1 << 20];
    for (i, b) in input.iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    for (name, insns) in [
        ("byte_sum 1MiB", byte_sum()),
        ("alu_loop 1M", alu_loop()),
        ("stack_loop 1M", stack_loop()),
    ] {
        let bytes = encode(&insns);
        let mut vm = Vm::new(insns).unwrap();
        vm.set_budget(u64::MAX);
        let mut mem = input.clone();
        let (checked, r1) = time(|| vm.run(&mut mem).unwrap());
        // SAFETY: the programs only read the input and their stack slot.
        let (unchecked, r2) = time(|| unsafe { vm.run_unchecked(&mut mem) }.unwrap());
        let rbpf_vm = rbpf::EbpfVmRaw::new(Some(&bytes)).unwrap();
        let (rbpf_t, r3) = time(|| rbpf_vm.execute_program(&mut mem).unwrap());
        assert_eq!(r1, r2);
        assert_eq!(r1, r3);
        println!(
            "{name:14} checked {:7.2} ms  unchecked {:7.2} ms  (checked/unchecked {:.2})  rbpf {:7.2} ms  (rbpf/checked {:.1}x)",
            checked * 1e3,
            unchecked * 1e3,
            checked / unchecked,
            rbpf_t * 1e3,
            rbpf_t / checked
        );
    }
    tiny();
}

/// Per-run overhead: `r0 = 1; exit` run 100 000 times.
fn tiny() {
    let insns = vec![alu(AluOp::Mov, 0, imm(1)), Insn::Exit];
    let bytes = encode(&insns);
    let vm = Vm::new(insns).unwrap();
    let rbpf_vm = rbpf::EbpfVmRaw::new(Some(&bytes)).unwrap();
    let mut mem = [0u8; 64];
    const N: u64 = 100_000;
    let (checked, _) = time(|| (0..N).map(|_| vm.run(&mut mem).unwrap()).sum());
    // SAFETY: the program touches no memory.
    let (unchecked, _) = time(|| {
        (0..N)
            .map(|_| unsafe { vm.run_unchecked(&mut mem) }.unwrap())
            .sum()
    });
    let (rbpf_t, _) = time(|| {
        (0..N)
            .map(|_| rbpf_vm.execute_program(&mut mem).unwrap())
            .sum()
    });
    let ns = |t: f64| t * 1e9 / N as f64;
    println!(
        "tiny (per run) checked {:7.1} ns  unchecked {:7.1} ns  rbpf {:7.1} ns",
        ns(checked),
        ns(unchecked),
        ns(rbpf_t)
    );
}

fn run_one(program: &str, mode: &str) {
    let insns = match program {
        "byte_sum" => byte_sum(),
        "alu_loop" => alu_loop(),
        _ => stack_loop(),
    };
    let mut vm = Vm::new(insns.clone()).unwrap();
    vm.set_budget(u64::MAX);
    let mut mem = vec![1u8; 1 << 20];
    let bytes = encode(&insns);
    let rbpf_vm = rbpf::EbpfVmRaw::new(Some(&bytes)).unwrap();
    let mut sum = 0u64;
    for _ in 0..20 {
        sum = sum.wrapping_add(match mode {
            "checked" => vm.run(&mut mem).unwrap(),
            // SAFETY: the programs only read the input and their stack slot.
            "unchecked" => unsafe { vm.run_unchecked(&mut mem) }.unwrap(),
            _ => rbpf_vm.execute_program(&mut mem).unwrap(),
        });
    }
    println!("{sum}");
}
