//! Verdicts and rejections, written for people: one short paragraph that
//! names the instruction, its source line when known, what is wrong, the
//! state of the registers involved and the branch decisions that led there.

use std::fmt;

use ebee_isa::Insn;

/// A source location (from BTF line info), to be attached to instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// Source file name.
    pub file: String,
    /// Line number (1-based).
    pub line: u32,
    /// The line's text.
    pub text: String,
}

/// One decision of a conditional jump on the path to a rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BranchStep {
    /// The jump's pc.
    pub pc: usize,
    /// Whether the jump was taken.
    pub taken: bool,
}

/// What the verifier measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Instructions processed over all paths (the kernel's "processed N insns").
    pub insns_processed: u64,
    /// States remembered for pruning.
    pub states_stored: u64,
    /// Most states alive at once (remembered plus waiting to be explored).
    pub peak_states: u64,
    /// Paths cut short because an already verified state covered them.
    pub pruned: u64,
    /// Wall-clock time in microseconds.
    pub time_us: u64,
    /// Stack bytes used by the deepest call chain.
    pub stack_depth: u64,
}

/// Why a program is rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The instruction at fault.
    pub pc: usize,
    /// Its disassembly.
    pub insn: String,
    /// What is wrong, in words.
    pub message: String,
    /// The registers involved and their state in words, e.g.
    /// `("r3", "a pointer to a value of map #0 or NULL")`.
    pub registers: Vec<(String, String)>,
    /// The last branch decisions on the path (oldest first).
    pub trail: Vec<BranchStep>,
    /// The source line of the instruction, if known.
    pub source: Option<SourceLine>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rejected at pc {} `{}`", self.pc, self.insn)?;
        if let Some(s) = &self.source {
            write!(f, " ({}:{}: {})", s.file, s.line, s.text.trim())?;
        }
        write!(f, ": {}.", self.message.trim_end_matches('.'))?;
        for (r, d) in &self.registers {
            if !self.message.contains(d.as_str()) {
                write!(f, " {r} is {d}.")?;
            }
        }
        if !self.trail.is_empty() {
            let mut runs: Vec<(BranchStep, usize)> = vec![];
            for b in &self.trail {
                match runs.last_mut() {
                    Some((last, n)) if last == b => *n += 1,
                    _ => runs.push((*b, 1)),
                }
            }
            let steps: Vec<String> = runs
                .iter()
                .map(|(b, n)| {
                    let what = if b.taken { "jumped" } else { "fell through" };
                    if *n > 1 {
                        format!("{what} at {} ({n} times)", b.pc)
                    } else {
                        format!("{what} at {}", b.pc)
                    }
                })
                .collect();
            write!(f, " Path: {}.", steps.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}

/// The outcome of verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The program is safe.
    Accepted(Stats),
    /// It is not (or could not be proven so).
    Rejected(Rejection),
}

impl Verdict {
    /// Whether the program was accepted.
    pub fn is_accepted(&self) -> bool {
        matches!(self, Verdict::Accepted(_))
    }

    /// The rejection, if any.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Verdict::Rejected(r) => Some(r),
            Verdict::Accepted(_) => None,
        }
    }
}

/// The text of an instruction for diagnostics, in the kernel log's syntax.
pub fn insn_text(insn: &Insn) -> String {
    ebee_isa::format_insn(insn, ebee_isa::Syntax::Linux)
}
