//! Loads, stores (`LDX`, `ST`, `STX`, `MEMSX`), atomics and the legacy
//! packet loads.

use super::{program_mem_flags, FunctionTranslator};
use crate::runtime_calls::FaultCode;
use cranelift_codegen::ir::{
    types::{I16, I32, I64, I8},
    AtomicRmwOp, InstBuilder, MemFlagsData, Type, Value,
};
use cranelift_frontend::FunctionBuilder;
use ebee_isa::{AtomicOp, Operand, Reg, Size};

fn ty_of(size: Size) -> Type {
    match size {
        Size::B => I8,
        Size::H => I16,
        Size::W => I32,
        Size::DW => I64,
    }
}

/// A program-memory load of `size` at `addr + off` into an `I64`,
/// sign- or zero-extended.
pub(super) fn sized_load(
    b: &mut FunctionBuilder,
    size: Size,
    signed: bool,
    addr: Value,
    off: i32,
) -> Value {
    let f = program_mem_flags();
    let ins = b.ins();
    match (size, signed) {
        (Size::B, false) => ins.uload8(I64, f, addr, off),
        (Size::H, false) => ins.uload16(I64, f, addr, off),
        (Size::W, false) => ins.uload32(f, addr, off),
        (Size::B, true) => ins.sload8(I64, f, addr, off),
        (Size::H, true) => ins.sload16(I64, f, addr, off),
        (Size::W, true) => ins.sload32(f, addr, off),
        (Size::DW, _) => ins.load(I64, f, addr, off),
    }
}

impl FunctionTranslator<'_, '_> {
    pub(super) fn load(
        &mut self,
        pc: usize,
        size: Size,
        signed: bool,
        dst: Reg,
        src: Reg,
        off: i16,
    ) {
        if let Some(v) = self.slot_value(src, off, size) {
            // A promoted slot: the variable holds the bytes, zero-extended.
            let v = if signed && size != Size::DW {
                let narrow = self.b.ins().ireduce(ty_of(size), v);
                self.b.ins().sextend(I64, narrow)
            } else {
                v
            };
            self.set_reg(dst, v);
            return;
        }
        let addr = self.access_address(pc, src, off, size.bytes(), false);
        let v = sized_load(&mut self.b, size, signed, addr, 0);
        self.set_reg(dst, v);
    }

    pub(super) fn store(&mut self, pc: usize, size: Size, dst: Reg, off: i16, src: Operand) {
        self.stop_before_effect_over_budget(pc, dst);
        let value = match src {
            Operand::Reg(r) => self.reg(r),
            Operand::Imm(i) => self.imm_const(I64, i as i64),
        };
        let addr = self.access_address(pc, dst, off, size.bytes(), true);
        let f = program_mem_flags();
        let ins = self.b.ins();
        match size {
            Size::B => ins.istore8(f, value, addr, 0),
            Size::H => ins.istore16(f, value, addr, 0),
            Size::W => ins.istore32(f, value, addr, 0),
            Size::DW => ins.store(f, value, addr, 0),
        };
        // Written through (`stack_slots.rs`), and kept for the loads.
        if let Some(&(var, slot_size)) = self.slot_of(dst, off) {
            if slot_size == size {
                let v = if size == Size::DW {
                    value
                } else {
                    let narrow = self.b.ins().ireduce(ty_of(size), value);
                    self.b.ins().uextend(I64, narrow)
                };
                self.b.def_var(var, v);
            }
        }
    }

    /// The promoted slot at `base + off`, when `base` is `r10`.
    fn slot_of(&self, base: Reg, off: i16) -> Option<&(cranelift_frontend::Variable, Size)> {
        if base == Reg::R10 {
            self.slots.get(&off)
        } else {
            None
        }
    }

    /// The value of the promoted slot `base + off` of `size` bytes, if it
    /// is one.
    fn slot_value(&mut self, base: Reg, off: i16, size: Size) -> Option<Value> {
        let &(var, slot_size) = self.slot_of(base, off)?;
        (slot_size == size).then(|| self.b.use_var(var))
    }

    /// Narrows a 64-bit register value to the access type.
    fn narrow(&mut self, ty: Type, v: Value) -> Value {
        if ty == I64 {
            v
        } else {
            self.b.ins().ireduce(ty, v)
        }
    }

    /// Zero-extends an access-typed value to a register.
    fn widen(&mut self, ty: Type, v: Value) -> Value {
        if ty == I64 {
            v
        } else {
            self.b.ins().uextend(I64, v)
        }
    }

