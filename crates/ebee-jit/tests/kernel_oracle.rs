//! The Linux kernel as the oracle: random register-and-stack programs are
//! loaded as XDP programs (so the kernel verifier accepts them and its JIT
//! runs them through `BPF_PROG_TEST_RUN`) and run on our JIT in verified
//! and checked mode; the 32-bit return values must match. The programs fold
//! every register into `r0` before `exit`, so a wrong intermediate shows.
//!
//! Skipped, saying why, where the kernel has no BPF.

use ebee_isa::{AluOp, ByteOrder, Imm64Kind, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_jit::{JitOptions, JitProgram};
use ebee_kernel::{KernelProgram, LoadOptions, ProgramType, TestRun};
use ebee_runtime::Vm;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A value register: r0 or r2–r9 (r1 is the XDP context, r10 the frame).
    fn reg(&mut self) -> Reg {
        let n = self.below(9) as u8;
        Reg::new(if n == 0 { 0 } else { n + 1 }).unwrap()
    }
    fn imm(&mut self) -> i32 {
        match self.below(4) {
            0 => self.below(9) as i32 - 4,
            1 => [i32::MIN, i32::MAX, -1, 0x7ff][self.below(4) as usize],
            _ => self.next() as i32,
        }
    }
}

const ALU_OPS: [AluOp; 14] = [
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
];

fn mov(dst: Reg, src: Operand) -> Insn {
    Insn::Alu {
        width: Width::W64,
        op: AluOp::Mov,
        dst,
        src,
    }
}

/// One random program: a prologue giving every register a value and
/// zeroing 64 bytes of stack, a body, and an epilogue folding r0, r2–r9
/// into a 32-bit r0.
fn program(rng: &mut Rng) -> Vec<Insn> {
    let mut p = Vec::new();
    for n in [0u8, 2, 3, 4, 5, 6, 7, 8, 9] {
        let v = rng.next() as i64 >> rng.below(64);
        p.push(Insn::LdImm64 {
            dst: Reg::new(n).unwrap(),
            kind: Imm64Kind::Imm,
            imm: v,
        });
        p.push(Insn::LdImm64Tail);
    }
    for slot in 1..=8i16 {
        p.push(Insn::Store {
            size: Size::DW,
            dst: Reg::R10,
            off: -8 * slot,
            src: Operand::Imm(0),
        });
    }
    let body = 10 + rng.below(30) as usize;
    // Jumps skip forward within the body; remember where each lands.
    let mut items = Vec::new();
    for _ in 0..body {
        let width = if rng.below(2) == 0 {
            Width::W32
        } else {
            Width::W64
        };
        let bits = if width == Width::W32 { 32 } else { 64 };
        let item = match rng.below(10) {
            0..=3 => {
                let op = ALU_OPS[rng.below(ALU_OPS.len() as u64) as usize];
                let src = if rng.below(2) == 0 {
                    Operand::Reg(rng.reg())
                } else if matches!(op, AluOp::Lsh | AluOp::Rsh | AluOp::Arsh) {
                    // The verifier rejects constant shifts of the width or more.
                    Operand::Imm(rng.below(bits) as i32)
                } else if matches!(op, AluOp::Div | AluOp::SDiv | AluOp::Mod | AluOp::SMod) {
                    // The verifier rejects a constant zero divisor (a zero
                    // register is fine: that is the run-time rule).
                    Operand::Imm(rng.imm()).nonzero()
                } else {
                    Operand::Imm(rng.imm())
                };
                Some(Insn::Alu {
                    width,
                    op,
                    dst: rng.reg(),
                    src,
                })
            }
            4 => Some(Insn::Alu {
                width,
                op: [AluOp::MovSx8, AluOp::MovSx16, AluOp::MovSx32][rng.below(3) as usize]
                    .min_width(width),
                dst: rng.reg(),
                src: Operand::Reg(rng.reg()),
            }),
            5 => Some(Insn::Endian {
                order: [ByteOrder::Le, ByteOrder::Be, ByteOrder::Swap][rng.below(3) as usize],
                bits: [16, 32, 64][rng.below(3) as usize],
                dst: rng.reg(),
            }),
            6 => Some(Insn::Neg {
                width,
                dst: rng.reg(),
            }),
            7 => {
                // Aligned stack slots the prologue initialised.
                let size = [Size::B, Size::H, Size::W, Size::DW][rng.below(4) as usize];
                let b = size.bytes() as i16;
                let off = -(b * (1 + rng.below(64 / b as u64) as i16));
                Some(if rng.below(2) == 0 {
                    Insn::Store {
                        size,
                        dst: Reg::R10,
                        off,
                        src: Operand::Reg(rng.reg()),
                    }
                } else {
                    Insn::Load {
                        size,
                        signed: size != Size::DW && rng.below(2) == 0,
                        dst: rng.reg(),
                        src: Reg::R10,
                        off,
                    }
                })
            }
            _ => None, // a jump, placed below
        };
        items.push(item.map_or_else(
            || {
                let cond = JmpCond::ALL[rng.below(11) as usize];
                let src = if rng.below(2) == 0 {
                    Operand::Reg(rng.reg())
                } else {
                    Operand::Imm(rng.imm())
                };
                (
                    None,
                    Some((width, cond, rng.reg(), src, rng.below(4) as usize)),
                )
            },
            |i| (Some(i), None),
        ));
    }
    let n = items.len();
    for (i, (insn, jump)) in items.into_iter().enumerate() {
        match (insn, jump) {
            (Some(insn), _) => p.push(insn),
            (None, Some((width, cond, dst, src, skip))) => p.push(Insn::Jump {
                width,
                cond,
                dst,
                src,
                off: skip.min(n - 1 - i) as i16,
            }),
            (None, None) => unreachable!("every item is one or the other"),
        }
    }
    // Fold: r0 ^= r2..r9; r0 ^= r0 >> 32; w0 = w0.
    for n in 2..=9u8 {
        p.push(Insn::Alu {
            width: Width::W64,
            op: AluOp::Xor,
            dst: Reg::R0,
            src: Operand::Reg(Reg::new(n).unwrap()),
        });
    }
    p.push(mov(Reg::R2, Operand::Reg(Reg::R0)));
    p.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Rsh,
        dst: Reg::R2,
        src: Operand::Imm(32),
    });
    p.push(Insn::Alu {
        width: Width::W64,
        op: AluOp::Xor,
        dst: Reg::R0,
        src: Operand::Reg(Reg::R2),
    });
    p.push(Insn::Alu {
        width: Width::W32,
        op: AluOp::Mov,
        dst: Reg::R0,
        src: Operand::Reg(Reg::R0),
    });
    p.push(Insn::Exit);
    p
}

