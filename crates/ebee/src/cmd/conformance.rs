//! `ebee conformance [--jit] [MEMORY_HEX]`: the bpf_conformance plugin protocol.

use ebee::Failure;
use std::io::Read;

/// Arguments of `ebee conformance`.
#[derive(clap::Args)]
pub struct Args {
    /// The input memory as hex bytes (may be empty or absent).
    memory: Option<String>,
    /// Run the program with the JIT (checked mode) instead of the interpreter.
    #[arg(long)]
    jit: bool,
}

/// Runs `ebee conformance`: reads the program hex from stdin, prints r0 in hex.
pub fn run(args: Args) -> Result<(), Failure> {
    let mut program = String::new();
    std::io::stdin()
        .read_to_string(&mut program)
        .map_err(|e| Failure::Input(format!("stdin: {e}")))?;
    let engine = if args.jit {
        ebee::Engine::Jit
    } else {
        ebee::Engine::Interp
    };
    let memory = args.memory.as_deref().unwrap_or("");
    let r0 = ebee::conformance::run_hex_on(&program, memory, engine)?;
    println!("{r0:x}");
    Ok(())
}
