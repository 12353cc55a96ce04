//! `bpf_map_lookup_elem`, `_update_elem`, `_delete_elem`, `_push_elem`,
//! `_pop_elem`, `_peek_elem`: the element operations programs call.
//!
//! A lookup returns the value in place and makes it accessible for the
//! rest of the run (read-only for `BPF_F_RDONLY_PROG` maps); on a
//! map-in-map it returns the inner map's handle, registered in the table.

use super::arg_bytes::{with_arg, with_buffer};
use super::{add, neg, HelperEnv, EINVAL};
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::map::{Map, MapError, MapType, BPF_F_RDONLY_PROG};
use crate::region::Region;
use std::sync::Arc;

/// `r0` for a map operation's result.
fn status(r: Result<(), MapError>) -> u64 {
    match r {
        Ok(()) => 0,
        Err(e) => neg(e.errno().unwrap_or(EINVAL)),
    }
}

fn key_size(map: &Map) -> u64 {
    u64::from(map.spec().key_size)
}

fn value_size(map: &Map) -> u64 {
    u64::from(map.spec().value_size)
}

/// `r0` of an operation `op` that fills a value (pop, peek): the program's
/// `value_size` bytes at `addr` must be writable, and receive the value
/// only when `op` succeeds.
fn value_out(
    ctx: &mut HelperContext<'_>,
    map: &Map,
    addr: u64,
    op: impl FnOnce(&mut [u8]) -> Result<(), MapError>,
) -> Result<u64, HelperError> {
    ctx.check(addr, value_size(map), true)?;
    with_buffer(map.spec().value_size as usize, |out| {
        let r = op(out);
        if r.is_ok() {
            ctx.write(addr, out)?;
        }
        Ok(status(r))
    })
}

/// `bpf_map_lookup_elem(map, key)`.
pub(crate) fn lookup(
    env: &HelperEnv,
    ctx: &mut HelperContext<'_>,
    map: &Arc<Map>,
    key_addr: u64,
) -> Result<u64, HelperError> {
    with_arg(ctx, key_addr, key_size(map), |ctx, k| {
        if map.map_type().is_map_in_map() {
            return Ok(map
                .inner_map(k)
                .map_or(0, |inner| env.maps().insert(&inner)));
        }
        match map.lookup_ptr(k) {
            None => Ok(0),
            Some(v) => {
                let writable = map.spec().flags & BPF_F_RDONLY_PROG == 0;
                let region = Region::new(v.ptr as u64, v.len as u64, writable, "map value");
                // SAFETY: map values never move and live as long as the map,
                // which the object's table keeps alive for every run.
                unsafe { ctx.ensure_region(region) };
                Ok(v.ptr as u64)
            }
        }
    })
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "map_lookup_elem", move |ctx, a| {
        e.with_map(a[0], |map| lookup(&e, ctx, map, a[1]))
    });
    let e = Arc::clone(env);
    add(reg, "map_update_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            if matches!(
                map.map_type(),
                MapType::ProgArray | MapType::ArrayOfMaps | MapType::HashOfMaps | MapType::Ringbuf
            ) {
                return Ok(neg(EINVAL));
            }
            with_arg(ctx, a[1], key_size(map), |ctx, k| {
                with_arg(ctx, a[2], value_size(map), |_, v| {
                    Ok(status(map.prog_update(k, v, a[3])))
                })
            })
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_delete_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            with_arg(ctx, a[1], key_size(map), |_, k| {
                Ok(status(map.prog_delete(k)))
            })
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_push_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            with_arg(ctx, a[1], value_size(map), |_, v| {
                Ok(status(map.prog_push(v, a[2])))
            })
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_pop_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            value_out(ctx, map, a[1], |out| map.prog_pop(out))
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_peek_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            if map.map_type() == MapType::BloomFilter {
                return with_arg(ctx, a[1], value_size(map), |_, v| {
                    Ok(status(map.prog_peek(v)))
                });
            }
            value_out(ctx, map, a[1], |out| map.prog_peek(out))
        })
    });
}
