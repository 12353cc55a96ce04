//! Timing: warm up, then rounds that visit every engine in turn, keeping
//! each engine's fastest run.
//!
//! Interleaving the engines within each round spreads the machine's noise
//! (other processes, frequency changes) over all columns alike; the minimum
//! over rounds is the run least disturbed by it.

use crate::benchmark::{Benchmark, Scale};
use crate::clock::Clock;
use crate::engine::{Engine, Loaded};
use std::hint::black_box;
use std::time::Duration;

/// How to measure.
#[derive(Debug, Clone, Copy)]
pub struct MeasureOptions {
    /// Timed rounds after the warm-up (at least one is run).
    pub rounds: usize,
    /// Shortest sample: fast runs are repeated until a sample takes about
    /// this long, and the sample's time is divided by the repetitions.
    pub min_sample: Duration,
    /// Input size.
    pub scale: Scale,
    /// What samples are timed with.
    pub clock: Clock,
}

impl Default for MeasureOptions {
    fn default() -> MeasureOptions {
        MeasureOptions {
            rounds: 10,
            min_sample: Duration::from_millis(2),
            scale: Scale::Full,
            clock: Clock::best_available(),
        }
    }
}

/// One engine's outcome on one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Every run returned the native result; the fastest run took `best`.
    Timed {
        /// Minimum time of one run over the rounds.
        best: Duration,
        /// `r0` of the runs.
        result: u64,
    },
    /// The engine could not load or run the program, or got another result
    /// than native code.
    Failed(String),
}

impl Cell {
    /// The best time, if the engine ran correctly.
    pub fn time(&self) -> Option<Duration> {
        match self {
            Cell::Timed { best, .. } => Some(*best),
            Cell::Failed(_) => None,
        }
    }
}

/// One benchmark's outcome on every engine, in engine order.
#[derive(Debug, Clone)]
pub struct Row {
    /// The benchmark.
    pub bench: Benchmark,
    /// The native result every engine must return.
    pub expected: u64,
    /// One cell per engine.
    pub cells: Vec<Cell>,
}

struct Slot {
    loaded: Box<dyn Loaded>,
    iters: u32,
    best: Duration,
    result: u64,
}

/// Measures `bench` on every engine.
pub fn measure(bench: &Benchmark, engines: &[Box<dyn Engine>], options: MeasureOptions) -> Row {
    let mut mem = bench.input(options.scale);
    let expected = (bench.native)(&mut mem.clone());

    // Load, warm up (one run, which also checks the result), calibrate.
    let mut slots: Vec<Result<Slot, String>> = engines
        .iter()
        .map(|engine| {
            let mut loaded = engine.load(bench).map_err(|e| e.to_string())?;
            let result = run_checked(&mut *loaded, &mut mem, expected)?;
            let start = options.clock.start();
            run_checked(&mut *loaded, &mut mem, expected)?;
            let once = start.elapsed().max(Duration::from_nanos(1));
            let iters = (options.min_sample.as_nanos() / once.as_nanos()).clamp(1, 1_000_000);
            Ok(Slot {
                loaded,
                iters: iters as u32,
                best: Duration::MAX,
                result,
            })
        })
        .collect();

    let count = slots.len();
    for round in 0..options.rounds.max(1) {
        for k in 0..count {
            let slot = match &mut slots[(k + round) % count] {
                Ok(slot) => slot,
                Err(_) => continue,
            };
            match time_sample(slot, &mut mem, options.clock) {
                Ok(per_run) => slot.best = slot.best.min(per_run),
                Err(message) => slots[(k + round) % count] = Err(message),
            }
        }
    }

    let cells = slots
        .into_iter()
        .map(|slot| match slot {
            Ok(slot) => Cell::Timed {
                best: slot.best,
                result: slot.result,
            },
            Err(message) => Cell::Failed(message),
        })
        .collect();
    Row {
        bench: *bench,
        expected,
        cells,
    }
}

/// Runs once and insists on the native result.
fn run_checked(loaded: &mut dyn Loaded, mem: &mut [u8], expected: u64) -> Result<u64, String> {
    let result = loaded.run(mem).map_err(|e| e.to_string())?;
    if result == expected {
        Ok(result)
    } else {
        Err(format!(
            "wrong result {result:#x}, native code gives {expected:#x}"
        ))
    }
}

/// One sample: `slot.iters` runs back to back; the time of one run.
fn time_sample(slot: &mut Slot, mem: &mut [u8], clock: Clock) -> Result<Duration, String> {
    if let Some(timed) = slot.loaded.time_runs(mem, slot.iters) {
        let (result, per_run) = timed.map_err(|e| e.to_string())?;
        if result != slot.result {
            return Err(format!(
                "wrong result {result:#x} in a timed run, the first run gave {:#x}",
                slot.result
            ));
        }
        return Ok(per_run);
    }
    let start = clock.start();
    for _ in 0..slot.iters {
        let result = black_box(slot.loaded.run(black_box(&mut *mem))).map_err(|e| e.to_string())?;
        if result != slot.result {
            return Err(format!(
                "wrong result {result:#x} in a timed run, the first run gave {:#x}",
                slot.result
            ));
        }
    }
    Ok(start.elapsed() / slot.iters)
}
