//! How a controller follows the informers it uses: each change updates its index and queues
//! the parents concerned.

use std::sync::Arc;

use super::index::{Index, ParentEvent};
use crate::engine::queue::WorkQueue;
use crate::engine::watch::{ObjectKey, Origin, Subscriber};
use crate::engine::writer::WrittenRecords;
use crate::leader::LeaderGate;
use crate::object::Observed;

/// What every feed shares.
#[derive(Clone)]
pub(crate) struct Feed {
    pub controller: usize,
    pub index: Arc<Index>,
    pub queue: Arc<WorkQueue>,
}

impl Feed {
    /// The controller's own writes need no sync: it already acted on them.
    fn own(&self, origin: Origin) -> bool {
        origin
            == Origin::Write {
                controller: self.controller,
            }
    }

    fn queue_all(&self, keys: Vec<ObjectKey>, origin: Origin) {
        if !self.own(origin) {
            for key in keys {
                self.queue.add(key);
            }
        }
    }
}

/// The parent type.
pub(crate) struct Parents(pub Feed);

impl Subscriber for Parents {
    fn applied(&self, obj: &Observed, origin: Origin) {
        if self.0.own(origin) {
            // Still indexed (the fingerprint follows what the controller wrote), never queued.
            self.0.index.parent_applied(obj);
            return;
        }
        match self.0.index.parent_applied(obj) {
            ParentEvent::Ignored => {}
            ParentEvent::Changed(key) => self.0.queue.add_changed(key),
            ParentEvent::StatusOnly(key) | ParentEvent::Left(key) => self.0.queue.add(key),
        }
    }

    fn removed(&self, key: &ObjectKey, uid: &str, origin: Origin) {
        if self.0.index.parent_removed(key, uid) {
            self.0.queue_all(vec![key.clone()], origin);
        }
    }
}

/// One child type.
pub(crate) struct Children {
    pub feed: Feed,
    pub type_index: usize,
    pub gate: Arc<dyn LeaderGate>,
    pub written: Arc<WrittenRecords>,
}

impl Subscriber for Children {
    fn applied(&self, obj: &Observed, origin: Origin) {
        if origin == Origin::Watch
            && let Some(term) = obj.leader_term
        {
            self.gate.observe_term(term);
        }
        let owners = self.feed.index.child_applied(self.type_index, obj);
        self.feed.queue_all(owners, origin);
    }

    fn removed(&self, key: &ObjectKey, uid: &str, origin: Origin) {
        self.written.forget(uid);
        let owners = self.feed.index.child_removed(self.type_index, key);
        self.feed.queue_all(owners, origin);
    }
}

/// One related type.
pub(crate) struct Related {
    pub feed: Feed,
    pub type_index: usize,
}

impl Subscriber for Related {
    fn applied(&self, obj: &Observed, origin: Origin) {
        let readers = self
            .feed
            .index
            .readers(self.type_index, &ObjectKey::of(obj), Some(obj));
        self.feed.queue_all(readers, origin);
    }

    fn removed(&self, key: &ObjectKey, _uid: &str, origin: Origin) {
        let readers = self.feed.index.readers(self.type_index, key, None);
        self.feed.queue_all(readers, origin);
    }
}
