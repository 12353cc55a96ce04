//! Reading the `.BTF` wire format (header, type section, string section)
//! into a [`Btf`]. The same parser reads an object's `.BTF` and the
//! kernel's `/sys/kernel/btf/vmlinux`.

use std::collections::HashMap;

use super::types::*;
use crate::error::ObjectError;

/// `BTF_MAGIC`, little-endian.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// A bounds-checked little-endian reader over a byte slice.
pub(crate) struct Cursor<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    /// Added to `pos` in error messages (the blob's offset in its section).
    pub base: usize,
    pub ext: bool,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8], base: usize, ext: bool) -> Self {
        Cursor {
            data,
            pos: 0,
            base,
            ext,
        }
    }

    pub fn err(&self, what: impl Into<String>) -> ObjectError {
        if self.ext {
            ObjectError::btf_ext(self.base + self.pos, what)
        } else {
            ObjectError::btf(self.base + self.pos, what)
        }
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, ObjectError> {
        let b = self
            .data
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.err(format!("truncated {what}")))?;
        self.pos += 4;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.data.len()
    }
}

/// A string table (NUL-terminated strings addressed by byte offset).
pub(crate) fn string_at(strings: &[u8], offset: u32) -> Option<&str> {
    let bytes = strings.get(offset as usize..)?;
    let end = bytes.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&bytes[..end]).ok()
}

fn sub<'a>(data: &'a [u8], off: u32, len: u32, what: &str) -> Result<&'a [u8], ObjectError> {
    let start = off as usize;
    let end = start
        .checked_add(len as usize)
        .ok_or_else(|| ObjectError::btf(0, format!("{what} range overflows")))?;
    data.get(start..end).ok_or_else(|| {
        ObjectError::btf(
            start,
            format!(
                "{what} ({len} bytes at {off:#x}) lies outside the {} byte blob",
                data.len()
            ),
        )
    })
}

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

