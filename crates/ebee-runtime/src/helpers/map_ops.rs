//! `bpf_map_lookup_elem`, `_update_elem`, `_delete_elem`, `_push_elem`,
//! `_pop_elem`, `_peek_elem`: the element operations programs call.
//!
//! A lookup returns the value in place and makes it accessible for the
//! rest of the run (read-only for `BPF_F_RDONLY_PROG` maps); on a
//! map-in-map it returns the inner map's handle, registered in the table.

use super::arg_bytes::ArgBytes;
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

fn key(ctx: &mut HelperContext<'_>, map: &Map, addr: u64) -> Result<ArgBytes, HelperError> {
    ArgBytes::read(ctx, addr, u64::from(map.spec().key_size))
}

fn value(ctx: &mut HelperContext<'_>, map: &Map, addr: u64) -> Result<ArgBytes, HelperError> {
    ArgBytes::read(ctx, addr, u64::from(map.spec().value_size))
}

/// `bpf_map_lookup_elem(map, key)`.
pub(crate) fn lookup(
    env: &HelperEnv,
    ctx: &mut HelperContext<'_>,
    map: &Arc<Map>,
    key_addr: u64,
) -> Result<u64, HelperError> {
    let k = key(ctx, map, key_addr)?;
    if map.map_type().is_map_in_map() {
        return Ok(map
            .inner_map(&k)
            .map_or(0, |inner| env.maps().insert(&inner)));
    }
    match map.lookup_ptr(&k) {
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
            let k = key(ctx, map, a[1])?;
            let v = value(ctx, map, a[2])?;
            Ok(status(map.prog_update(&k, &v, a[3])))
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_delete_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            let k = key(ctx, map, a[1])?;
            Ok(status(map.prog_delete(&k)))
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_push_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            let v = value(ctx, map, a[1])?;
            Ok(status(map.prog_push(&v, a[2])))
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_pop_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            let mut out = ArgBytes::zeroed(map.spec().value_size as usize);
            ctx.check(a[1], out.len() as u64, true)?;
            let r = map.prog_pop(&mut out);
            if r.is_ok() {
                ctx.write(a[1], &out)?;
            }
            Ok(status(r))
        })
    });
    let e = Arc::clone(env);
    add(reg, "map_peek_elem", move |ctx, a| {
        e.with_map(a[0], |map| {
            let bloom = map.map_type() == MapType::BloomFilter;
            let mut buf = if bloom {
                value(ctx, map, a[1])?
            } else {
                ctx.check(a[1], u64::from(map.spec().value_size), true)?;
                ArgBytes::zeroed(map.spec().value_size as usize)
            };
            let r = map.prog_peek(&mut buf);
            if r.is_ok() && !bloom {
                ctx.write(a[1], &buf)?;
            }
            Ok(status(r))
        })
    });
}
