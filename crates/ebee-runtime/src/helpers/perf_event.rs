//! `bpf_perf_event_output` (id 25) on the object's `perf_event_array`
//! maps: the tracing variant (flags name the slot or
//! `BPF_F_CURRENT_CPU`; no context bytes appended). `bpf_perf_event_read`
//! (22) and `bpf_perf_event_read_value` (55) read the counters the host put
//! in slots ([`crate::map::PerfEventArray::set_counter`]).

use super::{add, neg, read_vec, HelperEnv, EINVAL};
use crate::helper::{HelperError, HelperRegistry};
use crate::map::{current_cpu, runtime_cpus};
use std::sync::Arc;

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    // perf_event_output(ctx, map, flags, data, size)
    add(reg, "perf_event_output", move |ctx, a| {
        let map = e.map(a[1])?;
        let Some(perf) = map.perf_event_array() else {
            return Err(HelperError(format!(
                "map {:?} is not a perf event array",
                map.spec().name
            )));
        };
        let data = read_vec(ctx, a[3], a[4])?;
        let cpu = (current_cpu() % runtime_cpus()) as u32;
        Ok(match perf.output(a[2], cpu, &data) {
            Ok(()) => 0,
            Err(errno) => neg(if errno == 0 { EINVAL } else { errno }),
        })
    });
    let e = Arc::clone(env);
    // perf_event_read(map, flags): the count, or -errno (which the
    // kernel's callers cannot tell from a count either).
    add(reg, "perf_event_read", move |_, a| {
        let map = e.map(a[0])?;
        let perf = perf_array(&map)?;
        let cpu = (current_cpu() % runtime_cpus()) as u32;
        Ok(match perf.read_counter(a[1], cpu) {
            Ok(v) => v[0],
            Err(errno) => neg(errno),
        })
    });
    let e = Arc::clone(env);
    // perf_event_read_value(map, flags, buf, size): counter, enabled and
    // running into `buf` (24 bytes, else -EINVAL); zeroed on errors.
    add(reg, "perf_event_read_value", move |ctx, a| {
        let map = e.map(a[0])?;
        let perf = perf_array(&map)?;
        let (buf, size) = (a[2], a[3] as u32 as usize);
        ctx.check(buf, size as u64, true)?;
        let cpu = (current_cpu() % runtime_cpus()) as u32;
        let r = if size != 24 {
            Err(EINVAL)
        } else {
            perf.read_counter(a[1], cpu)
        };
        match r {
            Ok(v) => {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_ne_bytes()).collect();
                ctx.write(buf, &bytes)?;
                Ok(0)
            }
            Err(errno) => {
                ctx.write(buf, &vec![0; size])?;
                Ok(neg(errno))
            }
        }
    });
}

fn perf_array(map: &crate::map::Map) -> Result<&crate::map::PerfEventArray, HelperError> {
    map.perf_event_array().ok_or_else(|| {
        HelperError(format!(
            "map {:?} is not a perf event array",
            map.spec().name
        ))
    })
}
