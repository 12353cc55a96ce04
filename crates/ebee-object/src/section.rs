//! Section names → program type and attach target, following libbpf's
//! conventions (`SEC("kprobe/do_unlinkat")`, `SEC("xdp")`, ...).
//!
//! libbpf 1.x matches a section name exactly, or as `prefix/<target>` for
//! kinds that take a target. libbpf 0.x matched by plain prefix, and old
//! objects (kernel samples, PREVAIL's corpus) rely on that (`socket1`,
//! `xdp_redirect_map`, `kprobe/sys_write`), so a prefix match is the last
//! resort here too. Names no rule matches (Cilium's `from-container`,
//! iproute2's tail-call sections `2/1`) get [`ProgramType::Unspec`]: the
//! loader that picks them (tc) decides their type.

pub use crate::attach_type::AttachType;
pub use crate::prog_type::ProgramType;

/// What a section name says about the programs in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionKind {
    /// The program type (`Unspec` when no rule matched).
    pub program_type: ProgramType,
    /// The expected attach type, where the name implies one.
    pub attach_type: Option<AttachType>,
    /// What to attach to: the part after `prefix/` for kinds that take one
    /// (`kprobe/do_unlinkat` → `do_unlinkat`, `tracepoint/syscalls/sys_enter_write`
    /// → `syscalls/sys_enter_write`).
    pub attach_target: Option<String>,
    /// Sleepable (`.s` variants: `fentry.s/...`, `uprobe.s/...`, `lsm.s/...`).
    pub sleepable: bool,
    /// XDP programs that handle multi-buffer packets (`xdp.frags`).
    pub frags: bool,
    /// The rule that matched (`"kprobe+"`, `"xdp"`, ...), `None` for none.
    pub rule: Option<&'static str>,
}

/// How a rule matches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The name must equal the prefix.
    Exact,
    /// The name equals the prefix, or is `prefix/<target>`.
    Target,
}

struct Rule {
    prefix: &'static str,
    how: Match,
    ty: ProgramType,
    attach: Option<AttachType>,
}

const fn rule(
    prefix: &'static str,
    how: Match,
    ty: ProgramType,
    attach: Option<AttachType>,
) -> Rule {
    Rule {
        prefix,
        how,
        ty,
        attach,
    }
}

use AttachType as A;
use Match::{Exact, Target};
use ProgramType as P;

