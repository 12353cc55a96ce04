//! Compiles the clang-built 1,000-instruction program (or the generated
//! one) over and over, for profiling the JIT's compile time:
//! `perf record -g target/release/examples/compile_loop [checked|verified] [clang|generated|xdp_parse|tiny] [N] [unoptimised]`.

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::Vm;
use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let options = match args.get(1).map(String::as_str) {
        Some("verified") => JitOptions::VERIFIED,
        _ => JitOptions::CHECKED,
    };
    let vm = match args.get(2).map(String::as_str) {
        Some("generated") => Vm::new(ebee_bench::compile_time::generated_program(1000))?,
        Some("xdp_parse") => Vm::from_bytes(ebee_bench::program::XDP_PARSE.bytecode)?,
        Some("tiny") => Vm::new(ebee_isa::assemble("r0 = 0\nexit")?)?,
        _ => Vm::from_bytes(ebee_bench::program::UNROLLED_MIX.bytecode)?,
    };
    let n: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(200);
    let options = JitOptions {
        optimize: args.get(4).map(String::as_str) != Some("unoptimised"),
        ..options
    };
    let mut best = Duration::MAX;
    for _ in 0..n {
        best = best.min(JitProgram::compile(&vm, options)?.compile_time());
    }
    // And how fast the code runs: best of 20 batches of 1,000 runs.
    let prog = JitProgram::compile(
        &vm,
        JitOptions {
            checked: true,
            ..options
        },
    )?;
    let mut mem = ebee_bench::input::with_header(1000, 64);
    let mut run_best = Duration::MAX;
    for _ in 0..20 {
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            std::hint::black_box(prog.run(std::hint::black_box(&mut mem))?);
        }
        run_best = run_best.min(t.elapsed() / 1000);
    }
    println!(
        "{} insns, {n} compiles, best {:.3} ms; a checked run takes {:?}",
        vm.insns().len(),
        best.as_secs_f64() * 1e3,
        run_best
    );
    Ok(())
}
