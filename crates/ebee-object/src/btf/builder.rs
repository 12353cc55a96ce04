//! Building BTF programmatically: the types a host describes without a
//! compiler (the userspace runtime's context structs, an embedder's own
//! context), laid out with C's rules as clang lays them out for BPF, so a
//! CO-RE relocation resolves against them exactly as against the kernel's
//! BTF.
//!
//! ```
//! use ebee_object::btf::{BtfBuilder, Field};
//!
//! let mut b = BtfBuilder::new();
//! let u32_t = b.int("unsigned int", 4, false);
//! let u64_t = b.int("long long unsigned int", 8, false);
//! let ctx = b.add_struct("my_ctx", &[Field::new("len", u32_t), Field::new("cookie", u64_t)]);
//! let btf = b.build().unwrap();
//! assert_eq!(btf.size_of(ctx).unwrap(), 16);
//! ```

use std::collections::HashMap;

use super::types::{Btf, BtfType, Enumerator, Member, Param, TypeId, TypeKind};
use crate::error::ObjectError;

/// One member of a struct or union being built: its name (empty for an
/// anonymous struct or union member), type and, for a bitfield, width.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The member's name.
    pub name: String,
    /// Its type.
    pub ty: TypeId,
    /// Bitfield width in bits; 0 for an ordinary member.
    pub bits: u32,
}

impl Field {
    /// An ordinary member.
    pub fn new(name: &str, ty: TypeId) -> Field {
        Field {
            name: name.to_string(),
            ty,
            bits: 0,
        }
    }

    /// A bitfield of `bits` bits of integer (or enum) type `ty`.
    pub fn bits(name: &str, ty: TypeId, bits: u32) -> Field {
        Field {
            name: name.to_string(),
            ty,
            bits,
        }
    }

    /// An anonymous struct or union member (its members are reached as if
    /// they were the outer type's, as in C).
    pub fn anonymous(ty: TypeId) -> Field {
        Field::new("", ty)
    }
}

/// Builds a [`Btf`] type by type; each method returns the new type's id.
///
/// Structs and unions get C's layout: every member at the next multiple
/// of its alignment, a bitfield in the next bits unless it would straddle
/// a unit of its type's size (then at the next unit), the size rounded up
/// to the largest member alignment. For other layouts
/// ([`BtfBuilder::add_struct_layout`]) the caller gives the offsets.
/// A struct that refers to itself (or types that refer to each other) is
/// [declared](BtfBuilder::declare_struct) first and
/// [defined](BtfBuilder::define_struct) later.
#[derive(Debug, Clone)]
pub struct BtfBuilder {
    types: Vec<BtfType>,
    /// The `__ARRAY_SIZE_TYPE__` clang uses as every array's index type.
    array_index: Option<TypeId>,
    /// Misuse found while building, reported by [`BtfBuilder::build`].
    errors: Vec<String>,
}

impl Default for BtfBuilder {
    fn default() -> BtfBuilder {
        BtfBuilder::new()
    }
}

impl BtfBuilder {
    /// An empty BTF (only `void`, id 0).
    pub fn new() -> BtfBuilder {
        BtfBuilder {
            types: vec![BtfType {
                name: String::new(),
                kind: TypeKind::Void,
            }],
            array_index: None,
            errors: Vec::new(),
        }
    }

    fn push(&mut self, name: &str, kind: TypeKind) -> TypeId {
        self.types.push(BtfType {
            name: name.to_string(),
            kind,
        });
        (self.types.len() - 1) as TypeId
    }

    /// The type with id `id` so far.
    pub fn type_by_id(&self, id: TypeId) -> Option<&BtfType> {
        self.types.get(id as usize)
    }

    /// An integer of `size` bytes (1, 2, 4, 8 or 16).
    pub fn int(&mut self, name: &str, size: u32, signed: bool) -> TypeId {
        self.push(
            name,
            TypeKind::Int {
                size,
                signed,
                char: false,
                bool: false,
                bit_offset: 0,
                bits: size * 8,
            },
        )
    }

    /// `char` (clang: signed, one byte, no `char` encoding flag) is
    /// [`BtfBuilder::int`]; this is C's `_Bool`.
    pub fn bool(&mut self, name: &str) -> TypeId {
        self.push(
            name,
            TypeKind::Int {
                size: 1,
                signed: false,
                char: false,
                bool: true,
                bit_offset: 0,
                bits: 8,
            },
        )
    }

