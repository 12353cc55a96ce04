//! `bpf_fib_lookup` against the kernel's FIB: a thread moves to a new
//! network namespace and builds a small network with `ip` (a veth pair,
//! connected, gateway, blackhole, unreachable, prohibit, route MTU (locked
//! and unlocked) and
//! equal-prefix routes, permanent neighbours, IPv4 and IPv6), runs
//! `tests/c/fib_lookup.c` there with `BPF_PROG_TEST_RUN` (XDP, and tc on a
//! short and a long packet), and ebee runs
//! the same object with the same table as a [`Fib`]. Every return code
//! and every byte of the `struct bpf_fib_lookup` the helper leaves must
//! be equal.

mod prog_type;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;

use ebee_kernel::TestRun;
use ebee_runtime::helpers::fib::{flags, Fib, FibInterface, Neighbour, Route, RouteKind};
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::map::BPF_ANY;
use ebee_runtime::program_type::skb::{Skb, SkbKind};
use ebee_runtime::program_type::xdp::Xdp;
use prog_type::{compile, kernel};

const VETH0: u32 = 10;
const VETH1: u32 = 11;
const MAC0: [u8; 6] = [2, 0, 0, 0, 0, 1];
const MAC1: [u8; 6] = [2, 0, 0, 0, 0, 0x11];
const GW_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
const HOST9_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];

fn sh(cmd: &str) -> Result<(), String> {
    let o = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(())
    } else {
        Err(format!("{cmd}: {}", String::from_utf8_lossy(&o.stderr)))
    }
}

/// The network both sides see.
const SETUP: &[&str] = &[
    "ip link set lo up",
    "ip link add veth0 index 10 address 02:00:00:00:00:01 type veth peer name veth1 index 11 address 02:00:00:00:00:11",
    "ip link set veth0 up",
    "ip link set veth1 up",
    "ip addr add 10.1.0.1/24 dev veth0",
    "ip -6 addr add 2001:db8:1::1/64 dev veth0 nodad",
    "ip route add 10.2.0.0/16 via 10.1.0.2",
    "ip route add 10.2.5.0/24 via 10.1.0.3",
    "ip route add blackhole 10.3.0.0/16",
    "ip route add unreachable 10.4.0.0/16",
    "ip route add prohibit 10.5.0.0/16",
    "ip route add 10.6.0.0/16 via 10.1.0.2 mtu 1000",
    "ip route add 10.8.0.0/16 via 10.1.0.2 mtu lock 1000",
    "ip -6 route add 2001:db8:3::/48 via 2001:db8:1::2 mtu 1300",
    "ip -6 route add 2001:db8:4::/48 via 2001:db8:1::2 mtu lock 1300",
    "ip route add 10.7.0.0/16 dev veth0 metric 5",
    "ip route add 10.7.0.0/16 via 10.1.0.2 metric 3",
    "ip -6 route add 2001:db8:2::/48 via 2001:db8:1::2",
    "ip neigh add 10.1.0.2 lladdr 02:00:00:00:00:02 dev veth0 nud permanent",
    "ip neigh add 10.1.0.9 lladdr 02:00:00:00:00:09 dev veth0 nud permanent",
    "ip -6 neigh add 2001:db8:1::2 lladdr 02:00:00:00:00:02 dev veth0 nud permanent",
    "echo 1 > /proc/sys/net/ipv4/conf/veth0/forwarding",
    "echo 1 > /proc/sys/net/ipv6/conf/veth0/forwarding",
];

fn v4(a: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
}

fn route(dst: IpAddr, prefix: u8, kind: RouteKind) -> Route {
    Route {
        dst,
        prefix,
        kind,
        ifindex: VETH0,
        gateway: None,
        metric: 0,
        mtu: None,
        mtu_locked: false,
    }
}

