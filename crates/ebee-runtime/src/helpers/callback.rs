//! Helpers that call back into the program: `bpf_loop` and
//! `bpf_for_each_map_elem`, through [`HelperContext::call_function`].

use super::{add, neg, HelperEnv, E2BIG, EINVAL, FUNC_HANDLE_BASE};
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::map::{Map, MapType};
use crate::region::Region;
use std::sync::Arc;

/// `bpf_loop` refuses more iterations than this (`BPF_MAX_LOOPS`).
pub const MAX_LOOPS: u64 = 1 << 23;

/// The pc of a callback handle (`lddw rX, func` after loading).
fn callback_pc(handle: u64) -> Result<usize, HelperError> {
    handle
        .checked_sub(FUNC_HANDLE_BASE)
        .and_then(|pc| usize::try_from(pc).ok())
        .filter(|&pc| pc < 1 << 24)
        .ok_or_else(|| HelperError(format!("{handle:#x} is not a function of the program")))
}

/// Calls `cb(map, &key, value, ctx)` for each element of `map` until it
/// returns non-zero; returns how many calls were made.
fn for_each(
    ctx: &mut HelperContext<'_>,
    map_handle: u64,
    map: &Map,
    pc: usize,
    cb_ctx: u64,
) -> Result<u64, HelperError> {
    let mut calls = 0u64;
    let mut visit = |ctx: &mut HelperContext<'_>, mut key: Vec<u8>| -> Result<bool, HelperError> {
        let Some(v) = map.lookup_ptr(&key) else {
            return Ok(true);
        };
        let value = Region::new(v.ptr as u64, v.len as u64, true, "map value");
        // SAFETY: map values live as long as the map, which outlives the run.
        unsafe { ctx.ensure_region(value) };
        let key_region = Region::new(key.as_mut_ptr() as u64, key.len() as u64, false, "key");
        calls += 1;
        // SAFETY: `key` lives until after the closure returns, and the
        // region is removed before.
        let r = unsafe {
            ctx.with_temporary_region(key_region, |ctx| {
                ctx.call_function(pc, [map_handle, key_region.start, v.ptr as u64, cb_ctx, 0])
            })
        }?;
        Ok(r == 0)
    };
    match map.map_type() {
        MapType::Array | MapType::PercpuArray => {
            for i in 0..map.spec().max_entries {
                if !visit(ctx, i.to_ne_bytes().to_vec())? {
                    break;
                }
            }
        }
        MapType::Hash | MapType::PercpuHash | MapType::LruHash | MapType::LruPercpuHash => {
            let mut prev: Option<Vec<u8>> = None;
            while let Ok(Some(k)) = map.next_key(prev.as_deref()) {
                if !visit(ctx, k.clone())? {
                    break;
                }
                prev = Some(k);
            }
        }
        _ => return Ok(neg(EINVAL)),
    }
    Ok(calls)
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    add(reg, "loop", |ctx, a| {
        let (n, cb, cb_ctx, flags) = (u64::from(a[0] as u32), a[1], a[2], a[3]);
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        if n > MAX_LOOPS {
            // Linux inlines bpf_loop calls with flags 0, and the inlined
            // code sets `w0 = -E2BIG`: a 32-bit move, zero-extended.
            return Ok(neg(E2BIG) as u32 as u64);
        }
        let pc = callback_pc(cb)?;
        for i in 0..n {
            if ctx.call_function(pc, [i, cb_ctx, 0, 0, 0])? != 0 {
                return Ok(i + 1);
            }
        }
        Ok(n)
    });
    let e = Arc::clone(env);
    add(reg, "for_each_map_elem", move |ctx, a| {
        let map = e.map(a[0])?;
        if a[3] != 0 {
            return Ok(neg(EINVAL));
        }
        let pc = callback_pc(a[1])?;
        for_each(ctx, a[0], &map, pc, a[2])
    });
}
