//! The checksum and packet-changing tc helpers (`bpf_l3_csum_replace`,
//! `bpf_l4_csum_replace`, `bpf_skb_change_tail`, `_change_head`,
//! `_adjust_room`, `_change_proto`, `_change_type`, `_pull_data`) against
//! the kernel: clang-built tc programs (tests/c/skb_helpers.c) run on
//! random and crafted packets, with helper arguments drawn from the
//! interesting values of each (flags, sizes, limits), in ebee and with
//! `BPF_PROG_TEST_RUN`. Return values, output packets and the context out
//! (`mark`, `priority`, `cb`, where the programs record `len`,
//! `data_end - data`, `protocol` and `pkt_type` after each call) must be
//! equal.
//!
//! Each program runs twice in ebee: verified (so the tc runner runs it
//! unchecked) and unverified (checked); both must agree with the kernel.

mod prog_type;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::program_type::skb::{SkBuff, Skb, SkbKind};
use prog_type::{compile, kernel, packet, Rng};

struct Loaded {
    kernel: ebee_kernel::LoadedObject,
    verified: LoadedObject,
    checked: LoadedObject,
}

fn load() -> Option<Loaded> {
    let obj = compile("skb_helpers");
    let kernel = kernel(&obj)?;
    let verified = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load (verified)");
    let checked =
        LoadedObject::load(&obj, &LoadOptions::new().unverified()).expect("ebee load (unverified)");
    Some(Loaded {
        kernel,
        verified,
        checked,
    })
}

