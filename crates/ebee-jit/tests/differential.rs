//! Differential testing against the interpreter (`ebee-runtime`), which
//! defines every instruction's meaning: random programs (ALU/ALU32,
//! JMP/JMP32 with forward jumps, loads and stores on the stack and the
//! input buffer, byte swaps, sign extensions, division and modulo, atomics,
//! `lddw`, helper calls, calls of a subprogram) run on both engines, which must agree on `r0`, the input buffer
//! after the run and the error (kind, pc, access). Random accesses go out
//! of bounds often, so checked mode is compared on faults too; verified
//! mode runs only the programs the checked interpreter ran cleanly.
//! Garbage programs must never crash checked mode. Every comparison is
//! made with and without constant blinding, checked mode also unoptimised.

use ebee_isa::{encode, AluOp, AtomicOp, ByteOrder, Insn, JmpCond, Operand, Reg, Size, Width};
use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::{ExecError, Vm};
use proptest::prelude::*;

/// One generated instruction; jumps hold how far forward they go.
#[derive(Debug, Clone)]
enum Gen {
    Alu(Width, AluOp, u8, GenOperand),
    Neg(Width, u8),
    Endian(ByteOrder, u8, u8),
    LdImm64(u8, i64),
    /// Load from `base` (r1 = input, r10 = stack) at `off`.
    Load(Size, bool, u8, u8, i16),
    Store(Size, u8, i16, GenOperand),
    Atomic(Size, AtomicOp, u8, u8, i16),
    Jump(Width, JmpCond, u8, GenOperand, u8),
    Ja(u8),
    /// `call` of helper 5 (pure in r2–r5) or of an unregistered id.
    Helper(bool),
    /// `call` of the subprogram placed after the main program.
    CallLocal,
}

#[derive(Debug, Clone, Copy)]
enum GenOperand {
    Reg(u8),
    Imm(i32),
}

/// Registers holding plain numbers (never host addresses), so results do
/// not depend on where memory happens to be: r0 and r2–r9 (r2 = length).
fn value_reg() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), 2u8..=9]
}

/// Destinations: never r1 (the input pointer) or r10 (the frame pointer).
fn dst_reg() -> impl Strategy<Value = u8> {
    prop_oneof![Just(0u8), 2u8..=9]
}

fn imm() -> impl Strategy<Value = i32> {
    prop_oneof![
        -4i32..=4,
        Just(i32::MIN),
        Just(i32::MAX),
        Just(-1),
        any::<i32>(),
        0i32..=64,
    ]
}

