//! sock_ops socket option helpers against the kernel: `tests/c/sock_ops.c`
//! runs a table of `bpf_setsockopt` / `bpf_getsockopt` /
//! `bpf_sock_ops_cb_flags_set` probes at the first
//! `BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB` of a real loopback TCP connection
//! (the program attached to a new cgroup holding only the connecting
//! shell), and the same object runs in ebee's [`SockOps`] with the
//! connection's TCP fields and the host's sysctls. Every return value,
//! every buffer and the TCP fields after the probes must be equal.

mod prog_type;

use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};

use ebee_runtime::helpers::sockopt::{opt::*, SockOptions, SOL_IP, SOL_IPV6, SOL_SOCKET, SOL_TCP};
use ebee_runtime::loader::{LoadOptions, LoadedObject};
use ebee_runtime::map::{cgroup2_root, BPF_ANY};
use ebee_runtime::program_type::sock_ops::{op, SockOps};
use prog_type::{compile, kernel, TempCgroup};

/// One probe: (kind 0 set / 1 get / 2 cb_flags_set, level, name, len, value).
type Probe = (u32, i32, i32, u32, Vec<u8>);

fn int(v: i32) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn set(level: i32, name: i32, v: i32) -> Probe {
    (0, level, name, 4, int(v))
}

fn get(level: i32, name: i32, len: u32) -> Probe {
    (1, level, name, len, vec![0xaa; 16])
}

fn probes() -> Vec<Probe> {
    vec![
        // Unknown levels and names, wrong lengths: -EINVAL.
        set(99, 1, 1),
        set(SOL_SOCKET, 13, 1), // SO_LINGER is not offered
        (0, SOL_SOCKET, SO_MARK, 2, int(1)),
        get(SOL_SOCKET, SO_MARK, 8),
        set(SOL_IPV6, IPV6_TCLASS, 8), // an AF_INET socket
        get(SOL_SOCKET, SO_BINDTODEVICE, 16),
        get(SOL_TCP, TCP_BPF_IW, 4),
        set(SOL_TCP, 9999, 1),
        // Options with kernel defaults independent of sysctls.
        get(SOL_SOCKET, SO_REUSEADDR, 4),
        get(SOL_SOCKET, SO_KEEPALIVE, 4),
        get(SOL_SOCKET, SO_MARK, 4),
        get(SOL_SOCKET, SO_PRIORITY, 4),
        get(SOL_TCP, TCP_NODELAY, 4),
        get(SOL_TCP, TCP_USER_TIMEOUT, 4),
        get(SOL_IP, IP_TOS, 4),
        get(SOL_TCP, TCP_CONGESTION, 16),
        get(SOL_TCP, TCP_CONGESTION, 3),
        get(SOL_TCP, TCP_CONGESTION, 1),
        // Set, then read back.
        set(SOL_SOCKET, SO_MARK, 0x1234),
        get(SOL_SOCKET, SO_MARK, 4),
        set(SOL_SOCKET, SO_KEEPALIVE, 7),
        get(SOL_SOCKET, SO_KEEPALIVE, 4),
        set(SOL_SOCKET, SO_PRIORITY, 6),
        get(SOL_SOCKET, SO_PRIORITY, 4),
        set(SOL_SOCKET, SO_SNDBUF, 10000),
        get(SOL_SOCKET, SO_SNDBUF, 4),
        set(SOL_SOCKET, SO_RCVBUF, 100),
        get(SOL_SOCKET, SO_RCVBUF, 4),
        set(SOL_TCP, TCP_NODELAY, 1),
        get(SOL_TCP, TCP_NODELAY, 4),
        set(SOL_TCP, TCP_KEEPIDLE, 0),
        set(SOL_TCP, TCP_KEEPIDLE, 100),
        get(SOL_TCP, TCP_KEEPIDLE, 4),
        set(SOL_TCP, TCP_KEEPCNT, 200),
        set(SOL_TCP, TCP_KEEPINTVL, 30),
        get(SOL_TCP, TCP_KEEPINTVL, 4),
        set(SOL_TCP, TCP_SYNCNT, 0),
        set(SOL_TCP, TCP_USER_TIMEOUT, -1),
        set(SOL_TCP, TCP_USER_TIMEOUT, 5000),
        get(SOL_TCP, TCP_USER_TIMEOUT, 4),
        set(SOL_TCP, TCP_MAXSEG, 50),
        set(SOL_TCP, TCP_MAXSEG, 1000),
        get(SOL_TCP, TCP_MAXSEG, 4),
        set(SOL_TCP, TCP_NOTSENT_LOWAT, 4096),
        get(SOL_TCP, TCP_NOTSENT_LOWAT, 4),
        set(SOL_TCP, TCP_WINDOW_CLAMP, 0),
        set(SOL_IP, IP_TOS, 0x2b),
        get(SOL_IP, IP_TOS, 4),
        (0, SOL_TCP, TCP_CONGESTION, 5, b"reno\0".to_vec()),
        get(SOL_TCP, TCP_CONGESTION, 8),
        (0, SOL_TCP, TCP_CONGESTION, 4, b"cdg\0".to_vec()),
        (0, SOL_TCP, TCP_CONGESTION, 9, b"nosuchcc\0".to_vec()),
        get(SOL_TCP, TCP_SAVED_SYN, 8),
        get(SOL_TCP, TCP_BPF_SYN, 16),
        // The TCP_BPF_* options and the callback flags.
        set(SOL_TCP, TCP_BPF_IW, 0),
        set(SOL_TCP, TCP_BPF_IW, 20),
        set(SOL_TCP, TCP_BPF_SNDCWND_CLAMP, 77),
        set(SOL_TCP, TCP_BPF_DELACK_MAX, 100),
        set(SOL_TCP, TCP_BPF_DELACK_MAX, 20000),
        set(SOL_TCP, TCP_BPF_RTO_MIN, 100_000_000),
        set(SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, 0x80),
        set(SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, 0x05),
        get(SOL_TCP, TCP_BPF_SOCK_OPS_CB_FLAGS, 4),
        (2, 0x1ff, 0, 4, vec![]),
    ]
}