/// The same network as [`SETUP`], as ebee's forwarding table: the
/// routes `ip` adds itself (connected, local and broadcast) included;
/// IPv6 routes carry the kernel's default metric 1024.
fn fib() -> Fib {
    let gw = Some(v4([10, 1, 0, 2]));
    let mut r = vec![
        route(v4([10, 1, 0, 0]), 24, RouteKind::Unicast),
        route(v4([10, 1, 0, 1]), 32, RouteKind::Local),
        route(v4([10, 1, 0, 255]), 32, RouteKind::Broadcast),
        Route {
            gateway: gw,
            ..route(v4([10, 2, 0, 0]), 16, RouteKind::Unicast)
        },
        Route {
            gateway: Some(v4([10, 1, 0, 3])),
            ..route(v4([10, 2, 5, 0]), 24, RouteKind::Unicast)
        },
        route(v4([10, 3, 0, 0]), 16, RouteKind::Blackhole),
        route(v4([10, 4, 0, 0]), 16, RouteKind::Unreachable),
        route(v4([10, 5, 0, 0]), 16, RouteKind::Prohibit),
        Route {
            gateway: gw,
            mtu: Some(1000),
            ..route(v4([10, 6, 0, 0]), 16, RouteKind::Unicast)
        },
        Route {
            gateway: gw,
            mtu: Some(1000),
            mtu_locked: true,
            ..route(v4([10, 8, 0, 0]), 16, RouteKind::Unicast)
        },
        Route {
            gateway: Some(v6("2001:db8:1::2")),
            metric: 1024,
            mtu: Some(1300),
            ..route(v6("2001:db8:3::"), 48, RouteKind::Unicast)
        },
        Route {
            gateway: Some(v6("2001:db8:1::2")),
            metric: 1024,
            mtu: Some(1300),
            mtu_locked: true,
            ..route(v6("2001:db8:4::"), 48, RouteKind::Unicast)
        },
        Route {
            metric: 5,
            ..route(v4([10, 7, 0, 0]), 16, RouteKind::Unicast)
        },
        Route {
            gateway: gw,
            metric: 3,
            ..route(v4([10, 7, 0, 0]), 16, RouteKind::Unicast)
        },
        Route {
            metric: 256,
            ..route(v6("2001:db8:1::"), 64, RouteKind::Unicast)
        },
        route(v6("2001:db8:1::1"), 128, RouteKind::Local),
        Route {
            gateway: Some(v6("2001:db8:1::2")),
            metric: 1024,
            ..route(v6("2001:db8:2::"), 48, RouteKind::Unicast)
        },
    ];
    r.sort_by_key(|r| r.metric);
    let iface = |ifindex, mac, fwd, addrs| FibInterface {
        ifindex,
        mac,
        mtu: if ifindex == 1 { 65536 } else { 1500 },
        forwarding_v4: fwd,
        forwarding_v6: fwd,
        addrs,
    };
    Fib {
        interfaces: vec![
            iface(1, [0; 6], false, vec![v4([127, 0, 0, 1])]),
            iface(
                VETH0,
                MAC0,
                true,
                vec![v4([10, 1, 0, 1]), v6("2001:db8:1::1")],
            ),
            iface(VETH1, MAC1, false, vec![]),
        ],
        routes: r,
        neighbours: vec![
            Neighbour {
                ifindex: VETH0,
                ip: v4([10, 1, 0, 2]),
                mac: GW_MAC,
            },
            Neighbour {
                ifindex: VETH0,
                ip: v4([10, 1, 0, 9]),
                mac: HOST9_MAC,
            },
            Neighbour {
                ifindex: VETH0,
                ip: v6("2001:db8:1::2"),
                mac: GW_MAC,
            },
        ],
    }
}

/// One lookup: family, ifindex, destination, tot_len, flags.
fn probe(family: u8, ifindex: u32, dst: IpAddr, tot_len: u16, fl: u32) -> Vec<u8> {
    let mut p = vec![0u8; 72];
    p[0] = family;
    p[6..8].copy_from_slice(&tot_len.to_ne_bytes());
    p[8..12].copy_from_slice(&ifindex.to_ne_bytes());
    match dst {
        IpAddr::V4(a) => p[32..36].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => p[32..48].copy_from_slice(&a.octets()),
    }
    p[64..68].copy_from_slice(&fl.to_ne_bytes());
    p[68..72].copy_from_slice(&1u32.to_ne_bytes());
    p
}

