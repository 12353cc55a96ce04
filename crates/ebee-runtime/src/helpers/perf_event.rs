//! `bpf_perf_event_output` (id 25) on the object's `perf_event_array`
//! maps: the tracing variant (flags name the slot or
//! `BPF_F_CURRENT_CPU`; no context bytes appended).

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
}
