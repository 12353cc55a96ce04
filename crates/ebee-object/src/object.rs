//! [`Object`]: everything an eBPF ELF object defines (programs, maps,
//! globals, license, kernel version, BTF), parsed in one pass.

use std::collections::HashMap;

use ebee_isa::RawInsn;
use object::elf;

use crate::btf::{Btf, BtfExt, TypeKind};
use crate::elf::{ElfFile, ElfSection};
use crate::error::ObjectError;
use crate::extern_sym::Extern;
use crate::link::{CodeSection, Function, Linker, MapLookup};
use crate::map_def::{GlobalKind, MapDef, MapOrigin, MapSlot, SlotTarget};
use crate::program::Program;

/// A parsed eBPF object file.
#[derive(Debug, Clone)]
pub struct Object {
    machine: u16,
    programs: Vec<Program>,
    maps: Vec<MapDef>,
    license: Option<String>,
    kernel_version: Option<u32>,
    btf: Option<Btf>,
    btf_ext: Option<BtfExt>,
    externs: Vec<Extern>,
}

impl Object {
    /// Parse an ELF object as clang or rustc emit it for the `bpf` target.
    ///
    /// Every function symbol of every code section becomes a [`Program`]
    /// (`.text` functions too, flagged [`Program::subprogram`]), with the
    /// subprograms it calls linked in. Sections without function symbols
    /// (old compilers) are one program named after the section.
    pub fn parse(data: &[u8]) -> Result<Object, ObjectError> {
        let elf = ElfFile::parse(data)?;

        let license = elf.section_by_name("license").map(|s| {
            let end = s.data.iter().position(|&b| b == 0).unwrap_or(s.data.len());
            String::from_utf8_lossy(&s.data[..end]).into_owned()
        });
        let kernel_version = match elf.section_by_name("version") {
            Some(s) => {
                let b: [u8; 4] =
                    s.data
                        .get(..4)
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| {
                            ObjectError::section(
                                "version",
                                format!("{} bytes, expected 4", s.data.len()),
                            )
                        })?;
                Some(u32::from_le_bytes(b))
            }
            None => None,
        };

        let btf = match elf.section_by_name(".BTF") {
            Some(s) => {
                let mut btf =
                    Btf::parse(s.data).map_err(|e| ObjectError::section(".BTF", e.to_string()))?;
                // clang leaves DATASEC sizes and variable offsets at 0.
                btf.fix_datasecs(
                    |name| {
                        elf.section_by_name(name)
                            .and_then(|s| u32::try_from(s.size).ok())
                    },
                    |sec, var| {
                        let s = elf.section_by_name(sec)?;
                        elf.symbols
                            .iter()
                            .find(|y| y.section == Some(s.index) && y.name == var)
                            .and_then(|y| u32::try_from(y.value).ok())
                    },
                );
                Some(btf)
            }
            None => None,
        };
        let btf_ext = match (elf.section_by_name(".BTF.ext"), &btf) {
            (Some(s), Some(b)) => Some(
                BtfExt::parse(s.data, b)
                    .map_err(|e| ObjectError::section(".BTF.ext", e.to_string()))?,
            ),
            _ => None,
        };

        let mut maps = Vec::new();
        let mut lookup = MapLookup::default();
        legacy_maps(&elf, &mut maps, &mut lookup)?;
        btf_maps(&elf, btf.as_ref(), &mut maps, &mut lookup)?;
        global_maps(&elf, btf.as_ref(), &mut maps, &mut lookup)?;
        struct_ops_maps(&elf, btf.as_ref(), &mut maps, &mut lookup)?;
        resolve_legacy_inner(&mut maps);

        let (functions, code) = functions(&elf)?;
        let text_index = elf.section_by_name(".text").map(|s| s.index);
        let linker = Linker {
            elf: &elf,
            functions: &functions,
            code: &code,
            maps: &lookup,
            ext: btf_ext.as_ref(),
        };
        let mut programs = Vec::with_capacity(functions.len());
        for i in 0..functions.len() {
            programs.push(linker.link(i, text_index)?);
        }

