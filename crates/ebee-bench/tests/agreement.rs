//! Every engine computes the same result on every benchmark program, with
//! tiny inputs; and the native twins agree with independent computations
//! (std's ilog2, slice comparison, known prime counts), so the agreement
//! means the clang-built bytecode ran correctly.

use ebee_bench::benchmark::{self, Benchmark, Scale};
use ebee_bench::engine;
use ebee_bench::input::{self, HEADER_LEN};

/// The engines for the per-program checks below: all but the kernel column
/// (which only runs kernel-form programs; see the first test).
fn engines() -> Vec<Box<dyn engine::Engine>> {
    engine::all()
        .into_iter()
        .filter(|e| e.name() != "kernel-jit")
        .collect()
}

fn bench(name: &str) -> Benchmark {
    benchmark::all()
        .into_iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("no benchmark {name}"))
}

#[test]
fn every_engine_returns_the_native_result_on_every_program() {
    let engines = engine::all();
    assert!(engines.iter().any(|e| e.name() == "native"));
    assert!(
        engines.len() >= 3,
        "at least rbpf-interp and native besides"
    );
    for bench in benchmark::all() {
        let expected = (bench.native)(&mut bench.input(Scale::Tiny));
        for engine in &engines {
            let mut loaded = match engine.load(&bench) {
                Ok(loaded) => loaded,
                // The kernel column exists only for kernel-form programs
                // (and a kernel with BPF), rbpf's only for raw ones.
                Err(e) if e.0.starts_with("n/a:") => {
                    // A kernel-form program (raw with a kernel twin, or an
                    // object) must load in the kernel where XDP programs
                    // do; rbpf has no maps, so objects are n/a there; every
                    // other cell must load.
                    let kernel_form = bench.kernel_xdp.is_some()
                        || matches!(bench.program, ebee_bench::program::Code::Object(_));
                    let must_load = match engine.name() {
                        "kernel-jit" => {
                            kernel_form
                                && ebee_kernel::probe_program_type(ebee_kernel::ProgramType::Xdp)
                                    .is_ok()
                        }
                        name => !(name.starts_with("rbpf") && bench.program.raw().is_none()),
                    };
                    assert!(!must_load, "{} on {}: {e}", engine.name(), bench.name);
                    println!("skipped: {} on {}: {e}", engine.name(), bench.name);
                    continue;
                }
                Err(e) => panic!("{} cannot load {}: {e}", engine.name(), bench.name),
            };
            // Twice on one buffer (the timed loop reuses it), once fresh.
            let mut mem = bench.input(Scale::Tiny);
            for run in 0..2 {
                let got = loaded
                    .run(&mut mem)
                    .unwrap_or_else(|e| panic!("{} on {}: {e}", engine.name(), bench.name));
                assert_eq!(
                    got,
                    expected,
                    "{} on {} (run {run}): {got:#x}, native {expected:#x}",
                    engine.name(),
                    bench.name
                );
            }
        }
    }
}

#[test]
fn primes_counts_the_primes_below_the_bound() {
    let primes = bench("primes");
    // pi(200) = 46, pi(1000) = 168, pi(2) = 0, pi(3) = 1.
    for (bound, count) in [(200u64, 46u64), (1000, 168), (2, 0), (3, 1)] {
        for engine in engines() {
            let mut loaded = engine.load(&primes).unwrap();
            let got = loaded.run(&mut input::primes(bound)).unwrap();
            assert_eq!(got, count, "{} counts primes below {bound}", engine.name());
        }
    }
}

#[test]
fn byte_copy_copies_and_sums_on_every_engine() {
    let copy = bench("byte_copy");
    for engine in engines() {
        let mut mem = copy.input(Scale::Tiny);
        let n = copy.tiny_n as usize;
        let src = mem[HEADER_LEN..HEADER_LEN + n].to_vec();
        let sum: u64 = src.iter().map(|&b| u64::from(b)).sum();
        assert!(mem[HEADER_LEN + n..].iter().all(|&b| b == 0));
        let got = engine.load(&copy).unwrap().run(&mut mem).unwrap();
        assert_eq!(got, sum, "{}", engine.name());
        assert_eq!(&mem[HEADER_LEN + n..], &src[..], "{} copied", engine.name());
    }
}

#[test]
fn strcmp_matches_the_first_differing_byte() {
    for name in ["strcmp_equal", "strcmp_differ"] {
        let strcmp = bench(name);
        let mem = strcmp.input(Scale::Tiny);
        let n = strcmp.tiny_n as usize;
        let (a, b) = mem[HEADER_LEN..].split_at(n);
        let want = a
            .iter()
            .zip(b)
            .find(|(x, y)| x != y || **x == 0)
            .map(|(&x, &y)| (i64::from(x) - i64::from(y)) as u64)
            .unwrap_or(0);
        assert_eq!(want == 0, name == "strcmp_equal");
        for engine in engines() {
            let got = engine.load(&strcmp).unwrap().run(&mut mem.clone()).unwrap();
            assert_eq!(got, want, "{} on {name}", engine.name());
        }
    }
}

#[test]
fn log2_sums_std_ilog2() {
    let log2 = bench("log2");
    let mem = log2.input(Scale::Tiny);
    let want: u64 = mem[HEADER_LEN..]
        .chunks_exact(8)
        .map(|c| {
            u64::from(
                u64::from_le_bytes(c.try_into().unwrap())
                    .checked_ilog2()
                    .unwrap_or(0),
            )
        })
        .sum();
    for engine in engines() {
        let got = engine.load(&log2).unwrap().run(&mut mem.clone()).unwrap();
        assert_eq!(got, want, "{}", engine.name());
    }
}

#[test]
fn a_buffer_shorter_than_its_header_says_is_an_error_not_a_crash() {
    for name in ["byte_copy", "strcmp_equal", "switch64", "log2"] {
        let bench = bench(name);
        let mut mem = bench.input(Scale::Tiny);
        mem.truncate(HEADER_LEN + 16);
        mem[..HEADER_LEN].copy_from_slice(&(1u64 << 20).to_le_bytes());
        assert!(!bench.fits(&mem));
        for engine in engines() {
            if engine.name() == "native" {
                continue; // clamps to the buffer by construction
            }
            let result = engine.load(&bench).unwrap().run(&mut mem);
            assert!(
                result.is_err(),
                "{} on {name} returned {result:?}",
                engine.name()
            );
        }
    }
}

/// The packet mix exercises every verdict: some packets dropped, some
/// ports counted, and the kernel (where it runs XDP) agrees with the rest.
#[test]
fn xdp_parse_drops_some_packets_and_the_kernel_agrees() {
    let xdp = bench("xdp_parse");
    let mem = xdp.input(Scale::Full);
    let want = (xdp.native)(&mut mem.clone());
    let drops = want >> 16;
    assert!((1..32).contains(&drops), "{drops} drops of 32");
    for engine in engine::all() {
        match engine.load(&xdp) {
            Ok(mut loaded) => {
                let got = loaded.run(&mut mem.clone()).unwrap();
                assert_eq!(got, want, "{}", engine.name());
            }
            Err(e) => {
                assert_eq!(engine.name(), "kernel-jit", "{e}");
                assert!(
                    ebee_kernel::probe_program_type(ebee_kernel::ProgramType::Xdp).is_err(),
                    "{e}"
                );
                println!("skipped: kernel-jit: {e}");
            }
        }
    }
}
