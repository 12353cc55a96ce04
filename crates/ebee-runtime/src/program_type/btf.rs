//! The BTF CO-RE relocations resolve against in userspace: for each
//! program type the runtime runs, its context exactly as the runtime lays
//! it out (the Linux UAPI layouts of [`super::xdp::XdpMd`],
//! [`super::skb::SkBuff`] and [`super::sock_ops::BpfSockOps`]), with the kernel's names, plus the kernel types
//! that mean the same here as there: the packet headers a parser reads
//! (`ethhdr`, `iphdr`, `ipv6hdr`, `tcphdr`, `udphdr`), and the verdict enums
//! (`xdp_action`, `sk_action`).
//!
//! Types the runtime gives no meaning to (`task_struct`, `sk_buff`...)
//! are absent on purpose: a field of one resolves as missing, so
//! `bpf_core_field_exists` is 0 and any other access to it is poisoned.

use ebee_object::btf::{Btf, BtfBuilder, Field, TypeId};
use ebee_object::ProgramType;

/// The kernel's fixed-width integer typedefs, as vmlinux names them.
struct Ints {
    u8_: TypeId,
    u16_: TypeId,
    u32_: TypeId,
    u64_: TypeId,
    be16: TypeId,
    be32: TypeId,
    sum16: TypeId,
    uchar: TypeId,
}

fn ints(b: &mut BtfBuilder) -> Ints {
    let uchar = b.int("unsigned char", 1, false);
    let ushort = b.int("short unsigned int", 2, false);
    let uint = b.int("unsigned int", 4, false);
    let ull = b.int("long long unsigned int", 8, false);
    let u8_ = b.typedef("__u8", uchar);
    let u16_ = b.typedef("__u16", ushort);
    let u32_ = b.typedef("__u32", uint);
    let u64_ = b.typedef("__u64", ull);
    let be16 = b.typedef("__be16", u16_);
    let be32 = b.typedef("__be32", u32_);
    let sum16 = b.typedef("__sum16", u16_);
    Ints {
        u8_,
        u16_,
        u32_,
        u64_,
        be16,
        be32,
        sum16,
        uchar,
    }
}

/// `struct xdp_md` and `enum xdp_action`.
fn add_xdp(b: &mut BtfBuilder, i: &Ints) {
    let fields: Vec<Field> = [
        "data",
        "data_end",
        "data_meta",
        "ingress_ifindex",
        "rx_queue_index",
        "egress_ifindex",
    ]
    .iter()
    .map(|n| Field::new(n, i.u32_))
    .collect();
    b.add_struct("xdp_md", &fields);
    b.add_enum(
        "xdp_action",
        4,
        &[
            ("XDP_ABORTED", 0),
            ("XDP_DROP", 1),
            ("XDP_PASS", 2),
            ("XDP_TX", 3),
            ("XDP_REDIRECT", 4),
        ],
    );
}

