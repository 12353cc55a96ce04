//! `lddw rX, func` (the `BPF_PSEUDO_FUNC` form, source register 4: `imm`
//! is the function's pc relative to the next instruction), as the callback
//! argument of `bpf_loop` and `bpf_for_each_map_elem` is loaded.
//!
//! [`crate::Vm::new`] rewrites each one to a plain constant, the
//! function's [`FUNC_HANDLE_BASE`]-tagged pc, which the callback helpers
//! turn back into a pc, and records the pcs: both engines then run the
//! same instructions, and the JIT compiles every recorded pc as a function.

use crate::error::LoadError;
use crate::helpers::FUNC_HANDLE_BASE;
use ebee_isa::{Imm64Kind, Insn};

/// Rewrites the function references of `insns` to their handles; returns
/// the referenced pcs, ascending and without repeats.
pub(crate) fn resolve_function_refs(insns: &mut [Insn]) -> Result<Vec<usize>, LoadError> {
    let mut targets = Vec::new();
    for pc in 0..insns.len() {
        let Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Func,
            imm,
        } = insns[pc]
        else {
            continue;
        };
        // The upper half of the immediate is unused, as in Linux.
        let target = pc as i64 + 1 + i64::from(imm as i32);
        let Some(t) = usize::try_from(target).ok().filter(|&t| t < insns.len()) else {
            return Err(LoadError::JumpOutOfRange { pc, target });
        };
        if matches!(insns[t], Insn::LdImm64Tail) {
            return Err(LoadError::JumpIntoImm64 { pc, target });
        }
        insns[pc] = Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm: (FUNC_HANDLE_BASE + t as u64) as i64,
        };
        targets.push(t);
    }
    targets.sort_unstable();
    targets.dedup();
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_become_handles() {
        // r2 = func +3 (pc 4); r0 = 0; exit; r0 = 1; exit
        let mut insns = ebee_isa::decode(&[
            0x18, 0x42, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
            0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0, //
            0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0,
        ])
        .unwrap();
        assert_eq!(resolve_function_refs(&mut insns).unwrap(), vec![4]);
        assert_eq!(
            insns[0],
            Insn::LdImm64 {
                dst: ebee_isa::Reg::R2,
                kind: Imm64Kind::Imm,
                imm: (FUNC_HANDLE_BASE + 4) as i64
            }
        );
    }

    #[test]
    fn bad_targets_are_refused() {
        // Built by hand: the decoder refuses these already.
        let func = |imm| Insn::LdImm64 {
            dst: ebee_isa::Reg::R2,
            kind: Imm64Kind::Func,
            imm,
        };
        // r2 = func +5: past the end.
        let mut insns = vec![func(5), Insn::LdImm64Tail, Insn::Exit];
        assert_eq!(
            resolve_function_refs(&mut insns),
            Err(LoadError::JumpOutOfRange { pc: 0, target: 6 })
        );
        // r2 = func +0: its own second slot.
        let mut insns = vec![func(0), Insn::LdImm64Tail, Insn::Exit];
        assert_eq!(
            resolve_function_refs(&mut insns),
            Err(LoadError::JumpIntoImm64 { pc: 0, target: 1 })
        );
    }
}
