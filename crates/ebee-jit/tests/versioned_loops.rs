//! Loops whose checks the checked mode hoists into one guard (loop
//! versioning) against the interpreter: every loop shape the analysis
//! accepts (counting up and down, unsigned, signed and `!=` exit tests,
//! entered at the top or in the middle), with start, count, stride,
//! offsets and budget drawn so that runs stay in bounds, fault at the first
//! pass, fault at the last pass, run out of budget, or never end.
//! The result, the memory and the error (pc, address, size, direction)
//! must be the interpreter's.

use ebee_isa::assemble;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};
use proptest::prelude::*;

const MEM_LEN: usize = 64;

fn input() -> Vec<u8> {
    (0..MEM_LEN as u32)
        .map(|i| (i as u8).wrapping_mul(37) ^ 0x5a)
        .collect()
}

/// The error with its host address left out (the engines' stacks differ).
fn key(r: &Result<u64, ExecError>) -> Result<u64, String> {
    r.clone().map_err(|e| match e {
        ExecError::OutOfBounds {
            pc, size, write, ..
        } => format!("OutOfBounds pc={pc} size={size} write={write}"),
        other => other.to_string(),
    })
}

/// Runs `text` on both engines; returns the interpreter's result.
fn agree(text: &str, budget: u64) -> Result<Result<u64, ExecError>, TestCaseError> {
    let mut vm = Vm::new(assemble(text).expect("assembles")).expect("loads");
    vm.set_budget(budget);
    let mut want_mem = input();
    let want = vm.run(&mut want_mem);
    let jit = JitProgram::compile(&vm, JitOptions::CHECKED).expect("compiles");
    let mut got_mem = input();
    let got = jit.run(&mut got_mem);
    prop_assert_eq!(key(&got), key(&want), "on\n{}", text);
    if want.is_ok() {
        prop_assert_eq!(got_mem, want_mem, "memory differs on\n{}", text);
    }
    Ok(want)
}

/// A loop entered at the top: loads at `r4 + (i << shift) + disp`, stores a
/// byte at `+ disp2`, steps `i` and tests it at the bottom.
#[allow(clippy::too_many_arguments)]
fn top_entered(
    n: i32,
    start: i32,
    off: i32,
    shift: u8,
    size: &str,
    disp: i16,
    disp2: i16,
    step: i32,
    cond: &str,
) -> String {
    format!(
        "r0 = 0
         r2 = {n}
         r3 = {start}
         r4 = r1
         r4 += {off}
         r5 = r3
         r5 <<= {shift}
         r5 += r4
         r6 = *({size} *)(r5 {disp:+})
         *(u8 *)(r5 {disp2:+}) = r6
         r0 += r6
         r3 += {step}
         if r3 {cond} r2 goto -8
         exit"
    )
}

/// A loop entered in the middle (clang's rotated `strcmp` shape): the exit
/// test on `i` at the top, a data-dependent back edge at the bottom.
fn middle_entered(
    n: i32,
    start: i32,
    off: i32,
    shift: u8,
    size: &str,
    step: i32,
    cond: &str,
) -> String {
    format!(
        "r0 = 0
         r2 = {n}
         r3 = {start}
         r4 = r1
         r4 += {off}
         goto +2
         r3 += {step}
         if r3 {cond} r2 goto +6
         r5 = r3
         r5 <<= {shift}
         r5 += r4
         r6 = *({size} *)(r5 +0)
         r0 += r6
         if r6 != 0x1ff goto -8
         exit"
    )
}

/// `body` as a subprogram the program calls first: the caller folds the
/// `r2`–`r5` the callee hands back (pointers as differences, which do not
/// depend on where each engine put the buffer) into `r0`.
fn called(body: &str) -> String {
    format!(
        "call pc+9
         r5 -= r4
         r4 -= r1
         r0 <<= 8
         r0 += r5
         r0 <<= 8
         r0 += r4
         r0 ^= r3
         r0 += r2
         exit
         {body}"
    )
}

