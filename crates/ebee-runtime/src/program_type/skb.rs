//! Socket filters and tc classifiers in userspace: [`Skb`] runs a program
//! on one packet with a `struct __sk_buff` context, as
//! `BPF_PROG_TEST_RUN` does on the loopback device.
//!
//! The packet lives in a [`LowFrame`] so `data`/`data_end` (32-bit
//! fields) are its real addresses (see `program_type::frame`). As in the
//! kernel's test run, a socket filter's `skb->data` is the network header
//! (`len` excludes the Ethernet header, `ldabs` offsets start there),
//! while a tc program's starts at the Ethernet header. The context is
//! writable memory, but after the run only the fields the program type may
//! write are taken back ([`SkbKind::writable`]); the others keep the
//! values the host set.

use super::frame::LowFrame;
use crate::error::ExecError;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::region::Region;
use crate::vm::{Invocation, Vm};
use std::cell::Cell;

const ETH_HLEN: usize = 14;
/// Bytes before the packet in the frame, and after it in the frame's
/// last pages: room for the helpers that grow the packet (which move it
/// when one side runs out, as the kernel reallocates the head).
const HEADROOM: usize = 256;
/// The longest packet [`Skb`] runs on.
pub const SKB_MAX_PACKET: usize = 65535;
/// The longest packet `bpf_skb_change_tail`, `_change_head` and
/// `_adjust_room` make (the kernel's `BPF_SKB_MAX_LEN`, `SKB_MAX_ALLOC`
/// on 4 KiB pages: 16 KiB less the aligned `skb_shared_info`).
pub const SKB_MAX_GROWN: usize = 16384 - 320;

/// Helper ids (the kernel's).
pub mod helper_id {
    /// `bpf_skb_store_bytes`.
    pub const SKB_STORE_BYTES: i32 = 9;
    /// `bpf_redirect`.
    pub const REDIRECT: i32 = 23;
    /// `bpf_skb_load_bytes`.
    pub const SKB_LOAD_BYTES: i32 = 26;
    /// `bpf_csum_diff`.
    pub const CSUM_DIFF: i32 = 28;
    /// `bpf_get_hash_recalc`.
    pub const GET_HASH_RECALC: i32 = 34;
    /// `bpf_l3_csum_replace`.
    pub const L3_CSUM_REPLACE: i32 = 10;
    /// `bpf_l4_csum_replace`.
    pub const L4_CSUM_REPLACE: i32 = 11;
    /// `bpf_skb_change_proto`.
    pub const SKB_CHANGE_PROTO: i32 = 31;
    /// `bpf_skb_change_type`.
    pub const SKB_CHANGE_TYPE: i32 = 32;
    /// `bpf_skb_change_tail`.
    pub const SKB_CHANGE_TAIL: i32 = 38;
    /// `bpf_skb_pull_data`.
    pub const SKB_PULL_DATA: i32 = 39;
    /// `bpf_skb_change_head`.
    pub const SKB_CHANGE_HEAD: i32 = 43;
    /// `bpf_skb_adjust_room`.
    pub const SKB_ADJUST_ROOM: i32 = 50;
    /// `bpf_clone_redirect`.
    pub const CLONE_REDIRECT: i32 = 13;
    /// `bpf_skb_vlan_push`.
    pub const SKB_VLAN_PUSH: i32 = 18;
    /// `bpf_skb_vlan_pop`.
    pub const SKB_VLAN_POP: i32 = 19;
    /// `bpf_skb_get_tunnel_key`.
    pub const SKB_GET_TUNNEL_KEY: i32 = 20;
    /// `bpf_skb_set_tunnel_key`.
    pub const SKB_SET_TUNNEL_KEY: i32 = 21;
    /// `bpf_skb_get_tunnel_opt`.
    pub const SKB_GET_TUNNEL_OPT: i32 = 29;
    /// `bpf_skb_set_tunnel_opt`.
    pub const SKB_SET_TUNNEL_OPT: i32 = 30;
    /// `bpf_set_hash_invalid`.
    pub const SET_HASH_INVALID: i32 = 41;
}

