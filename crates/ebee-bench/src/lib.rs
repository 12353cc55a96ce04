//! The ebee benchmark suite: clang-built eBPF programs timed on ebee's
//! engines, on rbpf's interpreter and JIT, and against the same algorithms
//! in native Rust.
//!
//! Run it with `cargo run --release -p ebee-bench [-- FILTER] [--rounds N]
//! [--markdown]`. The library part exists so the tests can check that every
//! engine computes the same result on every program.
//!
//! - [`program`]: the bytecode `build.rs` compiled from `programs/*.c`;
//! - [`input`], [`native`] and [`native_maps`]: the input buffers and the
//!   Rust twins;
//! - [`benchmark`]: the rows of the table; [`engine`]: its columns;
//! - [`measure`], [`clock`] and [`report`]: timing and printing.

#![warn(missing_docs)]

pub mod benchmark;
pub mod clock;
pub mod compile_time;
pub mod engine;
pub mod input;
pub mod measure;
pub mod native;
pub mod native_maps;
pub mod program;
pub mod report;