/// The header checksum of an IPv4 header.
fn ip_checksum(h: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in h.chunks(2) {
        s += u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32;
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An Ethernet + IPv4 packet with a valid header checksum; `proto` 6 or
/// 17 gets a TCP/UDP header (UDP checksum sometimes zero).
fn ipv4(rng: &mut Rng, proto: u8, payload: usize) -> Vec<u8> {
    let mut p = vec![0u8; 12];
    p[6..12].copy_from_slice(&rng.bytes(6));
    p.extend_from_slice(&[0x08, 0x00]);
    let l4 = match proto {
        6 => 20,
        17 => 8,
        _ => 0,
    };
    let tot = (20 + l4 + payload) as u16;
    let mut ip = vec![0x45, 0];
    ip.extend_from_slice(&tot.to_be_bytes());
    ip.extend_from_slice(&rng.bytes(4));
    ip.push(1 + rng.below(255) as u8);
    ip.push(proto);
    ip.extend_from_slice(&[0, 0]);
    ip.extend_from_slice(&rng.bytes(8));
    let c = ip_checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&ip);
    let mut l4h = rng.bytes(l4);
    if proto == 17 && rng.below(3) == 0 {
        l4h[6] = 0;
        l4h[7] = 0;
    }
    p.extend_from_slice(&l4h);
    p.extend(rng.bytes(payload));
    p
}

/// Ethernet + IPv6 (+ payload).
fn ipv6(rng: &mut Rng, payload: usize) -> Vec<u8> {
    let mut p = rng.bytes(12);
    p[0] = 0;
    p.extend_from_slice(&[0x86, 0xdd]);
    let mut h = rng.bytes(40);
    h[0] = 0x60;
    h[4..6].copy_from_slice(&(payload as u16).to_be_bytes());
    p.extend_from_slice(&h);
    p.extend(rng.bytes(payload));
    p
}

/// IPv4-in-IPv4.
fn ipip(rng: &mut Rng, payload: usize) -> Vec<u8> {
    let proto = [6, 17, 1][rng.below(3) as usize];
    let inner = ipv4(rng, proto, payload);
    let mut p = ipv4(rng, 4, 0);
    p.extend_from_slice(&inner[14..]);
    p
}

fn packets(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut ps: Vec<Vec<u8>> = (0..150).map(|_| packet(&mut rng)).collect();
    for i in 0..60 {
        let payload = rng.below(80) as usize;
        ps.push(ipv4(&mut rng, [6, 17, 1][i % 3], payload));
    }
    for _ in 0..30 {
        let payload = rng.below(80) as usize;
        ps.push(ipv6(&mut rng, payload));
        let payload = rng.below(60) as usize;
        ps.push(ipip(&mut rng, payload));
    }
    // VLAN-tagged and short frames; long ones near the test run's limit.
    let mut v = ipv4(&mut rng, 6, 10);
    v[12] = 0x81;
    ps.push(v);
    ps.push(vec![0u8; 14]);
    ps.push(ipv4(&mut rng, 17, 1400));
    ps.push(ipv4(&mut rng, 6, 3600));
    ps.push(ipv6(&mut rng, 3000));
    ps
}

fn pick(rng: &mut Rng, xs: &[u32]) -> u32 {
    xs[rng.below(xs.len() as u64) as usize]
}

/// A random value below `n` (for candidate lists that need one).
fn rand(rng: &mut Rng, n: u64) -> u32 {
    rng.below(n) as u32
}

type Args = fn(&mut Rng, usize) -> SkBuff;

fn csum_args(rng: &mut Rng, len: usize) -> SkBuff {
    let l = len as u32;
    let offset = pick(
        rng,
        &[
            24,
            24,
            50,
            40,
            0,
            1,
            l - 2,
            l - 1,
            l,
            0xfffe,
            0x10000,
            0xffff_fffe,
        ],
    );
    let offset = if rng.below(4) == 0 {
        (rng.below(len as u64) as u32) & !1
    } else {
        offset
    };
    let flags = pick(
        rng,
        &[
            0,
            2,
            4,
            1,
            3,
            5,
            8,
            15,
            0x12,
            0x14,
            0x22,
            0x24,
            0x62,
            0x64,
            0x20,
            0x60,
            0x30,
            0x84,
            0x80,
            0x94,
            0x100,
            0x8000_0004,
            0x10,
        ],
    );
    let from = if flags & 15 == 0 && rng.below(4) != 0 {
        0
    } else {
        rng.next() as u32
    };
    let wide = rng.below(4) == 0;
    SkBuff {
        mark: flags,
        priority: rng.below(2) as u32,
        cb: [
            offset,
            from,
            rng.next() as u32,
            if wide { rng.next() as u32 } else { 0 },
            0,
        ],
        ..SkBuff::default()
    }
}

fn tail_args(rng: &mut Rng, len: usize) -> SkBuff {
    let l = len as u32;
    let r = rand(rng, 400);
    let new_len = pick(
        rng,
        &[
            0,
            13,
            14,
            15,
            l - 1,
            l,
            l + 1,
            l + 100,
            60,
            16064,
            16065,
            0xffff_ffff,
            r,
        ],
    );
    SkBuff {
        cb: [new_len, (rng.below(6) == 0) as u32, 0, 0, 0],
        ..SkBuff::default()
    }
}

fn head_args(rng: &mut Rng, len: usize) -> SkBuff {
    let l = len as u32;
    let room = pick(
        rng,
        &[
            0,
            1,
            4,
            14,
            20,
            100,
            300,
            1000,
            16064 - l,
            16065 - l,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
        ],
    );
    SkBuff {
        cb: [room, (rng.below(6) == 0) as u32, 0, 0, 0],
        ..SkBuff::default()
    }
}

fn room_args(rng: &mut Rng, _len: usize) -> SkBuff {
    let (up, down) = (rand(rng, 64), rand(rng, 64));
    let diff = pick(
        rng,
        &[
            0,
            4,
            8,
            20,
            40,
            -4i32 as u32,
            -8i32 as u32,
            -20i32 as u32,
            -40i32 as u32,
            0xfff,
            0x1000,
            -0xfffi32 as u32,
            -0x1000i32 as u32,
            i32::MIN as u32,
            up,
            -(down as i32) as u32,
        ],
    );
    let flags = pick(
        rng,
        &[
            0,
            0,
            0,
            1,
            2,
            4,
            6,
            2 | 8,
            2 | 16,
            2 | 8 | 16,
            4 | 16,
            0x40 | 2,
            0x40 | 16 | 4,
            8,
            16,
            0x20,
            0x80,
            0x100,
            0x180,
            0x81,
            0x200,
            0x2 | 0x80,
            0x22,
        ],
    );
    let mark = pick(
        rng,
        &[0, 0, 0, 14 << 24, 20 << 24, 4 << 24, 8 << 24, 1, 0x100],
    );
    SkBuff {
        mark,
        priority: rng.below(4) as u32,
        cb: [diff, pick(rng, &[0, 1, 1, 0, 2, 7]), flags, 0, 0],
        ..SkBuff::default()
    }
}

fn proto_args(rng: &mut Rng, _len: usize) -> SkBuff {
    SkBuff {
        cb: [
            pick(rng, &[0xdd86, 0xdd86, 0x0008, 0x0008, 0, 0x0081, 0x86dd]),
            (rng.below(8) == 0) as u32,
            0,
            0,
            0,
        ],
        ..SkBuff::default()
    }
}

fn type_pull_args(rng: &mut Rng, len: usize) -> SkBuff {
    let l = len as u32;
    SkBuff {
        cb: [
            pick(rng, &[0, 1, 2, 3, 4, 7, 0xffff_ffff]),
            pick(
                rng,
                &[
                    0,
                    1,
                    14,
                    l - 1,
                    l,
                    l + 1,
                    0x7fff_ffff,
                    0x8000_0000,
                    0xffff_ffff,
                ],
            ),
            0,
            0,
            0,
        ],
        ..SkBuff::default()
    }
}

fn plain(rng: &mut Rng, _len: usize) -> SkBuff {
    SkBuff {
        mark: rng.next() as u32 & 0xffff,
        priority: rng.next() as u32,
        cb: [rng.below(2) as u32 * 0x20, 0, 0, 0, 0],
        ..SkBuff::default()
    }
}

/// Runs `name` on every packet (with a context from `args`) in the
/// kernel and in both ebee loads; returns how many packets were compared
/// and how many runs returned 0.
fn compare(l: &Loaded, name: &str, ps: &[Vec<u8>], args: Args, seed: u64) -> (usize, usize) {
    let kp = l.kernel.program(name).expect(name);
    let vp = l.verified.program(name).expect(name);
    let cp = l.checked.program(name).expect(name);
    assert!(
        vp.packet_unchecked(),
        "{name}: verified tc program runs unchecked"
    );
    assert!(
        !cp.packet_unchecked(),
        "{name}: unverified program runs checked"
    );
    let mut s = Skb::new(SkbKind::Tc).unwrap();
    let mut rng = Rng(seed);
    let (mut compared, mut zero) = (0, 0);
    for (i, p) in ps.iter().enumerate() {
        let ctx = args(&mut rng, p.len());
        let cin = ctx.to_bytes();
        let mut run = TestRun::new(p).ctx(&cin);
        run.data_out_capacity = Some(20_000);
        run.ctx_out_capacity = Some(192);
        let ko = match kp.test_run(&run) {
            Ok(ko) => ko,
            Err(e) if e.to_string().contains("Invalid argument") && p.len() < 60 => continue,
            Err(e) => panic!("{name} packet {i}: {e}"),
        };
        let kc = SkBuff::from_bytes(&ko.ctx);
        for (mode, up) in [("unchecked", vp), ("checked", cp)] {
            s.ctx = SkBuff { ifindex: 1, ..ctx };
            let uo = s
                .run_loaded(up, p)
                .unwrap_or_else(|e| panic!("{name} ({mode}) packet {i}: {e}"));
            let what = format!("{name} ({mode}) packet {i} ctx {:x?} {p:02x?}", ctx.cb);
            assert_eq!(uo.ret as u32, ko.retval, "{what}: return value");
            assert_eq!(uo.packet, ko.data, "{what}: output packet");
            assert_eq!(
                (uo.ctx.mark, uo.ctx.priority, uo.ctx.cb),
                (kc.mark, kc.priority, kc.cb),
                "{what}: context out"
            );
        }
        compared += 1;
        zero += (ko.retval == 0) as usize;
    }
    println!("{name}: {compared} packets compared, {zero} returned 0");
    assert!(
        compared * 10 > ps.len() * 9,
        "{name}: too few packets compared"
    );
    (compared, zero)
}

#[test]
fn checksum_helpers_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps = packets(1);
    for name in ["ttl_dec", "nat", "nat_diff"] {
        compare(&l, name, &ps, plain, 2);
    }
    let (n, ok) = compare(&l, "csum_args", &ps, csum_args, 3);
    assert!(ok > n / 10 && ok < n, "csum_args: successes and errors");
}

