//! The statuses the writer sent, remembered until their watch echo is seen.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::engine::watch::ObjectKey;
use crate::object::{Observed, content_hash};

/// The statuses the writer sent, by parent, until their watch echo is seen. The echo of a status
/// write can arrive before the write's answer; without this, it would look like someone else's
/// change and bring an immediate sync (a finalize asked to be retried in 2 s would run at once).
#[derive(Default)]
pub(crate) struct StatusEchoes {
    sent: Mutex<HashMap<ObjectKey, u64>>,
}

impl StatusEchoes {
    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectKey, u64>> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer is about to write `status` to the parent at `key`.
    pub fn sending(&self, key: &ObjectKey, status: &serde_json::Value) {
        self.lock().insert(key.clone(), content_hash(status));
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
