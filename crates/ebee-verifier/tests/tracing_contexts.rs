//! Context accesses of tracepoint, perf_event and raw_tracepoint programs,
//! judged by the kernel and by us: every read and write size at offsets
//! around the fields' edges. One difference is deliberate: Linux accepts
//! tracepoint reads at negative offsets (an unsigned comparison in its
//! check) and we do not, as they read before the record.

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
        -8, 0, 1, 2, 4, 6, 7, 8, 12, 88, 92, 96, 160, 164, 168, 170, 172, 176, 180, 184, 2040,
        2044, 2046, 2048, 4096, 8184, 8190, 8192, 16384,
    ];
    let sizes = [Size::B, Size::H, Size::W, Size::DW];
    let (mut total, mut agree) = (0, 0);
    let mut mismatches = vec![];
    for t in [5u32, 7, 17] {
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
                    let stricter = t == 5 && off < 0 && k.is_ok() && !v.verdict.is_accepted();
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
