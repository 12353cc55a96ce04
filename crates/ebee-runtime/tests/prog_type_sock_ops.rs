//! The Linux samples' sock_ops programs (`tcp_*_kern.o`, Cilium's
//! `tcprtt_sockops`) run verified in ebee's [`SockOps`]: every operation
//! runs without a fault, and `tcp_iw_kern.o` / `tcp_cong_kern.o` do what
//! their sources say (buffer sizes on connect, the initial window on
//! establishment, the congestion control), with the kernel's answers for
//! a socket that is not full and a congestion control the host lacks.

use std::path::Path;

use ebee_object::Object;
use ebee_runtime::helpers::sockopt::{opt::*, SOL_SOCKET, SOL_TCP};
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::program_type::sock_ops::{op, SockOps};

fn load(rel: &str) -> Option<LoadedObject> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpora/ebpf-samples")
        .join(rel);
    let Ok(bytes) = std::fs::read(&p) else {
        println!("skipped: no {}", p.display());
        return None;
    };
    let obj = Object::parse(&bytes).unwrap();
    let l = LoadedObject::load(&obj, &LoadOptions::new()).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(l.programs().iter().all(|p| p.verified()));
    Some(l)
}

/// A socket on the samples' test port 55601.
fn socket() -> SockOps {
    let mut s = SockOps::new();
    s.ctx.local_port = 55601;
    s.ctx.state = 1;
    s.ctx.snd_cwnd = 10;
    s
}

#[test]
fn every_sample_runs_every_operation() {
    for rel in [
        "linux/tcp_basertt_kern.o",
        "linux/tcp_bufs_kern.o",
        "linux/tcp_clamp_kern.o",
        "linux/tcp_cong_kern.o",
        "linux/tcp_iw_kern.o",
        "linux/tcp_rwnd_kern.o",
        "linux/tcp_synrto_kern.o",
        "cilium-examples/tcprtt_sockops_bpf_bpfel.o",
    ] {
        let Some(l) = load(rel) else { return };
        let p = &l.programs()[0];
        for fullsock in [1, 0] {
            let mut s = socket();
            s.ctx.is_fullsock = fullsock;
            for o in 0..=op::RTT_CB {
                let out = s
                    .run_loaded(p, o, [0; 4])
                    .unwrap_or_else(|e| panic!("{rel} op {o}: {e}"));
                assert!(out.ret <= 1, "{rel} op {o}: r0 {}", out.ret);
            }
        }
    }
}

#[test]
fn tcp_iw_sets_buffers_and_the_initial_window() {
    let Some(l) = load("linux/tcp_iw_kern.o") else {
        return;
    };
    let p = &l.programs()[0];
    let mut s = socket();
    assert_eq!(s.run_loaded(p, op::RWND_INIT, [0; 4]).unwrap().reply, 40);
    // SO_SNDBUF / SO_RCVBUF 1500000: capped at wmem_max / rmem_max, doubled.
    let out = s.run_loaded(p, op::TCP_CONNECT_CB, [0; 4]).unwrap();
    assert_eq!((out.reply, out.tcp_reply()), (0, 0));
    assert_eq!(s.options.get_int(SOL_SOCKET, SO_SNDBUF), Some(2 * 212992));
    assert_eq!(s.options.get_int(SOL_SOCKET, SO_RCVBUF), Some(2 * 212992));
    // TCP_BPF_IW 40 becomes snd_cwnd, kept for the next callback.
    assert_eq!(
        s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4])
            .unwrap()
            .reply,
        0
    );
    assert_eq!(s.ctx.snd_cwnd, 40);
    // Once data went out the window is no longer initial: -EINVAL.
    s.ctx.data_segs_out = 3;
    let out = s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4]).unwrap();
    assert_eq!(out.reply as i32, -22);
    // Not a full socket: socket options are refused, TCP fields read 0.
    let mut s = socket();
    s.ctx.is_fullsock = 0;
    let out = s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4]).unwrap();
    assert_eq!(out.reply as i32, -22);
    assert_eq!(s.ctx.snd_cwnd, 10);
    // Another port: reply -1 (the sample ignores it).
    let mut s = socket();
    s.ctx.local_port = 80;
    let out = s.run_loaded(p, op::RWND_INIT, [0; 4]).unwrap();
    assert_eq!(out.tcp_reply(), -1);
}

#[test]
fn tcp_cong_selects_a_congestion_control_the_host_has() {
    let Some(l) = load("linux/tcp_cong_kern.o") else {
        return;
    };
    let p = &l.programs()[0];
    // Both ends in the same "datacenter": IPv6 addresses sharing their
    // first 44 bits.
    let mut s = socket();
    s.ctx.family = 10;
    s.ctx.local_ip6 = [0x0db8_0120u32.to_be(), 0x0010_0000u32.to_be(), 0, 1];
    s.ctx.remote_ip6 = [0x0db8_0120u32.to_be(), 0x0010_0000u32.to_be(), 0, 2];
    // dctcp is not among the defaults (reno, cubic): -ENOENT, unchanged.
    let out = s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4]).unwrap();
    assert_eq!(out.reply as i32, -2);
    assert_eq!(s.options.get(SOL_TCP, TCP_CONGESTION), Some(&b"cubic"[..]));
    s.options.congestion_controls.push("dctcp".into());
    let out = s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4]).unwrap();
    assert_eq!(out.reply, 0);
    assert_eq!(s.options.get(SOL_TCP, TCP_CONGESTION), Some(&b"dctcp"[..]));
    // IPv4: not the same datacenter, nothing set.
    s.ctx.family = 2;
    assert_eq!(
        s.run_loaded(p, op::ACTIVE_ESTABLISHED_CB, [0; 4])
            .unwrap()
            .tcp_reply(),
        -1
    );
}