/// `struct __sk_buff` (Linux UAPI layout, 192 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkBuff {
    /// Bytes from `data` to the end of the packet.
    pub len: u32,
    /// `PACKET_HOST` (0), `_BROADCAST` (1), `_MULTICAST` (2), `_OTHERHOST` (3).
    pub pkt_type: u32,
    /// The firewall mark.
    pub mark: u32,
    /// The transmit queue.
    pub queue_mapping: u32,
    /// The EtherType in network byte order.
    pub protocol: u32,
    /// Whether a VLAN tag was stripped.
    pub vlan_present: u32,
    /// The stripped VLAN tag.
    pub vlan_tci: u32,
    /// The stripped tag's protocol.
    pub vlan_proto: u32,
    /// The queueing priority.
    pub priority: u32,
    /// The interface the packet arrived on.
    pub ingress_ifindex: u32,
    /// The interface it is on.
    pub ifindex: u32,
    /// The tc index.
    pub tc_index: u32,
    /// The control block, scratch space shared between programs.
    pub cb: [u32; 5],
    /// The flow hash.
    pub hash: u32,
    /// The tc class id.
    pub tc_classid: u32,
    /// Address of the first byte at `skb->data` (set by the runner).
    pub data: u32,
    /// One past the packet's last byte (set by the runner).
    pub data_end: u32,
    /// The NAPI id.
    pub napi_id: u32,
    /// Socket fields (socket programs): family.
    pub family: u32,
    /// Remote IPv4 address.
    pub remote_ip4: u32,
    /// Local IPv4 address.
    pub local_ip4: u32,
    /// Remote IPv6 address.
    pub remote_ip6: [u32; 4],
    /// Local IPv6 address.
    pub local_ip6: [u32; 4],
    /// Remote port.
    pub remote_port: u32,
    /// Local port.
    pub local_port: u32,
    /// Address of the metadata (= `data`: none).
    pub data_meta: u32,
    /// `struct bpf_flow_keys *` (flow dissectors only; 0).
    pub flow_keys: u64,
    /// The timestamp.
    pub tstamp: u64,
    /// Length on the wire.
    pub wire_len: u32,
    /// GSO segments.
    pub gso_segs: u32,
    /// `struct bpf_sock *` (0: no socket).
    pub sk: u64,
    /// GSO size.
    pub gso_size: u32,
    /// Timestamp type.
    pub tstamp_type: u8,
    /// Padding (kept zero).
    pub pad: [u8; 3],
    /// The hardware timestamp.
    pub hwtstamp: u64,
}

const _: () = assert!(std::mem::size_of::<SkBuff>() == 192);

impl SkBuff {
    /// The context as the kernel's `ctx_in`/`ctx_out` bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // SAFETY: SkBuff is repr(C) integers and arrays with explicit
        // padding fields, 192 bytes with no implicit padding (asserted).
        unsafe { std::slice::from_raw_parts(self as *const SkBuff as *const u8, 192) }.to_vec()
    }

    /// A context from `ctx_out` bytes (zero-extended if shorter).
    pub fn from_bytes(bytes: &[u8]) -> SkBuff {
        let mut c = SkBuff::default();
        let n = bytes.len().min(192);
        // SAFETY: every bit pattern is a valid SkBuff (integers only); at
        // most 192 bytes are written into the 192-byte value.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), &raw mut c as *mut u8, n) };
        c
    }
}

/// Which program type runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkbKind {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: `skb->data` at the network header,
    /// read-only packet, writes to `cb` only.
    SocketFilter,
    /// `BPF_PROG_TYPE_SCHED_CLS`: `skb->data` at the Ethernet header,
    /// writable packet, writes to `mark`, `priority`, `queue_mapping`,
    /// `tc_index`, `cb`, `tc_classid`, `tstamp`.
    Tc,
}

impl SkbKind {
    /// Copies the fields this type may write from `after` into `before`.
    pub fn writable(&self, before: &mut SkBuff, after: &SkBuff) {
        before.cb = after.cb;
        if *self == SkbKind::Tc {
            before.mark = after.mark;
            before.priority = after.priority;
            before.queue_mapping = after.queue_mapping;
            before.tc_index = after.tc_index;
            before.tc_classid = after.tc_classid;
            before.tstamp = after.tstamp;
        }
    }
}

