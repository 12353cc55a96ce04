//! Attach type numbers (`enum bpf_attach_type`), as in `linux/bpf.h`.

/// An attach type (`enum bpf_attach_type`), given at load time as the
/// expected attach type of some program types and again when attaching.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u32)]
pub enum AttachType {
    /// `BPF_CGROUP_INET_INGRESS` (0).
    CgroupInetIngress = 0,
    /// `BPF_CGROUP_INET_EGRESS` (1).
    CgroupInetEgress = 1,
    /// `BPF_CGROUP_INET_SOCK_CREATE` (2).
    CgroupInetSockCreate = 2,
    /// `BPF_CGROUP_SOCK_OPS` (3).
    CgroupSockOps = 3,
    /// `BPF_SK_SKB_STREAM_PARSER` (4).
    SkSkbStreamParser = 4,
    /// `BPF_SK_SKB_STREAM_VERDICT` (5).
    SkSkbStreamVerdict = 5,
    /// `BPF_CGROUP_DEVICE` (6).
    CgroupDevice = 6,
    /// `BPF_SK_MSG_VERDICT` (7).
    SkMsgVerdict = 7,
    /// `BPF_CGROUP_INET4_BIND` (8).
    CgroupInet4Bind = 8,
    /// `BPF_CGROUP_INET6_BIND` (9).
    CgroupInet6Bind = 9,
    /// `BPF_CGROUP_INET4_CONNECT` (10).
    CgroupInet4Connect = 10,
    /// `BPF_CGROUP_INET6_CONNECT` (11).
    CgroupInet6Connect = 11,
    /// `BPF_CGROUP_INET4_POST_BIND` (12).
    CgroupInet4PostBind = 12,
    /// `BPF_CGROUP_INET6_POST_BIND` (13).
    CgroupInet6PostBind = 13,
    /// `BPF_CGROUP_UDP4_SENDMSG` (14).
    CgroupUdp4Sendmsg = 14,
    /// `BPF_CGROUP_UDP6_SENDMSG` (15).
    CgroupUdp6Sendmsg = 15,
    /// `BPF_LIRC_MODE2` (16).
    LircMode2 = 16,
    /// `BPF_FLOW_DISSECTOR` (17).
    FlowDissector = 17,
    /// `BPF_CGROUP_SYSCTL` (18).
    CgroupSysctl = 18,
    /// `BPF_CGROUP_UDP4_RECVMSG` (19).
    CgroupUdp4Recvmsg = 19,
    /// `BPF_CGROUP_UDP6_RECVMSG` (20).
    CgroupUdp6Recvmsg = 20,
    /// `BPF_CGROUP_GETSOCKOPT` (21).
    CgroupGetsockopt = 21,
    /// `BPF_CGROUP_SETSOCKOPT` (22).
    CgroupSetsockopt = 22,
    /// `BPF_TRACE_RAW_TP` (23).
    TraceRawTp = 23,
    /// `BPF_TRACE_FENTRY` (24).
    TraceFentry = 24,
    /// `BPF_TRACE_FEXIT` (25).
    TraceFexit = 25,
    /// `BPF_MODIFY_RETURN` (26).
    ModifyReturn = 26,
    /// `BPF_LSM_MAC` (27).
    LsmMac = 27,
    /// `BPF_TRACE_ITER` (28).
    TraceIter = 28,
    /// `BPF_CGROUP_INET4_GETPEERNAME` (29).
    CgroupInet4Getpeername = 29,
    /// `BPF_CGROUP_INET6_GETPEERNAME` (30).
    CgroupInet6Getpeername = 30,
    /// `BPF_CGROUP_INET4_GETSOCKNAME` (31).
    CgroupInet4Getsockname = 31,
    /// `BPF_CGROUP_INET6_GETSOCKNAME` (32).
    CgroupInet6Getsockname = 32,
    /// `BPF_XDP_DEVMAP` (33).
    XdpDevmap = 33,
    /// `BPF_CGROUP_INET_SOCK_RELEASE` (34).
    CgroupInetSockRelease = 34,
    /// `BPF_XDP_CPUMAP` (35).
    XdpCpumap = 35,
    /// `BPF_SK_LOOKUP` (36).
    SkLookup = 36,
    /// `BPF_XDP` (37).
    Xdp = 37,
    /// `BPF_SK_SKB_VERDICT` (38).
    SkSkbVerdict = 38,
    /// `BPF_SK_REUSEPORT_SELECT` (39).
    SkReuseportSelect = 39,
    /// `BPF_SK_REUSEPORT_SELECT_OR_MIGRATE` (40).
    SkReuseportSelectOrMigrate = 40,
    /// `BPF_PERF_EVENT` (41).
    PerfEvent = 41,
    /// `BPF_TRACE_KPROBE_MULTI` (42).
    TraceKprobeMulti = 42,
    /// `BPF_LSM_CGROUP` (43).
    LsmCgroup = 43,
    /// `BPF_STRUCT_OPS` (44).
    StructOps = 44,
    /// `BPF_NETFILTER` (45).
    Netfilter = 45,
    /// `BPF_TCX_INGRESS` (46).
    TcxIngress = 46,
    /// `BPF_TCX_EGRESS` (47).
    TcxEgress = 47,
    /// `BPF_TRACE_UPROBE_MULTI` (48).
    TraceUprobeMulti = 48,
    /// `BPF_CGROUP_UNIX_CONNECT` (49).
    CgroupUnixConnect = 49,
    /// `BPF_CGROUP_UNIX_SENDMSG` (50).
    CgroupUnixSendmsg = 50,
    /// `BPF_CGROUP_UNIX_RECVMSG` (51).
    CgroupUnixRecvmsg = 51,
    /// `BPF_CGROUP_UNIX_GETPEERNAME` (52).
    CgroupUnixGetpeername = 52,
    /// `BPF_CGROUP_UNIX_GETSOCKNAME` (53).
    CgroupUnixGetsockname = 53,
    /// `BPF_NETKIT_PRIMARY` (54).
    NetkitPrimary = 54,
    /// `BPF_NETKIT_PEER` (55).
    NetkitPeer = 55,
    /// `BPF_TRACE_KPROBE_SESSION` (56).
    TraceKprobeSession = 56,
    /// `BPF_TRACE_UPROBE_SESSION` (57).
    TraceUprobeSession = 57,
}

