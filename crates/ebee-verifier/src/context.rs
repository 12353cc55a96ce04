//! Program types: what `r1` points to at entry, which of its bytes may be
//! read or written at which sizes and what a read produces, which helpers
//! may be called and what `r0` must hold at exit.
//!
//! The built-in descriptions follow the kernel's per-type access rules
//! (`sk_filter_is_valid_access`, `tc_cls_act_is_valid_access`,
//! `xdp_is_valid_access`); embedders describe their own program types with
//! [`ContextLayout`] fields.

use crate::helpers::HelperGroups;

/// What a context field read yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A number.
    Scalar,
    /// The start of the packet data.
    PacketData,
    /// The end of the packet data.
    PacketEnd,
    /// The start of the packet metadata.
    PacketMeta,
}

/// Which access sizes a field allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Not at all.
    Denied,
    /// Only the field's own size.
    Exact,
    /// The field's size or a smaller power of two, naturally aligned
    /// (a "narrow" access of part of the field).
    Narrow,
}

/// One field of a context structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CtxField {
    /// Name, for diagnostics.
    pub name: &'static str,
    /// Byte offset in the context.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// How the program may read it.
    pub read: Access,
    /// How the program may write it.
    pub write: Access,
    /// What a read yields.
    pub kind: FieldKind,
}

impl CtxField {
    const fn new(name: &'static str, offset: u32, size: u32, read: Access, write: Access) -> Self {
        CtxField {
            name,
            offset,
            size,
            read,
            write,
            kind: FieldKind::Scalar,
        }
    }

    const fn kind(mut self, kind: FieldKind) -> Self {
        self.kind = kind;
        self
    }
}

/// The context structure `r1` points to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContextLayout {
    /// The structure's name (`__sk_buff`, `xdp_md`, ...).
    pub name: &'static str,
    /// Its size in bytes.
    pub size: u32,
    /// Its fields; bytes outside every field are inaccessible.
    pub fields: Vec<CtxField>,
}

/// A context access the layout does not allow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CtxAccessError {
    /// Why, in words.
    pub reason: String,
}

impl ContextLayout {
    /// Check a read (`write == false`) or write of `size` bytes at `off`,
    /// returning what a read yields.
    pub fn check(&self, off: i64, size: u32, write: bool) -> Result<FieldKind, CtxAccessError> {
        let err = |reason: String| Err(CtxAccessError { reason });
        if off < 0 || off + size as i64 > self.size as i64 {
            return err(format!(
                "offset {off} size {size} is outside {} ({} bytes)",
                self.name, self.size
            ));
        }
        if off % size as i64 != 0 {
            return err(format!(
                "offset {off} is not aligned to the access size {size}"
            ));
        }
        let off = off as u32;
        let Some(f) = self
            .fields
            .iter()
            .find(|f| f.offset <= off && off + size <= f.offset + f.size)
        else {
            return err(format!(
                "no field of {} covers offset {off} size {size}",
                self.name
            ));
        };
        let rule = if write { f.write } else { f.read };
        let verb = if write { "written" } else { "read" };
        let ok = match rule {
            Access::Denied => false,
            Access::Exact => size == f.size && off == f.offset,
            Access::Narrow => size <= f.size,
        };
        if !ok {
            return err(match rule {
                Access::Denied => format!("{}.{} may not be {verb} by this program type", self.name, f.name),
                _ => format!(
                    "{}.{} ({} bytes at offset {}) may not be {verb} with a {size}-byte access at offset {off}",
                    self.name, f.name, f.size, f.offset
                ),
            });
        }
        Ok(if write { FieldKind::Scalar } else { f.kind })
    }
}

/// What the program receives in `r1` (and `r2`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ContextKind {
    /// `r1` points to a structure accessed field by field.
    Struct(ContextLayout),
    /// `r1` points to `size` bytes of readable and writable memory and
    /// `r2` holds `size` (the userspace runtime's "buffer" programs).
    Buffer {
        /// Bytes the program may access.
        size: u32,
    },
    /// `r1` is the start of a packet and `r2` its end; accesses need a
    /// comparison against `r2` first, as for XDP.
    PacketBuffer,
    /// No context: `r1` is an unknown number.
    None,
}

