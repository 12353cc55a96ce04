//! CO-RE (compile once, run everywhere): resolving the `.BTF.ext` CO-RE
//! relocations of a program against a target BTF (the running kernel's
//! `/sys/kernel/btf/vmlinux`) and patching the instructions, with
//! libbpf's rules:
//!
//! - An access string `0:3:1` on a local root type is walked into a
//!   *spec*: the first index is pointer arithmetic on the root, the rest
//!   index struct/union members or array elements. Anonymous members are
//!   stepped through; only named members are matched by name.
//! - Candidates are target types of the same kind whose *essential* name
//!   (the name without a `___flavour` suffix) equals the local one.
//! - A candidate matches when every named member is found (searching
//!   through anonymous members) with a compatible type, and every array
//!   index fits. All matching candidates must agree on the result.
//! - Field facts (offset, size, signedness, bitfield shifts) come from the
//!   target member; a field that is nowhere makes `field_exists` 0, and any
//!   other relocation on it *poisons* the instruction (a call of helper
//!   `0xbad2310`; both slots of an `lddw`), so the program only fails if
//!   that path can run.
//! - The patched instruction must hold the local value (what clang
//!   computed from the local types): a cheap check that the walk is right.

use std::collections::HashMap;

use ebee_isa::{CallTarget, Insn, Operand, Size};

use crate::btf::{Btf, CoreReloKind, TypeId, TypeKind};
use crate::error::ObjectError;
use crate::program::{Program, ProgramCoreRelo};

/// The helper id libbpf calls in a poisoned instruction.
pub const POISON_HELPER: i32 = 0xbad2310;

/// What resolving one relocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreResolution {
    /// The instruction's pc.
    pub pc: usize,
    /// The relocation kind.
    pub kind: CoreReloKind,
    /// The access string.
    pub access: String,
    /// The value computed from the local (object) types; `None` for
    /// bitfields, where the compiler's choice of load width decides it.
    pub local: Option<u64>,
    /// The value patched in; `None` when the instruction was poisoned.
    pub target: Option<u64>,
    /// The target type that matched, if any.
    pub target_type: Option<TypeId>,
}

/// One step of a spec.
#[derive(Debug, Clone)]
struct Access {
    /// The struct/union/array (modifiers skipped) this step indexes.
    ty: TypeId,
    /// Member or element index (into `ty`).
    idx: u32,
    /// Member name; empty for array steps and the root step.
    name: String,
}

/// A walked access string.
#[derive(Debug, Clone)]
struct Spec {
    /// Named steps (the root first), as matched by name in targets.
    steps: Vec<Access>,
    /// The type of the accessed field (or the root for type relocations).
    field_ty: TypeId,
    /// Bit offset of the field from the root pointer.
    bit_offset: u64,
    /// Bitfield width, 0 when not a bitfield.
    bitfield: u32,
}

fn essential(name: &str) -> &str {
    match name.find("___") {
        Some(i) => &name[..i],
        None => name,
    }
}

fn is_field(kind: CoreReloKind) -> bool {
    use CoreReloKind::*;
    matches!(
        kind,
        FieldByteOffset
            | FieldByteSize
            | FieldExists
            | FieldSigned
            | FieldLshiftU64
            | FieldRshiftU64
    )
}

fn is_enumval(kind: CoreReloKind) -> bool {
    matches!(
        kind,
        CoreReloKind::EnumvalExists | CoreReloKind::EnumvalValue
    )
}

fn kind_of(btf: &Btf, id: TypeId) -> &TypeKind {
    &btf.types()[id as usize].kind
}

/// Broad kind class for candidate matching (enum and enum64 are one).
fn kind_class(k: &TypeKind) -> u8 {
    match k {
        TypeKind::Void => 0,
        TypeKind::Int { .. } => 1,
        TypeKind::Ptr(_) => 2,
        TypeKind::Array { .. } => 3,
        TypeKind::Struct { .. } => 4,
        TypeKind::Union { .. } => 5,
        TypeKind::Enum { .. } => 6,
        TypeKind::Fwd { .. } => 7,
        TypeKind::Typedef(_) => 8,
        TypeKind::Func { .. } => 12,
        TypeKind::FuncProto { .. } => 13,
        TypeKind::Float { .. } => 16,
        _ => 255,
    }
}

