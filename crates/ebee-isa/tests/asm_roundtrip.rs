//! Property tests over every valid instruction: the wire format round-trips
//! through the decoder, and the text of each syntax round-trips through the
//! assembler, one instruction at a time and as whole listings with pc and
//! byte columns.

use ebee_isa::asm::{assemble, assemble_as, Syntax};
use ebee_isa::disasm::{disassemble, format_insn, DisasmOptions};
use ebee_isa::*;
use proptest::prelude::*;

fn reg() -> impl Strategy<Value = Reg> {
    (0u8..=10).prop_map(|n| Reg::new(n).unwrap())
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![Just(Width::W32), Just(Width::W64)]
}

fn size() -> impl Strategy<Value = Size> {
    prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W), Just(Size::DW)]
}

/// Interesting 32-bit immediates: small, boundaries, anything.
fn imm32() -> impl Strategy<Value = i32> {
    prop_oneof![
        -16i32..16,
        Just(i32::MIN),
        Just(i32::MAX),
        Just(-1),
        any::<i32>()
    ]
}

fn off16() -> impl Strategy<Value = i16> {
    prop_oneof![-8i16..8, Just(i16::MIN), Just(i16::MAX), any::<i16>()]
}

fn operand() -> impl Strategy<Value = Operand> {
    prop_oneof![reg().prop_map(Operand::Reg), imm32().prop_map(Operand::Imm)]
}

fn alu() -> impl Strategy<Value = Insn> {
    let ops = prop_oneof![
        Just(AluOp::Add),
        Just(AluOp::Sub),
        Just(AluOp::Mul),
        Just(AluOp::Div),
        Just(AluOp::SDiv),
        Just(AluOp::Or),
        Just(AluOp::And),
        Just(AluOp::Lsh),
        Just(AluOp::Rsh),
        Just(AluOp::Mod),
        Just(AluOp::SMod),
        Just(AluOp::Xor),
        Just(AluOp::Mov),
        Just(AluOp::Arsh),
    ];
    let plain = (width(), ops, reg(), operand()).prop_map(|(width, op, dst, src)| Insn::Alu {
        width,
        op,
        dst,
        src,
    });
    let movsx = (
        prop_oneof![
            (width(), Just(AluOp::MovSx8)),
            (width(), Just(AluOp::MovSx16)),
            (Just(Width::W64), Just(AluOp::MovSx32)),
        ],
        reg(),
        reg(),
    )
        .prop_map(|((width, op), dst, src)| Insn::Alu {
            width,
            op,
            dst,
            src: Operand::Reg(src),
        });
    prop_oneof![4 => plain, 1 => movsx]
}

