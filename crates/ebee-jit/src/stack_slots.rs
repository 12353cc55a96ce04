//! Stack slots kept in registers: in a function whose frame never escapes
//! (`r10` is only ever the base of loads and stores at constant offsets,
//! never copied, compared, stored or used by an atomic), each slot is
//! a Cranelift variable, so a spilled value is reloaded from a register
//! instead of memory and the register allocator sees through spills.
//!
//! The frame's bytes stay exact, because other code may read them: a
//! later call at the same depth or a tail-call target sees what this
//! function left, as in the interpreter. So stores still write through,
//! and each slot's variable starts as the frame's bytes at the function's
//! entry (nothing else writes this frame while the function runs: callees
//! and callbacks run in deeper frames, helpers get no pointer into it).
//! Only loads become register reads.
//!
//! A slot qualifies when every access to its bytes has the same offset and
//! size and lies inside the frame; a function with overlapping accesses of
//! different shapes, or with more than [`MAX_SLOTS`] slots, keeps all its
//! accesses in memory.

use crate::context::FRAME_SIZE;
use crate::control_flow::{insn_pcs, FunctionShape};
use ebee_isa::{AluOp, Insn, Operand, Reg, Size};
use std::collections::BTreeMap;

/// At most this many slots per function (each costs a load at entry).
pub(crate) const MAX_SLOTS: usize = 16;

/// The slots of a function kept in variables: offset from `r10` → size.
pub(crate) type Slots = BTreeMap<i16, Size>;

/// The promotable slots of the function `shape` describes, or `None` when
/// its frame escapes or its accesses do not split into slots.
pub(crate) fn promotable_slots(insns: &[Insn], shape: &FunctionShape) -> Option<Slots> {
    if shape.writes_r10 {
        return None;
    }
    let mut slots = Slots::new();
    for block in shape.blocks.values() {
        for pc in insn_pcs(insns, block.start, block.end) {
            let insn = insns[pc];
            match insn {
                Insn::Load {
                    src: Reg::R10,
                    off,
                    size,
                    ..
                } => record(&mut slots, off, size)?,
                Insn::Store {
                    dst: Reg::R10,
                    off,
                    size,
                    src,
                } => {
                    if src == Operand::Reg(Reg::R10) {
                        return None;
                    }
                    record(&mut slots, off, size)?;
                }
                other if reads_r10(&other) => return None,
                _ => {}
            }
        }
    }
    if slots.is_empty() || slots.len() > MAX_SLOTS {
        return None;
    }
    // Slots must not overlap.
    let mut end = i64::MIN;
    for (&off, size) in &slots {
        if (off as i64) < end {
            return None;
        }
        end = off as i64 + size.bytes() as i64;
    }
    Some(slots)
}

/// Adds an access at `r10 + off`; `None` when it leaves the frame or
/// another access at that offset has another size.
fn record(slots: &mut Slots, off: i16, size: Size) -> Option<()> {
    let end = off as i64 + size.bytes() as i64;
    if (off as i64) < -(FRAME_SIZE as i64) || end > 0 {
        return None;
    }
    match slots.insert(off, size) {
        Some(old) if old != size => None,
        _ => Some(()),
    }
}

/// Whether `insn` reads `r10` other than as the base of a load or store.
fn reads_r10(insn: &Insn) -> bool {
    let is = |o: Operand| o == Operand::Reg(Reg::R10);
    match *insn {
        Insn::Alu { op, dst, src, .. } => is(src) || (dst == Reg::R10 && op != AluOp::Mov),
        Insn::Neg { dst, .. } | Insn::Endian { dst, .. } => dst == Reg::R10,
        Insn::Store { src, .. } => is(src),
        Insn::Atomic { dst, src, .. } => dst == Reg::R10 || src == Reg::R10,
        Insn::LdPacket { index, .. } => index == Some(Reg::R10),
        Insn::Jump { dst, src, .. } => dst == Reg::R10 || is(src),
        Insn::CallX { reg } => reg == Reg::R10,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control_flow::function_shape;

    fn slots(src: &str) -> Option<Slots> {
        let insns = ebee_isa::assemble(src).unwrap();
        promotable_slots(&insns, &function_shape(&insns, 0))
    }

    #[test]
    fn spills_and_reloads_are_slots() {
        let s = slots(
            "*(u64 *)(r10 - 8) = r1\n*(u32 *)(r10 - 12) = 7\nr0 = *(u64 *)(r10 - 8)\n\
             r1 = *(u32 *)(r10 - 12)\nr0 += r1\nexit",
        )
        .unwrap();
        assert_eq!(
            s.into_iter().collect::<Vec<_>>(),
            [(-12, Size::W), (-8, Size::DW)]
        );
    }

    #[test]
    fn an_escaping_frame_keeps_memory() {
        // A pointer to the frame passed on, compared or stored.
        for esc in [
            "r2 = r10\nr2 += -8",
            "if r10 == r1 goto +0",
            "*(u64 *)(r1 + 0) = r10",
            "lock *(u64 *)(r10 - 8) += r1",
        ] {
            let src = format!("*(u64 *)(r10 - 8) = r1\n{esc}\nr0 = *(u64 *)(r10 - 8)\nexit");
            assert_eq!(slots(&src), None, "{esc}");
        }
    }

    #[test]
    fn overlapping_or_outside_accesses_keep_memory() {
        assert_eq!(
            slots("*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 8)\nexit"),
            None
        );
        assert_eq!(
            slots("*(u64 *)(r10 - 8) = r1\nr0 = *(u32 *)(r10 - 4)\nexit"),
            None
        );
        assert_eq!(slots("r0 = *(u64 *)(r10 - 520)\nexit"), None);
        assert_eq!(slots("r0 = *(u64 *)(r10 + 0)\nexit"), None);
        assert_eq!(slots("r0 = 0\nexit"), None);
    }
}
