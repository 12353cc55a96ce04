//! `bpf_tail_call(ctx, prog_array, index)`: replaces the running program
//! with the one in the slot (see [`crate::tail_call`]); an empty slot, an
//! index out of range or the 33-call limit fall through with `-ENOENT`.

use super::{add, neg, HelperEnv, EINVAL, ENOENT};
use crate::helper::HelperRegistry;
use crate::map::MapType;
use std::sync::Arc;

pub(super) fn register(reg: &mut HelperRegistry, env: &Arc<HelperEnv>) {
    let e = Arc::clone(env);
    add(reg, "tail_call", move |ctx, a| {
        let target = e.with_map(a[1], |map| {
            Ok((map.map_type() == MapType::ProgArray).then(|| map.program(a[2] as u32)))
        })?;
        let Some(target) = target else {
            return Ok(neg(EINVAL));
        };
        let Some(target) = target else {
            return Ok(neg(ENOENT));
        };
        if !e.may_enter(&target) {
            // A host-made program in a verified object's prog array: it was
            // not verified with the object, so it cannot run unchecked.
            return Ok(neg(EINVAL));
        }
        Ok(match ctx.tail_call(target) {
            Ok(()) => 0,
            Err(_) => neg(ENOENT),
        })
    });
}
