//! The ELF container: sections, symbols and relocations read with the
//! `object` crate into plain owned tables, so the rest of the loader never
//! touches raw headers and every bounds check happens here, once.

use object::elf;
use object::read::elf::{FileHeader, Rel as _, Rela as _, SectionHeader as _, Sym as _};
use object::LittleEndian as LE;

use crate::error::ObjectError;

/// `R_BPF_64_64`: the 64-bit immediate of an `lddw` (maps, globals, function addresses).
pub const R_BPF_64_64: u32 = 1;
/// `R_BPF_64_ABS64`: a 64-bit data word (DWARF, `.maps` initial values).
pub const R_BPF_64_ABS64: u32 = 2;
/// `R_BPF_64_32`: the 32-bit immediate of a `call` (pc-relative, in instructions).
pub const R_BPF_64_32: u32 = 10;

/// One section, with its contents borrowed from the file.
#[derive(Debug, Clone)]
pub(crate) struct ElfSection<'a> {
    /// Index in the section header table.
    pub index: usize,
    /// Name from the section header string table.
    pub name: String,
    /// `sh_type`.
    pub sh_type: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_size` (also for `SHT_NOBITS`, which has no bytes in the file).
    pub size: u64,
    /// The bytes (empty for `SHT_NOBITS`).
    pub data: &'a [u8],
    /// Relocations that apply to this section, in file order.
    pub relocs: Vec<ElfReloc>,
}

impl ElfSection<'_> {
    /// Executable code (`SHT_PROGBITS` with `SHF_EXECINSTR`).
    pub fn is_code(&self) -> bool {
        self.sh_type == elf::SHT_PROGBITS && self.flags & u64::from(elf::SHF_EXECINSTR) != 0
    }
}

/// One symbol of `.symtab`.
#[derive(Debug, Clone)]
pub(crate) struct ElfSymbol {
    /// Name (empty for section symbols; use the section's name then).
    pub name: String,
    /// `st_value`: for defined symbols, the offset within their section.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
    /// `STT_*`.
    pub kind: u8,
    /// `STB_*`.
    pub bind: u8,
    /// The defining section's index, `None` for undefined/absolute/common symbols.
    pub section: Option<usize>,
}

/// One relocation entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ElfReloc {
    /// Byte offset within the section it applies to.
    pub offset: u64,
    /// Index into the symbol table.
    pub symbol: usize,
    /// `R_BPF_*`.
    pub rtype: u32,
}

/// A parsed ELF file: every section and symbol.
#[derive(Debug, Clone)]
pub(crate) struct ElfFile<'a> {
    /// `e_machine` (247 or 0).
    pub machine: u16,
    /// All sections, by index (index 0 is the null section).
    pub sections: Vec<ElfSection<'a>>,
    /// All symbols, by index (index 0 is the null symbol).
    pub symbols: Vec<ElfSymbol>,
}

impl<'a> ElfFile<'a> {
    /// Read the section and symbol tables of `data`.
    pub fn parse(data: &'a [u8]) -> Result<ElfFile<'a>, ObjectError> {
        let ident = data
            .get(..16)
            .ok_or_else(|| ObjectError::Elf("file shorter than the ELF identification".into()))?;
        if ident[..4] != elf::ELFMAG {
            return Err(ObjectError::Elf("missing \\x7fELF magic".into()));
        }
        if ident[4] != elf::ELFCLASS64 {
            return Err(ObjectError::Format("not ELFCLASS64"));
        }
        if ident[5] != elf::ELFDATA2LSB {
            return Err(ObjectError::Format("not little-endian (ELFDATA2LSB)"));
        }
        let header = elf::FileHeader64::<LE>::parse(data)
            .map_err(|e| ObjectError::Elf(format!("ELF header: {e}")))?;
        let endian = header.endian()?;
        let machine = header.e_machine(endian);
        if machine != elf::EM_BPF && machine != elf::EM_NONE {
            return Err(ObjectError::Machine(machine));
        }
        let table = header
            .sections(endian, data)
            .map_err(|e| ObjectError::Elf(format!("section header table: {e}")))?;

        let mut sections = Vec::with_capacity(table.len());
        for (index, sh) in table.iter().enumerate() {
            let name = String::from_utf8_lossy(
                table
                    .section_name(endian, sh)
                    .map_err(|e| ObjectError::Elf(format!("section header {index}: name: {e}")))?,
            )
            .into_owned();
            let sh_type = sh.sh_type(endian);
            let bytes = if sh_type == elf::SHT_NOBITS {
                &[][..]
            } else {
                sh.data(endian, data)
                    .map_err(|_| ObjectError::section(&name, "contents lie outside the file"))?
            };
            sections.push(ElfSection {
                index,
                name,
                sh_type,
                flags: sh.sh_flags(endian),
                size: sh.sh_size(endian),
                data: bytes,
                relocs: Vec::new(),
            });
        }

        let mut symbols = Vec::new();
        let symtab = table
            .symbols(endian, data, elf::SHT_SYMTAB)
            .map_err(|e| ObjectError::Elf(format!("symbol table: {e}")))?;
        for (index, sym) in symtab.iter().enumerate() {
            let name = String::from_utf8_lossy(
                symtab
                    .symbol_name(endian, sym)
                    .map_err(|e| ObjectError::Elf(format!("symbol #{index}: name: {e}")))?,
            )
            .into_owned();
            let shndx = sym.st_shndx(endian);
            let section = match shndx {
                elf::SHN_UNDEF => None,
                s if s >= elf::SHN_LORESERVE => None,
                s => Some(usize::from(s)),
            };
            if let Some(s) = section {
                if s >= sections.len() {
                    return Err(ObjectError::Elf(format!(
                        "symbol `{name}` refers to section {s}, but there are only {}",
                        sections.len()
                    )));
                }
            }
            symbols.push(ElfSymbol {
                name,
                value: sym.st_value(endian),
                size: sym.st_size(endian),
                kind: sym.st_type(),
                bind: sym.st_bind(),
                section,
            });
        }

        for (index, sh) in table.iter().enumerate() {
            let sh_type = sh.sh_type(endian);
            if sh_type != elf::SHT_REL && sh_type != elf::SHT_RELA {
                continue;
            }
            let target = sh.sh_info(endian) as usize;
            let rel_name = sections[index].name.clone();
            if target == 0 || target >= sections.len() {
                return Err(ObjectError::section(
                    &rel_name,
                    format!("relocation section applies to section {target}, which does not exist"),
                ));
            }
            let mut relocs = Vec::new();
            let bad =
                |_| ObjectError::section(&rel_name, "relocation entries lie outside the file");
            if sh_type == elf::SHT_REL {
                let rels: &[elf::Rel64<LE>] = sh.data_as_array(endian, data).map_err(bad)?;
                for r in rels {
                    relocs.push(ElfReloc {
                        offset: r.r_offset(endian),
                        symbol: r.r_sym(endian) as usize,
                        rtype: r.r_type(endian),
                    });
                }
            } else {
                let rels: &[elf::Rela64<LE>] = sh.data_as_array(endian, data).map_err(bad)?;
                for r in rels {
                    relocs.push(ElfReloc {
                        offset: r.r_offset(endian),
                        symbol: r.r_sym(endian, false) as usize,
                        rtype: r.r_type(endian, false),
                    });
                }
            }
            for r in &relocs {
                if r.symbol >= symbols.len() {
                    return Err(ObjectError::Reloc {
                        section: sections[target].name.clone(),
                        offset: r.offset,
                        symbol: format!("#{}", r.symbol),
                        what: format!("symbol index out of range ({} symbols)", symbols.len()),
                    });
                }
            }
            sections[target].relocs.extend(relocs);
        }

        Ok(ElfFile {
            machine,
            sections,
            symbols,
        })
    }

    /// The section with this name, if any.
    pub fn section_by_name(&self, name: &str) -> Option<&ElfSection<'a>> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The name to show for a symbol: its own, or its section's for section symbols.
    pub fn symbol_display_name(&self, index: usize) -> String {
        let sym = &self.symbols[index];
        if sym.name.is_empty() {
            if let Some(s) = sym.section {
                return self.sections[s].name.clone();
            }
        }
        sym.name.clone()
    }
}
