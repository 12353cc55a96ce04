//! Userspace socket filters and tc programs against the kernel: field
//! reads, legacy `ldabs`/`ldind`, `bpf_skb_load_bytes`/`store_bytes`,
//! writable fields and `bpf_redirect`, on many packets, compared with
//! `BPF_PROG_TEST_RUN` (return value, output packet, context out).

mod prog_type;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::program_type::skb::{self, SkBuff, Skb, SkbKind, TcAction};
use prog_type::{compile, kernel, packet, Rng};

fn load() -> Option<(ebee_kernel::LoadedObject, LoadedObject)> {
    let obj = compile("prog_type_skb");
    let k = kernel(&obj)?;
    let opts = LoadOptions::new().unverified().helpers(&skb::helpers());
    Some((k, LoadedObject::load(&obj, &opts).expect("ebee load")))
}

fn compare(
    k: &ebee_kernel::LoadedObject,
    u: &LoadedObject,
    name: &str,
    kind: SkbKind,
    ps: &[Vec<u8>],
    ctxs: &[SkBuff],
) {
    let kp = k.program(name).expect(name);
    let up = u.program(name).expect(name);
    let mut s = Skb::new(kind).unwrap();
    let mut refused = Vec::new();
    for (i, p) in ps.iter().enumerate() {
        let ctx = ctxs[i % ctxs.len()];
        let cin = ctx.to_bytes();
        let mut run = TestRun::new(p).ctx(&cin);
        run.data_out_capacity = Some(p.len() + 64);
        run.ctx_out_capacity = Some(192);
        let ko = match kp.test_run(&run) {
            Ok(ko) => ko,
            // The test run refuses some short packets with EINVAL (before
            // running the program); nothing to compare.
            Err(e) if e.to_string().contains("Invalid argument") && p.len() < 60 => {
                refused.push(p.len());
                continue;
            }
            Err(e) => panic!("{name} packet {i}: {e}"),
        };
        s.ctx = SkBuff { ifindex: 1, ..ctx };
        let uo = s
            .run_loaded(up, p)
            .unwrap_or_else(|e| panic!("{name} packet {i}: {e}"));
        assert_eq!(
            uo.ret as u32, ko.retval,
            "{name} packet {i} {p:02x?}: return value"
        );
        let mut out = uo.packet.clone();
        if kind == SkbKind::SocketFilter {
            out[..14].fill(0); // the test run zeroes the MAC header it re-pushes
        }
        assert_eq!(out, ko.data, "{name} packet {i}: output packet");
        let kc = SkBuff::from_bytes(&ko.ctx);
        assert_eq!(
            (uo.ctx.mark, uo.ctx.priority, uo.ctx.cb),
            (kc.mark, kc.priority, kc.cb),
            "{name} packet {i}: context out"
        );
    }
    let compared = ps.len() - refused.len();
    println!("{name}: {compared} packets compared, kernel refused lengths {refused:?}");
    assert!(
        refused.len() * 10 < ps.len(),
        "{name}: too few packets compared"
    );
}

fn contexts() -> Vec<SkBuff> {
    (0..8u32)
        .map(|i| SkBuff {
            mark: i * 0x1111,
            priority: i * 3,
            cb: [i, i + 1, 0, 7, 9 * i],
            ..SkBuff::default()
        })
        .collect()
}

#[test]
fn socket_filters_match_the_kernel() {
    let Some((k, u)) = load() else { return };
    let mut rng = Rng(0xdead_beef);
    let mut ps: Vec<Vec<u8>> = (0..300).map(|_| packet(&mut rng)).collect();
    // pkt_type and protocol variants: broadcast, multicast, ours, 802.3.
    for (dst, proto) in [
        ([0xff; 6], 0x0800u16),
        ([1, 0, 0x5e, 0, 0, 1], 0x0800),
        ([0; 6], 0x86dd),
        ([0; 6], 0x0100),
    ] {
        let mut p = rng.bytes(60);
        p[..6].copy_from_slice(&dst);
        p[12..14].copy_from_slice(&proto.to_be_bytes());
        ps.push(p.clone());
        p[14] = 0xff;
        p[15] = 0xff;
        ps.push(p);
    }
    compare(
        &k,
        &u,
        "sock_fields",
        SkbKind::SocketFilter,
        &ps,
        &contexts(),
    );
    compare(&k, &u, "sock_udp", SkbKind::SocketFilter, &ps, &contexts());
}

#[test]
fn tc_programs_match_the_kernel() {
    let Some((k, u)) = load() else { return };
    let mut rng = Rng(99);
    let ps: Vec<Vec<u8>> = (0..300).map(|_| packet(&mut rng)).collect();
    compare(&k, &u, "tc_rewrite", SkbKind::Tc, &ps, &contexts());
    compare(&k, &u, "tc_bounds", SkbKind::Tc, &ps, &contexts());
}

#[test]
fn tc_actions_have_names() {
    let Some((_, u)) = load() else { return };
    let mut s = Skb::new(SkbKind::Tc).unwrap();
    let mut p = vec![0u8; 60];
    p[20 + 3] = 0; // buf[3] = 1 after *3+1: redirect
    p[20 + 4] = 2; // ifindex 7
    let out = s.run_loaded(u.program("tc_rewrite").unwrap(), &p).unwrap();
    assert_eq!(out.tc_action(), TcAction::Redirect);
    assert_eq!(out.tc_action().name(), "TC_ACT_REDIRECT");
    assert_eq!(out.redirect, Some((7, 1)));
    assert!(s
        .run_loaded(u.program("tc_rewrite").unwrap(), &[0; 10])
        .is_err());
}
