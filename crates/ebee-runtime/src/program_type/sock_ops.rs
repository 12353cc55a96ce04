//! Socket operations programs (`BPF_PROG_TYPE_SOCK_OPS`, section
//! `sockops`) in userspace: [`SockOps`] runs a program for one TCP event
//! of a socket the embedder describes, with the kernel's
//! `struct bpf_sock_ops` context and its socket option helpers.
//!
//! The embedder fills [`SockOps::ctx`] the way the kernel's
//! `sock_ops_convert_ctx_access` would show its socket (the operation and
//! its arguments, addresses and ports, the TCP counters) and keeps the
//! socket's options in [`SockOps::options`]. As in the kernel, a program
//! may write only `reply` and `sk_txhash`; the TCP fields read as zero
//! when `is_fullsock` is 0, and the socket and packet pointers (`sk`,
//! `skb_data`, `skb_data_end`) are 0 (the verifier refuses to read them).
//! What the helpers change survives the run, as it would on the socket:
//! `bpf_sock_ops_cb_flags_set` and `TCP_BPF_SOCK_OPS_CB_FLAGS` update
//! `bpf_sock_ops_cb_flags`, `TCP_BPF_IW` `snd_cwnd`,
//! `TCP_BPF_SNDCWND_CLAMP` `snd_ssthresh`, and `bpf_setsockopt` the
//! option record (see [`crate::helpers::sockopt`]).

use crate::error::ExecError;
use crate::helper::{HelperContext, HelperError, HelperRegistry};
use crate::helpers::neg;
use crate::helpers::sockopt::{cb_flags_set, locked_op, SockOptions};
use crate::region::Region;
use crate::vm::{Invocation, Vm};
use std::cell::Cell;

/// `struct bpf_sock_ops` (Linux UAPI layout, 224 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BpfSockOps {
    /// The operation (`BPF_SOCK_OPS_*`, see [`op`]).
    pub op: u32,
    /// The operation's arguments; `args[0]` is also `reply`, what the
    /// program answers.
    pub args: [u32; 4],
    /// `AF_INET` (2) or `AF_INET6` (10).
    pub family: u32,
    /// Remote IPv4 address, network byte order.
    pub remote_ip4: u32,
    /// Local IPv4 address, network byte order.
    pub local_ip4: u32,
    /// Remote IPv6 address, network byte order.
    pub remote_ip6: [u32; 4],
    /// Local IPv6 address, network byte order.
    pub local_ip6: [u32; 4],
    /// Remote port, network byte order (in the low 16 bits).
    pub remote_port: u32,
    /// Local port, host byte order.
    pub local_port: u32,
    /// Whether the socket is a full socket (not a request or time-wait
    /// socket); the TCP fields read as zero otherwise.
    pub is_fullsock: u32,
    /// `snd_cwnd`.
    pub snd_cwnd: u32,
    /// Smoothed RTT << 3, µs.
    pub srtt_us: u32,
    /// Which optional callbacks are enabled (`BPF_SOCK_OPS_*_CB_FLAG`).
    pub bpf_sock_ops_cb_flags: u32,
    /// The TCP state (`BPF_TCP_*`: 1 established ... 7 close, 10 listen).
    pub state: u32,
    /// Minimum RTT, µs.
    pub rtt_min: u32,
    /// `snd_ssthresh`.
    pub snd_ssthresh: u32,
    /// `rcv_nxt`.
    pub rcv_nxt: u32,
    /// `snd_nxt`.
    pub snd_nxt: u32,
    /// `snd_una`.
    pub snd_una: u32,
    /// `mss_cache`.
    pub mss_cache: u32,
    /// `ecn_flags`.
    pub ecn_flags: u32,
    /// `rate_delivered`.
    pub rate_delivered: u32,
    /// `rate_interval_us`.
    pub rate_interval_us: u32,
    /// `packets_out`.
    pub packets_out: u32,
    /// `retrans_out`.
    pub retrans_out: u32,
    /// `total_retrans`.
    pub total_retrans: u32,
    /// `segs_in`.
    pub segs_in: u32,
    /// `data_segs_in`.
    pub data_segs_in: u32,
    /// `segs_out`.
    pub segs_out: u32,
    /// `data_segs_out`.
    pub data_segs_out: u32,
    /// `lost_out`.
    pub lost_out: u32,
    /// `sacked_out`.
    pub sacked_out: u32,
    /// The socket's transmit hash (writable by the program).
    pub sk_txhash: u32,
    /// `bytes_received`.
    pub bytes_received: u64,
    /// `bytes_acked`.
    pub bytes_acked: u64,
    /// `struct bpf_sock *` (0 here).
    pub sk: u64,
    /// The packet's start (header option callbacks; 0 here).
    pub skb_data: u64,
    /// The packet's end (0 here).
    pub skb_data_end: u64,
    /// The packet's length (header option callbacks), 0 without one.
    pub skb_len: u32,
    /// The packet's TCP flags, 0 without one.
    pub skb_tcp_flags: u32,
    /// The packet's hardware timestamp, 0 without one.
    pub skb_hwtstamp: u64,
}