fn is_composite(k: &TypeKind) -> bool {
    matches!(k, TypeKind::Struct { .. } | TypeKind::Union { .. })
}

/// Walk `access` from `root` in `btf` (the local side).
fn parse_spec(btf: &Btf, root: TypeId, access: &str, kind: CoreReloKind) -> Result<Spec, String> {
    let idx: Vec<u32> = access
        .split(':')
        .map(|s| {
            s.parse::<u32>()
                .map_err(|_| format!("bad access string `{access}`"))
        })
        .collect::<Result<_, _>>()?;
    let root_s = btf.skip_modifiers(root).map_err(|e| e.to_string())?;
    if is_enumval(kind) {
        let TypeKind::Enum { values, .. } = kind_of(btf, root_s) else {
            return Err("enum value relocation on a type that is not an enum".into());
        };
        let i = idx[0];
        let v = values
            .get(i as usize)
            .ok_or_else(|| format!("enumerator {i} out of range"))?;
        return Ok(Spec {
            steps: vec![Access {
                ty: root_s,
                idx: i,
                name: v.name.clone(),
            }],
            field_ty: root,
            bit_offset: 0,
            bitfield: 0,
        });
    }
    if !is_field(kind) {
        if idx != [0] {
            return Err(format!(
                "type relocation with access `{access}` (expected `0`)"
            ));
        }
        return Ok(Spec {
            steps: vec![Access {
                ty: root,
                idx: 0,
                name: String::new(),
            }],
            field_ty: root,
            bit_offset: 0,
            bitfield: 0,
        });
    }
    let size = btf.size_of(root).map_err(|e| e.to_string())?;
    let mut spec = Spec {
        steps: vec![Access {
            ty: root,
            idx: idx[0],
            name: String::new(),
        }],
        field_ty: root,
        bit_offset: u64::from(idx[0]) * size * 8,
        bitfield: 0,
    };
    let mut id = root;
    for &i in &idx[1..] {
        let t = btf.skip_modifiers(id).map_err(|e| e.to_string())?;
        match kind_of(btf, t) {
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                let m = members
                    .get(i as usize)
                    .ok_or_else(|| format!("member {i} out of range"))?;
                spec.bit_offset += u64::from(m.bit_offset);
                spec.bitfield = m.bitfield_size;
                if !m.name.is_empty() {
                    spec.steps.push(Access {
                        ty: t,
                        idx: i,
                        name: m.name.clone(),
                    });
                }
                id = m.ty;
            }
            TypeKind::Array { elem, .. } => {
                let esz = btf.size_of(*elem).map_err(|e| e.to_string())?;
                spec.bit_offset += u64::from(i) * esz * 8;
                spec.bitfield = 0;
                spec.steps.push(Access {
                    ty: t,
                    idx: i,
                    name: String::new(),
                });
                id = *elem;
            }
            _ => {
                return Err(format!(
                    "access `{access}` indexes a type that is neither struct, union nor array"
                ))
            }
        }
    }
    spec.field_ty = id;
    Ok(spec)
}

