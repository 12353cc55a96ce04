//! Whatever the bytecode and the input, a checked run returns a value or an
//! error: no panic, no crash, bounded by the budget.

mod common;
use common::*;
use ebee_isa::{AluOp, AtomicOp, ByteOrder, Insn, JmpCond, Operand, Size, Width};
use ebee_runtime::Vm;
use proptest::prelude::*;

fn vm_with_helpers(mut vm: Vm) -> Vm {
    vm.set_budget(2_000);
    vm.helpers_mut().register(5, "identity", |a| Ok(a[0]));
    vm.helpers_mut()
        .register(6, "fails", |_| Err("fails".into()));
    vm
}

fn any_reg() -> impl Strategy<Value = u8> {
    0u8..=10
}

fn any_operand() -> impl Strategy<Value = Operand> {
    prop_oneof![any_reg().prop_map(r), any::<i32>().prop_map(Operand::Imm)]
}

fn any_size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

fn any_alu_op() -> impl Strategy<Value = AluOp> {
    prop::sample::select(vec![
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
        AluOp::MovSx8,
        AluOp::MovSx16,
        AluOp::MovSx32,
        AluOp::Arsh,
    ])
}

fn any_atomic() -> impl Strategy<Value = AtomicOp> {
    prop::sample::select(vec![
        AtomicOp::Add { fetch: false },
        AtomicOp::Add { fetch: true },
        AtomicOp::Or { fetch: true },
        AtomicOp::And { fetch: false },
        AtomicOp::Xor { fetch: true },
        AtomicOp::Xchg,
        AtomicOp::CmpXchg,
        AtomicOp::LoadAcquire,
        AtomicOp::StoreRelease,
    ])
}

/// Instructions biased towards memory near the stack and input, with small
/// jump offsets; invalid combinations are rejected at load, which is fine.
fn any_insn() -> impl Strategy<Value = Insn> {
    let off = -600i16..600;
    prop_oneof![
        (any::<bool>(), any_alu_op(), any_reg(), any_operand()).prop_map(|(w, op, d, src)| {
            Insn::Alu {
                width: if w { Width::W64 } else { Width::W32 },
                op,
                dst: reg(d),
                src,
            }
        }),
        (any_size(), any::<bool>(), any_reg(), any_reg(), off.clone()).prop_map(
            |(size, signed, d, s, off)| Insn::Load {
                size,
                signed,
                dst: reg(d),
                src: reg(s),
                off
            }
        ),
        (any_size(), any_reg(), off.clone(), any_operand()).prop_map(|(size, d, off, src)| {
            Insn::Store {
                size,
                dst: reg(d),
                off,
                src,
            }
        }),
        (
            prop_oneof![Just(Size::W), Just(Size::DW)],
            any_atomic(),
            any_reg(),
            any_reg(),
            off
        )
            .prop_map(|(size, op, d, s, off)| atomic(size, op, d, s, off)),
        (
            prop::sample::select(JmpCond::ALL.to_vec()),
            any::<bool>(),
            any_reg(),
            any_operand(),
            -4i16..4
        )
            .prop_map(|(cond, w, d, src, off)| Insn::Jump {
                width: if w { Width::W64 } else { Width::W32 },
                cond,
                dst: reg(d),
                src,
                off,
            }),
        (-4i32..4).prop_map(ja),
        (-4i32..4).prop_map(call_local),
        (3i32..8).prop_map(call_helper),
        any_reg().prop_map(|reg_| Insn::CallX { reg: reg(reg_) }),
        (
            prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)],
            prop::option::of(any_reg()),
            -4i32..40
        )
            .prop_map(|(size, index, imm)| Insn::LdPacket {
                size,
                index: index.map(reg),
                imm
            }),
        (
            prop::sample::select(vec![ByteOrder::Le, ByteOrder::Be, ByteOrder::Swap]),
            prop::sample::select(vec![16u8, 32, 64]),
            any_reg()
        )
            .prop_map(|(order, bits, d)| Insn::Endian {
                order,
                bits,
                dst: reg(d)
            }),
        (-4i16..4).prop_map(|off| Insn::MayGoto { off }),
        Just(exit()),
    ]
}

/// Whether the program may let a host address (r1 = the input, r10 = the
/// frame) reach r0 or memory as a value, which differs between runs.
fn may_observe_addresses(insns: &[Insn]) -> bool {
    let ptr = |r: ebee_isa::Reg| matches!(r.index(), 1 | 10);
    let op_ptr = |o: &Operand| matches!(o, Operand::Reg(r) if ptr(*r));
    insns.iter().any(|insn| match insn {
        Insn::Alu { op, dst, src, .. } => {
            op_ptr(src)
                || (ptr(*dst)
                    && !matches!(
                        op,
                        AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32
                    ))
        }
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => ptr(*dst),
        Insn::Jump { dst, src, .. } => ptr(*dst) || op_ptr(src),
        Insn::Store { src, .. } => op_ptr(src),
        Insn::Atomic { op, src, dst, .. } => {
            if *op == AtomicOp::LoadAcquire {
                false
            } else {
                ptr(*src) || (*op == AtomicOp::CmpXchg && ptr(*dst))
            }
        }
        Insn::Call(_) | Insn::CallX { .. } => true,
        _ => false,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256),
                                mem in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(vm) = Vm::from_bytes(&bytes) {
            let vm = vm_with_helpers(vm);
            let _ = vm.run(&mut mem.clone());
        }
    }

    #[test]
    fn random_instructions_never_panic(insns in prop::collection::vec(any_insn(), 1..40),
                                       mem in prop::collection::vec(any::<u8>(), 0..64)) {
        let observes = may_observe_addresses(&insns);
        if let Ok(vm) = Vm::new(insns) {
            let vm = vm_with_helpers(vm);
            let mut m = mem.clone();
            let checked = vm.run(&mut m);
            // A checked run that succeeded touched only allowed memory, so
            // the unchecked run of the same input must agree exactly.
            if let (Ok(v), false) = (checked, observes) {
                let mut m2 = mem.clone();
                // SAFETY: see above; the programs are deterministic.
                let unchecked = unsafe { vm.run_unchecked(&mut m2) };
                prop_assert_eq!(unchecked, Ok(v));
                prop_assert_eq!(m, m2);
            }
        }
    }
}
