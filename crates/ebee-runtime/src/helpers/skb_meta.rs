//! The tc helpers that change an sk_buff's metadata rather than its
//! checksums, as Linux's `net/core/filter.c` and `net/core/skbuff.c` do on
//! a `BPF_PROG_TEST_RUN` skb (linear, `skb->data` at the MAC header):
//!
//! - `bpf_skb_vlan_push` (18), `bpf_skb_vlan_pop` (19): the accelerated
//!   ("hwaccel") VLAN tag `__sk_buff.vlan_*` shows; a push while a tag is
//!   set first inserts that tag into the packet after the MAC addresses,
//!   a pop clears it and moves the packet's outer in-band tag (if any)
//!   into its place.
//! - `bpf_skb_get_tunnel_key` (20), `bpf_skb_set_tunnel_key` (21): the
//!   tunnel metadata of the run, with the kernel's compat sizes, flag checks
//!   and its field mapping (a key set as `remote` reads back as `local`:
//!   set fills the transmit key's destination, get reads the source).
//! - `bpf_skb_get_tunnel_opt` (29), `bpf_skb_set_tunnel_opt` (30): the
//!   tunnel key's options.
//! - `bpf_set_hash_invalid` (41): clears the flow hash.
//! - `bpf_clone_redirect` (13): a copy of the packet as it is now, for the
//!   host to deliver to `ifindex` ([`crate::program_type::skb::SkbOutcome::clones`]).

use super::skb::tc_run;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::program_type::skb::{helper_id, with_run, PacketClone, RunState};

const EINVAL: u64 = -22i64 as u64;
const ENOMEM: u64 = -12i64 as u64;
const EPROTO: u64 = -71i64 as u64;
const ENOENT: u64 = -2i64 as u64;

const ETH_ALEN2: usize = 12;
const ETH_HLEN: usize = 14;
const VLAN_HLEN: usize = 4;
/// 802.1Q and 802.1ad in network byte order, as `skb->protocol` holds them.
const ETH_P_8021Q: u16 = 0x8100u16.to_be();
const ETH_P_8021AD: u16 = 0x88a8u16.to_be();

/// `BPF_F_INGRESS`.
const F_INGRESS: u64 = 1;
/// `bpf_skb_set_tunnel_key` / `_get_tunnel_key` flags.
const F_TUNINFO_IPV6: u64 = 1 << 0;
const F_ZERO_CSUM_TX: u64 = 1 << 1;
const F_DONT_FRAGMENT: u64 = 1 << 2;
const F_SEQ_NUMBER: u64 = 1 << 3;
const F_NO_TUNNEL_KEY: u64 = 1 << 4;
const F_TUNINFO_FLAGS: u64 = 1 << 4;

/// `sizeof(struct bpf_tunnel_key)` and the older layouts' sizes the
/// kernel still accepts (`offsetof` `remote_ipv6[1]`, `tunnel_ext`,
/// `tunnel_label`, `local_ipv6[0]`).
const TUNNEL_KEY_SIZE: usize = 44;
const TUNNEL_KEY_COMPAT: [usize; 4] = [8, 22, 24, 28];
/// `IPV6_FLOWLABEL_MASK` (host order).
const FLOWLABEL_MASK: u32 = 0x000f_ffff;

/// `IP_TUNNEL_*_BIT` positions of the tunnel flags the set helper sets.
const TUN_CSUM: u32 = 0;
const TUN_KEY: u32 = 2;
const TUN_SEQ: u32 = 3;
const TUN_DONT_FRAGMENT: u32 = 8;
const TUN_NOCACHE: u32 = 13;
/// `ip_tunnel_set_options_present`: the GENEVE, VXLAN, ERSPAN, GTP and
/// PFCP option bits.
const TUN_OPTIONS_PRESENT: u32 = 1 << 11 | 1 << 12 | 1 << 14 | 1 << 15 | 1 << 17;
/// `IP_TUNNEL_OPTS_MAX`.
const TUNNEL_OPTS_MAX: usize = 255;

/// The tunnel metadata `bpf_skb_set_tunnel_key` attached to the run's skb
/// (`struct ip_tunnel_key` of a transmit `ip_tunnel_info`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct TunnelInfo {
    ipv6: bool,
    id: u32,
    tos: u8,
    ttl: u8,
    /// `IP_TUNNEL_*_BIT` flags.
    flags: u32,
    /// IPv6 flow label (host order).
    label: u32,
    /// Source and destination: IPv4 in the first word (host order),
    /// IPv6 as the 16 bytes the program gave.
    src: [u8; 16],
    dst: [u8; 16],
    /// Tunnel options (`bpf_skb_set_tunnel_opt`), at most 255 bytes.
    opts: Vec<u8>,
}

