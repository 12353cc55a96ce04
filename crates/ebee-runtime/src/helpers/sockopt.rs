//! `bpf_setsockopt` (49), `bpf_getsockopt` (57) and
//! `bpf_sock_ops_cb_flags_set` (59) of sock_ops programs, on the host's
//! record of the socket's options ([`SockOptions`]).
//!
//! Which levels, option names and lengths are accepted, and the errno of
//! each refusal, follow the kernel's `__bpf_setsockopt` /
//! `__bpf_getsockopt` (`sol_socket_sockopt`, `sol_tcp_sockopt`,
//! `sol_ip_sockopt`, `sol_ipv6_sockopt`, `bpf_sol_tcp_setsockopt`):
//! anything else is `-EINVAL`. Values are checked where the kernel's
//! check is a plain range (`TCP_MAXSEG`, the keepalive counts,
//! `TCP_SYNCNT`, `TCP_USER_TIMEOUT`, `IPV6_TCLASS`, the `TCP_BPF_*`
//! options, congestion control names) and stored as the kernel stores
//! them (booleans as 0/1, `SO_SNDBUF`/`SO_RCVBUF` doubled and clamped,
//! the ECN bits of `IP_TOS`/`IPV6_TCLASS` kept). The options that change
//! the TCP state the context shows write it there: `TCP_BPF_IW` sets
//! `snd_cwnd`, `TCP_BPF_SNDCWND_CLAMP` sets `snd_ssthresh`,
//! `TCP_BPF_SOCK_OPS_CB_FLAGS` sets `bpf_sock_ops_cb_flags`.
//!
//! `bpf_getsockopt` answers from the record. A new record holds what a
//! fresh Linux TCP socket holds under the default sysctls
//! ([`SockOptions::new`]); an option the record does not hold (the host
//! never said) reads as `-ENOPROTOOPT` with the buffer zeroed, which the
//! kernel never answers for an accepted name.

use crate::program_type::sock_ops::BpfSockOps;
use std::collections::BTreeMap;

/// `SOL_SOCKET`.
pub const SOL_SOCKET: i32 = 1;
/// `SOL_IP` (`IPPROTO_IP`).
pub const SOL_IP: i32 = 0;
/// `SOL_TCP` (`IPPROTO_TCP`).
pub const SOL_TCP: i32 = 6;
/// `SOL_IPV6` (`IPPROTO_IPV6`).
pub const SOL_IPV6: i32 = 41;