    /// A floating-point type of `size` bytes.
    pub fn float(&mut self, name: &str, size: u32) -> TypeId {
        self.push(name, TypeKind::Float { size })
    }

    /// A pointer to `to` (0: `void *`).
    pub fn ptr(&mut self, to: TypeId) -> TypeId {
        self.push("", TypeKind::Ptr(to))
    }

    /// `typedef ty name`.
    pub fn typedef(&mut self, name: &str, ty: TypeId) -> TypeId {
        self.push(name, TypeKind::Typedef(ty))
    }

    /// `const ty`.
    pub fn const_of(&mut self, ty: TypeId) -> TypeId {
        self.push("", TypeKind::Const(ty))
    }

    /// `volatile ty`.
    pub fn volatile_of(&mut self, ty: TypeId) -> TypeId {
        self.push("", TypeKind::Volatile(ty))
    }

    /// `ty[len]`, indexed by clang's `__ARRAY_SIZE_TYPE__` (added once).
    pub fn array(&mut self, elem: TypeId, len: u32) -> TypeId {
        let index = match self.array_index {
            Some(i) => i,
            None => {
                let i = self.int("__ARRAY_SIZE_TYPE__", 4, false);
                self.array_index = Some(i);
                i
            }
        };
        self.push("", TypeKind::Array { elem, index, len })
    }

    /// A forward declaration `struct name;` (or `union name;`).
    pub fn fwd(&mut self, name: &str, union: bool) -> TypeId {
        self.push(name, TypeKind::Fwd { union })
    }

    /// An enum of `size` bytes (8: `ENUM64`); signed when a value is
    /// negative, as clang marks it.
    pub fn add_enum(&mut self, name: &str, size: u32, values: &[(&str, i64)]) -> TypeId {
        self.push(
            name,
            TypeKind::Enum {
                size,
                signed: values.iter().any(|&(_, v)| v < 0),
                is64: size == 8,
                values: values
                    .iter()
                    .map(|&(n, value)| Enumerator {
                        name: n.to_string(),
                        value,
                    })
                    .collect(),
            },
        )
    }

