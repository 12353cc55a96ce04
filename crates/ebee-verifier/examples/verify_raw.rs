//! Verify a raw instruction file (as `llvm-objcopy -O binary` extracts a
//! section) and print the verdict, statistics and optionally the log.
//!
//! `cargo run --example verify_raw -- <file.bin> <kernel prog type number> [--log]`

use ebee_verifier::{verify, Maps, Options, Program, ProgramType};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: verify_raw <file.bin> <prog type number> [--log]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1]).expect("read the file");
    let insns = match ebee_isa::decode(&bytes) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("decode: {e:?}");
            std::process::exit(1);
        }
    };
    let Some(pt) = args[2].parse().ok().and_then(ProgramType::from_kernel) else {
        eprintln!("unknown program type {}", args[2]);
        std::process::exit(2);
    };
    let opts = Options {
        log: args.iter().any(|a| a == "--log"),
        ..Options::default()
    };
    let maps = Maps::new();
    let v = verify(&Program::new(&insns, &pt, &maps), &opts);
    print!("{}", v.log);
    match v.verdict {
        ebee_verifier::Verdict::Accepted(s) => println!("accepted: {s:?}"),
        ebee_verifier::Verdict::Rejected(r) => println!("{r}"),
    }
}
