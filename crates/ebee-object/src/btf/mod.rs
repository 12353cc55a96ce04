//! BTF, the BPF Type Format: the types of an object's maps, functions and
//! globals (`.BTF`), and per-instruction debug and CO-RE records (`.BTF.ext`).
//!
//! - [`builder`]: types made by a host rather than a compiler ([`BtfBuilder`]).
//! - [`types`]: the type graph ([`Btf`], [`BtfType`], [`TypeKind`]) and lookups.
//! - [`parse`]: reading the wire format.
//! - [`ext`]: `func_info`, `line_info` and CO-RE relocation records.
//! - [`mod@write`]: back to the wire format, for loading into the kernel.

pub mod builder;
pub mod ext;
pub mod parse;
pub mod types;
pub mod write;

pub use builder::{BtfBuilder, Field};
pub use ext::{BtfExt, CoreRelo, CoreReloKind, FuncInfo, LineInfo};
pub use types::{Btf, BtfType, DatasecVar, Enumerator, Member, Param, TypeId, TypeKind};