/// Option names (x86-64 values).
pub mod opt {
    /// `SO_REUSEADDR`.
    pub const SO_REUSEADDR: i32 = 2;
    /// `SO_SNDBUF`.
    pub const SO_SNDBUF: i32 = 7;
    /// `SO_RCVBUF`.
    pub const SO_RCVBUF: i32 = 8;
    /// `SO_KEEPALIVE`.
    pub const SO_KEEPALIVE: i32 = 9;
    /// `SO_PRIORITY`.
    pub const SO_PRIORITY: i32 = 12;
    /// `SO_REUSEPORT`.
    pub const SO_REUSEPORT: i32 = 15;
    /// `SO_RCVLOWAT`.
    pub const SO_RCVLOWAT: i32 = 18;
    /// `SO_BINDTODEVICE` (set only).
    pub const SO_BINDTODEVICE: i32 = 25;
    /// `SO_MARK`.
    pub const SO_MARK: i32 = 36;
    /// `SO_MAX_PACING_RATE`.
    pub const SO_MAX_PACING_RATE: i32 = 47;
    /// `SO_BINDTOIFINDEX`.
    pub const SO_BINDTOIFINDEX: i32 = 62;
    /// `SO_TXREHASH`.
    pub const SO_TXREHASH: i32 = 74;
    /// `SK_BPF_CB_FLAGS` (BPF only: the socket's timestamping callbacks).
    pub const SK_BPF_CB_FLAGS: i32 = 1009;
    /// `IP_TOS`.
    pub const IP_TOS: i32 = 1;
    /// `IPV6_TCLASS`.
    pub const IPV6_TCLASS: i32 = 67;
    /// `IPV6_AUTOFLOWLABEL`.
    pub const IPV6_AUTOFLOWLABEL: i32 = 70;
    /// `TCP_NODELAY`.
    pub const TCP_NODELAY: i32 = 1;
    /// `TCP_MAXSEG`.
    pub const TCP_MAXSEG: i32 = 2;
    /// `TCP_KEEPIDLE`.
    pub const TCP_KEEPIDLE: i32 = 4;
    /// `TCP_KEEPINTVL`.
    pub const TCP_KEEPINTVL: i32 = 5;
    /// `TCP_KEEPCNT`.
    pub const TCP_KEEPCNT: i32 = 6;
    /// `TCP_SYNCNT`.
    pub const TCP_SYNCNT: i32 = 7;
    /// `TCP_WINDOW_CLAMP`.
    pub const TCP_WINDOW_CLAMP: i32 = 10;
    /// `TCP_CONGESTION`.
    pub const TCP_CONGESTION: i32 = 13;
    /// `TCP_THIN_LINEAR_TIMEOUTS`.
    pub const TCP_THIN_LINEAR_TIMEOUTS: i32 = 16;
    /// `TCP_USER_TIMEOUT`.
    pub const TCP_USER_TIMEOUT: i32 = 18;
    /// `TCP_NOTSENT_LOWAT`.
    pub const TCP_NOTSENT_LOWAT: i32 = 25;
    /// `TCP_SAVE_SYN`.
    pub const TCP_SAVE_SYN: i32 = 27;
    /// `TCP_SAVED_SYN` (get only).
    pub const TCP_SAVED_SYN: i32 = 28;
    /// `TCP_BPF_IW`: the initial congestion window (set only).
    pub const TCP_BPF_IW: i32 = 1001;
    /// `TCP_BPF_SNDCWND_CLAMP` (set only).
    pub const TCP_BPF_SNDCWND_CLAMP: i32 = 1002;
    /// `TCP_BPF_DELACK_MAX` in µs (set only).
    pub const TCP_BPF_DELACK_MAX: i32 = 1003;
    /// `TCP_BPF_RTO_MIN` in µs (set only).
    pub const TCP_BPF_RTO_MIN: i32 = 1004;
    /// `TCP_BPF_SYN` (set only, header option callbacks).
    pub const TCP_BPF_SYN: i32 = 1005;
    /// `TCP_BPF_SYN_IP` (set only).
    pub const TCP_BPF_SYN_IP: i32 = 1006;
    /// `TCP_BPF_SYN_MAC` (set only).
    pub const TCP_BPF_SYN_MAC: i32 = 1007;
    /// `TCP_BPF_SOCK_OPS_CB_FLAGS`: `bpf_sock_ops_cb_flags`.
    pub const TCP_BPF_SOCK_OPS_CB_FLAGS: i32 = 1008;
}

use opt::*;

/// `BPF_SOCK_OPS_ALL_CB_FLAGS`: the callback flags this kernel knows
/// (RTO, retransmit, state, RTT, parse all/unknown header options, write
/// header option).
pub const BPF_SOCK_OPS_ALL_CB_FLAGS: u32 = 0x7f;

const EINVAL: i32 = 22;
const ENOENT: i32 = 2;
const EOPNOTSUPP: i32 = 95;
const ENOPROTOOPT: i32 = 92;
/// The kernel-internal `ENOTSUPP` (524), which `TCP_CONGESTION` "cdg" returns.
const ENOTSUPP: i32 = 524;
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;
/// `TCP_MIN_MSS`, `MAX_TCP_WINDOW`.
const TCP_MIN_MSS: i32 = 88;
const MAX_TCP_WINDOW: i32 = 32767;
/// `MAX_TCP_KEEPIDLE`, `MAX_TCP_KEEPINTVL`, `MAX_TCP_KEEPCNT`, `MAX_TCP_SYNCNT`.
const MAX_TCP_KEEPIDLE: i32 = 32767;
const MAX_TCP_KEEPINTVL: i32 = 32767;
const MAX_TCP_KEEPCNT: i32 = 127;
const MAX_TCP_SYNCNT: i32 = 127;
/// `SOCK_MIN_SNDBUF`, `SOCK_MIN_RCVBUF` on x86-64.
const SOCK_MIN_SNDBUF: i32 = 4608;
const SOCK_MIN_RCVBUF: i32 = 2304;
/// `TCP_CA_NAME_MAX`.
const TCP_CA_NAME_MAX: usize = 16;
/// `TCP_CLOSE` and `TCP_LISTEN` (`BpfSockOps::state`).
const TCP_CLOSE: u32 = 7;
const TCP_LISTEN: u32 = 10;

