//! `ebee disasm FILE [--syntax linux|ubpf]`

use super::SyntaxArg;
use ebee::input::read_program;
use ebee::Failure;
use ebee_isa::disasm::{disassemble, DisasmOptions};
use std::path::PathBuf;

/// Arguments of `ebee disasm`.
#[derive(clap::Args)]
pub struct Args {
    /// Raw bytecode (or assembly, to normalise it).
    file: PathBuf,
    /// Output syntax.
    #[arg(long, value_enum, default_value = "linux")]
    syntax: SyntaxArg,
    /// Show the instruction bytes, like `llvm-objdump -d`.
    #[arg(long)]
    bytes: bool,
    /// Leave out the instruction numbers (output then re-assembles as is).
    #[arg(long)]
    no_pc: bool,
}

/// Runs `ebee disasm`.
pub fn run(args: Args) -> Result<(), Failure> {
    let program = read_program(&args.file)?;
    let opts = DisasmOptions {
        syntax: args.syntax.into(),
        show_pc: !args.no_pc,
        show_bytes: args.bytes,
    };
    print!("{}", disassemble(&program.insns, &opts));
    Ok(())
}
