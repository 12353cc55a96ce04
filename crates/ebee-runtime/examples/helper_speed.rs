//! Cost of a helper call in the interpreter: a loop of 1M iterations
//! calling a host helper, vs the same loop without the call.
//! `cargo run --release --example helper_speed`.

use ebee_isa::{AluOp, CallTarget, Insn, JmpCond, Operand, Reg, Width};
use ebee_runtime::Vm;
use std::time::Instant;

fn reg(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

fn program(call: bool) -> Vec<Insn> {
    let mov = |dst, src| Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: reg(dst),
        src,
    };
    let add = |dst, src| Insn::Alu {
        width: Width::W64,
        op: AluOp::Add,
        dst: reg(dst),
        src,
    };
    let mut p = vec![mov(6, Operand::Imm(0)), mov(7, Operand::Imm(0))];
    // loop: r1 = r6; call 0x1000 (r0 = r1); r7 += r0; r6 += 1; if r6 < 1M goto loop
    let body_start = p.len();
    p.push(mov(1, Operand::Reg(reg(6))));
    if call {
        p.push(Insn::Call(CallTarget::Helper(0x1000)));
    } else {
        p.push(mov(0, Operand::Reg(reg(1))));
    }
    p.push(add(7, Operand::Reg(reg(0))));
    p.push(add(6, Operand::Imm(1)));
    let here = p.len() as i64;
    p.push(Insn::Jump {
        width: Width::W64,
        cond: JmpCond::Lt,
        dst: reg(6),
        src: Operand::Imm(1_000_000),
        off: (body_start as i64 - here - 1) as i16,
    });
    p.push(mov(0, Operand::Reg(reg(7))));
    p.push(Insn::Exit);
    p
}

fn main() {
    let mut times = vec![];
    for call in [false, true] {
        let mut vm = Vm::new(program(call)).unwrap();
        vm.helpers_mut().register(0x1000, "identity", |a| Ok(a[0]));
        vm.set_budget(u64::MAX);
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let r = vm.run(&mut []).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(r, 999_999 * 1_000_000 / 2);
        }
        times.push(best);
    }
    println!(
        "loop without call {:.1} ns/iter, with a helper call {:.1} ns/iter: {:.1} ns per call",
        times[0] * 1e3,
        times[1] * 1e3,
        (times[1] - times[0]) * 1e3
    );
}
