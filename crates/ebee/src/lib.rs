//! The library behind the `ebee` command: reading programs in any of the
//! forms users hand us, the bpf_conformance plugin protocol, and the exit
//! codes scripts rely on. The binary (`main.rs`) only parses arguments and
//! prints.

#![warn(missing_docs)]

pub mod conformance;
pub mod engine;
pub mod failure;
pub mod hex;
pub mod input;

pub use engine::Engine;
pub use failure::Failure;
