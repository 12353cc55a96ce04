//! Short branches the JIT turns into selects (`if (c) x = f(x)` shapes,
//! with the skipped block falling through or ending in `goto`), against
//! the interpreter: random conditions, operations and budgets, in checked
//! and verified mode. The result and the budget error must be the
//! interpreter's.

use ebee_isa::assemble;
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};
use proptest::prelude::*;

const CONDS: &[&str] = &[
    "==", "!=", "<", "<=", ">", ">=", "s<", "s<=", "s>", "s>=", "&",
];
const OPS: &[&str] = &[
    "+=", "-=", "*=", "|=", "&=", "^=", "<<=", ">>=", "s>>=", "=",
];

fn op() -> impl Strategy<Value = String> {
    (
        0..OPS.len(),
        0u8..4,
        any::<bool>(),
        -40i32..40,
        any::<bool>(),
    )
        .prop_map(|(o, r, imm, k, wide)| {
            let d = if wide { "r" } else { "w" };
            let k = if OPS[o].contains("<<") || OPS[o].contains(">>") {
                k.rem_euclid(32)
            } else {
                k
            };
            if imm {
                format!("{d}{r} {} {k}", OPS[o])
            } else {
                format!("{d}{r} {} {d}{}", OPS[o], (r + 1) % 4)
            }
        })
}

fn key(r: &Result<u64, ExecError>) -> Result<u64, String> {
    r.clone().map_err(|e| e.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn selects_match_the_interpreter(
        a in any::<i32>(), b in any::<i32>(), c in 0..CONDS.len(), cond2 in 0..CONDS.len(),
        ops in proptest::collection::vec(op(), 1..5), tail_goto in any::<bool>(),
        looped in any::<bool>(), budget in prop_oneof![0u64..60, Just(10_000)],
    ) {
        // r0..r3 from the immediates; one branch around `ops`, then (when
        // `looped`) a countdown loop whose back edge is itself a select.
        let n = ops.len() + usize::from(tail_goto);
        let mut text = format!("r0 = {a}\n r1 = {b}\n r2 = r0\n r2 ^= r1\n r3 = 3\n if r0 {} r1 goto +{n}\n", CONDS[c]);
        for o in &ops {
            text.push_str(o);
            text.push('\n');
        }
        if tail_goto {
            text.push_str("goto +0\n");
        }
        if looped {
            // L: r0 += r2; r3 -= 1; if r3 s<= 0 goto exit;
            //    if r0 COND r1 goto L; r2 ^= r1; goto L    (a back-edge select)
            text.push_str(&format!(
                "r0 += r2\n r3 -= 1\n if r3 s<= 0 goto +3\n if r0 {} r1 goto -4\n r2 ^= r1\n goto -6\n",
                CONDS[cond2]
            ));
        }
        text.push_str("exit\n");
        let mut vm = Vm::new(assemble(&text).expect("assembles")).expect("loads");
        vm.set_budget(budget);
        let want = vm.run(&mut []);
        let checked = JitProgram::compile(&vm, JitOptions::CHECKED).expect("compiles");
        prop_assert_eq!(key(&checked.run(&mut [])), key(&want), "checked on\n{}", text);
        if want.is_ok() {
            let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).expect("compiles");
            // SAFETY: the program touches no memory at all.
            let got = unsafe { verified.run_unchecked(&mut []) };
            prop_assert_eq!(key(&got), key(&want), "verified on\n{}", text);
        }
    }
}
