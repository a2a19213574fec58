//! What the writer remembers of its writes: what the API server made of its last write to each
//! child (see `plan::written`), and the statuses it wrote, to recognise their watch echoes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::watch::ObjectKey;
use crate::object::{Observed, content_hash};
use crate::plan::{Written, WrittenByUid};

#[derive(Default)]
pub(crate) struct WrittenRecords {
    by_uid: Mutex<HashMap<String, Arc<Written>>>,
}

impl WrittenRecords {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Written>>> {
        self.by_uid.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the server's answer to a write to `uid` (`None`: exactly what was sent).
    pub fn set(&self, uid: &str, written: Option<Written>) {
        match written {
            Some(w) => {
                self.lock().insert(uid.to_string(), Arc::new(w));
            }
            None => {
                self.lock().remove(uid);
            }
        }
    }

    /// The child `uid` is gone.
    pub fn forget(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// The records for these children, for the planner.
    pub fn for_children(&self, children: &[Arc<Observed>]) -> WrittenByUid {
        let records = self.lock();
        if records.is_empty() {
            return WrittenByUid::new();
        }
        children
            .iter()
            .filter_map(|c| records.get(&c.uid).map(|w| (c.uid.clone(), Arc::clone(w))))
            .collect()
    }
}

/// What the writer remembers, shared with the controller's feeds (which forget a child's
/// record when it goes, and recognise the echoes of status writes).
#[derive(Default)]
pub(crate) struct Remembered {
    pub written: WrittenRecords,
    pub echoes: StatusEchoes,
}

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
