//! `xskmap`: the AF_XDP sockets `bpf_redirect_map` delivers XDP frames
//! to, host-side contents only. In the kernel a value is a socket fd going
//! in and cannot be read back (lookup from user space is `EOPNOTSUPP`);
//! here the host stores a socket handle of its own choosing
//! ([`super::Map::set_xsk`]) and redirects find it
//! ([`super::Map::redirect_target`]).

use super::devmap::Slots;
use super::{errno, MapError, MapSpec, BPF_F_NUMA_NODE, BPF_F_RDONLY, BPF_F_WRONLY};

/// `xsk_map_alloc`'s checks, then the slots.
pub(super) fn new(spec: &MapSpec) -> Result<Slots, MapError> {
    if spec.max_entries == 0
        || spec.key_size != 4
        || spec.value_size != 4
        || spec.flags & !(BPF_F_NUMA_NODE | BPF_F_RDONLY | BPF_F_WRONLY) != 0
    {
        return Err(MapError::Errno {
            op: "create",
            map_type: spec.map_type,
            map: spec.name.as_str().into(),
            errno: errno::EINVAL,
        });
    }
    Ok(Slots::new(spec.max_entries))
}