    /// A function prototype `ret (params...)` (parameter names may be
    /// empty).
    pub fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        self.push(
            "",
            TypeKind::FuncProto {
                ret,
                params: params
                    .iter()
                    .map(|&(n, ty)| Param {
                        name: n.to_string(),
                        ty,
                    })
                    .collect(),
            },
        )
    }

    /// A function `name` of prototype `proto` (linkage 0 static, 1
    /// global, 2 extern).
    pub fn func(&mut self, name: &str, proto: TypeId, linkage: u32) -> TypeId {
        self.push(name, TypeKind::Func { proto, linkage })
    }

    /// A struct with C's layout of `fields`.
    pub fn add_struct(&mut self, name: &str, fields: &[Field]) -> TypeId {
        let id = self.declare_struct(name);
        self.define_struct(id, fields);
        id
    }

    /// A union of `fields` (all at offset 0).
    pub fn add_union(&mut self, name: &str, fields: &[Field]) -> TypeId {
        let id = self.fwd(name, true);
        self.define_struct(id, fields);
        id
    }

    /// A struct with the caller's layout: `size` bytes, members at the
    /// bit offsets given (for packed or explicitly aligned structs).
    pub fn add_struct_layout(&mut self, name: &str, size: u32, members: Vec<Member>) -> TypeId {
        self.push(name, TypeKind::Struct { size, members })
    }

    /// Reserves an id for a struct defined later with
    /// [`BtfBuilder::define_struct`] (until then it is a forward
    /// declaration): for types that point to themselves.
    pub fn declare_struct(&mut self, name: &str) -> TypeId {
        self.fwd(name, false)
    }

    /// Gives the struct or union declared as `id` its `fields`, laid out
    /// as in C. Members must be complete types (not `id` itself).
    ///
    /// An `id` that is not a declaration made by this builder, or members
    /// of unknown size, are reported by [`BtfBuilder::build`].
    pub fn define_struct(&mut self, id: TypeId, fields: &[Field]) {
        let union = matches!(
            self.types.get(id as usize).map(|t| &t.kind),
            Some(TypeKind::Fwd { union: true })
        );
        let layout = self.layout(fields, union);
        let Some(t) = self.types.get_mut(id as usize) else {
            self.errors
                .push(format!("type {id} defined, but it was never declared"));
            return;
        };
        if !matches!(t.kind, TypeKind::Fwd { .. }) {
            self.errors
                .push(format!("type {id} `{}` defined twice", t.name));
            return;
        }
        match layout {
            Some((size, members)) if union => t.kind = TypeKind::Union { size, members },
            Some((size, members)) => t.kind = TypeKind::Struct { size, members },
            None => self.errors.push(format!(
                "type {id} `{}`: a member has no known size or alignment (or a bitfield is wider than its type)",
                t.name
            )),
        }
    }

    /// (size, members) of `fields` laid out as C does, or `None` when a
    /// member's size or alignment is unknown.
    fn layout(&self, fields: &[Field], union: bool) -> Option<(u32, Vec<Member>)> {
        let mut bit: u64 = 0;
        let mut end: u64 = 0;
        let mut align: u64 = 1;
        let mut members = Vec::with_capacity(fields.len());
        for f in fields {
            let size = self.size(f.ty)?;
            let a = self.align(f.ty)?;
            align = align.max(a);
            let start = if union { 0 } else { bit };
            let off = if f.bits == 0 {
                start.div_ceil(a * 8) * a * 8
            } else {
                let unit = size * 8;
                let bits = u64::from(f.bits);
                if unit == 0 || bits > unit {
                    return None;
                }
                // A bitfield may not straddle a unit of its type.
                if start / unit != (start + bits - 1) / unit {
                    start.div_ceil(unit) * unit
                } else {
                    start
                }
            };
            let width = if f.bits == 0 {
                size * 8
            } else {
                u64::from(f.bits)
            };
            members.push(Member {
                name: f.name.clone(),
                ty: f.ty,
                bit_offset: u32::try_from(off).ok()?,
                bitfield_size: f.bits,
            });
            bit = off + width;
            end = end.max(bit);
        }
        let size = end.div_ceil(8).div_ceil(align) * align;
        Some((u32::try_from(size).ok()?, members))
    }

    /// `sizeof` of a type built so far.
    fn size(&self, id: TypeId) -> Option<u64> {
        self.size_depth(id, 0)
    }

    fn size_depth(&self, id: TypeId, depth: u32) -> Option<u64> {
        if depth > 64 {
            return None;
        }
        Some(match &self.types.get(id as usize)?.kind {
            TypeKind::Int { size, .. }
            | TypeKind::Struct { size, .. }
            | TypeKind::Union { size, .. }
            | TypeKind::Enum { size, .. }
            | TypeKind::Float { size } => u64::from(*size),
            TypeKind::Ptr(_) => 8,
            TypeKind::Array { elem, len, .. } => self
                .size_depth(*elem, depth + 1)?
                .checked_mul(u64::from(*len))?,
            TypeKind::Typedef(t)
            | TypeKind::Const(t)
            | TypeKind::Volatile(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag(t) => self.size_depth(*t, depth + 1)?,
            _ => return None,
        })
    }

    /// `_Alignof` of a type built so far (natural alignment: scalars by
    /// their size, aggregates by their widest member).
    fn align(&self, id: TypeId) -> Option<u64> {
        self.align_depth(id, 0)
    }

    fn align_depth(&self, id: TypeId, depth: u32) -> Option<u64> {
        if depth > 64 {
            return None;
        }
        Some(match &self.types.get(id as usize)?.kind {
            TypeKind::Int { size, .. } | TypeKind::Enum { size, .. } | TypeKind::Float { size } => {
                u64::from(*size).clamp(1, 8)
            }
            TypeKind::Ptr(_) => 8,
            TypeKind::Array { elem, .. } => self.align_depth(*elem, depth + 1)?,
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                let mut a = 1;
                for m in members {
                    a = a.max(self.align_depth(m.ty, depth + 1)?);
                }
                a
            }
            TypeKind::Typedef(t)
            | TypeKind::Const(t)
            | TypeKind::Volatile(t)
            | TypeKind::Restrict(t)
            | TypeKind::TypeTag(t) => self.align_depth(*t, depth + 1)?,
            _ => return None,
        })
    }

    /// The finished [`Btf`]: every reference checked, names indexed, a
    /// string table holding every name.
    pub fn build(self) -> Result<Btf, ObjectError> {
        let n = self.types.len() as u64;
        if let Some(e) = self.errors.first() {
            return Err(ObjectError::BtfType(e.clone()));
        }
        for (id, t) in self.types.iter().enumerate() {
            for r in t.kind.references() {
                if u64::from(r) >= n {
                    return Err(ObjectError::BtfType(format!(
                        "type {id} `{}` refers to type {r}, but there are only {n}",
                        t.name
                    )));
                }
            }
        }
        let mut strings = vec![0u8];
        let mut offsets: HashMap<String, u32> = HashMap::new();
        let mut add = |s: &str| {
            if !s.is_empty() && !offsets.contains_key(s) {
                offsets.insert(s.to_string(), strings.len() as u32);
                strings.extend_from_slice(s.as_bytes());
                strings.push(0);
            }
        };
        let mut by_name: HashMap<String, Vec<TypeId>> = HashMap::new();
        for (id, t) in self.types.iter().enumerate() {
            add(&t.name);
            match &t.kind {
                TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                    members.iter().for_each(|m| add(&m.name))
                }
                TypeKind::Enum { values, .. } => values.iter().for_each(|v| add(&v.name)),
                TypeKind::FuncProto { params, .. } => params.iter().for_each(|p| add(&p.name)),
                _ => {}
            }
            if !t.name.is_empty() {
                by_name
                    .entry(t.name.clone())
                    .or_default()
                    .push(id as TypeId);
            }
        }
        Ok(Btf {
            types: self.types,
            strings,
            by_name,
        })
    }
}