/// A tc verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcAction {
    /// `TC_ACT_UNSPEC` (-1).
    Unspec,
    /// `TC_ACT_OK` (0).
    Ok,
    /// `TC_ACT_RECLASSIFY` (1).
    Reclassify,
    /// `TC_ACT_SHOT` (2).
    Shot,
    /// `TC_ACT_PIPE` (3).
    Pipe,
    /// `TC_ACT_STOLEN` (4).
    Stolen,
    /// `TC_ACT_QUEUED` (5).
    Queued,
    /// `TC_ACT_REPEAT` (6).
    Repeat,
    /// `TC_ACT_REDIRECT` (7).
    Redirect,
    /// Anything else.
    Other(i32),
}

impl TcAction {
    /// The action a return value (its low 32 bits, signed) means.
    pub fn from_ret(r0: u64) -> TcAction {
        match r0 as i32 {
            -1 => TcAction::Unspec,
            0 => TcAction::Ok,
            1 => TcAction::Reclassify,
            2 => TcAction::Shot,
            3 => TcAction::Pipe,
            4 => TcAction::Stolen,
            5 => TcAction::Queued,
            6 => TcAction::Repeat,
            7 => TcAction::Redirect,
            n => TcAction::Other(n),
        }
    }

    /// The kernel's name (`TC_ACT_OK`, ...).
    pub fn name(&self) -> String {
        match self {
            TcAction::Unspec => "TC_ACT_UNSPEC".into(),
            TcAction::Ok => "TC_ACT_OK".into(),
            TcAction::Reclassify => "TC_ACT_RECLASSIFY".into(),
            TcAction::Shot => "TC_ACT_SHOT".into(),
            TcAction::Pipe => "TC_ACT_PIPE".into(),
            TcAction::Stolen => "TC_ACT_STOLEN".into(),
            TcAction::Queued => "TC_ACT_QUEUED".into(),
            TcAction::Repeat => "TC_ACT_REPEAT".into(),
            TcAction::Redirect => "TC_ACT_REDIRECT".into(),
            TcAction::Other(n) => format!("unknown tc action {n}"),
        }
    }
}

/// The result of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkbOutcome {
    /// `r0` (a socket filter: how many bytes to keep; tc: the action).
    pub ret: u64,
    /// The whole packet (Ethernet header included) after the run.
    pub packet: Vec<u8>,
    /// The context after the run (only writable fields changed).
    pub ctx: SkBuff,
    /// The last `bpf_redirect` target and flags (tc).
    pub redirect: Option<(u32, u64)>,
    /// The packets `bpf_clone_redirect` sent, in call order (tc).
    pub clones: Vec<PacketClone>,
}

/// A copy of the packet sent by `bpf_clone_redirect`, for the host to
/// deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketClone {
    /// The target device's index.
    pub ifindex: u32,
    /// `BPF_F_INGRESS`: to the device's receive path, else its transmit.
    pub ingress: bool,
    /// The packet as it was at the call, from the MAC header.
    pub packet: Vec<u8>,
}

impl SkbOutcome {
    /// `ret` as a tc action.
    pub fn tc_action(&self) -> TcAction {
        TcAction::from_ret(self.ret)
    }
}

/// Why a run did not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum SkbError {
    /// The packet is shorter than an Ethernet header or longer than
    /// [`SKB_MAX_PACKET`].
    #[error("a packet of {0} bytes (must be 14..=65535)")]
    BadLength(usize),
    /// The program failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The sk_buff of one run as the helpers see and change it. Positions
/// are offsets into the frame; `data..data + len` is the packet the
/// program sees (the whole packet is linear, as in the kernel's test run).
pub(crate) struct RunState {
    /// The context the program reads and writes.
    pub(crate) ctx: SkBuff,
    pub(crate) kind: SkbKind,
    frame_start: u64,
    frame_len: usize,
    /// `skb->data` and `skb->len`.
    pub(crate) data: usize,
    pub(crate) len: usize,
    /// `skb->mac_header`, `skb->network_header`, `skb->transport_header`
    /// (`None`: not set, as in a fresh test-run skb).
    pub(crate) mac: usize,
    pub(crate) network: usize,
    pub(crate) transport: Option<usize>,
    /// `skb->encapsulation` (set by `bpf_skb_adjust_room`'s encap flags).
    pub(crate) encapsulation: bool,
    /// `skb->protocol` as stored (network byte order).
    pub(crate) protocol: u16,
    /// `skb->pkt_type`.
    pub(crate) pkt_type: u32,
    /// The packet region the run may access (follows `data`/`len`).
    region: Region,
    pub(crate) redirect: Option<(u32, u64)>,
    pub(crate) hash_invalidated: bool,
    /// The accelerated VLAN tag (`skb->vlan_proto`, network order, and
    /// `skb->vlan_tci`), if set.
    pub(crate) vlan: Option<(u16, u16)>,
    /// Tunnel metadata set by `bpf_skb_set_tunnel_key`.
    pub(crate) tunnel: Option<crate::helpers::skb_meta::TunnelInfo>,
    /// Copies sent by `bpf_clone_redirect`.
    pub(crate) clones: Vec<PacketClone>,
}

