//! Per-parent counters the scheduling policy (`sync::schedule`) decides from.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::engine::watch::ObjectKey;

#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RetryState {
    /// Failed syncs in a row.
    pub failures: u32,
    /// Successful syncs in a row that wrote something.
    pub writing_streak: u32,
}

#[derive(Default)]
pub(crate) struct Retries(Mutex<HashMap<ObjectKey, RetryState>>);

impl Retries {
    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectKey, RetryState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the state of `key` and returns the new one.
    pub fn update(&self, key: &ObjectKey, f: impl FnOnce(&mut RetryState)) -> RetryState {
        let mut map = self.lock();
        let state = map.entry(key.clone()).or_default();
        f(state);
        *state
    }

    pub fn get(&self, key: &ObjectKey) -> RetryState {
        self.lock().get(key).copied().unwrap_or_default()
    }

    pub fn forget(&self, key: &ObjectKey) {
        self.lock().remove(key);
    }
}
