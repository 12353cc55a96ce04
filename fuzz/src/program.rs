//! Bytes to program: a header (input length and fill seed) followed by
//! 8-byte chunks, each one instruction of a well-formed program. Every
//! byte string is a program: missing bytes read as zero, every field is
//! reduced into its range. The programs have forward jumps only, loads,
//! stores and atomics around the stack frame and the input buffer (mostly
//! inside, sometimes not), helper calls (a registered pure helper or an
//! unregistered id), and calls of one subprogram placed after the main
//! program's `exit`; so every run ends within a small budget.

use ebee_isa::{
    AluOp, AtomicOp, ByteOrder, CallTarget, Imm64Kind, Insn, JmpCond, Operand, Reg, Size, Width,
};

/// The most instructions taken from one input (one `exit` and the
/// subprogram are added).
pub const MAX_INSNS: usize = 64;

/// The longest input buffer.
pub const MAX_INPUT: usize = 64;

/// The registered helper: a pure function of `r2`–`r5` ([`helper_mix`]).
pub const HELPER_MIX: i32 = 5;

/// A helper id no one registers: calling it is a run-time error.
pub const HELPER_MISSING: i32 = 77;

/// A program and the input buffer to run it on.
#[derive(Debug, Clone)]
pub struct Case {
    /// The decoded program (one entry per slot, `lddw` as two).
    pub insns: Vec<Insn>,
    /// The input buffer (`r1` = its address, `r2` = its length).
    pub input: Vec<u8>,
}

/// Reads bytes from the fuzzer's input; zero once it is exhausted.
struct Bytes<'a> {
    data: &'a [u8],
}

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
}

/// One instruction before jump offsets are known: jumps hold how many
/// instructions forward they skip.
#[derive(Debug, Clone, Copy)]
enum Gen {
    Alu(Width, AluOp, Reg, Operand),
    Neg(Width, Reg),
    Endian(ByteOrder, u8, Reg),
    LdImm64(Reg, i64),
    Load(Size, bool, Reg, Reg, i16),
    Store(Size, Reg, i16, Operand),
    Atomic(Size, AtomicOp, Reg, Reg, i16),
    Jump(Width, JmpCond, Reg, Operand, u8),
    Ja(u8),
    Helper(i32),
    CallLocal,
}

const ALU_OPS: [AluOp; 17] = [
    AluOp::Add,
    AluOp::Sub,
    AluOp::Mul,
    AluOp::Div,
    AluOp::SDiv,
    AluOp::Or,
    AluOp::And,
    AluOp::Lsh,
    AluOp::Rsh,
    AluOp::Mod,
    AluOp::SMod,
    AluOp::Xor,
    AluOp::Mov,
    AluOp::Arsh,
    AluOp::MovSx8,
    AluOp::MovSx16,
    AluOp::MovSx32,
];

const SIZES: [Size; 4] = [Size::B, Size::H, Size::W, Size::DW];

fn reg(n: u8) -> Reg {
    Reg::new(n).expect("register numbers below 11 are valid")
}

/// Registers holding plain numbers, never host addresses, so results do
/// not depend on where memory happens to be: r0 and r2–r9 (r2 starts as
/// the input's length). Also the destinations: never r1 (the input's
/// address) or r10 (the frame pointer).
fn value_reg(b: u8) -> Reg {
    match b % 9 {
        0 => Reg::R0,
        n => reg(n + 1),
    }
}

fn width(b: u8) -> Width {
    if b & 1 == 0 {
        Width::W32
    } else {
        Width::W64
    }
}

/// An immediate: small values, the extremes and arbitrary ones, chosen by
/// `pick`, from the raw `bits`.
fn imm(pick: u8, bits: i32) -> i32 {
    match pick % 6 {
        0 => bits.rem_euclid(9) - 4,
        1 => [i32::MIN, i32::MAX, -1, 0][bits.rem_euclid(4) as usize],
        2 => bits.rem_euclid(65),
        _ => bits,
    }
}

/// A register or an immediate operand.
fn operand(pick: u8, bits: i32) -> Operand {
    if pick & 1 == 0 {
        Operand::Reg(value_reg(pick >> 1))
    } else {
        Operand::Imm(imm(pick >> 1, bits))
    }
}