impl AttachType {
    /// Every value, in numeric order.
    pub const ALL: [AttachType; 58] = [
        AttachType::CgroupInetIngress,
        AttachType::CgroupInetEgress,
        AttachType::CgroupInetSockCreate,
        AttachType::CgroupSockOps,
        AttachType::SkSkbStreamParser,
        AttachType::SkSkbStreamVerdict,
        AttachType::CgroupDevice,
        AttachType::SkMsgVerdict,
        AttachType::CgroupInet4Bind,
        AttachType::CgroupInet6Bind,
        AttachType::CgroupInet4Connect,
        AttachType::CgroupInet6Connect,
        AttachType::CgroupInet4PostBind,
        AttachType::CgroupInet6PostBind,
        AttachType::CgroupUdp4Sendmsg,
        AttachType::CgroupUdp6Sendmsg,
        AttachType::LircMode2,
        AttachType::FlowDissector,
        AttachType::CgroupSysctl,
        AttachType::CgroupUdp4Recvmsg,
        AttachType::CgroupUdp6Recvmsg,
        AttachType::CgroupGetsockopt,
        AttachType::CgroupSetsockopt,
        AttachType::TraceRawTp,
        AttachType::TraceFentry,
        AttachType::TraceFexit,
        AttachType::ModifyReturn,
        AttachType::LsmMac,
        AttachType::TraceIter,
        AttachType::CgroupInet4Getpeername,
        AttachType::CgroupInet6Getpeername,
        AttachType::CgroupInet4Getsockname,
        AttachType::CgroupInet6Getsockname,
        AttachType::XdpDevmap,
        AttachType::CgroupInetSockRelease,
        AttachType::XdpCpumap,
        AttachType::SkLookup,
        AttachType::Xdp,
        AttachType::SkSkbVerdict,
        AttachType::SkReuseportSelect,
        AttachType::SkReuseportSelectOrMigrate,
        AttachType::PerfEvent,
        AttachType::TraceKprobeMulti,
        AttachType::LsmCgroup,
        AttachType::StructOps,
        AttachType::Netfilter,
        AttachType::TcxIngress,
        AttachType::TcxEgress,
        AttachType::TraceUprobeMulti,
        AttachType::CgroupUnixConnect,
        AttachType::CgroupUnixSendmsg,
        AttachType::CgroupUnixRecvmsg,
        AttachType::CgroupUnixGetpeername,
        AttachType::CgroupUnixGetsockname,
        AttachType::NetkitPrimary,
        AttachType::NetkitPeer,
        AttachType::TraceKprobeSession,
        AttachType::TraceUprobeSession,
    ];

    /// The kernel's number.
    pub const fn number(self) -> u32 {
        self as u32
    }

    /// The value with kernel number `n`, if this crate knows it.
    pub fn from_number(n: u32) -> Option<AttachType> {
        AttachType::ALL.get(n as usize).copied()
    }