const _: () = assert!(std::mem::size_of::<BpfSockOps>() == 224);

/// `BPF_SOCK_OPS_*` operations.
pub mod op {
    /// `BPF_SOCK_OPS_VOID`.
    pub const VOID: u32 = 0;
    /// `BPF_SOCK_OPS_TIMEOUT_INIT`: reply with the SYN RTO (-1: default).
    pub const TIMEOUT_INIT: u32 = 1;
    /// `BPF_SOCK_OPS_RWND_INIT`: reply with the initial advertised window.
    pub const RWND_INIT: u32 = 2;
    /// `BPF_SOCK_OPS_TCP_CONNECT_CB`: before sending a SYN.
    pub const TCP_CONNECT_CB: u32 = 3;
    /// `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB`.
    pub const ACTIVE_ESTABLISHED_CB: u32 = 4;
    /// `BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB`.
    pub const PASSIVE_ESTABLISHED_CB: u32 = 5;
    /// `BPF_SOCK_OPS_NEEDS_ECN`.
    pub const NEEDS_ECN: u32 = 6;
    /// `BPF_SOCK_OPS_BASE_RTT`.
    pub const BASE_RTT: u32 = 7;
    /// `BPF_SOCK_OPS_RTO_CB`.
    pub const RTO_CB: u32 = 8;
    /// `BPF_SOCK_OPS_RETRANS_CB`.
    pub const RETRANS_CB: u32 = 9;
    /// `BPF_SOCK_OPS_STATE_CB`: args\[0\] old state, args\[1\] new state.
    pub const STATE_CB: u32 = 10;
    /// `BPF_SOCK_OPS_TCP_LISTEN_CB`.
    pub const TCP_LISTEN_CB: u32 = 11;
    /// `BPF_SOCK_OPS_RTT_CB`.
    pub const RTT_CB: u32 = 12;
}

/// The helper ids sock_ops programs get here.
pub mod helper_id {
    /// `bpf_get_socket_cookie`.
    pub const GET_SOCKET_COOKIE: i32 = 46;
    /// `bpf_setsockopt`.
    pub const SETSOCKOPT: i32 = 49;
    /// `bpf_getsockopt`.
    pub const GETSOCKOPT: i32 = 57;
    /// `bpf_sock_ops_cb_flags_set`.
    pub const SOCK_OPS_CB_FLAGS_SET: i32 = 59;
}

impl BpfSockOps {
    /// The context as bytes (for tests and for hosts that keep it raw).
    pub fn to_bytes(&self) -> Vec<u8> {
        // SAFETY: repr(C) integers and arrays, 224 bytes, no implicit
        // padding (the u64s sit at 8-aligned offsets; asserted size).
        unsafe { std::slice::from_raw_parts(self as *const BpfSockOps as *const u8, 224) }.to_vec()
    }

    /// `reply` (`args[0]`).
    pub fn reply(&self) -> u32 {
        self.args[0]
    }

    /// The context the program sees: TCP fields zero without a full
    /// socket, no socket or packet pointers.
    fn as_seen(&self) -> BpfSockOps {
        let mut c = *self;
        c.sk = 0;
        c.skb_data = 0;
        c.skb_data_end = 0;
        if c.is_fullsock == 0 {
            c.snd_cwnd = 0;
            c.srtt_us = 0;
            c.bpf_sock_ops_cb_flags = 0;
            c.rtt_min = 0;
            c.snd_ssthresh = 0;
            c.rcv_nxt = 0;
            c.snd_nxt = 0;
            c.snd_una = 0;
            c.mss_cache = 0;
            c.ecn_flags = 0;
            c.rate_delivered = 0;
            c.rate_interval_us = 0;
            c.packets_out = 0;
            c.retrans_out = 0;
            c.total_retrans = 0;
            c.segs_in = 0;
            c.data_segs_in = 0;
            c.segs_out = 0;
            c.data_segs_out = 0;
            c.lost_out = 0;
            c.sacked_out = 0;
            c.sk_txhash = 0;
            c.bytes_received = 0;
            c.bytes_acked = 0;
        }
        c
    }
}

