//! Resolving an object program's references at the instruction level:
//! `lddw` of a map becomes `lddw` of its handle, of a map value (globals)
//! the value's address plus the offset. Function references (callbacks)
//! are left to [`crate::Vm::new`], which resolves them for raw programs
//! too; the result then holds only plain constants, so the interpreter and
//! the JIT run it as is.

use crate::loader::map_table::handle_of;
use crate::map::Map;
use ebee_isa::{Imm64Kind, Insn};
use std::sync::Arc;

/// Rewrites `insns` (bound to map indices) for `maps` (by index).
pub(crate) fn resolve(insns: &[Insn], maps: &[Arc<Map>]) -> Result<Vec<Insn>, (usize, String)> {
    let mut out = insns.to_vec();
    for (pc, insn) in insns.iter().enumerate() {
        let Insn::LdImm64 { dst, kind, imm } = *insn else {
            continue;
        };
        let value = match kind {
            Imm64Kind::Imm => continue,
            Imm64Kind::MapIdx => {
                let map = map_at(maps, imm as u32 as usize).map_err(|e| (pc, e))?;
                handle_of(map)
            }
            Imm64Kind::MapIdxValue => {
                let map = map_at(maps, imm as u32 as usize).map_err(|e| (pc, e))?;
                let offset = (imm as u64) >> 32;
                let Some(v) = map.lookup_ptr(&0u32.to_ne_bytes()).filter(|_| {
                    map.map_type() == crate::map::MapType::Array && map.spec().key_size == 4
                }) else {
                    return Err((
                        pc,
                        format!("map {:?} has no value to point into", map.spec().name),
                    ));
                };
                if offset > v.len as u64 {
                    return Err((
                        pc,
                        format!(
                            "offset {offset} is past the {}-byte value of map {:?}",
                            v.len,
                            map.spec().name
                        ),
                    ));
                }
                v.ptr as u64 + offset
            }
            // `Vm::new` resolves these (for raw programs too).
            Imm64Kind::Func => continue,
            other => {
                return Err((
                    pc,
                    format!("lddw of a {other:?} reference cannot run in userspace"),
                ))
            }
        };
        out[pc] = Insn::LdImm64 {
            dst,
            kind: Imm64Kind::Imm,
            imm: value as i64,
        };
    }
    Ok(out)
}

fn map_at(maps: &[Arc<Map>], i: usize) -> Result<&Arc<Map>, String> {
    maps.get(i)
        .ok_or_else(|| format!("reference to map {i}, the object has {}", maps.len()))
}
