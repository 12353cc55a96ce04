//! The JIT against the interpreter: the fuzzer's bytes become a program
//! and an input buffer ([`ebee_fuzz::program::Case::from_bytes`]), which
//! every JIT mode must run exactly as the checked interpreter does
//! ([`ebee_fuzz::compare::compare`] panics on a difference).

#![no_main]

use ebee_fuzz::compare::compare;
use ebee_fuzz::program::Case;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    compare(&Case::from_bytes(data));
});
