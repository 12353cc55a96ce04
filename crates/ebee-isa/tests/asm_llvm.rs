//! The Linux syntax against LLVM: C programs and an assembly file are
//! compiled with clang-19 for BPF, `llvm-objdump-19 -d` lists them, and
//! our assembler must turn each listing (pc, byte columns, `<sym>` notes
//! and all) back into exactly the bytes of the object's `.text`. Our own
//! disassembly must also read like LLVM's, up to the documented differences.

use ebee_isa::asm::{assemble, assemble_as, Syntax};
use ebee_isa::disasm::format_insn;
use ebee_isa::{decode, encode, CallTarget, Insn};
use std::path::{Path, PathBuf};
use std::process::Command;

const CLANG: &str = "clang-19";
const OBJDUMP: &str = "llvm-objdump-19";
const OBJCOPY: &str = "llvm-objcopy-19";

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A fresh scratch directory for this test process.
fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebee-asm-llvm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const TYPES: &str = r#"
typedef unsigned long long u64; typedef unsigned int u32; typedef unsigned short u16;
typedef unsigned char u8; typedef signed char s8; typedef short s16; typedef int s32;
static long (*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
static u64 (*bpf_ktime_get_ns)(void) = (void *) 5;
struct { int type; int max; } counters __attribute__((section(".maps")));
int glob = 3;
struct S { u64 p; u32 q; s8 b; s16 h; s32 w; u64 x; u32 y; u16 z; u8 c; };
"#;

/// Atomics of every kind at 32 and 64 bits.
const ATOMICS: &str = r#"
int atomics(struct S *s) {
  u64 *p = &s->p; u32 *q = &s->q; u64 x = s->x; u32 y = s->y;
  __sync_fetch_and_add(p, x); __sync_fetch_and_or(q, y);
  __sync_fetch_and_and(p, x); __sync_fetch_and_xor(q, y);
  u64 o = __sync_fetch_and_xor(p, 5); u32 o2 = __sync_fetch_and_and(q, 7);
  o += __sync_fetch_and_add(p, 9); o2 += __sync_fetch_and_or(q, 11);
  u64 a = __atomic_exchange_n(p, x, __ATOMIC_SEQ_CST);
  u32 c = __atomic_exchange_n(q, y, __ATOMIC_SEQ_CST);
  u64 d = __sync_val_compare_and_swap(p, o, a);
  u32 e = __sync_val_compare_and_swap(q, o2, c);
  return d + e;
}
"#;

/// Sign extension (movsx, memsx), byte swaps, signed division (cpu v4).
const SIGNEXT: &str = r#"
long signext(struct S *s) {
  long r = s->b + s->h + s->w;
  r += __builtin_bswap16(s->z) + __builtin_bswap32(s->y) + __builtin_bswap64(s->x);
  r += (s8)s->x + (s16)s->y + (s32)s->x;
  r = r / (long)s->x; r = r % (long)s->y; r >>= s->c; r = (long)r >> 7;
  s->c = r; s->z = r; s->w = -r; s->h = 7; s->b = -3;
  return r + (s32)s->y / (s32)s->x + (s32)s->y % (s32)s->w;
}
"#;

/// Branches at both widths, 64-bit constants, helper, local and kfunc calls, a loop.
const CONTROL: &str = r#"
extern int bpf_kfunc_example(int) __attribute__((section(".ksyms")));
__attribute__((noinline)) static int helper_fn(int x) { return x * 3 + glob; }
__attribute__((noinline)) static long other(long a, long b) { return a > b ? a - b : (b << 3) ^ a; }
long control(struct S *s) {
  long r = 0;
  if ((int)s->y > (int)s->x) r += 0x123456789abcLL;
  if ((u32)s->y <= 77) r -= 0x7fffffffffffffffLL;
  if (s->x & 4) r ^= s->p;
  if ((s32)s->w < -5) r |= 1;
  r += bpf_map_lookup_elem(&counters, &r) != 0;
  r += bpf_ktime_get_ns();
  r += helper_fn(s->y);
  r += other(s->x, s->p);
  r += bpf_kfunc_example(r);
  for (int i = 0; i < (int)(s->c & 15); i++) r = r * 31 + i;
  return r;
}
"#;

/// Forms C does not produce: legacy packet loads, gotol, callx, may_goto,
/// shifts and negation at both widths.
const ASSEMBLY: &str = "\t.text\n\t.globl f\nf:\n\
\tr0 = *(u8 *)skb[0x10]\n\tr0 = *(u16 *)skb[r1]\n\tr0 = *(u32 *)skb[r7]\n\
\tr0 = -r0\n\tw0 = -w0\n\tr0 s>>= 3\n\tw1 s>>= w2\n\tw3 <<= 4\n\tr3 >>= r4\n\
\tw0 = (s8)w1\n\tw0 = (s16)w1\n\tr0 = (s8)r1\n\
\tr0 = be16 r0\n\tr0 = le64 r0\n\tr0 = be32 r0\n\tr5 = bswap32 r5\n\
\tr1 = *(s32 *)(r2 - 4)\n\tr1 = *(s8 *)(r2 + 32767)\n\t*(u32 *)(r10 - 8) = 5\n\t*(u64 *)(r10 - 32768) = -7\n\
\tgotol +2\n\tgoto +1\n\tcallx r2\n\tmay_goto +1\n\tif r1 & 0x4 goto +1\n\tif w1 s>= -5 goto -3\n\
\tif r1 != r2 goto +0\n\tif w1 s< w2 goto +0\n\tif w1 <= 7 goto +0\n\
\tr1 = -1 ll\n\tr0 = 0x80000000\n\tr0 = -1\n\tw0 = 0xffffffff\n\tw0 %= w1\n\tr0 /= 3\n\
\tcall 6\n\texit\n";

/// Compiles `src` (C or assembly) into `dir/name.o` and returns the path.
fn compile(dir: &Path, name: &str, ext: &str, src: &str, cpu: &str) -> PathBuf {
    let source = dir.join(format!("{name}.{ext}"));
    std::fs::write(&source, src).unwrap();
    let obj = dir.join(format!("{name}.o"));
    run(Command::new(CLANG)
        .args(["-O2", "-target", "bpf", &format!("-mcpu={cpu}"), "-c"])
        .arg(&source)
        .arg("-o")
        .arg(&obj));
    obj
}

fn text_bytes(obj: &Path) -> Vec<u8> {
    let bin = obj.with_extension("bin");
    run(Command::new(OBJCOPY)
        .args(["-O", "binary", "--only-section=.text"])
        .arg(obj)
        .arg(&bin));
    std::fs::read(bin).unwrap()
}

fn objdump(obj: &Path, raw: bool) -> String {
    let mut cmd = Command::new(OBJDUMP);
    cmd.args(["-d", "--mattr=+alu32"]);
    if !raw {
        cmd.arg("--no-show-raw-insn");
    }
    String::from_utf8(run(cmd.arg(obj))).unwrap()
}

/// LLVM's text of one instruction, rewritten where our syntax deliberately
/// differs: decimal jump offsets, decimal helper ids, `call pc+N` for local
/// calls, `r` registers in loads and stores.
fn normalize_llvm(text: &str, insn: &Insn) -> String {
    let mut t = text.trim().to_string();
    if let Some(lt) = t.rfind(" <") {
        if t.ends_with('>') {
            t.truncate(lt);
        }
    }
    let hex_to_dec = |s: &str| -> String {
        let (sign, mag) = match s.as_bytes()[0] {
            b'+' | b'-' => (&s[..1], &s[1..]),
            _ => ("", s),
        };
        match mag.strip_prefix("0x") {
            Some(h) => format!("{sign}{}", i64::from_str_radix(h, 16).unwrap()),
            None => s.to_string(),
        }
    };
    match insn {
        Insn::Ja { .. } | Insn::Jump { .. } | Insn::MayGoto { .. } => {
            let (head, off) = t.rsplit_once(' ').unwrap();
            t = format!("{head} {}", hex_to_dec(off));
        }
        Insn::Call(CallTarget::Helper(_)) => t = format!("call {}", hex_to_dec(&t[5..])),
        Insn::Call(CallTarget::Local(off)) => {
            t = format!(
                "call pc{}",
                if *off < 0 {
                    format!("{off}")
                } else {
                    format!("+{off}")
                }
            )
        }
        Insn::Load { dst, .. } => {
            t = t.replacen(
                &format!("w{}", dst.index()),
                &format!("r{}", dst.index()),
                1,
            )
        }
        _ => {}
    }
    t
}

#[test]
fn llvm_objdump_listings_assemble_to_the_object_bytes() {
    for tool in [CLANG, OBJDUMP, OBJCOPY] {
        if !have(tool) {
            println!("skipped: {tool} not found");
            return;
        }
    }
    let dir = scratch();
    let objects = [
        compile(&dir, "atomics_v3", "c", &format!("{TYPES}{ATOMICS}"), "v3"),
        compile(&dir, "atomics_v4", "c", &format!("{TYPES}{ATOMICS}"), "v4"),
        compile(&dir, "signext", "c", &format!("{TYPES}{SIGNEXT}"), "v4"),
        compile(&dir, "control_v2", "c", &format!("{TYPES}{CONTROL}"), "v2"),
        compile(&dir, "control_v4", "c", &format!("{TYPES}{CONTROL}"), "v4"),
        compile(&dir, "forms", "s", ASSEMBLY, "v4"),
    ];
    let mut total = 0;
    let mut compared_text = 0;
    for obj in &objects {
        let name = obj.file_name().unwrap().to_string_lossy().to_string();
        let bytes = text_bytes(obj);
        let reference = decode(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));

        // The full listing, byte columns and all.
        let listing = objdump(obj, true);
        let ours = assemble_as(&listing, Syntax::Linux).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(encode(&ours), bytes, "{name}");
        assert_eq!(ours, reference, "{name}");
        assert_eq!(
            assemble(&listing).unwrap(),
            reference,
            "{name}: detected syntax"
        );

        // Without byte columns a local or kfunc call reads as a helper
        // call (LLVM prints them alike); everything else is the same.
        let bare = assemble_as(&objdump(obj, false), Syntax::Linux)
            .unwrap_or_else(|e| panic!("{name} (no raw bytes): {e}"));
        let as_helpers: Vec<Insn> = reference
            .iter()
            .map(|i| match *i {
                Insn::Call(CallTarget::Local(n))
                | Insn::Call(CallTarget::Kfunc { btf_id: n, .. }) => {
                    Insn::Call(CallTarget::Helper(n))
                }
                other => other,
            })
            .collect();
        assert_eq!(bare, as_helpers, "{name} (no raw bytes)");

        // Our text matches LLVM's line for line, up to the normalization.
        let mut pc = 0;
        for line in objdump(obj, false).lines() {
            let Some((addr, text)) = line.split_once(":\t") else {
                continue;
            };
            let Ok(at) = addr.trim().parse::<usize>() else {
                continue;
            };
            assert_eq!(at, pc, "{name}: listing pc");
            let insn = &reference[pc];
            assert_eq!(
                format_insn(insn, Syntax::Linux),
                normalize_llvm(text, insn),
                "{name} pc {pc}"
            );
            pc += insn.slots();
            compared_text += 1;
        }
        total += reference.len();
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{total} slots from {} objects, {compared_text} lines compared with LLVM's text",
        objects.len()
    );
}