/// The rules, most specific first (the first match wins).
static RULES: &[Rule] = &[
    rule("socket", Target, P::SocketFilter, None),
    rule(
        "sk_reuseport/migrate",
        Exact,
        P::SkReuseport,
        Some(A::SkReuseportSelectOrMigrate),
    ),
    rule(
        "sk_reuseport",
        Exact,
        P::SkReuseport,
        Some(A::SkReuseportSelect),
    ),
    rule("kprobe.multi", Target, P::Kprobe, Some(A::TraceKprobeMulti)),
    rule(
        "kretprobe.multi",
        Target,
        P::Kprobe,
        Some(A::TraceKprobeMulti),
    ),
    rule(
        "kprobe.session",
        Target,
        P::Kprobe,
        Some(A::TraceKprobeSession),
    ),
    rule(
        "uprobe.multi.s",
        Target,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    ),
    rule(
        "uretprobe.multi.s",
        Target,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    ),
    rule("uprobe.multi", Target, P::Kprobe, Some(A::TraceUprobeMulti)),
    rule(
        "uretprobe.multi",
        Target,
        P::Kprobe,
        Some(A::TraceUprobeMulti),
    ),
    rule("kprobe", Target, P::Kprobe, None),
    rule("kretprobe", Target, P::Kprobe, None),
    rule("uprobe.s", Target, P::Kprobe, None),
    rule("uretprobe.s", Target, P::Kprobe, None),
    rule("uprobe", Target, P::Kprobe, None),
    rule("uretprobe", Target, P::Kprobe, None),
    rule("ksyscall", Target, P::Kprobe, None),
    rule("kretsyscall", Target, P::Kprobe, None),
    rule("usdt.s", Target, P::Kprobe, None),
    rule("usdt", Target, P::Kprobe, None),
    rule("tc/ingress", Exact, P::SchedCls, Some(A::TcxIngress)),
    rule("tc/egress", Exact, P::SchedCls, Some(A::TcxEgress)),
    rule("tcx/ingress", Exact, P::SchedCls, Some(A::TcxIngress)),
    rule("tcx/egress", Exact, P::SchedCls, Some(A::TcxEgress)),
    rule("netkit/primary", Exact, P::SchedCls, Some(A::NetkitPrimary)),
    rule("netkit/peer", Exact, P::SchedCls, Some(A::NetkitPeer)),
    rule("tc", Target, P::SchedCls, None),
    rule("classifier", Target, P::SchedCls, None),
    rule("action", Target, P::SchedAct, None),
    rule("tracepoint", Target, P::Tracepoint, None),
    rule("tp", Target, P::Tracepoint, None),
    rule("raw_tracepoint.w", Target, P::RawTracepointWritable, None),
    rule("raw_tp.w", Target, P::RawTracepointWritable, None),
    rule("raw_tracepoint", Target, P::RawTracepoint, None),
    rule("raw_tp", Target, P::RawTracepoint, None),
    rule("tp_btf", Target, P::Tracing, Some(A::TraceRawTp)),
    rule("fentry.s", Target, P::Tracing, Some(A::TraceFentry)),
    rule("fmod_ret.s", Target, P::Tracing, Some(A::ModifyReturn)),
    rule("fexit.s", Target, P::Tracing, Some(A::TraceFexit)),
    rule("fentry", Target, P::Tracing, Some(A::TraceFentry)),
    rule("fmod_ret", Target, P::Tracing, Some(A::ModifyReturn)),
    rule("fexit", Target, P::Tracing, Some(A::TraceFexit)),
    rule("freplace", Target, P::Ext, None),
    rule("lsm.s", Target, P::Lsm, Some(A::LsmMac)),
    rule("lsm_cgroup", Target, P::Lsm, Some(A::LsmCgroup)),
    rule("lsm", Target, P::Lsm, Some(A::LsmMac)),
    rule("iter.s", Target, P::Tracing, Some(A::TraceIter)),
    rule("iter", Target, P::Tracing, Some(A::TraceIter)),
    rule("syscall", Exact, P::Syscall, None),
    rule("xdp.frags/devmap", Exact, P::Xdp, Some(A::XdpDevmap)),
    rule("xdp/devmap", Exact, P::Xdp, Some(A::XdpDevmap)),
    rule("xdp.frags/cpumap", Exact, P::Xdp, Some(A::XdpCpumap)),
    rule("xdp/cpumap", Exact, P::Xdp, Some(A::XdpCpumap)),
    rule("xdp.frags", Exact, P::Xdp, Some(A::Xdp)),
    rule("xdp", Target, P::Xdp, Some(A::Xdp)),
    rule("perf_event", Target, P::PerfEvent, None),
    rule("lwt_in", Target, P::LwtIn, None),
    rule("lwt_out", Target, P::LwtOut, None),
    rule("lwt_xmit", Target, P::LwtXmit, None),
    rule("lwt_seg6local", Target, P::LwtSeg6local, None),
    rule("sockops", Target, P::SockOps, Some(A::CgroupSockOps)),
    rule(
        "sk_skb/stream_parser",
        Exact,
        P::SkSkb,
        Some(A::SkSkbStreamParser),
    ),
    rule(
        "sk_skb/stream_verdict",
        Exact,
        P::SkSkb,
        Some(A::SkSkbStreamVerdict),
    ),
    rule("sk_skb/verdict", Exact, P::SkSkb, Some(A::SkSkbVerdict)),
    rule("sk_skb", Target, P::SkSkb, None),
    rule("sk_msg", Target, P::SkMsg, Some(A::SkMsgVerdict)),
    rule("lirc_mode2", Exact, P::LircMode2, Some(A::LircMode2)),
    rule(
        "flow_dissector",
        Target,
        P::FlowDissector,
        Some(A::FlowDissector),
    ),
    rule(
        "cgroup_skb/ingress",
        Exact,
        P::CgroupSkb,
        Some(A::CgroupInetIngress),
    ),
    rule(
        "cgroup_skb/egress",
        Exact,
        P::CgroupSkb,
        Some(A::CgroupInetEgress),
    ),
    rule("cgroup/skb", Exact, P::CgroupSkb, None),
    rule(
        "cgroup/sock_create",
        Exact,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    rule(
        "cgroup/sock_release",
        Exact,
        P::CgroupSock,
        Some(A::CgroupInetSockRelease),
    ),
    rule(
        "cgroup/sock",
        Exact,
        P::CgroupSock,
        Some(A::CgroupInetSockCreate),
    ),
    rule(
        "cgroup/post_bind4",
        Exact,
        P::CgroupSock,
        Some(A::CgroupInet4PostBind),
    ),
    rule(
        "cgroup/post_bind6",
        Exact,
        P::CgroupSock,
        Some(A::CgroupInet6PostBind),
    ),
    rule(
        "cgroup/bind4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Bind),
    ),
    rule(
        "cgroup/bind6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Bind),
    ),
    rule(
        "cgroup/connect4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Connect),
    ),
    rule(
        "cgroup/connect6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Connect),
    ),
    rule(
        "cgroup/connect_unix",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUnixConnect),
    ),
    rule(
        "cgroup/sendmsg4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Sendmsg),
    ),
    rule(
        "cgroup/sendmsg6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Sendmsg),
    ),
    rule(
        "cgroup/sendmsg_unix",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUnixSendmsg),
    ),
    rule(
        "cgroup/recvmsg4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUdp4Recvmsg),
    ),
    rule(
        "cgroup/recvmsg6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUdp6Recvmsg),
    ),
    rule(
        "cgroup/recvmsg_unix",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUnixRecvmsg),
    ),
    rule(
        "cgroup/getpeername4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getpeername),
    ),
    rule(
        "cgroup/getpeername6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getpeername),
    ),
    rule(
        "cgroup/getpeername_unix",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetpeername),
    ),
    rule(
        "cgroup/getsockname4",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet4Getsockname),
    ),
    rule(
        "cgroup/getsockname6",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupInet6Getsockname),
    ),
    rule(
        "cgroup/getsockname_unix",
        Exact,
        P::CgroupSockAddr,
        Some(A::CgroupUnixGetsockname),
    ),
    rule(
        "cgroup/sysctl",
        Exact,
        P::CgroupSysctl,
        Some(A::CgroupSysctl),
    ),
    rule(
        "cgroup/getsockopt",
        Exact,
        P::CgroupSockopt,
        Some(A::CgroupGetsockopt),
    ),
    rule(
        "cgroup/setsockopt",
        Exact,
        P::CgroupSockopt,
        Some(A::CgroupSetsockopt),
    ),
    rule("cgroup/dev", Exact, P::CgroupDevice, Some(A::CgroupDevice)),
    rule("struct_ops.s", Target, P::StructOps, None),
    rule("struct_ops", Target, P::StructOps, None),
    rule("sk_lookup", Exact, P::SkLookup, Some(A::SkLookup)),
    rule("netfilter", Exact, P::Netfilter, Some(A::Netfilter)),
];