/// The options of the socket a sock_ops program runs for, as the host
/// knows them; `bpf_setsockopt` changes the record and `bpf_getsockopt`
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SockOptions {
    values: BTreeMap<(i32, i32), Vec<u8>>,
    /// Congestion controls `TCP_CONGESTION` may select (the host's
    /// `tcp_available_congestion_control`; default `reno`, `cubic`).
    pub congestion_controls: Vec<String>,
    /// `net.core.wmem_max` (caps `SO_SNDBUF`; default 212992).
    pub wmem_max: i32,
    /// `net.core.rmem_max` (caps `SO_RCVBUF`; default 212992).
    pub rmem_max: i32,
    /// The kernel's `CONFIG_HZ`, which the `TCP_BPF_DELACK_MAX` and
    /// `TCP_BPF_RTO_MIN` bounds are in (default 250, Debian's).
    pub hz: u32,
}

impl Default for SockOptions {
    fn default() -> SockOptions {
        SockOptions::new()
    }
}

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

impl SockOptions {
    /// The options of a new Linux TCP socket under the default sysctls:
    /// every boolean off, `SO_RCVLOWAT` 1, `SO_SNDBUF` 16384 and
    /// `SO_RCVBUF` 131072 (`tcp_wmem[1]`, `tcp_rmem[1]`), keepalive 7200 s
    /// / 75 s / 9 probes, 6 SYN retries, `TCP_NOTSENT_LOWAT` unlimited
    /// (-1), congestion control `cubic`, TOS and traffic class 0,
    /// IPv6 automatic flow labels on.
    pub fn new() -> SockOptions {
        let mut values = BTreeMap::new();
        for (level, name, v) in [
            (SOL_SOCKET, SO_REUSEADDR, 0),
            (SOL_SOCKET, SO_SNDBUF, 16384),
            (SOL_SOCKET, SO_RCVBUF, 131072),
            (SOL_SOCKET, SO_KEEPALIVE, 0),
            (SOL_SOCKET, SO_PRIORITY, 0),
            (SOL_SOCKET, SO_REUSEPORT, 0),
            (SOL_SOCKET, SO_RCVLOWAT, 1),
            (SOL_SOCKET, SO_MARK, 0),
            (SOL_SOCKET, SO_MAX_PACING_RATE, -1),
            (SOL_SOCKET, SO_BINDTOIFINDEX, 0),
            (SOL_SOCKET, SK_BPF_CB_FLAGS, 0),
            (SOL_IP, IP_TOS, 0),
            (SOL_IPV6, IPV6_TCLASS, 0),
            (SOL_IPV6, IPV6_AUTOFLOWLABEL, 1),
            (SOL_TCP, TCP_NODELAY, 0),
            (SOL_TCP, TCP_KEEPIDLE, 7200),
            (SOL_TCP, TCP_KEEPINTVL, 75),
            (SOL_TCP, TCP_KEEPCNT, 9),
            (SOL_TCP, TCP_SYNCNT, 6),
            (SOL_TCP, TCP_THIN_LINEAR_TIMEOUTS, 0),
            (SOL_TCP, TCP_USER_TIMEOUT, 0),
            (SOL_TCP, TCP_NOTSENT_LOWAT, -1),
            (SOL_TCP, TCP_SAVE_SYN, 0),
        ] {
            values.insert((level, name), int(v));
        }
        values.insert((SOL_TCP, TCP_CONGESTION), b"cubic".to_vec());
        SockOptions {
            values,
            congestion_controls: vec!["reno".into(), "cubic".into()],
            wmem_max: 212992,
            rmem_max: 212992,
            hz: 250,
        }
    }

    /// A record holding no option (every `bpf_getsockopt` of a known
    /// name reads `-ENOPROTOOPT` until the host or the program sets it).
    pub fn empty() -> SockOptions {
        SockOptions {
            values: BTreeMap::new(),
            ..SockOptions::new()
        }
    }

    /// The value of an option as `bpf_getsockopt` returns it (an `int`
    /// in native byte order, or `TCP_CONGESTION`'s name).
    pub fn get(&self, level: i32, name: i32) -> Option<&[u8]> {
        self.values.get(&(level, name)).map(Vec::as_slice)
    }

