//! Arithmetic edge cases of RFC 9669 (and Linux where it leaves a choice),
//! each run in checked and unchecked mode.

mod common;
use common::*;
use ebee_isa::{AluOp, ByteOrder, Insn, JmpCond, Width};

const BIG: u64 = 0xffff_ffff_0000_0007;

/// r0 = a; r1 = b; r0 = r0 op r1 (and the immediate form when b fits in i32).
fn binop(width: Width, op: AluOp, a: u64, b: u64) -> u64 {
    let alu = if width == Width::W64 { alu64 } else { alu32 };
    let by_reg = eval(prog(&[
        &lddw(0, a),
        &lddw(1, b),
        &[alu(op, 0, r(1)), exit()],
    ]))
    .unwrap();
    let as_imm = b as i64 as i32;
    let fits = if width == Width::W64 {
        as_imm as i64 as u64 == b
    } else {
        as_imm as u32 as u64 == b & 0xffff_ffff
    };
    if fits {
        let by_imm = eval(prog(&[&lddw(0, a), &[alu(op, 0, imm(as_imm)), exit()]])).unwrap();
        assert_eq!(
            by_reg, by_imm,
            "{op:?} {width:?} {a:#x} {b:#x}: reg and imm forms differ"
        );
    }
    by_reg
}

#[test]
fn division_by_zero_gives_zero() {
    for op in [AluOp::Div, AluOp::SDiv] {
        assert_eq!(binop(Width::W64, op, BIG, 0), 0);
        assert_eq!(binop(Width::W32, op, BIG, 0), 0);
        // 32-bit divisor is the low half only.
        assert_eq!(binop(Width::W32, op, BIG, 0x1_0000_0000), 0);
    }
}

#[test]
fn modulo_by_zero_leaves_dst() {
    for op in [AluOp::Mod, AluOp::SMod] {
        assert_eq!(binop(Width::W64, op, BIG, 0), BIG);
        // 32-bit: the zero-extended low half of dst.
        assert_eq!(binop(Width::W32, op, BIG, 0), 7);
    }
}

#[test]
fn signed_division_overflow_does_not_trap() {
    let min64 = i64::MIN as u64;
    assert_eq!(binop(Width::W64, AluOp::SDiv, min64, u64::MAX), min64);
    assert_eq!(binop(Width::W64, AluOp::SMod, min64, u64::MAX), 0);
    assert_eq!(
        binop(Width::W32, AluOp::SDiv, 0x8000_0000, 0xffff_ffff),
        0x8000_0000
    );
    assert_eq!(binop(Width::W32, AluOp::SMod, 0x8000_0000, 0xffff_ffff), 0);
}

#[test]
fn signed_modulo_has_the_sign_of_the_dividend() {
    let m = |a: i64, b: i64| binop(Width::W64, AluOp::SMod, a as u64, b as u64) as i64;
    assert_eq!(m(-7, 3), -1);
    assert_eq!(m(7, -3), 1);
    assert_eq!(m(-7, -3), -1);
    let m32 = |a: i32, b: i32| binop(Width::W32, AluOp::SMod, a as u32 as u64, b as u32 as u64);
    assert_eq!(m32(-7, 3), (-1i32) as u32 as u64);
    let d = |a: i64, b: i64| binop(Width::W64, AluOp::SDiv, a as u64, b as u64) as i64;
    assert_eq!(d(-7, 2), -3);
}

#[test]
fn unsigned_division_uses_unsigned_operands() {
    assert_eq!(binop(Width::W64, AluOp::Div, u64::MAX, 2), u64::MAX / 2);
    assert_eq!(binop(Width::W32, AluOp::Div, BIG, 2), 3);
    assert_eq!(binop(Width::W64, AluOp::Mod, u64::MAX, 10), u64::MAX % 10);
}