/// Registers the helpers into `h` (called by
/// [`crate::program_type::skb::helpers`]).
pub(crate) fn register(h: &mut HelperRegistry) {
    h.register_with_context(helper_id::SKB_VLAN_PUSH, "bpf_skb_vlan_push", vlan_push)
        .register_with_context(helper_id::SKB_VLAN_POP, "bpf_skb_vlan_pop", vlan_pop)
        .register_with_context(
            helper_id::SKB_GET_TUNNEL_KEY,
            "bpf_skb_get_tunnel_key",
            get_tunnel_key,
        )
        .register_with_context(
            helper_id::SKB_SET_TUNNEL_KEY,
            "bpf_skb_set_tunnel_key",
            set_tunnel_key,
        )
        .register_with_context(
            helper_id::SKB_GET_TUNNEL_OPT,
            "bpf_skb_get_tunnel_opt",
            get_tunnel_opt,
        )
        .register_with_context(
            helper_id::SKB_SET_TUNNEL_OPT,
            "bpf_skb_set_tunnel_opt",
            set_tunnel_opt,
        )
        .register_with_context(
            helper_id::SET_HASH_INVALID,
            "bpf_set_hash_invalid",
            set_hash_invalid,
        )
        .register_with_context(
            helper_id::CLONE_REDIRECT,
            "bpf_clone_redirect",
            clone_redirect,
        );
}

fn is_vlan(proto: u16) -> bool {
    proto == ETH_P_8021Q || proto == ETH_P_8021AD
}

/// `__vlan_insert_tag`: 4 bytes after the MAC addresses holding `proto`
/// and `tci`; the MAC header moves to the new start.
fn insert_tag(st: &mut RunState, proto: u16, tci: u16) -> bool {
    if !st.reserve(VLAN_HLEN, 0) {
        return false;
    }
    let d = st.data;
    st.frame().copy_within(d..d + ETH_ALEN2, d - VLAN_HLEN);
    let tag = d - VLAN_HLEN + ETH_ALEN2;
    st.frame()[tag..tag + 2].copy_from_slice(&proto.to_ne_bytes());
    st.frame()[tag + 2..tag + 4].copy_from_slice(&tci.to_be_bytes());
    st.data -= VLAN_HLEN;
    st.len += VLAN_HLEN;
    st.mac -= VLAN_HLEN;
    true
}

/// `__skb_vlan_pop`: removes the in-band tag after the MAC addresses and
/// returns its TCI; `skb->protocol` becomes the encapsulated protocol.
fn remove_tag(st: &mut RunState) -> Result<u16, u64> {
    if st.len < ETH_HLEN + VLAN_HLEN {
        return Err(ENOMEM);
    }
    let d = st.data;
    let p = st.packet();
    let tci = u16::from_be_bytes([p[ETH_HLEN], p[ETH_HLEN + 1]]);
    let inner = u16::from_be_bytes([p[ETH_HLEN + 2], p[ETH_HLEN + 3]]);
    st.frame().copy_within(d..d + ETH_ALEN2, d + VLAN_HLEN);
    st.data += VLAN_HLEN;
    st.len -= VLAN_HLEN;
    st.mac += VLAN_HLEN;
    // `vlan_set_encap_proto`: an EtherType, else 802.3 (raw, first bytes
    // 0xffff) or 802.2, judged on the bytes now at the start.
    st.protocol = if inner >= 0x600 {
        inner.to_be()
    } else if st.packet()[..2] == [0xff, 0xff] {
        0x0001u16.to_be()
    } else {
        0x0004u16.to_be()
    };
    if st.network < st.data + ETH_HLEN {
        st.network = st.data + ETH_HLEN;
    }
    Ok(tci)
}

