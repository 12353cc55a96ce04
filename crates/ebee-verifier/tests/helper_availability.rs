//! Which helpers each program type may call, compared with the kernel:
//! a program calling the helper with no arguments set is loaded; the kernel
//! refuses an unavailable helper before looking at arguments ("unknown
//! func", "cannot use helper"), so that part of its answer is comparable.

mod common;

use common::*;
use ebee_verifier::helpers::HELPERS;
use ebee_verifier::{verify, Maps, Options, Program, ProgramType};

#[test]
fn helper_availability_matches_the_kernel() {
    if let Err(e) = kernel::available() {
        println!("skipped: bpf(2) unavailable: {e}");
        return;
    }
    let maps = Maps::new();
    let mut mismatches = vec![];
    let (mut agree, mut total) = (0, 0);
    for t in [1u32, 2, 3, 5, 6, 7, 8, 9, 13, 17] {
        let pt = ProgramType::from_kernel(t).unwrap();
        for h in HELPERS {
            let insns = prog![call(h.id as i32), mov(0, 0), exit()];
            let k = kernel::load(t, &ebee_isa::encode(&insns));
            let kernel_refuses = matches!(&k, Err(log) if log.contains("unknown func") || log.contains("cannot use helper") || log.contains("invalid func"));
            let v = verify(&Program::new(&insns, &pt, &maps), &Options::default());
            let we_refuse = v.verdict.rejection().is_some_and(|r| {
                r.message.contains("may not call") || r.message.contains("unknown helper")
            });
            total += 1;
            if kernel_refuses == we_refuse {
                agree += 1;
            } else {
                mismatches.push(format!(
                    "{} bpf_{}#{}: kernel refuses={kernel_refuses} ({:?}), we refuse={we_refuse}",
                    pt.name,
                    h.name,
                    h.id,
                    k.err().map(|e| e.chars().take(120).collect::<String>())
                ));
            }
        }
    }
    println!("helper availability: {agree}/{total} agree");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
