//! Linking: turning one function of a code section into a runnable
//! program, the way libbpf does. Every function it calls (`call` with
//! `src_reg = 1`) or takes the address of (`lddw` with a relocation
//! against code: `BPF_PSEUDO_FUNC`) is appended after the caller's code,
//! once per program, transitively, and the call immediates are rewritten
//! to the new distances. `lddw` of maps and globals become map references.
//!
//! Two forms of call relocation come out of clang: against the function's
//! own symbol (`imm = -1`, target = `st_value / 8`) and against the
//! section symbol with the target encoded in the immediate (`imm =
//! target - pc - 1` relative to the section). Both give
//! `target = st_value / 8 + imm + 1`. For `lddw` of a function the
//! immediate is a byte addend: `target = (st_value + imm) / 8`.

use std::collections::HashMap;

use ebee_isa::{decode_program, Imm64Kind, RawInsn};
use object::elf;

use crate::btf::BtfExt;
use crate::elf::{ElfFile, ElfReloc};
use crate::error::ObjectError;
use crate::program::{FuncStart, LinkedFunction, Program, ProgramCoreRelo, SourceLine};
use crate::reloc::{Reloc, RelocKind};
use crate::section::SectionKind;

const CALL: u8 = 0x85; // BPF_JMP | BPF_CALL
const LDDW: u8 = 0x18; // BPF_LD | BPF_IMM | BPF_DW
const PSEUDO_CALL: u8 = 1;

/// A function of a code section.
#[derive(Debug, Clone)]
pub(crate) struct Function {
    pub name: String,
    /// Index of its code section in the ELF file.
    pub section: usize,
    /// First slot within the section.
    pub start: usize,
    /// Number of slots.
    pub len: usize,
    pub global: bool,
}

/// A code section's slots and relocations by slot.
pub(crate) struct CodeSection {
    pub slots: Vec<RawInsn>,
    pub relocs: HashMap<usize, ElfReloc>,
    /// Indices into the function table, sorted by start.
    pub functions: Vec<usize>,
}

/// Where a map symbol resolves: `(section index, offset) → map index`,
/// and global data sections → map index.
#[derive(Default)]
pub(crate) struct MapLookup {
    pub by_symbol: HashMap<(usize, u64), usize>,
    pub by_global_section: HashMap<usize, usize>,
}

pub(crate) struct Linker<'o, 'a> {
    pub elf: &'o ElfFile<'a>,
    pub functions: &'o [Function],
    pub code: &'o HashMap<usize, CodeSection>,
    pub maps: &'o MapLookup,
    pub ext: Option<&'o BtfExt>,
}

impl Linker<'_, '_> {
    fn section_name(&self, s: usize) -> &str {
        &self.elf.sections[s].name
    }

    /// The function of section `section` containing slot `slot`.
    fn function_at(&self, section: usize, slot: usize) -> Option<usize> {
        let cs = self.code.get(&section)?;
        cs.functions.iter().copied().find(|&f| {
            slot >= self.functions[f].start
                && slot < self.functions[f].start + self.functions[f].len
        })
    }