/// `bpf_skb_vlan_push(skb, vlan_proto, vlan_tci)`: a protocol other than
/// 802.1Q or 802.1ad counts as 802.1Q.
fn vlan_push(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let proto = if is_vlan(a[1] as u16) {
        a[1] as u16
    } else {
        ETH_P_8021Q
    };
    let tci = a[2] as u16;
    tc_run("bpf_skb_vlan_push", a[0], |st| {
        let mut ret = 0;
        if let Some((old_proto, old_tci)) = st.vlan {
            // The MAC header grows by the tag (`mac_len += VLAN_HLEN`): the
            // network header stays where it is.
            if insert_tag(st, old_proto, old_tci) {
                st.protocol = old_proto;
            } else {
                ret = ENOMEM;
            }
        }
        if ret == 0 {
            st.vlan = Some((proto, tci));
        }
        st.commit(ctx)?;
        Ok(ret)
    })
}

/// `bpf_skb_vlan_pop(skb)`.
fn vlan_pop(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    tc_run("bpf_skb_vlan_pop", a[0], |st| {
        let ret = pop_inner(st);
        st.commit(ctx)?;
        Ok(ret)
    })
}

fn pop_inner(st: &mut RunState) -> u64 {
    if st.vlan.take().is_none() {
        if !is_vlan(st.protocol) {
            return 0;
        }
        if let Err(e) = remove_tag(st) {
            return e;
        }
    }
    // The next tag moves into the accelerated one.
    if !is_vlan(st.protocol) {
        return 0;
    }
    let proto = st.protocol;
    match remove_tag(st) {
        Ok(tci) => {
            st.vlan = Some((proto, tci));
            0
        }
        Err(e) => e,
    }
}

/// `bpf_skb_set_tunnel_key(skb, key, size, flags)`.
fn set_tunnel_key(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (ptr, size, flags) = (a[1], a[2] as u32 as usize, a[3]);
    if flags & !(F_TUNINFO_IPV6 | F_ZERO_CSUM_TX | F_DONT_FRAGMENT | F_SEQ_NUMBER | F_NO_TUNNEL_KEY)
        != 0
    {
        return Ok(EINVAL);
    }
    if size != TUNNEL_KEY_SIZE && !TUNNEL_KEY_COMPAT.contains(&size) {
        return Ok(EINVAL);
    }
    let mut key = [0u8; TUNNEL_KEY_SIZE];
    ctx.read(ptr, &mut key[..size])?;
    let word = |o: usize| u32::from_ne_bytes(key[o..o + 4].try_into().unwrap());
    let ipv6 = flags & F_TUNINFO_IPV6 != 0;
    let ext = u16::from_ne_bytes([key[22], key[23]]);
    if (!ipv6 && word(24) != 0) || ext != 0 {
        return Ok(EINVAL);
    }
    let bit = |on: bool, b: u32| if on { 1 << b } else { 0 };
    let mut info = TunnelInfo {
        ipv6,
        id: word(0),
        tos: key[20],
        ttl: key[21],
        flags: 1 << TUN_NOCACHE
            | bit(flags & F_DONT_FRAGMENT != 0, TUN_DONT_FRAGMENT)
            | bit(flags & F_ZERO_CSUM_TX == 0, TUN_CSUM)
            | bit(flags & F_SEQ_NUMBER != 0, TUN_SEQ)
            | bit(flags & F_NO_TUNNEL_KEY == 0, TUN_KEY),
        ..TunnelInfo::default()
    };
    if ipv6 {
        info.dst.copy_from_slice(&key[4..20]);
        info.src.copy_from_slice(&key[28..44]);
        info.label = word(24) & FLOWLABEL_MASK;
    } else {
        info.dst[..4].copy_from_slice(&key[4..8]);
        info.src[..4].copy_from_slice(&key[28..32]);
    }
    tc_run("bpf_skb_set_tunnel_key", a[0], |st| {
        st.tunnel = Some(info);
        Ok(0)
    })
}