/// A base register and offset around the stack frame (`r10 - 520 ..
/// r10 + 8`), the input buffer (`r1 - 8 .. r1 + len + 8`) or on 8-byte
/// stack slots: mostly inside, sometimes not.
fn mem_access(pick: u8, bits: i32, input_len: usize) -> (Reg, i16) {
    let bits = bits & 0xffff;
    match pick % 4 {
        0 => (Reg::R10, (bits % 529 - 520) as i16),
        1 => (Reg::R1, (bits % (input_len as i32 + 17) - 8) as i16),
        2 => (Reg::R1, (bits % (input_len as i32 + 1).max(1)) as i16),
        _ => (Reg::R10, -8 * (bits % 64 + 1) as i16),
    }
}

fn atomic_op(b: u8) -> AtomicOp {
    let fetch = b & 1 != 0;
    match (b >> 1) % 8 {
        0 => AtomicOp::Add { fetch },
        1 => AtomicOp::Or { fetch },
        2 => AtomicOp::And { fetch },
        3 => AtomicOp::Xor { fetch },
        4 => AtomicOp::Xchg,
        5 => AtomicOp::CmpXchg,
        6 => AtomicOp::LoadAcquire,
        _ => AtomicOp::StoreRelease,
    }
}

/// One instruction from an 8-byte chunk: `[kind, a, b, c, imm × 4]`.
fn gen(bytes: &mut Bytes<'_>, input_len: usize) -> Gen {
    let (kind, a, b, c) = (bytes.u8(), bytes.u8(), bytes.u8(), bytes.u8());
    let bits = bytes.i32();
    match kind % 24 {
        0..=7 => {
            let op = ALU_OPS[(a >> 1) as usize % ALU_OPS.len()];
            let src = match op {
                // Sign-extending moves exist only with a register source.
                AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => Operand::Reg(value_reg(c)),
                _ => operand(c, bits),
            };
            // The 32-bit sign-extending move exists only at 64 bits.
            let w = if op == AluOp::MovSx32 {
                Width::W64
            } else {
                width(a)
            };
            Gen::Alu(w, op, value_reg(b), src)
        }
        8 => Gen::Neg(width(a), value_reg(b)),
        9 => Gen::Endian(
            [ByteOrder::Le, ByteOrder::Be, ByteOrder::Swap][a as usize % 3],
            [16, 32, 64][c as usize % 3],
            value_reg(b),
        ),
        10 => {
            let low = imm(a, bits) as u32 as u64;
            let high = u32::from_le_bytes([c, b, c ^ a, b.wrapping_mul(c)]) as u64;
            Gen::LdImm64(value_reg(b), ((high << 32) | low) as i64)
        }
        11..=13 => {
            let size = SIZES[a as usize % 4];
            let (base, off) = mem_access(c, bits, input_len);
            Gen::Load(
                size,
                a & 4 != 0 && size != Size::DW,
                value_reg(b),
                base,
                off,
            )
        }
        14..=16 => {
            let (base, off) = mem_access(c, bits, input_len);
            Gen::Store(SIZES[a as usize % 4], base, off, operand(b, bits >> 16))
        }
        17 => {
            let size = if a & 1 == 0 { Size::W } else { Size::DW };
            let (base, off) = mem_access(c, bits, input_len);
            Gen::Atomic(size, atomic_op(a >> 1), value_reg(b), base, off)
        }
        18..=20 => Gen::Jump(
            width(a),
            JmpCond::ALL[(a >> 1) as usize % JmpCond::ALL.len()],
            value_reg(b),
            operand(c, bits),
            (bits >> 24) as u8 % 8,
        ),
        21 => Gen::Ja(a % 4),
        22 => Gen::Helper(if a % 10 == 0 {
            HELPER_MISSING
        } else {
            HELPER_MIX
        }),
        _ => Gen::CallLocal,
    }
}

/// The subprogram local calls go to: uses its own frame and r2, clobbers
/// r6 (which the caller must get back), leaves r1–r5 alone (verified mode
/// does not hand them back).
fn subprogram() -> [Insn; 6] {
    [
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R0,
            src: Operand::Reg(Reg::R2),
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mul,
            dst: Reg::R0,
            src: Operand::Imm(3),
        },
        Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8,
            src: Operand::Reg(Reg::R0),
        },
        Insn::Load {
            size: Size::W,
            signed: true,
            dst: Reg::R0,
            src: Reg::R10,
            off: -8,
        },
        Insn::Alu {
            width: Width::W64,
            op: AluOp::Mov,
            dst: Reg::R6,
            src: Operand::Imm(1),
        },
        Insn::Exit,
    ]
}