impl RunState {
    /// `__sk_buff.vlan_present`, `vlan_tci`, `vlan_proto` from the tag.
    fn set_vlan_fields(&mut self) {
        let (proto, tci) = self.vlan.unwrap_or((0, 0));
        self.ctx.vlan_present = u32::from(self.vlan.is_some());
        self.ctx.vlan_proto = proto as u32;
        self.ctx.vlan_tci = tci as u32;
    }

    /// The whole frame.
    pub(crate) fn frame(&mut self) -> &mut [u8] {
        // SAFETY: the frame is the runner's `LowFrame`, valid for the
        // whole run (the runner holds it mutably); while a helper runs the
        // program does not, and no other Rust reference to it exists.
        unsafe {
            std::slice::from_raw_parts_mut(self.frame_start as usize as *mut u8, self.frame_len)
        }
    }

    /// The packet, `data..data + len`.
    pub(crate) fn packet(&mut self) -> &mut [u8] {
        let (d, l) = (self.data, self.len);
        &mut self.frame()[d..d + l]
    }

    /// Makes at least `head` bytes of headroom and `tail` bytes of
    /// tailroom, moving the packet (and its MAC header) inside the frame
    /// if needed, as `pskb_expand_head` reallocates; `false` if the frame
    /// is too small.
    pub(crate) fn reserve(&mut self, head: usize, tail: usize) -> bool {
        let start = self.mac.min(self.data);
        let end = self.data + self.len;
        if start >= head && self.frame_len - end >= tail {
            return true;
        }
        let used = end - start;
        let Some(slack) = self.frame_len.checked_sub(head + used + tail) else {
            return false;
        };
        let new_start = head + slack.min(HEADROOM);
        self.frame().copy_within(start..end, new_start);
        let shift = |p: usize| p - start + new_start;
        self.data = shift(self.data);
        self.mac = shift(self.mac);
        self.network = shift(self.network);
        self.transport = self.transport.map(shift);
        true
    }

    /// After a change of the packet's bounds: the context's `data`,
    /// `data_end`, `data_meta`, `len`, `protocol`, `pkt_type` and `hash`
    /// as the kernel's `bpf_compute_data_pointers` and context rewrites
    /// show them, and the run's packet region.
    pub(crate) fn commit(&mut self, ctx: &mut HelperContext<'_>) -> Result<(), HelperError> {
        let data = self.frame_start + self.data as u64;
        self.ctx.data = data as u32;
        self.ctx.data_meta = data as u32;
        self.ctx.data_end = (data + self.len as u64) as u32;
        self.ctx.len = self.len as u32;
        self.ctx.protocol = self.protocol as u32;
        self.ctx.pkt_type = self.pkt_type;
        if self.hash_invalidated {
            self.ctx.hash = 0;
        }
        self.set_vlan_fields();
        let new = Region::new(data, self.len as u64, self.kind == SkbKind::Tc, "packet");
        if new != self.region {
            // SAFETY: the new bounds lie inside the frame (`reserve` and
            // the helpers keep them there), which outlives the run.
            if !unsafe { ctx.replace_region(self.region, new) } {
                return Err("the packet region is gone".into());
            }
            // SAFETY: as above. Legacy loads read from `skb->data` with
            // `skb->len` as the kernel's do (an engine keeping its own
            // packet reads the old bounds; the runners use the
            // interpreter).
            unsafe { ctx.set_packet(new) };
            self.region = new;
        }
        Ok(())
    }
}

