//! The bpf_conformance plugin protocol: the program as hex bytes on stdin,
//! the memory as hex in the first argument, r0 printed in hex on success, a
//! non-zero exit with a one-line message on failure. This is the code path
//! `ebee conformance` runs, and the one the corpus test drives.

use crate::engine::Engine;
use crate::failure::Failure;
use crate::hex::parse_hex;
use ebee_runtime::Vm;

/// Helper id 5: the suite's programs call it (directly and through callx)
/// and expect it to exist and return normally. Like uBPF's test plugin it
/// returns its first argument.
pub const CONFORMANCE_HELPER_ID: i32 = 5;

/// Builds the VM for a conformance program: decodes it and registers helper 5.
pub fn conformance_vm(program: &[u8]) -> Result<Vm, Failure> {
    let mut vm = Vm::from_bytes(program).map_err(|e| Failure::Input(e.to_string()))?;
    vm.helpers_mut().register(
        CONFORMANCE_HELPER_ID,
        "conformance_helper",
        |args: [u64; 5]| Ok(args[0]),
    );
    Ok(vm)
}

/// Runs one conformance program given as hex text with the memory given as
/// hex text in the interpreter; returns r0.
pub fn run_hex(program_hex: &str, memory_hex: &str) -> Result<u64, Failure> {
    run_hex_on(program_hex, memory_hex, Engine::Interp)
}

/// [`run_hex`] on the given engine.
pub fn run_hex_on(program_hex: &str, memory_hex: &str, engine: Engine) -> Result<u64, Failure> {
    let program = parse_hex(program_hex).map_err(|e| Failure::Input(format!("program: {e}")))?;
    let mut memory = parse_hex(memory_hex).map_err(|e| Failure::Input(format!("memory: {e}")))?;
    let vm = conformance_vm(&program)?;
    engine
        .prepare(vm)?
        .run(&mut memory)
        .map_err(|e| Failure::Exec(e.to_string()))
}