/// A program type: context, helpers, exit value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProgramType {
    /// Name, for diagnostics.
    pub name: &'static str,
    /// The kernel's `BPF_PROG_TYPE_*` number, if this is a kernel type.
    pub kernel_type: Option<u32>,
    /// What `r1` points to.
    pub context: ContextKind,
    /// Which helpers the program may call.
    pub helpers: HelperGroups,
    /// If set, `r0` at exit must be a number in this range.
    pub return_range: Option<(i64, i64)>,
    /// Whether helpers that resize the packet are available (they invalidate
    /// packet pointers).
    pub direct_packet_access: bool,
}

const R: Access = Access::Narrow;
const X: Access = Access::Exact;
const D: Access = Access::Denied;

/// Which program type's rules an `__sk_buff` follows.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SkbKind {
    SocketFilter,
    Tc,
    CgroupSkb,
}

fn sk_buff(kind: SkbKind) -> ContextLayout {
    use FieldKind::*;
    let tc = kind == SkbKind::Tc;
    let cg = kind == SkbKind::CgroupSkb;
    let w = |writable: bool| if writable { X } else { D };
    let pkt = if kind == SkbKind::SocketFilter { D } else { X };
    let mut fields = vec![
        CtxField::new("len", 0, 4, R, D),
        CtxField::new("pkt_type", 4, 4, R, D),
        CtxField::new("mark", 8, 4, R, w(tc || cg)),
        CtxField::new("queue_mapping", 12, 4, R, w(tc)),
        CtxField::new("protocol", 16, 4, R, D),
        CtxField::new("vlan_present", 20, 4, R, D),
        CtxField::new("vlan_tci", 24, 4, R, D),
        CtxField::new("vlan_proto", 28, 4, R, D),
        CtxField::new("priority", 32, 4, R, w(tc || cg)),
        CtxField::new("ingress_ifindex", 36, 4, R, D),
        CtxField::new("ifindex", 40, 4, R, D),
        CtxField::new("tc_index", 44, 4, R, w(tc)),
        CtxField::new("cb", 48, 20, R, R),
        CtxField::new("hash", 68, 4, R, D),
        CtxField::new("tc_classid", 72, 4, if tc { R } else { D }, w(tc)),
        CtxField::new("data", 76, 4, pkt, D).kind(PacketData),
        CtxField::new("data_end", 80, 4, pkt, D).kind(PacketEnd),
        CtxField::new("napi_id", 84, 4, R, D),
        CtxField::new("data_meta", 140, 4, if tc { X } else { D }, D).kind(PacketMeta),
        CtxField::new("tstamp", 152, 8, if tc || cg { X } else { D }, w(tc || cg)),
        CtxField::new("wire_len", 160, 4, if tc { R } else { D }, D),
        CtxField::new("gso_segs", 164, 4, R, D),
        CtxField::new("gso_size", 176, 4, R, D),
        CtxField::new("hwtstamp", 184, 8, if tc || cg { X } else { D }, D),
    ];
    if cg {
        // The socket fields sk_filter hides are readable here.
        let names = ["family", "remote_ip4", "local_ip4"];
        for (i, n) in names.iter().enumerate() {
            fields.push(CtxField::new(n, 88 + 4 * i as u32, 4, R, D));
        }
        for i in 0..4 {
            fields.push(CtxField::new("remote_ip6", 100 + 4 * i, 4, X, D));
            fields.push(CtxField::new("local_ip6", 116 + 4 * i, 4, X, D));
        }
        fields.push(CtxField::new("remote_port", 132, 4, R, D));
        fields.push(CtxField::new("local_port", 136, 4, R, D));
    }
    // cb is written at any aligned size within it; the 5 words are one field.
    for f in fields.iter_mut() {
        if f.name == "cb" {
            f.write = Access::Narrow;
        }
    }
    ContextLayout {
        name: "__sk_buff",
        size: 192,
        fields,
    }
}

fn xdp_md() -> ContextLayout {
    use FieldKind::*;
    ContextLayout {
        name: "xdp_md",
        size: 24,
        fields: vec![
            CtxField::new("data", 0, 4, X, D).kind(PacketData),
            CtxField::new("data_end", 4, 4, X, D).kind(PacketEnd),
            CtxField::new("data_meta", 8, 4, X, D).kind(PacketMeta),
            CtxField::new("ingress_ifindex", 12, 4, X, D),
            CtxField::new("rx_queue_index", 16, 4, X, D),
        ],
    }
}

