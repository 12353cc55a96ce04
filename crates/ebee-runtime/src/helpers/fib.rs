//! `bpf_fib_lookup` (69) for XDP and tc programs on a forwarding table the host
//! provides ([`Fib`]: interfaces, routes, neighbours), with the kernel's
//! `bpf_ipv4_fib_lookup` / `bpf_ipv6_fib_lookup` steps and return codes:
//!
//! 1. the input `ifindex` must name an interface (`-ENODEV`) that
//!    forwards (`BPF_FIB_LKUP_RET_FWD_DISABLED`);
//! 2. the longest matching route, lowest metric first among equals; none
//!    is `NOT_FWDED`, a blackhole, unreachable or prohibit route its code,
//!    a local or broadcast route `NOT_FWDED`;
//! 3. the MTU (the route's where the kernel uses it, else the egress
//!    interface's): a larger
//!    `tot_len` is `FRAG_NEEDED` with `mtu_result` set;
//! 4. `rt_metric`, the egress `ifindex` and, for a gateway route, the
//!    gateway as `ipv4_dst`/`ipv6_dst` are written; with
//!    `BPF_FIB_LOOKUP_SKIP_NEIGH` that is all, else the neighbour of the
//!    next hop gives `dmac` and the egress interface `smac`
//!    (`NO_NEIGH` without one);
//! 5. success clears the VLAN fields and sets `mtu_result`.
//!
//! tc programs check the MTU in step 3 only when they set `tot_len`;
//! otherwise a successful lookup compares the packet with the egress
//! interface's MTU afterwards ([`Fib::lookup_skb`]).
//!
//! Not modelled: policy rules (`BPF_FIB_LOOKUP_DIRECT`, `_TBID` and
//! `_MARK` are accepted, there is one table), `BPF_FIB_LOOKUP_SRC`
//! (`NO_SRC_ADDR` when the egress interface has no address of the
//! family, else its first address), multipath, IPv4 routes with IPv6
//! gateways, lightweight tunnels.

use super::{neg, EINVAL};
use crate::helper::{HelperContext, HelperError};
use std::net::IpAddr;

/// `BPF_FIB_LKUP_RET_*`.
pub mod ret {
    /// Forward: the fields are filled in.
    pub const SUCCESS: u64 = 0;
    /// Blackhole route: drop.
    pub const BLACKHOLE: u64 = 1;
    /// Unreachable route: drop.
    pub const UNREACHABLE: u64 = 2;
    /// Prohibit route: drop.
    pub const PROHIBIT: u64 = 3;
    /// Not forwarded (no route, a local or broadcast destination).
    pub const NOT_FWDED: u64 = 4;
    /// The input interface does not forward.
    pub const FWD_DISABLED: u64 = 5;
    /// A lightweight tunnel route.
    pub const UNSUPP_LWT: u64 = 6;
    /// No neighbour entry for the next hop.
    pub const NO_NEIGH: u64 = 7;
    /// The packet exceeds the MTU.
    pub const FRAG_NEEDED: u64 = 8;
    /// No source address for `BPF_FIB_LOOKUP_SRC`.
    pub const NO_SRC_ADDR: u64 = 9;
}

/// `BPF_FIB_LOOKUP_*` flags.
pub mod flags {
    /// Skip policy rules, use the main (or `tbid`) table.
    pub const DIRECT: u32 = 1;
    /// Look up as output (ifindex is the egress).
    pub const OUTPUT: u32 = 2;
    /// Do not resolve the neighbour.
    pub const SKIP_NEIGH: u32 = 4;
    /// Use table `tbid` (with `DIRECT`).
    pub const TBID: u32 = 8;
    /// Fill in the source address.
    pub const SRC: u32 = 16;
    /// Use `mark` for policy rules.
    pub const MARK: u32 = 32;
}

/// A network interface of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibInterface {
    /// Its index.
    pub ifindex: u32,
    /// Its MAC address.
    pub mac: [u8; 6],
    /// Its MTU.
    pub mtu: u32,
    /// Whether it forwards IPv4 (`net.ipv4.conf.X.forwarding`).
    pub forwarding_v4: bool,
    /// Whether it forwards IPv6 (`net.ipv6.conf.X.forwarding`).
    pub forwarding_v6: bool,
    /// Its addresses (for `BPF_FIB_LOOKUP_SRC`).
    pub addrs: Vec<IpAddr>,
}

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// Forward to a device / gateway (`RTN_UNICAST`).
    Unicast,
    /// Deliver locally (`RTN_LOCAL`).
    Local,
    /// Broadcast (`RTN_BROADCAST`).
    Broadcast,
    /// Drop silently (`RTN_BLACKHOLE`).
    Blackhole,
    /// Drop as unreachable (`RTN_UNREACHABLE`).
    Unreachable,
    /// Drop as prohibited (`RTN_PROHIBIT`).
    Prohibit,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination network.
    pub dst: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// What it does.
    pub kind: RouteKind,
    /// The egress interface (unicast routes).
    pub ifindex: u32,
    /// The gateway, if not directly connected.
    pub gateway: Option<IpAddr>,
    /// The metric (`fib_priority`).
    pub metric: u32,
    /// The route's MTU metric, if it has one. Lookups use it only when it
    /// is locked (`mtu lock N`), as the kernel's `ip_mtu_from_fib_result`
    /// and `ip6_mtu_from_fib6`; otherwise the egress interface's MTU.
    pub mtu: Option<u32>,
    /// Whether the MTU metric is locked.
    pub mtu_locked: bool,
}