fn operand() -> impl Strategy<Value = GenOperand> {
    prop_oneof![
        value_reg().prop_map(GenOperand::Reg),
        imm().prop_map(GenOperand::Imm)
    ]
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn alu_op() -> impl Strategy<Value = AluOp> {
    use AluOp::*;
    prop_oneof![
        Just(Add),
        Just(Sub),
        Just(Mul),
        Just(Div),
        Just(SDiv),
        Just(Or),
        Just(And),
        Just(Lsh),
        Just(Rsh),
        Just(Mod),
        Just(SMod),
        Just(Xor),
        Just(Mov),
        Just(Arsh),
        Just(MovSx8),
        Just(MovSx16),
        Just(MovSx32),
    ]
}

fn cond() -> impl Strategy<Value = JmpCond> {
    proptest::sample::select(JmpCond::ALL.to_vec())
}

/// Offsets around the stack frame (`r10 - 520 .. r10 + 8`) and the input
/// buffer (`r1 - 8 .. r1 + 72` for 64 bytes): mostly inside, sometimes not.
fn mem_access() -> impl Strategy<Value = (u8, i16)> {
    prop_oneof![
        (Just(10u8), -520i16..=8),
        (Just(1u8), -8i16..=72),
        (Just(10u8), (-64i16..=-1).prop_map(|o| o * 8)),
    ]
}

fn atomic_op() -> impl Strategy<Value = AtomicOp> {
    use AtomicOp::*;
    prop_oneof![
        any::<bool>().prop_map(|fetch| Add { fetch }),
        any::<bool>().prop_map(|fetch| Or { fetch }),
        any::<bool>().prop_map(|fetch| And { fetch }),
        any::<bool>().prop_map(|fetch| Xor { fetch }),
        Just(Xchg),
        Just(CmpXchg),
        Just(LoadAcquire),
        Just(StoreRelease),
    ]
}

fn gen_insn() -> impl Strategy<Value = Gen> {
    prop_oneof![
        6 => (width(), alu_op(), dst_reg(), operand()).prop_map(|(w, op, d, s)| {
            // Sign-extending moves exist only with a register source, and
            // the 32-bit one only at 64 bits.
            let s = match (op, s) {
                (AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32, GenOperand::Imm(i)) => {
                    GenOperand::Reg((i.unsigned_abs() % 9) as u8 + 1).fix_value()
                }
                (_, s) => s,
            };
            let w = if op == AluOp::MovSx32 { Width::W64 } else { w };
            Gen::Alu(w, op, d, s)
        }),
        1 => (width(), dst_reg()).prop_map(|(w, d)| Gen::Neg(w, d)),
        1 => (
            prop_oneof![Just(ByteOrder::Le), Just(ByteOrder::Be), Just(ByteOrder::Swap)],
            prop_oneof![Just(16u8), Just(32), Just(64)],
            dst_reg()
        )
            .prop_map(|(o, b, d)| Gen::Endian(o, b, d)),
        1 => (dst_reg(), any::<i64>()).prop_map(|(d, i)| Gen::LdImm64(d, i)),
        3 => (size(), any::<bool>(), dst_reg(), mem_access()).prop_map(|(s, signed, d, (b, o))| {
            Gen::Load(s, signed && s != Size::DW, d, b, o)
        }),
        3 => (size(), mem_access(), operand()).prop_map(|(s, (b, o), v)| Gen::Store(s, b, o, v)),
        1 => (
            prop_oneof![Just(Size::W), Just(Size::DW)],
            atomic_op(),
            value_reg(),
            mem_access()
        )
            .prop_map(|(s, op, v, (b, o))| Gen::Atomic(s, op, v, b, o)),
        2 => (width(), cond(), value_reg(), operand(), 0u8..8)
            .prop_map(|(w, c, d, s, skip)| Gen::Jump(w, c, d, s, skip)),
        1 => (0u8..4).prop_map(Gen::Ja),
        1 => prop_oneof![9 => Just(true), 1 => Just(false)].prop_map(Gen::Helper),
        1 => Just(Gen::CallLocal),
    ]
}

impl GenOperand {
    /// Keeps register operands away from r1 and r10.
    fn fix_value(self) -> GenOperand {
        match self {
            GenOperand::Reg(1) => GenOperand::Reg(2),
            GenOperand::Reg(r) if r > 9 => GenOperand::Reg(9),
            o => o,
        }
    }
}

fn r(n: u8) -> Reg {
    Reg::new(n).unwrap()
}

fn op(o: GenOperand) -> Operand {
    match o.fix_value() {
        GenOperand::Reg(n) => Operand::Reg(r(n)),
        GenOperand::Imm(i) => Operand::Imm(i),
    }
}

/// The subprogram local calls go to: uses its own frame and r2, clobbers
/// r6 (which the caller must get back), leaves r1–r5 alone (so verified
/// mode, which does not hand them back, agrees too).
const SUBPROGRAM: [Insn; 6] = [
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
];

/// Turns generated instructions into a program (decoded form, with the
/// `lddw` placeholders) ending in `exit`, followed by [`SUBPROGRAM`];
/// jumps stay inside the main program.
fn materialize(gens: &[Gen]) -> Vec<Insn> {
    // First the slot count of each generated instruction, to turn "skip k
    // instructions" into slot offsets.
    let slots: Vec<usize> = gens
        .iter()
        .map(|g| if matches!(g, Gen::LdImm64(..)) { 2 } else { 1 })
        .collect();
    let mut starts = Vec::with_capacity(gens.len() + 1);
    let mut pc = 0;
    for s in &slots {
        starts.push(pc);
        pc += s;
    }
    starts.push(pc); // the final exit
    let target_after = |i: usize, skip: u8| -> i32 {
        let t = (i + 1 + skip as usize).min(gens.len());
        (starts[t] as i64 - (starts[i] as i64 + 1)) as i32
    };
    let mut out = Vec::new();
    for (i, g) in gens.iter().enumerate() {
        match *g {
            Gen::Alu(width, aop, d, s) => out.push(Insn::Alu {
                width,
                op: aop,
                dst: r(d),
                src: op(s),
            }),
            Gen::Neg(width, d) => out.push(Insn::Neg { width, dst: r(d) }),
            Gen::Endian(order, bits, d) => {
                // The RFC's `bswap` is a 64-bit ALU instruction; `le`/`be` 32-bit.
                out.push(Insn::Endian {
                    order,
                    bits,
                    dst: r(d),
                })
            }
            Gen::LdImm64(d, imm) => {
                out.push(Insn::LdImm64 {
                    dst: r(d),
                    kind: ebee_isa::Imm64Kind::Imm,
                    imm,
                });
                out.push(Insn::LdImm64Tail);
            }
            Gen::Load(size, signed, d, base, off) => out.push(Insn::Load {
                size,
                signed,
                dst: r(d),
                src: r(base),
                off,
            }),
            Gen::Store(size, base, off, v) => out.push(Insn::Store {
                size,
                dst: r(base),
                off,
                src: op(v),
            }),
            Gen::Atomic(size, aop, v, base, off) => {
                let (dst, src) = if aop == AtomicOp::LoadAcquire {
                    (r(v), r(base))
                } else {
                    (r(base), r(v))
                };
                out.push(Insn::Atomic {
                    size,
                    op: aop,
                    dst,
                    src,
                    off,
                })
            }
            Gen::Jump(width, cond, d, s, skip) => out.push(Insn::Jump {
                width,
                cond,
                dst: r(d),
                src: op(s),
                off: target_after(i, skip) as i16,
            }),
            Gen::Ja(skip) => out.push(Insn::Ja {
                off: target_after(i, skip),
                long: false,
            }),
            Gen::Helper(known) => out.push(Insn::Call(ebee_isa::CallTarget::Helper(if known {
                5
            } else {
                77
            }))),
            Gen::CallLocal => {
                // The subprogram starts right after the main program's exit.
                let sub = starts[gens.len()] as i64 + 1;
                out.push(Insn::Call(ebee_isa::CallTarget::Local(
                    (sub - starts[i] as i64 - 1) as i32,
                )))
            }
        }
    }
    out.push(Insn::Exit);
    out.extend(SUBPROGRAM);
    out
}

/// Helper 5 of the differential programs: a pure function of r2–r5 (r1 is
/// the input's address, which differs between runs).
fn helper_5(a: [u64; 5]) -> Result<u64, ebee_runtime::HelperError> {
    Ok(a[1].wrapping_mul(31) ^ a[2].rotate_left(7) ^ a[3].wrapping_add(a[4]))
}

/// What a run produced, comparable across engines (no host addresses).
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Ok {
        r0: u64,
        mem: Vec<u8>,
    },
    /// The error, and the input buffer as the stores before it left it.
    Err(String, Vec<u8>),
}

