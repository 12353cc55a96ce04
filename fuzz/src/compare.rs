//! Runs one [`Case`] on the interpreter and on the JIT and checks they
//! agree on `r0`, the input buffer after the run and the error (kind, pc,
//! access size and direction; never host addresses).
//!
//! The interpreter runs checked. The JIT runs checked (optimised,
//! unoptimised, with constant blinding) on every program; verified mode
//! (no runtime checks, optimised and blinded) only on programs the checked
//! interpreter ran to `exit` on this input: they are deterministic (no
//! backward jumps, pure helpers), so the same run makes only the accesses
//! the interpreter checked and cannot fault.

use crate::program::{helper_mix, Case, HELPER_MIX};
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};

/// The instruction budget of every run (programs without loops need
/// far less; it bounds the subprogram calls).
pub const BUDGET: u64 = 10_000;

/// What a run produced, comparable across engines.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The program reached `exit`: `r0` and the input buffer after the run.
    Ok {
        /// The return value.
        r0: u64,
        /// The input buffer after the run.
        mem: Vec<u8>,
    },
    /// The run stopped with this error (`ExecError::portable_key`).
    Err(String),
}

fn outcome(result: Result<u64, ExecError>, mem: Vec<u8>) -> Outcome {
    match result {
        Ok(r0) => Outcome::Ok { r0, mem },
        Err(e) => Outcome::Err(e.portable_key()),
    }
}

/// What [`compare`] ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// The interpreter reached `exit`; all modes (verified too) agreed.
    Clean,
    /// The interpreter stopped with an error; checked modes agreed.
    Faulted,
}

/// Loads the case's program with the helper and budget, runs every engine
/// and mode, and panics with the program listing on the first
/// disagreement (that, or a failure to load or compile a well-formed
/// program, is what the fuzzer reports).
pub fn compare(case: &Case) -> Compared {
    let bytes = ebee_isa::encode(&case.insns);
    let mut vm = match Vm::from_bytes(&bytes) {
        Ok(vm) => vm,
        Err(e) => panic!("generated program does not load: {e}\n{:#?}", case.insns),
    };
    vm.helpers_mut().register(HELPER_MIX, "mix", helper_mix);
    vm.set_budget(BUDGET);

    let mut mem = case.input.clone();
    let want = outcome(vm.run(&mut mem), mem);

    let unoptimised = JitOptions {
        optimize: false,
        ..JitOptions::CHECKED
    };
    for options in [
        JitOptions::CHECKED,
        JitOptions::CHECKED.blind_constants(true),
        unoptimised,
    ] {
        let prog = compile(&vm, options, case);
        let mut mem = case.input.clone();
        let got = outcome(prog.run(&mut mem), mem);
        assert_eq!(
            got, want,
            "checked JIT ({options:?}) differs from the interpreter on {:#?}\ninput {:02x?}",
            case.insns, case.input
        );
    }

    if !matches!(want, Outcome::Ok { .. }) {
        return Compared::Faulted;
    }
    for blind in [false, true] {
        let options = JitOptions::VERIFIED.blind_constants(blind);
        let prog = compile(&vm, options, case);
        let mut mem = case.input.clone();
        // SAFETY: the checked interpreter just ran this deterministic
        // program (forward jumps, pure helpers, a fixed subprogram) on the
        // same input to `exit`, so every access it makes is inside its
        // stack frames or the input buffer.
        let got = outcome(unsafe { prog.run_unchecked(&mut mem) }, mem);
        assert_eq!(
            got, want,
            "verified JIT (blind {blind}) differs from the interpreter on {:#?}\ninput {:02x?}",
            case.insns, case.input
        );
    }
    Compared::Clean
}

fn compile(vm: &Vm, options: JitOptions, case: &Case) -> JitProgram {
    match JitProgram::compile(vm, options) {
        Ok(prog) => prog,
        Err(e) => panic!("JIT ({options:?}) rejects {e}\n{:#?}", case.insns),
    }
}

#[cfg(test)]
mod tests {
    use super::{compare, Compared};
    use crate::program::Case;

    /// Pseudo-random byte strings (xorshift) through the same path as the
    /// fuzzer: every one compares equal, and both clean runs (which also
    /// exercise verified mode) and faults occur often, so the generator's
    /// programs are neither all trivial nor all faulting.
    #[test]
    fn random_inputs_agree_and_mix_clean_and_faulting_runs() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut clean, mut faulted) = (0, 0);
        for _ in 0..300 {
            let len = 2 + (next() % 260) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            match compare(&Case::from_bytes(&data)) {
                Compared::Clean => clean += 1,
                Compared::Faulted => faulted += 1,
            }
        }
        println!("{clean} ran to exit, {faulted} faulted");
        assert!(
            clean >= 30 && faulted >= 30,
            "{clean} clean, {faulted} faulted"
        );
    }
}
