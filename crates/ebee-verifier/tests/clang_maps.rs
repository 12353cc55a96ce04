//! C programs that use maps, compiled by clang and judged by the kernel.
//! Map definitions are the legacy `struct bpf_map_def` in section "maps";
//! the test resolves the `lddw` relocations itself (to map indices for us,
//! to freshly created map descriptors for the kernel).

mod common;

use std::process::Command;

use ebee_isa::{Imm64Kind, Insn};
use ebee_verifier::{verify, MapInfo, Maps, Options, Program, ProgramType};
use object::{Object, ObjectSection, ObjectSymbol, RelocationTarget};

const HEADER: &str = r#"
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#define SEC(n) __attribute__((section(n), used))
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries, map_flags; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_tail_call)(void *ctx, void *map, __u32 index) = (void *)12;
static long (*bpf_perf_event_output)(void *ctx, void *map, __u64 flags, void *data, __u64 size) = (void *)25;
static void *(*bpf_ringbuf_reserve)(void *rb, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;
static void (*bpf_ringbuf_discard)(void *data, __u64 flags) = (void *)133;
static long (*bpf_get_prandom_u32)(void) = (void *)7;
struct bpf_map_def SEC("maps") counts = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 8, .max_entries = 256 };
struct bpf_map_def SEC("maps") table = { .type = BPF_MAP_TYPE_HASH, .key_size = 4, .value_size = 16, .max_entries = 64 };
struct bpf_map_def SEC("maps") events = { .type = BPF_MAP_TYPE_RINGBUF, .max_entries = 4096 };
struct bpf_map_def SEC("maps") progs = { .type = BPF_MAP_TYPE_PROG_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 4 };
struct bpf_map_def SEC("maps") perf = { .type = BPF_MAP_TYPE_PERF_EVENT_ARRAY, .key_size = 4, .value_size = 4, .max_entries = 4 };
struct bpf_map_def SEC("maps") slots = { .type = BPF_MAP_TYPE_ARRAY, .key_size = 4, .value_size = 64, .max_entries = 4 };
"#;

struct CProg {
    name: &'static str,
    prog_type: u32,
    /// The kernel's verdict, recorded from loading the relocated section.
    kernel_accepts: bool,
    body: &'static str,
}

fn programs() -> Vec<CProg> {
    vec![
        CProg {
            name: "count packets by protocol",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    __u32 key = skb->protocol & 0xff;
    __u64 *v = bpf_map_lookup_elem(&counts, &key);
    if (v) __sync_fetch_and_add(v, 1);
    return 0;
}"#,
        },
        CProg {
            name: "count without a null check",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    __u32 key = skb->protocol;
    __u64 *v = bpf_map_lookup_elem(&table, &key);
    *v += 1;
    return 0;
}"#,
        },
        CProg {
            name: "hash update from skb fields",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    __u32 key = skb->ifindex;
    struct { __u64 len, mark; } val = { skb->len, skb->mark };
    bpf_map_update_elem(&table, &key, &val, 0);
    return 0;
}"#,
        },
        CProg {
            name: "ringbuf event",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    struct { __u32 len, proto; } *e = bpf_ringbuf_reserve(&events, 8, 0);
    if (!e) return 0;
    e->len = skb->len;
    e->proto = skb->protocol;
    bpf_ringbuf_submit(e, 0);
    return 0;
}"#,
        },
        CProg {
            name: "ringbuf event leaked on one path",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    struct { __u32 len, proto; } *e = bpf_ringbuf_reserve(&events, 8, 0);
    if (!e) return 0;
    e->len = skb->len;
    if (skb->len > 100) return 1;
    bpf_ringbuf_submit(e, 0);
    return 0;
}"#,
        },
        CProg {
            name: "ringbuf event discarded on one path",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    struct { __u32 len, proto; } *e = bpf_ringbuf_reserve(&events, 8, 0);
    if (!e) return 0;
    e->len = skb->len;
    if (skb->len > 100) { bpf_ringbuf_discard(e, 0); return 1; }
    bpf_ringbuf_submit(e, 0);
    return 0;
}"#,
        },
        CProg {
            name: "xdp slot indexed by a masked packet byte",
            prog_type: 6,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct xdp_md *ctx) {
    unsigned char *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (d + 1 > end) return XDP_PASS;
    __u32 key = 0;
    unsigned char *v = bpf_map_lookup_elem(&slots, &key);
    if (!v) return XDP_PASS;
    v[d[0] & 63] += 1;
    return XDP_PASS;
}"#,
        },
        CProg {
            name: "xdp slot indexed by an unmasked packet byte",
            prog_type: 6,
            kernel_accepts: false,
            body: r#"
SEC("prog") int f(struct xdp_md *ctx) {
    unsigned char *d = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (d + 1 > end) return XDP_PASS;
    __u32 key = 0;
    unsigned char *v = bpf_map_lookup_elem(&slots, &key);
    if (!v) return XDP_PASS;
    v[d[0]] += 1;
    return XDP_PASS;
}"#,
        },
        CProg {
            name: "tail call by random index",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    bpf_tail_call(skb, &progs, bpf_get_prandom_u32() & 3);
    return 0;
}"#,
        },
        CProg {
            name: "perf event output of a stack struct",
            prog_type: 1,
            kernel_accepts: true,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    struct { __u32 len, mark; } d = { skb->len, skb->mark };
    bpf_perf_event_output(skb, &perf, BPF_F_CURRENT_CPU, &d, sizeof(d));
    return 0;
}"#,
        },
        CProg {
            name: "sum over array slots reloading the index from the stack",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    __u64 sum = 0;
    for (__u32 i = 0; i < 16; i++) {
        __u64 *v = bpf_map_lookup_elem(&counts, &i);
        if (v) sum += *v;
    }
    return sum & 1;
}"#,
        },
        CProg {
            name: "hash value read past its end",
            prog_type: 1,
            kernel_accepts: false,
            body: r#"
SEC("prog") int f(struct __sk_buff *skb) {
    __u32 key = 1;
    __u64 *v = bpf_map_lookup_elem(&table, &key);
    if (!v) return 0;
    return v[2];
}"#,
        },
    ]
}