fn outcome(r: Result<u64, ExecError>, mem: Vec<u8>) -> Outcome {
    match r {
        Ok(r0) => Outcome::Ok { r0, mem },
        Err(e) => Outcome::Err(e.portable_key(), mem),
    }
}

fn input(seed: u8) -> Vec<u8> {
    (0..64u32)
        .map(|i| (i as u8).wrapping_mul(seed) ^ 0x5a)
        .collect()
}

/// Runs both engines (with the instruction budget `budget`, if any);
/// returns whether the run reached `exit`.
fn compare(gens: &[Gen], seed: u8, budget: Option<u64>) -> Result<bool, TestCaseError> {
    let insns = materialize(gens);
    let bytes = encode(&insns);
    let mut vm = Vm::from_bytes(&bytes).map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
    vm.helpers_mut().register(5, "mix", helper_5);
    if let Some(b) = budget {
        vm.set_budget(b);
    }
    let mut mem = input(seed);
    let want = outcome(vm.run(&mut mem), mem);

    // Each mode also with constant blinding, and checked mode also
    // unoptimised (other Cranelift settings), which must not change results.
    let unoptimised = JitOptions {
        optimize: false,
        ..JitOptions::CHECKED
    };
    for options in [
        JitOptions::CHECKED,
        JitOptions::CHECKED.blind_constants(true),
        unoptimised,
    ] {
        let checked = JitProgram::compile(&vm, options)
            .map_err(|e| TestCaseError::fail(format!("compile: {e}")))?;
        let mut mem = input(seed);
        let got = outcome(checked.run(&mut mem), mem);
        prop_assert_eq!(
            &got,
            &want,
            "checked mode ({:?}) differs on {:#?}",
            options,
            insns
        );
    }

    let clean = matches!(want, Outcome::Ok { .. });
    if clean {
        for blind in [false, true] {
            let options = JitOptions::VERIFIED.blind_constants(blind);
            let verified = JitProgram::compile(&vm, options)
                .map_err(|e| TestCaseError::fail(format!("compile: {e}")))?;
            let mut mem = input(seed);
            // SAFETY: the checked interpreter just ran this deterministic
            // program on the same input without a fault, so every access it
            // makes is inside its stack frame or the input buffer.
            let got = outcome(unsafe { verified.run_unchecked(&mut mem) }, mem);
            prop_assert_eq!(
                &got,
                &want,
                "verified mode (blind {}) differs on {:#?}",
                blind,
                insns
            );
        }
    }
    Ok(clean)
}