fn encode(p: &Probe) -> Vec<u8> {
    let mut b = Vec::with_capacity(32);
    b.extend(p.0.to_ne_bytes());
    b.extend(p.1.to_ne_bytes());
    b.extend(p.2.to_ne_bytes());
    b.extend(p.3.to_ne_bytes());
    let mut v = p.4.clone();
    v.resize(16, 0);
    b.extend(v);
    b
}

fn sysctl(path: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/sys/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The running kernel's `CONFIG_HZ`, from its config file.
fn kernel_hz() -> Option<u32> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let config = std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok()?;
    config
        .lines()
        .find_map(|l| l.strip_prefix("CONFIG_HZ="))
        .and_then(|v| v.parse().ok())
}

/// `BPF_PROG_ATTACH` of `prog` to the cgroup `dir` as `BPF_CGROUP_SOCK_OPS`.
fn attach(prog: std::os::fd::BorrowedFd<'_>, cgroup: &std::fs::File) -> std::io::Result<()> {
    #[repr(C)]
    struct Attr {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
        pad: [u32; 11],
    }
    let attr = Attr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: 3,
        attach_flags: 0,
        replace_bpf_fd: 0,
        pad: [0; 11],
    };
    // SAFETY: BPF_PROG_ATTACH (8) reads `size_of::<Attr>()` bytes of the
    // attribute, which lives across the call; the fds are open.
    let r = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8,
            &attr as *const Attr,
            std::mem::size_of::<Attr>(),
        )
    };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[test]