const CONDS: &[&str] = &["<", "!=", ">", "s<", "s>", "<=", ">=", "=="];
const SIZES: &[&str] = &["u8", "u16", "u32", "u64"];

fn budget() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..400, Just(100_000)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn top_entered_loops_match_the_interpreter(
        n in -3i32..70, start in -3i32..70, off in -12i32..76, shift in 0u8..4,
        size in 0..SIZES.len(), disp in -4i16..5, disp2 in -4i16..5,
        up in any::<bool>(), cond in 0..CONDS.len(), budget in budget(),
    ) {
        let step = if up { 1 } else { -1 };
        let text = top_entered(n, start, off, shift, SIZES[size], disp, disp2, step, CONDS[cond]);
        let _run = agree(&text, budget)?;
    }

    #[test]
    fn middle_entered_loops_match_the_interpreter(
        n in -3i32..70, start in -3i32..70, off in -12i32..76, shift in 0u8..4,
        size in 0..SIZES.len(), up in any::<bool>(), cond in 0..CONDS.len(),
        budget in budget(),
    ) {
        let step = if up { 1 } else { -1 };
        let text = middle_entered(n, start, off, shift, SIZES[size], step, CONDS[cond]);
        let _run = agree(&text, budget)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// In a function a local call runs, `exit` hands `r1`–`r5` back: the
    /// fast copy's way out must leave them as the interpreter does. (With
    /// an ample budget: a budget running out inside a callee is reported
    /// one instruction early, in straight-line code too, which is no
    /// matter of loops.)
    #[test]
    fn called_loops_hand_back_their_registers(
        n in -3i32..70, start in -3i32..70, off in -12i32..76, shift in 0u8..4,
        size in 0..SIZES.len(), up in any::<bool>(), cond in 0..CONDS.len(),
        middle in any::<bool>(),
    ) {
        let budget = 100_000;
        let step = if up { 1 } else { -1 };
        let body = if middle {
            middle_entered(n, start, off, shift, SIZES[size], step, CONDS[cond])
        } else {
            top_entered(n, start, off, shift, SIZES[size], 0, 1, step, CONDS[cond])
        };
        let _run = agree(&called(&body), budget)?;
    }
}

fn run(text: &str) -> Result<u64, ExecError> {
    agree(text, 100_000).expect("engines agree")
}

#[test]
fn a_loop_inside_the_buffer_runs_to_the_end() {
    // Copies bytes 0..32 to 32..64 (the store's last byte is the buffer's).
    let r = run(&top_entered(32, 0, 0, 0, "u8", 0, 32, 1, "<"));
    let want: u64 = input()[..32].iter().map(|&b| b as u64).sum();
    assert_eq!(r.unwrap(), want);
}

