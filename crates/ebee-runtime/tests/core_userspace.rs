//! CO-RE in userspace. Clang-built CO-RE programs (`tests/c/core_userspace.c`:
//! `preserve_access_index` reads of the context and of packet headers,
//! bitfields, field/type/enum existence, sizes and values on flavoured
//! `___v2` types) run in ebee, relocated against the runtime's context BTF,
//! and in the kernel (`BPF_PROG_TEST_RUN`), relocated against vmlinux:
//! return values and every result slot must agree. The context BTF itself
//! is compared with vmlinux's types. `tests/c/core_shifted.c` proves a
//! user-given target BTF moves an access (in ebee and in the kernel, given
//! the same target), and that without it the access is poisoned: refused
//! by the verifier (and by the kernel), and failing the run cleanly when
//! unverified. `tests/c/core_custom.c` runs at a host-defined hook whose
//! context the host declares in BTF.

mod prog_type;

use ebee_kernel::TestRun;
use ebee_object::btf::{Btf, BtfBuilder, Field, TypeId, TypeKind};
use ebee_object::ProgramType;
use ebee_runtime::loader::{LoadOptions, LoadedObject, ObjectLoadError};
use ebee_runtime::program_type::context_btf;
use ebee_runtime::program_type::custom::CustomType;
use ebee_runtime::program_type::skb::{SkBuff, Skb, SkbKind};
use ebee_runtime::program_type::xdp::{Xdp, XdpError, XdpMd};
use ebee_runtime::ExecError;
use prog_type::{compile, kernel, packet, Rng};

const SLOTS: u32 = 24;

/// Structural equality of two types in two BTFs (names, kinds, sizes,
/// member offsets, bitfields, enumerators; ids may differ).
fn same(ab: &Btf, a: TypeId, bb: &Btf, b: TypeId, path: &str, depth: u32) -> Result<(), String> {
    if depth > 12 {
        return Ok(());
    }
    let (ta, tb) = (ab.type_by_id(a).unwrap(), bb.type_by_id(b).unwrap());
    if let (TypeKind::Fwd { union: false }, TypeKind::Struct { .. }) = (&ta.kind, &tb.kind) {
        // A pointee the runtime leaves opaque (`bpf_sock`, `bpf_flow_keys`).
        return if ta.name == tb.name {
            Ok(())
        } else {
            Err(format!(
                "{path}: ours `{}`, the kernel's `{}`",
                ta.name, tb.name
            ))
        };
    }
    if ta.name != tb.name || ta.kind_name() != tb.kind_name() {
        return Err(format!(
            "{path}: ours {} `{}`, the kernel's {} `{}`",
            ta.kind_name(),
            ta.name,
            tb.kind_name(),
            tb.name
        ));
    }
    let rec = |x: TypeId, y: TypeId, p: String| same(ab, x, bb, y, &p, depth + 1);
    match (&ta.kind, &tb.kind) {
        (TypeKind::Ptr(x), TypeKind::Ptr(y)) | (TypeKind::Typedef(x), TypeKind::Typedef(y)) => {
            rec(*x, *y, format!("{path}>"))
        }
        (
            TypeKind::Array {
                elem: e1, len: l1, ..
            },
            TypeKind::Array {
                elem: e2, len: l2, ..
            },
        ) if l1 == l2 => rec(*e1, *e2, format!("{path}[]")),
        (
            TypeKind::Struct {
                size: s1,
                members: m1,
            },
            TypeKind::Struct {
                size: s2,
                members: m2,
            },
        )
        | (
            TypeKind::Union {
                size: s1,
                members: m1,
            },
            TypeKind::Union {
                size: s2,
                members: m2,
            },
        ) if s1 == s2 && m1.len() == m2.len() => {
            for (x, y) in m1.iter().zip(m2) {
                let p = format!("{path}.{}", x.name);
                if (&x.name, x.bit_offset, x.bitfield_size)
                    != (&y.name, y.bit_offset, y.bitfield_size)
                {
                    return Err(format!("{p}: ours {x:?}, the kernel's {y:?}"));
                }
                rec(x.ty, y.ty, p)?;
            }
            Ok(())
        }
        (x, y) if x == y => Ok(()),
        (x, y) => Err(format!("{path}: ours {x:?}, the kernel's {y:?}")),
    }
}

fn vmlinux() -> Option<Btf> {
    match std::fs::read("/sys/kernel/btf/vmlinux") {
        Ok(b) => Some(Btf::parse(&b).expect("vmlinux BTF parses")),
        Err(e) => {
            println!("skipped: /sys/kernel/btf/vmlinux: {e}");
            None
        }
    }
}