#[test]
fn shift_amounts_are_masked() {
    assert_eq!(binop(Width::W64, AluOp::Lsh, 1, 65), 2);
    assert_eq!(binop(Width::W64, AluOp::Rsh, 4, 64 + 2), 1);
    assert_eq!(binop(Width::W32, AluOp::Lsh, 1, 33), 2);
    assert_eq!(binop(Width::W32, AluOp::Rsh, 0xffff_ffff_8000_0000, 63), 1);
    assert_eq!(
        binop(Width::W64, AluOp::Arsh, i64::MIN as u64, 127),
        u64::MAX
    );
    // Arithmetic shift at 32 bits zero-extends its result.
    assert_eq!(binop(Width::W32, AluOp::Arsh, 0x8000_0000, 31), 0xffff_ffff);
}

#[test]
fn thirty_two_bit_results_are_zero_extended() {
    assert_eq!(binop(Width::W32, AluOp::Add, u64::MAX, 0), 0xffff_ffff);
    assert_eq!(binop(Width::W32, AluOp::Sub, 0, 1), 0xffff_ffff);
    assert_eq!(binop(Width::W32, AluOp::Mov, 0, u64::MAX), 0xffff_ffff);
    assert_eq!(
        binop(Width::W32, AluOp::Mul, 0x1_0000_0003, 0x1_0000_0005),
        15
    );
    let neg32 = eval(vec![
        mov(0, 1),
        Insn::Neg {
            width: Width::W32,
            dst: reg(0),
        },
        exit(),
    ]);
    assert_eq!(neg32.unwrap(), 0xffff_ffff);
    let neg64 = eval(vec![
        mov(0, 1),
        Insn::Neg {
            width: Width::W64,
            dst: reg(0),
        },
        exit(),
    ]);
    assert_eq!(neg64.unwrap(), u64::MAX);
}

#[test]
fn immediates_are_sign_extended_at_64_bits() {
    assert_eq!(eval(vec![mov(0, -1), exit()]).unwrap(), u64::MAX);
    assert_eq!(
        eval(vec![mov(0, 0), alu64(AluOp::Add, 0, imm(-2)), exit()]).unwrap(),
        u64::MAX - 1
    );
    let and = eval(prog(&[
        &lddw(0, BIG),
        &[alu64(AluOp::And, 0, imm(-8)), exit()],
    ]));
    assert_eq!(and.unwrap(), 0xffff_ffff_0000_0000);
    // At 32 bits, mov of a negative immediate is zero-extended.
    assert_eq!(
        eval(vec![alu32(AluOp::Mov, 0, imm(-1)), exit()]).unwrap(),
        0xffff_ffff
    );
}

#[test]
fn movsx_sign_extends_and_32_bit_forms_zero_extend() {
    let run = |insn: Insn, v: u64| eval(prog(&[&lddw(1, v), &[insn, exit()]])).unwrap();
    assert_eq!(
        run(alu64(AluOp::MovSx8, 0, r(1)), 0x180),
        0xffff_ffff_ffff_ff80
    );
    assert_eq!(
        run(alu64(AluOp::MovSx16, 0, r(1)), 0x1_8000),
        0xffff_ffff_ffff_8000
    );
    assert_eq!(
        run(alu64(AluOp::MovSx32, 0, r(1)), 0x1_8000_0000),
        0xffff_ffff_8000_0000
    );
    assert_eq!(run(alu64(AluOp::MovSx8, 0, r(1)), 0x7f), 0x7f);
    assert_eq!(run(alu32(AluOp::MovSx8, 0, r(1)), 0x80), 0xffff_ff80);
    assert_eq!(run(alu32(AluOp::MovSx16, 0, r(1)), 0x8000), 0xffff_8000);
}