/// libbpf's field compatibility: same broad kind after modifiers; structs
/// and unions by kind only (names were matched), arrays by element.
fn fields_compat(lb: &Btf, mut l: TypeId, tb: &Btf, mut t: TypeId, depth: u32) -> bool {
    if depth > 32 {
        return false;
    }
    let (Ok(ls), Ok(ts)) = (lb.skip_modifiers(l), tb.skip_modifiers(t)) else {
        return false;
    };
    l = ls;
    t = ts;
    let (lk, tk) = (kind_of(lb, l), kind_of(tb, t));
    if is_composite(lk) && is_composite(tk) {
        return true;
    }
    match (lk, tk) {
        (
            TypeKind::Fwd { .. } | TypeKind::Struct { .. } | TypeKind::Union { .. },
            TypeKind::Fwd { .. },
        ) => essential(&lb.types()[l as usize].name) == essential(&tb.types()[t as usize].name),
        (TypeKind::Fwd { .. }, TypeKind::Struct { .. } | TypeKind::Union { .. }) => {
            essential(&lb.types()[l as usize].name) == essential(&tb.types()[t as usize].name)
        }
        (TypeKind::Enum { .. }, TypeKind::Enum { .. }) => true,
        (TypeKind::Int { .. }, TypeKind::Int { .. }) => true,
        (TypeKind::Float { .. }, TypeKind::Float { .. }) => true,
        (TypeKind::Ptr(_), TypeKind::Ptr(_)) => true,
        (TypeKind::Array { elem: le, .. }, TypeKind::Array { elem: te, .. }) => {
            fields_compat(lb, *le, tb, *te, depth + 1)
        }
        _ => false,
    }
}

/// libbpf's type compatibility for type relocations: same kind, and
/// pointers, arrays and function prototypes compatible all the way down.
fn types_compat(lb: &Btf, l: TypeId, tb: &Btf, t: TypeId, depth: u32) -> bool {
    if depth > 32 {
        return false;
    }
    let (Ok(l), Ok(t)) = (lb.skip_modifiers(l), tb.skip_modifiers(t)) else {
        return false;
    };
    let (lk, tk) = (kind_of(lb, l), kind_of(tb, t));
    if kind_class(lk) != kind_class(tk) {
        return false;
    }
    match (lk, tk) {
        (TypeKind::Ptr(a), TypeKind::Ptr(b)) => types_compat(lb, *a, tb, *b, depth + 1),
        (TypeKind::Array { elem: a, .. }, TypeKind::Array { elem: b, .. }) => {
            types_compat(lb, *a, tb, *b, depth + 1)
        }
        (
            TypeKind::FuncProto {
                ret: lr,
                params: lp,
            },
            TypeKind::FuncProto {
                ret: tr,
                params: tp,
            },
        ) => {
            lp.len() == tp.len()
                && types_compat(lb, *lr, tb, *tr, depth + 1)
                && lp
                    .iter()
                    .zip(tp)
                    .all(|(a, b)| types_compat(lb, a.ty, tb, b.ty, depth + 1))
        }
        _ => true,
    }
}

