//! Verified packet programs run unchecked: an XDP parser and a tc
//! classifier loaded verified run under their runner without runtime
//! memory checks ([`LoadedProgram::packet_unchecked`]); loaded unverified
//! they run checked. Both modes must give the kernel's results
//! (`BPF_PROG_TEST_RUN`) on the same packets; the test prints the time of
//! each mode and the speedup.

mod prog_type;

use ebee_kernel::TestRun;
use ebee_runtime::loader::{LoadOptions, LoadedObject, LoadedProgram};
use ebee_runtime::program_type::skb::{SkBuff, Skb, SkbKind};
use ebee_runtime::program_type::xdp::Xdp;
use prog_type::{compile, kernel, packet, Rng};
use std::time::{Duration, Instant};

struct Loaded {
    kernel: ebee_kernel::LoadedObject,
    verified: LoadedObject,
    checked: LoadedObject,
}

fn load() -> Option<Loaded> {
    let obj = compile("packet_parsers");
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

fn packets(seed: u64, n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(seed);
    (0..n).map(|_| packet(&mut rng)).collect()
}

fn modes<'a>(l: &'a Loaded, name: &str) -> [(&'static str, &'a LoadedProgram); 2] {
    let v = l.verified.program(name).expect(name);
    let c = l.checked.program(name).expect(name);
    assert!(
        v.verified() && v.packet_unchecked(),
        "{name}: verified runs unchecked"
    );
    assert!(
        !c.verified() && !c.packet_unchecked(),
        "{name}: unverified runs checked"
    );
    [("unchecked", v), ("checked", c)]
}

/// The fastest of `rounds` timings of `f` over all packets.
fn time(rounds: usize, mut f: impl FnMut()) -> Duration {
    (0..rounds)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap()
}

#[test]
fn verified_xdp_parser_runs_unchecked_with_the_kernels_results() {
    let Some(l) = load() else { return };
    let ps = packets(0x5eed, 400);
    let kp = l.kernel.program("xdp_parser").unwrap();
    let mut xdp = Xdp::new().unwrap();
    for (i, p) in ps.iter().enumerate() {
        let mut run = TestRun::new(p);
        run.data_out_capacity = Some(4096);
        let ko = kp.test_run(&run).expect("test_run");
        for (mode, prog) in modes(&l, "xdp_parser") {
            let uo = xdp.run_loaded(prog, p).unwrap();
            assert_eq!(uo.ret as u32, ko.retval, "{mode} packet {i}: verdict");
            assert_eq!(uo.data_out(), ko.data, "{mode} packet {i}: packet");
        }
    }
    let [(_, v), (_, c)] = modes(&l, "xdp_parser");
    let mut run_all = |prog: &LoadedProgram| {
        for p in &ps {
            std::hint::black_box(xdp.run_loaded(prog, p).unwrap().ret);
        }
    };
    let tu = time(30, || run_all(v));
    let tc = time(30, || run_all(c));
    let per = |t: Duration| t.as_nanos() as f64 / ps.len() as f64;
    println!(
        "xdp_parser per packet (Xdp::run_loaded, interpreter): unchecked {:.0} ns, checked {:.0} ns, speedup {:.2}x",
        per(tu),
        per(tc),
        per(tc) / per(tu)
    );
}

#[test]
fn verified_tc_classifier_runs_unchecked_with_the_kernels_results() {
    let Some(l) = load() else { return };
    let ps = packets(0xc1a55, 400);
    let kp = l.kernel.program("tc_parser").unwrap();
    let mut s = Skb::new(SkbKind::Tc).unwrap();
    let mut compared = 0;
    for (i, p) in ps.iter().enumerate() {
        let ctx = SkBuff::default();
        let cin = ctx.to_bytes();
        let mut run = TestRun::new(p).ctx(&cin);
        run.data_out_capacity = Some(4096);
        run.ctx_out_capacity = Some(192);
        let ko = match kp.test_run(&run) {
            Ok(ko) => ko,
            Err(e) if e.to_string().contains("Invalid argument") && p.len() < 60 => continue,
            Err(e) => panic!("packet {i}: {e}"),
        };
        let kc = SkBuff::from_bytes(&ko.ctx);
        for (mode, prog) in modes(&l, "tc_parser") {
            s.ctx = SkBuff { ifindex: 1, ..ctx };
            let uo = s.run_loaded(prog, p).unwrap();
            assert_eq!(uo.ret as u32, ko.retval, "{mode} packet {i}: verdict");
            assert_eq!(uo.packet, ko.data, "{mode} packet {i}: packet");
            assert_eq!(
                (uo.ctx.mark, uo.ctx.cb),
                (kc.mark, kc.cb),
                "{mode} packet {i}: ctx"
            );
        }
        compared += 1;
    }
    assert!(compared > 350, "{compared} packets compared");
    let [(_, v), (_, c)] = modes(&l, "tc_parser");
    let mut run_all = |prog: &LoadedProgram| {
        for p in &ps {
            std::hint::black_box(s.run_loaded(prog, p).unwrap().ret);
        }
    };
    let tu = time(30, || run_all(v));
    let tc = time(30, || run_all(c));
    let per = |t: Duration| t.as_nanos() as f64 / ps.len() as f64;
    println!(
        "tc_parser per packet (Skb::run_loaded, interpreter): unchecked {:.0} ns, checked {:.0} ns, speedup {:.2}x",
        per(tu),
        per(tc),
        per(tc) / per(tu)
    );
}
