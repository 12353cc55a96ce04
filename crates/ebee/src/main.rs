//! `ebee`: assemble, disassemble, run and test eBPF programs.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cmd;

/// The eBPF toolchain and runtime, in Rust.
#[derive(Parser)]
#[command(name = "ebee", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 success, 1 the program failed at run time, \
2 bad command line, 3 bad input (file, assembly, bytecode), 4 the kernel refused, \
5 the verifier rejected the program."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Assemble a program (Linux or uBPF syntax, detected) into raw bytecode.
    Asm(cmd::asm::Args),
    /// Disassemble raw bytecode (Linux syntax by default).
    Disasm(cmd::disasm::Args),
    /// Run a program (bytecode, assembly or an ELF object) on a memory buffer
    /// and print r0 (and, for an object, its maps).
    Run(cmd::run::Args),
    /// Show what an ELF object holds: programs, maps, BTF, relocations.
    Inspect(cmd::inspect::Args),
    /// Prove a program safe (or say why not), like the kernel's verifier.
    Verify(cmd::verify::Args),
    /// Act as a bpf_conformance plugin: program hex on stdin, memory hex as argument.
    Conformance(cmd::conformance::Args),
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes
    // away (`ebee disasm x | head`) instead of panicking on a failed print.
    // SAFETY: restoring the default disposition of SIGPIPE before any
    // thread starts has no memory-safety preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Asm(a) => cmd::asm::run(a),
        Command::Disasm(a) => cmd::disasm::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Conformance(a) => cmd::conformance::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Verify(a) => cmd::verify::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("ebee: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