/// `bpf_core_type_matches`, libbpf's stricter relation: after modifiers
/// and typedefs, names (without flavours) and kinds agree; integers agree
/// in size and signedness; enums in size, with every local enumerator
/// named in the target; arrays in length and element; pointers, and
/// function prototypes argument by argument, recursively; a struct or
/// union has every local member, by name, of a matching type, except that
/// behind a pointer names and kinds are enough (and a forward declaration
/// matches the struct or union it declares).
fn types_match(lb: &Btf, l: TypeId, tb: &Btf, t: TypeId, behind_ptr: bool, depth: u32) -> bool {
    if depth > 32 {
        return false;
    }
    let (Ok(l), Ok(t)) = (lb.skip_modifiers(l), tb.skip_modifiers(t)) else {
        return false;
    };
    let (lt, tt) = (&lb.types()[l as usize], &tb.types()[t as usize]);
    if essential(&lt.name) != essential(&tt.name) {
        return false;
    }
    match (&lt.kind, &tt.kind) {
        (TypeKind::Void, TypeKind::Void) => true,
        (TypeKind::Fwd { union }, TypeKind::Struct { .. } | TypeKind::Union { .. })
        | (TypeKind::Struct { .. } | TypeKind::Union { .. }, TypeKind::Fwd { union })
            if behind_ptr =>
        {
            let composite = if matches!(lt.kind, TypeKind::Fwd { .. }) {
                &tt.kind
            } else {
                &lt.kind
            };
            *union == matches!(composite, TypeKind::Union { .. })
        }
        (TypeKind::Fwd { union: a }, TypeKind::Fwd { union: b }) => a == b,
        (
            TypeKind::Int {
                size: ls,
                signed: lsg,
                ..
            },
            TypeKind::Int {
                size: ts,
                signed: tsg,
                ..
            },
        ) => ls == ts && lsg == tsg,
        (TypeKind::Float { size: ls }, TypeKind::Float { size: ts }) => ls == ts,
        (
            TypeKind::Enum {
                size: ls,
                values: lv,
                ..
            },
            TypeKind::Enum {
                size: ts,
                values: tv,
                ..
            },
        ) => {
            ls == ts
                && lv
                    .iter()
                    .all(|v| tv.iter().any(|w| essential(&w.name) == essential(&v.name)))
        }
        (TypeKind::Ptr(a), TypeKind::Ptr(b)) => types_match(lb, *a, tb, *b, true, depth + 1),
        (
            TypeKind::Array {
                elem: le, len: ll, ..
            },
            TypeKind::Array {
                elem: te, len: tl, ..
            },
        ) => ll == tl && types_match(lb, *le, tb, *te, behind_ptr, depth + 1),
        (TypeKind::Struct { members: lm, .. }, TypeKind::Struct { members: tm, .. })
        | (TypeKind::Union { members: lm, .. }, TypeKind::Union { members: tm, .. }) => {
            behind_ptr
                || lm.iter().all(|m| {
                    tm.iter()
                        .find(|n| n.name == m.name)
                        .is_some_and(|n| types_match(lb, m.ty, tb, n.ty, false, depth + 1))
                })
        }
        (
            TypeKind::FuncProto {
                ret: lr,
                params: lp,
            },
            TypeKind::FuncProto {
                ret: tr,
                params: tp,
            },
        ) => {
            lp.len() == tp.len()
                && types_match(lb, *lr, tb, *tr, behind_ptr, depth + 1)
                && lp
                    .iter()
                    .zip(tp)
                    .all(|(a, b)| types_match(lb, a.ty, tb, b.ty, behind_ptr, depth + 1))
        }
        _ => false,
    }
}

/// Find member `name` in composite `t`, looking through anonymous members.
/// Returns (bit offset from `t`, bitfield size, member type).
fn find_member(tb: &Btf, t: TypeId, name: &str, depth: u32) -> Option<(u64, u32, TypeId)> {
    if depth > 32 {
        return None;
    }
    let t = tb.skip_modifiers(t).ok()?;
    let members = tb.types()[t as usize].members()?;
    for m in members {
        if m.name.is_empty() {
            if let Some((off, bf, ty)) = find_member(tb, m.ty, name, depth + 1) {
                return Some((u64::from(m.bit_offset) + off, bf, ty));
            }
        } else if m.name == name {
            return Some((u64::from(m.bit_offset), m.bitfield_size, m.ty));
        }
    }
    None
}

/// Match a local field spec against target candidate `cand`.
fn match_field(lb: &Btf, local: &Spec, tb: &Btf, cand: TypeId) -> Result<Option<Spec>, String> {
    let size = tb.size_of(cand).map_err(|e| e.to_string())?;
    let mut spec = Spec {
        steps: Vec::new(),
        field_ty: cand,
        bit_offset: u64::from(local.steps[0].idx) * size * 8,
        bitfield: 0,
    };
    let mut id = cand;
    for (n, acc) in local.steps.iter().enumerate().skip(1) {
        let t = tb.skip_modifiers(id).map_err(|e| e.to_string())?;
        if !acc.name.is_empty() {
            if !is_composite(kind_of(tb, t)) {
                return Ok(None);
            }
            let Some((off, bf, ty)) = find_member(tb, t, &acc.name, 0) else {
                return Ok(None);
            };
            let local_member = lb.types()[acc.ty as usize]
                .members()
                .and_then(|m| m.get(acc.idx as usize))
                .map(|m| m.ty)
                .ok_or("local member vanished")?;
            if !fields_compat(lb, local_member, tb, ty, 0) {
                return Ok(None);
            }
            spec.bit_offset += off;
            spec.bitfield = bf;
            id = ty;
        } else {
            let TypeKind::Array { elem, len, .. } = kind_of(tb, t) else {
                return Ok(None);
            };
            let flexible = *len == 0 && n == local.steps.len() - 1;
            if !flexible && acc.idx >= *len {
                return Ok(None);
            }
            let esz = tb.size_of(*elem).map_err(|e| e.to_string())?;
            spec.bit_offset += u64::from(acc.idx) * esz * 8;
            spec.bitfield = 0;
            id = *elem;
        }
    }
    spec.field_ty = id;
    Ok(Some(spec))
}

