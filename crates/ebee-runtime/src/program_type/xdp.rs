//! XDP in userspace: [`Xdp`] runs a program on one packet the way
//! `BPF_PROG_TEST_RUN` does, with the kernel's frame geometry, helpers and
//! limits.
//!
//! # Design
//!
//! The program sees `struct xdp_md` (six `u32`s) and uses `data`,
//! `data_end` and `data_meta` as pointers. The packet lives in a
//! [`LowFrame`] (below 4 GiB), so those 32-bit values are its real
//! addresses; nothing is rewritten. The frame is laid out as in the
//! kernel's test run: a 4096-byte frame, the packet at
//! [`XDP_PACKET_HEADROOM`] (256), and [`XDP_TAILROOM`] bytes reserved at
//! the end (the kernel's `skb_shared_info`), so packets up to
//! [`XDP_MAX_PACKET`] bytes fit. The context is read-only; the packet
//! (`[data_meta, data_end)`) is writable, and is the only packet memory a
//! checked run may touch: after `bpf_xdp_adjust_head/meta/tail` the
//! region follows the new bounds.
//!
//! Helpers find the run through a thread-local set for the duration of
//! [`Xdp::run`] and refuse a context pointer that is not the run's, so
//! a forged pointer cannot make them write elsewhere.

use super::frame::LowFrame;
use crate::error::ExecError;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::helpers::HelperEnv;
use crate::map::{MapType, RedirectTarget};
use crate::region::Region;
use crate::vm::{Invocation, Vm};
use std::cell::Cell;
use std::sync::Arc;

/// Bytes before the packet (the kernel's `XDP_PACKET_HEADROOM`).
pub const XDP_PACKET_HEADROOM: usize = 256;
/// The frame size (one page, as the kernel's test run uses).
pub const XDP_FRAME_SIZE: usize = 4096;
/// Bytes reserved at the end of the frame:
/// `SKB_DATA_ALIGN(sizeof(struct skb_shared_info))` on x86-64.
pub const XDP_TAILROOM: usize = 320;
/// Bytes at the frame start `bpf_xdp_adjust_head` and
/// `bpf_xdp_adjust_meta` may not move into (`sizeof(struct xdp_frame)`).
pub const XDP_FRAME_HEADER: usize = 40;
/// The longest packet a frame holds.
pub const XDP_MAX_PACKET: usize = XDP_FRAME_SIZE - XDP_PACKET_HEADROOM - XDP_TAILROOM;
/// The longest metadata `bpf_xdp_adjust_meta` allows (Linux 6.x: the
/// `u8` `skb_shared_info::meta_len`; the 216 bytes of usable headroom are
/// the tighter limit in practice). Lengths must be multiples of 4.
pub const XDP_MAX_META: usize = 255;
const ETH_HLEN: u64 = 14;
const EINVAL: i64 = -22;
const EACCES: i64 = -13;

/// Helper ids (the kernel's).
pub mod helper_id {
    /// `bpf_redirect`.
    pub const REDIRECT: i32 = 23;
    /// `bpf_csum_diff`.
    pub const CSUM_DIFF: i32 = 28;
    /// `bpf_xdp_adjust_head`.
    pub const XDP_ADJUST_HEAD: i32 = 44;
    /// `bpf_fib_lookup` (on the object's [`crate::helpers::fib::Fib`]).
    pub const FIB_LOOKUP: i32 = 69;
    /// `bpf_xdp_adjust_meta`.
    pub const XDP_ADJUST_META: i32 = 54;
    /// `bpf_xdp_adjust_tail`.
    pub const XDP_ADJUST_TAIL: i32 = 65;
    /// `bpf_redirect_map`.
    pub const REDIRECT_MAP: i32 = 51;
}

/// `bpf_redirect_map` flag: send to every device of the devmap.
pub const BPF_F_BROADCAST: u64 = 1 << 3;
/// `bpf_redirect_map` flag: with [`BPF_F_BROADCAST`], not to the ingress device.
pub const BPF_F_EXCLUDE_INGRESS: u64 = 1 << 4;
/// The flag bits `bpf_redirect_map` returns when the key has no entry
/// (`XDP_ABORTED | XDP_DROP | XDP_PASS | XDP_TX`).
const ACTION_MASK: u64 = 3;