/// Random well-formed programs: same `r0`, memory and error on both
/// engines, in both modes. Prints how many runs ended cleanly and how many
/// faulted (both kinds must occur for the test to mean something).
#[test]
fn jit_matches_interpreter() {
    use proptest::test_runner::{Config, TestRunner};
    // EBEE_JIT_DIFF_CASES raises the count for a longer hunt.
    let cases = std::env::var("EBEE_JIT_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let (ok, faulted) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    // A third of the runs get a budget short enough to run out: the error
    // (its pc included) and the memory left must be the interpreter's.
    let budget = prop_oneof![2 => Just(None), 1 => (0u64..48).prop_map(Some)];
    let strategy = (
        proptest::collection::vec(gen_insn(), 1..32),
        any::<u8>(),
        budget,
    );
    runner
        .run(&strategy, |(gens, seed, budget)| {
            match compare(&gens, seed, budget)? {
                true => ok.set(ok.get() + 1),
                false => faulted.set(faulted.get() + 1),
            }
            Ok(())
        })
        .unwrap();
    println!(
        "differential: {} programs agreed ({} ran to exit, also in verified mode; {} faulted)",
        ok.get() + faulted.get(),
        ok.get(),
        faulted.get()
    );
    assert!(ok.get() >= cases / 10 && faulted.get() >= cases / 10);
}

/// Wild programs (any register as address or operand, jumps anywhere
/// including backwards, calls of helpers that do not exist, recursion,
/// `callx`, `may_goto`, packet loads) run in checked mode to a result or an
/// error that names an instruction of the program: never a crash, never a
/// hang (the budget stops loops). Most of them must load and run; a third
/// of them are also compiled for aarch64.
#[test]
fn checked_mode_survives_wild_programs() {
    use proptest::test_runner::{Config, TestRunner};
    // EBEE_JIT_DIFF_CASES raises the count for a longer hunt.
    let cases = std::env::var("EBEE_JIT_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let ran = std::cell::Cell::new(0u32);
    let faulted = std::cell::Cell::new(0u32);
    runner
        .run(&proptest::collection::vec(wild_insn(), 1..24), |wild| {
            let insns = materialize_wild(&wild);
            let Ok(mut vm) = Vm::from_bytes(&encode(&insns)) else {
                // Not loadable (e.g. a sign-extending move of an immediate):
                // the JIT never sees it.
                return Ok(());
            };
            vm.set_budget(5_000);
            vm.helpers_mut().register(5, "five", |_| Ok(5));
            // Every third one also goes through the aarch64 back end
            // (compiled only): calls, atomics, packet loads, may_goto.
            if ran.get().is_multiple_of(3) {
                for checked in [false, true] {
                    ebee_jit::compile_for_target(&insns, "aarch64", checked)
                        .map_err(|e| TestCaseError::fail(format!("aarch64: {e}")))?;
                }
            }
            let prog = JitProgram::compile(&vm, JitOptions::CHECKED)
                .map_err(|e| TestCaseError::fail(format!("compile: {e}")))?;
            let mut mem = input(3);
            ran.set(ran.get() + 1);
            if let Err(e) = prog.run(&mut mem) {
                faulted.set(faulted.get() + 1);
                prop_assert!(
                    e.pc() < insns.len(),
                    "{e} names no instruction of {insns:#?}"
                );
            }
            Ok(())
        })
        .unwrap();
    println!(
        "wild programs: {} ran, {} stopped with an error",
        ran.get(),
        faulted.get()
    );
    assert!(
        ran.get() >= 150,
        "only {} of 300 wild programs loaded",
        ran.get()
    );
    assert!(faulted.get() > 0 && faulted.get() < ran.get());
}

/// A wild instruction: a kind and raw fields, resolved by [`materialize_wild`].
fn wild_insn() -> impl Strategy<Value = (u8, u8, u8, i16, i32, u16)> {
    (
        0u8..14,
        0u8..=10,
        0u8..=10,
        any::<i16>(),
        imm(),
        any::<u16>(),
    )
}

fn materialize_wild(wild: &[(u8, u8, u8, i16, i32, u16)]) -> Vec<Insn> {
    let n = wild.len() + 1;
    let mut out = Vec::new();
    for (pc, &(kind, a, b, off, imm, pick)) in wild.iter().enumerate() {
        let target = |t: u16| (t as usize % n) as i64 - pc as i64 - 1;
        let w = if pick & 1 == 0 {
            Width::W32
        } else {
            Width::W64
        };
        let size = [Size::B, Size::H, Size::W, Size::DW][(pick >> 1) as usize % 4];
        let src = if pick & 8 == 0 {
            Operand::Reg(r(b))
        } else {
            Operand::Imm(imm)
        };
        out.push(match kind {
            0..=2 => Insn::Alu {
                width: w,
                op: [
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
                ][(pick >> 4) as usize % 17],
                dst: r(a),
                src,
            },
            3 => Insn::Load {
                size,
                signed: pick & 16 != 0 && size != Size::DW,
                dst: r(a),
                src: r(b),
                off,
            },
            4 => Insn::Store {
                size,
                dst: r(a),
                off,
                src,
            },
            5 => Insn::Atomic {
                size: if pick & 2 == 0 { Size::W } else { Size::DW },
                op: [
                    AtomicOp::Add { fetch: true },
                    AtomicOp::Xor { fetch: false },
                    AtomicOp::Xchg,
                    AtomicOp::CmpXchg,
                ][(pick >> 4) as usize % 4],
                dst: r(a),
                src: r(b),
                off,
            },
            6 => Insn::Jump {
                width: w,
                cond: JmpCond::ALL[(pick >> 4) as usize % 11],
                dst: r(a),
                src,
                off: target(pick >> 8) as i16,
            },
            7 => Insn::Ja {
                off: target(pick >> 8) as i32,
                long: false,
            },
            8 => Insn::Call(ebee_isa::CallTarget::Helper(
                [5, 1, 12, 999][pick as usize % 4],
            )),
            9 => Insn::Call(ebee_isa::CallTarget::Local(target(pick >> 8) as i32)),
            10 => Insn::CallX { reg: r(a) },
            11 => Insn::MayGoto {
                off: target(pick >> 8) as i16,
            },
            12 => Insn::LdPacket {
                size: [Size::B, Size::H, Size::W][pick as usize % 3],
                index: (pick & 4 != 0).then(|| r(b)),
                imm,
            },
            _ => Insn::Exit,
        });
    }
    out.push(Insn::Exit);
    out
}
