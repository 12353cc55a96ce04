//! What a sample's duration is measured with.
//!
//! On a loaded machine a wall-clock sample includes the time other
//! processes ran on our core; the thread's CPU time does not, so it is the
//! default where the platform has it (Linux and other Unix systems).

use std::time::{Duration, Instant};

/// A clock for timing samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// `CLOCK_THREAD_CPUTIME_ID`: time this thread spent running.
    ThreadCpu,
    /// [`Instant`]: elapsed real time.
    Wall,
}

/// A started measurement.
#[derive(Debug, Clone, Copy)]
pub enum Stamp {
    /// Thread CPU time at the start.
    ThreadCpu(Duration),
    /// Real time at the start.
    Wall(Instant),
}

impl Clock {
    /// The thread CPU clock where it works, else the wall clock.
    pub fn best_available() -> Clock {
        if thread_cpu_time().is_some() {
            Clock::ThreadCpu
        } else {
            Clock::Wall
        }
    }

    /// A short name for the table's heading.
    pub fn describe(self) -> &'static str {
        match self {
            Clock::ThreadCpu => "thread CPU time",
            Clock::Wall => "wall-clock time",
        }
    }

    /// Starts a measurement.
    pub fn start(self) -> Stamp {
        match self {
            Clock::ThreadCpu => Stamp::ThreadCpu(thread_cpu_time().unwrap_or_default()),
            Clock::Wall => Stamp::Wall(Instant::now()),
        }
    }
}

impl Stamp {
    /// Time since [`Clock::start`].
    pub fn elapsed(self) -> Duration {
        match self {
            Stamp::ThreadCpu(start) => thread_cpu_time().unwrap_or_default().saturating_sub(start),
            Stamp::Wall(start) => start.elapsed(),
        }
    }
}

#[cfg(unix)]
fn thread_cpu_time() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call's duration;
    // clock_gettime writes only to it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return None;
    }
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

#[cfg(not(unix))]
fn thread_cpu_time() -> Option<Duration> {
    None
}