    /// The checked address of an atomic access, also tested for alignment
    /// (in both modes, like the interpreter: a misaligned atomic would be
    /// undefined behaviour on some hosts).
    fn atomic_address(&mut self, pc: usize, base: Reg, off: i16, bytes: u32, write: bool) -> Value {
        let addr = self.access_address(pc, base, off, bytes, write);
        if bytes > 1 {
            let low = self.b.ins().band_imm_u(addr, (bytes - 1) as i64);
            let misaligned = self.b.create_block();
            let aligned = self.b.create_block();
            self.b.set_cold_block(misaligned);
            self.b.ins().brif(low, misaligned, &[], aligned, &[]);
            self.b.seal_block(misaligned);
            self.b.switch_to_block(misaligned);
            self.stop_if_budget_ran_out(pc);
            let low = self.b.ins().band_imm_u(addr, (bytes - 1) as i64);
            self.fault_if(
                low,
                FaultCode::MisalignedAtomic { size: bytes as u64 },
                pc,
                addr,
            );
            self.b.ins().jump(aligned, &[]);
            self.b.seal_block(aligned);
            self.b.switch_to_block(aligned);
        }
        addr
    }

    pub(super) fn atomic(
        &mut self,
        pc: usize,
        size: Size,
        op: AtomicOp,
        dst: Reg,
        src: Reg,
        off: i16,
    ) {
        self.stop_before_effect_over_budget(pc, dst);
        let ty = ty_of(size);
        // Sequentially consistent host atomics, as the interpreter's.
        let f = MemFlagsData::new();
        let bytes = size.bytes();
        match op {
            AtomicOp::LoadAcquire => {
                let addr = self.atomic_address(pc, src, off, bytes, false);
                let v = self.b.ins().atomic_load(ty, f, addr);
                let v = self.widen(ty, v);
                self.set_reg(dst, v);
            }
            AtomicOp::StoreRelease => {
                let addr = self.atomic_address(pc, dst, off, bytes, true);
                let v = self.reg(src);
                let v = self.narrow(ty, v);
                self.b.ins().atomic_store(f, v, addr);
            }
            AtomicOp::CmpXchg => {
                let addr = self.atomic_address(pc, dst, off, bytes, true);
                let expected = self.reg(Reg::R0);
                let expected = self.narrow(ty, expected);
                let new = self.reg(src);
                let new = self.narrow(ty, new);
                let old = self.b.ins().atomic_cas(f, addr, expected, new);
                let old = self.widen(ty, old);
                self.set_reg(Reg::R0, old);
            }
            AtomicOp::Xchg
            | AtomicOp::Add { .. }
            | AtomicOp::Or { .. }
            | AtomicOp::And { .. }
            | AtomicOp::Xor { .. } => {
                let (rmw, fetch) = match op {
                    AtomicOp::Xchg => (AtomicRmwOp::Xchg, true),
                    AtomicOp::Add { fetch } => (AtomicRmwOp::Add, fetch),
                    AtomicOp::Or { fetch } => (AtomicRmwOp::Or, fetch),
                    AtomicOp::And { fetch } => (AtomicRmwOp::And, fetch),
                    AtomicOp::Xor { fetch } => (AtomicRmwOp::Xor, fetch),
                    _ => unreachable!("matched above"),
                };
                let addr = self.atomic_address(pc, dst, off, bytes, true);
                let v = self.reg(src);
                let v = self.narrow(ty, v);
                let old = self.b.ins().atomic_rmw(ty, f, rmw, addr, v);
                if fetch {
                    let old = self.widen(ty, old);
                    self.set_reg(src, old);
                }
            }
        }
    }

    /// `LD_ABS`/`LD_IND`: a call into Rust, which reads the packet the way
    /// the interpreter does and records its error when out of bounds.
    pub(super) fn packet_load(&mut self, pc: usize, size: Size, index: Option<Reg>, imm: i32) {
        let base = match index {
            Some(r) => self.reg(r),
            None => self.b.ins().iconst(I64, 0),
        };
        // The offset is an immediate the kernel blinds too.
        let imm = self.imm_const(I64, imm as i64);
        let off = self.b.ins().iadd(base, imm);
        let v = self.call_packet_load(pc, off, size.bytes());
        self.set_reg(Reg::R0, v);
    }
}
