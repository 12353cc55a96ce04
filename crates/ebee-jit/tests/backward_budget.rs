//! The checked mode tests the budget on the taken edge of a conditional
//! backward jump only: against the interpreter, on loops whose backward
//! jumps go both ways, every budget around the exact need gives the
//! interpreter's verdict (a result, or running out, or the fault it meets
//! first).

use ebee_isa::assemble;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};

mod support;
use support::verdict;

fn input() -> Vec<u8> {
    (0..64u32)
        .map(|i| (i as u8).wrapping_mul(73) ^ 0x35)
        .collect()
}

/// Runs `text` on both engines at every budget below `max`, comparing
/// verdicts; returns the smallest budget that completes, if any.
fn sweep(text: &str, max: u64) -> Option<u64> {
    let insns = assemble(text).expect("assembles");
    let mut need = None;
    for budget in 0..max {
        let mut vm = Vm::new(insns.clone()).expect("loads");
        vm.set_budget(budget);
        let want = vm.run(&mut input());
        let jit = JitProgram::compile(&vm, JitOptions::CHECKED).expect("compiles");
        let got = jit.run(&mut input());
        assert_eq!(verdict(&got), verdict(&want), "budget {budget} on\n{text}");
        if want.is_ok() && need.is_none() {
            need = Some(budget);
        }
    }
    need
}

/// Walks the buffer from byte 0; each byte's value picks which of two
/// backward jumps leads to the next one, the loop ends after `n` bytes.
fn walk(n: u32, limit: u8) -> String {
    format!(
        "r0 = 0
         r3 = 0
         goto +3
         r0 += 1
         r3 += 1
         if r3 >= {n} goto +5
         r4 = r1
         r4 += r3
         r5 = *(u8 *)(r4 +0)
         if r5 > {limit} goto -7
         if r5 <= {limit} goto -8
         exit"
    )
}

#[test]
fn budgets_around_the_need_agree_with_the_interpreter() {
    for limit in [0, 100, 200, 255] {
        let need = sweep(&walk(20, limit), 200);
        assert!(need.is_some_and(|n| n > 100), "limit {limit}: {need:?}");
    }
}

#[test]
fn a_fault_after_an_untaken_backward_jump_meets_the_budget_first() {
    // The 64th pass reads past the buffer; with budgets too small to get
    // there the interpreter runs out, with enough it faults at the load.
    let text = walk(70, 128);
    assert_eq!(sweep(&text, 700), None);
    let mut vm = Vm::new(assemble(&text).unwrap()).unwrap();
    vm.set_budget(10_000);
    assert!(matches!(
        vm.run(&mut input()),
        Err(ExecError::OutOfBounds { pc: 8, .. })
    ));
}
