//! Shared by the property tests of verified-mode code shapes
//! (`exit_tails.rs`, `switch_tables.rs`).

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;
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