        let externs = crate::extern_sym::externs(&elf, btf.as_ref());
        Ok(Object {
            externs,
            machine: elf.machine,
            programs,
            maps,
            license,
            kernel_version,
            btf,
            btf_ext,
        })
    }

    /// Every program, in section then offset order (including `.text`
    /// functions, flagged [`Program::subprogram`]).
    pub fn programs(&self) -> &[Program] {
        &self.programs
    }

    /// The programs a loader loads: those outside `.text` (or, in an
    /// object with nothing but `.text`, its functions: old objects and
    /// PREVAIL's test programs are built that way).
    pub fn entry_programs(&self) -> impl Iterator<Item = &Program> {
        let only_text = self.programs.iter().all(|p| p.subprogram);
        self.programs
            .iter()
            .filter(move |p| only_text || !p.subprogram)
    }

    /// Mutable programs (CO-RE patching, tests).
    pub(crate) fn programs_mut(&mut self) -> &mut [Program] {
        &mut self.programs
    }

    /// The program `name` of section `section` (names can repeat across
    /// sections: static functions, old objects named after their section).
    pub fn program_in(&self, section: &str, name: &str) -> Option<&Program> {
        self.programs
            .iter()
            .find(|p| p.section == section && p.name == name)
    }

    /// The first program with this function name.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Every map: legacy `maps` definitions, then BTF `.maps`, then one per
    /// global data section, then `struct_ops` variables. Map references in programs index this list.
    pub fn maps(&self) -> &[MapDef] {
        &self.maps
    }

    /// The map with this name (section name for globals: `.rodata`).
    pub fn map(&self, name: &str) -> Option<(usize, &MapDef)> {
        self.maps.iter().enumerate().find(|(_, m)| m.name == name)
    }

    /// For a `struct_ops` program: the map it implements a member of and
    /// the member's index in the struct (the kernel wants that index as the
    /// program's expected attach type).
    pub fn struct_ops_member(&self, program: &str) -> Option<(usize, u32)> {
        let btf = self.btf.as_ref()?;
        self.maps.iter().enumerate().find_map(|(i, m)| {
            if !matches!(m.origin, MapOrigin::StructOps { .. }) {
                return None;
            }
            let slot = m
                .slots
                .iter()
                .find(|s| s.target == SlotTarget::Program(program.to_string()))?;
            let members = btf.type_by_id(m.btf_value_type_id?)?.members()?;
            let idx = members
                .iter()
                .position(|f| f.bit_offset == slot.index * 8)?;
            Some((i, idx as u32))
        })
    }

    /// The `license` section's string (`"GPL"`, `"Dual BSD/GPL"`...).
    pub fn license(&self) -> Option<&str> {
        self.license.as_deref()
    }

    /// The `version` section (`LINUX_VERSION_CODE` for old kprobe loaders).
    pub fn kernel_version(&self) -> Option<u32> {
        self.kernel_version
    }

    /// The object's BTF, if it has a `.BTF` section.
    pub fn btf(&self) -> Option<&Btf> {
        self.btf.as_ref()
    }

    /// The object's `.BTF.ext` records, if any.
    pub fn btf_ext(&self) -> Option<&BtfExt> {
        self.btf_ext.as_ref()
    }

    /// Symbols the object uses but does not define (kfuncs, `__ksym`,
    /// `__kconfig`); [`crate::RelocKind::Extern`] relocations name them.
    pub fn externs(&self) -> &[Extern] {
        &self.externs
    }

    /// `e_machine`: 247 (`EM_BPF`) or 0 for old objects.
    pub fn machine(&self) -> u16 {
        self.machine
    }
}

fn symbols_in<'e>(
    elf: &'e ElfFile<'_>,
    section: usize,
) -> impl Iterator<Item = (usize, &'e crate::elf::ElfSymbol)> {
    elf.symbols.iter().enumerate().filter(move |(_, s)| {
        s.section == Some(section) && s.kind != elf::STT_SECTION && !s.name.is_empty()
    })
}

