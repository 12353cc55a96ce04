//! Userspace XDP against the kernel: C programs (parser, MAC swap + TTL
//! with checksum, IP-in-IP encapsulation with `bpf_xdp_adjust_head` and
//! `bpf_csum_diff`, trimming and growing with `bpf_xdp_adjust_tail`,
//! metadata with `bpf_xdp_adjust_meta`, the helpers' limits, `bpf_redirect`)
//! run on many packets in ebee and with `BPF_PROG_TEST_RUN`; verdicts and
//! output packets must match byte for byte.

mod prog_type;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::program_type::xdp::{self, Xdp, XdpAction};
use prog_type::{compile, kernel, packet, Rng};

fn load() -> Option<(ebee_kernel::LoadedObject, LoadedObject)> {
    let obj = compile("prog_type_xdp");
    let k = kernel(&obj)?;
    // Checked runs (unverified): ebee's verifier refuses the 32-bit pointer
    // subtraction clang emits for `data - data_meta` in xdp_limits, which
    // Linux accepts; checked mode also proves every access in bounds.
    let opts = LoadOptions::new().unverified().helpers(&xdp::helpers());
    let u = LoadedObject::load(&obj, &opts).expect("ebee load");
    Some((k, u))
}

fn compare(k: &ebee_kernel::LoadedObject, u: &LoadedObject, name: &str, packets: &[Vec<u8>]) {
    let kp = k.program(name).expect(name);
    let up = u.program(name).expect(name);
    let mut xdp = Xdp::new().unwrap();
    for (i, p) in packets.iter().enumerate() {
        let mut run = TestRun::new(p);
        run.data_out_capacity = Some(4096);
        let ko = kp.test_run(&run).expect("test_run");
        let uo = xdp
            .run_loaded(up, p)
            .unwrap_or_else(|e| panic!("{name} packet {i}: {e}"));
        assert_eq!(
            uo.ret as u32, ko.retval,
            "{name} packet {i} {p:02x?}: verdict"
        );
        assert_eq!(
            uo.data_out(),
            ko.data,
            "{name} packet {i} {p:02x?}: output packet"
        );
    }
}

fn packets(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..n).map(|_| packet(&mut rng)).collect()
}

#[test]
fn parser_swap_encap_trim_meta_match_the_kernel() {
    let Some((k, u)) = load() else { return };
    let ps = packets(0x9e3779b97f4a7c15, 400);
    for name in [
        "xdp_parse",
        "xdp_swap",
        "xdp_encap",
        "xdp_trim",
        "xdp_meta",
        "xdp_redirect",
    ] {
        compare(&k, &u, name, &ps);
    }
    // Long packets: trimming and encapsulation near the frame's limits.
    let mut rng = Rng(7);
    let long: Vec<Vec<u8>> = [100, 101, 1500, 3000, 3503, 3504, 3505, 3519, 3520]
        .iter()
        .map(|&n| rng.bytes(n))
        .collect();
    for name in ["xdp_trim", "xdp_encap", "xdp_swap", "xdp_meta"] {
        compare(&k, &u, name, &long);
    }
    // Time per packet (frame reset, copy in, checked run, copy out).
    let mut xdp = Xdp::new().unwrap();
    let prog = u.program("xdp_parse").unwrap();
    let t = std::time::Instant::now();
    for p in ps.iter().cycle().take(20_000) {
        xdp.run_loaded(prog, p).unwrap();
    }
    println!(
        "xdp_parse: {} ns per packet",
        t.elapsed().as_nanos() / 20_000
    );
}

#[test]
fn adjust_head_meta_tail_limits_match_the_kernel() {
    let Some((k, u)) = load() else { return };
    let mut rng = Rng(42);
    let mut ps = Vec::new();
    let deltas: [i16; 18] = [
        0, 1, -1, 4, -4, -8, -32, -36, -40, -200, -216, -217, -220, -256, 14, 100, 3500, -3600,
    ];
    for len in [20usize, 34, 60, 200, 3000, 3520] {
        for _ in 0..12 {
            let mut p = rng.bytes(len);
            for j in 0..3 {
                let d = deltas[rng.below(deltas.len() as u64) as usize];
                let d = if rng.below(4) == 0 {
                    (rng.next() as i16) % 300
                } else {
                    d
                };
                p[14 + 2 * j..16 + 2 * j].copy_from_slice(&d.to_ne_bytes());
            }
            ps.push(p);
        }
    }
    compare(&k, &u, "xdp_limits", &ps);
}

#[test]
fn csum_diff_matches_the_kernel() {
    let Some((k, u)) = load() else { return };
    let mut rng = Rng(1234);
    let ps: Vec<Vec<u8>> = (0..300)
        .map(|i| {
            let n = 96 + rng.below(40) as usize;
            let mut p = rng.bytes(n);
            p[14] = i as u8;
            if i % 5 == 0 {
                p[16..20].fill(0xff);
            }
            p
        })
        .collect();
    compare(&k, &u, "xdp_csum", &ps);
}

#[test]
fn actions_have_names_and_redirects_are_recorded() {
    let Some((_, u)) = load() else { return };
    let mut xdp = Xdp::new().unwrap();
    let mut p = vec![0u8; 20];
    p[14] = 7;
    let out = xdp
        .run_loaded(u.program("xdp_redirect").unwrap(), &p)
        .unwrap();
    assert_eq!(out.action, XdpAction::Redirect);
    assert_eq!(out.action.name(), "XDP_REDIRECT");
    assert_eq!(out.redirect.map(|r| r.ifindex), Some(7));
    p[15] = 1; // a flag: the kernel aborts
    let out = xdp
        .run_loaded(u.program("xdp_redirect").unwrap(), &p)
        .unwrap();
    assert_eq!(out.action, XdpAction::Aborted);
    assert!(xdp
        .run_loaded(u.program("xdp_parse").unwrap(), &[0; 13])
        .is_err());
    assert!(xdp
        .run_loaded(u.program("xdp_parse").unwrap(), &[0; 3521])
        .is_err());
}