/// Prefixes libbpf 0.x accepted as plain prefixes (`socket1`,
/// `xdp_redirect_map`, `kprobe_sys_write`...), checked only when no rule
/// matched exactly or with a target.
static LEGACY_PREFIXES: &[(&str, ProgramType)] = &[
    ("socket", P::SocketFilter),
    ("kprobe", P::Kprobe),
    ("kretprobe", P::Kprobe),
    ("uprobe", P::Kprobe),
    ("uretprobe", P::Kprobe),
    ("classifier", P::SchedCls),
    ("action", P::SchedAct),
    ("tracepoint", P::Tracepoint),
    ("raw_tracepoint", P::RawTracepoint),
    ("xdp", P::Xdp),
    ("perf_event", P::PerfEvent),
    ("lwt_in", P::LwtIn),
    ("lwt_out", P::LwtOut),
    ("lwt_xmit", P::LwtXmit),
    ("lwt_seg6local", P::LwtSeg6local),
    ("cgroup/skb", P::CgroupSkb),
    ("cgroup/sock", P::CgroupSock),
    ("cgroup/dev", P::CgroupDevice),
    ("sockops", P::SockOps),
    ("sk_skb", P::SkSkb),
    ("sk_msg", P::SkMsg),
    ("flow_dissector", P::FlowDissector),
];