impl Btf {
    /// This BTF with `other`'s types appended (ids shifted past this
    /// one's): how a program type's context BTF joins common types, or an
    /// embedder's types join the runtime's. A type named like one already
    /// here is still added; CO-RE then sees two candidates, which must
    /// agree.
    pub fn merged(&self, other: &Btf) -> Result<Btf, ObjectError> {
        let mut b = BtfBuilder::new();
        b.types.extend(self.types.iter().skip(1).cloned());
        let shift = b.types.len() as TypeId - 1;
        let mv = |id: TypeId| if id == 0 { 0 } else { id + shift };
        for t in other.types.iter().skip(1) {
            let kind = match t.kind.clone() {
                TypeKind::Ptr(r) => TypeKind::Ptr(mv(r)),
                TypeKind::Typedef(r) => TypeKind::Typedef(mv(r)),
                TypeKind::Volatile(r) => TypeKind::Volatile(mv(r)),
                TypeKind::Const(r) => TypeKind::Const(mv(r)),
                TypeKind::Restrict(r) => TypeKind::Restrict(mv(r)),
                TypeKind::TypeTag(r) => TypeKind::TypeTag(mv(r)),
                TypeKind::Var { ty, linkage } => TypeKind::Var {
                    ty: mv(ty),
                    linkage,
                },
                TypeKind::DeclTag { ty, component } => TypeKind::DeclTag {
                    ty: mv(ty),
                    component,
                },
                TypeKind::Func { proto, linkage } => TypeKind::Func {
                    proto: mv(proto),
                    linkage,
                },
                TypeKind::Array { elem, index, len } => TypeKind::Array {
                    elem: mv(elem),
                    index: mv(index),
                    len,
                },
                TypeKind::Struct { size, mut members } => {
                    members.iter_mut().for_each(|m| m.ty = mv(m.ty));
                    TypeKind::Struct { size, members }
                }
                TypeKind::Union { size, mut members } => {
                    members.iter_mut().for_each(|m| m.ty = mv(m.ty));
                    TypeKind::Union { size, members }
                }
                TypeKind::FuncProto { ret, mut params } => {
                    params.iter_mut().for_each(|p| p.ty = mv(p.ty));
                    TypeKind::FuncProto {
                        ret: mv(ret),
                        params,
                    }
                }
                TypeKind::Datasec { size, mut vars } => {
                    vars.iter_mut().for_each(|v| v.ty = mv(v.ty));
                    TypeKind::Datasec { size, vars }
                }
                k => k,
            };
            b.push(&t.name, kind);
        }
        b.build()
    }
}