#[test]
fn tail_and_head_changes_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps = packets(4);
    let (n, ok) = compare(&l, "tail_args", &ps, tail_args, 5);
    assert!(ok > n / 10 && ok < n, "tail_args: successes and errors");
    let (n, ok) = compare(&l, "head_args", &ps, head_args, 6);
    assert!(ok > n / 10 && ok < n, "head_args: successes and errors");
}

#[test]
fn adjust_room_matches_the_kernel() {
    let Some(l) = load() else { return };
    let ps = packets(7);
    let (n, ok) = compare(&l, "room_args", &ps, room_args, 8);
    assert!(ok > n / 20 && ok < n, "room_args: successes and errors");
    compare(&l, "ldabs_after_room", &ps, room_args, 14);
    compare(&l, "ipip_encap", &ps, plain, 9);
    compare(&l, "ipip_decap", &ps, plain, 10);
}

#[test]
fn change_proto_type_and_pull_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps = packets(11);
    let (n, ok) = compare(&l, "proto_args", &ps, proto_args, 12);
    assert!(ok > n / 20 && ok < n, "proto_args: successes and errors");
    compare(&l, "type_pull_args", &ps, type_pull_args, 13);
}

/// `packets(seed)` with one or two VLAN tags (802.1Q or 802.1ad) inserted
/// into some, and frames too short to pop a tag from.
fn vlan_packets(seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    let mut ps = packets(seed);
    for p in ps.iter_mut() {
        for _ in 0..rng.below(3) {
            let proto: [u8; 2] = if rng.below(2) == 0 {
                [0x81, 0x00]
            } else {
                [0x88, 0xa8]
            };
            let tci = rng.bytes(2);
            let tag = [proto[0], proto[1], tci[0], tci[1]];
            p.splice(12..12, tag);
        }
    }
    ps.push(vec![0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0x81, 0x00, 0x00]);
    ps.push(vec![0xff; 17].into_iter().chain([0x81, 0]).collect());
    ps
}

