//! Externs: symbols an object uses but does not define, which the loader
//! resolves against the kernel (`__ksym` variables and kfuncs, `__kconfig`
//! values). BTF says which is which: clang lists them in the `.ksyms` and
//! `.kconfig` data sections.

use object::elf;

use crate::btf::{Btf, TypeId, TypeKind};
use crate::elf::ElfFile;

/// What an extern is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExternKind {
    /// A kernel function (`extern ... __ksym` function): a `call` with
    /// `src_reg = 2` once resolved to a BTF id.
    Kfunc,
    /// A kernel variable (`extern ... __ksym`): an `lddw` of its address
    /// (typed: BTF id; untyped: kallsyms address).
    Ksym,
    /// A Kconfig value (`extern ... __kconfig`), read from a map libbpf fills.
    Kconfig,
    /// An undefined symbol BTF says nothing about (a function from another
    /// object: only a linker can resolve it).
    Unknown,
}

/// One extern symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extern {
    /// The symbol name.
    pub name: String,
    /// What it is.
    pub kind: ExternKind,
    /// Weak (`__weak`): may stay unresolved (reads as 0).
    pub weak: bool,
    /// Its BTF `VAR` or `FUNC` type, when BTF describes it.
    pub btf_type: Option<TypeId>,
}

/// The externs of `elf`, in symbol table order.
pub(crate) fn externs(elf: &ElfFile<'_>, btf: Option<&Btf>) -> Vec<Extern> {
    let in_datasec = |sec: &str, name: &str| -> Option<TypeId> {
        let btf = btf?;
        let ds = btf.id_by_name_kind(sec, "DATASEC")?;
        let TypeKind::Datasec { vars, .. } = &btf.types()[ds as usize].kind else {
            return None;
        };
        vars.iter()
            .map(|v| v.ty)
            .find(|&t| btf.type_by_id(t).is_some_and(|t| t.name == name))
    };
    elf.symbols
        .iter()
        .filter(|s| {
            s.section.is_none()
                && !s.name.is_empty()
                && (s.bind == elf::STB_GLOBAL || s.bind == elf::STB_WEAK)
                && s.kind != elf::STT_SECTION
                && s.kind != elf::STT_FILE
        })
        .map(|s| {
            let (kind, btf_type) = if let Some(t) = in_datasec(".kconfig", &s.name) {
                (ExternKind::Kconfig, Some(t))
            } else if let Some(t) = in_datasec(".ksyms", &s.name) {
                let func = btf
                    .is_some_and(|b| matches!(b.types()[t as usize].kind, TypeKind::Func { .. }));
                (
                    if func {
                        ExternKind::Kfunc
                    } else {
                        ExternKind::Ksym
                    },
                    Some(t),
                )
            } else {
                (ExternKind::Unknown, None)
            };
            Extern {
                name: s.name.clone(),
                kind,
                weak: s.bind == elf::STB_WEAK,
                btf_type,
            }
        })
        .collect()
}
