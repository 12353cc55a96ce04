//! CO-RE in userspace: a program's relocations resolved against the
//! target BTF the loader chose (the user's, the host type's, or the
//! program type's context BTF) with the same resolver the kernel path
//! uses, and the poisoned instructions that resolution leaves.
//!
//! A relocation whose type or field the target does not have poisons its
//! instruction (a call of helper [`POISON_HELPER`], as libbpf does). The
//! verifier rejects a path that reaches one, with
//! [`ObjectLoadError::Poisoned`]; an unverified program that reaches one
//! fails the run there, the error naming the pc and the relocation.

use std::collections::HashMap;
use std::sync::Arc;

use ebee_isa::Insn;
use ebee_object::btf::{Btf, CoreReloKind};
use ebee_object::core::POISON_HELPER;
use ebee_object::{Object, Program};

use super::ObjectLoadError;
use crate::helper::{HelperError, HelperRegistry};

/// The poisoned instructions of one program: its name, and pc → which
/// relocation.
#[derive(Debug, Clone, Default)]
pub(super) struct Poisoned(String, Arc<HashMap<usize, String>>);

impl Poisoned {
    /// What relocation poisoned the instruction at `pc`, if one did.
    pub(super) fn get(&self, pc: usize) -> Option<&str> {
        self.1.get(&pc).map(String::as_str)
    }

    /// Registers the helper a poisoned instruction calls: it fails the
    /// run with the relocation's description. Nothing when no instruction
    /// is poisoned (a program calling that id anyway gets the usual
    /// unknown-helper error at load).
    pub(super) fn register(&self, helpers: &mut HelperRegistry) {
        if self.1.is_empty() {
            return;
        }
        let map = Arc::clone(&self.1);
        let program = self.0.clone();
        helpers.register_with_context(POISON_HELPER, "poisoned CO-RE relocation", move |ctx, _| {
            let pc = ctx.pc();
            Err(HelperError(match map.get(&pc) {
                Some(what) => {
                    format!("program {program:?} reached an instruction poisoned by {what}")
                }
                None => format!(
                    "instruction {pc} calls the CO-RE poison helper, but no relocation poisoned it"
                ),
            }))
        });
    }
}

/// The relocation kind as `bpf_core_read.h` spells its macro.
fn kind_name(k: CoreReloKind) -> &'static str {
    use CoreReloKind::*;
    match k {
        FieldByteOffset => "field byte offset",
        FieldByteSize => "field byte size",
        FieldExists => "field exists",
        FieldSigned => "field signed",
        FieldLshiftU64 => "field lshift_u64",
        FieldRshiftU64 => "field rshift_u64",
        TypeIdLocal => "local type id",
        TypeIdTarget => "target type id",
        TypeExists => "type exists",
        TypeSize => "type size",
        EnumvalExists => "enum value exists",
        EnumvalValue => "enum value",
        TypeMatches => "type matches",
    }
}

/// `p` with its CO-RE relocations resolved against `target` (described
/// as `what` in messages), and its poisoned instructions.
pub(super) fn relocate(
    obj: &Object,
    p: &Program,
    target: &Btf,
    what: &str,
) -> Result<(Program, Poisoned), ObjectLoadError> {
    let local = obj.btf().ok_or_else(|| ObjectLoadError::Unresolved {
        program: p.name.clone(),
        pc: p.core_relos.first().map_or(0, |r| r.pc),
        reason: "the program has CO-RE relocations but the object has no BTF".to_string(),
    })?;
    let mut q = p.clone();
    let resolutions = q
        .relocate_core(local, target)
        .map_err(|source| ObjectLoadError::Core {
            program: p.name.clone(),
            target: what.to_string(),
            source: Box::new(source),
        })?;
    let relos: HashMap<usize, &ebee_object::program::ProgramCoreRelo> =
        p.core_relos.iter().map(|r| (r.pc, r)).collect();
    let mut poisoned = HashMap::new();
    for r in resolutions.iter().filter(|r| r.target.is_none()) {
        let type_name = relos
            .get(&r.pc)
            .map(|c| local.display_name(c.type_id))
            .unwrap_or_default();
        let why = format!(
            "CO-RE {} relocation `{}` on {type_name}: {what} has no matching type or field",
            kind_name(r.kind),
            r.access
        );
        if matches!(p.insns.get(r.pc), Some(Insn::LdImm64 { .. })) {
            poisoned.insert(r.pc + 1, why.clone());
        }
        poisoned.insert(r.pc, why);
    }
    Ok((q, Poisoned(p.name.clone(), Arc::new(poisoned))))
}