fn pt_regs() -> ContextLayout {
    const NAMES: [&str; 21] = [
        "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx", "dx", "si",
        "di", "orig_ax", "ip", "cs", "flags", "sp", "ss",
    ];
    ContextLayout {
        name: "pt_regs",
        size: 168,
        fields: NAMES
            .iter()
            .enumerate()
            .map(|(i, n)| CtxField::new(n, i as u32 * 8, 8, R, D))
            .collect(),
    }
}

/// `count` read-only 8-byte slots from `start` on, each readable whole or
/// in naturally aligned parts.
fn words(name: &'static str, size: u32, start: u32, count: u32) -> ContextLayout {
    ContextLayout {
        name,
        size,
        fields: (0..count)
            .map(|i| CtxField::new(name, start + i * 8, 8, R, D))
            .collect(),
    }
}

/// A tracepoint's record: the kernel does not know its layout at load, so
/// any aligned read from after the 8-byte common header up to
/// `PERF_MAX_TRACE_SIZE` (8192 since Linux 6.x) is allowed, and no write.
/// (Linux also lets negative offsets through, an unsigned comparison; we
/// do not: they read before the record.)
fn tracepoint_record() -> ContextLayout {
    words("tracepoint record", 8192, 8, 1023)
}

/// `struct bpf_perf_event_data`: the registers (read as whole words),
/// `sample_period` and `addr` (narrow reads allowed), all read-only.
fn perf_event_data() -> ContextLayout {
    let mut fields: Vec<CtxField> = pt_regs()
        .fields
        .into_iter()
        .map(|mut f| {
            f.read = X;
            f
        })
        .collect();
    fields.push(CtxField::new("sample_period", 168, 8, R, D));
    fields.push(CtxField::new("addr", 176, 8, R, D));
    ContextLayout {
        name: "bpf_perf_event_data",
        size: 184,
        fields,
    }
}

/// `struct bpf_sock_ops`: 32-bit fields read whole, `reply` and
/// `sk_txhash` writable whole, the 64-bit counters read whole. Stricter
/// than Linux in two places: the socket and packet pointers (`sk`,
/// `skb_data`, `skb_data_end`) are not modelled and refused, and
/// `skb_tcp_flags` is read whole only (Linux also allows its first bytes).
fn sock_ops() -> ContextLayout {
    const U32: [&str; 41] = [
        "op",
        "reply",
        "replylong[1]",
        "replylong[2]",
        "replylong[3]",
        "family",
        "remote_ip4",
        "local_ip4",
        "remote_ip6[0]",
        "remote_ip6[1]",
        "remote_ip6[2]",
        "remote_ip6[3]",
        "local_ip6[0]",
        "local_ip6[1]",
        "local_ip6[2]",
        "local_ip6[3]",
        "remote_port",
        "local_port",
        "is_fullsock",
        "snd_cwnd",
        "srtt_us",
        "bpf_sock_ops_cb_flags",
        "state",
        "rtt_min",
        "snd_ssthresh",
        "rcv_nxt",
        "snd_nxt",
        "snd_una",
        "mss_cache",
        "ecn_flags",
        "rate_delivered",
        "rate_interval_us",
        "packets_out",
        "retrans_out",
        "total_retrans",
        "segs_in",
        "data_segs_in",
        "segs_out",
        "data_segs_out",
        "lost_out",
        "sacked_out",
    ];
    let mut fields: Vec<CtxField> = U32
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let w = if i == 1 { X } else { D };
            CtxField::new(n, i as u32 * 4, 4, X, w)
        })
        .collect();
    fields.push(CtxField::new("sk_txhash", 164, 4, X, X));
    fields.push(CtxField::new("bytes_received", 168, 8, X, D));
    fields.push(CtxField::new("bytes_acked", 176, 8, X, D));
    fields.push(CtxField::new("sk", 184, 8, D, D));
    fields.push(CtxField::new("skb_data", 192, 8, D, D));
    fields.push(CtxField::new("skb_data_end", 200, 8, D, D));
    fields.push(CtxField::new("skb_len", 208, 4, X, D));
    fields.push(CtxField::new("skb_tcp_flags", 212, 4, X, D));
    fields.push(CtxField::new("skb_hwtstamp", 216, 8, X, D));
    ContextLayout {
        name: "bpf_sock_ops",
        size: 224,
        fields,
    }
}

