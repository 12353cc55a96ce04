//! The agreement table as a test: every program of the shared sample
//! corpus judged by this machine's kernel (maps created for real) and by
//! ebee's verifier. Asserts what is reached so far and must not regress:
//! ebee accepts nothing the kernel rejects as unsafe and nothing PREVAIL
//! marks `reject`, and accepts at least as many of the kernel's accepts as
//! when this was last measured. (The full table, at the kernel's
//! 1,000,000-instruction budget and with times:
//! `cargo run --release -p ebee-verifier --example agreement`.)

#[path = "support/agreement.rs"]
mod agreement;

/// Kernel-accepted programs ebee accepted when last measured at the
/// budget below (all 267, as at the full budget); raise it as the
/// verifier improves.
const BOTH_ACCEPT_FLOOR: usize = 267;

#[test]
fn sample_corpus_agrees_with_the_kernel_and_prevail() {
    let root = agreement::corpus_root();
    if !root.join("PREVAIL_EXPECTATIONS.tsv").exists() {
        println!("skipped: corpus not found at {}", root.display());
        return;
    }
    // A smaller budget than Linux's keeps the test quick: the most any
    // accepted program takes is 48,885 instructions (Cilium's
    // bpf_lxc_jit.o 2/7), so this one cuts short only programs that never
    // finish.
    let opts = ebee_verifier::Options {
        max_insns: 100_000,
        ..ebee_verifier::Options::default()
    };
    let rows = match agreement::run(&root, &opts) {
        Ok(r) => r,
        Err(e) => {
            println!("skipped: {e}");
            return;
        }
    };
    println!("{}", agreement::table(&rows, false));
    let problems = agreement::disagreements(&rows);
    for p in &problems {
        println!("{p}");
    }
    let total = agreement::totals(&rows).pop().unwrap().1;
    assert!(
        total.programs > 300,
        "only {} programs judged",
        total.programs
    );
    let unsafe_accepts: Vec<&String> = problems
        .iter()
        .filter(|p| p.starts_with("UNSAFE") || p.starts_with("ACCEPTS PREVAIL"))
        .collect();
    assert!(unsafe_accepts.is_empty(), "{unsafe_accepts:#?}");
    assert!(
        total.both_accept >= BOTH_ACCEPT_FLOOR,
        "ebee accepts {} of the kernel's {} accepts, fewer than the {BOTH_ACCEPT_FLOOR} reached before",
        total.both_accept,
        total.k_accept
    );
}