fn symbol_err(
    sec: &ElfSection<'_>,
    name: &str,
    offset: u64,
    what: impl Into<String>,
) -> ObjectError {
    ObjectError::Symbol {
        section: sec.name.clone(),
        symbol: name.to_string(),
        offset,
        what: what.into(),
    }
}

/// The legacy `maps` section: one `struct bpf_map_def` (or longer) per symbol.
fn legacy_maps(
    elf: &ElfFile<'_>,
    maps: &mut Vec<MapDef>,
    lookup: &mut MapLookup,
) -> Result<(), ObjectError> {
    for sec in &elf.sections {
        if sec.name != "maps" && !sec.name.starts_with("maps/") {
            continue;
        }
        let mut syms: Vec<_> = symbols_in(elf, sec.index)
            .filter(|(_, s)| s.kind != elf::STT_FUNC && s.kind != elf::STT_FILE)
            .collect();
        syms.sort_by_key(|(_, s)| s.value);
        if syms.is_empty() {
            if sec.size != 0 {
                return Err(ObjectError::section(
                    &sec.name,
                    "map definitions without symbols naming them",
                ));
            }
            continue;
        }
        if sec.data.len() as u64 != sec.size {
            return Err(ObjectError::section(
                &sec.name,
                "legacy map section has no contents",
            ));
        }
        let n = syms.len() as u64;
        if sec.size % n != 0 {
            return Err(ObjectError::section(
                &sec.name,
                format!("size {} is not a multiple of its {n} map symbols", sec.size),
            ));
        }
        let def_size = sec.size / n;
        if def_size < 16 {
            return Err(ObjectError::section(
                &sec.name,
                format!("map definitions of {def_size} bytes are shorter than struct bpf_map_def's first 4 fields"),
            ));
        }
        for (_, s) in syms {
            if !s.value.is_multiple_of(def_size)
                || s.value
                    .checked_add(def_size)
                    .is_none_or(|end| end > sec.size)
            {
                return Err(symbol_err(
                    sec,
                    &s.name,
                    s.value,
                    format!(
                        "map symbol is not at a multiple of the {def_size}-byte definition size"
                    ),
                ));
            }
            let def = &sec.data[s.value as usize..(s.value + def_size) as usize];
            lookup.by_symbol.insert((sec.index, s.value), maps.len());
            maps.push(MapDef::legacy(&s.name, &sec.name, s.value, def));
        }
    }
    Ok(())
}

