//! The frame around a random body: a prologue that saves the memory/context
//! pointer and initialises every register and the stack scratch area, and
//! an epilogue that writes r0-r9 and the scratch area to memory, so a whole
//! machine state can be compared, not just the 32-bit return value.
//!
//! Stack layout (offsets from r10):
//!
//! | offset          | contents                                   |
//! |-----------------|--------------------------------------------|
//! | -8              | r1 at entry (XDP context / memory pointer) |
//! | -136 .. -9      | scratch area the body loads, stores, swaps |
//! | -216 .. -137    | r0..r9 spilled by the epilogue             |
//!
//! Output layout: r0..r9 as 8 little-endian bytes each, then the 128-byte
//! scratch area.
//!
//! The two epilogues differ only in how they find the output memory: the
//! kernel's reads `data`/`data_end` from `struct xdp_md` and bounds-checks
//! (the verifier demands it), ebee's uses r1 as given (the memory itself).

use ebee_isa::{AluOp, Imm64Kind, Insn, JmpCond, Operand, Reg, Size, Width};

use crate::generator::{value64, Item};
use crate::rng::Rng;

/// Where r1 at entry is saved.
pub const CTX_SLOT: i16 = -8;
/// Lowest offset of the scratch area.
pub const AREA_LO: i16 = -136;
/// Size of the scratch area in bytes.
pub const AREA_LEN: usize = 128;
/// Where the epilogue spills r0 (r_i at `SPILL_R0 - 8 * i`).
const SPILL_R0: i16 = -144;
/// Bytes of output: ten registers and the scratch area.
pub const OUT_LEN: usize = 10 * 8 + AREA_LEN;
/// The XDP action both epilogues return after writing the output.
pub const XDP_PASS: u64 = 2;

/// Which machine the program is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The kernel, as an XDP program: memory is the packet.
    KernelXdp,
    /// ebee's interpreter: r1 is the memory.
    Ebee,
}

fn r(n: u8) -> Reg {
    Reg::new(n).expect("register number")
}

fn mov_imm(dst: Reg, imm: i32) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src: Operand::Imm(imm),
    }
}

fn lddw(dst: Reg, imm: u64) -> [Insn; 2] {
    [
        Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm: imm as i64,
        },
        Insn::LdImm64Tail,
    ]
}

fn ldx(size: Size, dst: Reg, src: Reg, off: i16) -> Insn {
    Insn::Load {
        size,
        signed: false,
        dst,
        src,
        off,
    }
}

fn stx(size: Size, dst: Reg, off: i16, src: Reg) -> Insn {
    Insn::Store {
        size,
        dst,
        off,
        src: Operand::Reg(src),
    }
}

/// The initial machine state: a value for each of r0-r9 and the bytes of
/// the scratch area.
#[derive(Debug, Clone)]
pub struct InitialState {
    /// r0..r9.
    pub regs: [u64; 10],
    /// The scratch area, 8 bytes at a time from [`AREA_LO`] upward.
    pub area: [u64; AREA_LEN / 8],
}

impl InitialState {
    /// A random state.
    pub fn random(rng: &mut Rng) -> InitialState {
        let mut regs = [0u64; 10];
        for v in &mut regs {
            *v = value64(rng);
        }
        let mut area = [0u64; AREA_LEN / 8];
        for v in &mut area {
            *v = value64(rng);
        }
        InitialState { regs, area }
    }
}

fn prologue(init: &InitialState) -> Vec<Insn> {
    let mut out = vec![stx(Size::DW, Reg::FP, CTX_SLOT, Reg::R1)];
    for (k, &v) in init.area.iter().enumerate() {
        let off = AREA_LO + 8 * k as i16;
        if v as i64 == v as i32 as i64 && k % 2 == 0 {
            out.push(Insn::Store {
                size: Size::DW,
                dst: Reg::FP,
                off,
                src: Operand::Imm(v as i32),
            });
        } else {
            out.extend(lddw(Reg::R1, v));
            out.push(stx(Size::DW, Reg::FP, off, Reg::R1));
        }
    }
    for (i, &v) in init.regs.iter().enumerate() {
        if v as i64 == v as i32 as i64 && i % 2 == 0 {
            out.push(mov_imm(r(i as u8), v as i32));
        } else {
            out.extend(lddw(r(i as u8), v));
        }
    }
    out
}

