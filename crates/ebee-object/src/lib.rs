//! eBPF ELF objects as clang and rustc emit them: programs, maps, globals,
//! relocations, BTF, BTF.ext and CO-RE.
//!
//! ```no_run
//! let bytes = std::fs::read("prog.o").unwrap();
//! let obj = ebee_object::Object::parse(&bytes).unwrap();
//! for p in obj.entry_programs() {
//!     println!("{} in {}: {:?}, {} insns", p.name, p.section, p.program_type(), p.insns.len());
//! }
//! for m in obj.maps() {
//!     println!("map {}: {:?} {}→{} x{}", m.name, m.map_type, m.key_size, m.value_size, m.max_entries);
//! }
//! ```
//!
//! # Running what an object defines
//!
//! - In ebee's runtime: [`Program::insns`] already refer to maps by their
//!   index in [`Object::maps`] (`Imm64Kind::MapIdx` / `MapIdxValue`).
//! - In the kernel: create the maps (global data maps carry their initial
//!   [`MapDef::data`] and [`MapDef::frozen`]), then
//!   [`Program::bind_maps`] with [`MapBinding::Fds`]; load the object's BTF
//!   ([`Btf::to_bytes`], DATASECs already fixed up) and pass
//!   [`program::FuncStart::to_kernel`] / [`SourceLine::to_kernel`] records.
//!   Resolve [`Object::externs`] and, first, CO-RE with
//!   [`Object::relocate_core`] against `/sys/kernel/btf/vmlinux`.
//!
//! The instructions are the ones libbpf would load, instruction for
//! instruction (tested against libbpf on clang-built and corpus objects).
//!
//! # Layout
//!
//! The layout follows the loader's steps: `elf.rs` reads the container,
//! [`section`] classifies section names, [`map_def`] reads map
//! definitions, `link.rs` links subprograms and applies relocations into
//! [`program::Program`]s, [`reloc`] binds map references, [`btf`] reads
//! type information, [`extern_sym`] lists what the kernel must resolve, and
//! [`core`] resolves CO-RE relocations against a target BTF.

#![warn(missing_docs)]

pub mod attach_type;
pub mod btf;
pub mod core;
pub(crate) mod elf;
pub mod error;
pub mod extern_sym;
pub(crate) mod link;
pub mod map_def;
pub mod object;
pub mod prog_type;
pub mod program;
pub mod reloc;
pub mod section;

pub use crate::object::Object;
pub use btf::{Btf, BtfExt};
pub use error::ObjectError;
pub use extern_sym::{Extern, ExternKind};
pub use map_def::{GlobalKind, MapDef, MapOrigin, MapSlot, MapType, SlotTarget};
pub use program::{FuncStart, LinkedFunction, Program, SourceLine};
pub use reloc::{MapBinding, Reloc, RelocKind};
pub use section::{AttachType, ProgramType, SectionKind};
