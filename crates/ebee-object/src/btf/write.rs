//! Writing BTF back to the wire format, for `BPF_BTF_LOAD`: an object's
//! BTF after the fixups the kernel insists on (see [`Btf::fix_datasecs`]).
//!
//! The string section is kept as it was, so every string offset that
//! `.BTF.ext` records (file names, source lines) stays valid; names that
//! are not in it yet are appended.

use std::collections::HashMap;

use super::parse::BTF_MAGIC;
use super::types::{Btf, TypeKind};

const KINDS: [(&str, u32); 19] = [
    ("INT", 1),
    ("PTR", 2),
    ("ARRAY", 3),
    ("STRUCT", 4),
    ("UNION", 5),
    ("ENUM", 6),
    ("FWD", 7),
    ("TYPEDEF", 8),
    ("VOLATILE", 9),
    ("CONST", 10),
    ("RESTRICT", 11),
    ("FUNC", 12),
    ("FUNC_PROTO", 13),
    ("VAR", 14),
    ("DATASEC", 15),
    ("FLOAT", 16),
    ("DECL_TAG", 17),
    ("TYPE_TAG", 18),
    ("ENUM64", 19),
];

struct Strings {
    bytes: Vec<u8>,
    index: HashMap<Vec<u8>, u32>,
}

impl Strings {
    fn new(original: &[u8]) -> Strings {
        let mut bytes = original.to_vec();
        if bytes.is_empty() {
            bytes.push(0);
        }
        let mut index = HashMap::new();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == 0 {
                index
                    .entry(bytes[start..i].to_vec())
                    .or_insert(start as u32);
                start = i + 1;
            }
        }
        Strings { bytes, index }
    }

    fn offset(&mut self, s: &str) -> u32 {
        if let Some(&o) = self.index.get(s.as_bytes()) {
            return o;
        }
        let o = self.bytes.len() as u32;
        self.bytes.extend_from_slice(s.as_bytes());
        self.bytes.push(0);
        self.index.insert(s.as_bytes().to_vec(), o);
        o
    }
}

impl Btf {
    /// The BTF in its wire format (header, types, strings).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut strings = Strings::new(&self.strings);
        let mut types: Vec<u8> = Vec::new();
        let mut put = |w: u32| types.extend_from_slice(&w.to_le_bytes());
        for t in self.types.iter().skip(1) {
            let kind = KINDS
                .iter()
                .find(|(n, _)| *n == t.kind_name())
                .map_or(0, |k| k.1);
            let name = strings.offset(&t.name);
            let info = |vlen: usize, kflag: bool| {
                (kind << 24) | (vlen as u32 & 0xffff) | (u32::from(kflag) << 31)
            };
            match &t.kind {
                TypeKind::Void => {}
                TypeKind::Int {
                    size,
                    signed,
                    char,
                    bool,
                    bit_offset,
                    bits,
                } => {
                    put(name);
                    put(info(0, false));
                    put(*size);
                    let enc = u32::from(*signed) | u32::from(*char) << 1 | u32::from(*bool) << 2;
                    put(enc << 24 | (bit_offset & 0xff) << 16 | (bits & 0xff));
                }
                TypeKind::Ptr(r)
                | TypeKind::Typedef(r)
                | TypeKind::Volatile(r)
                | TypeKind::Const(r)
                | TypeKind::Restrict(r)
                | TypeKind::TypeTag(r) => {
                    put(name);
                    put(info(0, false));
                    put(*r);
                }
                TypeKind::Array { elem, index, len } => {
                    put(name);
                    put(info(0, false));
                    put(0);
                    put(*elem);
                    put(*index);
                    put(*len);
                }
                TypeKind::Struct { size, members } | TypeKind::Union { size, members } => {
                    let kflag = members.iter().any(|m| m.bitfield_size != 0);
                    put(name);
                    put(info(members.len(), kflag));
                    put(*size);
                    for m in members {
                        let n = strings.offset(&m.name);
                        put(n);
                        put(m.ty);
                        put(if kflag {
                            m.bitfield_size << 24 | (m.bit_offset & 0xff_ffff)
                        } else {
                            m.bit_offset
                        });
                    }
                }
                TypeKind::Enum {
                    size,
                    signed,
                    is64,
                    values,
                } => {
                    put(name);
                    put(info(values.len(), *signed));
                    put(*size);
                    for v in values {
                        let n = strings.offset(&v.name);
                        put(n);
                        put(v.value as u32);
                        if *is64 {
                            put((v.value as u64 >> 32) as u32);
                        }
                    }
                }
                TypeKind::Fwd { union } => {
                    put(name);
                    put(info(0, *union));
                    put(0);
                }
                TypeKind::Func { proto, linkage } => {
                    put(name);
                    put(info(*linkage as usize, false));
                    put(*proto);
                }
                TypeKind::FuncProto { ret, params } => {
                    put(name);
                    put(info(params.len(), false));
                    put(*ret);
                    for p in params {
                        let n = strings.offset(&p.name);
                        put(n);
                        put(p.ty);
                    }
                }
                TypeKind::Var { ty, linkage } => {
                    put(name);
                    put(info(0, false));
                    put(*ty);
                    put(*linkage);
                }
                TypeKind::Datasec { size, vars } => {
                    put(name);
                    put(info(vars.len(), false));
                    put(*size);
                    for v in vars {
                        put(v.ty);
                        put(v.offset);
                        put(v.size);
                    }
                }
                TypeKind::Float { size } => {
                    put(name);
                    put(info(0, false));
                    put(*size);
                }
                TypeKind::DeclTag { ty, component } => {
                    put(name);
                    put(info(0, false));
                    put(*ty);
                    put(*component as u32);
                }
            }
        }
        let mut out = Vec::with_capacity(24 + types.len() + strings.bytes.len());
        let hdr = [
            u32::from(BTF_MAGIC) | 1 << 16, // magic, version 1, flags 0
            24,
            0,
            types.len() as u32,
            types.len() as u32,
            strings.bytes.len() as u32,
        ];
        for w in hdr {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out.extend_from_slice(&types);
        out.extend_from_slice(&strings.bytes);
        out
    }
}
