//! [`Hook`]: an attach point holding the current program, replaceable
//! while other threads run it.
//!
//! A run takes the current program (an `Arc` clone under a read lock held
//! for a few nanoseconds) and runs it with no lock held, so each run sees
//! the old or the new program whole, never a mix, and a replacement never
//! waits for runs in progress: they finish on the program they started
//! with, which lives until its last run drops it. Maps are `Arc`s held by
//! the programs' helpers, so maps shared by the old and new program stay
//! alive and keep their contents across the swap.

use std::sync::{Arc, PoisonError, RwLock};

/// An attach point for programs of type `P` (a [`crate::Vm`], a
/// [`crate::loader::LoadedProgram`], ...).
#[derive(Debug)]
pub struct Hook<P> {
    current: RwLock<Option<Arc<P>>>,
}

impl<P> Default for Hook<P> {
    fn default() -> Hook<P> {
        Hook {
            current: RwLock::new(None),
        }
    }
}

impl<P> Hook<P> {
    /// A hook with no program attached.
    pub fn new() -> Hook<P> {
        Hook::default()
    }

    /// A hook with `prog` attached.
    pub fn with(prog: Arc<P>) -> Hook<P> {
        Hook {
            current: RwLock::new(Some(prog)),
        }
    }

    /// The attached program, if any.
    pub fn current(&self) -> Option<Arc<P>> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Attaches `prog` atomically and returns the program it replaces.
    /// Runs already started finish on the old program.
    pub fn replace(&self, prog: Arc<P>) -> Option<Arc<P>> {
        self.current
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(prog)
    }

    /// Detaches the program, returning it.
    pub fn detach(&self) -> Option<Arc<P>> {
        self.current
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Runs `f` on the attached program (`None` when none is attached).
    pub fn run<T>(&self, f: impl FnOnce(&P) -> T) -> Option<T> {
        self.current().map(|p| f(&p))
    }
}