fn probes() -> Vec<Vec<u8>> {
    let (a4, a6) = (2u8, 10u8);
    let d = |a: [u8; 4]| v4(a);
    vec![
        probe(a4, VETH0, d([10, 2, 0, 1]), 100, 0),
        probe(a4, VETH0, d([10, 2, 5, 1]), 100, 0),
        probe(a4, VETH0, d([10, 2, 5, 1]), 100, flags::SKIP_NEIGH),
        probe(a4, VETH0, d([10, 1, 0, 9]), 0, 0),
        probe(a4, VETH0, d([10, 1, 0, 8]), 0, 0),
        probe(a4, VETH0, d([10, 1, 0, 1]), 0, 0),
        probe(a4, VETH0, d([10, 1, 0, 255]), 0, 0),
        probe(a4, VETH0, d([10, 3, 1, 1]), 0, 0),
        probe(a4, VETH0, d([10, 4, 1, 1]), 0, 0),
        probe(a4, VETH0, d([10, 5, 1, 1]), 0, 0),
        probe(a4, VETH0, d([10, 6, 1, 1]), 1200, 0),
        probe(a4, VETH0, d([10, 6, 1, 1]), 900, 0),
        probe(a4, VETH0, d([10, 8, 1, 1]), 1200, 0),
        probe(a4, VETH0, d([10, 8, 1, 1]), 900, 0),
        probe(a4, VETH0, d([10, 2, 0, 1]), 1600, 0),
        probe(a4, VETH0, d([10, 7, 1, 1]), 0, 0),
        probe(a4, VETH0, d([9, 9, 9, 9]), 0, 0),
        probe(a4, VETH0, d([10, 2, 0, 1]), 0, flags::SRC),
        probe(a4, VETH0, d([10, 2, 0, 1]), 0, flags::OUTPUT),
        probe(a4, 1, d([10, 2, 0, 1]), 0, 0),
        probe(a4, VETH1, d([10, 2, 0, 1]), 0, 0),
        probe(a4, 99, d([10, 2, 0, 1]), 0, 0),
        probe(7, VETH0, d([10, 2, 0, 1]), 0, 0),
        probe(a4, VETH0, d([10, 2, 0, 1]), 0, 0x40),
        probe(a6, VETH0, v6("2001:db8:2::5"), 100, 0),
        probe(a6, VETH0, v6("2001:db8:1::7"), 100, 0),
        probe(a6, VETH0, v6("2001:db8:1::1"), 100, 0),
        probe(a6, VETH0, v6("2001:db8:9::1"), 100, 0),
        probe(a6, VETH0, v6("2001:db8:2::5"), 1600, 0),
        probe(a6, VETH0, v6("2001:db8:3::5"), 1400, 0),
        probe(a6, VETH0, v6("2001:db8:4::5"), 1400, 0),
        probe(a6, VETH0, v6("2001:db8:4::5"), 1200, 0),
    ]
}

type Results = Vec<Vec<u8>>;

/// The packets the tc program runs on: short, and longer than veth0's
/// MTU plus the Ethernet and VLAN headers (the check tc lookups without
/// `tot_len` make).
const TC_PACKETS: [usize; 2] = [64, 1600];

fn read_results(m: &ebee_kernel::KernelMap, n: usize) -> Results {
    (0..n as u32)
        .map(|i| m.lookup(&i.to_ne_bytes()).unwrap().unwrap())
        .collect()
}

