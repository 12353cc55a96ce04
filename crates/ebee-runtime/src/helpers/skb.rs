//! The tc helpers that rewrite checksums or change the packet, with the
//! checks, flags and errors of Linux's `net/core/filter.c` as a
//! `BPF_PROG_TEST_RUN` skb meets them (linear, uncloned, not GSO,
//! `CHECKSUM_NONE`, no transport header set):
//!
//! - `bpf_l3_csum_replace` (10), `bpf_l4_csum_replace` (11): incremental
//!   checksum updates by a 2- or 4-byte field change or a `bpf_csum_diff`
//!   difference (size 0), `BPF_F_MARK_MANGLED_0` / `BPF_F_MARK_ENFORCE`;
//!   `BPF_F_PSEUDO_HDR` and `BPF_F_IPV6` only change `skb->csum`, which a
//!   `CHECKSUM_NONE` skb does not keep.
//! - `bpf_skb_change_proto` (31): IPv4 ⇄ IPv6, inserting or removing 20
//!   bytes after the MAC header.
//! - `bpf_skb_change_type` (32), `bpf_skb_pull_data` (39).
//! - `bpf_skb_change_tail` (38), `bpf_skb_change_head` (43),
//!   `bpf_skb_adjust_room` (50, modes MAC and NET, encapsulation and
//!   decapsulation flags).
//!
//! Every helper that changes the packet's bounds refreshes the context's
//! `data`, `data_end`, `len` (and `protocol`) and the run's packet region:
//! packet pointers taken before the call point at memory the run may no
//! longer access, as the kernel's verifier invalidates them.

use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::program_type::skb::{helper_id, with_run, RunState, SkbKind, SKB_MAX_GROWN};
use crate::program_type::{csum_replace2, csum_replace4, csum_replace_by_diff};

const EINVAL: i64 = 22;
const EFAULT: i64 = 14;
const ENOMEM: i64 = 12;
const EALREADY: i64 = 114;
/// The kernel-internal `ENOTSUPP` (524) these helpers return.
const ENOTSUPP: i64 = 524;

const ETH_P_IP: u16 = 0x0800u16.to_be();
const ETH_P_IPV6: u16 = 0x86ddu16.to_be();
const ETH_HLEN: usize = 14;
const IPV4_HLEN: usize = 20;
const IPV6_HLEN: usize = 40;

/// `BPF_F_HDR_FIELD_MASK`: the field size of the csum helpers.
const HDR_FIELD_MASK: u64 = 0xf;
const F_PSEUDO_HDR: u64 = 1 << 4;
const F_MARK_MANGLED_0: u64 = 1 << 5;
const F_MARK_ENFORCE: u64 = 1 << 6;
const F_IPV6: u64 = 1 << 7;

const ADJ_ROOM_NET: u32 = 0;
const ADJ_ROOM_MAC: u32 = 1;
const ADJ_FIXED_GSO: u64 = 1 << 0;
const ADJ_ENCAP_L3_IPV4: u64 = 1 << 1;
const ADJ_ENCAP_L3_IPV6: u64 = 1 << 2;
const ADJ_ENCAP_L4_GRE: u64 = 1 << 3;
const ADJ_ENCAP_L4_UDP: u64 = 1 << 4;
const ADJ_NO_CSUM_RESET: u64 = 1 << 5;
const ADJ_ENCAP_L2_ETH: u64 = 1 << 6;
const ADJ_DECAP_L3_IPV4: u64 = 1 << 7;
const ADJ_DECAP_L3_IPV6: u64 = 1 << 8;
const ADJ_ENCAP_L2_SHIFT: u32 = 56;
const ADJ_ENCAP_L3_MASK: u64 = ADJ_ENCAP_L3_IPV4 | ADJ_ENCAP_L3_IPV6;
const ADJ_DECAP_L3_MASK: u64 = ADJ_DECAP_L3_IPV4 | ADJ_DECAP_L3_IPV6;
const ADJ_ROOM_MASK: u64 = ADJ_FIXED_GSO
    | ADJ_ENCAP_L3_MASK
    | ADJ_ENCAP_L4_GRE
    | ADJ_ENCAP_L4_UDP
    | ADJ_ENCAP_L2_ETH
    | (0xff << ADJ_ENCAP_L2_SHIFT)
    | ADJ_DECAP_L3_MASK;