impl SectionKind {
    /// Classify a program section by its name.
    pub fn from_section_name(name: &str) -> SectionKind {
        for r in RULES {
            let target = if name == r.prefix {
                Some(None)
            } else if r.how == Target {
                name.strip_prefix(r.prefix)
                    .and_then(|rest| rest.strip_prefix('/'))
                    .map(|t| Some(t.to_string()))
            } else {
                None
            };
            if let Some(attach_target) = target {
                return SectionKind {
                    program_type: r.ty,
                    attach_type: r.attach,
                    attach_target: attach_target.filter(|t| !t.is_empty()),
                    sleepable: r.prefix.ends_with(".s"),
                    frags: r.prefix.starts_with("xdp.frags"),
                    rule: Some(r.prefix),
                };
            }
        }
        for &(prefix, ty) in LEGACY_PREFIXES {
            if name.starts_with(prefix) {
                return SectionKind {
                    program_type: ty,
                    attach_type: None,
                    attach_target: None,
                    sleepable: false,
                    frags: false,
                    rule: Some(prefix),
                };
            }
        }
        SectionKind {
            program_type: ProgramType::Unspec,
            attach_type: None,
            attach_target: None,
            sleepable: false,
            frags: false,
            rule: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(n: &str) -> (ProgramType, Option<AttachType>, Option<String>) {
        let k = SectionKind::from_section_name(n);
        (k.program_type, k.attach_type, k.attach_target)
    }

    #[test]
    fn libbpf_names() {
        assert_eq!(kind("xdp"), (P::Xdp, Some(A::Xdp), None));
        assert_eq!(kind("xdp.frags"), (P::Xdp, Some(A::Xdp), None));
        assert!(SectionKind::from_section_name("xdp.frags").frags);
        assert_eq!(
            kind("kprobe/do_unlinkat"),
            (P::Kprobe, None, Some("do_unlinkat".into()))
        );
        assert_eq!(
            kind("tracepoint/syscalls/sys_enter_write"),
            (P::Tracepoint, None, Some("syscalls/sys_enter_write".into()))
        );
        assert_eq!(kind("tp/sched/sched_switch").0, P::Tracepoint);
        assert_eq!(kind("raw_tp/sys_enter").0, P::RawTracepoint);
        assert_eq!(
            kind("fentry/do_unlinkat"),
            (P::Tracing, Some(A::TraceFentry), Some("do_unlinkat".into()))
        );
        assert!(SectionKind::from_section_name("fentry.s/foo").sleepable);
        assert_eq!(kind("lsm/file_open").1, Some(A::LsmMac));
        assert_eq!(
            kind("tcx/ingress"),
            (P::SchedCls, Some(A::TcxIngress), None)
        );
        assert_eq!(kind("tc").0, P::SchedCls);
        assert_eq!(kind("cgroup_skb/ingress").1, Some(A::CgroupInetIngress));
        assert_eq!(
            kind("cgroup/connect4"),
            (P::CgroupSockAddr, Some(A::CgroupInet4Connect), None)
        );
        assert_eq!(kind("sk_skb/stream_parser").1, Some(A::SkSkbStreamParser));
        assert_eq!(kind("iter/task").2.as_deref(), Some("task"));
        assert_eq!(kind("struct_ops/init").0, P::StructOps);
        assert_eq!(kind("syscall").0, P::Syscall);
        assert_eq!(P::RawTracepoint.number(), 17);
        assert_eq!(P::Tracing.number(), 26);
        assert_eq!(P::Lsm.number(), 29);
    }

    #[test]
    fn legacy_and_unknown_names() {
        assert_eq!(kind("socket1").0, P::SocketFilter);
        assert_eq!(kind("xdp_redirect_map").0, P::Xdp);
        assert_eq!(kind("kprobe_sys_write").0, P::Kprobe);
        assert_eq!(kind("from-container").0, P::Unspec);
        assert_eq!(kind("2/1").0, P::Unspec);
        // `cgroup/recv_accept4` is not a kernel hook.
        assert_eq!(kind("cgroup/recv_accept4").0, P::Unspec);
    }
}