/// `bpf_skb_get_tunnel_key(skb, key, size, flags)`: the key is zeroed on
/// any error (`-EINVAL` without tunnel metadata or for unknown flags or
/// sizes, `-EPROTO` for the other address family).
fn get_tunnel_key(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (ptr, size, flags) = (a[1], a[2] as u32 as usize, a[3]);
    let info = tc_run("bpf_skb_get_tunnel_key", a[0], |st| Ok(st.tunnel.clone()))?;
    let mut key = [0u8; TUNNEL_KEY_SIZE];
    let ret = (|| {
        let Some(info) = info else { return EINVAL };
        if flags & !(F_TUNINFO_IPV6 | F_TUNINFO_FLAGS) != 0 {
            return EINVAL;
        }
        if info.ipv6 != (flags & F_TUNINFO_IPV6 != 0) {
            return EPROTO;
        }
        let ok_size = size == TUNNEL_KEY_SIZE
            || TUNNEL_KEY_COMPAT[1..].contains(&size)
            || (size == TUNNEL_KEY_COMPAT[0] && !info.ipv6);
        if !ok_size {
            return EINVAL;
        }
        key[0..4].copy_from_slice(&info.id.to_ne_bytes());
        key[20] = info.tos;
        key[21] = info.ttl;
        if flags & F_TUNINFO_FLAGS != 0 {
            // `ip_tunnel_flags_to_be16`: bit i becomes `cpu_to_be16(1 << i)`.
            let be = ((info.flags & 0xffff) as u16).to_be();
            key[22..24].copy_from_slice(&be.to_ne_bytes());
        }
        if info.ipv6 {
            key[4..20].copy_from_slice(&info.src);
            key[28..44].copy_from_slice(&info.dst);
            key[24..28].copy_from_slice(&info.label.to_ne_bytes());
        } else {
            key[4..8].copy_from_slice(&info.src[..4]);
            key[28..32].copy_from_slice(&info.dst[..4]);
        }
        0
    })();
    if ret == 0 {
        ctx.write(ptr, &key[..size])?;
    } else {
        // The kernel clears the whole `size` bytes it was given.
        ctx.check(ptr, size as u64, true)?;
        ctx.write(ptr, &vec![0; size])?;
    }
    Ok(ret)
}

/// `bpf_skb_set_tunnel_opt(skb, opt, size)`: options for the tunnel key
/// set before (`-EINVAL` without one or for a size not a multiple of 4,
/// `-ENOMEM` beyond 255 bytes).
fn set_tunnel_opt(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (ptr, size) = (a[1], a[2] as u32 as usize);
    let has_key = tc_run("bpf_skb_set_tunnel_opt", a[0], |st| Ok(st.tunnel.is_some()))?;
    if !has_key || !size.is_multiple_of(4) {
        return Ok(EINVAL);
    }
    if size > TUNNEL_OPTS_MAX {
        return Ok(ENOMEM);
    }
    let mut opts = vec![0; size];
    ctx.read(ptr, &mut opts)?;
    with_run(None, |st| {
        if let Some(t) = st.tunnel.as_mut() {
            if size > 0 {
                t.flags |= TUN_OPTIONS_PRESENT;
            }
            t.opts = opts;
        }
    })?;
    Ok(0)
}

/// `bpf_skb_get_tunnel_opt(skb, opt, size)`: the options' length, the
/// rest of `opt` zeroed; `-ENOENT` without options, `-ENOMEM` if they do
/// not fit (`opt` zeroed on errors).
fn get_tunnel_opt(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (ptr, size) = (a[1], a[2] as u32 as usize);
    let info = tc_run("bpf_skb_get_tunnel_opt", a[0], |st| Ok(st.tunnel.clone()))?;
    ctx.check(ptr, size as u64, true)?;
    let mut out = vec![0; size];
    let ret = match info {
        Some(t) if t.flags & TUN_OPTIONS_PRESENT != 0 => {
            if size < t.opts.len() {
                ENOMEM
            } else {
                out[..t.opts.len()].copy_from_slice(&t.opts);
                t.opts.len() as u64
            }
        }
        _ => ENOENT,
    };
    if ret == ENOMEM {
        out.fill(0);
    }
    ctx.write(ptr, &out)?;
    Ok(ret)
}

/// `bpf_set_hash_invalid(skb)`: `skb_clear_hash`.
fn set_hash_invalid(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_run(Some(a[0]), |st| {
        st.hash_invalidated = true;
        st.ctx.hash = 0;
    })?;
    Ok(0)
}

/// `bpf_clone_redirect(skb, ifindex, flags)`: `-EINVAL` for flags beyond
/// `BPF_F_INGRESS`; otherwise the packet as it is now is recorded for
/// the host, which owns the devices (the kernel would also fail with
/// `-EINVAL` for an `ifindex` it has no device for).
fn clone_redirect(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (ifindex, flags) = (a[1] as u32, a[2]);
    tc_run("bpf_clone_redirect", a[0], |st| {
        if flags & !F_INGRESS != 0 {
            return Ok(EINVAL);
        }
        let packet = st.packet().to_vec();
        st.clones.push(PacketClone {
            ifindex,
            ingress: flags & F_INGRESS != 0,
            packet,
        });
        st.commit(ctx)?;
        Ok(0)
    })
}
