//! What the API server made of the writer's last write to each child, per child UID (see
//! `plan::written`), for the children where it differed from what was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::object::Observed;
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