fn neg(e: i64) -> u64 {
    (-e) as u64
}

/// Registers the helpers into `h` (called by
/// [`crate::program_type::skb::helpers`]).
pub(crate) fn register(h: &mut HelperRegistry) {
    h.register_with_context(
        helper_id::L3_CSUM_REPLACE,
        "bpf_l3_csum_replace",
        l3_csum_replace,
    )
    .register_with_context(
        helper_id::L4_CSUM_REPLACE,
        "bpf_l4_csum_replace",
        l4_csum_replace,
    )
    .register_with_context(
        helper_id::SKB_CHANGE_PROTO,
        "bpf_skb_change_proto",
        change_proto,
    )
    .register_with_context(
        helper_id::SKB_CHANGE_TYPE,
        "bpf_skb_change_type",
        change_type,
    )
    .register_with_context(
        helper_id::SKB_CHANGE_TAIL,
        "bpf_skb_change_tail",
        change_tail,
    )
    .register_with_context(helper_id::SKB_PULL_DATA, "bpf_skb_pull_data", pull_data)
    .register_with_context(
        helper_id::SKB_CHANGE_HEAD,
        "bpf_skb_change_head",
        change_head,
    )
    .register_with_context(
        helper_id::SKB_ADJUST_ROOM,
        "bpf_skb_adjust_room",
        adjust_room,
    );
}

/// Runs `f` on the run's state for a tc-only helper (socket filters get
/// an error naming the helper).
pub(super) fn tc_run<T>(
    name: &str,
    ctx_ptr: u64,
    f: impl FnOnce(&mut RunState) -> Result<T, HelperError>,
) -> Result<T, HelperError> {
    with_run(Some(ctx_ptr), |st| {
        if st.kind != SkbKind::Tc {
            return Err(format!("{name} is not allowed for socket filters").into());
        }
        f(st)
    })?
}

/// The checksum field at `offset` for the csum helpers: `-EFAULT` for an
/// odd offset, one beyond 0xffff or past the packet.
fn csum_field(st: &mut RunState, offset: u64) -> Result<usize, u64> {
    if offset > 0xffff || offset & 1 != 0 || offset as usize + 2 > st.len {
        return Err(neg(EFAULT));
    }
    Ok(offset as usize)
}

fn read16(st: &mut RunState, off: usize) -> u16 {
    let p = st.packet();
    u16::from_ne_bytes([p[off], p[off + 1]])
}

fn write16(st: &mut RunState, off: usize, v: u16) {
    st.packet()[off..off + 2].copy_from_slice(&v.to_ne_bytes());
}