    /// The lowercase uapi name without its prefix, as bpftool prints it (`cgroup_inet_egress`).
    pub const fn name(self) -> &'static str {
        match self {
            AttachType::CgroupInetIngress => "cgroup_inet_ingress",
            AttachType::CgroupInetEgress => "cgroup_inet_egress",
            AttachType::CgroupInetSockCreate => "cgroup_inet_sock_create",
            AttachType::CgroupSockOps => "cgroup_sock_ops",
            AttachType::SkSkbStreamParser => "sk_skb_stream_parser",
            AttachType::SkSkbStreamVerdict => "sk_skb_stream_verdict",
            AttachType::CgroupDevice => "cgroup_device",
            AttachType::SkMsgVerdict => "sk_msg_verdict",
            AttachType::CgroupInet4Bind => "cgroup_inet4_bind",
            AttachType::CgroupInet6Bind => "cgroup_inet6_bind",
            AttachType::CgroupInet4Connect => "cgroup_inet4_connect",
            AttachType::CgroupInet6Connect => "cgroup_inet6_connect",
            AttachType::CgroupInet4PostBind => "cgroup_inet4_post_bind",
            AttachType::CgroupInet6PostBind => "cgroup_inet6_post_bind",
            AttachType::CgroupUdp4Sendmsg => "cgroup_udp4_sendmsg",
            AttachType::CgroupUdp6Sendmsg => "cgroup_udp6_sendmsg",
            AttachType::LircMode2 => "lirc_mode2",
            AttachType::FlowDissector => "flow_dissector",
            AttachType::CgroupSysctl => "cgroup_sysctl",
            AttachType::CgroupUdp4Recvmsg => "cgroup_udp4_recvmsg",
            AttachType::CgroupUdp6Recvmsg => "cgroup_udp6_recvmsg",
            AttachType::CgroupGetsockopt => "cgroup_getsockopt",
            AttachType::CgroupSetsockopt => "cgroup_setsockopt",
            AttachType::TraceRawTp => "trace_raw_tp",
            AttachType::TraceFentry => "trace_fentry",
            AttachType::TraceFexit => "trace_fexit",
            AttachType::ModifyReturn => "modify_return",
            AttachType::LsmMac => "lsm_mac",
            AttachType::TraceIter => "trace_iter",
            AttachType::CgroupInet4Getpeername => "cgroup_inet4_getpeername",
            AttachType::CgroupInet6Getpeername => "cgroup_inet6_getpeername",
            AttachType::CgroupInet4Getsockname => "cgroup_inet4_getsockname",
            AttachType::CgroupInet6Getsockname => "cgroup_inet6_getsockname",
            AttachType::XdpDevmap => "xdp_devmap",
            AttachType::CgroupInetSockRelease => "cgroup_inet_sock_release",
            AttachType::XdpCpumap => "xdp_cpumap",
            AttachType::SkLookup => "sk_lookup",
            AttachType::Xdp => "xdp",
            AttachType::SkSkbVerdict => "sk_skb_verdict",
            AttachType::SkReuseportSelect => "sk_reuseport_select",
            AttachType::SkReuseportSelectOrMigrate => "sk_reuseport_select_or_migrate",
            AttachType::PerfEvent => "perf_event",
            AttachType::TraceKprobeMulti => "trace_kprobe_multi",
            AttachType::LsmCgroup => "lsm_cgroup",
            AttachType::StructOps => "struct_ops",
            AttachType::Netfilter => "netfilter",
            AttachType::TcxIngress => "tcx_ingress",
            AttachType::TcxEgress => "tcx_egress",
            AttachType::TraceUprobeMulti => "trace_uprobe_multi",
            AttachType::CgroupUnixConnect => "cgroup_unix_connect",
            AttachType::CgroupUnixSendmsg => "cgroup_unix_sendmsg",
            AttachType::CgroupUnixRecvmsg => "cgroup_unix_recvmsg",
            AttachType::CgroupUnixGetpeername => "cgroup_unix_getpeername",
            AttachType::CgroupUnixGetsockname => "cgroup_unix_getsockname",
            AttachType::NetkitPrimary => "netkit_primary",
            AttachType::NetkitPeer => "netkit_peer",
            AttachType::TraceKprobeSession => "trace_kprobe_session",
            AttachType::TraceUprobeSession => "trace_uprobe_session",
        }
    }
}

impl std::fmt::Display for AttachType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_match_uapi() {
        assert_eq!(AttachType::CgroupInetIngress.number(), 0);
        assert_eq!(AttachType::TraceFentry.number(), 24);
        assert_eq!(AttachType::Xdp.number(), 37);
        assert_eq!(AttachType::LsmCgroup.number(), 43);
        assert_eq!(AttachType::TcxIngress.number(), 46);
        assert_eq!(AttachType::TraceUprobeSession.number(), 57);
        for (i, t) in AttachType::ALL.iter().enumerate() {
            assert_eq!(t.number() as usize, i);
            assert_eq!(AttachType::from_number(i as u32), Some(*t));
        }
    }
}