    /// Link function `entry` into a program.
    pub fn link(&self, entry: usize, text_index: Option<usize>) -> Result<Program, ObjectError> {
        let f = &self.functions[entry];
        let cs = &self.code[&f.section];
        let mut code: Vec<RawInsn> = cs.slots[f.start..f.start + f.len].to_vec();
        // (function index, base pc) of every function placed, in order.
        let mut placed: Vec<(usize, usize)> = vec![(entry, 0)];
        let mut relocs = Vec::new();
        let prog_name = f.name.clone();
        let prog_section = self.section_name(f.section).to_string();
        let insn_err = |pc: usize, what: String| ObjectError::Insn {
            program: prog_name.clone(),
            section: prog_section.clone(),
            pc,
            what,
        };

        // Depth first, like libbpf: a function appended for a call is
        // relocated before the caller's scan resumes, so that subprograms
        // land where libbpf puts them. (An explicit stack: no recursion
        // depth for hostile call chains.)
        let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
        'functions: while let Some((pi, mut off)) = stack.pop() {
            let (cur, base) = placed[pi];
            while off < self.functions[cur].len {
                let pc = base + off;
                let mut descend = None;
                let cur_f = &self.functions[cur];
                let sec_slot = cur_f.start + (pc - base);
                let cur_cs = &self.code[&cur_f.section];
                let reloc = cur_cs.relocs.get(&sec_slot).copied();
                let raw = code[pc];
                let rel_err = |r: &ElfReloc, what: String| ObjectError::Reloc {
                    section: self.section_name(cur_f.section).to_string(),
                    offset: r.offset,
                    symbol: self.elf.symbol_display_name(r.symbol),
                    what,
                };

                // Where a local call / function address points: (section, slot).
                let mut local_target: Option<(usize, usize, bool)> = None;
                if raw.code == CALL && raw.src == PSEUDO_CALL {
                    let target = match reloc {
                        Some(r) if self.elf.symbols[r.symbol].section.is_none() => {
                            // A function the object does not define: only a
                            // linker of several objects could resolve it.
                            relocs.push(Reloc {
                                pc,
                                kind: RelocKind::Extern {
                                    symbol: self.elf.symbols[r.symbol].name.clone(),
                                    call: true,
                                },
                            });
                            None
                        }
                        Some(r) => {
                            let sym = &self.elf.symbols[r.symbol];
                            let Some(sec) = sym.section.filter(|s| self.code.contains_key(s))
                            else {
                                return Err(rel_err(
                                &r,
                                format!(
                                    "call relocation against a symbol of section `{}`, which holds no code",
                                    self.section_name(sym.section.unwrap_or(0))
                                ),
                            ));
                            };
                            if r.rtype != crate::elf::R_BPF_64_32
                                && r.rtype != crate::elf::R_BPF_64_64
                            {
                                return Err(rel_err(
                                    &r,
                                    format!(
                                        "relocation type {} on a call (expected R_BPF_64_32)",
                                        r.rtype
                                    ),
                                ));
                            }
                            if !sym.value.is_multiple_of(8) {
                                return Err(rel_err(
                                    &r,
                                    format!(
                                        "call target offset {:#x} is not a multiple of 8",
                                        sym.value
                                    ),
                                ));
                            }
                            Some((sec, sym.value as i64 / 8 + i64::from(raw.imm) + 1))
                        }
                        None => Some((cur_f.section, sec_slot as i64 + i64::from(raw.imm) + 1)),
                    };
                    if let Some((sec, slot)) = target {
                        local_target =
                            Some((sec, usize::try_from(slot).unwrap_or(usize::MAX), true));
                    }
                } else if raw.code == LDDW {
                    if off + 1 >= self.functions[cur].len {
                        return Err(insn_err(
                            pc,
                            "lddw without its second slot at the end of the function".into(),
                        ));
                    }
                    if let Some(r) = reloc {
                        let sym = &self.elf.symbols[r.symbol];
                        if r.rtype != crate::elf::R_BPF_64_64 {
                            return Err(rel_err(
                                &r,
                                format!(
                                    "relocation type {} on lddw (expected R_BPF_64_64)",
                                    r.rtype
                                ),
                            ));
                        }
                        match sym.section {
                            Some(sec) if self.code.contains_key(&sec) => {
                                let byte = (sym.value as i64).wrapping_add(i64::from(raw.imm));
                                if byte % 8 != 0 || byte < 0 {
                                    return Err(rel_err(
                                        &r,
                                        format!(
                                        "function address offset {byte:#x} is not an instruction"
                                    ),
                                    ));
                                }
                                local_target = Some((sec, (byte / 8) as usize, false));
                            }
                            Some(sec) => {
                                let kind = if let Some(&map) = self.maps.by_global_section.get(&sec)
                                {
                                    let off =
                                        (sym.value as i64).wrapping_add(i64::from(raw.imm as u32));
                                    let offset = u32::try_from(off).map_err(|_| {
                                        rel_err(&r, format!("global offset {off} out of range"))
                                    })?;
                                    code[pc].src = Imm64Kind::MapIdxValue.src();
                                    code[pc].imm = map as i32;
                                    code[pc + 1].imm = offset as i32;
                                    RelocKind::MapValue { map, offset }
                                } else {
                                    let off = if sym.kind == elf::STT_SECTION {
                                        sym.value.wrapping_add(i64::from(raw.imm) as u64)
                                    } else {
                                        sym.value
                                    };
                                    let Some(&map) = self.maps.by_symbol.get(&(sec, off)) else {
                                        return Err(rel_err(
                                        &r,
                                        format!(
                                            "lddw refers to offset {off:#x} of section `{}`, which is no map, global data or code",
                                            self.section_name(sec)
                                        ),
                                    ));
                                    };
                                    code[pc].src = Imm64Kind::MapIdx.src();
                                    code[pc].imm = map as i32;
                                    code[pc + 1].imm = 0;
                                    RelocKind::Map { map }
                                };
                                relocs.push(Reloc { pc, kind });
                            }
                            None => relocs.push(Reloc {
                                pc,
                                kind: RelocKind::Extern {
                                    symbol: sym.name.clone(),
                                    call: false,
                                },
                            }),
                        }
                    }
                } else if let Some(r) = reloc {
                    let sym = &self.elf.symbols[r.symbol];
                    if raw.code == CALL && sym.section.is_none() {
                        relocs.push(Reloc {
                            pc,
                            kind: RelocKind::Extern {
                                symbol: sym.name.clone(),
                                call: true,
                            },
                        });
                    } else {
                        return Err(rel_err(
                            &r,
                            format!(
                            "relocation type {} on an instruction (opcode {:#04x}) that takes none",
                            r.rtype, raw.code
                        ),
                        ));
                    }
                }

                if let Some((sec, slot, is_call)) = local_target {
                    let Some(g) = self.function_at(sec, slot) else {
                        return Err(insn_err(
                            pc,
                            format!(
                            "{} target is slot {slot} of section `{}`, which is inside no function",
                            if is_call { "call" } else { "function address" },
                            self.section_name(sec)
                        ),
                        ));
                    };
                    let gbase = match placed.iter().find(|p| p.0 == g) {
                        Some(&(_, b)) => b,
                        None => {
                            let gf = &self.functions[g];
                            let b = code.len();
                            code.extend_from_slice(
                                &self.code[&gf.section].slots[gf.start..gf.start + gf.len],
                            );
                            placed.push((g, b));
                            descend = Some(placed.len() - 1);
                            b
                        }
                    };
                    let gf = &self.functions[g];
                    let target_pc = gbase + (slot - gf.start);
                    let rel = target_pc as i64 - (pc as i64 + 1);
                    code[pc].imm = i32::try_from(rel)
                        .map_err(|_| insn_err(pc, "call distance overflows".into()))?;
                    if !is_call {
                        code[pc].src = Imm64Kind::Func.src();
                        code[pc + 1].imm = 0;
                    }
                    let function = gf.name.clone();
                    relocs.push(Reloc {
                        pc,
                        kind: if is_call {
                            RelocKind::Call {
                                function,
                                target_pc,
                            }
                        } else {
                            RelocKind::FuncAddr {
                                function,
                                target_pc,
                            }
                        },
                    });
                }
                off += if raw.code == LDDW { 2 } else { 1 };
                if let Some(npi) = descend {
                    stack.push((pi, off));
                    stack.push((npi, 0));
                    continue 'functions;
                }
            }
        }
        relocs.sort_by_key(|r| r.pc);

