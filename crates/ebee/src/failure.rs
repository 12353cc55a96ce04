//! What went wrong, in one line for the user, with an exit code per kind.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the program ran and failed (memory fault, budget exhausted, helper error) |
//! | 2 | bad command line (clap's own code) |
//! | 3 | bad input: unreadable file, assembly error, malformed bytecode |
//! | 4 | the kernel refused (load, verifier, test run) |
//! | 5 | ebee's verifier rejected the program |

use std::fmt;

/// A failure of an `ebee` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The program ran and failed.
    Exec(String),
    /// The input could not be read or understood.
    Input(String),
    /// The kernel refused.
    Kernel(String),
    /// ebee's verifier rejected the program.
    Rejected(String),
}

impl Failure {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Exec(_) => 1,
            Failure::Input(_) => 3,
            Failure::Kernel(_) => 4,
            Failure::Rejected(_) => 5,
        }
    }

    /// The one-line message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Exec(m) | Failure::Input(m) | Failure::Kernel(m) | Failure::Rejected(m) => m,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Failure {}
