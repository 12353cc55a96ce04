//! `bpf_ringbuf_output`, `_reserve`, `_submit`, `_discard`, `_query` on the
//! object's `ringbuf` maps.

use super::{add, neg, read_vec, HelperEnv, EINVAL};
use crate::helper::{HelperError, HelperRegistry};
use crate::map::{Map, MapType};
use crate::region::Region;
use std::sync::Arc;

fn ring(env: &HelperEnv, handle: u64) -> Result<Arc<Map>, HelperError> {
    let map = env.map(handle)?;
    if map.ringbuf().is_none() {
        return Err(HelperError(format!(
            "map {:?} is not a ring buffer",
            map.spec().name
        )));
    }
    Ok(map)
}

/// Submits or discards `sample` in whichever ring buffer reserved it.
fn finish(env: &HelperEnv, sample: u64, flags: u64, submit: bool) -> Result<u64, HelperError> {
    for map in env.maps().all() {
        if map.map_type() != MapType::Ringbuf {
            continue;
        }
        if let Some(rb) = map.ringbuf() {
            let r = if submit {
                rb.submit(sample as *mut u8, flags)
            } else {
                rb.discard(sample as *mut u8, flags)
            };
            if r.is_ok() {
                return Ok(0);
            }
        }
    }
    Err(HelperError(format!(
        "{sample:#x} is not a reserved ring buffer sample"
    )))
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "ringbuf_output", move |ctx, a| {
        let map = ring(&e, a[0])?;
        let data = read_vec(ctx, a[1], a[2])?;
        let Some(rb) = map.ringbuf() else {
            return Ok(neg(EINVAL));
        };
        Ok(match rb.output(&data, a[3]) {
            Ok(()) => 0,
            Err(err) => neg(err.errno().unwrap_or(EINVAL)),
        })
    });
    let e = Arc::clone(env);
    add(reg, "ringbuf_reserve", move |ctx, a| {
        let map = ring(&e, a[0])?;
        let Some(rb) = map.ringbuf() else {
            return Ok(0);
        };
        Ok(match rb.reserve(a[1], a[2]) {
            None => 0,
            Some(v) => {
                let region = Region::new(v.ptr as u64, v.len as u64, true, "ring buffer sample");
                // SAFETY: the sample lies in the ring buffer's memory, which
                // lives as long as the map the object's table keeps alive.
                unsafe { ctx.ensure_region(region) };
                v.ptr as u64
            }
        })
    });
    let e = Arc::clone(env);
    add(reg, "ringbuf_submit", move |_ctx, a| {
        finish(&e, a[0], a[1], true)
    });
    let e = Arc::clone(env);
    add(reg, "ringbuf_discard", move |_ctx, a| {
        finish(&e, a[0], a[1], false)
    });
    let e = Arc::clone(env);
    add(reg, "ringbuf_query", move |_ctx, a| {
        let map = ring(&e, a[0])?;
        Ok(map.ringbuf().map_or(0, |rb| rb.query(a[1])))
    });
}
