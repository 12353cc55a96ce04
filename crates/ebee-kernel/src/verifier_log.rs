//! The kernel verifier's log: its text, and the statistics it ends with.
//!
//! Whatever the outcome, the verifier's log ends with a line like
//!
//! ```text
//! processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0
//! ```
//!
//! and, when the stats log level (4) is on, `verification time N usec` and
//! `stack depth A+B+...` lines. [`VerifierStats`] is those lines parsed,
//! the numbers ebee's own verifier is compared with.

use std::fmt;
use std::time::Duration;

/// Verifier log verbosity (`log_level` of `BPF_PROG_LOAD`), a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogLevel(pub u32);

impl LogLevel {
    /// No log at all.
    pub const NONE: LogLevel = LogLevel(0);
    /// Level 1: on rejection, the path that led to the error.
    pub const BASIC: LogLevel = LogLevel(1);
    /// Level 2: every instruction of every explored path with its state.
    pub const VERBOSE: LogLevel = LogLevel(2);
    /// Statistics: verification time and stack depth (`BPF_LOG_STATS`).
    pub const STATS: LogLevel = LogLevel(4);

    /// Both sets of bits.
    pub const fn with(self, other: LogLevel) -> LogLevel {
        LogLevel(self.0 | other.0)
    }
}

impl Default for LogLevel {
    /// [`LogLevel::BASIC`] with [`LogLevel::STATS`]: the error path on
    /// rejection, the statistics always.
    fn default() -> LogLevel {
        LogLevel::BASIC.with(LogLevel::STATS)
    }
}

/// The text the verifier wrote, with its parsed statistics if it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifierLog {
    text: String,
    /// The log's `processed N insns ...` line and its companions, parsed.
    pub stats: Option<VerifierStats>,
    /// Whether the log was cut short (the buffer limit was reached).
    pub truncated: bool,
}

impl VerifierLog {
    /// A log from the bytes the kernel wrote (up to the first NUL).
    pub fn from_bytes(bytes: &[u8], truncated: bool) -> VerifierLog {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let text = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let stats = VerifierStats::parse(&text);
        VerifierLog {
            text,
            stats,
            truncated,
        }
    }

    /// The whole log.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the kernel wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }

    /// The last `n` lines that say something: neither blank nor one of the
    /// statistics lines every log ends with. On a rejection these are the
    /// failing instruction and the verifier's reason.
    pub fn last_meaningful_lines(&self, n: usize) -> Vec<&str> {
        let mut lines: Vec<&str> = self
            .text
            .lines()
            .rev()
            .filter(|l| !l.trim().is_empty() && !is_stats_line(l))
            .take(n)
            .collect();
        lines.reverse();
        lines
    }
}

impl fmt::Display for VerifierLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        if self.truncated {
            f.write_str("\n(log truncated)")?;
        }
        Ok(())
    }
}

fn is_stats_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("processed ")
        || l.starts_with("verification time ")
        || l.starts_with("stack depth ")
}

/// The verifier's own account of its work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifierStats {
    /// Instructions processed (the same number as `verified_insns` in
    /// `bpf_prog_info`), counted over all explored paths.
    pub insns_processed: u64,
    /// The processed-instruction limit (1 000 000 for privileged loads).
    pub insn_limit: u64,
    /// `max_states_per_insn`.
    pub max_states_per_insn: u64,
    /// `total_states`: states stored for pruning.
    pub total_states: u64,
    /// `peak_states`: most states alive at once.
    pub peak_states: u64,
    /// `mark_read`, on kernels that still print it.
    pub mark_read: Option<u64>,
    /// `verification time`, with the stats log level.
    pub verification_time: Option<Duration>,
    /// `stack depth`, per subprogram, with the stats log level.
    pub stack_depth: Vec<u32>,
}

impl VerifierStats {
    /// Parses the statistics lines of `log`; `None` without a
    /// `processed N insns` line.
    pub fn parse(log: &str) -> Option<VerifierStats> {
        let mut stats: Option<VerifierStats> = None;
        let mut time = None;
        let mut depth = Vec::new();
        for line in log.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("processed ") {
                if let Some(s) = parse_processed(rest) {
                    stats = Some(s);
                }
            } else if let Some(rest) = line.strip_prefix("verification time ") {
                time = rest
                    .strip_suffix(" usec")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .map(Duration::from_micros);
            } else if let Some(rest) = line.strip_prefix("stack depth ") {
                depth = rest
                    .split('+')
                    .filter_map(|n| n.trim().parse::<u32>().ok())
                    .collect();
            }
        }
        let mut stats = stats?;
        stats.verification_time = time;
        stats.stack_depth = depth;
        Some(stats)
    }
}

/// `N insns (limit L) key value key value ...`
fn parse_processed(rest: &str) -> Option<VerifierStats> {
    let mut words = rest.split_whitespace();
    let insns = words.next()?.parse().ok()?;
    if words.next()? != "insns" || words.next()? != "(limit" {
        return None;
    }
    let limit = words.next()?.strip_suffix(')')?.parse().ok()?;
    let mut s = VerifierStats {
        insns_processed: insns,
        insn_limit: limit,
        ..VerifierStats::default()
    };
    while let (Some(key), Some(value)) = (words.next(), words.next()) {
        let Ok(v) = value.parse::<u64>() else {
            continue;
        };
        match key {
            "max_states_per_insn" => s.max_states_per_insn = v,
            "total_states" => s.total_states = v,
            "peak_states" => s.peak_states = v,
            "mark_read" => s.mark_read = Some(v),
            _ => {}
        }
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_statistics_lines() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n0: (b7) r0 = 0                        ; R0_w=0\n1: (95) exit\nverification time 9 usec\nstack depth 8+16\nprocessed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let s = VerifierStats::parse(log).unwrap();
        assert_eq!(s.insns_processed, 2);
        assert_eq!(s.insn_limit, 1_000_000);
        assert_eq!(s.total_states, 0);
        assert_eq!(s.mark_read, Some(0));
        assert_eq!(s.verification_time, Some(Duration::from_micros(9)));
        assert_eq!(s.stack_depth, vec![8, 16]);
    }

    #[test]
    fn last_lines_skip_statistics() {
        let log = VerifierLog::from_bytes(
            b"0: (bf) r0 = r1\n1: (95) exit\nR0 leaks addr as return value\nprocessed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0\n\0garbage",
            false,
        );
        assert_eq!(
            log.last_meaningful_lines(2),
            vec!["1: (95) exit", "R0 leaks addr as return value"]
        );
        assert_eq!(log.stats.as_ref().unwrap().mark_read, None);
        assert!(!log.text().contains("garbage"));
    }

    #[test]
    fn no_stats_without_the_processed_line() {
        assert_eq!(VerifierStats::parse("some error\n"), None);
    }
}