    /// An `int` option's value.
    pub fn get_int(&self, level: i32, name: i32) -> Option<i32> {
        let v = self.get(level, name)?;
        Some(i32::from_ne_bytes(v.get(..4)?.try_into().ok()?))
    }

    /// Sets what the host's socket has for an option.
    pub fn set(&mut self, level: i32, name: i32, value: &[u8]) {
        self.values.insert((level, name), value.to_vec());
    }

    /// Sets an `int` option.
    pub fn set_int(&mut self, level: i32, name: i32, value: i32) {
        self.set(level, name, &value.to_ne_bytes());
    }

    /// `bpf_setsockopt(level, optname, optval)` on the socket `sk`
    /// (its context, for the family and the TCP fields options change):
    /// `Err(errno)` as the kernel refuses.
    pub fn setsockopt(
        &mut self,
        sk: &mut BpfSockOps,
        level: i32,
        name: i32,
        val: &[u8],
    ) -> Result<(), i32> {
        check_name(sk, level, name, val.len(), false)?;
        let v = (val.len() >= 4).then(|| i32::from_ne_bytes([val[0], val[1], val[2], val[3]]));
        let v0 = v.unwrap_or(0);
        let b = i32::from(v0 != 0);
        let store = match (level, name) {
            (SOL_SOCKET, SO_BINDTODEVICE) => {
                // An interface name: the host resolves it; kept as given,
                // up to the NUL (IFNAMSIZ 16).
                let n = val.iter().position(|&c| c == 0).unwrap_or(val.len());
                if n >= 16 {
                    return Err(EINVAL);
                }
                val[..n].to_vec()
            }
            (SOL_SOCKET, SO_REUSEADDR | SO_KEEPALIVE | SO_REUSEPORT) => int(b),
            (SOL_SOCKET, SO_SNDBUF) => {
                int(((v0 as u32).min(self.wmem_max as u32) as i32 * 2).max(SOCK_MIN_SNDBUF))
            }
            (SOL_SOCKET, SO_RCVBUF) => {
                int(((v0 as u32).min(self.rmem_max as u32) as i32 * 2).max(SOCK_MIN_RCVBUF))
            }
            (SOL_SOCKET, SO_RCVLOWAT) => int(if v0 < 0 { i32::MAX } else { v0.max(1) }),
            (SOL_SOCKET, SO_TXREHASH) => {
                // SOCK_TXREHASH_DEFAULT (-1), disabled (0), enabled (1).
                if !(-1..=1).contains(&v0) {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_SOCKET, SO_BINDTOIFINDEX) if v0 < 0 => return Err(EINVAL),
            (SOL_SOCKET, SK_BPF_CB_FLAGS) => {
                // SK_BPF_CB_TX_TIMESTAMPING is the only flag.
                if v0 as u32 & !1 != 0 {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_IP, IP_TOS) => {
                let old = self.get_int(SOL_IP, IP_TOS).unwrap_or(0);
                int((v0 & !3 | old & 3) & 0xff)
            }
            (SOL_IPV6, IPV6_TCLASS) => {
                if !(-1..=0xff).contains(&v0) {
                    return Err(EINVAL);
                }
                let old = self.get_int(SOL_IPV6, IPV6_TCLASS).unwrap_or(0);
                int(v0.max(0) & !3 | old & 3)
            }
            (SOL_IPV6, IPV6_AUTOFLOWLABEL) => int(b),
            (SOL_TCP, TCP_NODELAY | TCP_THIN_LINEAR_TIMEOUTS) => int(b),
            (SOL_TCP, TCP_MAXSEG) => {
                if v0 != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v0) {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_TCP, TCP_KEEPIDLE) if !(1..=MAX_TCP_KEEPIDLE).contains(&v0) => return Err(EINVAL),
            (SOL_TCP, TCP_KEEPINTVL) if !(1..=MAX_TCP_KEEPINTVL).contains(&v0) => {
                return Err(EINVAL)
            }
            (SOL_TCP, TCP_KEEPCNT) if !(1..=MAX_TCP_KEEPCNT).contains(&v0) => return Err(EINVAL),
            (SOL_TCP, TCP_SYNCNT) if !(1..=MAX_TCP_SYNCNT).contains(&v0) => return Err(EINVAL),
            (SOL_TCP, TCP_USER_TIMEOUT) if v0 < 0 => return Err(EINVAL),
            (SOL_TCP, TCP_WINDOW_CLAMP) => {
                // `tcp_set_window_clamp`: 0 only on a closed socket, else
                // at least SOCK_MIN_RCVBUF / 2.
                if v0 == 0 && sk.state != TCP_CLOSE {
                    return Err(EINVAL);
                }
                int(if v0 == 0 {
                    0
                } else {
                    v0.max(SOCK_MIN_RCVBUF / 2)
                })
            }
            (SOL_TCP, TCP_SAVE_SYN) => {
                if !(0..=2).contains(&v0) {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_TCP, TCP_CONGESTION) => return self.set_congestion(val),
            (SOL_TCP, TCP_BPF_IW) => {
                // `tp->data_segs_out > tp->syn_data`: once data went out
                // (no SYN data in userspace) the window is not initial.
                if v0 <= 0 || sk.data_segs_out > 0 {
                    return Err(EINVAL);
                }
                sk.snd_cwnd = v0 as u32;
                return Ok(());
            }
            (SOL_TCP, TCP_BPF_SNDCWND_CLAMP) => {
                if v0 <= 0 {
                    return Err(EINVAL);
                }
                sk.snd_ssthresh = v0 as u32;
                int(v0)
            }
            (SOL_TCP, TCP_BPF_DELACK_MAX) => {
                // TCP_TIMEOUT_MIN (2 jiffies) ..= TCP_DELACK_MAX (HZ/5).
                let j = usecs_to_jiffies(v0, self.hz);
                if !(2..=u64::from(self.hz) / 5).contains(&j) {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_TCP, TCP_BPF_RTO_MIN) => {
                // TCP_TIMEOUT_MIN ..= TCP_RTO_MIN (HZ/5).
                let j = usecs_to_jiffies(v0, self.hz);
                if !(2..=u64::from(self.hz) / 5).contains(&j) {
                    return Err(EINVAL);
                }
                int(v0)
            }
            (SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS) => {
                if v0 as u32 & !BPF_SOCK_OPS_ALL_CB_FLAGS != 0 {
                    return Err(EINVAL);
                }
                sk.bpf_sock_ops_cb_flags = v0 as u32;
                return Ok(());
            }
            (SOL_TCP, TCP_BPF_SYN | TCP_BPF_SYN_IP | TCP_BPF_SYN_MAC) => {
                // Only while writing header options of a SYN
                // (BPF_SOCK_OPS_HDR_OPT_LEN_CB / WRITE_HDR_OPT_CB with a
                // saved SYN), which userspace never has.
                return Err(EINVAL);
            }
            _ => val.to_vec(),
        };
        self.values.insert((level, name), store);
        Ok(())
    }

    fn set_congestion(&mut self, val: &[u8]) -> Result<(), i32> {
        // `strncmp("cdg", optval, optlen) == 0` with optlen >= 3.
        if val.starts_with(b"cdg") && val.get(3).is_none_or(|&c| c == 0) {
            return Err(ENOTSUPP);
        }
        let n = val
            .iter()
            .take(TCP_CA_NAME_MAX - 1)
            .position(|&c| c == 0)
            .unwrap_or(val.len().min(TCP_CA_NAME_MAX - 1));
        let name = &val[..n];
        if self
            .congestion_controls
            .iter()
            .any(|c| c.as_bytes() == name)
        {
            self.values.insert((SOL_TCP, TCP_CONGESTION), name.to_vec());
            Ok(())
        } else {
            Err(ENOENT)
        }
    }

    /// `bpf_getsockopt(level, optname, optval)` with `optval` of
    /// `buf.len()` bytes: fills `buf` (zeroed past the value, wholly on
    /// errors) or returns the errno.
    pub fn getsockopt(
        &self,
        sk: &BpfSockOps,
        level: i32,
        name: i32,
        buf: &mut [u8],
    ) -> Result<(), i32> {
        let r = if level == SOL_TCP && (TCP_BPF_SYN..=TCP_BPF_SYN_MAC).contains(&name) {
            // The saved SYN's headers: userspace sees no handshake packets.
            Err(ENOENT)
        } else {
            self.getsockopt_inner(sk, level, name, buf)
        };
        if r.is_err() {
            buf.fill(0);
        }
        r
    }

    fn getsockopt_inner(
        &self,
        sk: &BpfSockOps,
        level: i32,
        name: i32,
        buf: &mut [u8],
    ) -> Result<(), i32> {
        check_name(sk, level, name, buf.len(), true)?;
        let put = |buf: &mut [u8], v: &[u8]| {
            let n = v.len().min(buf.len());
            buf[..n].copy_from_slice(&v[..n]);
            buf[n..].fill(0);
        };
        match (level, name) {
            (SOL_TCP, TCP_CONGESTION) => {
                // The name's 16-byte array, up to optlen - 1, NUL-ended.
                let v = self.get(level, name).ok_or(ENOPROTOOPT)?;
                let last = buf.len() - 1;
                let mut padded = [0u8; TCP_CA_NAME_MAX];
                let n = v.len().min(TCP_CA_NAME_MAX);
                padded[..n].copy_from_slice(&v[..n]);
                put(&mut buf[..last], &padded);
                buf[last] = 0;
                Ok(())
            }
            (SOL_TCP, TCP_MAXSEG) => {
                // `mss_cache`, or the user's MSS while closed or listening.
                let user = self.get_int(SOL_TCP, TCP_MAXSEG).unwrap_or(0);
                let closed_or_listen = sk.state == TCP_CLOSE || sk.state == TCP_LISTEN;
                let v = if user != 0 && closed_or_listen {
                    user
                } else {
                    sk.mss_cache as i32
                };
                put(buf, &v.to_ne_bytes());
                Ok(())
            }
            (SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS) => {
                put(buf, &sk.bpf_sock_ops_cb_flags.to_ne_bytes());
                Ok(())
            }
            (SOL_TCP, TCP_SAVED_SYN) => {
                // No SYN was saved (userspace sees no handshake packets).
                Err(EINVAL)
            }
            _ => {
                let v = self.get(level, name).ok_or(ENOPROTOOPT)?;
                put(buf, v);
                Ok(())
            }
        }
    }
}

fn usecs_to_jiffies(us: i32, hz: u32) -> u64 {
    (us as u32 as u64).div_ceil(1_000_000 / u64::from(hz.max(1)))
}

/// The level / name / length checks of the kernel's `__bpf_setsockopt`
/// and `__bpf_getsockopt` (`len` is optlen).
fn check_name(sk: &BpfSockOps, level: i32, name: i32, len: usize, get: bool) -> Result<(), i32> {
    if sk.is_fullsock == 0 {
        return Err(EINVAL);
    }
    let int_len = |ok: bool| if ok && len == 4 { Ok(()) } else { Err(EINVAL) };
    match level {
        SOL_SOCKET => match name {
            SO_REUSEADDR | SO_SNDBUF | SO_RCVBUF | SO_KEEPALIVE | SO_PRIORITY | SO_REUSEPORT
            | SO_RCVLOWAT | SO_MARK | SO_MAX_PACING_RATE | SO_BINDTOIFINDEX | SO_TXREHASH
            | SK_BPF_CB_FLAGS => int_len(true),
            SO_BINDTODEVICE if !get => Ok(()),
            _ => Err(EINVAL),
        },
        SOL_IP => int_len(sk.family == AF_INET && name == IP_TOS),
        SOL_IPV6 => {
            int_len(sk.family == AF_INET6 && (name == IPV6_TCLASS || name == IPV6_AUTOFLOWLABEL))
        }
        SOL_TCP => match name {
            TCP_NODELAY
            | TCP_MAXSEG
            | TCP_KEEPIDLE
            | TCP_KEEPINTVL
            | TCP_KEEPCNT
            | TCP_SYNCNT
            | TCP_WINDOW_CLAMP
            | TCP_THIN_LINEAR_TIMEOUTS
            | TCP_USER_TIMEOUT
            | TCP_NOTSENT_LOWAT
            | TCP_SAVE_SYN
            | TCP_BPF_SOCK_OPS_CB_FLAGS => int_len(true),
            TCP_CONGESTION => {
                if len < 2 {
                    Err(EINVAL)
                } else {
                    Ok(())
                }
            }
            TCP_SAVED_SYN if get => {
                if len < 1 {
                    Err(EINVAL)
                } else {
                    Ok(())
                }
            }
            TCP_BPF_IW
            | TCP_BPF_SNDCWND_CLAMP
            | TCP_BPF_DELACK_MAX
            | TCP_BPF_RTO_MIN
            | TCP_BPF_SYN
            | TCP_BPF_SYN_IP
            | TCP_BPF_SYN_MAC
                if !get =>
            {
                int_len(true)
            }
            _ => Err(EINVAL),
        },
        _ => Err(EINVAL),
    }
}

/// `bpf_sock_ops_cb_flags_set(sk, flags)`: sets the known flags and
/// returns those it does not know (0 when all were set), `-EINVAL`
/// without a full socket.
pub fn cb_flags_set(sk: &mut BpfSockOps, flags: i32) -> i64 {
    if sk.is_fullsock == 0 {
        return -(EINVAL as i64);
    }
    sk.bpf_sock_ops_cb_flags = flags as u32 & BPF_SOCK_OPS_ALL_CB_FLAGS;
    (flags & !(BPF_SOCK_OPS_ALL_CB_FLAGS as i32)) as i64
}

/// Whether the kernel lets sock_ops helpers change the socket during
/// operation `op` (`is_locked_tcp_sock_ops`: up to
/// `BPF_SOCK_OPS_WRITE_HDR_OPT_CB`, 15; the timestamping callbacks run
/// unlocked and get `-EOPNOTSUPP`).
pub fn locked_op(op: u32) -> Result<(), i32> {
    if op <= 15 {
        Ok(())
    } else {
        Err(EOPNOTSUPP)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> BpfSockOps {
        BpfSockOps {
            family: AF_INET,
            is_fullsock: 1,
            state: 1,
            ..BpfSockOps::default()
        }
    }

    #[test]
    fn unlocked_callbacks_may_not_change_the_socket() {
        // BPF_SOCK_OPS_TSTAMP_* (16..) run without the socket lock.
        assert_eq!(locked_op(15), Ok(()));
        assert_eq!(locked_op(16), Err(EOPNOTSUPP));
    }

    #[test]
    fn a_request_socket_has_no_options() {
        let mut sk = BpfSockOps {
            is_fullsock: 0,
            ..full()
        };
        let mut o = SockOptions::new();
        assert_eq!(
            o.setsockopt(&mut sk, SOL_SOCKET, SO_MARK, &int(1)),
            Err(EINVAL)
        );
        let mut buf = [0xaau8; 4];
        assert_eq!(
            o.getsockopt(&sk, SOL_SOCKET, SO_MARK, &mut buf),
            Err(EINVAL)
        );
        assert_eq!(buf, [0; 4]);
        assert_eq!(cb_flags_set(&mut sk, 1), -(EINVAL as i64));
    }

    #[test]
    fn bind_to_device_is_set_only() {
        let mut sk = full();
        let mut o = SockOptions::new();
        assert_eq!(
            o.setsockopt(&mut sk, SOL_SOCKET, SO_BINDTODEVICE, b"eth0\0"),
            Ok(())
        );
        assert_eq!(o.get(SOL_SOCKET, SO_BINDTODEVICE), Some(&b"eth0"[..]));
        assert_eq!(
            o.setsockopt(&mut sk, SOL_SOCKET, SO_BINDTODEVICE, b"a-name-of-16-chr"),
            Err(EINVAL)
        );
        let mut buf = [0u8; 16];
        assert_eq!(
            o.getsockopt(&sk, SOL_SOCKET, SO_BINDTODEVICE, &mut buf),
            Err(EINVAL)
        );
    }

    #[test]
    fn options_the_host_never_gave_read_as_enoprotoopt() {
        let sk = full();
        let o = SockOptions::empty();
        let mut buf = [0xaau8; 4];
        assert_eq!(
            o.getsockopt(&sk, SOL_SOCKET, SO_MARK, &mut buf),
            Err(ENOPROTOOPT)
        );
        assert_eq!(buf, [0; 4]);
        // TCP_MAXSEG comes from the context's mss_cache, not the record.
        let sk = BpfSockOps {
            mss_cache: 1448,
            ..full()
        };
        assert_eq!(o.getsockopt(&sk, SOL_TCP, TCP_MAXSEG, &mut buf), Ok(()));
        assert_eq!(i32::from_ne_bytes(buf), 1448);
    }

    #[test]
    fn callback_flags_keep_the_known_ones() {
        let mut sk = full();
        assert_eq!(cb_flags_set(&mut sk, 0x1ff), 0x180);
        assert_eq!(sk.bpf_sock_ops_cb_flags, 0x7f);
    }
}