/// `struct xdp_md` as the program reads it.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XdpMd {
    /// Address of the first packet byte.
    pub data: u32,
    /// Address one past the last packet byte.
    pub data_end: u32,
    /// Address of the metadata (= `data` when there is none).
    pub data_meta: u32,
    /// The receiving interface.
    pub ingress_ifindex: u32,
    /// The receive queue.
    pub rx_queue_index: u32,
    /// The egress interface (devmap programs only; 0).
    pub egress_ifindex: u32,
}

/// An XDP verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XdpAction {
    /// `XDP_ABORTED` (0).
    Aborted,
    /// `XDP_DROP` (1).
    Drop,
    /// `XDP_PASS` (2).
    Pass,
    /// `XDP_TX` (3).
    Tx,
    /// `XDP_REDIRECT` (4).
    Redirect,
    /// Any other return value (the kernel treats it as aborted).
    Unknown(u64),
}

impl XdpAction {
    /// The action a return value means.
    pub fn from_ret(r0: u64) -> XdpAction {
        match r0 {
            0 => XdpAction::Aborted,
            1 => XdpAction::Drop,
            2 => XdpAction::Pass,
            3 => XdpAction::Tx,
            4 => XdpAction::Redirect,
            n => XdpAction::Unknown(n),
        }
    }

    /// The kernel's name (`XDP_PASS`, ...).
    pub fn name(&self) -> String {
        match self {
            XdpAction::Aborted => "XDP_ABORTED".into(),
            XdpAction::Drop => "XDP_DROP".into(),
            XdpAction::Pass => "XDP_PASS".into(),
            XdpAction::Tx => "XDP_TX".into(),
            XdpAction::Redirect => "XDP_REDIRECT".into(),
            XdpAction::Unknown(n) => format!("unknown XDP action {n}"),
        }
    }
}

/// Where `bpf_redirect` or `bpf_redirect_map` asked the packet to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redirect {
    /// The target interface index (`bpf_redirect`), or the map key
    /// (`bpf_redirect_map`).
    pub ifindex: u32,
    /// The flags argument.
    pub flags: u64,
    /// `bpf_redirect_map`: the map entry's target (`None` for
    /// `bpf_redirect`, and for a [`BPF_F_BROADCAST`] redirect whose key
    /// has no entry).
    pub target: Option<RedirectTarget>,
}

/// The result of one XDP run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdpOutcome {
    /// `r0`.
    pub ret: u64,
    /// `r0` as an action.
    pub action: XdpAction,
    /// The metadata in front of the packet (`bpf_xdp_adjust_meta`).
    pub meta: Vec<u8>,
    /// The packet as the program left it.
    pub packet: Vec<u8>,
    /// The last redirect the program asked for.
    pub redirect: Option<Redirect>,
}

impl XdpOutcome {
    /// Metadata followed by the packet: what `BPF_PROG_TEST_RUN` returns.
    pub fn data_out(&self) -> Vec<u8> {
        let mut v = self.meta.clone();
        v.extend_from_slice(&self.packet);
        v
    }
}