/// `struct __sk_buff` (192 bytes; `flow_keys` and `sk` in the anonymous
/// 8-byte unions of `__bpf_md_ptr`) and `enum sk_action`.
fn add_skb(b: &mut BtfBuilder, i: &Ints) {
    let u32_ = |n: &str| Field::new(n, i.u32_);
    let cb = b.array(i.u32_, 5);
    let ip6 = b.array(i.u32_, 4);
    let flow_keys = b.fwd("bpf_flow_keys", false);
    let flow_keys = b.ptr(flow_keys);
    let flow_keys = b.add_union("", &[Field::new("flow_keys", flow_keys)]);
    let sock = b.fwd("bpf_sock", false);
    let sock = b.ptr(sock);
    let sock = b.add_union("", &[Field::new("sk", sock)]);
    let mut fields: Vec<Field> = [
        "len",
        "pkt_type",
        "mark",
        "queue_mapping",
        "protocol",
        "vlan_present",
        "vlan_tci",
        "vlan_proto",
        "priority",
        "ingress_ifindex",
        "ifindex",
        "tc_index",
    ]
    .iter()
    .map(|n| u32_(n))
    .collect();
    fields.push(Field::new("cb", cb));
    for n in [
        "hash",
        "tc_classid",
        "data",
        "data_end",
        "napi_id",
        "family",
        "remote_ip4",
        "local_ip4",
    ] {
        fields.push(u32_(n));
    }
    fields.push(Field::new("remote_ip6", ip6));
    fields.push(Field::new("local_ip6", ip6));
    for n in ["remote_port", "local_port", "data_meta"] {
        fields.push(u32_(n));
    }
    fields.push(Field::anonymous(flow_keys));
    fields.push(Field::new("tstamp", i.u64_));
    fields.push(u32_("wire_len"));
    fields.push(u32_("gso_segs"));
    fields.push(Field::anonymous(sock));
    fields.push(u32_("gso_size"));
    fields.push(Field::new("tstamp_type", i.u8_));
    fields.push(Field::new("hwtstamp", i.u64_));
    b.add_struct("__sk_buff", &fields);
    b.add_enum("sk_action", 4, &[("SK_DROP", 0), ("SK_PASS", 1)]);
}

/// `struct bpf_sock_ops` (224 bytes, [`super::sock_ops::BpfSockOps`]):
/// the `args` / `reply` / `replylong` union, and `sk`, `skb_data`,
/// `skb_data_end` in the 8-byte unions of `__bpf_md_ptr`.
fn add_sock_ops(b: &mut BtfBuilder, i: &Ints) {
    let u32_ = |n: &str| Field::new(n, i.u32_);
    let four = b.array(i.u32_, 4);
    let args = b.add_union(
        "",
        &[
            Field::new("args", four),
            Field::new("reply", i.u32_),
            Field::new("replylong", four),
        ],
    );
    let sock = b.fwd("bpf_sock", false);
    let sock = b.ptr(sock);
    let sk = b.add_union("", &[Field::new("sk", sock)]);
    let void_ptr = b.ptr(0);
    let data = b.add_union("", &[Field::new("skb_data", void_ptr)]);
    let data_end = b.add_union("", &[Field::new("skb_data_end", void_ptr)]);
    let mut fields = vec![u32_("op"), Field::anonymous(args)];
    for n in ["family", "remote_ip4", "local_ip4"] {
        fields.push(u32_(n));
    }
    fields.push(Field::new("remote_ip6", four));
    fields.push(Field::new("local_ip6", four));
    for n in [
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
        "sk_txhash",
    ] {
        fields.push(u32_(n));
    }
    fields.push(Field::new("bytes_received", i.u64_));
    fields.push(Field::new("bytes_acked", i.u64_));
    fields.push(Field::anonymous(sk));
    fields.push(Field::anonymous(data));
    fields.push(Field::anonymous(data_end));
    fields.push(u32_("skb_len"));
    fields.push(u32_("skb_tcp_flags"));
    fields.push(Field::new("skb_hwtstamp", i.u64_));
    b.add_struct("bpf_sock_ops", &fields);
}