impl Btf {
    /// Parse a BTF blob (header, types, strings).
    ///
    /// Type references are checked to name existing ids, so later lookups
    /// only fail on loops, which [`Btf::size_of`] and friends detect.
    pub fn parse(data: &[u8]) -> Result<Btf, ObjectError> {
        let mut c = Cursor::new(data, 0, false);
        let w0 = c.u32("header")?;
        if w0 & 0xffff != u32::from(BTF_MAGIC) {
            return Err(ObjectError::btf(
                0,
                format!("bad magic {:#x} (expected 0xeb9f)", w0 & 0xffff),
            ));
        }
        let version = (w0 >> 16) & 0xff;
        if version != 1 {
            return Err(ObjectError::btf(
                2,
                format!("unsupported version {version}"),
            ));
        }
        let hdr_len = c.u32("header")?;
        let type_off = c.u32("header")?;
        let type_len = c.u32("header")?;
        let str_off = c.u32("header")?;
        let str_len = c.u32("header")?;
        if hdr_len < 24 || hdr_len as usize > data.len() {
            return Err(ObjectError::btf(4, format!("bad header length {hdr_len}")));
        }
        let body = &data[hdr_len as usize..];
        let type_data = sub(body, type_off, type_len, "type section")?;
        let strings = sub(body, str_off, str_len, "string section")?.to_vec();
        if !strings.is_empty() && (strings[0] != 0 || strings[strings.len() - 1] != 0) {
            return Err(ObjectError::btf(
                hdr_len as usize + str_off as usize,
                "string section must start and end with NUL",
            ));
        }

        let base = hdr_len as usize + type_off as usize;
        let mut c = Cursor::new(type_data, base, false);
        let mut types = vec![BtfType {
            name: String::new(),
            kind: TypeKind::Void,
        }];
        let name = |c: &Cursor, off: u32| -> Result<String, ObjectError> {
            string_at(&strings, off)
                .map(str::to_string)
                .ok_or_else(|| c.err(format!("name offset {off} is outside the string section")))
        };
        while !c.at_end() {
            let id = types.len();
            let name_off = c.u32("type")?;
            let info = c.u32("type")?;
            let size_or_type = c.u32("type")?;
            let vlen = info & 0xffff;
            let kind = (info >> 24) & 0x1f;
            let kflag = info >> 31 != 0;
            let tname = name(&c, name_off)?;
            let kind = match kind {
                KIND_INT => {
                    let enc = c.u32("INT encoding")?;
                    let e = (enc >> 24) & 0xf;
                    TypeKind::Int {
                        size: size_or_type,
                        signed: e & 1 != 0,
                        char: e & 2 != 0,
                        bool: e & 4 != 0,
                        bit_offset: (enc >> 16) & 0xff,
                        bits: enc & 0xff,
                    }
                }
                KIND_PTR => TypeKind::Ptr(size_or_type),
                KIND_ARRAY => {
                    let elem = c.u32("ARRAY")?;
                    let index = c.u32("ARRAY")?;
                    let len = c.u32("ARRAY")?;
                    TypeKind::Array { elem, index, len }
                }
                KIND_STRUCT | KIND_UNION => {
                    let mut members = Vec::with_capacity(vlen as usize);
                    for _ in 0..vlen {
                        let mname = c.u32("member")?;
                        let ty = c.u32("member")?;
                        let off = c.u32("member")?;
                        let (bit_offset, bitfield_size) = if kflag {
                            (off & 0xff_ffff, off >> 24)
                        } else {
                            (off, 0)
                        };
                        members.push(Member {
                            name: name(&c, mname)?,
                            ty,
                            bit_offset,
                            bitfield_size,
                        });
                    }
                    if kind == KIND_STRUCT {
                        TypeKind::Struct {
                            size: size_or_type,
                            members,
                        }
                    } else {
                        TypeKind::Union {
                            size: size_or_type,
                            members,
                        }
                    }
                }
                KIND_ENUM | KIND_ENUM64 => {
                    let mut values = Vec::with_capacity(vlen as usize);
                    for _ in 0..vlen {
                        let vname = c.u32("enumerator")?;
                        let lo = c.u32("enumerator")?;
                        let value = if kind == KIND_ENUM64 {
                            let hi = c.u32("enumerator")?;
                            (u64::from(hi) << 32 | u64::from(lo)) as i64
                        } else if kflag {
                            i64::from(lo as i32)
                        } else {
                            i64::from(lo)
                        };
                        values.push(Enumerator {
                            name: name(&c, vname)?,
                            value,
                        });
                    }
                    TypeKind::Enum {
                        size: size_or_type,
                        signed: kflag,
                        is64: kind == KIND_ENUM64,
                        values,
                    }
                }
                KIND_FWD => TypeKind::Fwd { union: kflag },
                KIND_TYPEDEF => TypeKind::Typedef(size_or_type),
                KIND_VOLATILE => TypeKind::Volatile(size_or_type),
                KIND_CONST => TypeKind::Const(size_or_type),
                KIND_RESTRICT => TypeKind::Restrict(size_or_type),
                KIND_FUNC => TypeKind::Func {
                    proto: size_or_type,
                    linkage: vlen,
                },
                KIND_FUNC_PROTO => {
                    let mut params = Vec::with_capacity(vlen as usize);
                    for _ in 0..vlen {
                        let pname = c.u32("parameter")?;
                        let ty = c.u32("parameter")?;
                        params.push(Param {
                            name: name(&c, pname)?,
                            ty,
                        });
                    }
                    TypeKind::FuncProto {
                        ret: size_or_type,
                        params,
                    }
                }
                KIND_VAR => TypeKind::Var {
                    ty: size_or_type,
                    linkage: c.u32("VAR linkage")?,
                },
                KIND_DATASEC => {
                    let mut vars = Vec::with_capacity(vlen as usize);
                    for _ in 0..vlen {
                        let ty = c.u32("DATASEC var")?;
                        let offset = c.u32("DATASEC var")?;
                        let size = c.u32("DATASEC var")?;
                        vars.push(DatasecVar { ty, offset, size });
                    }
                    TypeKind::Datasec {
                        size: size_or_type,
                        vars,
                    }
                }
                KIND_FLOAT => TypeKind::Float { size: size_or_type },
                KIND_DECL_TAG => TypeKind::DeclTag {
                    ty: size_or_type,
                    component: c.u32("DECL_TAG")? as i32,
                },
                KIND_TYPE_TAG => TypeKind::TypeTag(size_or_type),
                other => {
                    return Err(c.err(format!("type id {id}: unknown kind {other}")));
                }
            };
            types.push(BtfType { name: tname, kind });
        }

        let btf = Btf {
            types,
            strings,
            by_name: HashMap::new(),
        };
        btf.check_references()?;
        let mut by_name: HashMap<String, Vec<TypeId>> = HashMap::new();
        for (id, t) in btf.types.iter().enumerate() {
            if !t.name.is_empty() {
                by_name
                    .entry(t.name.clone())
                    .or_default()
                    .push(id as TypeId);
            }
        }
        Ok(Btf { by_name, ..btf })
    }

    /// BTF from a file's bytes: raw BTF (as `/sys/kernel/btf/vmlinux` or
    /// `bpftool btf dump ... format raw` has it) or an ELF file of any
    /// machine with a `.BTF` section (a BPF object, a `vmlinux` image).
    pub fn parse_file(data: &[u8]) -> Result<Btf, ObjectError> {
        if data.get(..2) == Some(&BTF_MAGIC.to_le_bytes()[..]) {
            return Btf::parse(data);
        }
        if !data.starts_with(b"\x7fELF") {
            return Err(ObjectError::btf(
                0,
                "neither raw BTF (magic 0xeb9f) nor an ELF file",
            ));
        }
        use object::{Object as _, ObjectSection as _};
        let file = object::File::parse(data)
            .map_err(|e| ObjectError::Elf(format!("reading the ELF file: {e}")))?;
        let section = file
            .section_by_name(".BTF")
            .ok_or_else(|| ObjectError::Elf("the ELF file has no .BTF section".into()))?;
        let bytes = section
            .data()
            .map_err(|e| ObjectError::section(".BTF", e.to_string()))?;
        Btf::parse(bytes).map_err(|e| ObjectError::section(".BTF", e.to_string()))
    }

    /// Every type id a type refers to must exist.
    fn check_references(&self) -> Result<(), ObjectError> {
        let n = self.types.len() as u64;
        let check = |id: usize, r: TypeId| {
            if u64::from(r) >= n {
                Err(ObjectError::BtfType(format!(
                    "type id {id} refers to type {r}, but there are only {n}"
                )))
            } else {
                Ok(())
            }
        };
        for (id, t) in self.types.iter().enumerate() {
            for r in t.kind.references() {
                check(id, r)?;
            }
        }
        Ok(())
    }
}