/// A neighbour (ARP / NDP entry in a valid state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    /// The interface it is on.
    pub ifindex: u32,
    /// Its address.
    pub ip: IpAddr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

/// The host's forwarding state `bpf_fib_lookup` consults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fib {
    /// The interfaces.
    pub interfaces: Vec<FibInterface>,
    /// The routes (one table).
    pub routes: Vec<Route>,
    /// The neighbours.
    pub neighbours: Vec<Neighbour>,
}

/// `struct bpf_fib_lookup` (64 bytes) offsets.
const FAMILY: usize = 0;
const TOT_LEN: usize = 6;
const IFINDEX: usize = 8;
const RT_METRIC: usize = 12;
const SRC: usize = 16;
const DST: usize = 32;
const VLAN: usize = 48;
const SMAC: usize = 52;
const DMAC: usize = 58;
/// Its size.
pub const FIB_LOOKUP_SIZE: usize = 64;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const ENODEV: i32 = 19;
const EAFNOSUPPORT: i32 = 97;

/// The `tot_len` the program passed.
fn tot_len(p: &[u8; FIB_LOOKUP_SIZE]) -> u16 {
    u16::from_ne_bytes([p[TOT_LEN], p[TOT_LEN + 1]])
}

/// Writes `mtu_result` (in a union with `tot_len`).
fn set_mtu_result(p: &mut [u8; FIB_LOOKUP_SIZE], mtu: u32) {
    p[TOT_LEN..TOT_LEN + 2].copy_from_slice(&(mtu as u16).to_ne_bytes());
}

/// The `ifindex` field (the input interface, the egress one on success).
fn ifindex(p: &[u8; FIB_LOOKUP_SIZE]) -> u32 {
    u32::from_ne_bytes([p[IFINDEX], p[IFINDEX + 1], p[IFINDEX + 2], p[IFINDEX + 3]])
}