fn sockopt_helpers_match_the_kernel() {
    let obj = compile("sock_ops");
    let Some(k) = kernel(&obj) else { return };
    let Some(root) = cgroup2_root() else {
        println!("skipped: no cgroup v2 hierarchy");
        return;
    };
    let probes = probes();
    assert!(probes.len() <= 64);
    let user = LoadedObject::load(&obj, &LoadOptions::new()).expect("ebee load");
    assert!(user.program("probe_sockopts").unwrap().verified());
    for (i, p) in probes.iter().enumerate() {
        let key = (i as u32).to_ne_bytes();
        k.map("probes")
            .unwrap()
            .update(&key, &encode(p), BPF_ANY)
            .unwrap();
        user.map("probes")
            .unwrap()
            .update(&key, &encode(p), BPF_ANY)
            .unwrap();
    }

    // The kernel: a connection from a shell in a cgroup of its own.
    let cg = TempCgroup::new(&root, &format!("ebee-sockops-{}", std::process::id()));
    let dir = std::fs::File::open(&cg.0).unwrap();
    let kp = k.program("probe_sockopts").unwrap();
    if let Err(e) = attach(kp.fd().as_fd(), &dir) {
        println!("skipped: attaching sock_ops to a cgroup: {e}");
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec 3<>/dev/tcp/127.0.0.1/{port} && cat <&3 >/dev/null",
        cg.0.display()
    );
    let mut child = std::process::Command::new("bash")
        .args(["-c", &script])
        .spawn()
        .expect("bash");
    let (mut conn, _) = listener.accept().expect("accept");
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let mut sink = vec![];
    let _ = conn.read_to_end(&mut sink);
    let status = child.wait().unwrap();
    assert!(status.success(), "the connecting shell failed: {status}");

    let key0 = 0u32.to_ne_bytes();
    let ksnap = k.map("snap").unwrap().lookup(&key0).unwrap().unwrap();
    let word = |b: &[u8], i: usize| u32::from_ne_bytes(b[4 * i..4 * i + 4].try_into().unwrap());
    assert_eq!(word(&ksnap, 0), 1, "the kernel's program did not run");

    // ebee: the same socket as the kernel showed it, the host's sysctls.
    let mut s = SockOps::new();
    s.ctx.family = word(&ksnap, 1);
    s.ctx.state = word(&ksnap, 2);
    s.ctx.is_fullsock = word(&ksnap, 3);
    s.ctx.mss_cache = word(&ksnap, 4);
    s.ctx.data_segs_out = word(&ksnap, 5);
    s.ctx.snd_cwnd = word(&ksnap, 6);
    s.ctx.snd_ssthresh = word(&ksnap, 7);
    s.ctx.bpf_sock_ops_cb_flags = word(&ksnap, 8);
    let mut o = SockOptions::new();
    if let Some(cc) = sysctl("net/ipv4/tcp_congestion_control") {
        o.set(SOL_TCP, TCP_CONGESTION, cc.as_bytes());
    }
    if let Some(list) = sysctl("net/ipv4/tcp_available_congestion_control") {
        o.congestion_controls = list.split_whitespace().map(String::from).collect();
    }
    o.wmem_max = sysctl("net/core/wmem_max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(o.wmem_max);
    o.rmem_max = sysctl("net/core/rmem_max")
        .and_then(|v| v.parse().ok())
        .unwrap_or(o.rmem_max);
    o.hz = kernel_hz().unwrap_or(o.hz);
    s.options = o;
    let out = s
        .run_loaded(
            user.program("probe_sockopts").unwrap(),
            op::ACTIVE_ESTABLISHED_CB,
            [0; 4],
        )
        .expect("ebee run");
    assert_eq!(out.ret, 1);

    let usnap = user.map("snap").unwrap().lookup(&key0).unwrap().unwrap();
    let mut mismatches = vec![];
    for (i, p) in probes.iter().enumerate() {
        let key = (i as u32).to_ne_bytes();
        let kr = k.map("results").unwrap().lookup(&key).unwrap().unwrap();
        let ur = user.map("results").unwrap().lookup(&key).unwrap().unwrap();
        if kr != ur {
            mismatches.push(format!(
                "probe {i} {:?}: kernel ret {} buf {:02x?}, ebee ret {} buf {:02x?}",
                (p.0, p.1, p.2, p.3),
                i64::from_ne_bytes(kr[..8].try_into().unwrap()),
                &kr[8..],
                i64::from_ne_bytes(ur[..8].try_into().unwrap()),
                &ur[8..]
            ));
        }
    }
    if ksnap != usnap {
        mismatches.push(format!(
            "TCP fields after the probes: kernel {:?}, ebee {:?}",
            (9..12).map(|i| word(&ksnap, i)).collect::<Vec<_>>(),
            (9..12).map(|i| word(&usnap, i)).collect::<Vec<_>>()
        ));
    }
    println!(
        "{} sock_ops probes, {} differ from the kernel",
        probes.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    // The state ebee keeps for the socket after the run.
    assert_eq!(s.ctx.bpf_sock_ops_cb_flags, word(&ksnap, 11));
}
