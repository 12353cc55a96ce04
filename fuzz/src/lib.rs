//! Fuzzing support for ebee: turns a fuzzer's bytes into an eBPF program
//! and an input buffer ([`program`]), and runs it on the interpreter and
//! the JIT, which must agree ([`compare`]). The interpreter defines every
//! instruction's meaning; the targets in `fuzz_targets/` are thin wrappers.

#![warn(missing_docs)]

pub mod compare;
pub mod program;
