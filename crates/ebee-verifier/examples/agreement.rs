//! The agreement table: every program of the shared sample corpus judged
//! by this machine's kernel (maps created for real) and by ebee's
//! verifier, with PREVAIL's recorded verdict, per project; then every
//! disagreement.
//!
//! `cargo run --release -p ebee-verifier --example agreement [-- --markdown] [--rows] [--only NAME-PART]`

#[path = "../tests/support/agreement.rs"]
mod agreement;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let markdown = args.iter().any(|a| a == "--markdown");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    let rows = match agreement::run_only(
        &agreement::corpus_root(),
        &ebee_verifier::Options::default(),
        &only,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot run: {e}");
            std::process::exit(1);
        }
    };
    print!("{}", agreement::table(&rows, markdown));
    println!();
    for d in agreement::disagreements(&rows) {
        println!("{d}");
    }
    if args.iter().any(|a| a == "--rows") {
        for r in &rows {
            println!(
                "{} | prevail {} | kernel {:?} insns {:?} time {:?} | ebee {:?} insns {} time {:?}",
                r.name(),
                r.exp.prevail,
                r.kernel,
                r.kernel_insns,
                r.kernel_time,
                r.ebee,
                r.ebee_insns,
                r.ebee_time
            );
        }
    }
}
