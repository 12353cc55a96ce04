//! Conditional jumps over one or two register moves (clang's lowering of a
//! conditional assignment), which the interpreter runs as one fused op:
//! every condition, width and operand kind, and every fused move shape,
//! give the kernel's result; the budget counts the moves only when they
//! run, exactly as op-by-op execution does; a jump to a skipped move still
//! runs it.

mod common;

use common::*;
use ebee_isa::{AluOp, Insn, JmpCond, Operand, Width};
use ebee_kernel::{KernelProgram, LoadOptions, ProgramType, TestRun};
use ebee_runtime::{ExecError, Vm};

const CONDS: [JmpCond; 11] = JmpCond::ALL;

/// The moves a jump skips: each shape the interpreter fuses.
fn shapes() -> Vec<Vec<Insn>> {
    let mut out = vec![vec![mov(3, -7)], vec![movr(3, 4)]];
    for op in [
        AluOp::Add,
        AluOp::Sub,
        AluOp::And,
        AluOp::Or,
        AluOp::Xor,
        AluOp::Lsh,
        AluOp::Rsh,
        AluOp::Arsh,
    ] {
        out.push(vec![movr(3, 4), alu64(op, 3, imm(13))]);
        // The moved register is also the source: `r3 = r3; r3 op= imm`.
        let k = if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
            45
        } else {
            -3
        };
        out.push(vec![movr(3, 3), alu64(op, 3, imm(k))]);
    }
    out
}

/// `a` and `b` compared (the pairs separate signed from unsigned and 32-
/// from 64-bit conditions); r3 starts at `x`, r4 holds the moves' source.
const PAIRS: [(i64, i64); 5] = [(5, 5), (3, 7), (-1, 2), ((1 << 32) | 2, 2), (0x5555, 1)];

/// `prefix` no-ops; r1 = a; r2 = b; r3 = x; r4 = y; [if r1 == 0x5555 goto
/// the first move;] if r1 cond r2/b goto over the moves; the moves;
/// goto +0; return r3 folded to 32 bits.
fn program(
    prefix: usize,
    (a, b): (i64, i64),
    (width, cond, by_reg): (Width, JmpCond, bool),
    moves: &[Insn],
    enter_moves: bool,
) -> Vec<Insn> {
    let mut p = vec![alu64(AluOp::Add, 9, imm(0)); prefix];
    p.extend(lddw(1, a as u64));
    p.extend(lddw(2, b as u64));
    p.extend(lddw(3, 0x1234_5678_9abc_def0));
    p.extend(lddw(4, 0xfedc_ba98_7654_3210));
    if enter_moves {
        p.push(jmp(JmpCond::Eq, 1, imm(0x5555), 1));
    }
    let src = if by_reg {
        Operand::Reg(common::reg(2))
    } else {
        imm(b as i32)
    };
    let over = moves.len() as i16;
    p.push(match width {
        Width::W64 => jmp(cond, 1, src, over),
        Width::W32 => jmp32(cond, 1, src, over),
    });
    p.extend_from_slice(moves);
    p.extend([
        // A second run, which budget charged wrongly for the moves would
        // reach with the wrong amount left.
        ja(0),
        movr(0, 3),
        movr(5, 3),
        alu64(AluOp::Rsh, 5, imm(32)),
        alu64(AluOp::Xor, 0, r(5)),
        alu32(AluOp::Mov, 0, r(0)),
        exit(),
    ]);
    p
}

fn run_checked_and_unchecked(vm: &Vm) -> Result<u64, ExecError> {
    let checked = vm.run(&mut []);
    // SAFETY: the program touches no memory.
    let unchecked = unsafe { vm.run_unchecked(&mut []) };
    assert_eq!(checked, unchecked, "checked and unchecked modes disagree");
    checked
}

fn jumps() -> Vec<(Width, JmpCond, bool)> {
    let mut out = Vec::new();
    for width in [Width::W64, Width::W32] {
        for cond in CONDS {
            for by_reg in [false, true] {
                out.push((width, cond, by_reg));
            }
        }
    }
    out
}

#[test]
fn fused_moves_give_the_kernels_results() {
    if let Err(reason) = ebee_kernel::probe() {
        println!("skipped: {reason}");
        return;
    }
    let mut compared = 0;
    for jump in jumps() {
        for moves in shapes() {
            for pair in PAIRS {
                for enter_moves in [false, true] {
                    let insns = program(0, pair, jump, &moves, enter_moves);
                    let got = run_checked_and_unchecked(&Vm::new(insns.clone()).unwrap()).unwrap();
                    let prog = KernelProgram::load(
                        ProgramType::SocketFilter,
                        &insns,
                        "GPL",
                        &LoadOptions::default(),
                    )
                    .unwrap_or_else(|e| panic!("kernel refused: {e}"));
                    let out = prog.test_run(&TestRun::new(&[0u8; 64])).unwrap();
                    assert_eq!(
                        got,
                        u64::from(out.retval),
                        "{jump:?} {pair:?} entering the moves {enter_moves}: {moves:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 44 * 18 * 5 * 2);
}

/// For every budget up to the program's length, the error names the same
/// instruction as op-by-op execution (a run of 300 instructions first
/// makes the whole program run in precise mode, which never fuses), and
/// the same budgets succeed.
#[test]
fn budget_counts_only_the_moves_that_run() {
    const PREFIX: usize = 300;
    for jump in jumps() {
        for moves in shapes() {
            for pair in PAIRS {
                let mut vm = Vm::new(program(0, pair, jump, &moves, true)).unwrap();
                let mut slow = Vm::new(program(PREFIX, pair, jump, &moves, true)).unwrap();
                for budget in 0..24u64 {
                    vm.set_budget(budget);
                    slow.set_budget(budget + PREFIX as u64);
                    match (
                        run_checked_and_unchecked(&vm),
                        run_checked_and_unchecked(&slow),
                    ) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b),
                        (
                            Err(ExecError::BudgetExhausted { pc, .. }),
                            Err(ExecError::BudgetExhausted { pc: slow_pc, .. }),
                        ) => assert_eq!(pc + PREFIX, slow_pc, "{jump:?} {pair:?} budget {budget}"),
                        (a, b) => panic!("{jump:?} {pair:?} budget {budget}: {a:?} vs {b:?}"),
                    }
                }
            }
        }
    }
}