/// BTF-defined maps: the variables of the `.maps` DATASEC.
fn btf_maps(
    elf: &ElfFile<'_>,
    btf: Option<&Btf>,
    maps: &mut Vec<MapDef>,
    lookup: &mut MapLookup,
) -> Result<(), ObjectError> {
    let Some(sec) = elf.section_by_name(".maps") else {
        return Ok(());
    };
    let Some(btf) = btf else {
        return Err(ObjectError::section(
            ".maps",
            "BTF-defined maps need a .BTF section, and there is none",
        ));
    };
    let Some(ds) = btf.id_by_name_kind(".maps", "DATASEC") else {
        return Err(ObjectError::section(".maps", "no `.maps` DATASEC in BTF"));
    };
    let TypeKind::Datasec { vars, .. } = &btf.types()[ds as usize].kind else {
        unreachable!("id_by_name_kind returned a DATASEC")
    };
    let syms: HashMap<&str, u64> = symbols_in(elf, sec.index)
        .map(|(_, s)| (s.name.as_str(), s.value))
        .collect();
    let first = maps.len();
    for v in vars {
        let Some(t) = btf.type_by_id(v.ty) else {
            continue;
        };
        let TypeKind::Var { ty, .. } = t.kind else {
            return Err(ObjectError::section(
                ".maps",
                format!(
                    "DATASEC entry `{}` is a {}, not a VAR",
                    t.name,
                    t.kind_name()
                ),
            ));
        };
        let offset = syms
            .get(t.name.as_str())
            .copied()
            .unwrap_or(u64::from(v.offset));
        let m = MapDef::from_btf(&t.name, &sec.name, offset, btf, ty)?;
        lookup.by_symbol.insert((sec.index, offset), maps.len());
        maps.push(m);
    }
    maps[first..].sort_by_key(|m| match m.origin {
        MapOrigin::Btf { offset } => offset,
        _ => 0,
    });
    for (i, m) in maps.iter().enumerate().skip(first) {
        if let MapOrigin::Btf { offset } = m.origin {
            lookup.by_symbol.insert((sec.index, offset), i);
        }
    }

    // `.values = { ... }`: relocations in `.maps` against programs or maps.
    for r in &sec.relocs {
        let sym = &elf.symbols[r.symbol];
        let err = |what: String| ObjectError::Reloc {
            section: ".maps".into(),
            offset: r.offset,
            symbol: sym.name.clone(),
            what,
        };
        let Some((mi, moff)) = maps
            .iter()
            .enumerate()
            .skip(first)
            .filter_map(|(i, m)| match m.origin {
                MapOrigin::Btf { offset } if offset <= r.offset => Some((i, offset)),
                _ => None,
            })
            .next_back()
        else {
            return Err(err("relocation before the first map".into()));
        };
        // Older clang writes R_BPF_64_64 here, newer R_BPF_64_ABS64.
        if r.rtype != crate::elf::R_BPF_64_ABS64 && r.rtype != crate::elf::R_BPF_64_64 {
            return Err(err(format!(
                "relocation type {} (expected R_BPF_64_ABS64)",
                r.rtype
            )));
        }
        let values_off = values_member_offset(btf, &maps[mi].name).ok_or_else(|| {
            err(format!(
                "map `{}` has no `values` member to initialize",
                maps[mi].name
            ))
        })?;
        let rel = r.offset - moff;
        if rel < values_off || (rel - values_off) % 8 != 0 {
            return Err(err(format!(
                "relocation is not on a `values` slot of map `{}`",
                maps[mi].name
            )));
        }
        let index = u32::try_from((rel - values_off) / 8)
            .map_err(|_| err("slot index overflows".into()))?;
        let target = if sym.kind == elf::STT_FUNC {
            SlotTarget::Program(sym.name.clone())
        } else {
            SlotTarget::Map(sym.name.clone())
        };
        maps[mi].slots.push(MapSlot { index, target });
    }
    Ok(())
}

/// Byte offset of the `values` member of BTF map `name`'s definition.
fn values_member_offset(btf: &Btf, name: &str) -> Option<u64> {
    let var = btf
        .ids_by_name(name)
        .iter()
        .find(|&&id| matches!(btf.types()[id as usize].kind, TypeKind::Var { .. }))?;
    let TypeKind::Var { ty, .. } = btf.types()[*var as usize].kind else {
        return None;
    };
    let st = btf.type_by_id(btf.skip_modifiers(ty).ok()?)?;
    let m = st.members()?.iter().find(|m| m.name == "values")?;
    Some(u64::from(m.bit_offset / 8))
}

/// `.data`, `.rodata`, `.bss` and their `.name` variants as array maps.
fn global_maps(
    elf: &ElfFile<'_>,
    btf: Option<&Btf>,
    maps: &mut Vec<MapDef>,
    lookup: &mut MapLookup,
) -> Result<(), ObjectError> {
    for sec in &elf.sections {
        if sec.flags & u64::from(elf::SHF_ALLOC) == 0 || sec.is_code() {
            continue;
        }
        let is = |p: &str| sec.name == p || sec.name.starts_with(&format!("{p}."));
        let kind = if is(".data") {
            GlobalKind::Data
        } else if is(".rodata") {
            GlobalKind::Rodata
        } else if is(".bss") {
            GlobalKind::Bss
        } else {
            continue;
        };
        if sec.size == 0 {
            continue;
        }
        if kind != GlobalKind::Bss && sec.data.len() as u64 != sec.size {
            return Err(ObjectError::section(
                &sec.name,
                "initialized data section has no contents",
            ));
        }
        let mut m = MapDef::global(&sec.name, kind, sec.size, sec.data)?;
        m.btf_value_type_id = btf.and_then(|b| b.id_by_name_kind(&sec.name, "DATASEC"));
        // Like libbpf: mmap()able when the section holds a non-static
        // variable (string literals in `.rodata.str1.1` are not).
        let visible = match (btf, m.btf_value_type_id) {
            (Some(b), Some(ds)) => match &b.types()[ds as usize].kind {
                TypeKind::Datasec { vars, .. } => vars.iter().any(|v| {
                    matches!(b.type_by_id(v.ty).map(|t| &t.kind), Some(TypeKind::Var { linkage, .. }) if *linkage != 0)
                }),
                _ => false,
            },
            _ => false,
        };
        if visible {
            m.flags |= crate::map_def::BPF_F_MMAPABLE;
        }
        lookup.by_global_section.insert(sec.index, maps.len());
        maps.push(m);
    }
    Ok(())
}

