//! Helper functions a program can call, keyed by their kernel ids.

use std::collections::HashMap;
use std::sync::Arc;

/// A helper: receives `r1`–`r5`, returns `r0`, or fails with a message
/// (which stops the run with [`crate::ExecError::HelperFailed`]).
pub type HelperFn = dyn Fn([u64; 5]) -> Result<u64, String> + Send + Sync;

/// The helpers available to a program, by kernel helper id.
#[derive(Clone, Default)]
pub struct Helpers {
    map: HashMap<u32, Arc<HelperFn>>,
}

impl Helpers {
    /// No helpers.
    pub fn new() -> Helpers {
        Helpers::default()
    }

    /// Registers `f` as helper `id`, replacing any previous one.
    pub fn register(
        &mut self,
        id: u32,
        f: impl Fn([u64; 5]) -> Result<u64, String> + Send + Sync + 'static,
    ) -> &mut Helpers {
        self.map.insert(id, Arc::new(f));
        self
    }

    /// The helper with id `id`.
    pub fn get(&self, id: u64) -> Option<&Arc<HelperFn>> {
        u32::try_from(id).ok().and_then(|id| self.map.get(&id))
    }
}

impl std::fmt::Debug for Helpers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<_> = self.map.keys().collect();
        ids.sort();
        f.debug_struct("Helpers").field("ids", &ids).finish()
    }
}
