//! Context accesses of tracepoint, perf_event, sock_ops and raw_tracepoint
//! programs, judged by the kernel and by us: every read and write size at
//! offsets around the fields' edges. Where we are stricter, deliberately:
//! Linux accepts tracepoint reads at negative offsets (an unsigned
//! comparison in its check), which read before the record; sock_ops'
//! socket and packet pointers are not modelled; `skb_tcp_flags` is read
//! whole only; cgroup_sock's fields are read whole only.

mod common;

use common::*;
use ebee_isa::Size;
use ebee_verifier::{verify, Maps, Options, Program, ProgramType};

#[test]
fn tracing_context_accesses_match_the_kernel() {
    if let Err(e) = kernel::available() {
        println!("skipped: bpf(2) unavailable: {e}");
        return;
    }
    let maps = Maps::new();
    let offsets: &[i16] = &[
        -8, 0, 1, 2, 3, 4, 6, 7, 8, 12, 16, 18, 20, 22, 24, 26, 28, 40, 44, 46, 48, 49, 50, 52, 56,
        72, 74, 76, 78, 80, 160, 164, 166, 168, 172, 176, 184, 192, 200, 208, 212, 213, 214, 216,
        224, 88, 92, 96, 170, 180, 2040, 2044, 2046, 2048, 4096, 8184, 8190, 8192, 16384,
    ];
    let sizes = [Size::B, Size::H, Size::W, Size::DW];
    let (mut total, mut agree) = (0, 0);
    let mut mismatches = vec![];
    for t in [5u32, 7, 9, 13, 17] {
        let pt = ProgramType::from_kernel(t).unwrap();
        for &off in offsets {
            for size in sizes {
                for write in [false, true] {
                    let access = if write {
                        st(size, 1, off, 0)
                    } else {
                        ldx(size, 0, 1, off)
                    };
                    let insns = prog![access, mov(0, 0), exit()];
                    let k = kernel::load(t, &ebee_isa::encode(&insns));
                    let v = verify(&Program::new(&insns, &pt, &maps), &Options::default());
                    total += 1;
                    let stricter = k.is_ok()
                        && !v.verdict.is_accepted()
                        && ((t == 5 && off < 0)
                            || (t == 13 && matches!(off, 184 | 192 | 200 | 212))
                            || (t == 9 && !write && matches!(size, Size::B | Size::H)));
                    if k.is_ok() == v.verdict.is_accepted() || stricter {
                        agree += 1;
                    } else {
                        mismatches.push(format!(
                            "{} {} {size:?} at {off}: kernel {:?}, ebee {:?}",
                            pt.name,
                            if write { "write" } else { "read" },
                            k.err(),
                            v.verdict.rejection().map(|r| r.to_string())
                        ));
                    }
                }
            }
        }
    }
    println!("tracing contexts: {agree}/{total} agree");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn exit_values_match_the_kernel() {
    if let Err(e) = kernel::available() {
        println!("skipped: bpf(2) unavailable: {e}");
        return;
    }
    let maps = Maps::new();
    let mut mismatches = vec![];
    for t in [5u32, 7, 9, 13, 17] {
        let pt = ProgramType::from_kernel(t).unwrap();
        for r0 in [0, 1, 2, -1] {
            let insns = prog![mov(0, r0), exit()];
            let k = kernel::load(t, &ebee_isa::encode(&insns));
            let v = verify(&Program::new(&insns, &pt, &maps), &Options::default());
            if k.is_ok() != v.verdict.is_accepted() {
                mismatches.push(format!("{} exit {r0}: kernel {:?}", pt.name, k.err()));
            }
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