/// In a new network namespace (this thread only): the network, then the
/// kernel's answers.
fn kernel_answers(
    k: &ebee_kernel::LoadedObject,
    probes: &[Vec<u8>],
) -> Result<Vec<Results>, String> {
    // SAFETY: unshare(2) with a flag constant; it changes only this
    // thread's namespaces.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    for c in SETUP {
        sh(c)?;
    }
    let prog = k.program("fib_probes").unwrap();
    let out = prog
        .test_run(&TestRun::new(&[0u8; 64]))
        .map_err(|e| e.to_string())?;
    assert_eq!(out.retval, 2, "XDP_PASS");
    let mut all = vec![read_results(k.map("results").unwrap(), probes.len())];
    let tc = k.program("fib_probes_tc").unwrap();
    for n in TC_PACKETS {
        let mut packet = vec![0u8; n];
        packet[12..14].copy_from_slice(&[0x08, 0x00]);
        let out = tc
            .test_run(&TestRun::new(&packet))
            .map_err(|e| e.to_string())?;
        assert_eq!(out.retval, 0, "tc probes ran");
        all.push(read_results(k.map("tc_results").unwrap(), probes.len()));
    }
    Ok(all)
}

fn results_of(m: &ebee_runtime::map::Map, n: usize) -> Results {
    (0..n as u32)
        .map(|i| m.lookup(&i.to_ne_bytes()).unwrap().unwrap())
        .collect()
}

#[test]
fn fib_lookup_matches_the_kernel() {
    let obj = compile("fib_lookup");
    let Some(k) = kernel(&obj) else { return };
    let probes = probes();
    assert!(probes.len() <= 32, "the program runs 32 probes");
    for (i, p) in probes.iter().enumerate() {
        k.map("probes")
            .unwrap()
            .update(&(i as u32).to_ne_bytes(), p, BPF_ANY)
            .unwrap();
    }
    let kr = std::thread::scope(|s| s.spawn(|| kernel_answers(&k, &probes)).join().unwrap());
    let kr = match kr {
        Ok(r) => r,
        Err(e) => {
            println!("skipped: building the test network: {e}");
            return;
        }
    };

    let user = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load");
    assert!(user.programs()[0].verified());
    for (i, p) in probes.iter().enumerate() {
        user.map("probes")
            .unwrap()
            .update(&(i as u32).to_ne_bytes(), p, BPF_ANY)
            .unwrap();
    }
    user.env().set_fib(fib());
    let out = Xdp::new()
        .unwrap()
        .run_loaded(user.program("fib_probes").unwrap(), &[0u8; 64])
        .unwrap();
    assert_eq!(out.ret, 2);
    let mut ur = vec![results_of(user.map("results").unwrap(), probes.len())];
    let mut tc = Skb::new(SkbKind::Tc).unwrap();
    for n in TC_PACKETS {
        let mut packet = vec![0u8; n];
        packet[12..14].copy_from_slice(&[0x08, 0x00]);
        let out = tc
            .run_loaded(user.program("fib_probes_tc").unwrap(), &packet)
            .unwrap();
        assert_eq!(out.ret, 0);
        ur.push(results_of(user.map("tc_results").unwrap(), probes.len()));
    }
    // The long packet is too long for veth0 where tot_len is not given.
    let frag = |r: &Results| r.iter().filter(|x| x[..8] == 8i64.to_ne_bytes()).count();
    assert!(
        frag(&kr[2]) > frag(&kr[1]),
        "the 1600-byte packet needs fragmenting"
    );
    let mut mismatches = vec![];
    let mut codes = std::collections::BTreeSet::new();
    let runs = ["xdp", "tc 64 bytes", "tc 1600 bytes"];
    for (run, (kr, ur)) in runs.iter().zip(kr.iter().zip(&ur)) {
        for (i, (k, u)) in kr.iter().zip(ur).enumerate() {
            codes.insert(i64::from_ne_bytes(k[..8].try_into().unwrap()));
            if u != k {
                mismatches.push(format!(
                "{run} probe {i}: kernel ret {} params {:02x?}\n          ebee ret {} params {:02x?}",
                i64::from_ne_bytes(k[..8].try_into().unwrap()),
                &k[8..],
                i64::from_ne_bytes(u[..8].try_into().unwrap()),
                &u[8..]
            ));
            }
        }
    }
    println!(
        "{} fib lookups in XDP and tc (return codes {codes:?}), {} differ from the kernel",
        probes.len() * runs.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