/// The result of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SockOpsOutcome {
    /// `r0`: 1 lets the operation proceed, anything else fails it.
    pub ret: u64,
    /// `reply` as the program left it.
    pub reply: u32,
}

impl SockOpsOutcome {
    /// What TCP gets from the call (`tcp_call_bpf`): `reply` when the
    /// program returned 1, -1 otherwise.
    pub fn tcp_reply(&self) -> i64 {
        if self.ret == 1 {
            self.reply as i32 as i64
        } else {
            -1
        }
    }
}

/// The state sock_ops helpers reach during a run.
struct RunState {
    /// The context the program reads (and writes `reply`, `sk_txhash`).
    ctx: BpfSockOps,
    /// The socket as the helpers change it (the host's view).
    sock: BpfSockOps,
    options: *mut SockOptions,
    cookie: u64,
}

thread_local! {
    static CURRENT: Cell<*mut RunState> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` on the current run's state if `ctx` is its context pointer.
fn with_run<T>(
    ctx: u64,
    f: impl FnOnce(&mut RunState, &mut SockOptions) -> T,
) -> Result<T, HelperError> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return Err("a sock_ops helper called outside a sock_ops run".into());
    }
    // SAFETY: `p` points at the `RunState` on `SockOps::run_inner`'s
    // stack, set for exactly the program run on this thread, which does
    // not touch it meanwhile; helpers run one at a time.
    let st = unsafe { &mut *p };
    if ctx != &raw const st.ctx as u64 {
        return Err(format!("{ctx:#x} is not this run's bpf_sock_ops").into());
    }
    // SAFETY: `options` is the runner's `&mut self.options`, borrowed for
    // the whole run and reached only through here.
    let options = unsafe { &mut *st.options };
    Ok(f(st, options))
}

/// After a helper changed the socket: the fields the program reads
/// from it show the change.
fn mirror(st: &mut RunState) {
    st.ctx.bpf_sock_ops_cb_flags = st.sock.bpf_sock_ops_cb_flags;
    st.ctx.snd_cwnd = st.sock.snd_cwnd;
    st.ctx.snd_ssthresh = st.sock.snd_ssthresh;
}

/// `bpf_setsockopt(ctx, level, optname, optval, optlen)`.
fn setsockopt(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let len = a[4] as i32;
    if len < 0 {
        return Ok(neg(22));
    }
    with_run(a[0], |_, _| ())?;
    ctx.check(a[3], len as u64, false)?;
    let mut val = vec![0u8; len as usize];
    ctx.read(a[3], &mut val)?;
    with_run(a[0], |st, opts| {
        if let Err(e) = locked_op(st.ctx.op) {
            return neg(e);
        }
        match opts.setsockopt(&mut st.sock, a[1] as i32, a[2] as i32, &val) {
            Ok(()) => {
                mirror(st);
                0
            }
            Err(e) => neg(e),
        }
    })
}

/// `bpf_getsockopt(ctx, level, optname, optval, optlen)`.
fn getsockopt(ctx: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    let len = a[4] as i32;
    if len < 0 {
        return Ok(neg(22));
    }
    ctx.check(a[3], len as u64, true)?;
    let mut buf = vec![0u8; len as usize];
    let r = with_run(a[0], |st, opts| {
        locked_op(st.ctx.op)?;
        opts.getsockopt(&st.sock, a[1] as i32, a[2] as i32, &mut buf)
    })?;
    match r {
        Ok(()) => {
            ctx.write(a[3], &buf)?;
            Ok(0)
        }
        // -EOPNOTSUPP for an unlocked callback leaves the buffer alone.
        Err(95) => Ok(neg(95)),
        Err(e) => {
            ctx.write(a[3], &vec![0; len as usize])?;
            Ok(neg(e))
        }
    }
}

/// `bpf_sock_ops_cb_flags_set(ctx, flags)`.
fn cb_flags(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_run(a[0], |st, _| {
        if let Err(e) = locked_op(st.ctx.op) {
            return neg(e);
        }
        let r = cb_flags_set(&mut st.sock, a[1] as i32);
        mirror(st);
        r as u64
    })
}

/// `bpf_get_socket_cookie(ctx)`: the cookie the host gave the socket.
fn socket_cookie(_: &mut HelperContext<'_>, a: [u64; 5]) -> Result<u64, HelperError> {
    with_run(a[0], |st, _| st.cookie)
}

/// The helpers of sock_ops programs this module provides:
/// `bpf_setsockopt`, `bpf_getsockopt`, `bpf_sock_ops_cb_flags_set`,
/// `bpf_get_socket_cookie`.
pub fn helpers() -> HelperRegistry {
    let mut h = HelperRegistry::new();
    h.register_with_context(helper_id::SETSOCKOPT, "bpf_setsockopt", setsockopt)
        .register_with_context(helper_id::GETSOCKOPT, "bpf_getsockopt", getsockopt)
        .register_with_context(
            helper_id::SOCK_OPS_CB_FLAGS_SET,
            "bpf_sock_ops_cb_flags_set",
            cb_flags,
        )
        .register_with_context(
            helper_id::GET_SOCKET_COOKIE,
            "bpf_get_socket_cookie",
            socket_cookie,
        );
    h
}

/// One TCP socket as sock_ops programs see it; each run is one callback.
#[derive(Debug, Clone, Default)]
pub struct SockOps {
    /// The socket and the operation (`op`, `args`) of the next run.
    pub ctx: BpfSockOps,
    /// The socket's options.
    pub options: SockOptions,
    /// What `bpf_get_socket_cookie` returns.
    pub cookie: u64,
}

impl SockOps {
    /// A full IPv4 TCP socket with default options, operation `VOID`.
    pub fn new() -> SockOps {
        SockOps {
            ctx: BpfSockOps {
                family: 2,
                is_fullsock: 1,
                ..BpfSockOps::default()
            },
            options: SockOptions::new(),
            cookie: 0,
        }
    }

    /// Runs `vm` (with [`helpers`] among its helpers) for operation `op`
    /// with `args`, in checked mode.
    pub fn run(&mut self, vm: &Vm, op: u32, args: [u32; 4]) -> Result<SockOpsOutcome, ExecError> {
        self.run_inner(op, args, |inv| vm.run_with(inv))
    }

    /// Runs a sock_ops program of a loaded object (its maps and globals
    /// included), checked.
    pub fn run_loaded(
        &mut self,
        prog: &crate::loader::LoadedProgram,
        op: u32,
        args: [u32; 4],
    ) -> Result<SockOpsOutcome, ExecError> {
        self.run_inner(op, args, |inv| prog.run_with(inv))
    }

    fn run_inner(
        &mut self,
        op: u32,
        args: [u32; 4],
        run: impl FnOnce(&Invocation) -> Result<u64, ExecError>,
    ) -> Result<SockOpsOutcome, ExecError> {
        self.ctx.op = op;
        self.ctx.args = args;
        let mut st = RunState {
            ctx: self.ctx.as_seen(),
            sock: self.ctx,
            options: &raw mut self.options,
            cookie: self.cookie,
        };
        let stp: *mut RunState = &raw mut st;
        // SAFETY: `stp` is valid; until the run ends `st` is only reached
        // through it.
        let ctx_addr = unsafe { &raw const (*stp).ctx } as u64;
        let mut inv = Invocation::new([ctx_addr, 0, 0, 0, 0]);
        // SAFETY: the context lives in `st` for the whole run and Rust
        // code reaches it only through `stp` (the helpers, one at a time).
        unsafe {
            inv.set_input(Region::new(
                ctx_addr,
                std::mem::size_of::<BpfSockOps>() as u64,
                true,
                "bpf_sock_ops",
            ));
        }
        let prev = CURRENT.with(|c| c.replace(stp));
        let r = run(&inv);
        CURRENT.with(|c| c.set(prev));
        let ret = r?;
        // SAFETY: the run is over; nothing else refers to `st`.
        let st = unsafe { &*stp };
        // The program may write `reply` and `sk_txhash` (dropped without
        // a full socket, as the kernel's rewrite skips the store); the
        // helpers changed `sock`.
        let reply = st.ctx.args[0];
        self.ctx = st.sock;
        self.ctx.args[0] = reply;
        if self.ctx.is_fullsock != 0 {
            self.ctx.sk_txhash = st.ctx.sk_txhash;
        }
        Ok(SockOpsOutcome { ret, reply })
    }
}