trait NonZero {
    fn nonzero(self) -> Operand;
}

impl NonZero for Operand {
    fn nonzero(self) -> Operand {
        match self {
            Operand::Imm(0) => Operand::Imm(7),
            o => o,
        }
    }
}

trait MinWidth {
    fn min_width(self, width: Width) -> AluOp;
}

impl MinWidth for AluOp {
    /// `movsx32` exists only at 64 bits.
    fn min_width(self, width: Width) -> AluOp {
        if width == Width::W32 && self == AluOp::MovSx32 {
            AluOp::MovSx16
        } else {
            self
        }
    }
}

#[test]
fn jit_matches_the_kernel() {
    if let Err(reason) = ebee_kernel::probe_program_type(ProgramType::Xdp) {
        println!("skipped: {reason}");
        return;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut compared = 0;
    // EBEE_JIT_KERNEL_CASES raises the count for a longer hunt.
    let cases = std::env::var("EBEE_JIT_KERNEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(150);
    for case in 0..cases {
        let insns = program(&mut rng);
        let kernel = KernelProgram::load(ProgramType::Xdp, &insns, "GPL", &LoadOptions::default())
            .unwrap_or_else(|e| {
                panic!("case {case}: the kernel rejected a generated program: {e}")
            });
        let want = kernel
            .test_run(&TestRun::new(&[0u8; 64]))
            .unwrap_or_else(|e| panic!("case {case}: test run: {e}"))
            .retval;
        let vm = Vm::new(insns.clone()).expect("loads");
        let mut mem = [0u8; 64];
        let verified = JitProgram::compile(&vm, JitOptions::VERIFIED).expect("compiles");
        // SAFETY: the kernel verifier accepted this program, which touches
        // only its own stack.
        let got = unsafe { verified.run_unchecked(&mut mem) }.expect("runs") as u32;
        assert_eq!(
            got, want,
            "case {case}: verified JIT vs kernel on {insns:#?}"
        );
        let checked = JitProgram::compile(&vm, JitOptions::CHECKED).expect("compiles");
        let got = checked.run(&mut mem).expect("runs") as u32;
        assert_eq!(got, want, "case {case}: checked JIT vs kernel");
        compared += 1;
    }
    println!("kernel oracle: {compared} programs gave the kernel's result in both modes");
}
