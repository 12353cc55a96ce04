//! `bpf_current_task_under_cgroup` (37): is the thread running the
//! program in the cgroup at an index of a `cgroup_array`, or below it?
//! `bpf_skb_under_cgroup` (33, sk_buff programs): the same question for
//! the packet's socket, which in a userspace run belongs to the running
//! thread (as the kernel's test run gives its packets a socket of the
//! calling task).

use super::{add, neg, HelperEnv};
use crate::helper::{HelperError, HelperRegistry};
use crate::map::{Cgroup, Map};
use std::sync::Arc;

/// `-E2BIG` past the array, `-EAGAIN` for an empty slot, else 1 when the
/// running thread's cgroup is the slot's or below it, 0 when not.
pub(crate) fn under_cgroup(map: &Map, index: u32) -> Result<u64, HelperError> {
    match map.cgroup(index) {
        Err(crate::map::errno::EINVAL) => Err(HelperError(format!(
            "map {:?} is not a cgroup array",
            map.spec().name
        ))),
        Err(e) => Ok(neg(e)),
        Ok(None) => Ok(neg(crate::map::errno::EAGAIN)),
        Ok(Some(c)) => Ok(u64::from(
            Cgroup::of_current_thread().is_some_and(|t| t.is_under(&c)),
        )),
    }
}

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "current_task_under_cgroup", move |_, a| {
        under_cgroup(&*e.map(a[0])?, a[1] as u32)
    });
    let e = Arc::clone(env);
    add(reg, "skb_under_cgroup", move |_, a| {
        crate::program_type::skb::with_run(Some(a[0]), |_| ())?;
        under_cgroup(&*e.map(a[1])?, a[2] as u32)
    });
}