#[test]
fn a_fault_at_the_last_pass_names_its_pc() {
    // The 33rd store lands one byte past the buffer.
    let r = run(&top_entered(33, 0, 0, 0, "u8", 0, 31 + 1, 1, "<"));
    assert!(
        matches!(
            r,
            Err(ExecError::OutOfBounds {
                pc: 9,
                write: true,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn a_fault_at_the_first_pass_names_its_pc() {
    // The first load reads one byte before the buffer.
    let r = run(&top_entered(10, 0, -1, 0, "u8", 0, 1, 1, "<"));
    assert!(
        matches!(
            r,
            Err(ExecError::OutOfBounds {
                pc: 8,
                write: false,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn counting_down_with_not_equal() {
    // i = 40, 39, ..., 1: loads at r1 + i + 16 reach byte 56 + 7 = 63.
    assert!(run(&top_entered(0, 40, 16, 0, "u64", 0, 0, -1, "!=")).is_ok());
    // One more pass at the top would read past the end.
    let r = run(&top_entered(0, 41, 16, 0, "u64", 0, 0, -1, "!="));
    assert!(
        matches!(r, Err(ExecError::OutOfBounds { pc: 8, .. })),
        "{r:?}"
    );
}

#[test]
fn a_middle_entered_loop_faults_at_its_last_pass() {
    // Reads u16 at r1 + 2i for i = 0..32: the last one ends at byte 64.
    assert!(run(&middle_entered(32, 0, 0, 1, "u16", 1, ">=")).is_ok());
    let r = run(&middle_entered(33, 0, 0, 1, "u16", 1, ">="));
    assert!(
        matches!(r, Err(ExecError::OutOfBounds { pc: 11, .. })),
        "{r:?}"
    );
}

#[test]
fn a_called_loop_hands_back_its_last_pointers() {
    // 32 passes copying bytes 0..32 to 1..33: the callee leaves r3 = 32,
    // r4 = r1, r5 = r1 + 31 (the last pass's address) and r2 = 32.
    let r = run(&called(&top_entered(32, 0, 0, 0, "u8", 0, 1, 1, "<")));
    let mut mem = input();
    let mut sum = 0u64;
    for i in 0..32 {
        let b = mem[i];
        mem[i + 1] = b;
        sum += b as u64;
    }
    let want = (((sum << 8) + 31) << 8) ^ 32;
    assert_eq!(r.unwrap(), want + 32);
}

#[test]
fn a_program_calling_its_own_entry_gets_the_registers_back() {
    // pc 0 is a call target too: the inner run (r2 == 1) sums bytes 0..8
    // in a versioned loop and leaves r5 at the last byte's address, which
    // the outer run reads back as an offset.
    let r = run("if r2 == 1 goto +5
         r2 = 1
         call pc-3
         r5 -= r1
         r0 += r5
         exit
         r0 = 0
         r3 = 0
         r5 = r1
         r5 += r3
         r4 = *(u8 *)(r5 +0)
         r0 += r4
         r3 += 1
         if r3 < 8 goto -6
         exit");
    let want: u64 = input()[..8].iter().map(|&b| b as u64).sum::<u64>() + 7;
    assert_eq!(r.unwrap(), want);
}

#[test]
fn the_budget_ends_a_hoisted_loop_exactly() {
    // 5 instructions before the loop, 8 per pass, 1 to exit: 5 + 8 * 20 + 1.
    let text = top_entered(20, 0, 0, 0, "u8", 0, 20, 1, "<");
    let exact = 5 + 8 * 20 + 1;
    assert!(agree(&text, exact).unwrap().is_ok());
    assert!(matches!(
        agree(&text, exact - 1).unwrap(),
        Err(ExecError::BudgetExhausted { .. })
    ));
}

#[test]
fn the_budget_after_a_side_exit_from_a_hoisted_loop_is_exact() {
    // The loop leaves in the middle of a pass when it reads 0x28 (byte 10
    // of `input()`), then 200 straight-line instructions follow: budgets around the exact need
    // let the guard pass (it asks for 32 full passes, fewer than the run
    // uses), so the fast copy's refund on the way out decides the verdict.
    let mut text = String::from(
        "r0 = 0
         r3 = 1
         r4 = r1
         r5 = r4
         r5 += r3
         r6 = *(u8 *)(r5 +0)
         if r6 == 0x28 goto +4
         r0 += r6
         r3 += 1
         if r3 < 32 goto -7
         exit
        ",
    );
    for _ in 0..200 {
        text.push_str("r0 += 1\n");
    }
    text.push_str("exit\n");
    let mem = input();
    let stop = (1..32).find(|&i| mem[i] == 0x28);
    assert_eq!(stop, Some(10));
    // Find the exact need with the interpreter, then try around it.
    let mut vm = Vm::new(assemble(&text).unwrap()).unwrap();
    vm.set_budget(1_000_000);
    assert!(vm.run(&mut input()).is_ok());
    let need = (0..2000u64)
        .find(|&b| {
            vm.set_budget(b);
            vm.run(&mut input()).is_ok()
        })
        .unwrap();
    assert!(
        need > 3 + 32 * 7,
        "the guard must pass near the need ({need}, stop {stop:?})"
    );
    for budget in need - 3..need + 3 {
        let r = agree(&text, budget).unwrap();
        assert_eq!(r.is_ok(), budget >= need, "budget {budget}");
    }
}