#[test]
fn context_btf_is_the_kernels_uapi_layout() {
    let xdp = context_btf(ProgramType::Xdp).unwrap();
    let skb = context_btf(ProgramType::SchedCls).unwrap();
    let sock_ops = context_btf(ProgramType::SockOps).unwrap();
    assert!(context_btf(ProgramType::Kprobe).is_none());
    let size = |b: &Btf, n: &str| b.size_of(b.id_by_name_kind(n, "STRUCT").unwrap()).unwrap();
    assert_eq!(size(&xdp, "xdp_md"), std::mem::size_of::<XdpMd>() as u64);
    assert_eq!(
        size(&skb, "__sk_buff"),
        std::mem::size_of::<SkBuff>() as u64
    );
    assert_eq!(
        size(&sock_ops, "bpf_sock_ops"),
        std::mem::size_of::<ebee_runtime::program_type::sock_ops::BpfSockOps>() as u64
    );
    let Some(k) = vmlinux() else { return };
    for (b, names) in [
        (
            &xdp,
            &[
                "xdp_md", "ethhdr", "iphdr", "ipv6hdr", "tcphdr", "udphdr", "in6_addr",
            ][..],
        ),
        (
            &skb,
            &["__sk_buff", "ethhdr", "iphdr", "tcphdr", "udphdr"][..],
        ),
        (&sock_ops, &["bpf_sock_ops"][..]),
    ] {
        for n in names {
            let ours = b.id_by_name_kind(n, "STRUCT").unwrap();
            let theirs = k.id_by_name_kind(n, "STRUCT").unwrap();
            same(b, ours, &k, theirs, n, 0).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    for (b, n) in [(&xdp, "xdp_action"), (&skb, "sk_action")] {
        let ours = b.id_by_name_kind(n, "ENUM").unwrap();
        let theirs = k.id_by_name_kind(n, "ENUM").unwrap();
        same(b, ours, &k, theirs, n, 0).unwrap_or_else(|e| panic!("{e}"));
    }
}

fn slots_u(u: &LoadedObject) -> Vec<u64> {
    let m = u.map("results").unwrap();
    (0..SLOTS)
        .map(|i| {
            let v = m.lookup(&i.to_ne_bytes()).unwrap().unwrap();
            u64::from_ne_bytes(v[..8].try_into().unwrap())
        })
        .collect()
}

fn slots_k(k: &ebee_kernel::LoadedObject) -> Vec<u64> {
    let m = k.map("results").unwrap();
    (0..SLOTS)
        .map(|i| {
            let v = m.lookup(&i.to_ne_bytes()).unwrap().unwrap();
            u64::from_ne_bytes(v[..8].try_into().unwrap())
        })
        .collect()
}

/// A TCP/IPv4 frame with chosen TTL, destination and header lengths.
fn tcp_packet(ttl: u8, daddr: [u8; 4], ihl: u8, doff: u8, syn: bool) -> Vec<u8> {
    let mut p = vec![0u8; 14 + 20 + 20 + 8];
    p[12] = 0x08;
    p[14] = 0x40 | ihl;
    p[14 + 8] = ttl;
    p[14 + 9] = 6;
    p[14 + 16..14 + 20].copy_from_slice(&daddr);
    p[34 + 2..34 + 4].copy_from_slice(&8080u16.to_be_bytes());
    p[34 + 12] = doff << 4;
    p[34 + 13] = u8::from(syn) << 1;
    p
}

#[test]
fn xdp_core_relocations_match_the_kernel() {
    let obj = compile("core_userspace");
    let u = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load (verified)");
    let up = u.program("xdp_core").unwrap();
    assert!(up.verified());
    let mut xdp = Xdp::new().unwrap();
    let first = tcp_packet(70, [10, 1, 2, 3], 5, 8, true);
    let out = xdp.run_loaded(up, &first).unwrap();
    let s = slots_u(&u);
    // Facts of the UAPI layout, from the userspace context BTF (the
    // runner, like the kernel's test run, receives on ifindex 1).
    assert_eq!(
        &s[..12],
        &[1, 4, 16, 0, 1, 0, 24, 3, 1, 1000, 0xdead, 0xbeef]
    );
    // The packet read through the relocated iphdr/tcphdr accesses.
    assert_eq!(
        &s[12..21],
        &[
            70,
            u64::from(u32::from_ne_bytes([10, 1, 2, 3])),
            6,
            5,
            4,
            8,
            1,
            8080u16.to_be() as u64,
            16
        ]
    );
    assert_eq!(out.ret, 1); // ttl > 64: XDP_DROP

    let Some(k) = kernel(&obj) else { return };
    let kp = k.program("xdp_core").unwrap();
    let mut rng = Rng(0x5eed_c0de);
    let mut packets = vec![first, tcp_packet(3, [192, 168, 0, 1], 7, 5, false)];
    packets.extend((0..200).map(|_| packet(&mut rng)));
    for (i, p) in packets.iter().enumerate() {
        let ko = kp.test_run(&TestRun::new(p)).expect("test_run");
        let uo = xdp.run_loaded(up, p).unwrap();
        assert_eq!(uo.ret as u32, ko.retval, "packet {i}: verdict");
        assert_eq!(slots_u(&u), slots_k(&k), "packet {i} {p:02x?}: results");
    }
}

#[test]
fn tc_core_relocations_match_the_kernel() {
    let obj = compile("core_userspace");
    let u = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load (verified)");
    let up = u.program("tc_core").unwrap();
    let mut skb = Skb::new(SkbKind::Tc).unwrap();
    let Some(k) = kernel(&obj) else {
        // Without the kernel, the layout facts alone.
        skb.run_loaded(up, &tcp_packet(1, [1, 2, 3, 4], 5, 5, false))
            .unwrap();
        let s = slots_u(&u);
        assert_eq!(&s[4..11], &[1, 8, 184, 60, 192, 1, 0xfeed]);
        return;
    };
    let kp = k.program("tc_core").unwrap();
    let mut rng = Rng(77);
    for i in 0..150 {
        let p = packet(&mut rng);
        if p.len() < 60 {
            continue; // the test run refuses short frames
        }
        let ctx = SkBuff {
            mark: rng.next() as u32,
            cb: [1, 2, rng.next() as u32, 4, 5],
            ..SkBuff::default()
        };
        let cin = ctx.to_bytes();
        let mut run = TestRun::new(&p).ctx(&cin);
        run.ctx_out_capacity = Some(192);
        let ko = kp.test_run(&run).expect("test_run");
        skb.ctx = SkBuff { ifindex: 1, ..ctx };
        let uo = skb.run_loaded(up, &p).unwrap();
        assert_eq!(uo.ret as u32, ko.retval, "packet {i}: return value");
        let s = slots_u(&u);
        assert_eq!(s, slots_k(&k), "packet {i}: results");
        assert_eq!(&s[4..11], &[1, 8, 184, 60, 192, 1, 0xfeed]);
        assert_eq!(s[3], u64::from(ctx.cb[2]));
        let kc = SkBuff::from_bytes(&ko.ctx);
        assert_eq!(
            (uo.ctx.mark, uo.ctx.cb),
            (kc.mark, kc.cb),
            "packet {i}: context out"
        );
    }
}

/// `struct ebee_pkt_hdr` as a target with `value` moved 4 bytes on.
fn shifted_target() -> Btf {
    let mut b = BtfBuilder::new();
    let u32_t = b.int("unsigned int", 4, false);
    b.add_struct(
        "ebee_pkt_hdr",
        &[
            Field::new("magic", u32_t),
            Field::new("version", u32_t),
            Field::new("value", u32_t),
        ],
    );
    b.build().unwrap()
}

fn shifted_packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[..4].copy_from_slice(&0xebu32.to_ne_bytes());
    p[4..8].copy_from_slice(&0x1111u32.to_ne_bytes());
    p[8..12].copy_from_slice(&0x2222u32.to_ne_bytes());
    p
}

#[test]
fn a_user_target_btf_moves_the_access() {
    let obj = compile("core_shifted");
    let mut xdp = Xdp::new().unwrap();
    let p = shifted_packet();
    let u = LoadedObject::load(&obj, &LoadOptions::new().target_btf(shifted_target())).unwrap();
    let ours = xdp
        .run_loaded(u.program("xdp_shifted").unwrap(), &p)
        .unwrap();
    // The local layout has `value` at 4 (0x1111); the target at 8.
    assert_eq!(ours.ret, 0x2222);
    // The same target through a host-defined type's BTF.
    let custom = CustomType::new(
        ebee_verifier::ContextLayout {
            name: "none",
            size: 0,
            fields: vec![],
        },
        ebee_runtime::HelperRegistry::new(),
    )
    .with_btf(shifted_target());
    let c = LoadedObject::load(&obj, &LoadOptions::new().custom_type(&custom)).unwrap();
    assert_eq!(
        xdp.run_loaded(c.program("xdp_shifted").unwrap(), &p)
            .unwrap()
            .ret,
        0x2222
    );
    // The kernel, given the same target, agrees.
    if let Err(e) = ebee_kernel::probe() {
        println!("skipped: {e}");
        return;
    }
    let opts = ebee_kernel::ObjectLoadOptions {
        core_target: Some(shifted_target()),
        ..Default::default()
    };
    let k = ebee_kernel::LoadedObject::load(&obj, &opts).expect("kernel load");
    let ko = k
        .program("xdp_shifted")
        .unwrap()
        .test_run(&TestRun::new(&p))
        .unwrap();
    assert_eq!(ko.retval, 0x2222);
}

#[test]
fn a_poisoned_access_is_refused_or_fails_the_run_cleanly() {
    let obj = compile("core_shifted");
    let relo = &obj.program("xdp_shifted").unwrap().core_relos;
    // The XDP context BTF has no `ebee_pkt_hdr`: both accesses are
    // poisoned, and `magic`'s (`0:0`) is reached first.
    let magic_pc = relo
        .iter()
        .find(|r| r.access == "0:0")
        .expect("magic relocation")
        .pc;
    // Verified: the verifier reaches the poisoned instruction.
    match LoadedObject::load(&obj, &LoadOptions::new()) {
        Err(e @ ObjectLoadError::Poisoned { pc, .. }) => {
            assert_eq!(pc, magic_pc);
            let msg = e.to_string();
            assert!(
                msg.contains("xdp_shifted")
                    && msg.contains("`0:0`")
                    && msg.contains("ebee_pkt_hdr"),
                "{msg}"
            );
        }
        other => panic!("expected a poisoned-relocation refusal, got {other:?}"),
    }
    // Unverified: it loads; a packet too short for the header takes the
    // exit before the accesses and runs fine, a longer one fails there.
    let u = LoadedObject::load(&obj, &LoadOptions::new().unverified()).unwrap();
    let up = u.program("xdp_shifted").unwrap();
    let mut xdp = Xdp::new().unwrap();
    assert_eq!(
        xdp.run_loaded(up, &shifted_packet()[..15]).unwrap().ret,
        1000
    );
    match xdp.run_loaded(up, &shifted_packet()) {
        Err(XdpError::Exec(e @ ExecError::HelperFailed { .. })) => {
            assert_eq!(e.pc(), magic_pc);
            let msg = e.to_string();
            assert!(
                msg.contains("`0:0`") && msg.contains("struct ebee_pkt_hdr"),
                "{msg}"
            );
            println!("{msg}");
        }
        other => panic!("expected the poisoned access to fail the run, got {other:?}"),
    }
    // The kernel refuses it too (its verifier reaches the poison call).
    if ebee_kernel::probe().is_ok() {
        assert!(ebee_kernel::LoadedObject::load(&obj, &Default::default()).is_err());
    }
}

#[test]
fn a_host_type_declares_its_context_in_btf() {
    use ebee_verifier::{Access, ContextLayout, CtxField, FieldKind};
    let obj = compile("core_custom");
    // The host's context: key, extra, value (no flags), 12 bytes.
    let mut b = BtfBuilder::new();
    let u32_t = b.int("unsigned int", 4, false);
    b.add_struct(
        "ebee_host_ctx",
        &[
            Field::new("key", u32_t),
            Field::new("extra", u32_t),
            Field::new("value", u32_t),
        ],
    );
    let f = |name, offset, write| CtxField {
        name,
        offset,
        size: 4,
        read: Access::Exact,
        write,
        kind: FieldKind::Scalar,
    };
    let host = CustomType::new(
        ContextLayout {
            name: "ebee_host_ctx",
            size: 12,
            fields: vec![
                f("key", 0, Access::Denied),
                f("extra", 4, Access::Denied),
                f("value", 8, Access::Exact),
            ],
        },
        ebee_runtime::HelperRegistry::new(),
    )
    .with_btf(b.build().unwrap());
    let u = LoadedObject::load(&obj, &LoadOptions::new().unverified().custom_type(&host)).unwrap();
    let vm = u.program("host_prog").unwrap().vm();
    let mut ctx = [0u8; 12];
    for (i, v) in [1u32, 2, 5].iter().enumerate() {
        ctx[4 * i..4 * i + 4].copy_from_slice(&v.to_ne_bytes());
    }
    // value (at 8 in the host's layout) * 10, + 7 as flags is missing;
    // the local layout would have read `extra` and `value` as value, flags.
    assert_eq!(host.run(vm, &mut ctx).unwrap(), 57);
    assert_eq!(u32::from_ne_bytes(ctx[8..12].try_into().unwrap()), 57);
    assert_eq!(u32::from_ne_bytes(ctx[4..8].try_into().unwrap()), 2);
}
