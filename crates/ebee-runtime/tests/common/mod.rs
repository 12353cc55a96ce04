//! Instruction constructors and run helpers shared by the tests.
#![allow(dead_code)]

use ebee_isa::*;
use ebee_runtime::{ExecError, Vm};

pub fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register")
}

pub fn alu64(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op,
        dst: reg(dst),
        src,
    }
}

pub fn alu32(op: AluOp, dst: u8, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W32,
        op,
        dst: reg(dst),
        src,
    }
}

pub fn imm(i: i32) -> Operand {
    Operand::Imm(i)
}

pub fn r(n: u8) -> Operand {
    Operand::Reg(reg(n))
}

pub fn mov(dst: u8, i: i32) -> Insn {
    alu64(AluOp::Mov, dst, imm(i))
}

pub fn movr(dst: u8, src: u8) -> Insn {
    alu64(AluOp::Mov, dst, r(src))
}

/// `lddw dst, value` (two slots).
pub fn lddw(dst: u8, value: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst: reg(dst),
            kind: Imm64Kind::Imm,
            imm: value as i64,
        },
        Insn::LdImm64Tail,
    ]
}

pub fn load(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

pub fn loadsx(size: Size, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: true,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

pub fn store(size: Size, dst: u8, off: i16, src: u8) -> Insn {
    Insn::Store {
        size,
        dst: reg(dst),
        off,
        src: r(src),
    }
}

pub fn store_imm(size: Size, dst: u8, off: i16, value: i32) -> Insn {
    Insn::Store {
        size,
        dst: reg(dst),
        off,
        src: imm(value),
    }
}

pub fn atomic(size: Size, op: AtomicOp, dst: u8, src: u8, off: i16) -> Insn {
    Insn::Atomic {
        size,
        op,
        dst: reg(dst),
        src: reg(src),
        off,
    }
}

pub fn jmp(cond: JmpCond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W64,
        cond,
        dst: reg(dst),
        src,
        off,
    }
}

pub fn jmp32(cond: JmpCond, dst: u8, src: Operand, off: i16) -> Insn {
    Insn::Jump {
        width: Width::W32,
        cond,
        dst: reg(dst),
        src,
        off,
    }
}

pub fn ja(off: i32) -> Insn {
    Insn::Ja { off, long: false }
}

pub fn call_local(off: i32) -> Insn {
    Insn::Call(CallTarget::Local(off))
}

pub fn call_helper(id: i32) -> Insn {
    Insn::Call(CallTarget::Helper(id))
}

pub fn exit() -> Insn {
    Insn::Exit
}

/// Flattens pieces (single instructions and `lddw` pairs) into a program.
pub fn prog(pieces: &[&[Insn]]) -> Vec<Insn> {
    pieces.iter().flat_map(|p| p.iter().copied()).collect()
}

/// Runs `vm` on `mem` checked, and unchecked when the checked run
/// succeeded; asserts both modes agree on r0 and on the memory.
pub fn run_both(vm: &Vm, mem: &[u8]) -> Result<u64, ExecError> {
    let mut m1 = mem.to_vec();
    let checked = vm.run(&mut m1);
    if let Ok(v) = checked {
        let mut m2 = mem.to_vec();
        // SAFETY: the checked run on the same input touched only allowed
        // memory, and these test programs are deterministic.
        let unchecked = unsafe { vm.run_unchecked(&mut m2) };
        assert_eq!(unchecked, Ok(v), "unchecked mode disagrees");
        assert_eq!(m1, m2, "unchecked mode left different memory");
    }
    checked
}

/// Runs a program with no helpers on empty memory in both modes.
pub fn eval(insns: Vec<Insn>) -> Result<u64, ExecError> {
    let vm = Vm::new(insns).expect("load");
    run_both(&vm, &[])
}