/// `bpf_l3_csum_replace(skb, offset, from, to, flags)`.
fn l3_csum_replace(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (offset, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
    tc_run("bpf_l3_csum_replace", a[0], |st| {
        if flags & !HDR_FIELD_MASK != 0 {
            return Ok(neg(EINVAL));
        }
        let off = match csum_field(st, offset) {
            Ok(off) => off,
            Err(e) => return Ok(e),
        };
        let old = read16(st, off);
        let new = match flags & HDR_FIELD_MASK {
            0 if from != 0 => return Ok(neg(EINVAL)),
            0 => csum_replace_by_diff(old, to as u32),
            2 => csum_replace2(old, from as u16, to as u16),
            4 => csum_replace4(old, from as u32, to as u32),
            _ => return Ok(neg(EINVAL)),
        };
        write16(st, off, new);
        Ok(0)
    })
}

/// `bpf_l4_csum_replace(skb, offset, from, to, flags)`.
fn l4_csum_replace(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (offset, from, to, flags) = (a[1] as u32 as u64, a[2], a[3], a[4]);
    tc_run("bpf_l4_csum_replace", a[0], |st| {
        let allowed = F_MARK_MANGLED_0 | F_MARK_ENFORCE | F_PSEUDO_HDR | HDR_FIELD_MASK | F_IPV6;
        if flags & !allowed != 0 {
            return Ok(neg(EINVAL));
        }
        let off = match csum_field(st, offset) {
            Ok(off) => off,
            Err(e) => return Ok(e),
        };
        let mangled_0 = flags & F_MARK_MANGLED_0 != 0;
        let old = read16(st, off);
        if mangled_0 && flags & F_MARK_ENFORCE == 0 && old == 0 {
            return Ok(0);
        }
        // With CHECKSUM_NONE, inet_proto_csum_replace{2,4,_by_diff} update
        // the field as csum_replace4 / csum_replace_by_diff do (a 16-bit
        // change counts as a 32-bit one of the zero-extended values).
        let mut new = match flags & HDR_FIELD_MASK {
            0 if from != 0 => return Ok(neg(EINVAL)),
            0 => csum_replace_by_diff(old, to as u32),
            2 => csum_replace4(old, from as u16 as u32, to as u16 as u32),
            4 => csum_replace4(old, from as u32, to as u32),
            _ => return Ok(neg(EINVAL)),
        };
        if mangled_0 && new == 0 {
            new = 0xffff; // CSUM_MANGLED_0
        }
        write16(st, off, new);
        Ok(0)
    })
}

/// Inserts `n` zero bytes at `off` bytes into the packet, moving the
/// bytes before them to the new start (the kernel's
/// `bpf_skb_generic_push`, with `skb_cow` when the headroom is short).
fn push_at(st: &mut RunState, off: usize, n: usize) -> bool {
    if !st.reserve(n, 0) {
        return false;
    }
    let d = st.data;
    st.frame().copy_within(d..d + off, d - n);
    st.frame()[d - n + off..d + off].fill(0);
    st.data -= n;
    st.len += n;
    true
}

/// Removes `n` bytes at `off` bytes into the packet, moving the bytes
/// before them up (`bpf_skb_generic_pop`).
fn pop_at(st: &mut RunState, off: usize, n: usize) {
    let d = st.data;
    st.frame().copy_within(d..d + off, d + n);
    st.data += n;
    st.len -= n;
}

/// The MAC header's length (`skb->network_header - skb->mac_header`).
fn mac_len(st: &RunState) -> usize {
    st.network - st.mac
}

/// `bpf_skb_net_hdr_push`: `n` bytes at `off`; the MAC and network
/// headers move with the bytes before them.
fn net_hdr_push(st: &mut RunState, off: usize, n: usize) -> bool {
    let trans_same = st.transport == Some(st.network);
    // `push_at` may move the whole packet first (`reserve` shifts the
    // header positions with it); then the headers move with the push.
    if !push_at(st, off, n) {
        return false;
    }
    st.mac -= n;
    st.network -= n;
    if trans_same {
        st.transport = Some(st.network);
    }
    true
}

/// `bpf_skb_net_hdr_pop`: `-ENOMEM` if the packet is shorter than
/// `off + n`.
fn net_hdr_pop(st: &mut RunState, off: usize, n: usize) -> Result<(), u64> {
    if off + n > st.len {
        return Err(neg(ENOMEM));
    }
    let trans_same = st.transport == Some(st.network);
    pop_at(st, off, n);
    st.mac += n;
    st.network += n;
    if trans_same {
        st.transport = Some(st.network);
    }
    Ok(())
}

fn set_protocol(st: &mut RunState, proto: u16) {
    st.protocol = proto;
}

/// `bpf_skb_change_proto(skb, proto, flags)`.
fn change_proto(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (proto, flags) = (a[1] as u16, a[2]);
    tc_run("bpf_skb_change_proto", a[0], |st| {
        if flags != 0 {
            return Ok(neg(EINVAL));
        }
        let diff = IPV6_HLEN - IPV4_HLEN;
        let off = mac_len(st);
        let ret = if st.protocol == ETH_P_IP && proto == ETH_P_IPV6 {
            if net_hdr_push(st, off, diff) {
                set_protocol(st, ETH_P_IPV6);
                st.hash_invalidated = true;
                0
            } else {
                neg(ENOMEM)
            }
        } else if st.protocol == ETH_P_IPV6 && proto == ETH_P_IP {
            match net_hdr_pop(st, off, diff) {
                Ok(()) => {
                    set_protocol(st, ETH_P_IP);
                    st.hash_invalidated = true;
                    0
                }
                Err(e) => e,
            }
        } else {
            neg(ENOTSUPP)
        };
        st.commit(ctx)?;
        Ok(ret)
    })
}

/// `bpf_skb_change_type(skb, pkt_type)`: only between `PACKET_HOST` (0)
/// and `PACKET_OTHERHOST` (3).
fn change_type(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let t = a[1] as u32;
    tc_run("bpf_skb_change_type", a[0], |st| {
        if st.pkt_type > 3 || t > 3 {
            return Ok(neg(EINVAL));
        }
        st.pkt_type = t;
        st.commit(ctx)?;
        Ok(0)
    })
}

/// `bpf_skb_pull_data(skb, len)`: the whole packet is linear and
/// writable; `-ENOMEM` when asking for more than the packet holds.
fn pull_data(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let len = a[1] as u32 as usize;
    tc_run("bpf_skb_pull_data", a[0], |st| {
        let ret = if len > st.len { neg(ENOMEM) } else { 0 };
        st.commit(ctx)?;
        Ok(ret)
    })
}

/// `__bpf_skb_min_len`: the headers `bpf_skb_change_tail` may not cut.
fn min_len(st: &RunState) -> usize {
    let mut min = st.network.saturating_sub(st.data);
    if let Some(t) = st.transport {
        if t > st.data {
            min = t - st.data;
        }
    }
    min
}

/// `bpf_skb_change_tail(skb, new_len, flags)`: grows (zero-filled) or
/// trims the packet.
fn change_tail(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (new_len, flags) = (a[1] as u32 as usize, a[2]);
    tc_run("bpf_skb_change_tail", a[0], |st| {
        if flags != 0 || new_len > SKB_MAX_GROWN || new_len < min_len(st) {
            return Ok(neg(EINVAL));
        }
        if st.encapsulation {
            return Ok(neg(ENOTSUPP));
        }
        let ret = if new_len > st.len {
            if st.reserve(0, new_len - st.len) {
                let (d, l) = (st.data, st.len);
                st.frame()[d + l..d + new_len].fill(0);
                st.len = new_len;
                0
            } else {
                neg(ENOMEM)
            }
        } else {
            st.len = new_len;
            0
        };
        st.commit(ctx)?;
        Ok(ret)
    })
}

/// `bpf_skb_change_head(skb, head_room, flags)`: `head_room` zero bytes
/// in front; they become the MAC header.
fn change_head(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (room, flags) = (a[1] as u32, a[2]);
    tc_run("bpf_skb_change_head", a[0], |st| {
        let new_len = (st.len as u32).wrapping_add(room) as usize;
        if flags != 0 || (room as i32) < 0 || new_len > SKB_MAX_GROWN || new_len < st.len {
            return Ok(neg(EINVAL));
        }
        let room = room as usize;
        let ret = if push_at(st, 0, room) {
            st.mac = st.data;
            0
        } else {
            neg(ENOMEM)
        };
        st.commit(ctx)?;
        Ok(ret)
    })
}

/// `bpf_skb_net_base_len`.
fn net_base_len(st: &RunState) -> Option<usize> {
    match st.protocol {
        ETH_P_IP => Some(IPV4_HLEN),
        ETH_P_IPV6 => Some(IPV6_HLEN),
        _ => None,
    }
}

/// `bpf_skb_adjust_room(skb, len_diff, mode, flags)`.
fn adjust_room(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (len_diff, mode, flags) = (a[1] as i32, a[2] as u32, a[3]);
    tc_run("bpf_skb_adjust_room", a[0], |st| {
        let ret = adjust_room_inner(st, len_diff, mode, flags);
        st.commit(ctx)?;
        Ok(ret)
    })
}

fn adjust_room_inner(st: &mut RunState, len_diff: i32, mode: u32, flags: u64) -> u64 {
    let abs = len_diff.unsigned_abs() as usize;
    let shrink = len_diff < 0;
    if flags & !(ADJ_ROOM_MASK | ADJ_NO_CSUM_RESET) != 0 {
        return neg(EINVAL);
    }
    if abs > 0xfff {
        return neg(EFAULT);
    }
    let Some(base_len) = net_base_len(st) else {
        return neg(ENOTSUPP);
    };
    let mut off = mac_len(st);
    match mode {
        ADJ_ROOM_NET => off += base_len,
        ADJ_ROOM_MAC => {}
        _ => return neg(ENOTSUPP),
    }
    let mut len_min = base_len;
    if flags & ADJ_DECAP_L3_MASK != 0 {
        if !shrink {
            return neg(EINVAL);
        }
        len_min = match flags & ADJ_DECAP_L3_MASK {
            ADJ_DECAP_L3_IPV4 => IPV4_HLEN,
            ADJ_DECAP_L3_IPV6 => IPV6_HLEN,
            _ => return neg(EINVAL),
        };
    }
    let len_cur = st.len - (st.network - st.data);
    if (shrink && (abs >= len_cur || len_cur - abs < len_min))
        || (!shrink && st.len + abs > SKB_MAX_GROWN)
    {
        return neg(ENOTSUPP);
    }
    if shrink {
        if flags & !(ADJ_FIXED_GSO | ADJ_DECAP_L3_MASK | ADJ_NO_CSUM_RESET) != 0 {
            return neg(EINVAL);
        }
        if let Err(e) = net_hdr_pop(st, off, abs) {
            return e;
        }
        if st.protocol == ETH_P_IP && flags & ADJ_DECAP_L3_IPV6 != 0 {
            set_protocol(st, ETH_P_IPV6);
        } else if st.protocol == ETH_P_IPV6 && flags & ADJ_DECAP_L3_IPV4 != 0 {
            set_protocol(st, ETH_P_IP);
        }
        return 0;
    }
    // bpf_skb_net_grow.
    let inner_mac_len = (flags >> ADJ_ENCAP_L2_SHIFT) as usize;
    let encap = flags & ADJ_ENCAP_L3_MASK != 0;
    let mut outer_mac_len = 0;
    if encap {
        if flags & ADJ_ENCAP_L3_MASK == ADJ_ENCAP_L3_MASK {
            return neg(EINVAL);
        }
        if flags & ADJ_ENCAP_L4_GRE != 0 && flags & ADJ_ENCAP_L4_UDP != 0 {
            return neg(EINVAL);
        }
        if flags & ADJ_ENCAP_L2_ETH != 0 && inner_mac_len < ETH_HLEN {
            return neg(EINVAL);
        }
        if st.encapsulation {
            return neg(EALREADY);
        }
        outer_mac_len = mac_len(st);
        if inner_mac_len > abs {
            return neg(EINVAL);
        }
    }
    if !net_hdr_push(st, off, abs) {
        return neg(ENOMEM);
    }
    if encap {
        st.encapsulation = true;
        st.network = st.data + outer_mac_len;
        if flags & (ADJ_ENCAP_L4_GRE | ADJ_ENCAP_L4_UDP) != 0 {
            let nh_len = if flags & ADJ_ENCAP_L3_IPV6 != 0 {
                IPV6_HLEN
            } else {
                IPV4_HLEN
            };
            st.transport = Some(st.data + outer_mac_len + nh_len);
        }
        if st.protocol == ETH_P_IP && flags & ADJ_ENCAP_L3_IPV6 != 0 {
            set_protocol(st, ETH_P_IPV6);
        } else if st.protocol == ETH_P_IPV6 && flags & ADJ_ENCAP_L3_IPV4 != 0 {
            set_protocol(st, ETH_P_IP);
        }
    }
    0
}
