//! `bpf_redirect_map` in userspace XDP against the kernel: a devmap and a
//! cpumap filled alike in both, the key and flags taken from the packet,
//! every combination of present/absent key and flag bits (actions in the
//! low bits, `BPF_F_BROADCAST`, `BPF_F_EXCLUDE_INGRESS`, unknown bits)
//! run with `BPF_PROG_TEST_RUN` and in ebee; return values must match.
//! The object loads with no host helpers: the loader gives XDP programs
//! their type's helpers.

mod prog_type;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::map::{DevTarget, RedirectTarget};
use ebee_runtime::program_type::xdp::{Xdp, XdpAction, BPF_F_BROADCAST};
use prog_type::{compile, kernel};

const FLAGS: [u64; 14] = [
    0,
    1,
    2,
    3,
    4,
    1 << 3,
    (1 << 3) | 2,
    1 << 4,
    (1 << 3) | (1 << 4),
    (1 << 3) | (1 << 4) | 1,
    1 << 5,
    (1 << 5) | 2,
    1 << 32,
    u64::MAX,
];
const KEYS: [u32; 6] = [0, 1, 3, 7, 8, u32::MAX];

fn packet(key: u32, flags: u64) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p.extend_from_slice(&key.to_ne_bytes());
    p.extend_from_slice(&flags.to_ne_bytes());
    p.resize(64, 0);
    p
}

#[test]
fn redirect_map_return_values_match_the_kernel() {
    let obj = compile("redirect_map");
    let Some(k) = kernel(&obj) else { return };
    let u = LoadedObject::load(&obj, &LoadOptions::new().unverified()).expect("ebee load");
    // devmap: slots 0 and 3 send to lo (ifindex 1); cpumap: CPU 0.
    for key in [0u32, 3] {
        let (kk, v) = (key.to_ne_bytes(), 1u32.to_ne_bytes());
        k.map("devs").unwrap().update(&kk, &v, 0).unwrap();
        u.map("devs").unwrap().update(&kk, &v, 0).unwrap();
    }
    let mut cpu_val = [0u8; 8];
    cpu_val[..4].copy_from_slice(&192u32.to_ne_bytes());
    k.map("cpus")
        .unwrap()
        .update(&0u32.to_ne_bytes(), &cpu_val, 0)
        .unwrap();
    u.map("cpus")
        .unwrap()
        .update(&0u32.to_ne_bytes(), &cpu_val, 0)
        .unwrap();

    let mut xdp = Xdp::new().unwrap();
    let mut redirects = 0;
    for name in ["redirect_dev", "redirect_cpu", "redirect_then_miss"] {
        let (kp, up) = (k.program(name).unwrap(), u.program(name).unwrap());
        for key in KEYS {
            for flags in FLAGS {
                let p = packet(key, flags);
                let ko = kp.test_run(&TestRun::new(&p)).expect("test_run");
                let uo = xdp.run_loaded(up, &p).unwrap();
                assert_eq!(
                    uo.ret as u32, ko.retval,
                    "{name} key {key} flags {flags:#x}: return value"
                );
                if uo.action == XdpAction::Redirect {
                    redirects += 1;
                    let r = uo.redirect.expect("a redirect is recorded");
                    assert_eq!((r.ifindex, r.flags), (key, flags));
                } else if name == "redirect_then_miss" && flags & !0x1b != 0 {
                    // Unknown flags abort before the map is looked at, so
                    // the earlier bpf_redirect stays (as in the kernel).
                    assert_eq!(uo.redirect.map(|r| (r.ifindex, r.target)), Some((1, None)));
                } else {
                    // A miss forgets the earlier bpf_redirect.
                    assert_eq!(uo.redirect, None, "{name} key {key} flags {flags:#x}");
                }
            }
        }
    }
    assert!(redirects > 0);

    // What the host sees for a present key.
    let dev = u.program("redirect_dev").unwrap();
    let out = xdp.run_loaded(dev, &packet(3, 0)).unwrap();
    assert_eq!(
        out.redirect.and_then(|r| r.target),
        Some(RedirectTarget::Device(DevTarget {
            ifindex: 1,
            prog_fd: 0
        }))
    );
    let out = xdp.run_loaded(dev, &packet(5, BPF_F_BROADCAST)).unwrap();
    assert_eq!(out.action, XdpAction::Redirect);
    assert_eq!(out.redirect.and_then(|r| r.target), None);
    let cpu = u.program("redirect_cpu").unwrap();
    let out = xdp.run_loaded(cpu, &packet(0, 0)).unwrap();
    assert_eq!(
        out.redirect.and_then(|r| r.target),
        Some(RedirectTarget::Cpu { cpu: 0, qsize: 192 })
    );
}
