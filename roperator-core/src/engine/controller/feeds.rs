//! How a controller follows the informers it uses: each change updates its index and queues
//! the parents concerned.

use std::sync::Arc;

use super::index::{Index, ParentEvent};
use crate::engine::queue::WorkQueue;
use crate::engine::watch::{Applied, ObjectKey, Origin, Subscriber, labels_of};
use crate::engine::writer::StatusEchoes;
use crate::leader::LeaderGate;

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
pub(crate) struct Parents {
    pub feed: Feed,
    pub echoes: Arc<StatusEchoes>,
}

impl Subscriber for Parents {
    fn applied(&self, change: &Applied<'_>) {
        let (obj, origin) = (change.object, change.origin);
        let feed = &self.feed;
        match feed.index.parent_applied(obj) {
            ParentEvent::Ignored => {}
            // The controller's own write: indexed (the fingerprint follows what it wrote), and
            // queued only if the answer shows the parent no longer matches.
            ParentEvent::Changed(_) | ParentEvent::StatusOnly(_) if feed.own(origin) => {}
            ParentEvent::Changed(key) => feed.queue.add_changed(key),
            // The watch echo of the controller's own status write, ahead of the write's answer.
            ParentEvent::StatusOnly(_) if self.echoes.is_echo(obj) => {}
            ParentEvent::StatusOnly(key) | ParentEvent::Left(key) => feed.queue.add(key),
        }
    }

    fn removed(&self, key: &ObjectKey, uid: &str, origin: Origin) {
        if self.feed.index.parent_removed(key, uid) {
            self.feed.queue_all(vec![key.clone()], origin);
        }
    }
}

/// One child type.
pub(crate) struct Children {
    pub feed: Feed,
    pub type_index: usize,
    pub gate: Arc<dyn LeaderGate>,
}

impl Subscriber for Children {
    fn applied(&self, change: &Applied<'_>) {
        let (obj, origin) = (change.object, change.origin);
        if origin == Origin::Watch
            && let Some(term) = obj.leader_term
        {
            self.gate.observe_term(term);
        }
        let owners = self.feed.index.child_applied(self.type_index, obj);
        self.feed.queue_all(owners, origin);
    }

    fn removed(&self, key: &ObjectKey, _uid: &str, origin: Origin) {
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
    fn applied(&self, change: &Applied<'_>) {
        // A label selection may have matched the old labels and not the new ones: its reader
        // must see the object go.
        let labels = labels_of(change.object);
        let mut sets: Vec<&[(String, String)]> = vec![&labels];
        sets.extend(change.previous_labels);
        let key = ObjectKey::of(change.object);
        let readers = self.feed.index.readers(self.type_index, &key, Some(&sets));
        self.queue_readers(readers, &key, change.origin);
    }

    fn removed(&self, key: &ObjectKey, _uid: &str, origin: Origin) {
        let readers = self.feed.index.readers(self.type_index, key, None);
        self.queue_readers(readers, key, origin);
    }
}

impl Related {
    /// A related object is an input its readers never wrote as such: even the controller's own
    /// write of it (a parent that reads its siblings of its own type) is news to the others;
    /// only the written object itself needs no sync for it. Served like a change of the parent
    /// (a failure backoff is cut short: the change may be the fix).
    fn queue_readers(&self, readers: Vec<ObjectKey>, key: &ObjectKey, origin: Origin) {
        let own = self.feed.own(origin);
        for reader in readers {
            if !(own && reader == *key) {
                self.feed.queue.add_changed(reader);
            }
        }
    }
}