thread_local! {
    static CURRENT: Cell<*mut RunState> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` on the current run's state, if there is one and `ctx` (when
/// given) is its context pointer.
pub(crate) fn with_run<T>(
    ctx: Option<u64>,
    f: impl FnOnce(&mut RunState) -> T,
) -> Result<T, HelperError> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("an sk_buff helper called outside an sk_buff run".into());
    }
    // SAFETY: `p` points at the `RunState` on `Skb::run`'s stack, set for
    // exactly the program run on this thread, which does not touch it
    // meanwhile; helpers run one at a time.
    let st = unsafe { &mut *p };
    if let Some(ctx) = ctx {
        if ctx != &raw const st.ctx as u64 {
            return Err(format!("{ctx:#x} is not this run's __sk_buff").into());
        }
    }
    Ok(f(st))
}

const EFAULT: u64 = -14i64 as u64;
const EINVAL: u64 = -22i64 as u64;

/// `bpf_skb_load_bytes(skb, offset, to, len)`: `-EFAULT` (and `to`
/// zeroed) outside the packet.
fn load_bytes(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (off, to, len) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64);
    let (data, plen) = with_run(Some(a[0]), |st| {
        (st.frame_start + st.data as u64, st.len as u64)
    })?;
    ctx.check(to, len, true)?;
    let mut buf = vec![0u8; len as usize];
    if off > 0xffff || off + len > plen {
        ctx.write(to, &buf)?;
        return Ok(EFAULT);
    }
    // SAFETY: `[data + off, data + off + len)` lies inside the packet,
    // which the frame keeps valid for the run.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (data + off) as usize as *const u8,
            buf.as_mut_ptr(),
            len as usize,
        )
    };
    ctx.write(to, &buf)?;
    Ok(0)
}

/// `bpf_skb_store_bytes(skb, offset, from, len, flags)` (tc).
fn store_bytes(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let (off, from, len, flags) = (a[1] as u32 as u64, a[2], a[3] as u32 as u64, a[4]);
    let (data, plen, kind) = with_run(Some(a[0]), |st| {
        (st.frame_start + st.data as u64, st.len as u64, st.kind)
    })?;
    if kind != SkbKind::Tc {
        return Err("bpf_skb_store_bytes is not allowed for socket filters".into());
    }
    // BPF_F_RECOMPUTE_CSUM (1), BPF_F_INVALIDATE_HASH (2).
    if flags & !3 != 0 {
        return Ok(EINVAL);
    }
    if off > i32::MAX as u64 || off + len > plen {
        return Ok(EFAULT);
    }
    let mut buf = vec![0u8; len as usize];
    ctx.read(from, &mut buf)?;
    // SAFETY: inside the packet (checked), valid and writable for the run.
    unsafe {
        std::ptr::copy_nonoverlapping(buf.as_ptr(), (data + off) as usize as *mut u8, len as usize)
    };
    if flags & 2 != 0 {
        with_run(None, |st| {
            st.hash_invalidated = true;
            st.ctx.hash = 0;
        })?;
    }
    Ok(0)
}

/// `bpf_get_hash_recalc(skb)`: the hash the host set (Linux computes a
/// flow hash with a per-boot random key, which userspace cannot match).
fn hash_recalc(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_run(Some(a[0]), |st| {
        if st.hash_invalidated {
            0
        } else {
            st.ctx.hash as u64
        }
    })
}

/// `bpf_redirect(ifindex, flags)` for tc: `TC_ACT_REDIRECT` with flags
/// within `BPF_F_INGRESS`, `TC_ACT_SHOT` otherwise.
fn redirect(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    if a[1] & !1 != 0 {
        return Ok(2);
    }
    with_run(None, |st| {
        st.redirect = Some((a[0] as u32, a[1]));
        7
    })
}

/// The helpers of socket filters and tc programs: `bpf_skb_load_bytes`,
/// `bpf_skb_store_bytes` (tc only at run time), `bpf_csum_diff`,
/// `bpf_get_hash_recalc`, `bpf_redirect`, and the tc helpers that rewrite
/// checksums or change the packet (`bpf_l3_csum_replace`,
/// `bpf_l4_csum_replace`, `bpf_skb_change_proto`, `bpf_skb_change_type`,
/// `bpf_skb_change_tail`, `bpf_skb_pull_data`, `bpf_skb_change_head`,
/// `bpf_skb_adjust_room`; see `helpers/skb.rs`), and those that change
/// its metadata (`bpf_skb_vlan_push`, `bpf_skb_vlan_pop`,
/// `bpf_skb_get_tunnel_key`, `bpf_skb_set_tunnel_key`, their `_opt`s,
/// `bpf_set_hash_invalid`, `bpf_clone_redirect`; see `helpers/skb_meta.rs`).
pub fn helpers() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register_with_context(helper_id::SKB_LOAD_BYTES, "bpf_skb_load_bytes", load_bytes)
        .register_with_context(
            helper_id::SKB_STORE_BYTES,
            "bpf_skb_store_bytes",
            store_bytes,
        )
        .register_with_context(
            helper_id::CSUM_DIFF,
            "bpf_csum_diff",
            super::csum::csum_diff,
        )
        .register_with_context(
            helper_id::GET_HASH_RECALC,
            "bpf_get_hash_recalc",
            hash_recalc,
        )
        .register_with_context(helper_id::REDIRECT, "bpf_redirect", redirect);
    crate::helpers::skb::register(&mut h);
    crate::helpers::skb_meta::register(&mut h);
    h
}

/// `bpf_fib_lookup` for tc programs on `env`'s forwarding table
/// ([`crate::helpers::HelperEnv::set_fib`]), with the run's packet length:
/// what the loader adds to [`helpers`] for tc programs.
pub fn tc_helpers_with_env(env: &std::sync::Arc<crate::helpers::HelperEnv>) -> HelperRegistry {
    let mut h = HelperRegistry::new();
    let e = std::sync::Arc::clone(env);
    h.register_with_context(69, "bpf_fib_lookup", move |ctx, a| {
        let len = with_run(Some(a[0]), |st| st.len)?;
        crate::helpers::fib::fib_lookup(&e.fib(), ctx, a, Some(len))
    });
    h
}

/// Runs socket filters or tc programs on packets, reusing one frame.
#[derive(Debug)]
pub struct Skb {
    kind: SkbKind,
    frame: LowFrame,
    /// The context fields the host sets (`mark`, `priority`, `hash`, `cb`,
    /// ...); `len`, `data`, `data_end`, `data_meta`, `protocol` and
    /// `pkt_type` are filled in from each packet. Defaults: as the
    /// kernel's test run on loopback (`ifindex` 1, the rest 0).
    pub ctx: SkBuff,
}

impl Skb {
    /// A runner for `kind`.
    pub fn new(kind: SkbKind) -> std::io::Result<Skb> {
        Ok(Skb {
            kind,
            frame: LowFrame::new(2 * HEADROOM + SKB_MAX_PACKET)?,
            ctx: SkBuff {
                ifindex: 1,
                ..SkBuff::default()
            },
        })
    }

    /// Runs `vm` on `packet` (an Ethernet frame) in checked mode.
    pub fn run(&mut self, vm: &Vm, packet: &[u8]) -> Result<SkbOutcome, SkbError> {
        self.run_inner(packet, |inv| vm.run_with(inv))
    }

    /// Runs a program of a loaded object (its maps and globals included):
    /// unchecked if the loader verified it for this runner's program type
    /// ([`crate::loader::LoadedProgram::packet_unchecked`]), checked
    /// otherwise.
    pub fn run_loaded(
        &mut self,
        prog: &crate::loader::LoadedProgram,
        packet: &[u8],
    ) -> Result<SkbOutcome, SkbError> {
        let family = match self.kind {
            SkbKind::SocketFilter => ebee_object::ProgramType::SocketFilter,
            SkbKind::Tc => ebee_object::ProgramType::SchedCls,
        };
        // SAFETY: `run_inner` builds the `__sk_buff` of `self.kind` (data
        // and data_end bounding the packet in the frame, kept current by
        // the helpers), the context the verifier checked the program
        // against for that type.
        self.run_inner(packet, |inv| unsafe { prog.run_packet(inv, family) })
    }

    fn run_inner(
        &mut self,
        packet: &[u8],
        run: impl FnOnce(&Invocation) -> Result<u64, ExecError>,
    ) -> Result<SkbOutcome, SkbError> {
        if packet.len() < ETH_HLEN || packet.len() > SKB_MAX_PACKET {
            return Err(SkbError::BadLength(packet.len()));
        }
        let base = self.frame.addr();
        let frame_len = self.frame.len();
        self.frame.bytes_mut()[HEADROOM..HEADROOM + packet.len()].copy_from_slice(packet);
        let (data, network) = match self.kind {
            SkbKind::SocketFilter => (HEADROOM + ETH_HLEN, HEADROOM + ETH_HLEN),
            SkbKind::Tc => (HEADROOM, HEADROOM + ETH_HLEN),
        };
        let mut st = RunState {
            ctx: self.ctx,
            kind: self.kind,
            frame_start: base,
            frame_len,
            data,
            len: HEADROOM + packet.len() - data,
            mac: HEADROOM,
            network,
            transport: None,
            encapsulation: false,
            protocol: eth_protocol(packet),
            pkt_type: pkt_type(packet),
            region: Region::new(0, 0, false, ""),
            redirect: None,
            hash_invalidated: false,
            vlan: (self.ctx.vlan_present != 0)
                .then_some((self.ctx.vlan_proto as u16, self.ctx.vlan_tci as u16)),
            tunnel: None,
            clones: Vec::new(),
        };
        st.set_vlan_fields();
        let start = base + data as u64;
        st.region = Region::new(start, st.len as u64, self.kind == SkbKind::Tc, "packet");
        st.ctx.len = st.len as u32;
        st.ctx.data = start as u32;
        st.ctx.data_end = (start + st.len as u64) as u32;
        st.ctx.data_meta = start as u32;
        st.ctx.pkt_type = st.pkt_type;
        st.ctx.protocol = st.protocol as u32;
        let ctx = st.ctx;
        let data_region = st.region;
        let stp: *mut RunState = &raw mut st;
        // SAFETY: `stp` is valid; until the run ends `st` is only reached
        // through it.
        let ctx_addr = unsafe { &raw const (*stp).ctx } as u64;
        let mut inv = Invocation::new([ctx_addr, 0, 0, 0, 0]);
        // SAFETY: the context (in `st`) and the packet (in the frame, kept
        // by `&mut self`) stay valid and untouched by Rust code for the run.
        unsafe {
            inv.set_input(Region::new(
                ctx_addr,
                std::mem::size_of::<SkBuff>() as u64,
                true,
                "__sk_buff",
            ))
            .add_region(data_region)
            .set_packet(data_region);
        }
        let prev = CURRENT.with(|c| c.replace(stp));
        let r = run(&inv);
        CURRENT.with(|c| c.set(prev));
        let ret = r?;
        // SAFETY: the run is over; nothing else refers to `st`.
        let st = unsafe { &*stp };
        let mut out = ctx;
        self.kind.writable(&mut out, &st.ctx);
        if st.hash_invalidated {
            out.hash = 0;
        }
        // A socket filter's output starts at the MAC header in front of
        // `data` (the test run pushes it back); tc's at `data`.
        let from = match self.kind {
            SkbKind::SocketFilter => st.data - ETH_HLEN,
            SkbKind::Tc => st.data,
        };
        Ok(SkbOutcome {
            ret,
            packet: self.frame.bytes()[from..st.data + st.len].to_vec(),
            ctx: out,
            redirect: st.redirect,
            clones: st.clones.clone(),
        })
    }
}

/// `eth_type_trans`'s packet type on loopback, whose address and
/// broadcast address are both all-zero: `PACKET_HOST` for the zero
/// address, `PACKET_MULTICAST` for any group address (ff:ff:ff:ff:ff:ff
/// included, as the kernel's test run reports), `PACKET_OTHERHOST` else.
fn pkt_type(p: &[u8]) -> u32 {
    let dst = &p[..6];
    if dst.iter().all(|&b| b == 0) {
        0
    } else if dst[0] & 1 != 0 {
        2
    } else {
        3
    }
}

/// `eth_type_trans`'s protocol (network byte order, as `__sk_buff`
/// holds it): the EtherType, or 802.3 / 802.2 for length fields.
pub(crate) fn eth_protocol(p: &[u8]) -> u16 {
    let proto = u16::from_be_bytes([p[12], p[13]]);
    let be = if proto >= 0x600 {
        proto
    } else if p.len() >= 16 && p[14] == 0xff && p[15] == 0xff {
        0x0001
    } else {
        0x0004
    };
    be.to_be()
}