fn epilogue(target: Target) -> Vec<Insn> {
    let mut out = Vec::new();
    for i in 0..10u8 {
        out.push(stx(Size::DW, Reg::FP, SPILL_R0 - 8 * i as i16, r(i)));
    }
    // r2 = the output memory.
    let mut fail = Vec::new();
    match target {
        Target::KernelXdp => {
            out.push(ldx(Size::DW, Reg::R1, Reg::FP, CTX_SLOT));
            out.push(ldx(Size::W, Reg::R2, Reg::R1, 0)); // xdp_md.data
            out.push(ldx(Size::W, Reg::R3, Reg::R1, 4)); // xdp_md.data_end
            out.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Mov,
                dst: Reg::R4,
                src: Operand::Reg(Reg::R2),
            });
            out.push(Insn::Alu {
                width: Width::W64,
                op: AluOp::Add,
                dst: Reg::R4,
                src: Operand::Imm(OUT_LEN as i32),
            });
            // The copy below is 2 * 26 + 2 instructions long.
            out.push(Insn::Jump {
                width: Width::W64,
                cond: JmpCond::Gt,
                dst: Reg::R4,
                src: Operand::Reg(Reg::R3),
                off: (2 * (10 + AREA_LEN / 8) + 2) as i16,
            });
            fail = vec![mov_imm(Reg::R0, 0), Insn::Exit];
        }
        Target::Ebee => out.push(ldx(Size::DW, Reg::R2, Reg::FP, CTX_SLOT)),
    }
    for i in 0..10u8 {
        out.push(ldx(Size::DW, Reg::R5, Reg::FP, SPILL_R0 - 8 * i as i16));
        out.push(stx(Size::DW, Reg::R2, 8 * i as i16, Reg::R5));
    }
    for k in 0..(AREA_LEN / 8) as i16 {
        out.push(ldx(Size::DW, Reg::R5, Reg::FP, AREA_LO + 8 * k));
        out.push(stx(Size::DW, Reg::R2, 80 + 8 * k, Reg::R5));
    }
    out.push(mov_imm(Reg::R0, XDP_PASS as i32));
    out.push(Insn::Exit);
    out.extend(fail);
    out
}

/// The body alone as instructions (with `LdImm64Tail` placeholders, so an
/// index is a pc relative to the body's start).
pub fn lower_body(items: &[Item]) -> Vec<Insn> {
    // pc of each item, and of the epilogue (index items.len()).
    let mut pcs = Vec::with_capacity(items.len() + 1);
    let mut pc = 0usize;
    for item in items {
        pcs.push(pc);
        pc += match item {
            Item::Plain(insn) => insn.slots(),
            Item::Jump { .. } | Item::Ja { .. } => 1,
        };
    }
    pcs.push(pc);
    let mut out = Vec::with_capacity(pc);
    for (i, item) in items.iter().enumerate() {
        match *item {
            Item::Plain(insn) => {
                out.push(insn);
                if matches!(insn, Insn::LdImm64 { .. }) {
                    out.push(Insn::LdImm64Tail);
                }
            }
            Item::Jump {
                width,
                cond,
                dst,
                src,
                target,
            } => out.push(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: (pcs[target] - pcs[i] - 1) as i16,
            }),
            Item::Ja { long, target } => out.push(Insn::Ja {
                off: (pcs[target] - pcs[i] - 1) as i32,
                long,
            }),
        }
    }
    out
}

/// The whole program for `target`: prologue, body, epilogue.
pub fn program(init: &InitialState, body: &[Item], target: Target) -> Vec<Insn> {
    let mut out = prologue(init);
    out.extend(lower_body(body));
    out.extend(epilogue(target));
    out
}

/// The final state read back from the output memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalState {
    /// r0..r9.
    pub regs: [u64; 10],
    /// The scratch area.
    pub area: Vec<u8>,
}

impl FinalState {
    /// Decodes [`OUT_LEN`] bytes of output.
    pub fn from_output(out: &[u8]) -> FinalState {
        let mut regs = [0u64; 10];
        for (i, r) in regs.iter_mut().enumerate() {
            *r = u64::from_le_bytes(out[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        }
        FinalState {
            regs,
            area: out[80..OUT_LEN].to_vec(),
        }
    }
}