/// Field facts of a (local or target) spec, libbpf's way.
fn field_value(btf: &Btf, spec: &Spec, kind: CoreReloKind) -> Result<u64, String> {
    let ft = btf
        .skip_modifiers(spec.field_ty)
        .map_err(|e| e.to_string())?;
    let bit_off = spec.bit_offset;
    let (byte_off, byte_sz, bit_sz) = if spec.bitfield == 0 {
        if !bit_off.is_multiple_of(8) {
            return Err("field is not byte-aligned".into());
        }
        let sz = btf.size_of(ft).map_err(|e| e.to_string())?;
        (bit_off / 8, sz, sz * 8)
    } else {
        let mut sz = btf.size_of(ft).map_err(|e| e.to_string())?;
        if sz == 0 {
            return Err("bitfield of a sizeless type".into());
        }
        let bits = u64::from(spec.bitfield);
        let mut off = bit_off / 8 / sz * sz;
        while bit_off + bits - off * 8 > sz * 8 {
            if sz >= 8 {
                return Err("bitfield does not fit in 8 bytes".into());
            }
            sz *= 2;
            off = bit_off / 8 / sz * sz;
        }
        (off, sz, bits)
    };
    Ok(match kind {
        CoreReloKind::FieldByteOffset => byte_off,
        CoreReloKind::FieldByteSize => byte_sz,
        CoreReloKind::FieldExists => 1,
        CoreReloKind::FieldSigned => u64::from(match kind_of(btf, ft) {
            TypeKind::Enum { signed, .. } => *signed,
            TypeKind::Int { signed, .. } => *signed,
            _ => false,
        }),
        CoreReloKind::FieldLshiftU64 => (bit_off + bit_sz)
            .checked_sub(byte_off * 8)
            .and_then(|used| 64u64.checked_sub(used))
            .ok_or("field is wider than 64 bits: no shift extracts it")?,
        CoreReloKind::FieldRshiftU64 => 64u64
            .checked_sub(bit_sz)
            .ok_or("field is wider than 64 bits: no shift extracts it")?,
        _ => unreachable!("not a field relocation"),
    })
}

/// The value of relocation `kind` for `spec` in `btf` (local or target),
/// `type_id` being the matched (or local) root type.
fn value(btf: &Btf, spec: &Spec, kind: CoreReloKind, type_id: TypeId) -> Result<u64, String> {
    use CoreReloKind::*;
    if is_field(kind) {
        return field_value(btf, spec, kind);
    }
    Ok(match kind {
        TypeIdLocal | TypeIdTarget => u64::from(type_id),
        TypeExists | TypeMatches => 1,
        TypeSize => btf.size_of(type_id).map_err(|e| e.to_string())?,
        EnumvalExists => 1,
        EnumvalValue => {
            let t = btf.skip_modifiers(type_id).map_err(|e| e.to_string())?;
            let TypeKind::Enum { values, .. } = kind_of(btf, t) else {
                return Err("not an enum".into());
            };
            let name = &spec.steps[0].name;
            values
                .iter()
                .find(|v| &v.name == name)
                .ok_or("enumerator vanished")?
                .value as u64
        }
        _ => unreachable!("field kinds handled above"),
    })
}