        let insns = decode_program(&code).map_err(|e| insn_err(e.pc, e.kind.to_string()))?;
        let functions: Vec<LinkedFunction> = placed
            .iter()
            .map(|&(g, base)| {
                let gf = &self.functions[g];
                LinkedFunction {
                    name: gf.name.clone(),
                    section: self.section_name(gf.section).to_string(),
                    start: base,
                    len: gf.len,
                }
            })
            .collect();

        let (mut lines, mut func_info, mut core_relos) = (Vec::new(), Vec::new(), Vec::new());
        if let Some(ext) = self.ext {
            // Map a (section name, byte offset) to a pc of this program.
            let to_pc = |section: &str, off: u32| -> Option<usize> {
                if !off.is_multiple_of(8) {
                    return None;
                }
                let slot = off as usize / 8;
                placed.iter().find_map(|&(g, base)| {
                    let gf = &self.functions[g];
                    (self.section_name(gf.section) == section
                        && slot >= gf.start
                        && slot < gf.start + gf.len)
                        .then(|| base + slot - gf.start)
                })
            };
            for l in &ext.line_info {
                if let Some(pc) = to_pc(&l.section, l.insn_off) {
                    lines.push(SourceLine {
                        pc,
                        file: l.file.clone(),
                        line_text: l.line_text.clone(),
                        line: l.line,
                        column: l.column,
                        file_name_off: l.file_name_off,
                        line_off: l.line_off,
                    });
                }
            }
            for fi in &ext.func_info {
                if let Some(pc) = to_pc(&fi.section, fi.insn_off) {
                    func_info.push(FuncStart {
                        pc,
                        type_id: fi.type_id,
                    });
                }
            }
            for c in &ext.core_relos {
                if let Some(pc) = to_pc(&c.section, c.insn_off) {
                    core_relos.push(ProgramCoreRelo {
                        pc,
                        type_id: c.type_id,
                        access: c.access.clone(),
                        kind: c.kind,
                    });
                }
            }
            lines.sort_by_key(|l| l.pc);
            func_info.sort_by_key(|f| f.pc);
            core_relos.sort_by_key(|c| c.pc);
        }

        Ok(Program {
            name: f.name.clone(),
            section: prog_section.clone(),
            kind: SectionKind::from_section_name(&prog_section),
            subprogram: Some(f.section) == text_index,
            global: f.global,
            insns,
            relocs,
            functions,
            lines,
            func_info,
            core_relos,
        })
    }
}