fn prefix_match(net: IpAddr, prefix: u8, a: IpAddr) -> bool {
    match (net, a) {
        (IpAddr::V4(n), IpAddr::V4(a)) => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) => {
            let p = u32::from(prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

impl Fib {
    fn interface(&self, ifindex: u32) -> Option<&FibInterface> {
        self.interfaces.iter().find(|i| i.ifindex == ifindex)
    }

    /// The route for `dst`: longest prefix, then lowest metric.
    pub fn route(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| prefix_match(r.dst, r.prefix, dst))
            .min_by_key(|r| (std::cmp::Reverse(r.prefix), r.metric))
    }

    /// `bpf_fib_lookup` on the 64 bytes of `p` with `flags` as XDP
    /// programs call it (the MTU checked against `tot_len`): the return
    /// code, `p` updated as the kernel does.
    pub fn lookup(&self, p: &mut [u8; FIB_LOOKUP_SIZE], flags: u32) -> u64 {
        self.lookup_inner(p, flags, true)
    }

    /// `bpf_fib_lookup` as tc programs call it on a packet of
    /// `skb_len` bytes (from the MAC header): the MTU is checked against
    /// `tot_len` when it is set; otherwise a successful lookup checks the
    /// packet against the egress interface (`is_skb_forwardable`: its MTU
    /// plus the Ethernet and VLAN headers) and reports that MTU.
    pub fn lookup_skb(&self, p: &mut [u8; FIB_LOOKUP_SIZE], flags: u32, skb_len: usize) -> u64 {
        let check_mtu = tot_len(p) != 0;
        let r = self.lookup_inner(p, flags, check_mtu);
        if r != ret::SUCCESS || check_mtu {
            return r;
        }
        let ifindex = ifindex(p);
        let Some(out) = self.interface(ifindex) else {
            return r;
        };
        set_mtu_result(p, out.mtu);
        if skb_len as u64 > u64::from(out.mtu) + 14 + 4 {
            ret::FRAG_NEEDED
        } else {
            r
        }
    }

    fn lookup_inner(&self, p: &mut [u8; FIB_LOOKUP_SIZE], flags: u32, check_mtu: bool) -> u64 {
        let v4 = match p[FAMILY] {
            AF_INET => true,
            AF_INET6 => false,
            _ => return neg(EAFNOSUPPORT),
        };
        let ifindex = ifindex(p);
        let Some(input) = self.interface(ifindex) else {
            return neg(ENODEV);
        };
        if !(if v4 {
            input.forwarding_v4
        } else {
            input.forwarding_v6
        }) {
            return ret::FWD_DISABLED;
        }
        let addr = |off: usize| -> IpAddr {
            if v4 {
                IpAddr::from(<[u8; 4]>::try_from(&p[off..off + 4]).unwrap_or_default())
            } else {
                IpAddr::from(<[u8; 16]>::try_from(&p[off..off + 16]).unwrap_or_default())
            }
        };
        let dst = addr(DST);
        let Some(route) = self.route(dst) else {
            return ret::NOT_FWDED;
        };
        match route.kind {
            RouteKind::Unicast => {}
            RouteKind::Blackhole => return ret::BLACKHOLE,
            RouteKind::Unreachable => return ret::UNREACHABLE,
            RouteKind::Prohibit => return ret::PROHIBIT,
            RouteKind::Local | RouteKind::Broadcast => return ret::NOT_FWDED,
        }
        let Some(out) = self.interface(route.ifindex) else {
            return ret::NOT_FWDED;
        };
        let route_mtu = route.mtu.filter(|_| route.mtu_locked);
        let mtu = route_mtu.unwrap_or(out.mtu);
        let tot_len = tot_len(p);
        if check_mtu && u32::from(tot_len) > mtu {
            set_mtu_result(p, mtu);
            return ret::FRAG_NEEDED;
        }
        p[RT_METRIC..RT_METRIC + 4].copy_from_slice(&route.metric.to_ne_bytes());
        p[IFINDEX..IFINDEX + 4].copy_from_slice(&out.ifindex.to_ne_bytes());
        if flags & flags::SRC != 0 {
            let Some(src) = out.addrs.iter().find(|a| a.is_ipv4() == v4) else {
                return ret::NO_SRC_ADDR;
            };
            match src {
                IpAddr::V4(a) => p[SRC..SRC + 4].copy_from_slice(&a.octets()),
                IpAddr::V6(a) => p[SRC..SRC + 16].copy_from_slice(&a.octets()),
            }
        }
        let next_hop = match route.gateway {
            Some(IpAddr::V4(g)) if v4 => {
                p[DST..DST + 4].copy_from_slice(&g.octets());
                IpAddr::V4(g)
            }
            Some(IpAddr::V6(g)) if !v4 => {
                p[DST..DST + 16].copy_from_slice(&g.octets());
                IpAddr::V6(g)
            }
            Some(_) => return ret::UNSUPP_LWT,
            None => dst,
        };
        if flags & flags::SKIP_NEIGH == 0 {
            let Some(n) = self
                .neighbours
                .iter()
                .find(|n| n.ifindex == out.ifindex && n.ip == next_hop)
            else {
                return ret::NO_NEIGH;
            };
            p[DMAC..DMAC + 6].copy_from_slice(&n.mac);
            p[SMAC..SMAC + 6].copy_from_slice(&out.mac);
        }
        p[VLAN..VLAN + 4].fill(0);
        if check_mtu {
            set_mtu_result(p, mtu);
        }
        ret::SUCCESS
    }
}

/// `bpf_fib_lookup(ctx, params, plen, flags)` on `fib`: for XDP
/// (`skb_len` `None`) or tc (the packet's length).
pub(crate) fn fib_lookup(
    fib: &Fib,
    ctx: &mut HelperContext<'_>,
    a: [u64; 5],
    skb_len: Option<usize>,
) -> Result<u64, HelperError> {
    let (params, plen, fl) = (a[1], a[2] as i32, a[3] as u32);
    ctx.check(params, plen.max(0) as u64, true)?;
    if (plen as usize) < FIB_LOOKUP_SIZE || plen < 0 {
        return Ok(neg(EINVAL));
    }
    if fl & !0x3f != 0 {
        return Ok(neg(EINVAL));
    }
    let mut p = [0u8; FIB_LOOKUP_SIZE];
    ctx.read(params, &mut p)?;
    let r = match skb_len {
        None => fib.lookup(&mut p, fl),
        Some(n) => fib.lookup_skb(&mut p, fl, n),
    };
    ctx.write(params, &p)?;
    Ok(r)
}
