//! The Linux syntax against the kernel's own printer: programs written in
//! our syntax are loaded with `BPF_PROG_LOAD` and a verifier log, and every
//! instruction line of the log (`12: (db) r2 = atomic64_fetch_add((u64 *)(r10 -8), r2)`)
//! must assemble back to the instruction we loaded at that pc.

use ebee_isa::asm::{assemble_as, Syntax};
use ebee_isa::{encode_program, Insn, RawInsn};

const BPF_PROG_LOAD: libc::c_long = 5;
const SOCKET_FILTER: u32 = 1;

/// The leading fields of `union bpf_attr` for `BPF_PROG_LOAD`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// Loads `insns` as a socket filter and returns the verifier log, or
/// `None` if this kernel has no BPF for us.
fn verifier_log(insns: &[Insn]) -> Option<String> {
    let slots: Vec<RawInsn> = encode_program(insns);
    let words: Vec<u64> = slots.iter().map(|s| s.to_u64()).collect();
    let license = b"GPL\0";
    let mut log = vec![0u8; 1 << 20];
    let attr = ProgLoadAttr {
        prog_type: SOCKET_FILTER,
        insn_cnt: words.len() as u32,
        insns: words.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 2,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid, fully initialized bpf_attr prefix whose
    // pointers (instructions, license, log buffer) outlive the call, and
    // the size passed is its size.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_PROG_LOAD,
            &attr as *const ProgLoadAttr,
            std::mem::size_of::<ProgLoadAttr>(),
        )
    };
    let errno = std::io::Error::last_os_error();
    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).into_owned();
    if fd < 0 {
        if matches!(
            errno.raw_os_error(),
            Some(libc::EPERM | libc::ENOSYS | libc::EACCES)
        ) {
            println!("skipped: bpf(BPF_PROG_LOAD) not permitted here ({errno})");
            return None;
        }
        panic!("the kernel rejected the program ({errno}):\n{text}");
    }
    // SAFETY: `fd` is the program fd the kernel just gave us.
    unsafe { libc::close(fd as i32) };
    Some(text)
}

/// Checks every `pc: (op) text` line of `log` against `insns`; returns how
/// many distinct pcs were checked.
fn check_log(log: &str, insns: &[Insn]) -> usize {
    let mut seen = std::collections::BTreeSet::new();
    for line in log.lines() {
        let Some((pc, rest)) = line.split_once(": (") else {
            continue;
        };
        let Ok(pc) = pc.parse::<usize>() else {
            continue;
        };
        if rest.as_bytes().get(2) != Some(&b')') {
            continue;
        }
        let got = assemble_as(line, Syntax::Linux)
            .unwrap_or_else(|e| panic!("verifier log line `{line}`: {e}"));
        assert_eq!(got[0], insns[pc], "verifier log line `{line}`");
        seen.insert(pc);
    }
    seen.len()
}

const PACKET_AND_ALU: &str = "
    r6 = r1
    r0 = *(u8 *)skb[0x10]
    r0 = *(u16 *)skb[0x2]
    r0 = *(u32 *)skb[0x0]
    r7 = 4
    r0 = *(u8 *)skb[r7 + 0x1]
    r0 = *(u16 *)skb[r7]
    r1 = 0x123456789abcdef ll
    *(u64 *)(r10 - 8) = r1
    *(u32 *)(r10 - 16) = 5
    *(u16 *)(r10 - 12) = -3
    *(u8 *)(r10 - 10) = 7
    r2 = 3
    lock *(u64 *)(r10 - 8) += r2
    lock *(u64 *)(r10 - 8) |= r2
    lock *(u64 *)(r10 - 8) &= r2
    lock *(u64 *)(r10 - 8) ^= r2
    r2 = atomic_fetch_add((u64 *)(r10 - 8), r2)
    r2 = atomic_fetch_xor((u64 *)(r10 - 8), r2)
    w3 = 1
    lock *(u32 *)(r10 - 16) += w3
    w3 = atomic_fetch_or((u32 *)(r10 - 16), w3)
    w3 = atomic_fetch_and((u32 *)(r10 - 16), w3)
    r2 = xchg_64(r10 - 8, r2)
    w3 = xchg32_32(r10 - 16, w3)
    r0 = 0
    r0 = cmpxchg_64(r10 - 8, r0, r2)
    w0 = cmpxchg32_32(r10 - 16, w0, w3)
    r4 = load_acquire((u64 *)(r10 - 8))
    w4 = load_acquire((u32 *)(r10 - 16))
    w4 = load_acquire((u8 *)(r10 - 10))
    store_release((u64 *)(r10 - 8), r4)
    store_release((u16 *)(r10 - 12), w4)
    r5 = *(s8 *)(r10 - 8)
    r5 = *(s16 *)(r10 - 8)
    r5 = *(s32 *)(r10 - 8)
    r5 = *(u32 *)(r10 - 8)
    r5 = (s8)r2
    r5 = (s16)r2
    r5 = (s32)r2
    w5 = (s8)w2
    w5 = (s16)w2
    r5 = be16 r5
    r5 = le32 r5
    r5 = bswap64 r5
    r5 = -r5
    w5 = -w5
    r5 s/= 3
    r5 s%= 5
    w5 s/= w2
    r5 s>>= 2
    w5 <<= 3
    r5 /= r2
    r5 %= r2
    r5 *= -7
    r5 ^= 0xff
    r5 |= r2
    r5 &= r2
    w5 += w2
    w5 -= 1
    if r5 > 0x5 goto +1
    r5 = 0
    if w5 s< w2 goto skip
    r5 = 1
skip:
    if r5 & 0x4 goto +0
    gotol +0
    goto +0
    may_goto +1
    r5 = 3
    call bpf_ktime_get_ns
    r0 = 0
    exit
";

const CALLS: &str = "
    r1 = 1
    call add_one       // a label: a local call
    call pc+5
    r0 &= 1
    exit
add_one:
    r0 = r1
    r0 += 1
    exit
    r0 = 7
    exit
";

#[test]
fn verifier_log_lines_assemble_to_the_loaded_instructions() {
    let mut total = 0;
    for (name, text) in [("packet_and_alu", PACKET_AND_ALU), ("calls", CALLS)] {
        let insns = assemble_as(text, Syntax::Linux).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(log) = verifier_log(&insns) else {
            return;
        };
        let n = check_log(&log, &insns);
        let real = insns.iter().filter(|i| **i != Insn::LdImm64Tail).count();
        // Every instruction is reachable in these programs.
        assert_eq!(
            n, real,
            "{name}: the log showed {n} of {real} instructions:\n{log}"
        );
        total += n;
    }
    println!("{total} verifier log lines assembled back to the loaded instructions");
}
