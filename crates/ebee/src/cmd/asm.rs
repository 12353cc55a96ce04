//! `ebee asm FILE [-o OUT]`

use super::SyntaxArg;
use ebee::input::read_file;
use ebee::Failure;
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `ebee asm`.
#[derive(clap::Args)]
pub struct Args {
    /// Assembly source (Linux or uBPF syntax).
    file: PathBuf,
    /// Output file for the bytecode; `-` for stdout. Default: FILE with extension `.bin`.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Force a syntax instead of detecting it.
    #[arg(long, value_enum)]
    syntax: Option<SyntaxArg>,
    /// Print the bytecode as hex (one instruction per line) instead of writing a file.
    #[arg(long, conflicts_with = "output")]
    hex: bool,
}

/// Runs `ebee asm`.
pub fn run(args: Args) -> Result<(), Failure> {
    let bytes = read_file(&args.file)?;
    let name = args.file.display().to_string();
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| Failure::Input(format!("{name}: not UTF-8 text")))?;
    let syntax = args
        .syntax
        .map(Into::into)
        .unwrap_or_else(|| ebee_isa::asm::detect_syntax(text));
    let insns = ebee_isa::asm::assemble_as(text, syntax)
        .map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    let code = ebee_isa::encode(&insns);
    if args.hex {
        for slot in code.chunks(8) {
            println!("{}", ebee::hex::to_hex(slot));
        }
        return Ok(());
    }
    let out = args
        .output
        .unwrap_or_else(|| args.file.with_extension("bin"));
    if out.as_os_str() == "-" {
        std::io::stdout()
            .write_all(&code)
            .map_err(|e| Failure::Input(format!("stdout: {e}")))?;
    } else {
        std::fs::write(&out, &code)
            .map_err(|e| Failure::Input(format!("{}: {e}", out.display())))?;
        eprintln!(
            "{}: {} instructions, {} bytes",
            out.display(),
            code.len() / 8,
            code.len()
        );
    }
    Ok(())
}
