//! One module per subcommand.

pub mod asm;
pub mod conformance;
pub mod disasm;
pub mod inspect;
pub mod run;
pub mod run_kernel;
pub mod run_object;
pub mod run_packet;
pub mod verify;

use clap::ValueEnum;
use ebee_isa::asm::Syntax;

/// `--syntax` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SyntaxArg {
    /// The Linux / llvm-objdump syntax (`r0 = 1`).
    Linux,
    /// The uBPF / bpf_conformance syntax (`mov %r0, 1`).
    Ubpf,
}

impl From<SyntaxArg> for Syntax {
    fn from(s: SyntaxArg) -> Syntax {
        match s {
            SyntaxArg::Linux => Syntax::Linux,
            SyntaxArg::Ubpf => Syntax::Ubpf,
        }
    }
}
