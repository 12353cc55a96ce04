//! Program type numbers (`enum bpf_prog_type`), as in `linux/bpf.h`: the one
//! definition both the object loader (section names) and the kernel backend use.

/// A program type (`enum bpf_prog_type`): what a program is for, which
/// context it receives and which helpers it may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum ProgramType {
    /// `BPF_PROG_TYPE_UNSPEC` (0).
    Unspec = 0,
    /// `BPF_PROG_TYPE_SOCKET_FILTER` (1).
    SocketFilter = 1,
    /// `BPF_PROG_TYPE_KPROBE` (2).
    Kprobe = 2,
    /// `BPF_PROG_TYPE_SCHED_CLS` (3).
    SchedCls = 3,
    /// `BPF_PROG_TYPE_SCHED_ACT` (4).
    SchedAct = 4,
    /// `BPF_PROG_TYPE_TRACEPOINT` (5).
    Tracepoint = 5,
    /// `BPF_PROG_TYPE_XDP` (6).
    Xdp = 6,
    /// `BPF_PROG_TYPE_PERF_EVENT` (7).
    PerfEvent = 7,
    /// `BPF_PROG_TYPE_CGROUP_SKB` (8).
    CgroupSkb = 8,
    /// `BPF_PROG_TYPE_CGROUP_SOCK` (9).
    CgroupSock = 9,
    /// `BPF_PROG_TYPE_LWT_IN` (10).
    LwtIn = 10,
    /// `BPF_PROG_TYPE_LWT_OUT` (11).
    LwtOut = 11,
    /// `BPF_PROG_TYPE_LWT_XMIT` (12).
    LwtXmit = 12,
    /// `BPF_PROG_TYPE_SOCK_OPS` (13).
    SockOps = 13,
    /// `BPF_PROG_TYPE_SK_SKB` (14).
    SkSkb = 14,
    /// `BPF_PROG_TYPE_CGROUP_DEVICE` (15).
    CgroupDevice = 15,
    /// `BPF_PROG_TYPE_SK_MSG` (16).
    SkMsg = 16,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT` (17).
    RawTracepoint = 17,
    /// `BPF_PROG_TYPE_CGROUP_SOCK_ADDR` (18).
    CgroupSockAddr = 18,
    /// `BPF_PROG_TYPE_LWT_SEG6LOCAL` (19).
    LwtSeg6local = 19,
    /// `BPF_PROG_TYPE_LIRC_MODE2` (20).
    LircMode2 = 20,
    /// `BPF_PROG_TYPE_SK_REUSEPORT` (21).
    SkReuseport = 21,
    /// `BPF_PROG_TYPE_FLOW_DISSECTOR` (22).
    FlowDissector = 22,
    /// `BPF_PROG_TYPE_CGROUP_SYSCTL` (23).
    CgroupSysctl = 23,
    /// `BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE` (24).
    RawTracepointWritable = 24,
    /// `BPF_PROG_TYPE_CGROUP_SOCKOPT` (25).
    CgroupSockopt = 25,
    /// `BPF_PROG_TYPE_TRACING` (26).
    Tracing = 26,
    /// `BPF_PROG_TYPE_STRUCT_OPS` (27).
    StructOps = 27,
    /// `BPF_PROG_TYPE_EXT` (28).
    Ext = 28,
    /// `BPF_PROG_TYPE_LSM` (29).
    Lsm = 29,
    /// `BPF_PROG_TYPE_SK_LOOKUP` (30).
    SkLookup = 30,
    /// `BPF_PROG_TYPE_SYSCALL` (31).
    Syscall = 31,
    /// `BPF_PROG_TYPE_NETFILTER` (32).
    Netfilter = 32,
}

impl ProgramType {
    /// Every value, in numeric order.
    pub const ALL: [ProgramType; 33] = [
        ProgramType::Unspec,
        ProgramType::SocketFilter,
        ProgramType::Kprobe,
        ProgramType::SchedCls,
        ProgramType::SchedAct,
        ProgramType::Tracepoint,
        ProgramType::Xdp,
        ProgramType::PerfEvent,
        ProgramType::CgroupSkb,
        ProgramType::CgroupSock,
        ProgramType::LwtIn,
        ProgramType::LwtOut,
        ProgramType::LwtXmit,
        ProgramType::SockOps,
        ProgramType::SkSkb,
        ProgramType::CgroupDevice,
        ProgramType::SkMsg,
        ProgramType::RawTracepoint,
        ProgramType::CgroupSockAddr,
        ProgramType::LwtSeg6local,
        ProgramType::LircMode2,
        ProgramType::SkReuseport,
        ProgramType::FlowDissector,
        ProgramType::CgroupSysctl,
        ProgramType::RawTracepointWritable,
        ProgramType::CgroupSockopt,
        ProgramType::Tracing,
        ProgramType::StructOps,
        ProgramType::Ext,
        ProgramType::Lsm,
        ProgramType::SkLookup,
        ProgramType::Syscall,
        ProgramType::Netfilter,
    ];

    /// The kernel's number.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The value with kernel number `n`, if this crate knows it.
    pub fn from_number(n: u32) -> Option<ProgramType> {
        ProgramType::ALL.get(n as usize).copied()
    }

    /// The lowercase uapi name without its prefix, as bpftool prints it (`socket_filter`).
    pub const fn name(self) -> &'static str {
        match self {
            ProgramType::Unspec => "unspec",
            ProgramType::SocketFilter => "socket_filter",
            ProgramType::Kprobe => "kprobe",
            ProgramType::SchedCls => "sched_cls",
            ProgramType::SchedAct => "sched_act",
            ProgramType::Tracepoint => "tracepoint",
            ProgramType::Xdp => "xdp",
            ProgramType::PerfEvent => "perf_event",
            ProgramType::CgroupSkb => "cgroup_skb",
            ProgramType::CgroupSock => "cgroup_sock",
            ProgramType::LwtIn => "lwt_in",
            ProgramType::LwtOut => "lwt_out",
            ProgramType::LwtXmit => "lwt_xmit",
            ProgramType::SockOps => "sock_ops",
            ProgramType::SkSkb => "sk_skb",
            ProgramType::CgroupDevice => "cgroup_device",
            ProgramType::SkMsg => "sk_msg",
            ProgramType::RawTracepoint => "raw_tracepoint",
            ProgramType::CgroupSockAddr => "cgroup_sock_addr",
            ProgramType::LwtSeg6local => "lwt_seg6local",
            ProgramType::LircMode2 => "lirc_mode2",
            ProgramType::SkReuseport => "sk_reuseport",
            ProgramType::FlowDissector => "flow_dissector",
            ProgramType::CgroupSysctl => "cgroup_sysctl",
            ProgramType::RawTracepointWritable => "raw_tracepoint_writable",
            ProgramType::CgroupSockopt => "cgroup_sockopt",
            ProgramType::Tracing => "tracing",
            ProgramType::StructOps => "struct_ops",
            ProgramType::Ext => "ext",
            ProgramType::Lsm => "lsm",
            ProgramType::SkLookup => "sk_lookup",
            ProgramType::Syscall => "syscall",
            ProgramType::Netfilter => "netfilter",
        }
    }
}

impl std::fmt::Display for ProgramType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_uapi() {
        assert_eq!(ProgramType::SocketFilter.number(), 1);
        assert_eq!(ProgramType::Xdp.number(), 6);
        assert_eq!(ProgramType::CgroupSkb.number(), 8);
        assert_eq!(ProgramType::RawTracepoint.number(), 17);
        assert_eq!(ProgramType::Syscall.number(), 31);
        assert_eq!(ProgramType::Netfilter.number(), 32);
        for (i, t) in ProgramType::ALL.iter().enumerate() {
            assert_eq!(t.number() as usize, i);
            assert_eq!(ProgramType::from_number(i as u32), Some(*t));
        }
        assert_eq!(ProgramType::from_number(1000), None);
    }
}
