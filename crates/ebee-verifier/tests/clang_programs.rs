//! Programs written in C and compiled by clang, verified by us and by this
//! machine's kernel: real compiler idioms (32-bit subregisters, spills,
//! variable packet offsets, loops) rather than hand-written instructions.

mod common;

use std::process::Command;

use ebee_verifier::{verify, Maps, Options, Program, ProgramType};

const HEADER: &str = r#"
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/in.h>
#define SEC(n) __attribute__((section(n), used))
#define bswap16(x) __builtin_bswap16(x)
static long (*bpf_ktime_get_ns)(void) = (void *)5;
static long (*bpf_get_prandom_u32)(void) = (void *)7;
static long (*bpf_skb_load_bytes)(const void *skb, __u32 off, void *to, __u32 len) = (void *)26;
static long (*bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *)6;
static long (*bpf_csum_diff)(void *from, __u32 from_size, void *to, __u32 to_size, __u32 seed) = (void *)28;
"#;

struct CProg {
    name: &'static str,
    section: &'static str,
    prog_type: u32,
    /// The kernel's verdict, recorded from loading the compiled section.
    kernel_accepts: bool,
    body: &'static str,
}

/// Programs the kernel rejects only because they exhaust its 1,000,000
/// instruction budget; we check them with a smaller budget so the test stays
/// quick, and require the rejection to be for complexity too.
const COMPLEXITY_LIMITED: &[&str] = &["time-bounded loop the verifier cannot bound"];

fn programs() -> Vec<CProg> {
    vec![
        CProg {
            name: "xdp tcp port filter with variable ip header length",
            section: "xdp",
            prog_type: 6,
            kernel_accepts: true,
            body: r#"
SEC("xdp") int f(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;
    if (eth->h_proto != bswap16(ETH_P_IP)) return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) return XDP_PASS;
    if (ip->protocol != IPPROTO_TCP) return XDP_PASS;
    unsigned ihl = ip->ihl * 4;
    if (ihl < sizeof(*ip)) return XDP_DROP;
    struct tcphdr *tcp = (void *)ip + ihl;
    if ((void *)(tcp + 1) > end) return XDP_PASS;
    if (tcp->dest == bswap16(22)) return XDP_DROP;
    return XDP_PASS;
}"#,
        },
        CProg {
            name: "xdp missing bounds check on the tcp header",
            section: "xdp",
            prog_type: 6,
            kernel_accepts: false,
            body: r#"
SEC("xdp") int f(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end) return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end) return XDP_PASS;
    struct tcphdr *tcp = (void *)(ip + 1);
    return tcp->dest == bswap16(22) ? XDP_DROP : XDP_PASS;
}"#,
        },
        CProg {
            name: "xdp byte sum loop with per-iteration check",
            section: "xdp",
            prog_type: 6,
            kernel_accepts: true,
            body: r#"
SEC("xdp") int f(struct xdp_md *ctx) {
    unsigned char *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    unsigned sum = 0;
    for (int i = 0; i < 64; i++) {
        if (data + i + 1 > end) break;
        sum += data[i];
    }
    return sum & 1 ? XDP_DROP : XDP_PASS;
}"#,
        },
        CProg {
            name: "xdp udp payload with variable length clamp",
            section: "xdp",
            prog_type: 6,
            kernel_accepts: true,
            body: r#"
SEC("xdp") int f(struct xdp_md *ctx) {
    void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    if ((void *)(ip + 1) > end) return XDP_PASS;
    struct udphdr *udp = (void *)(ip + 1);
    if ((void *)(udp + 1) > end) return XDP_PASS;
    unsigned len = bswap16(udp->len) & 0xff;
    unsigned char *p = (void *)(udp + 1) + len;
    if ((void *)(p + 1) > end) return XDP_PASS;
    return *p == 7 ? XDP_DROP : XDP_PASS;
}"#,
        },
        CProg {
            name: "tc reads and writes skb fields",
            section: "tc",
            prog_type: 3,
            kernel_accepts: true,
            body: r#"
SEC("tc") int f(struct __sk_buff *skb) {
    if (skb->len > 100) skb->mark = skb->hash ^ 1;
    skb->cb[2] = skb->protocol;
    skb->priority = skb->cb[2] + 1;
    return 0;
}"#,
        },
        CProg {
            name: "tc writes a read-only skb field",
            section: "tc",
            prog_type: 3,
            kernel_accepts: false,
            body: r#"
SEC("tc") int f(struct __sk_buff *skb) {
    skb->len = 5;
    return 0;
}"#,
        },
        CProg {
            name: "socket filter copies header bytes to the stack",
            section: "socket",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    unsigned char buf[20];
    if (bpf_skb_load_bytes(skb, 14, buf, sizeof(buf)) < 0) return 0;
    unsigned sum = 0;
    for (int i = 0; i < 20; i++) sum += buf[i];
    return sum > 1000 ? skb->len : 0;
}"#,
        },
        CProg {
            name: "stack array indexed by a masked random number",
            section: "socket",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    volatile unsigned long arr[16];
    for (int i = 0; i < 16; i++) arr[i] = i * 3;
    unsigned idx = bpf_get_prandom_u32() & 15;
    return arr[idx];
}"#,
        },
        CProg {
            name: "stack array index not masked",
            section: "socket",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    volatile unsigned long arr[16];
    for (int i = 0; i < 16; i++) arr[i] = i * 3;
    unsigned idx = bpf_get_prandom_u32();
    return arr[idx];
}"#,
        },
        CProg {
            name: "noinline function with a stack buffer argument",
            section: "socket",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
static __attribute__((noinline, section("socket"))) int fill(unsigned char *p, int n) {
    for (int i = 0; i < 8; i++) p[i] = n + i;
    return p[3];
}
SEC("socket") int f(struct __sk_buff *skb) {
    unsigned char buf[8];
    return fill(buf, skb->len & 0xff);
}"#,
        },
        CProg {
            name: "trace_printk with a format on the stack",
            section: "socket",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    char fmt[] = "len %d\n";
    bpf_trace_printk(fmt, sizeof(fmt), skb->len);
    return 0;
}"#,
        },
        CProg {
            name: "csum_diff over a packet header",
            section: "tc",
            prog_type: 3,
            kernel_accepts: true,
            body: r#"
SEC("tc") int f(struct __sk_buff *skb) {
    void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
    struct iphdr *ip = data + sizeof(struct ethhdr);
    if ((void *)(ip + 1) > end) return 0;
    return bpf_csum_diff(0, 0, (void *)ip, sizeof(*ip), 0);
}"#,
        },
        CProg {
            name: "loop with a data-dependent bound",
            section: "socket",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    unsigned n = skb->len & 31, acc = 0;
    for (unsigned i = 0; i < n; i++) acc += i * skb->protocol;
    return acc;
}"#,
        },
        CProg {
            name: "time-bounded loop the verifier cannot bound",
            section: "socket",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("socket") int f(struct __sk_buff *skb) {
    unsigned long start = bpf_ktime_get_ns(), n = 0;
    while (bpf_ktime_get_ns() - start < 1000) n++;
    return n;
}"#,
        },
    ]
}

