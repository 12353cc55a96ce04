//! Socket filters and tc classifiers in userspace: [`Skb`] runs a program
//! on one packet with a `struct __sk_buff` context, as
//! `BPF_PROG_TEST_RUN` does on the loopback device.
//!
//! The packet lives in a [`LowFrame`] so `data`/`data_end` (32-bit
//! fields) are its real addresses (see [`super::frame`]). As in the
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
/// Bytes before the packet in the frame (headroom, unused by these helpers).
const HEADROOM: usize = 256;
/// The longest packet [`Skb`] runs on.
pub const SKB_MAX_PACKET: usize = 65535;

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

struct RunState {
    ctx: SkBuff,
    kind: SkbKind,
    /// `skb->data` and `skb->len` as the helpers use them.
    data: u64,
    len: u64,
    redirect: Option<(u32, u64)>,
    hash_invalidated: bool,
}

thread_local! {
    static CURRENT: Cell<*mut RunState> = const { Cell::new(std::ptr::null_mut()) };
}

fn with_run<T>(ctx: Option<u64>, f: impl FnOnce(&mut RunState) -> T) -> Result<T, HelperError> {
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
    let (data, plen) = with_run(Some(a[0]), |st| (st.data, st.len))?;
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
    let (data, plen, kind) = with_run(Some(a[0]), |st| (st.data, st.len, st.kind))?;
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
        with_run(None, |st| st.hash_invalidated = true)?;
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
/// `bpf_get_hash_recalc`, `bpf_redirect`.
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
            frame: LowFrame::new(HEADROOM + SKB_MAX_PACKET)?,
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

    /// Runs a program of a loaded object (its maps and globals included).
    pub fn run_loaded(
        &mut self,
        prog: &crate::loader::LoadedProgram,
        packet: &[u8],
    ) -> Result<SkbOutcome, SkbError> {
        self.run_inner(packet, |inv| prog.run_with(inv))
    }

    fn run_inner(
        &mut self,
        packet: &[u8],
        run: impl FnOnce(&Invocation) -> Result<u64, ExecError>,
    ) -> Result<SkbOutcome, SkbError> {
        if packet.len() < ETH_HLEN || packet.len() > SKB_MAX_PACKET {
            return Err(SkbError::BadLength(packet.len()));
        }
        let base = self.frame.addr() + HEADROOM as u64;
        self.frame.bytes_mut()[HEADROOM..HEADROOM + packet.len()].copy_from_slice(packet);
        let start = match self.kind {
            SkbKind::SocketFilter => base + ETH_HLEN as u64,
            SkbKind::Tc => base,
        };
        let end = base + packet.len() as u64;
        let mut ctx = self.ctx;
        ctx.len = (end - start) as u32;
        ctx.data = start as u32;
        ctx.data_end = end as u32;
        ctx.data_meta = start as u32;
        ctx.pkt_type = pkt_type(packet);
        ctx.protocol = eth_protocol(packet) as u32;
        let mut st = RunState {
            ctx,
            kind: self.kind,
            data: start,
            len: end - start,
            redirect: None,
            hash_invalidated: false,
        };
        let stp: *mut RunState = &raw mut st;
        // SAFETY: `stp` is valid; until the run ends `st` is only reached
        // through it.
        let ctx_addr = unsafe { &raw const (*stp).ctx } as u64;
        let data = Region::new(start, end - start, self.kind == SkbKind::Tc, "packet");
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
            .add_region(data)
            .set_packet(data);
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
        Ok(SkbOutcome {
            ret,
            packet: self.frame.bytes()[HEADROOM..HEADROOM + packet.len()].to_vec(),
            ctx: out,
            redirect: st.redirect,
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
fn eth_protocol(p: &[u8]) -> u16 {
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