/// `struct_ops` variables (`.struct_ops`, `.struct_ops.link`) as
/// `BPF_MAP_TYPE_STRUCT_OPS` maps, with the programs that implement their
/// function pointer members.
fn struct_ops_maps(
    elf: &ElfFile<'_>,
    btf: Option<&Btf>,
    maps: &mut Vec<MapDef>,
    lookup: &mut MapLookup,
) -> Result<(), ObjectError> {
    for sec in elf
        .sections
        .iter()
        .filter(|s| s.name == ".struct_ops" || s.name == ".struct_ops.link")
    {
        let Some(btf) = btf else {
            return Err(ObjectError::section(
                &sec.name,
                "struct_ops need BTF, and there is none",
            ));
        };
        let Some(ds) = btf.id_by_name_kind(&sec.name, "DATASEC") else {
            return Err(ObjectError::section(&sec.name, "no DATASEC for it in BTF"));
        };
        let TypeKind::Datasec { vars, .. } = &btf.types()[ds as usize].kind else {
            unreachable!("id_by_name_kind returned a DATASEC")
        };
        let first = maps.len();
        for v in vars {
            let Some(TypeKind::Var { ty, .. }) = btf.type_by_id(v.ty).map(|t| &t.kind) else {
                continue;
            };
            let name = &btf.types()[v.ty as usize].name;
            let size = btf.size_of(*ty)?;
            let (off, end) = (u64::from(v.offset), u64::from(v.offset) + size);
            let data = sec.data.get(off as usize..end as usize).ok_or_else(|| {
                ObjectError::section(
                    &sec.name,
                    format!(
                        "variable `{name}` ({size} bytes at {off:#x}) lies outside the section"
                    ),
                )
            })?;
            lookup.by_symbol.insert((sec.index, off), maps.len());
            maps.push(MapDef::struct_ops(
                name,
                &sec.name,
                off,
                btf.skip_modifiers(*ty)?,
                data,
            ));
        }
        for r in &sec.relocs {
            let sym = &elf.symbols[r.symbol];
            let err = |what: String| ObjectError::Reloc {
                section: sec.name.clone(),
                offset: r.offset,
                symbol: sym.name.clone(),
                what,
            };
            let Some(mi) = (first..maps.len()).rev().find(|&i| match maps[i].origin {
                MapOrigin::StructOps { offset } => offset <= r.offset,
                _ => false,
            }) else {
                return Err(err("relocation outside every struct_ops variable".into()));
            };
            if sym.kind != elf::STT_FUNC {
                return Err(err("struct_ops members can only point to programs".into()));
            }
            let MapOrigin::StructOps { offset } = maps[mi].origin else {
                unreachable!()
            };
            let index =
                u32::try_from(r.offset - offset).map_err(|_| err("offset overflows".into()))?;
            maps[mi].slots.push(MapSlot {
                index,
                target: SlotTarget::Program(sym.name.clone()),
            });
        }
    }
    Ok(())
}

