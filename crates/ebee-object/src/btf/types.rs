//! The BTF type graph: one [`BtfType`] per type id, and lookups over it.

use std::collections::HashMap;

use crate::error::ObjectError;

/// A BTF type id (0 is `void`).
pub type TypeId = u32;

/// One member of a struct or union.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Member name (empty for anonymous members).
    pub name: String,
    /// The member's type.
    pub ty: TypeId,
    /// Offset from the start of the struct, in bits.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for a whole member.
    pub bitfield_size: u32,
}

/// One enumerator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enumerator {
    /// Its name.
    pub name: String,
    /// Its value (sign-extended when the enum is signed).
    pub value: i64,
}

/// One parameter of a function prototype.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    /// Its name (may be empty).
    pub name: String,
    /// Its type (0 with an empty name for a trailing `...`).
    pub ty: TypeId,
}

/// One variable of a data section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasecVar {
    /// The `VAR` (or `FUNC` for externs) type id.
    pub ty: TypeId,
    /// Offset in the section, in bytes.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// What kind of type, with its kind-specific data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// Type id 0.
    Void,
    /// An integer (`BTF_KIND_INT`).
    Int {
        /// Size in bytes.
        size: u32,
        /// Signed.
        signed: bool,
        /// A `char`.
        char: bool,
        /// A `bool`.
        bool: bool,
        /// Bit offset of the value within the storage.
        bit_offset: u32,
        /// Number of value bits.
        bits: u32,
    },
    /// A pointer.
    Ptr(TypeId),
    /// An array.
    Array {
        /// Element type.
        elem: TypeId,
        /// Index type.
        index: TypeId,
        /// Number of elements.
        len: u32,
    },
    /// A struct.
    Struct {
        /// Size in bytes.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// A union.
    Union {
        /// Size in bytes.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// An enum (`BTF_KIND_ENUM` or `BTF_KIND_ENUM64`).
    Enum {
        /// Size in bytes.
        size: u32,
        /// Values are signed.
        signed: bool,
        /// Encoded as `ENUM64`.
        is64: bool,
        /// Enumerators.
        values: Vec<Enumerator>,
    },
    /// A forward declaration.
    Fwd {
        /// Of a union (else a struct).
        union: bool,
    },
    /// A typedef.
    Typedef(TypeId),
    /// `volatile`.
    Volatile(TypeId),
    /// `const`.
    Const(TypeId),
    /// `restrict`.
    Restrict(TypeId),
    /// A function (name + prototype).
    Func {
        /// The `FUNC_PROTO`.
        proto: TypeId,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// A function prototype.
    FuncProto {
        /// Return type.
        ret: TypeId,
        /// Parameters.
        params: Vec<Param>,
    },
    /// A variable.
    Var {
        /// Its type.
        ty: TypeId,
        /// 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// A data section (`.data`, `.maps`, ...).
    Datasec {
        /// Size in bytes (0 in objects: the ELF section has it).
        size: u32,
        /// The variables.
        vars: Vec<DatasecVar>,
    },
    /// A floating point type.
    Float {
        /// Size in bytes.
        size: u32,
    },
    /// A declaration tag (`__attribute__((btf_decl_tag("...")))`).
    DeclTag {
        /// The tagged type.
        ty: TypeId,
        /// Member/parameter index, -1 for the whole type.
        component: i32,
    },
    /// A type tag (`__attribute__((btf_type_tag("...")))`).
    TypeTag(TypeId),
}

impl TypeKind {
    /// The type ids this kind refers to (pointee, members, parameters,
    /// ...), in declaration order.
    pub fn references(&self) -> Vec<TypeId> {
        match self {
            TypeKind::Ptr(r)
            | TypeKind::Typedef(r)
            | TypeKind::Volatile(r)
            | TypeKind::Const(r)
            | TypeKind::Restrict(r)
            | TypeKind::TypeTag(r)
            | TypeKind::Var { ty: r, .. }
            | TypeKind::DeclTag { ty: r, .. }
            | TypeKind::Func { proto: r, .. } => vec![*r],
            TypeKind::Array { elem, index, .. } => vec![*elem, *index],
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => {
                members.iter().map(|m| m.ty).collect()
            }
            TypeKind::FuncProto { ret, params } => std::iter::once(*ret)
                .chain(params.iter().map(|p| p.ty))
                .collect(),
            TypeKind::Datasec { vars, .. } => vars.iter().map(|v| v.ty).collect(),
            _ => Vec::new(),
        }
    }
}

/// One type: its name (empty when anonymous) and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BtfType {
    /// The name.
    pub name: String,
    /// The kind and its data.
    pub kind: TypeKind,
}

impl BtfType {
    /// The kind's name as `bpftool btf dump` prints it (`STRUCT`, `PTR`...).
    pub fn kind_name(&self) -> &'static str {
        match &self.kind {
            TypeKind::Void => "VOID",
            TypeKind::Int { .. } => "INT",
            TypeKind::Ptr(_) => "PTR",
            TypeKind::Array { .. } => "ARRAY",
            TypeKind::Struct { .. } => "STRUCT",
            TypeKind::Union { .. } => "UNION",
            TypeKind::Enum { is64: false, .. } => "ENUM",
            TypeKind::Enum { is64: true, .. } => "ENUM64",
            TypeKind::Fwd { .. } => "FWD",
            TypeKind::Typedef(_) => "TYPEDEF",
            TypeKind::Volatile(_) => "VOLATILE",
            TypeKind::Const(_) => "CONST",
            TypeKind::Restrict(_) => "RESTRICT",
            TypeKind::Func { .. } => "FUNC",
            TypeKind::FuncProto { .. } => "FUNC_PROTO",
            TypeKind::Var { .. } => "VAR",
            TypeKind::Datasec { .. } => "DATASEC",
            TypeKind::Float { .. } => "FLOAT",
            TypeKind::DeclTag { .. } => "DECL_TAG",
            TypeKind::TypeTag(_) => "TYPE_TAG",
        }
    }

    /// Members, for structs and unions.
    pub fn members(&self) -> Option<&[Member]> {
        match &self.kind {
            TypeKind::Struct { members, .. } | TypeKind::Union { members, .. } => Some(members),
            _ => None,
        }
    }
}

/// Deepest chain of typedefs/modifiers/arrays followed before giving up
/// (a loop in malformed BTF must not hang us).
const MAX_CHAIN: usize = 64;

/// Parsed BTF: the types, by id, and the string table.
#[derive(Debug, Clone, Default)]
pub struct Btf {
    pub(crate) types: Vec<BtfType>,
    pub(crate) strings: Vec<u8>,
    pub(crate) by_name: HashMap<String, Vec<TypeId>>,
}

impl Btf {
    /// Number of type ids, including `void` (id 0).
    pub fn len(&self) -> usize {
        self.types.len()
    }

    /// Only `void`: no types at all.
    pub fn is_empty(&self) -> bool {
        self.types.len() <= 1
    }

    /// The type with id `id`.
    pub fn type_by_id(&self, id: TypeId) -> Option<&BtfType> {
        self.types.get(id as usize)
    }

    /// All types, in id order (index = id).
    pub fn types(&self) -> &[BtfType] {
        &self.types
    }

    /// Ids of every type named `name`.
    pub fn ids_by_name(&self, name: &str) -> &[TypeId] {
        self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The first type named `name` of kind `kind` (as in [`BtfType::kind_name`]).
    pub fn id_by_name_kind(&self, name: &str, kind: &str) -> Option<TypeId> {
        self.ids_by_name(name)
            .iter()
            .copied()
            .find(|&id| self.types[id as usize].kind_name() == kind)
    }

    /// What clang leaves for the loader to fill in: a `DATASEC`'s size
    /// (`section_size(name)`) and its variables' offsets
    /// (`symbol_offset(var name)`), with the variables sorted by offset as
    /// the kernel requires. Sections or symbols the callbacks do not know
    /// (`.ksyms`, `.kconfig` externs) are left as they are.
    pub fn fix_datasecs(
        &mut self,
        section_size: impl Fn(&str) -> Option<u32>,
        symbol_offset: impl Fn(&str, &str) -> Option<u32>,
    ) {
        let names: Vec<String> = self.types.iter().map(|t| t.name.clone()).collect();
        for t in &mut self.types {
            let TypeKind::Datasec { size, vars } = &mut t.kind else {
                continue;
            };
            let Some(sec_size) = section_size(&t.name) else {
                continue;
            };
            if *size == 0 {
                *size = sec_size;
            }
            for v in vars.iter_mut() {
                let var_name = names.get(v.ty as usize).map_or("", String::as_str);
                if let Some(off) = symbol_offset(&t.name, var_name) {
                    v.offset = off;
                }
            }
            vars.sort_by_key(|v| v.offset);
        }
    }

    /// The string at `offset` in the string section.
    pub fn string_at(&self, offset: u32) -> Option<&str> {
        let bytes = self.strings.get(offset as usize..)?;
        let end = bytes.iter().position(|&b| b == 0)?;
        std::str::from_utf8(&bytes[..end]).ok()
    }

    fn get(&self, id: TypeId) -> Result<&BtfType, ObjectError> {
        self.type_by_id(id)
            .ok_or_else(|| ObjectError::BtfType(format!("type id {id} does not exist")))
    }

    /// Follow typedefs, `const`, `volatile`, `restrict` and type tags to
    /// the underlying type.
    pub fn skip_modifiers(&self, mut id: TypeId) -> Result<TypeId, ObjectError> {
        for _ in 0..MAX_CHAIN {
            match self.get(id)?.kind {
                TypeKind::Typedef(t)
                | TypeKind::Volatile(t)
                | TypeKind::Const(t)
                | TypeKind::Restrict(t)
                | TypeKind::TypeTag(t) => id = t,
                _ => return Ok(id),
            }
        }
        Err(ObjectError::BtfType(format!(
            "type {id}: modifier chain too long (a loop?)"
        )))
    }

    /// The size in bytes of a value of type `id` (`sizeof`).
    pub fn size_of(&self, id: TypeId) -> Result<u64, ObjectError> {
        self.size_of_depth(id, 0)
    }

    fn size_of_depth(&self, id: TypeId, depth: usize) -> Result<u64, ObjectError> {
        if depth > MAX_CHAIN {
            return Err(ObjectError::BtfType(format!(
                "type {id}: type chain too deep (a loop?)"
            )));
        }
        let id = self.skip_modifiers(id)?;
        let t = self.get(id)?;
        Ok(match &t.kind {
            TypeKind::Int { size, .. }
            | TypeKind::Struct { size, .. }
            | TypeKind::Union { size, .. }
            | TypeKind::Enum { size, .. }
            | TypeKind::Datasec { size, .. }
            | TypeKind::Float { size } => u64::from(*size),
            TypeKind::Ptr(_) => 8,
            TypeKind::Array { elem, len, .. } => self
                .size_of_depth(*elem, depth + 1)?
                .checked_mul(u64::from(*len))
                .ok_or_else(|| ObjectError::BtfType(format!("type {id}: array size overflows")))?,
            TypeKind::Var { ty, .. } => self.size_of_depth(*ty, depth + 1)?,
            _ => {
                return Err(ObjectError::BtfType(format!(
                    "type {id} ({} `{}`) has no size",
                    t.kind_name(),
                    t.name
                )))
            }
        })
    }

    /// A C-like name for type `id` for messages (`struct task_struct`, `int *`).
    pub fn display_name(&self, id: TypeId) -> String {
        let mut out = String::new();
        let mut id = id;
        let mut suffix = String::new();
        for _ in 0..MAX_CHAIN {
            let Some(t) = self.type_by_id(id) else {
                out.push_str(&format!("<bad type {id}>"));
                break;
            };
            match &t.kind {
                TypeKind::Void => {
                    out.push_str("void");
                    break;
                }
                TypeKind::Ptr(n) => {
                    suffix.insert(0, '*');
                    id = *n;
                }
                TypeKind::Const(n) | TypeKind::Volatile(n) | TypeKind::Restrict(n) => id = *n,
                TypeKind::TypeTag(n) => id = *n,
                TypeKind::Array { elem, len, .. } => {
                    suffix.push_str(&format!("[{len}]"));
                    id = *elem;
                }
                TypeKind::Struct { .. } => {
                    out.push_str(&format!("struct {}", t.name));
                    break;
                }
                TypeKind::Union { .. } => {
                    out.push_str(&format!("union {}", t.name));
                    break;
                }
                TypeKind::Enum { .. } => {
                    out.push_str(&format!("enum {}", t.name));
                    break;
                }
                TypeKind::Fwd { union } => {
                    out.push_str(&format!(
                        "{} {}",
                        if *union { "union" } else { "struct" },
                        t.name
                    ));
                    break;
                }
                _ => {
                    out.push_str(if t.name.is_empty() {
                        t.kind_name()
                    } else {
                        &t.name
                    });
                    break;
                }
            }
        }
        if !suffix.is_empty() {
            out.push(' ');
            out.push_str(&suffix);
        }
        out
    }
}