/// Turns generated instructions into the program: each one, then `exit`,
/// then the subprogram. Jumps stay inside the main program.
fn materialize(gens: &[Gen]) -> Vec<Insn> {
    let mut starts = Vec::with_capacity(gens.len() + 1);
    let mut pc = 0usize;
    for g in gens {
        starts.push(pc);
        pc += if matches!(g, Gen::LdImm64(..)) { 2 } else { 1 };
    }
    starts.push(pc); // the final exit
    let exit = pc;
    let skip_to = |i: usize, skip: u8| -> i64 {
        let t = (i + 1 + skip as usize).min(gens.len());
        starts[t] as i64 - starts[i] as i64 - 1
    };
    let mut out = Vec::with_capacity(exit + 7);
    for (i, &g) in gens.iter().enumerate() {
        match g {
            Gen::Alu(width, op, dst, src) => out.push(Insn::Alu {
                width,
                op,
                dst,
                src,
            }),
            Gen::Neg(width, dst) => out.push(Insn::Neg { width, dst }),
            Gen::Endian(order, bits, dst) => out.push(Insn::Endian { order, bits, dst }),
            Gen::LdImm64(dst, imm) => {
                out.push(Insn::LdImm64 {
                    dst,
                    kind: Imm64Kind::Imm,
                    imm,
                });
                out.push(Insn::LdImm64Tail);
            }
            Gen::Load(size, signed, dst, src, off) => out.push(Insn::Load {
                size,
                signed,
                dst,
                src,
                off,
            }),
            Gen::Store(size, dst, off, src) => out.push(Insn::Store {
                size,
                dst,
                off,
                src,
            }),
            Gen::Atomic(size, op, value, base, off) => {
                let (dst, src) = if op == AtomicOp::LoadAcquire {
                    (value, base)
                } else {
                    (base, value)
                };
                out.push(Insn::Atomic {
                    size,
                    op,
                    dst,
                    src,
                    off,
                })
            }
            Gen::Jump(width, cond, dst, src, skip) => out.push(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: skip_to(i, skip) as i16,
            }),
            Gen::Ja(skip) => out.push(Insn::Ja {
                off: skip_to(i, skip) as i32,
                long: false,
            }),
            Gen::Helper(id) => out.push(Insn::Call(CallTarget::Helper(id))),
            Gen::CallLocal => {
                // The subprogram starts right after the main program's exit.
                let sub = exit as i64 + 1;
                out.push(Insn::Call(CallTarget::Local(
                    (sub - starts[i] as i64 - 1) as i32,
                )))
            }
        }
    }
    out.push(Insn::Exit);
    out.extend(subprogram());
    out
}

impl Case {
    /// The program and input that `data` describes: byte 0 the input's
    /// length (modulo [`MAX_INPUT`] + 1), byte 1 the seed its bytes are
    /// computed from, then up to [`MAX_INSNS`] 8-byte instruction chunks
    /// (a last partial chunk is completed with zeros).
    pub fn from_bytes(data: &[u8]) -> Case {
        let mut bytes = Bytes { data };
        let len = bytes.u8() as usize % (MAX_INPUT + 1);
        let seed = bytes.u8();
        let input = (0..len)
            .map(|i| (i as u8).wrapping_mul(seed | 1) ^ seed.rotate_left(3) ^ 0x5a)
            .collect();
        let count = bytes.data.len().div_ceil(8).min(MAX_INSNS);
        let gens: Vec<Gen> = (0..count).map(|_| gen(&mut bytes, len)).collect();
        Case {
            insns: materialize(&gens),
            input,
        }
    }
}

/// The registered helper [`HELPER_MIX`]: a pure function of `r2`–`r5`
/// (`r1` is the input's address, which differs between runs).
pub fn helper_mix(a: [u64; 5]) -> Result<u64, ebee_runtime::HelperError> {
    Ok(a[1].wrapping_mul(31) ^ a[2].rotate_left(7) ^ a[3].wrapping_add(a[4]))
}
