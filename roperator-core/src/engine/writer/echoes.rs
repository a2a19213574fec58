//! The statuses the writer sent, remembered while the write is in flight.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::engine::watch::ObjectKey;
use crate::object::{Observed, content_hash};

/// The statuses the writer is sending, by parent, until the write is answered. The echo of a
/// status write can arrive before the write's answer; without this, it would look like someone
/// else's change and bring an immediate sync (a finalize asked to be retried in 2 s would run at
/// once).
#[derive(Default)]
pub(crate) struct StatusEchoes {
    sent: Mutex<HashMap<ObjectKey, u64>>,
}

impl StatusEchoes {
    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectKey, u64>> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer is about to write a status whose [`content_hash`] is `status` to the parent
    /// at `key`.
    pub fn sending(&self, key: &ObjectKey, status: u64) {
        self.lock().insert(key.clone(), status);
    }

    /// The write to the parent at `key` was answered (and the answer cached, if any).
    pub fn settled(&self, key: &ObjectKey) {
        self.lock().remove(key);
    }

    /// `true` (once) when `parent` shows the status last sent to it.
    pub fn is_echo(&self, parent: &Observed) -> bool {
        let key = ObjectKey::of(parent);
        let mut sent = self.lock();
        let status = parent
            .json
            .get("status")
            .unwrap_or(&serde_json::Value::Null);
        if sent.get(&key) == Some(&content_hash(status)) {
            sent.remove(&key);
            return true;
        }
        false
    }
}