/// Target candidates for a local root type (same kind, same essential name).
fn candidates(local: &Btf, root: TypeId, target: &Btf) -> Result<Vec<TypeId>, String> {
    let l = &local.types()[root as usize];
    let name = essential(&l.name);
    if name.is_empty() {
        return Err(format!("root type {root} is anonymous"));
    }
    let class = kind_class(&l.kind);
    let mut out = Vec::new();
    for (id, t) in target.types().iter().enumerate() {
        if !t.name.is_empty() && kind_class(&t.kind) == class && essential(&t.name) == name {
            out.push(id as TypeId);
        }
    }
    Ok(out)
}

/// Resolve one relocation: `(local value or None when it is not checked,
/// target value or None = poison, matched type)`.
type Resolved = (Option<u64>, Option<u64>, Option<TypeId>);

fn resolve(
    local: &Btf,
    target: &Btf,
    r: &ProgramCoreRelo,
    cands: &[TypeId],
) -> Result<Resolved, String> {
    let spec = parse_spec(local, r.type_id, &r.access, r.kind)?;
    // Bitfield facts depend on how the compiler chose to load them, so
    // like libbpf we do not hold the instruction to our local value.
    let local_val = if spec.bitfield != 0 {
        None
    } else {
        Some(value(local, &spec, r.kind, r.type_id)?)
    };
    if r.kind == CoreReloKind::TypeIdLocal {
        return Ok((local_val, local_val, Some(r.type_id)));
    }
    let mut result: Option<(u64, TypeId)> = None;
    for &c in cands {
        let matched = if is_field(r.kind) {
            match match_field(local, &spec, target, c)? {
                Some(ts) => Some(value(target, &ts, r.kind, c)?),
                None => None,
            }
        } else if is_enumval(r.kind) {
            let t = target.skip_modifiers(c).map_err(|e| e.to_string())?;
            match kind_of(target, t) {
                TypeKind::Enum { values, .. }
                    if values.iter().any(|v| v.name == spec.steps[0].name) =>
                {
                    Some(value(target, &spec, r.kind, c)?)
                }
                _ => None,
            }
        } else if r.kind == CoreReloKind::TypeMatches {
            types_match(local, r.type_id, target, c, false, 0).then_some(1)
        } else if types_compat(local, r.type_id, target, c, 0) {
            Some(value(target, &spec, r.kind, c)?)
        } else {
            None
        };
        if let Some(v) = matched {
            match result {
                Some((prev, prev_id)) if prev != v => {
                    return Err(format!(
                        "ambiguous: candidates {prev_id} and {c} give {prev} and {v}"
                    ))
                }
                Some(_) => {}
                None => result = Some((v, c)),
            }
        }
    }
    Ok(match result {
        Some((v, c)) => (local_val, Some(v), Some(c)),
        None => match r.kind {
            CoreReloKind::FieldExists
            | CoreReloKind::TypeExists
            | CoreReloKind::TypeMatches
            | CoreReloKind::EnumvalExists => (local_val, Some(0), None),
            CoreReloKind::TypeIdTarget => (local_val, Some(0), None),
            _ => (local_val, None, None),
        },
    })
}

