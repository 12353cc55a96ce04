//! Shared by the JIT's tests: the property tests of verified-mode code
//! shapes (`exit_tails.rs`, `switch_tables.rs`) and the comparisons that
//! print a run's verdict (`budget_exact.rs`, `backward_budget.rs`,
//! `inline_lookup.rs`). Each test file uses only some of it.
#![allow(dead_code)]

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};
use proptest::prelude::*;

/// Runs the program `text`, which touches no memory, on the interpreter
/// (which must run it cleanly) and on the JIT in checked and verified
/// mode; all three must give the same `r0`.
pub fn agree_without_memory(text: &str) -> Result<(), TestCaseError> {
    let vm = Vm::new(ebee_isa::assemble(text).expect("assembles")).expect("loads");
    let want = vm.run(&mut []);
    prop_assert!(want.is_ok(), "the interpreter fails on\n{}", text);
    let want = want.ok();
    let checked = JitProgram::compile(&vm, JitOptions::CHECKED).expect("compiles");
    prop_assert_eq!(checked.run(&mut []).ok(), want, "checked on\n{}", text);
    let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).expect("compiles");
    // SAFETY: the program touches no memory at all.
    let got = unsafe { verified.run_unchecked(&mut []) };
    prop_assert_eq!(got.ok(), want, "verified on\n{}", text);
    Ok(())
}

/// A run's verdict without host addresses: `ok R0`, or the error's
/// portable key.
pub fn verdict(r: &Result<u64, ExecError>) -> String {
    match r {
        Ok(v) => format!("ok {v}"),
        Err(e) => e.portable_key(),
    }
}
