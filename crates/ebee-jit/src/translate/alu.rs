//! Arithmetic: ALU (32-bit, results zero-extended) and ALU64, negation,
//! sign-extending moves and byte swaps.
//!
//! Division never traps: Cranelift's `udiv`/`sdiv` trap on a zero divisor
//! and `sdiv` on `MIN / -1`, so the divisor is replaced by 1 in those cases
//! (branchless `select`) and the eBPF result chosen afterwards: `x / 0 = 0`,
//! `x % 0 = x`, `MIN / -1 = MIN` (i.e. `-x`), `x s% -1 = 0`.

use super::FunctionTranslator;
use cranelift_codegen::ir::{
    condcodes::IntCC,
    types::{I16, I32, I64, I8},
    InstBuilder, Type, Value,
};
use ebee_isa::{AluOp, ByteOrder, Operand, Reg, Width};

impl FunctionTranslator<'_, '_> {
    /// The second operand at the operation's width.
    fn operand(&mut self, width: Width, src: Operand) -> Value {
        match (width, src) {
            (Width::W64, Operand::Imm(i)) => self.imm_const(I64, i as i64),
            (Width::W32, Operand::Imm(i)) => self.imm_const(I32, i as i64),
            (Width::W64, Operand::Reg(r)) => self.reg(r),
            (Width::W32, Operand::Reg(r)) => {
                let v = self.reg(r);
                self.b.ins().ireduce(I32, v)
            }
        }
    }

    /// The destination register at the operation's width.
    fn dst_value(&mut self, width: Width, dst: Reg) -> Value {
        let v = self.reg(dst);
        match width {
            Width::W64 => v,
            Width::W32 => self.b.ins().ireduce(I32, v),
        }
    }

    /// Writes a result of the operation's width, zero-extending 32-bit ones.
    fn set_result(&mut self, width: Width, dst: Reg, v: Value) {
        let v = match width {
            Width::W64 => v,
            Width::W32 => self.b.ins().uextend(I64, v),
        };
        self.set_reg(dst, v);
    }