/// `struct bpf_sock` as a socket creation program sees it: `bound_dev_if`,
/// `mark` and `priority` read and written whole, the family, type,
/// protocol, destination, state and queue read whole; the source address
/// and port are not known yet and refused. (Linux also allows reading the
/// first bytes of the readable fields; we only allow whole reads.)
fn bpf_sock_create() -> ContextLayout {
    let mut fields = vec![
        CtxField::new("bound_dev_if", 0, 4, X, X),
        CtxField::new("family", 4, 4, X, D),
        CtxField::new("type", 8, 4, X, D),
        CtxField::new("protocol", 12, 4, X, D),
        CtxField::new("mark", 16, 4, X, X),
        CtxField::new("priority", 20, 4, X, X),
        CtxField::new("src_ip4", 24, 4, D, D),
        CtxField::new("src_ip6", 28, 16, D, D),
        CtxField::new("src_port", 44, 4, D, D),
        CtxField::new("dst_port", 48, 4, X, D),
        CtxField::new("dst_ip4", 52, 4, X, D),
    ];
    for i in 0..4 {
        fields.push(CtxField::new("dst_ip6", 56 + 4 * i, 4, X, D));
    }
    fields.push(CtxField::new("state", 72, 4, X, D));
    fields.push(CtxField::new("rx_queue_mapping", 76, 4, X, D));
    ContextLayout {
        name: "bpf_sock",
        size: 80,
        fields,
    }
}