fn tool(name: &str) -> Option<String> {
    Command::new(name)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| name.to_string())
}

/// Compile every program for `cpu` with one clang run, then extract each
/// program's section.
fn compile_all(dir: &std::path::Path, progs: &[CProg], cpu: &str) -> Result<Vec<Vec<u8>>, String> {
    let out_dir = dir.join(cpu);
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let mut srcs = vec![];
    for (i, p) in progs.iter().enumerate() {
        let src = dir.join(format!("p{i}.c"));
        std::fs::write(&src, format!("{HEADER}{}", p.body)).map_err(|e| e.to_string())?;
        srcs.push(src);
    }
    let arch_inc = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let out = Command::new("clang-19")
        .current_dir(&out_dir)
        .args([
            "-O2",
            "-target",
            "bpf",
            &format!("-mcpu={cpu}"),
            "-I",
            &arch_inc,
            "-c",
        ])
        .args(&srcs)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let mut res = vec![];
    for (i, p) in progs.iter().enumerate() {
        let obj = out_dir.join(format!("p{i}.o"));
        let bin = out_dir.join(format!("p{i}.bin"));
        let out = Command::new("llvm-objcopy-19")
            .args(["-O", "binary", &format!("--only-section={}", p.section)])
            .arg(&obj)
            .arg(&bin)
            .output()
            .map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).to_string());
        }
        res.push(std::fs::read(&bin).map_err(|e| e.to_string())?);
    }
    Ok(res)
}

#[test]
fn clang_programs_agree_with_the_kernel() {
    if tool("clang-19").is_none() || tool("llvm-objcopy-19").is_none() {
        println!("skipped: clang-19 or llvm-objcopy-19 not installed");
        return;
    }
    let kernel = common::kernel::available();
    if let Err(e) = &kernel {
        println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
    }
    let dir = std::env::temp_dir().join(format!("ebee-verifier-clang-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let maps = Maps::new();
    let (mut agree, mut total) = (0, 0);
    let mut failures = vec![];
    let progs = programs();
    for cpu in ["v2", "v3", "v4"] {
        let compiled =
            compile_all(&dir, &progs, cpu).unwrap_or_else(|e| panic!("clang ({cpu}): {e}"));
        for (p, bytes) in progs.iter().zip(compiled) {
            total += 1;
            let insns = ebee_isa::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e:?}", p.name));
            let pt = ProgramType::from_kernel(p.prog_type).unwrap();
            let limited = COMPLEXITY_LIMITED.contains(&p.name);
            let opts = Options {
                max_insns: if limited { 50_000 } else { 1_000_000 },
                ..Options::default()
            };
            let v = verify(&Program::new(&insns, &pt, &maps), &opts);
            if limited {
                let msg = v
                    .verdict
                    .rejection()
                    .map(|r| r.message.clone())
                    .unwrap_or_default();
                assert!(msg.contains("too complex"), "{}: {msg}", p.name);
            }
            let ours = v.verdict.is_accepted();
            // The kernel takes many seconds on a budget-exhausting program, so
            // for those the recorded verdict stands without asking again.
            if kernel.is_ok() && !limited {
                let k = common::kernel::load(p.prog_type, &bytes);
                if std::env::var_os("EBEE_SHOW").is_some() {
                    println!(
                        "{} ({cpu})\n  kernel: {:?}\n  ours:   {:?}",
                        p.name,
                        k,
                        v.verdict.rejection().map(|r| r.to_string())
                    );
                }
                if k.is_ok() != p.kernel_accepts {
                    failures.push(format!(
                        "{} ({cpu}): recorded kernel verdict {} but the kernel now says {:?}",
                        p.name, p.kernel_accepts, k
                    ));
                }
            }
            if ours == p.kernel_accepts {
                agree += 1;
            } else {
                failures.push(format!(
                    "{} ({cpu}): kernel accepts={} but ours: {:?}",
                    p.name,
                    p.kernel_accepts,
                    v.verdict.rejection().map(|r| r.to_string())
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("clang programs: agreement with the kernel {agree}/{total}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