/// Why an XDP run did not produce an outcome.
#[derive(Debug, thiserror::Error)]
pub enum XdpError {
    /// The packet does not fit in a frame.
    #[error("packet of {0} bytes is longer than the XDP maximum {XDP_MAX_PACKET}")]
    TooLong(usize),
    /// The packet is shorter than an Ethernet header (the kernel refuses too).
    #[error("packet of {0} bytes is shorter than an Ethernet header")]
    TooShort(usize),
    /// The program failed.
    #[error(transparent)]
    Exec(#[from] ExecError),
}

/// The state helpers reach during a run.
struct RunState {
    md: XdpMd,
    frame_start: u64,
    packet: Region,
    redirect: Option<Redirect>,
}

thread_local! {
    static CURRENT: Cell<*mut RunState> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` on the current run's state if `ctx` is its context pointer.
fn with_run<T>(ctx: u64, f: impl FnOnce(&mut RunState) -> T) -> Result<T, HelperError> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("an XDP helper called outside an XDP run".into());
    }
    // SAFETY: `p` points at the `RunState` on `Xdp::run`'s stack, set for
    // exactly the duration of the program run on this thread; `run` does not
    // touch it meanwhile, and helpers run one at a time on this thread.
    let st = unsafe { &mut *p };
    if ctx != &raw const st.md as u64 {
        return Err(format!("{ctx:#x} is not this run's xdp_md").into());
    }
    Ok(f(st))
}

impl RunState {
    fn packet_region(&self) -> Region {
        let start = self.md.data_meta as u64;
        Region::new(start, self.md.data_end as u64 - start, true, "packet")
    }

    /// Makes the run's packet region follow the new bounds.
    fn update_region(&mut self, ctx: &mut HelperContext<'_>) -> Result<(), HelperError> {
        let new = self.packet_region();
        // SAFETY: the new bounds lie inside the frame (the helpers check
        // it), which outlives the run.
        if !unsafe { ctx.replace_region(self.packet, new) } {
            return Err("the packet region is gone".into());
        }
        self.packet = new;
        Ok(())
    }
}

/// `bpf_xdp_adjust_head(ctx, delta)`.
fn adjust_head(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let delta = a[1] as i32 as i64;
    with_run(a[0], |st| {
        let md = st.md;
        let metalen = (md.data - md.data_meta) as i64;
        let data = md.data as i64 + delta;
        let data_start = (st.frame_start + XDP_FRAME_HEADER as u64) as i64 + metalen;
        if data < data_start || data > md.data_end as i64 - ETH_HLEN as i64 {
            return Ok(EINVAL as u64);
        }
        if metalen > 0 {
            // SAFETY: both ranges lie inside the frame (checked above),
            // which is valid for the run; `copy` allows overlap.
            unsafe {
                std::ptr::copy(
                    md.data_meta as usize as *const u8,
                    (md.data_meta as i64 + delta) as usize as *mut u8,
                    metalen as usize,
                )
            };
        }
        st.md.data_meta = (md.data_meta as i64 + delta) as u32;
        st.md.data = data as u32;
        st.update_region(ctx).map(|_| 0)
    })?
}

/// `bpf_xdp_adjust_meta(ctx, delta)`.
fn adjust_meta(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let delta = a[1] as i32 as i64;
    with_run(a[0], |st| {
        let md = st.md;
        let meta = md.data_meta as i64 + delta;
        if meta < (st.frame_start + XDP_FRAME_HEADER as u64) as i64 || meta > md.data as i64 {
            return Ok(EINVAL as u64);
        }
        let metalen = md.data as i64 - meta;
        if metalen & 3 != 0 || metalen > XDP_MAX_META as i64 {
            return Ok(EACCES as u64);
        }
        st.md.data_meta = meta as u32;
        st.update_region(ctx).map(|_| 0)
    })?
}

/// `bpf_xdp_adjust_tail(ctx, delta)`.
fn adjust_tail(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let delta = a[1] as i32 as i64;
    with_run(a[0], |st| {
        let md = st.md;
        let hard_end = (st.frame_start + (XDP_FRAME_SIZE - XDP_TAILROOM) as u64) as i64;
        let end = md.data_end as i64 + delta;
        if end > hard_end || end < md.data as i64 + ETH_HLEN as i64 {
            return Ok(EINVAL as u64);
        }
        if delta > 0 {
            // SAFETY: `[data_end, data_end + delta)` lies inside the frame
            // (end <= hard_end), valid for the run.
            unsafe { std::ptr::write_bytes(md.data_end as usize as *mut u8, 0, delta as usize) };
        }
        st.md.data_end = end as u32;
        st.update_region(ctx).map(|_| 0)
    })?
}

/// `bpf_redirect(ifindex, flags)` for XDP: `XDP_REDIRECT`, or
/// `XDP_ABORTED` for any flag (the kernel's `__bpf_xdp_redirect`).
fn redirect(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    if a[1] != 0 {
        return Ok(0);
    }
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("bpf_redirect called outside an XDP run".into());
    }
    // SAFETY: as in `with_run`.
    unsafe {
        (*p).redirect = Some(Redirect {
            ifindex: a[0] as u32,
            flags: a[1],
            target: None,
        })
    };
    Ok(4)
}

/// `bpf_redirect_map(map, key, flags)` (the kernel's
/// `__bpf_xdp_redirect_map`): flag bits outside the action mask and the
/// map type's own flags (devmaps: [`BPF_F_BROADCAST`],
/// [`BPF_F_EXCLUDE_INGRESS`]; cpumaps, xskmaps: none) give `XDP_ABORTED`;
/// a key without an entry gives `flags & 3` and forgets any earlier
/// redirect (unless broadcasting); otherwise the target is recorded and
/// the result is `XDP_REDIRECT`. The key is the low 32 bits of `key`.
fn redirect_map(env: &HelperEnv, a: [u64; 5]) -> Result<u64, HelperError> {
    let map = env.map(a[0])?;
    let flag_mask = match map.map_type() {
        MapType::Devmap | MapType::DevmapHash => BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS,
        MapType::Cpumap | MapType::Xskmap => 0,
        t => return Err(format!("bpf_redirect_map on a {t:?} map").into()),
    };
    let (key, flags) = (a[1] as u32, a[2]);
    if flags & !(ACTION_MASK | flag_mask) != 0 {
        return Ok(0);
    }
    let target = map.redirect_target(key);
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("bpf_redirect_map called outside an XDP run".into());
    }
    // SAFETY: as in `with_run`.
    let st = unsafe { &mut *p };
    if target.is_none() && flags & BPF_F_BROADCAST == 0 {
        st.redirect = None;
        return Ok(flags & ACTION_MASK);
    }
    st.redirect = Some(Redirect {
        ifindex: key,
        flags,
        target,
    });
    Ok(4)
}

/// [`helpers`] plus `bpf_redirect_map`, which looks map handles up in
/// `env` (a loaded object's map table), and `bpf_fib_lookup` on `env`'s
/// forwarding table ([`HelperEnv::set_fib`]): what the loader gives XDP
/// programs.
pub fn helpers_with_maps(env: &Arc<HelperEnv>) -> HelperRegistry {
    let mut h = helpers();
    let e = Arc::clone(env);
    h.register_with_context(helper_id::REDIRECT_MAP, "bpf_redirect_map", move |_, a| {
        redirect_map(&e, a)
    });
    let e = Arc::clone(env);
    h.register_with_context(helper_id::FIB_LOOKUP, "bpf_fib_lookup", move |ctx, a| {
        crate::helpers::fib::fib_lookup(&e.fib(), ctx, a, None)
    });
    h
}

/// The helpers of XDP programs: `bpf_xdp_adjust_head`, `_meta`, `_tail`,
/// `bpf_redirect`, `bpf_csum_diff`. Merge them into the program's
/// registry ([`super::merge_helpers`]).
pub fn helpers() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register_with_context(
        helper_id::XDP_ADJUST_HEAD,
        "bpf_xdp_adjust_head",
        adjust_head,
    )
    .register_with_context(
        helper_id::XDP_ADJUST_META,
        "bpf_xdp_adjust_meta",
        adjust_meta,
    )
    .register_with_context(
        helper_id::XDP_ADJUST_TAIL,
        "bpf_xdp_adjust_tail",
        adjust_tail,
    )
    .register_with_context(helper_id::REDIRECT, "bpf_redirect", redirect)
    .register_with_context(
        helper_id::CSUM_DIFF,
        "bpf_csum_diff",
        super::csum::csum_diff,
    );
    h
}

/// Runs XDP programs on packets, reusing one frame.
#[derive(Debug)]
pub struct Xdp {
    frame: LowFrame,
    /// `ingress_ifindex` programs see (1, the loopback device, as in the
    /// kernel's test run).
    pub ingress_ifindex: u32,
    /// `rx_queue_index` programs see.
    pub rx_queue_index: u32,
}

impl Xdp {
    /// A runner with its frame.
    pub fn new() -> std::io::Result<Xdp> {
        Ok(Xdp {
            frame: LowFrame::new(XDP_FRAME_SIZE)?,
            ingress_ifindex: 1,
            rx_queue_index: 0,
        })
    }

    /// Runs `vm` (which must have [`helpers`] registered if it calls them)
    /// on `packet` in checked mode.
    pub fn run(&mut self, vm: &Vm, packet: &[u8]) -> Result<XdpOutcome, XdpError> {
        self.run_inner(packet, |inv| vm.run_with(inv))
    }

    /// Runs a program of a loaded object (its maps and globals included):
    /// unchecked if the loader verified it as an XDP program
    /// ([`crate::loader::LoadedProgram::packet_unchecked`]), checked
    /// otherwise.
    pub fn run_loaded(
        &mut self,
        prog: &crate::loader::LoadedProgram,
        packet: &[u8],
    ) -> Result<XdpOutcome, XdpError> {
        // SAFETY: `run_inner` builds the XDP context (`xdp_md` whose
        // pointers bound the packet in the frame) with this module's
        // helpers, the context the verifier checked the program against.
        self.run_inner(packet, |inv| unsafe {
            prog.run_packet(inv, ebee_object::ProgramType::Xdp)
        })
    }

    fn run_inner(
        &mut self,
        packet: &[u8],
        run: impl FnOnce(&Invocation) -> Result<u64, ExecError>,
    ) -> Result<XdpOutcome, XdpError> {
        if packet.len() > XDP_MAX_PACKET {
            return Err(XdpError::TooLong(packet.len()));
        }
        if packet.len() < ETH_HLEN as usize {
            return Err(XdpError::TooShort(packet.len()));
        }
        let bytes = self.frame.bytes_mut();
        // The headroom must read as zeros (the kernel's frame is zeroed)
        // once bpf_xdp_adjust_head/meta expose it; bytes after the packet
        // are zeroed by bpf_xdp_adjust_tail when it grows the packet.
        bytes[..XDP_PACKET_HEADROOM].fill(0);
        bytes[XDP_PACKET_HEADROOM..XDP_PACKET_HEADROOM + packet.len()].copy_from_slice(packet);
        let base = self.frame.addr();
        let data = (base + XDP_PACKET_HEADROOM as u64) as u32;
        let mut st = RunState {
            md: XdpMd {
                data,
                data_end: data + packet.len() as u32,
                data_meta: data,
                ingress_ifindex: self.ingress_ifindex,
                rx_queue_index: self.rx_queue_index,
                egress_ifindex: 0,
            },
            frame_start: base,
            packet: Region::new(0, 0, false, ""),
            redirect: None,
        };
        st.packet = st.packet_region();
        let stp: *mut RunState = &raw mut st;
        // SAFETY: `stp` is valid; from here to the end of the run `st` is
        // only reached through `stp`.
        let ctx_addr = unsafe { &raw const (*stp).md } as u64;
        let mut inv = Invocation::new([ctx_addr, 0, 0, 0, 0]);
        // SAFETY: the context lives in `st` and the packet in the frame,
        // both alive and untouched by Rust code for the whole run (`self`
        // is borrowed mutably).
        unsafe {
            inv.set_input(Region::new(
                ctx_addr,
                std::mem::size_of::<XdpMd>() as u64,
                false,
                "xdp_md",
            ))
            .add_region((*stp).packet);
        }
        let prev = CURRENT.with(|c| c.replace(stp));
        let r = run(&inv);
        CURRENT.with(|c| c.set(prev));
        let ret = r?;
        // SAFETY: the run is over; nothing else refers to `st`.
        let st = unsafe { &*stp };
        let bytes = self.frame.bytes();
        let off = |a: u32| (a as u64 - base) as usize;
        Ok(XdpOutcome {
            ret,
            action: XdpAction::from_ret(ret),
            meta: bytes[off(st.md.data_meta)..off(st.md.data)].to_vec(),
            packet: bytes[off(st.md.data)..off(st.md.data_end)].to_vec(),
            redirect: st.redirect,
        })
    }
}
