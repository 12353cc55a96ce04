//! Soundness against the interpreter: random programs the verifier accepts
//! as "buffer" programs run in ebee-runtime's checked mode (every access
//! checked against the live regions) without a memory fault, misaligned
//! atomic, call-depth overflow or runaway loop.

use ebee_isa::*;
use ebee_runtime::{ExecError, Vm};
use ebee_verifier::{verify, Maps, Options, Program, ProgramType};
use proptest::prelude::*;

const MEM: usize = 32;

static REJECTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static ACCEPTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn reg() -> impl Strategy<Value = Reg> {
    // r1 (the buffer) and r10 (the stack) appear more often, to make
    // accesses likely.
    prop_oneof![3 => Just(Reg::R1), 3 => Just(Reg::R10), 6 => (0u8..10).prop_map(|n| Reg::new(n).unwrap())]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn insn() -> impl Strategy<Value = Insn> {
    let op = prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::And),
        Just(AluOp::Or),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Arsh),
        Just(AluOp::Mov),
        Just(AluOp::Mul),
        Just(AluOp::Xor),
        Just(AluOp::MovSx8),
    ];
    let width = prop_oneof![Just(Width::W32), Just(Width::W64)];
    let operand = prop_oneof![
        reg().prop_map(Operand::Reg),
        (-40i32..40).prop_map(Operand::Imm)
    ];
    let cond = (0usize..11).prop_map(|i| JmpCond::ALL[i]);
    prop_oneof![
        5 => (width.clone(), op, reg(), operand.clone()).prop_map(|(width, op, dst, src)| Insn::Alu { width, op, dst, src }),
        3 => (size(), any::<bool>(), reg(), reg(), -34i16..34).prop_map(|(size, signed, dst, src, off)| Insn::Load { size, signed: signed && size != Size::DW, dst, src, off }),
        3 => (size(), reg(), -40i16..40, operand.clone()).prop_map(|(size, dst, off, src)| Insn::Store { size, dst, off, src }),
        1 => (prop_oneof![Just(Size::W), Just(Size::DW)], reg(), reg(), -40i16..40).prop_map(|(size, dst, src, off)| Insn::Atomic { size, op: AtomicOp::Add { fetch: true }, dst, src, off }),
        3 => (width, cond, reg(), operand, -3i16..6).prop_map(|(width, cond, dst, src, off)| Insn::Jump { width, cond, dst, src, off }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn accepted_programs_do_not_fault(
        body in proptest::collection::vec(insn(), 1..10),
        mem in proptest::collection::vec(any::<u8>(), MEM),
    ) {
        // A prelude that initializes registers and some stack, so that many
        // random bodies get past the uninitialized-read rules.
        let imm = |d: Reg, v: i32| Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: d, src: Operand::Imm(v) };
        let r = |n: u8| Reg::new(n).unwrap();
        let mut insns = vec![
            imm(r(0), 0), imm(r(2), 3), imm(r(5), 8), imm(r(6), 1), imm(r(8), 16), imm(r(9), 4),
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: r(3), src: Operand::Reg(r(1)) },
            Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: r(4), src: Operand::Reg(r(10)) },
            Insn::Alu { width: Width::W64, op: AluOp::Add, dst: r(4), src: Operand::Imm(-32) },
            Insn::Load { size: Size::B, signed: false, dst: r(7), src: r(1), off: 0 },
            Insn::Store { size: Size::DW, dst: r(10), off: -8, src: Operand::Imm(0) },
            Insn::Store { size: Size::DW, dst: r(10), off: -16, src: Operand::Imm(0) },
            Insn::Store { size: Size::DW, dst: r(10), off: -24, src: Operand::Imm(0) },
            Insn::Store { size: Size::DW, dst: r(10), off: -32, src: Operand::Imm(0) },
        ];
        // Keep jump targets inside the program (backward jumps make loops).
        let n = body.len() as i64;
        insns.extend(body.into_iter().enumerate().map(|(i, insn)| match insn {
            Insn::Jump { width, cond, dst, src, off } => {
                let target = (i as i64 + 1 + off as i64).clamp(0, n + 1);
                Insn::Jump { width, cond, dst, src, off: (target - i as i64 - 1) as i16 }
            }
            other => other,
        }));
        insns.push(Insn::Alu { width: Width::W64, op: AluOp::Mov, dst: Reg::R0, src: Operand::Imm(0) });
        insns.push(Insn::Exit);
        let pt = ProgramType::buffer(MEM as u32);
        let maps = Maps::new();
        let opts = Options { max_insns: 50_000, ..Options::default() };
        let v = verify(&Program::new(&insns, &pt, &maps), &opts);
        if let Some(r) = v.verdict.rejection() {
            let n = REJECTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if std::env::var_os("EBEE_SHOW").is_some() && n.is_multiple_of(150) {
                println!("rejected: {}", r.message);
            }
        }
        if v.verdict.is_accepted() {
            let n = ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if std::env::var_os("EBEE_SHOW").is_some() && n.is_multiple_of(50) {
                println!("accepted #{n}:\n{}", ebee_isa::disassemble(&insns, &ebee_isa::DisasmOptions::default()));
            }
            let vm = Vm::new(insns.clone()).expect("an accepted program loads");
            let mut mem = mem;
            match vm.run(&mut mem) {
                Ok(_) => {}
                Err(e @ (ExecError::OutOfBounds { .. } | ExecError::MisalignedAtomic { .. } | ExecError::CallDepth { .. } | ExecError::BudgetExhausted { .. } | ExecError::FellOffEnd { .. })) => {
                    prop_assert!(false, "accepted but the interpreter says: {e}\n{}", ebee_isa::disassemble(&insns, &ebee_isa::DisasmOptions { show_pc: true, ..Default::default() }));
                }
                Err(_) => {}
            }
        }
    }
}
