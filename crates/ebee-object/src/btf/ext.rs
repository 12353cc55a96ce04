//! `.BTF.ext`: per-instruction debug records. `func_info` (where each
//! function starts and its BTF `FUNC`), `line_info` (source file, line,
//! column and line text for instructions) and CO-RE relocations
//! (`bpf_core_relo`: which instruction to patch with which field offset
//! or type fact). Instruction offsets are bytes within the ELF section
//! named by each record group, as clang writes them.

use super::parse::{string_at, Cursor, BTF_MAGIC};
use super::types::{Btf, TypeId};
use crate::error::ObjectError;

/// A function's start (`bpf_func_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// The ELF section.
    pub section: String,
    /// Byte offset of the function's first instruction in the section.
    pub insn_off: u32,
    /// The BTF `FUNC` type id.
    pub type_id: TypeId,
}

/// Source position of an instruction (`bpf_line_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// The ELF section.
    pub section: String,
    /// Byte offset of the instruction in the section.
    pub insn_off: u32,
    /// Source file name.
    pub file: String,
    /// The text of the source line.
    pub line_text: String,
    /// Line number (1-based).
    pub line: u32,
    /// Column (1-based, 0 if unknown).
    pub column: u32,
    /// Offset of `file` in the BTF string section (for the kernel's `bpf_line_info`).
    pub file_name_off: u32,
    /// Offset of `line_text` in the BTF string section.
    pub line_off: u32,
}

/// What a CO-RE relocation asks for (`enum bpf_core_relo_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum CoreReloKind {
    /// Byte offset of a field.
    FieldByteOffset = 0,
    /// Byte size of a field.
    FieldByteSize = 1,
    /// 1 if the field exists in the target.
    FieldExists = 2,
    /// 1 if the field is signed.
    FieldSigned = 3,
    /// Left shift for bitfield extraction.
    FieldLshiftU64 = 4,
    /// Right shift for bitfield extraction.
    FieldRshiftU64 = 5,
    /// The local type id.
    TypeIdLocal = 6,
    /// The target type id.
    TypeIdTarget = 7,
    /// 1 if the type exists in the target.
    TypeExists = 8,
    /// The type's size in the target.
    TypeSize = 9,
    /// 1 if the enumerator exists in the target.
    EnumvalExists = 10,
    /// The enumerator's value in the target.
    EnumvalValue = 11,
    /// 1 if the type matches (`bpf_core_type_matches`).
    TypeMatches = 12,
}

impl CoreReloKind {
    /// The kind with number `n`.
    pub fn from_u32(n: u32) -> Option<CoreReloKind> {
        use CoreReloKind::*;
        Some(match n {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }
}

/// One CO-RE relocation (`bpf_core_relo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelo {
    /// The ELF section.
    pub section: String,
    /// Byte offset of the instruction to patch in the section.
    pub insn_off: u32,
    /// The local root type.
    pub type_id: TypeId,
    /// The access string (`0:1:2`: indices into the root type's members/arrays).
    pub access: String,
    /// What to compute.
    pub kind: CoreReloKind,
}

/// Parsed `.BTF.ext`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Function starts.
    pub func_info: Vec<FuncInfo>,
    /// Source positions.
    pub line_info: Vec<LineInfo>,
    /// CO-RE relocations.
    pub core_relos: Vec<CoreRelo>,
}

impl BtfExt {
    /// Parse `.BTF.ext`; strings are looked up in `btf`'s string section.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt, ObjectError> {
        let mut c = Cursor::new(data, 0, true);
        let w0 = c.u32("header")?;
        if w0 & 0xffff != u32::from(BTF_MAGIC) {
            return Err(ObjectError::btf_ext(
                0,
                format!("bad magic {:#x}", w0 & 0xffff),
            ));
        }
        let hdr_len = c.u32("header")?;
        if hdr_len < 24 || hdr_len as usize > data.len() {
            return Err(ObjectError::btf_ext(
                4,
                format!("bad header length {hdr_len}"),
            ));
        }
        let fi = (c.u32("header")?, c.u32("header")?);
        let li = (c.u32("header")?, c.u32("header")?);
        let cr = if hdr_len >= 32 {
            (c.u32("header")?, c.u32("header")?)
        } else {
            (0, 0)
        };
        let body = &data[hdr_len as usize..];
        let strings = &btf.strings;
        let string = |c: &Cursor, off: u32| -> Result<String, ObjectError> {
            string_at(strings, off).map(str::to_string).ok_or_else(|| {
                c.err(format!(
                    "string offset {off} is outside the BTF string section"
                ))
            })
        };

        let mut ext = BtfExt::default();
        for_each_record(body, hdr_len as usize, fi, 8, "func_info", |c, section| {
            ext.func_info.push(FuncInfo {
                section: string(c, section)?,
                insn_off: c.u32("func_info")?,
                type_id: c.u32("func_info")?,
            });
            Ok(())
        })?;
        for_each_record(body, hdr_len as usize, li, 16, "line_info", |c, section| {
            let insn_off = c.u32("line_info")?;
            let file = c.u32("line_info")?;
            let text = c.u32("line_info")?;
            let line_col = c.u32("line_info")?;
            ext.line_info.push(LineInfo {
                section: string(c, section)?,
                insn_off,
                file: string(c, file)?,
                line_text: string(c, text)?,
                line: line_col >> 10,
                column: line_col & 0x3ff,
                file_name_off: file,
                line_off: text,
            });
            Ok(())
        })?;
        for_each_record(body, hdr_len as usize, cr, 16, "core_relo", |c, section| {
            let insn_off = c.u32("core_relo")?;
            let type_id = c.u32("core_relo")?;
            let access = c.u32("core_relo")?;
            let kind = c.u32("core_relo")?;
            ext.core_relos.push(CoreRelo {
                section: string(c, section)?,
                insn_off,
                type_id,
                access: string(c, access)?,
                kind: CoreReloKind::from_u32(kind)
                    .ok_or_else(|| c.err(format!("unknown CO-RE relocation kind {kind}")))?,
            });
            Ok(())
        })?;
        Ok(ext)
    }
}

/// Walk one info sub-section: `rec_size`, then groups of
/// `{sec_name_off, num_info, records...}`; `f` reads one record (the
/// cursor is advanced to the next record afterwards whatever it read).
fn for_each_record(
    body: &[u8],
    hdr_len: usize,
    (off, len): (u32, u32),
    min_rec: u32,
    what: &str,
    mut f: impl FnMut(&mut Cursor, u32) -> Result<(), ObjectError>,
) -> Result<(), ObjectError> {
    if len == 0 {
        return Ok(());
    }
    let start = off as usize;
    let data = start
        .checked_add(len as usize)
        .and_then(|end| body.get(start..end))
        .ok_or_else(|| {
            ObjectError::btf_ext(hdr_len + start, format!("{what} lies outside the section"))
        })?;
    let mut c = Cursor::new(data, hdr_len + start, true);
    let rec_size = c.u32(what)?;
    if rec_size < min_rec || rec_size % 4 != 0 {
        return Err(c.err(format!(
            "{what} record size {rec_size} is invalid (at least {min_rec})"
        )));
    }
    while !c.at_end() {
        let section = c.u32(what)?;
        let num = c.u32(what)?;
        for _ in 0..num {
            let rec_start = c.pos;
            f(&mut c, section)?;
            c.pos = rec_start + rec_size as usize;
            if c.pos > data.len() {
                return Err(c.err(format!("truncated {what} record")));
            }
        }
    }
    Ok(())
}
