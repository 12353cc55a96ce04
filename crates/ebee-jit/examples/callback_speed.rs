//! Cost of a helper call and of a `bpf_loop` callback in the JIT (checked
//! and verified mode) and the interpreter: 1M iterations of a loop adding
//! `i` to a sum, written three ways (inline, calling an identity helper,
//! as a bpf_loop callback).
//! `cargo run --release -p ebee-jit --example callback_speed`.

use std::sync::Arc;
use std::time::Instant;

use ebee_jit::{JitOptions, JitProgram};
use ebee_runtime::helpers::{standard_helpers, HelperEnv};
use ebee_runtime::Vm;

const N: u64 = 1_000_000;

const INLINE: &str = "
    r6 = 0
    r7 = 0
loop:
    r0 = r6
    r7 += r0
    r6 += 1
    if r6 < 1000000 goto loop
    r0 = r7
    exit
";

const HELPER: &str = "
    r6 = 0
    r7 = 0
loop:
    r1 = r6
    call 4096
    r7 += r0
    r6 += 1
    if r6 < 1000000 goto loop
    r0 = r7
    exit
";

const CALLBACK: &str = "
    *(u64 *)(r10 - 8) = 0
    r1 = 1000000
    r2 = func(cb) ll
    r3 = r10
    r3 += -8
    r4 = 0
    call 181
    r0 = *(u64 *)(r10 - 8)
    exit
cb:
    r3 = *(u64 *)(r2 + 0)
    r3 += r1
    *(u64 *)(r2 + 0) = r3
    r0 = 0
    exit
";

/// Best of five runs, in ns per iteration.
fn time(run: impl Fn() -> u64) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        let r = run();
        best = best.min(t.elapsed().as_secs_f64());
        assert_eq!(r, (N - 1) * N / 2);
    }
    best * 1e9 / N as f64
}

fn main() {
    println!("ns per iteration | inline | helper call | bpf_loop callback");
    let engines = ["interpreter", "jit checked", "jit verified"];
    for engine in engines {
        let row: Vec<f64> = [INLINE, HELPER, CALLBACK]
            .iter()
            .map(|src| {
                let mut vm = Vm::new(ebee_isa::assemble(src).unwrap()).unwrap();
                vm.set_helpers(standard_helpers(&Arc::new(HelperEnv::default())));
                vm.helpers_mut().register(4096, "identity", |a| Ok(a[0]));
                vm.set_budget(u64::MAX);
                match engine {
                    "interpreter" => time(|| vm.run(&mut []).unwrap()),
                    _ => {
                        let checked = engine == "jit checked";
                        let options = if checked {
                            JitOptions::CHECKED
                        } else {
                            JitOptions::VERIFIED
                        };
                        let p = JitProgram::compile(&vm, options).unwrap();
                        time(|| {
                            if checked {
                                p.run(&mut []).unwrap()
                            } else {
                                // SAFETY: the programs touch only their own
                                // stack (the callback through a pointer to the
                                // caller's frame).
                                unsafe { p.run_unchecked(&mut []).unwrap() }
                            }
                        })
                    }
                }
            })
            .collect();
        println!(
            "{engine:>16} | {:6.1} | {:11.1} | {:17.1}",
            row[0], row[1], row[2]
        );
    }
}