impl ProgramType {
    /// `BPF_PROG_TYPE_SOCKET_FILTER`: `__sk_buff` without direct packet access.
    pub fn socket_filter() -> ProgramType {
        ProgramType {
            name: "socket_filter",
            kernel_type: Some(1),
            context: ContextKind::Struct(sk_buff(SkbKind::SocketFilter)),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::SKB,
            return_range: None,
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_KPROBE`: read-only `pt_regs` (the x86-64 layout, 168 bytes).
    pub fn kprobe() -> ProgramType {
        ProgramType {
            name: "kprobe",
            kernel_type: Some(2),
            context: ContextKind::Struct(pt_regs()),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::TRACING,
            return_range: None,
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_TRACEPOINT`: the read-only record of a tracepoint
    /// (any aligned read from byte 8 to 8192).
    pub fn tracepoint() -> ProgramType {
        ProgramType {
            name: "tracepoint",
            kernel_type: Some(5),
            context: ContextKind::Struct(tracepoint_record()),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::TRACING,
            return_range: None,
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_PERF_EVENT`: read-only `bpf_perf_event_data`.
    pub fn perf_event() -> ProgramType {
        ProgramType {
            name: "perf_event",
            kernel_type: Some(7),
            context: ContextKind::Struct(perf_event_data()),
            helpers: HelperGroups::BASE
                | HelperGroups::PRIV
                | HelperGroups::TRACING
                | HelperGroups::PERF_EVENT,
            return_range: None,
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_CGROUP_SOCK` attached at socket creation (the
    /// kernel's default attach type for it): `bpf_sock` with writable
    /// `bound_dev_if`, `mark` and `priority`; returns 0 or 1.
    pub fn cgroup_sock_create() -> ProgramType {
        ProgramType {
            name: "cgroup_sock",
            kernel_type: Some(9),
            context: ContextKind::Struct(bpf_sock_create()),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::CGROUP_SOCK,
            return_range: Some((0, 1)),
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_SOCK_OPS`: `bpf_sock_ops` (see its fields' rules
    /// in the source), with the socket option helpers; returns 0 or 1.
    pub fn sock_ops() -> ProgramType {
        ProgramType {
            name: "sock_ops",
            kernel_type: Some(13),
            context: ContextKind::Struct(sock_ops()),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::SOCK_OPS,
            return_range: Some((0, 1)),
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_RAW_TRACEPOINT`: the tracepoint's arguments as up to
    /// 12 read-only 64-bit words.
    pub fn raw_tracepoint() -> ProgramType {
        ProgramType {
            name: "raw_tracepoint",
            kernel_type: Some(17),
            context: ContextKind::Struct(words("raw tracepoint args", 96, 0, 12)),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::TRACING,
            return_range: None,
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_SCHED_CLS` (tc): `__sk_buff` with packet access and
    /// writable mark, priority, tc_index, tc_classid, queue_mapping, tstamp.
    pub fn sched_cls() -> ProgramType {
        ProgramType {
            name: "sched_cls",
            kernel_type: Some(3),
            context: ContextKind::Struct(sk_buff(SkbKind::Tc)),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::SKB | HelperGroups::TC,
            return_range: None,
            direct_packet_access: true,
        }
    }

    /// `BPF_PROG_TYPE_CGROUP_SKB` (ingress): `__sk_buff` with read-only
    /// packet access, writable mark, priority, cb and tstamp; returns 0 or 1.
    pub fn cgroup_skb() -> ProgramType {
        ProgramType {
            name: "cgroup_skb",
            kernel_type: Some(8),
            context: ContextKind::Struct(sk_buff(SkbKind::CgroupSkb)),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::SKB,
            return_range: Some((0, 1)),
            direct_packet_access: false,
        }
    }

    /// `BPF_PROG_TYPE_XDP`: read-only `xdp_md` with packet access.
    pub fn xdp() -> ProgramType {
        ProgramType {
            name: "xdp",
            kernel_type: Some(6),
            context: ContextKind::Struct(xdp_md()),
            helpers: HelperGroups::BASE | HelperGroups::PRIV | HelperGroups::XDP,
            return_range: None,
            direct_packet_access: true,
        }
    }

    /// A userspace program receiving a buffer of `size` bytes in `r1` and
    /// its length in `r2`; it must return a number.
    pub fn buffer(size: u32) -> ProgramType {
        ProgramType {
            name: "buffer",
            kernel_type: None,
            context: ContextKind::Buffer { size },
            helpers: HelperGroups::BASE | HelperGroups::PRIV,
            return_range: Some((i64::MIN, i64::MAX)),
            direct_packet_access: false,
        }
    }

    /// A userspace program receiving a variable-length buffer as start
    /// (`r1`) and end (`r2`) pointers; accesses need a bounds check first.
    pub fn packet_buffer() -> ProgramType {
        ProgramType {
            name: "packet_buffer",
            kernel_type: None,
            context: ContextKind::PacketBuffer,
            helpers: HelperGroups::BASE | HelperGroups::PRIV,
            return_range: Some((i64::MIN, i64::MAX)),
            direct_packet_access: false,
        }
    }

    /// A host-defined program type whose context is `layout`.
    pub fn custom(name: &'static str, layout: ContextLayout, helpers: HelperGroups) -> ProgramType {
        ProgramType {
            name,
            kernel_type: None,
            context: ContextKind::Struct(layout),
            helpers,
            return_range: Some((i64::MIN, i64::MAX)),
            direct_packet_access: false,
        }
    }

    /// The built-in type with kernel number `n`, if we describe it.
    pub fn from_kernel(n: u32) -> Option<ProgramType> {
        Some(match n {
            1 => ProgramType::socket_filter(),
            2 => ProgramType::kprobe(),
            3 => ProgramType::sched_cls(),
            4 => ProgramType {
                name: "sched_act",
                kernel_type: Some(4),
                ..ProgramType::sched_cls()
            },
            5 => ProgramType::tracepoint(),
            6 => ProgramType::xdp(),
            7 => ProgramType::perf_event(),
            8 => ProgramType::cgroup_skb(),
            9 => ProgramType::cgroup_sock_create(),
            13 => ProgramType::sock_ops(),
            17 => ProgramType::raw_tracepoint(),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sk_buff_rules() {
        let sf = sk_buff(SkbKind::SocketFilter);
        assert_eq!(sf.check(0, 4, false), Ok(FieldKind::Scalar));
        assert_eq!(sf.check(2, 2, false), Ok(FieldKind::Scalar));
        assert!(sf.check(0, 8, false).is_err());
        assert!(sf.check(76, 4, false).is_err());
        assert!(sf.check(8, 4, true).is_err());
        assert!(sf.check(48, 8, true).is_ok());
        assert!(sf.check(64, 8, true).is_err());
        let tc = sk_buff(SkbKind::Tc);
        assert_eq!(tc.check(76, 4, false), Ok(FieldKind::PacketData));
        assert!(tc.check(8, 4, true).is_ok());
        assert!(tc.check(8, 2, true).is_err());
    }
}