/// A compiled program: instructions, `(pc, map index)` of each map
/// reference, and the map definitions in order.
type Extracted = (Vec<Insn>, Vec<(usize, usize)>, Vec<(String, MapInfo)>);

/// The program section's instructions and the map (by definition order)
/// each `lddw` at a pc refers to.
fn extract(obj_bytes: &[u8]) -> Extracted {
    let obj = object::File::parse(obj_bytes).expect("ELF");
    let maps_sec = obj.section_by_name("maps").expect("maps section");
    let data = maps_sec.data().unwrap();
    let mut syms: Vec<(u64, String)> = obj
        .symbols()
        .filter(|s| s.section_index() == Some(maps_sec.index()))
        .map(|s| (s.address(), s.name().unwrap_or("").to_string()))
        .collect();
    syms.sort();
    let word = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap());
    let maps: Vec<(String, MapInfo)> = syms
        .iter()
        .map(|(a, n)| {
            let o = *a as usize;
            (
                n.clone(),
                MapInfo {
                    map_type: word(o),
                    key_size: word(o + 4),
                    value_size: word(o + 8),
                    max_entries: word(o + 12),
                    flags: word(o + 16),
                    spin_lock_offset: None,
                },
            )
        })
        .collect();
    let prog = obj.section_by_name("prog").expect("prog section");
    let insns = ebee_isa::decode(prog.data().unwrap()).expect("decode");
    let mut relocs = vec![];
    for (off, rel) in prog.relocations() {
        if let RelocationTarget::Symbol(i) = rel.target() {
            let sym = obj.symbol_by_index(i).unwrap();
            let addr = sym.address();
            let idx = syms
                .iter()
                .position(|(a, _)| *a == addr)
                .expect("relocation against a map");
            relocs.push((off as usize / 8, idx));
        }
    }
    (insns, relocs, maps)
}

fn with_maps(
    insns: &[Insn],
    relocs: &[(usize, usize)],
    kind: Imm64Kind,
    value: impl Fn(usize) -> i64,
) -> Vec<Insn> {
    let mut out = insns.to_vec();
    for &(pc, idx) in relocs {
        if let Insn::LdImm64 { dst, .. } = out[pc] {
            out[pc] = Insn::LdImm64 {
                dst,
                kind,
                imm: value(idx),
            };
        }
    }
    out
}

#[test]
fn clang_programs_with_maps_agree_with_the_kernel() {
    let have = |t: &str| {
        Command::new(t)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !have("clang-19") {
        println!("skipped: clang-19 not installed");
        return;
    }
    let kernel = common::kernel::available();
    if let Err(e) = &kernel {
        println!("skipped: kernel comparison (bpf(2) unavailable: {e})");
    }
    let dir = std::env::temp_dir().join(format!("ebee-verifier-maps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let progs = programs();
    let srcs: Vec<_> = progs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let f = dir.join(format!("m{i}.c"));
            std::fs::write(&f, format!("{HEADER}{}", p.body)).unwrap();
            f
        })
        .collect();
    let arch_inc = format!("/usr/include/{}-linux-gnu", std::env::consts::ARCH);
    let out = Command::new("clang-19")
        .current_dir(&dir)
        .args(["-O2", "-target", "bpf", "-mcpu=v3", "-I", &arch_inc, "-c"])
        .args(&srcs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (mut agree, mut total) = (0, 0);
    let mut failures = vec![];
    for (i, p) in progs.iter().enumerate() {
        let bytes = std::fs::read(dir.join(format!("m{i}.o"))).unwrap();
        let (insns, relocs, maps) = extract(&bytes);
        let ours = with_maps(&insns, &relocs, Imm64Kind::MapIdx, |i| i as i64);
        let infos: Vec<MapInfo> = maps.iter().map(|(_, m)| *m).collect();
        let table = Maps::from_indexed(&infos);
        let pt = ProgramType::from_kernel(p.prog_type).unwrap();
        let v = verify(&Program::new(&ours, &pt, &table), &Options::default());
        total += 1;
        if kernel.is_ok() {
            let fds: Vec<common::kernel::Fd> = infos
                .iter()
                .map(|m| common::kernel::create_map(m).expect("map"))
                .collect();
            let theirs = with_maps(&insns, &relocs, Imm64Kind::MapFd, |i| fds[i].0 as i64);
            let k = common::kernel::load(p.prog_type, &ebee_isa::encode(&theirs));
            if std::env::var_os("EBEE_SHOW").is_some() {
                println!(
                    "{}\n  kernel: {:?}\n  ours:   {:?}",
                    p.name,
                    k,
                    v.verdict.rejection().map(|r| r.to_string())
                );
            }
            if k.is_ok() != p.kernel_accepts {
                failures.push(format!(
                    "{}: recorded kernel verdict {} but the kernel now says {:?}",
                    p.name, p.kernel_accepts, k
                ));
            }
        }
        if v.verdict.is_accepted() == p.kernel_accepts {
            agree += 1;
        } else {
            failures.push(format!(
                "{}: kernel accepts={} but ours: {:?}",
                p.name,
                p.kernel_accepts,
                v.verdict.rejection().map(|r| r.to_string())
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("clang programs with maps: agreement with the kernel {agree}/{total}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