    pub(super) fn alu(&mut self, width: Width, op: AluOp, dst: Reg, src: Operand) {
        let ty = match width {
            Width::W64 => I64,
            Width::W32 => I32,
        };
        // Moves read only the source.
        match op {
            AluOp::Mov => {
                let s = self.operand(width, src);
                return self.set_result(width, dst, s);
            }
            AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                let narrow = match op {
                    AluOp::MovSx8 => I8,
                    AluOp::MovSx16 => I16,
                    _ => I32,
                };
                let s = self.operand(Width::W64, src);
                let n = self.b.ins().ireduce(narrow, s);
                let v = self.b.ins().sextend(ty, n);
                return self.set_result(width, dst, v);
            }
            _ => {}
        }
        let d = self.dst_value(width, dst);
        let v = match (op, src) {
            // Division by a constant: the special cases are known now.
            (AluOp::Div | AluOp::Mod | AluOp::SDiv | AluOp::SMod, Operand::Imm(imm)) => {
                self.div_by_constant(ty, op, d, imm)
            }
            _ => {
                let s = self.operand(width, src);
                self.binary(ty, op, d, s)
            }
        };
        self.set_result(width, dst, v);
    }

    fn binary(&mut self, ty: Type, op: AluOp, d: Value, s: Value) -> Value {
        let ins = self.b.ins();
        match op {
            AluOp::Add => ins.iadd(d, s),
            AluOp::Sub => ins.isub(d, s),
            AluOp::Mul => ins.imul(d, s),
            AluOp::Or => ins.bor(d, s),
            AluOp::And => ins.band(d, s),
            AluOp::Xor => ins.bxor(d, s),
            // Cranelift masks shift amounts to the type's width, as eBPF does.
            AluOp::Lsh => ins.ishl(d, s),
            AluOp::Rsh => ins.ushr(d, s),
            AluOp::Arsh => ins.sshr(d, s),
            AluOp::Div | AluOp::Mod => {
                let is_zero = ins.icmp_imm_u(IntCC::Equal, s, 0);
                let one = self.b.ins().iconst(ty, 1);
                let safe = self.b.ins().select(is_zero, one, s);
                if op == AluOp::Div {
                    let q = self.b.ins().udiv(d, safe);
                    let zero = self.b.ins().iconst(ty, 0);
                    self.b.ins().select(is_zero, zero, q)
                } else {
                    let r = self.b.ins().urem(d, safe);
                    self.b.ins().select(is_zero, d, r)
                }
            }
            AluOp::SDiv | AluOp::SMod => {
                // Divisors 0 and -1 are handled without dividing.
                let is_zero = ins.icmp_imm_u(IntCC::Equal, s, 0);
                let m1 = self.int_const(ty, -1);
                let is_m1 = self.b.ins().icmp(IntCC::Equal, s, m1);
                let special = self.b.ins().bor(is_zero, is_m1);
                let one = self.b.ins().iconst(ty, 1);
                let safe = self.b.ins().select(special, one, s);
                if op == AluOp::SDiv {
                    let q = self.b.ins().sdiv(d, safe);
                    let neg = self.b.ins().ineg(d);
                    let zero = self.b.ins().iconst(ty, 0);
                    let q = self.b.ins().select(is_m1, neg, q);
                    self.b.ins().select(is_zero, zero, q)
                } else {
                    // x s% 1 == 0 also covers the -1 divisor.
                    let r = self.b.ins().srem(d, safe);
                    self.b.ins().select(is_zero, d, r)
                }
            }
            AluOp::Mov | AluOp::MovSx8 | AluOp::MovSx16 | AluOp::MovSx32 => {
                unreachable!("moves are handled before")
            }
        }
    }

    fn div_by_constant(&mut self, ty: Type, op: AluOp, d: Value, imm: i32) -> Value {
        // The immediate at the operation's width: sign-extended for 64 bits.
        match (op, imm) {
            (AluOp::Div | AluOp::SDiv, 0) => self.b.ins().iconst(ty, 0),
            (AluOp::Mod | AluOp::SMod, 0) => d,
            (AluOp::SDiv, -1) => self.b.ins().ineg(d),
            (AluOp::SMod, -1) => self.b.ins().iconst(ty, 0),
            _ => {
                // Neither 0 nor -1: the division cannot trap.
                let c = self.imm_const(ty, imm as i64);
                match op {
                    AluOp::Div => self.b.ins().udiv(d, c),
                    AluOp::Mod => self.b.ins().urem(d, c),
                    AluOp::SDiv => self.b.ins().sdiv(d, c),
                    _ => self.b.ins().srem(d, c),
                }
            }
        }
    }

    /// A constant of type `ty` with the low bits of `v` (Cranelift wants
    /// narrow constants zero-extended).
    pub(super) fn int_const(&mut self, ty: Type, v: i64) -> Value {
        let v = if ty == I64 { v } else { v as u32 as i64 };
        self.b.ins().iconst(ty, v)
    }

    /// An immediate of the program (`ty` is `I64` or `I32`): a plain
    /// constant, or with constant blinding `(v ^ key) ^ key`, the key read
    /// from memory at run time, so `v` never appears in the code.
    pub(super) fn imm_const(&mut self, ty: Type, v: i64) -> Value {
        let Some((bl, key64, key32)) = self.blind_key else {
            return self.int_const(ty, v);
        };
        if ty == I64 {
            let c = self.b.ins().iconst(I64, bl.blind64(v));
            self.b.ins().bxor(c, key64)
        } else {
            let c = self.b.ins().iconst(I32, bl.blind32(v as u32) as i64);
            self.b.ins().bxor(c, key32)
        }
    }

    pub(super) fn neg(&mut self, width: Width, dst: Reg) {
        let d = self.dst_value(width, dst);
        let v = self.b.ins().ineg(d);
        self.set_result(width, dst, v);
    }

    pub(super) fn endian(&mut self, order: ByteOrder, bits: u8, dst: Reg) {
        let d = self.reg(dst);
        let ty = match bits {
            16 => I16,
            32 => I32,
            _ => I64,
        };
        let swap = match order {
            ByteOrder::Swap => true,
            ByteOrder::Be => cfg!(target_endian = "little"),
            ByteOrder::Le => cfg!(target_endian = "big"),
        };
        let narrow = if ty == I64 {
            d
        } else {
            self.b.ins().ireduce(ty, d)
        };
        let v = if swap {
            self.b.ins().bswap(narrow)
        } else {
            narrow
        };
        let v = if ty == I64 {
            v
        } else {
            self.b.ins().uextend(I64, v)
        };
        self.set_reg(dst, v);
    }
}