#[test]
fn byte_order_conversions() {
    const V: u64 = 0x1122_3344_5566_7788;
    let run = |order: ByteOrder, bits: u8| {
        eval(prog(&[
            &lddw(0, V),
            &[
                Insn::Endian {
                    order,
                    bits,
                    dst: reg(0),
                },
                exit(),
            ],
        ]))
        .unwrap()
    };
    // le truncates (little-endian host) and zero-extends.
    assert_eq!(run(ByteOrder::Le, 16), 0x7788);
    assert_eq!(run(ByteOrder::Le, 32), 0x5566_7788);
    assert_eq!(run(ByteOrder::Le, 64), V);
    assert_eq!(run(ByteOrder::Be, 16), 0x8877);
    assert_eq!(run(ByteOrder::Be, 32), 0x8877_6655);
    assert_eq!(run(ByteOrder::Be, 64), 0x8877_6655_4433_2211);
    assert_eq!(run(ByteOrder::Swap, 16), 0x8877);
    assert_eq!(run(ByteOrder::Swap, 32), 0x8877_6655);
    assert_eq!(run(ByteOrder::Swap, 64), 0x8877_6655_4433_2211);
}

#[test]
fn jmp32_compares_the_low_halves() {
    // r0 = 0x1_0000_0000: equal to 0 at 32 bits, not at 64.
    let taken = |insn: Insn| {
        eval(prog(&[
            &lddw(1, 0x1_0000_0000),
            &[mov(0, 0), insn, mov(0, 1), exit()],
        ]))
        .unwrap()
            == 0
    };
    assert!(taken(jmp32(JmpCond::Eq, 1, imm(0), 1)));
    assert!(!taken(jmp(JmpCond::Eq, 1, imm(0), 1)));
    // Signed at 32 bits: 0xffff_ffff is -1 < 0.
    let neg = |insn: Insn| {
        eval(prog(&[
            &lddw(1, 0xffff_ffff),
            &[mov(0, 0), insn, mov(0, 1), exit()],
        ]))
        .unwrap()
            == 0
    };
    assert!(neg(jmp32(JmpCond::Slt, 1, imm(0), 1)));
    assert!(!neg(jmp(JmpCond::Slt, 1, imm(0), 1)));
    // 64-bit compare of a sign-extended immediate.
    let all_ones = |insn: Insn| {
        eval(prog(&[
            &lddw(1, u64::MAX),
            &[mov(0, 0), insn, mov(0, 1), exit()],
        ]))
        .unwrap()
            == 0
    };
    assert!(all_ones(jmp(JmpCond::Eq, 1, imm(-1), 1)));
    assert!(all_ones(jmp(JmpCond::Set, 1, imm(i32::MIN), 1)));
}

#[test]
fn every_condition_against_rust() {
    let values = [
        0u64,
        1,
        2,
        0x7fff_ffff,
        0x8000_0000,
        0xffff_ffff,
        u64::MAX,
        i64::MIN as u64,
    ];
    for cond in JmpCond::ALL {
        for &a in &values {
            for &b in &values {
                for width in [Width::W64, Width::W32] {
                    let insn = Insn::Jump {
                        width,
                        cond,
                        dst: reg(1),
                        src: r(2),
                        off: 1,
                    };
                    let got = eval(prog(&[
                        &lddw(1, a),
                        &lddw(2, b),
                        &[mov(0, 1), insn, mov(0, 0), exit()],
                    ]))
                    .unwrap()
                        == 1;
                    let (ua, ub, sa, sb) = if width == Width::W64 {
                        (a, b, a as i64, b as i64)
                    } else {
                        (
                            a as u32 as u64,
                            b as u32 as u64,
                            a as i32 as i64,
                            b as i32 as i64,
                        )
                    };
                    let want = match cond {
                        JmpCond::Eq => ua == ub,
                        JmpCond::Ne => ua != ub,
                        JmpCond::Gt => ua > ub,
                        JmpCond::Ge => ua >= ub,
                        JmpCond::Lt => ua < ub,
                        JmpCond::Le => ua <= ub,
                        JmpCond::Set => ua & ub != 0,
                        JmpCond::Sgt => sa > sb,
                        JmpCond::Sge => sa >= sb,
                        JmpCond::Slt => sa < sb,
                        JmpCond::Sle => sa <= sb,
                    };
                    assert_eq!(got, want, "{cond:?} {width:?} {a:#x} {b:#x}");
                }
            }
        }
    }
}
