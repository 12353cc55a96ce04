//! JIT compile time: how long `ebee_jit` takes to turn a program into
//! native code, for each benchmark program, for a clang-built program of
//! about 1,000 instructions (`programs/unrolled_mix.c`) and for a generated
//! one shaped like compiler output (arithmetic on live registers, loads
//! from the input, short forward branches).

use crate::benchmark::Benchmark;
use crate::input::InputRng;
use crate::program::Code;
use ebee_isa::{AluOp, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::Vm;
use std::time::Duration;

/// Compile times of one program, the minimum over some compilations.
#[derive(Debug, Clone)]
pub struct CompileTime {
    /// What was compiled.
    pub name: String,
    /// Its instruction slots.
    pub insns: usize,
    /// Checked mode.
    pub checked: Duration,
    /// Verified mode.
    pub verified: Duration,
    /// Checked mode, unoptimised (`JitOptions::optimize` off: compiled
    /// for compile speed).
    pub checked_unoptimised: Duration,
    /// Verified mode, unoptimised.
    pub verified_unoptimised: Duration,
}

/// A generated program of `n` instructions (plus a few): `r1` is the
/// input pointer, `r2` its length (at least 64 bytes are read).
pub fn generated_program(n: usize) -> Vec<Insn> {
    let mut rng = InputRng::new(11);
    let mut insns = vec![Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst: Reg::R0,
        src: Operand::Imm(0),
    }];
    for r in 3..10u8 {
        insns.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::new(r).unwrap_or(Reg::R3),
            src: Operand::Imm(r as i32),
        });
    }
    let ops = [
        AluOp::Add,
        AluOp::Sub,
        AluOp::Xor,
        AluOp::Or,
        AluOp::Mul,
        AluOp::Lsh,
    ];
    while insns.len() < n {
        let x = rng.next_u64();
        let dst = Reg::new(3 + (x % 7) as u8).unwrap_or(Reg::R3);
        let src = Reg::new(3 + ((x >> 8) % 7) as u8).unwrap_or(Reg::R4);
        match (x >> 16) % 8 {
            0 => insns.push(Insn::Load {
                size: Size::W,
                signed: false,
                dst,
                src: Reg::R1,
                off: ((x >> 24) % 15 * 4) as i16,
            }),
            1 => insns.push(Insn::Jump {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst,
                src: Operand::Reg(src),
                off: 1 + ((x >> 24) % 3) as i16,
            }),
            k => insns.push(Insn::Alu {
                width: if k == 2 { Width::W32 } else { Width::W64 },
                op: ops[((x >> 24) % ops.len() as u64) as usize],
                dst,
                src: if k == 3 {
                    Operand::Imm((x >> 32) as i32 & 31)
                } else {
                    Operand::Reg(src)
                },
            }),
        }
    }
    for r in 3..10u8 {
        insns.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Add,
            dst: Reg::R0,
            src: Operand::Reg(Reg::new(r).unwrap_or(Reg::R3)),
        });
    }
    insns.push(Insn::Exit);
    insns
}

/// The compile times of `vm`'s program, minimum of `rounds` compilations.
pub fn measure_compile(name: &str, vm: &Vm, rounds: usize) -> Result<CompileTime, String> {
    let best = |options: JitOptions| -> Result<Duration, String> {
        let mut best = Duration::MAX;
        for _ in 0..rounds.max(1) {
            let p = JitProgram::compile(vm, options).map_err(|e| e.to_string())?;
            best = best.min(p.compile_time());
        }
        Ok(best)
    };
    Ok(CompileTime {
        name: name.to_string(),
        insns: vm.insns().len(),
        checked: best(JitOptions::CHECKED)?,
        verified: best(JitOptions::VERIFIED)?,
        checked_unoptimised: best(JitOptions {
            optimize: false,
            ..JitOptions::CHECKED
        })?,
        verified_unoptimised: best(JitOptions {
            optimize: false,
            ..JitOptions::VERIFIED
        })?,
    })
}

/// Compile times of every benchmark's program and of the generated one.
pub fn all(benches: &[Benchmark], rounds: usize) -> Vec<Result<CompileTime, String>> {
    let mut out = Vec::new();
    for b in benches {
        let vm = match b.program {
            Code::Raw(p) => Vm::from_bytes(p.bytecode).map_err(|e| e.to_string()),
            // The entry program as the runtime's loader resolved it (map
            // references become constants; the object must stay loaded
            // for the helpers' map table, not for compiling).
            Code::Object(code) => code.parse().and_then(|obj| {
                let loaded =
                    LoadedObject::load(&obj, &LoadOptions::new()).map_err(|e| e.to_string())?;
                let p = loaded
                    .program(code.entry)
                    .ok_or_else(|| format!("no program {}", code.entry))?;
                Ok(Vm::clone(p.vm()))
            }),
        };
        out.push(vm.and_then(|vm| measure_compile(b.name, &vm, rounds)));
    }
    let clang = Vm::from_bytes(crate::program::UNROLLED_MIX.bytecode).map_err(|e| e.to_string());
    out.push(clang.and_then(|vm| measure_compile("unrolled_mix (clang)", &vm, rounds)));
    let generated = generated_program(1000);
    let vm = Vm::new(generated).map_err(|e| e.to_string());
    out.push(vm.and_then(|vm| measure_compile("generated (1,000 insns)", &vm, rounds)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clang_built_thousand_runs_alike_in_the_interpreter_and_the_jit() {
        let p = crate::program::UNROLLED_MIX;
        assert!((950..1200).contains(&p.slots()), "{} slots", p.slots());
        let vm = Vm::from_bytes(p.bytecode).unwrap();
        let mut mem = crate::input::with_header(12345, 64);
        for (i, b) in mem[8..].iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(73) ^ 0x5c;
        }
        let want = vm.run(&mut mem.clone()).unwrap();
        let checked = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
        assert_eq!(checked.run(&mut mem.clone()).unwrap(), want);
        let blinded = JitProgram::compile(&vm, JitOptions::CHECKED.blind_constants(true)).unwrap();
        assert_eq!(blinded.run(&mut mem.clone()).unwrap(), want);
    }

    #[test]
    fn the_generated_program_runs_alike_in_the_interpreter_and_the_jit() {
        let insns = generated_program(1000);
        assert!(insns.len() >= 1000);
        let vm = Vm::new(insns).unwrap();
        let mut mem: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(29)).collect();
        let want = vm.run(&mut mem.clone()).unwrap();
        let jit = JitProgram::compile(&vm, JitOptions::CHECKED).unwrap();
        assert_eq!(jit.run(&mut mem).unwrap(), want);
        let t = measure_compile("generated", &vm, 1).unwrap();
        assert!(t.checked > Duration::ZERO && t.verified > Duration::ZERO);
    }
}