/// Legacy map-in-map definitions name their inner template by index
/// (kernel samples: word 5) or by id (iproute2: `inner_id` matching another map's `id`).
fn resolve_legacy_inner(maps: &mut [MapDef]) {
    let legacy: Vec<usize> = (0..maps.len())
        .filter(|&i| matches!(maps[i].origin, MapOrigin::Legacy { .. }))
        .collect();
    for &i in &legacy {
        if !maps[i].map_type.is_map_in_map() {
            continue;
        }
        let MapOrigin::Legacy { def_size, .. } = maps[i].origin else {
            continue;
        };
        let extra = &maps[i].legacy_extra;
        let inner = if def_size >= 36 {
            let inner_id = extra.get(2).copied().unwrap_or(0);
            legacy.iter().copied().find(|&j| {
                j != i && inner_id != 0 && maps[j].legacy_extra.first() == Some(&inner_id)
            })
        } else {
            extra
                .first()
                .map(|&idx| idx as usize)
                .and_then(|idx| legacy.get(idx).copied())
        };
        maps[i].inner_index = inner;
    }
}

/// Every function of every code section, and the sections' slots.
fn functions(
    elf: &ElfFile<'_>,
) -> Result<(Vec<Function>, HashMap<usize, CodeSection>), ObjectError> {
    let mut functions = Vec::new();
    let mut code = HashMap::new();
    for sec in elf.sections.iter().filter(|s| s.is_code() && s.size > 0) {
        if sec.data.len() % RawInsn::SIZE != 0 {
            return Err(ObjectError::section(
                &sec.name,
                format!("code size {} is not a multiple of 8", sec.data.len()),
            ));
        }
        let slots: Vec<RawInsn> = sec
            .data
            .chunks_exact(8)
            .map(|c| RawInsn::from_bytes(c.try_into().expect("chunks of 8")))
            .collect();
        let nslots = slots.len();
        let mut relocs = HashMap::new();
        for r in &sec.relocs {
            if r.offset % 8 != 0 || r.offset / 8 >= nslots as u64 {
                return Err(ObjectError::Reloc {
                    section: sec.name.clone(),
                    offset: r.offset,
                    symbol: elf.symbol_display_name(r.symbol),
                    what: format!(
                        "offset is not an instruction of the {nslots}-instruction section"
                    ),
                });
            }
            relocs.insert((r.offset / 8) as usize, *r);
        }

        let mut syms: Vec<_> = symbols_in(elf, sec.index)
            .filter(|(_, s)| s.kind == elf::STT_FUNC)
            .collect();
        syms.sort_by_key(|(_, s)| s.value);
        let mut fns = Vec::new();
        if syms.is_empty() {
            fns.push(Function {
                name: sec.name.clone(),
                section: sec.index,
                start: 0,
                len: nslots,
                global: true,
            });
        }
        for (k, (_, s)) in syms.iter().enumerate() {
            if s.value % 8 != 0 {
                return Err(symbol_err(
                    sec,
                    &s.name,
                    s.value,
                    "function does not start on an instruction",
                ));
            }
            let size = if s.size == 0 {
                // No size: up to the next function or the section's end.
                syms.get(k + 1).map_or(sec.size, |(_, n)| n.value) - s.value
            } else {
                s.size
            };
            if size % 8 != 0
                || s.value.checked_add(size).is_none_or(|end| end > sec.size)
                || size == 0
            {
                return Err(symbol_err(
                    sec,
                    &s.name,
                    s.value,
                    format!("function size {size} does not fit the {}-byte section in whole instructions", sec.size),
                ));
            }
            if let Some((_, prev)) = k.checked_sub(1).map(|p| syms[p]) {
                let prev_size = if prev.size == 0 {
                    s.value - prev.value
                } else {
                    prev.size
                };
                if prev.value.saturating_add(prev_size) > s.value {
                    return Err(symbol_err(
                        sec,
                        &s.name,
                        s.value,
                        format!("function overlaps `{}`", prev.name),
                    ));
                }
            }
            fns.push(Function {
                name: s.name.clone(),
                section: sec.index,
                start: (s.value / 8) as usize,
                len: (size / 8) as usize,
                global: s.bind != elf::STB_LOCAL,
            });
        }
        let first = functions.len();
        functions.extend(fns);
        code.insert(
            sec.index,
            CodeSection {
                slots,
                relocs,
                functions: (first..functions.len()).collect(),
            },
        );
    }
    Ok((functions, code))
}