/// The packet headers of `<linux/if_ether.h>`, `<linux/ip.h>`,
/// `<linux/ipv6.h>`, `<linux/tcp.h>` and `<linux/udp.h>` (little-endian
/// bitfield order, as on the machines the runtime runs on).
fn add_headers(b: &mut BtfBuilder, i: &Ints) {
    let mac = b.array(i.uchar, 6);
    b.add_struct(
        "ethhdr",
        &[
            Field::new("h_dest", mac),
            Field::new("h_source", mac),
            Field::new("h_proto", i.be16),
        ],
    );
    let addrs = [Field::new("saddr", i.be32), Field::new("daddr", i.be32)];
    let anon_addrs = b.add_struct("", &addrs);
    let named_addrs = b.add_struct("", &addrs);
    let addr_union = b.add_union(
        "",
        &[
            Field::anonymous(anon_addrs),
            Field::new("addrs", named_addrs),
        ],
    );
    b.add_struct(
        "iphdr",
        &[
            Field::bits("ihl", i.u8_, 4),
            Field::bits("version", i.u8_, 4),
            Field::new("tos", i.u8_),
            Field::new("tot_len", i.be16),
            Field::new("id", i.be16),
            Field::new("frag_off", i.be16),
            Field::new("ttl", i.u8_),
            Field::new("protocol", i.u8_),
            Field::new("check", i.sum16),
            Field::anonymous(addr_union),
        ],
    );
    let in6 = add_in6_addr(b, i);
    let flow_lbl = b.array(i.u8_, 3);
    let in6_pair = [Field::new("saddr", in6), Field::new("daddr", in6)];
    let anon6 = b.add_struct("", &in6_pair);
    let named6 = b.add_struct("", &in6_pair);
    let addr6_union = b.add_union("", &[Field::anonymous(anon6), Field::new("addrs", named6)]);
    b.add_struct(
        "ipv6hdr",
        &[
            Field::bits("priority", i.u8_, 4),
            Field::bits("version", i.u8_, 4),
            Field::new("flow_lbl", flow_lbl),
            Field::new("payload_len", i.be16),
            Field::new("nexthdr", i.u8_),
            Field::new("hop_limit", i.u8_),
            Field::anonymous(addr6_union),
        ],
    );
    let mut tcp = vec![
        Field::new("source", i.be16),
        Field::new("dest", i.be16),
        Field::new("seq", i.be32),
        Field::new("ack_seq", i.be32),
    ];
    for (n, w) in [
        ("ae", 1),
        ("res1", 3),
        ("doff", 4),
        ("fin", 1),
        ("syn", 1),
        ("rst", 1),
        ("psh", 1),
        ("ack", 1),
        ("urg", 1),
        ("ece", 1),
        ("cwr", 1),
    ] {
        tcp.push(Field::bits(n, i.u16_, w));
    }
    tcp.push(Field::new("window", i.be16));
    tcp.push(Field::new("check", i.sum16));
    tcp.push(Field::new("urg_ptr", i.be16));
    b.add_struct("tcphdr", &tcp);
    b.add_struct(
        "udphdr",
        &[
            Field::new("source", i.be16),
            Field::new("dest", i.be16),
            Field::new("len", i.be16),
            Field::new("check", i.sum16),
        ],
    );
}

/// `struct in6_addr { union { __u8 u6_addr8[16]; __be16 u6_addr16[8];
/// __be32 u6_addr32[4]; } in6_u; }`.
fn add_in6_addr(b: &mut BtfBuilder, i: &Ints) -> TypeId {
    let a8 = b.array(i.u8_, 16);
    let a16 = b.array(i.be16, 8);
    let a32 = b.array(i.be32, 4);
    let u = b.add_union(
        "",
        &[
            Field::new("u6_addr8", a8),
            Field::new("u6_addr16", a16),
            Field::new("u6_addr32", a32),
        ],
    );
    b.add_struct("in6_addr", &[Field::new("in6_u", u)])
}

/// The context BTF of programs of type `t` in userspace: its context
/// struct, the verdict enum and the packet headers. `None` for program
/// types the runtime runs only with the raw-memory convention (their
/// context is whatever buffer the caller passes).
pub fn context_btf(t: ProgramType) -> Option<Btf> {
    let mut b = BtfBuilder::new();
    let i = ints(&mut b);
    match t {
        ProgramType::Xdp => add_xdp(&mut b, &i),
        ProgramType::SocketFilter | ProgramType::SchedCls | ProgramType::SchedAct => {
            add_skb(&mut b, &i)
        }
        ProgramType::SockOps => add_sock_ops(&mut b, &i),
        _ => return None,
    }
    add_headers(&mut b, &i);
    Some(
        b.build()
            .expect("the runtime's context types are well-formed (checked by the tests)"),
    )
}