/// Patch the instruction at `pc` from `local` to `new` (or poison it).
fn patch(
    insns: &mut [Insn],
    pc: usize,
    kind: CoreReloKind,
    local: Option<u64>,
    new: Option<u64>,
    new_size: Option<u64>,
) -> Result<(), String> {
    let insn = insns.get_mut(pc).ok_or("pc out of range")?;
    let Some(new) = new else {
        let lddw = matches!(insn, Insn::LdImm64 { .. });
        *insn = Insn::Call(CallTarget::Helper(POISON_HELPER));
        // As libbpf does, an lddw's second slot is poisoned too, so the
        // program stays decodable (the first call fails the path anyway).
        if lddw {
            if let Some(tail @ Insn::LdImm64Tail) = insns.get_mut(pc + 1) {
                *tail = Insn::Call(CallTarget::Helper(POISON_HELPER));
            }
        }
        return Ok(());
    };
    match insn {
        Insn::Alu {
            src: Operand::Imm(imm),
            ..
        } => {
            if let Some(local) =
                local.filter(|&l| *imm as i64 as u64 != l && *imm as u32 as u64 != l)
            {
                return Err(format!(
                    "instruction has immediate {imm}, expected the local value {local}"
                ));
            }
            *imm = i32::try_from(new as i64)
                .map_err(|_| format!("value {new} does not fit a 32-bit immediate"))?;
        }
        Insn::Load { off, size, .. } | Insn::Store { off, size, .. } => {
            if let Some(local) = local.filter(|&l| *off as i64 as u64 != l) {
                return Err(format!(
                    "instruction has offset {off}, expected the local value {local}"
                ));
            }
            *off = i16::try_from(new).map_err(|_| format!("offset {new} does not fit 16 bits"))?;
            if kind == CoreReloKind::FieldByteOffset {
                if let Some(sz) = new_size
                    .and_then(|s| u32::try_from(s).ok())
                    .and_then(Size::from_bytes)
                {
                    *size = sz;
                }
            }
        }
        Insn::LdImm64 { imm, .. } => {
            if let Some(local) = local.filter(|&l| *imm as u64 != l) {
                return Err(format!(
                    "lddw has immediate {imm}, expected the local value {local}"
                ));
            }
            *imm = new as i64;
        }
        other => return Err(format!("cannot patch {other:?}")),
    }
    Ok(())
}

impl Program {
    /// Resolve this program's CO-RE relocations (`local` is the object's
    /// BTF, `target` usually the kernel's) and patch its instructions.
    pub fn relocate_core(
        &mut self,
        local: &Btf,
        target: &Btf,
    ) -> Result<Vec<CoreResolution>, ObjectError> {
        let mut cache: HashMap<TypeId, Vec<TypeId>> = HashMap::new();
        let mut out = Vec::with_capacity(self.core_relos.len());
        for r in self.core_relos.clone() {
            let err = |what: String| ObjectError::Core {
                program: self.name.clone(),
                pc: r.pc,
                access: r.access.clone(),
                type_name: local.display_name(r.type_id),
                what,
            };
            if local.type_by_id(r.type_id).is_none() {
                return Err(err(format!("local type {} does not exist", r.type_id)));
            }
            let cands = if r.kind == CoreReloKind::TypeIdLocal {
                Vec::new()
            } else {
                match cache.get(&r.type_id) {
                    Some(c) => c.clone(),
                    None => {
                        let c = candidates(local, r.type_id, target).map_err(err)?;
                        cache.insert(r.type_id, c.clone());
                        c
                    }
                }
            };
            let (lv, tv, tt) = resolve(local, target, &r, &cands).map_err(err)?;
            // For loads and stores, the target field's size (libbpf
            // adjusts the access width when the field changed size).
            let new_size = match (r.kind, tt) {
                (CoreReloKind::FieldByteOffset, Some(c)) => {
                    let spec = parse_spec(local, r.type_id, &r.access, r.kind).map_err(err)?;
                    match match_field(local, &spec, target, c).map_err(err)? {
                        Some(ts) if ts.bitfield == 0 => {
                            field_value(target, &ts, CoreReloKind::FieldByteSize).ok()
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            patch(&mut self.insns, r.pc, r.kind, lv, tv, new_size).map_err(err)?;
            out.push(CoreResolution {
                pc: r.pc,
                kind: r.kind,
                access: r.access.clone(),
                local: lv,
                target: tv,
                target_type: tt,
            });
        }
        Ok(out)
    }
}

impl crate::Object {
    /// Resolve the CO-RE relocations of every program against `target`.
    /// Returns each program's resolutions, in program order.
    pub fn relocate_core(&mut self, target: &Btf) -> Result<Vec<Vec<CoreResolution>>, ObjectError> {
        let Some(local) = self.btf().cloned() else {
            return Ok(vec![Vec::new(); self.programs().len()]);
        };
        self.programs_mut()
            .iter_mut()
            .map(|p| p.relocate_core(&local, target))
            .collect()
    }
}
