//! Exit tails (a few register operations and `exit`) that the verified-mode
//! JIT copies into each jump reaching them, against the interpreter: a
//! loop whose random exit tests jump to shared tails (more jumps to one
//! tail than it copies, tails with `lddw`, one too long to copy) and falls
//! through into the first. The result must be the interpreter's, in both
//! modes.

use ebee_isa::assemble;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;
use proptest::prelude::*;

mod support;

const CONDS: &[&str] = &[
    "==", "!=", "<", "<=", ">", ">=", "s<", "s<=", "s>", "s>=", "&",
];

/// The tails, each ending in `exit`; the last has three operations, one
/// more than a copied tail may have.
const TAILS: &[&[&str]] = &[
    &["exit"],
    &["r0 = r1", "exit"],
    &["r0 = r2", "r0 += 7", "exit"],
    &["r0 = 0x123456789 ll", "exit"],
    &["w0 = w1", "w0 -= w3", "exit"],
    &["r0 = r3", "r0 *= r1", "r0 ^= r2", "exit"],
];

/// Instruction slots of an assembly line (`lddw` takes two).
fn slots(line: &str) -> usize {
    if line.ends_with(" ll") {
        2
    } else {
        1
    }
}

/// The program: `r1`, `r2` from `a` and `b`, `count` loop passes, each
/// testing `tests` (condition, tail) in turn.
fn program(a: i32, b: i32, count: i32, tests: &[(usize, usize)], order: &[usize]) -> String {
    let head = [
        format!("r1 = {a}"),
        format!("r2 = {b}"),
        format!("r3 = {count}"),
        "r0 = 0".to_string(),
    ];
    let loop_start = head.len();
    // Loop: 2 ops, the tests, the countdown and its back jump.
    let loop_len = 2 + tests.len() + 2;
    let tails_start = loop_start + loop_len;
    // Tail start pcs in the order they are laid out.
    let mut tail_pc = vec![0; TAILS.len()];
    let mut pc = tails_start;
    for &t in order {
        tail_pc[t] = pc;
        pc += TAILS[t].iter().map(|l| slots(l)).sum::<usize>();
    }
    let mut lines: Vec<String> = head.to_vec();
    lines.push("r1 += r2".into());
    lines.push("r2 ^= r3".into());
    for (i, &(c, t)) in tests.iter().enumerate() {
        let at = loop_start + 2 + i;
        let off = tail_pc[t] as i64 - at as i64 - 1;
        lines.push(format!("if r1 {} r2 goto {off:+}", CONDS[c]));
    }
    lines.push("r3 -= 1".into());
    let at = loop_start + loop_len - 1;
    let back = loop_start as i64 - at as i64 - 1;
    lines.push(format!("if r3 s> 0 goto {back:+}"));
    for &t in order {
        lines.extend(TAILS[t].iter().map(|l| l.to_string()));
    }
    lines.join("\n")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn copied_exit_tails_match_the_interpreter(
        a in any::<i32>(), b in any::<i32>(), count in 1i32..20,
        tests in proptest::collection::vec((0..CONDS.len(), 0..TAILS.len()), 1..24),
        order in Just((0..TAILS.len()).collect::<Vec<_>>()).prop_shuffle(),
    ) {
        let text = program(a, b, count, &tests, &order);
        support::agree_without_memory(&text)?;
    }
}

/// Twenty jumps to one tail (more than it is copied for) all return
/// through it: started at `r1 = s`, test `s` is the one taken.
#[test]
fn more_jumps_than_copies_still_reach_the_tail() {
    let n = 20;
    for s in 0..n {
        let mut lines = vec![format!("r1 = {s}"), "r0 = 0".to_string()];
        // Test k: if r1 == k goto the tail (at pc 2 + n + 3).
        for k in 0..n {
            let at = 2 + k;
            let off = (2 + n + 3) as i64 - at as i64 - 1;
            lines.push(format!("if r1 == {k} goto {off:+}"));
        }
        lines.push("r1 += 1".into());
        lines.push("r0 += r1".into());
        lines.push(format!("goto {:+}", -(n as i64) - 3));
        lines.push("r0 += 1000".into());
        lines.push("exit".into());
        let text = lines.join("\n");
        let vm = Vm::new(assemble(&text).expect("assembles")).expect("loads");
        let want = vm.run(&mut []).expect("runs");
        assert_eq!(want, 1000, "the interpreter on\n{text}");
        let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).expect("compiles");
        // SAFETY: the program touches no memory at all.
        let got = unsafe { verified.run_unchecked(&mut []) };
        assert_eq!(got.ok(), Some(want), "verified on\n{text}");
    }
}