fn atomic() -> impl Strategy<Value = Insn> {
    let rmw = prop_oneof![
        any::<bool>().prop_map(|fetch| AtomicOp::Add { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::Or { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::And { fetch }),
        any::<bool>().prop_map(|fetch| AtomicOp::Xor { fetch }),
        Just(AtomicOp::Xchg),
        Just(AtomicOp::CmpXchg),
    ];
    let wide = prop_oneof![Just(Size::W), Just(Size::DW)];
    let ordered = prop_oneof![Just(AtomicOp::LoadAcquire), Just(AtomicOp::StoreRelease)];
    prop_oneof![(rmw, wide), (ordered, size())].prop_flat_map(|(op, size)| {
        (reg(), reg(), off16()).prop_map(move |(dst, src, off)| Insn::Atomic {
            size,
            op,
            dst,
            src,
            off,
        })
    })
}

fn lddw() -> impl Strategy<Value = Insn> {
    let kinds = prop_oneof![
        Just(Imm64Kind::Imm),
        Just(Imm64Kind::MapFd),
        Just(Imm64Kind::MapValue),
        Just(Imm64Kind::BtfId),
        Just(Imm64Kind::Func),
        Just(Imm64Kind::MapIdx),
        Just(Imm64Kind::MapIdxValue),
    ];
    let imm = prop_oneof![-4i64..4, Just(i64::MIN), Just(i64::MAX), any::<i64>()];
    (reg(), kinds, imm).prop_map(|(dst, kind, imm)| {
        // The decoder wants the second slot zero for these kinds.
        let imm = match kind {
            Imm64Kind::MapFd | Imm64Kind::BtfId | Imm64Kind::Func | Imm64Kind::MapIdx => {
                imm as u32 as i64
            }
            _ => imm,
        };
        Insn::LdImm64 { dst, kind, imm }
    })
}

fn jump() -> impl Strategy<Value = Insn> {
    let cond = (0..JmpCond::ALL.len()).prop_map(|i| JmpCond::ALL[i]);
    (width(), cond, reg(), operand(), off16()).prop_map(|(width, cond, dst, src, off)| Insn::Jump {
        width,
        cond,
        dst,
        src,
        off,
    })
}

/// Any valid instruction (never the `lddw` tail placeholder).
fn insn() -> impl Strategy<Value = Insn> {
    prop_oneof![
        4 => alu(),
        1 => (width(), reg()).prop_map(|(width, dst)| Insn::Neg { width, dst }),
        1 => (
            prop_oneof![Just(ByteOrder::Le), Just(ByteOrder::Be), Just(ByteOrder::Swap)],
            prop_oneof![Just(16u8), Just(32), Just(64)],
            reg()
        )
            .prop_map(|(order, bits, dst)| Insn::Endian { order, bits, dst }),
        2 => lddw(),
        2 => (size(), any::<bool>(), reg(), reg(), off16()).prop_map(
            |(size, signed, dst, src, off)| Insn::Load {
                size,
                signed: signed && size != Size::DW,
                dst,
                src,
                off
            }
        ),
        2 => (size(), reg(), off16(), operand()).prop_map(|(size, dst, off, src)| Insn::Store {
            size,
            dst,
            off,
            src
        }),
        2 => atomic(),
        1 => (
            prop_oneof![Just(Size::B), Just(Size::H), Just(Size::W)],
            proptest::option::of(reg()),
            imm32()
        )
            .prop_map(|(size, index, imm)| Insn::LdPacket { size, index, imm }),
        1 => off16().prop_map(|off| Insn::Ja {
            off: off as i32,
            long: false
        }),
        1 => imm32().prop_map(|off| Insn::Ja { off, long: true }),
        2 => jump(),
        1 => imm32().prop_map(|id| Insn::Call(CallTarget::Helper(id))),
        1 => imm32().prop_map(|off| Insn::Call(CallTarget::Local(off))),
        1 => (imm32(), off16())
            .prop_map(|(btf_id, module)| Insn::Call(CallTarget::Kfunc { btf_id, module })),
        1 => reg().prop_map(|reg| Insn::CallX { reg }),
        1 => off16().prop_map(|off| Insn::MayGoto { off }),
        1 => Just(Insn::Exit),
    ]
}

/// The slots `insn` occupies in a decoded program.
fn slots(insn: Insn) -> Vec<Insn> {
    if insn.slots() == 2 {
        vec![insn, Insn::LdImm64Tail]
    } else {
        vec![insn]
    }
}

fn syntax() -> impl Strategy<Value = Syntax> {
    prop_oneof![Just(Syntax::Linux), Just(Syntax::Ubpf)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn wire_format_round_trips(i in insn()) {
        let raw = encode_insn(&i);
        prop_assert_eq!(decode_insn(raw[0], raw.get(1).copied()), Ok(i));
    }

    #[test]
    fn text_round_trips_in_both_syntaxes(i in insn()) {
        for s in [Syntax::Linux, Syntax::Ubpf] {
            let text = format_insn(&i, s);
            let back = assemble_as(&text, s);
            prop_assert_eq!(back, Ok(slots(i)), "{:?}: {}", s, text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn listings_round_trip(
        prog in proptest::collection::vec(insn(), 1..40),
        s in syntax(),
        show_pc in any::<bool>(),
        show_bytes in any::<bool>(),
    ) {
        let insns: Vec<Insn> = prog.into_iter().flat_map(slots).collect();
        let text = disassemble(&insns, &DisasmOptions { syntax: s, show_pc, show_bytes });
        prop_assert_eq!(assemble_as(&text, s), Ok(insns.clone()), "{}", text);
        // Detection never changes the meaning.
        prop_assert_eq!(assemble(&text), Ok(insns), "{}", text);
    }
}

#[test]
fn objdump_layout() {
    let insns = assemble_as("r1 = 1\nr2 = 0x123456789 ll\nexit", Syntax::Linux).unwrap();
    let opts = DisasmOptions {
        syntax: Syntax::Linux,
        show_pc: true,
        show_bytes: true,
    };
    assert_eq!(
        disassemble(&insns, &opts),
        "       0:\tb7 01 00 00 01 00 00 00\tr1 = 0x1\n\
         \x20      1:\t18 02 00 00 89 67 45 23 00 00 00 00 01 00 00 00\tr2 = 0x123456789 ll\n\
         \x20      3:\t95 00 00 00 00 00 00 00\texit\n"
    );
    assert_eq!(
        disassemble(&insns, &DisasmOptions::default()),
        "r1 = 0x1\nr2 = 0x123456789 ll\nexit\n"
    );
    let ubpf = DisasmOptions {
        syntax: Syntax::Ubpf,
        ..DisasmOptions::default()
    };
    assert_eq!(
        disassemble(&insns, &ubpf),
        "mov %r1, 0x1\nlddw %r2, 0x123456789\nexit\n"
    );
}
