//! `ebee-bench`: prints the benchmark table.

use anyhow::{bail, Result};
use clap::Parser;
use ebee_bench::benchmark::{self, Scale};
use ebee_bench::clock::Clock;
use ebee_bench::engine;
use ebee_bench::measure::{measure, MeasureOptions};
use ebee_bench::report::{format_duration, render, Style};
use std::io::Write;
use std::time::{Duration, Instant};

/// Times the clang-built benchmark programs on every engine and prints the
/// times (minimum over interleaved rounds) and the ratios the project
/// tracks. Build with --release.
#[derive(Parser)]
#[command(name = "ebee-bench")]
struct Args {
    /// Only the benchmarks whose name contains this.
    filter: Option<String>,
    /// Timed rounds per benchmark (after one warm-up run per engine).
    #[arg(long, default_value_t = 20)]
    rounds: usize,
    /// Only these engines (comma-separated names, see --list).
    #[arg(long, value_delimiter = ',')]
    engines: Vec<String>,
    /// Print Markdown tables (for the README).
    #[arg(long)]
    markdown: bool,
    /// Time with the wall clock instead of the thread's CPU time.
    #[arg(long)]
    wall_clock: bool,
    /// Run the tiny inputs of the agreement test instead (quick smoke run).
    #[arg(long)]
    tiny: bool,
    /// List benchmarks and engines, then exit.
    #[arg(long)]
    list: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    let mut engines = engine::all();
    let benches: Vec<_> = benchmark::all()
        .into_iter()
        .filter(|b| {
            args.filter
                .as_ref()
                .is_none_or(|f| b.name.contains(f.as_str()))
        })
        .collect();
    if args.list {
        for b in benchmark::all() {
            println!("benchmark {:<14} {}", b.name, b.description);
        }
        for e in &engines {
            println!("engine    {}", e.name());
        }
        return Ok(());
    }
    if !args.engines.is_empty() {
        for wanted in &args.engines {
            if !engines.iter().any(|e| e.name() == wanted) {
                let known: Vec<_> = engines.iter().map(|e| e.name()).collect();
                bail!("no engine named {wanted:?}; known: {}", known.join(", "));
            }
        }
        engines.retain(|e| args.engines.iter().any(|w| w == e.name()));
    }
    if benches.is_empty() {
        bail!(
            "no benchmark name contains {:?} (see --list)",
            args.filter.unwrap_or_default()
        );
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; run with --release for meaningful numbers");
    }

    let options = MeasureOptions {
        rounds: args.rounds,
        min_sample: Duration::from_millis(2),
        scale: if args.tiny { Scale::Tiny } else { Scale::Full },
        clock: if args.wall_clock {
            Clock::Wall
        } else {
            Clock::best_available()
        },
    };
    let started = Instant::now();
    let mut rows = Vec::new();
    for bench in &benches {
        eprint!("{} ... ", bench.name);
        let _ = std::io::stderr().flush();
        let t = Instant::now();
        rows.push(measure(bench, &engines, options));
        eprintln!("{:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!("total {:.1} s\n", started.elapsed().as_secs_f64());

    let names: Vec<&str> = engines.iter().map(|e| e.name()).collect();
    let style = if args.markdown {
        Style::Markdown
    } else {
        Style::Text
    };
    if let Some(cpu) = cpu_model() {
        println!("cpu: {cpu}\n");
    }
    println!("clock: {}\n", options.clock.describe());
    print!("{}", render(&rows, &names, args.rounds, style));
    if !args.tiny {
        print_compile_times(&benches, style);
    }
    Ok(())
}

/// The JIT compile time of each program (minimum of 10 compilations).
fn print_compile_times(benches: &[ebee_bench::benchmark::Benchmark], style: Style) {
    let times = ebee_bench::compile_time::all(benches, 10);
    println!();
    println!("JIT compile time (minimum of 10 compilations):");
    println!();
    if style == Style::Markdown {
        println!("| program | insns | checked | verified | checked, unoptimised | verified, unoptimised |");
        println!("|:--|--:|--:|--:|--:|--:|");
    }
    for t in times {
        match t {
            Ok(t) => {
                let [c, v, cu, vu] = [
                    t.checked,
                    t.verified,
                    t.checked_unoptimised,
                    t.verified_unoptimised,
                ]
                .map(format_duration);
                if style == Style::Markdown {
                    println!("| {} | {} | {c} | {v} | {cu} | {vu} |", t.name, t.insns);
                } else {
                    println!(
                        "{:<24} {:>5} insns  checked {c:>9}  verified {v:>9}  \
                         unoptimised: checked {cu:>9}  verified {vu:>9}",
                        t.name, t.insns
                    );
                }
            }
            Err(e) => println!("compile failed: {e}"),
        }
    }
}

/// The processor's name, from /proc/cpuinfo where there is one.
fn cpu_model() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|m| m.trim().to_string())
}
