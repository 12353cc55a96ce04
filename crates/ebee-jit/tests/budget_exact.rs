//! The instruction budget in checked mode names the same instruction as
//! the interpreter's, which charges one instruction at a time when the
//! budget gets short: for every budget from 0 past the program's length,
//! the JIT and the interpreter give the same result or the same error
//! (pc included), and a helper with a side effect runs exactly as often.
//! The JIT charges a block on entry, so this covers faults and calls in
//! the middle of a block, `lddw` (two slots, one instruction), local
//! calls (the callee gets the budget without the caller's rest of the
//! block) and helper calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;

mod support;
use support::verdict;

/// Runs `asm` with every budget in `0..=max` on both engines; `calls`
/// counts the runs of helper 100 (adds 1 to r0's argument `r1`).
fn sweep(asm: &str, max: u64) -> Vec<String> {
    let calls = Arc::new(AtomicU64::new(0));
    let mut vm = Vm::new(ebee_isa::assemble(asm).unwrap()).unwrap();
    let c = Arc::clone(&calls);
    vm.helpers_mut().register(100, "count", move |a| {
        c.fetch_add(1, Ordering::SeqCst);
        Ok(a[0] + 1)
    });
    let mut out = Vec::new();
    for budget in 0..=max {
        vm.set_budget(budget);
        let mut mem = vec![7u8; 16];
        calls.store(0, Ordering::SeqCst);
        let interp = format!(
            "{} calls={}",
            verdict(&vm.run(&mut mem)),
            calls.load(Ordering::SeqCst)
        );
        let jit = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
        calls.store(0, Ordering::SeqCst);
        let mut mem = vec![7u8; 16];
        let got = format!(
            "{} calls={}",
            verdict(&jit.run(&mut mem)),
            calls.load(Ordering::SeqCst)
        );
        assert_eq!(got, interp, "budget {budget}:\n{asm}");
        out.push(interp);
    }
    out
}

#[test]
fn straight_line_with_lddw_and_a_fault() {
    let got = sweep(
        "
        r0 = 1
        r2 = 0x1122334455667788 ll
        r0 += r2
        r3 = *(u8 *)(r1 + 3)
        r0 += r3
        r4 = *(u8 *)(r1 + 99)
        r0 += 1
        exit",
        10,
    );
    // Budget 2 stops at the third instruction (pc 3: after the lddw's two
    // slots); 6 reaches the bad load at pc 6.
    assert!(got[2].contains("instruction 3:"), "{}", got[2]);
    assert!(got[6].starts_with("OutOfBounds pc=6"), "{}", got[6]);
    assert!(got[10].starts_with("OutOfBounds pc=6"), "{}", got[10]);
}

#[test]
fn a_callee_gets_the_budget_without_the_callers_rest_of_block() {
    // The shape that found the bug: the caller's `exit` after the call
    // was charged before the callee ran.
    let got = sweep(
        "
        call sub
        exit
    sub:
        r0 = 0
        r2 = 0
        r3 = 18
        r4 = r1
        r4 += 25
        r5 = r3
        r5 <<= 1
        r5 += r4
        r6 = *(u32 *)(r5 + 0)
        exit",
        14,
    );
    assert!(got[10].starts_with("OutOfBounds pc=10"), "{}", got[10]);
    let got = sweep(
        "
        r0 = 1
        call sub
        r0 += 1
        r0 += 1
        exit
    sub:
        r0 = 5
        r0 += 1
        exit",
        9,
    );
    assert_eq!(got[8], "ok 8 calls=0");
}

#[test]
fn a_helper_runs_only_within_the_budget() {
    let got = sweep(
        "
        r1 = 1
        call 100
        r1 = r0
        r1 += 1
        call 100
        r0 += 1
        r0 += 1
        exit",
        9,
    );
    assert!(got[1].ends_with("calls=0"), "{}", got[1]);
    assert!(got[2].ends_with("calls=1"), "{}", got[2]);
    assert_eq!(got[8], "ok 6 calls=2");
}

#[test]
fn loops_and_calls_together() {
    // A loop whose body calls a helper and a subprogram: the budget runs
    // out in different places of the body as it grows.
    sweep(
        "
        r6 = 0
        r7 = 3
    top:
        r1 = r6
        call 100
        r6 = r0
        call sub
        r7 -= 1
        if r7 != 0 goto top
        r0 = r6
        exit
    sub:
        r0 = 1
        exit",
        40,
    );
}

#[test]
fn a_chain_of_blocks_without_budget_tests_between_them() {
    // The fall-through blocks after each test have one predecessor, so
    // their edges skip the budget test: an error found later is traced
    // back into the block where the budget ran out.
    let got = sweep(
        "
        r0 = 0
        if r1 == 0 goto out
        r0 += 1
        r0 += 1
        if r0 == 100 goto out
        r0 += 1
        r3 = 5
        r0 += r3
        r2 = *(u8 *)(r1 + 99)
    out:
        exit",
        11,
    );
    for (budget, pc) in [(0, 0), (1, 1), (2, 2), (4, 4), (5, 5), (7, 7)] {
        assert!(
            got[budget].starts_with(&format!("instruction {pc}:")),
            "budget {budget}: {}",
            got[budget]
        );
    }
    assert!(got[9].starts_with("OutOfBounds pc=8"), "{}", got[9]);
}

#[test]
fn no_store_lands_after_the_budget_ran_out() {
    // Stores into the input buffer in the same block and in blocks whose
    // edges skip the budget test: the buffer afterwards is the
    // interpreter's for every budget.
    let asm = "
        r2 = 1
        *(u8 *)(r1 + 0) = r2
        r2 += 1
        *(u8 *)(r1 + 1) = r2
        if r2 == 100 goto out
        r2 += 1
        *(u8 *)(r1 + 2) = r2
        lock *(u32 *)(r1 + 4) += r2
        r2 += 1
        *(u8 *)(r1 + 3) = r2
    out:
        r0 = r2
        exit";
    let mut vm = Vm::new(ebee_isa::assemble(asm).unwrap()).unwrap();
    let jit_of = |vm: &Vm| JitProgram::compile(vm, JitOptions::CHECKED).unwrap();
    for budget in 0..=14 {
        vm.set_budget(budget);
        let mut a = vec![0u8; 16];
        let mut b = vec![0u8; 16];
        let want = verdict(&vm.run(&mut a));
        let got = verdict(&jit_of(&vm).run(&mut b));
        assert_eq!(got, want, "budget {budget}");
        assert_eq!(b, a, "budget {budget}: memory");
    }
}
