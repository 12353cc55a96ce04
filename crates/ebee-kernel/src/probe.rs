//! Does bpf(2) work here? Tests that need the kernel ask first, and skip
//! with the reason when it does not.

use ebee_isa::{AluOp, Insn, Operand, Reg, Width};

use crate::error::LoadError;
use crate::prog::{KernelProgram, LoadOptions};
use crate::verifier_log::LogLevel;
use crate::ProgramType;

/// Checks that a program of type `prog_type` (`r0 = 0; exit`) loads;
/// on failure, says why in one line.
pub fn probe_program_type(prog_type: ProgramType) -> Result<(), String> {
    let insns = [
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Imm(0),
        },
        Insn::Exit,
    ];
    let opts = LoadOptions {
        log_level: LogLevel::NONE,
        ..LoadOptions::default()
    };
    match KernelProgram::load(prog_type, &insns, "GPL", &opts) {
        Ok(_) => Ok(()),
        Err(LoadError::Rejected { errno, .. }) => Err(match errno {
            libc::ENOSYS => "the kernel has no bpf(2) (ENOSYS)".to_string(),
            libc::EPERM => {
                "bpf(2) is not permitted (EPERM): needs CAP_BPF, or unprivileged BPF is disabled"
                    .to_string()
            }
            e => format!(
                "loading a trivial {prog_type} program failed: {}",
                std::io::Error::from_raw_os_error(e)
            ),
        }),
        Err(e) => Err(format!("loading a trivial {prog_type} program failed: {e}")),
    }
}

/// Checks that bpf(2) works: a two-instruction socket filter loads.
pub fn probe() -> Result<(), String> {
    probe_program_type(ProgramType::SocketFilter)
}