/// VLAN protocols (as the program passes them, network order in the low
/// 16 bits) and TCIs for `vlan_args`.
fn vlan_args(rng: &mut Rng, _len: usize) -> SkBuff {
    let ops = (0..4).fold(0, |acc, i| acc | pick(rng, &[1, 1, 2, 2, 0]) << (8 * i));
    let proto = |rng: &mut Rng| {
        let any = rand(rng, 0x10000);
        pick(rng, &[0x0081, 0xa888, 0x0008, any])
    };
    let (p0, p1) = (proto(rng), proto(rng));
    SkBuff {
        cb: [ops, p0 | p1 << 16, rng.next() as u32, 0, 0],
        ..SkBuff::default()
    }
}

/// Flags, sizes and key contents for `tunnel_args`.
fn tunnel_args(rng: &mut Rng, _len: usize) -> SkBuff {
    let set_flags = {
        let any = rand(rng, 0x100);
        pick(rng, &[0, 1, 2, 4, 8, 16, 0x1f, any])
    };
    let get_flags = {
        let any = rand(rng, 0x100);
        pick(rng, &[0, 1, 16, 17, 2, any])
    };
    let set_size = pick(rng, &[44, 44, 8, 22, 24, 28, 40, 1]);
    let get_size = pick(rng, &[44, 44, 8, 22, 24, 28, 40, 2]);
    let skip_set = u32::from(rng.below(8) == 0) << 31;
    let clear = pick(rng, &[0x40 | 0x80, 0x40 | 0x80, 0x40, 0x80, 0]);
    SkBuff {
        mark: rng.next() as u32,
        priority: rng.next() as u32,
        cb: [
            set_flags | get_flags << 8 | set_size << 16 | skip_set,
            rng.next() as u32,
            rng.next() as u32,
            rng.next() as u32,
            get_size | clear,
        ],
        ..SkBuff::default()
    }
}

/// Flags for `redirects`.
fn redirect_args(rng: &mut Rng, _len: usize) -> SkBuff {
    let flags = |rng: &mut Rng| {
        let any = rand(rng, 1 << 16);
        pick(rng, &[0, 1, 2, 3, any])
    };
    SkBuff {
        cb: [flags(rng), flags(rng), rand(rng, 2), 0, 0],
        ..SkBuff::default()
    }
}

#[test]
fn vlan_push_and_pop_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps = vlan_packets(15);
    let (n, ok) = compare(&l, "vlan_args", &ps, vlan_args, 16);
    assert!(ok > 0 && ok < n, "vlan_args: successes and errors");
}

#[test]
fn tunnel_keys_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps: Vec<Vec<u8>> = packets(17).into_iter().filter(|p| p.len() >= 62).collect();
    let (n, ok) = compare(&l, "tunnel_args", &ps, tunnel_args, 18);
    assert!(ok > n / 20 && ok < n, "tunnel_args: successes and errors");
}

#[test]
fn hash_invalid_and_redirects_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps = packets(19);
    compare(&l, "hash_invalid", &ps, plain, 20);
    let (n, ok) = compare(&l, "redirects", &ps, redirect_args, 21);
    assert!(ok > 0 && ok < n, "redirects: successes and errors");
}

/// Sizes and skips for `tunnel_opt_args`.
fn tunnel_opt_args(rng: &mut Rng, _len: usize) -> SkBuff {
    let skip = pick(rng, &[0, 0, 0, 1 << 31, 1 << 30]);
    let osize = pick(rng, &[4, 8, 12, 16, 32, 64, 3, 6]);
    let gsize = pick(rng, &[64, 64, 16, 8, 4, 7, 1]);
    SkBuff {
        cb: [osize | skip, gsize, rng.next() as u32, rng.next() as u32, 0],
        ..SkBuff::default()
    }
}

#[test]
fn tunnel_options_match_the_kernel() {
    let Some(l) = load() else { return };
    let ps: Vec<Vec<u8>> = (22..25)
        .flat_map(packets)
        .filter(|p| p.len() >= 122)
        .collect();
    let (n, _) = compare(&l, "tunnel_opt_args", &ps, tunnel_opt_args, 23);
    assert!(n >= 150, "tunnel_opt_args: {n} packets");
}
