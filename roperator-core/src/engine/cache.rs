//! The engine's view of the cluster: parents, their children, and an index from parent UID to
//! children. Fed by the watchers and, for read-your-writes, by the writer.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::object::Object;
use crate::plan::{Written, WrittenByUid};

/// A parent's (or any object's) place: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(obj: &Object) -> Self {
        Self {
            namespace: obj.namespace.clone(),
            name: obj.name.clone(),
        }
    }
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// A child's place: its type (index into the configured child types) and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ChildKey {
    pub type_index: usize,
    pub key: ObjectKey,
}

/// An object as the cache keeps it: what the cache itself looks at, and the JSON as compact
/// text. A sync parses what it needs; keeping `serde_json::Value` trees for every watched object
/// would cost several times the memory.
pub(crate) struct Stored {
    uid: String,
    resource_version: String,
    parent_uid: Option<String>,
    raw: Arc<str>,
}

impl Stored {
    fn new(obj: &Object) -> Self {
        Self {
            uid: obj.uid.clone(),
            resource_version: obj.resource_version.clone(),
            parent_uid: obj.parent_uid.clone(),
            raw: Arc::from(serde_json::to_string(&obj.json).unwrap_or_default()),
        }
    }
}

fn parse(raw: &str) -> Option<Arc<Object>> {
    let json = serde_json::from_str(raw).ok()?;
    Object::from_json(json).ok().map(Arc::new)
}

#[derive(Default)]
struct State {
    parents: HashMap<ObjectKey, Stored>,
    parent_uids: HashMap<String, ObjectKey>,
    children: HashMap<ChildKey, Stored>,
    by_parent: HashMap<String, BTreeSet<ChildKey>>,
    /// What the server made of our last write, per child UID, for the children where it
    /// differed from what we sent; dropped with the child.
    written: HashMap<String, Arc<Written>>,
}

/// Which watcher an update comes from: the parent type (`None`) or a child type, and the
/// namespace the watcher covers (`None` for all). Used to resolve a re-list.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Source {
    pub child_type: Option<usize>,
    pub namespace: Option<String>,
}

#[derive(Default)]
pub(crate) struct Cache {
    state: Mutex<State>,
}

/// The same version of the same object: typically the watch echoing a write whose result the
/// writer already put in the cache. Nothing changed, so nothing needs a sync.
fn is_same(new: &Object, old: &Stored) -> bool {
    new.uid == old.uid
        && !new.resource_version.is_empty()
        && new.resource_version == old.resource_version
}

/// Resource versions are opaque by contract but integers in every API server in practice; when
/// both are, an older one never overwrites a newer one (a watch event can arrive after the
/// response of a later write that the writer already put in the cache).
fn is_older(new: &Object, old: &Stored) -> bool {
    if new.uid != old.uid {
        return false;
    }
    match (
        new.resource_version.parse::<u64>(),
        old.resource_version.parse::<u64>(),
    ) {
        (Ok(n), Ok(o)) => n < o,
        _ => false,
    }
}

impl Cache {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores a parent; returns its key (to enqueue) unless the update was stale.
    pub fn upsert_parent(&self, obj: Object) -> Option<ObjectKey> {
        let key = ObjectKey::of(&obj);
        let mut s = self.lock();
        if let Some(old) = s.parents.get(&key) {
            if is_older(&obj, old) || is_same(&obj, old) {
                return None;
            }
            if old.uid != obj.uid {
                let old_uid = old.uid.clone();
                s.parent_uids.remove(&old_uid);
            }
        }
        s.parent_uids.insert(obj.uid.clone(), key.clone());
        s.parents.insert(key.clone(), Stored::new(&obj));
        Some(key)
    }

    /// Forgets a parent (if `uid` matches); returns its key.
    pub fn remove_parent(&self, key: &ObjectKey, uid: &str) -> Option<ObjectKey> {
        let mut s = self.lock();
        if s.parents.get(key).is_some_and(|p| p.uid == uid) {
            s.parents.remove(key);
            s.parent_uids.remove(uid);
            return Some(key.clone());
        }
        None
    }

    /// Stores a child; returns the keys of the parents concerned (old and new owner).
    pub fn upsert_child(&self, type_index: usize, obj: Object) -> Vec<ObjectKey> {
        let key = ChildKey {
            type_index,
            key: ObjectKey::of(&obj),
        };
        let mut s = self.lock();
        let mut owners = Vec::new();
        let mut replaced_uid = None;
        if let Some(old) = s.children.get(&key) {
            if is_older(&obj, old) || is_same(&obj, old) {
                return owners;
            }
            if old.uid != obj.uid {
                replaced_uid = Some(old.uid.clone());
            }
            if let Some(old_parent) = old.parent_uid.clone()
                && obj.parent_uid.as_deref() != Some(old_parent.as_str())
            {
                unindex(&mut s, &old_parent, &key);
                owners.extend(s.parent_uids.get(&old_parent).cloned());
            }
        }
        if let Some(parent) = obj.parent_uid.clone() {
            owners.extend(s.parent_uids.get(&parent).cloned());
            s.by_parent.entry(parent).or_default().insert(key.clone());
        }
        if let Some(uid) = replaced_uid {
            s.written.remove(&uid);
        }
        s.children.insert(key, Stored::new(&obj));
        owners
    }

    /// Forgets a child (if `uid` matches); returns its parent's key.
    pub fn remove_child(&self, type_index: usize, key: ObjectKey, uid: &str) -> Vec<ObjectKey> {
        let key = ChildKey { type_index, key };
        let mut s = self.lock();
        if s.children.get(&key).is_none_or(|c| c.uid != uid) {
            return Vec::new();
        }
        let Some(old) = s.children.remove(&key) else {
            return Vec::new();
        };
        s.written.remove(&old.uid);
        match &old.parent_uid {
            Some(parent) => {
                unindex(&mut s, parent, &key);
                s.parent_uids.get(parent).cloned().into_iter().collect()
            }
            None => Vec::new(),
        }
    }

    /// The keys (and UIDs) of everything a watcher covers, to find what disappeared across a
    /// re-list.
    pub fn keys_of(&self, source: &Source) -> HashMap<ObjectKey, String> {
        let s = self.lock();
        let in_scope =
            |k: &ObjectKey| source.namespace.is_none() || k.namespace == source.namespace;
        match source.child_type {
            None => s
                .parents
                .iter()
                .filter(|(k, _)| in_scope(k))
                .map(|(k, p)| (k.clone(), p.uid.clone()))
                .collect(),
            Some(t) => s
                .children
                .iter()
                .filter(|(k, _)| k.type_index == t && in_scope(&k.key))
                .map(|(k, c)| (k.key.clone(), c.uid.clone()))
                .collect(),
        }
    }

    /// The parent and its children, for a sync.
    pub fn snapshot(&self, key: &ObjectKey) -> Option<(Arc<Object>, Vec<Arc<Object>>)> {
        // Parsing happens after the lock is released; the texts are shared, not copied.
        let (parent, children): (Arc<str>, Vec<Arc<str>>) = {
            let s = self.lock();
            let stored = s.parents.get(key)?;
            let children = s
                .by_parent
                .get(&stored.uid)
                .map(|set| {
                    set.iter()
                        .filter_map(|k| s.children.get(k).map(|c| Arc::clone(&c.raw)))
                        .collect()
                })
                .unwrap_or_default();
            (Arc::clone(&stored.raw), children)
        };
        let children = children.iter().filter_map(|raw| parse(raw)).collect();
        Some((parse(&parent)?, children))
    }

    /// Records what the server made of our write to the child `uid` (`None`: exactly what we
    /// sent, nothing to remember).
    pub fn set_written(&self, uid: &str, written: Option<Written>) {
        let mut s = self.lock();
        match written {
            Some(w) => {
                s.written.insert(uid.to_string(), Arc::new(w));
            }
            None => {
                s.written.remove(uid);
            }
        }
    }

    /// The records of [`Cache::set_written`] for these children, for the planner.
    pub fn written_for(&self, children: &[Arc<Object>]) -> WrittenByUid {
        let s = self.lock();
        if s.written.is_empty() {
            return WrittenByUid::new();
        }
        children
            .iter()
            .filter_map(|c| {
                s.written
                    .get(&c.uid)
                    .map(|w| (c.uid.clone(), Arc::clone(w)))
            })
            .collect()
    }

    pub fn parent_keys(&self) -> Vec<ObjectKey> {
        self.lock().parents.keys().cloned().collect()
    }

    /// (parents, children per type index) counts, for metrics.
    pub fn counts(&self, child_types: usize) -> (usize, Vec<usize>) {
        let s = self.lock();
        let mut per_type = vec![0; child_types];
        for k in s.children.keys() {
            if let Some(n) = per_type.get_mut(k.type_index) {
                *n += 1;
            }
        }
        (s.parents.len(), per_type)
    }
}

fn unindex(s: &mut State, parent: &str, key: &ChildKey) {
    if let Some(set) = s.by_parent.get_mut(parent) {
        set.remove(key);
        if set.is_empty() {
            s.by_parent.remove(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::names::PARENT_UID_LABEL;
    use serde_json::json;

    fn parent(name: &str, uid: &str, rv: &str) -> Object {
        Object::from_json(json!({"metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv}})).unwrap()
    }

    fn child(name: &str, uid: &str, parent: &str, rv: &str) -> Object {
        Object::from_json(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv,
            "labels": {PARENT_UID_LABEL: parent},
            "ownerReferences": [{"uid": parent, "controller": true}]}}),
        )
        .unwrap()
    }

    #[test]
    fn children_are_indexed_by_parent_and_stale_updates_are_ignored() {
        let cache = Cache::default();
        let pk = cache.upsert_parent(parent("p", "P", "1")).unwrap();
        assert_eq!(
            cache.upsert_child(0, child("c", "C", "P", "5")),
            vec![pk.clone()]
        );
        assert!(cache.upsert_child(0, child("c", "C", "P", "4")).is_empty());
        // The watch echoing a version the cache has already seen queues nothing.
        assert!(cache.upsert_child(0, child("c", "C", "P", "5")).is_empty());
        assert!(cache.upsert_parent(parent("p", "P", "1")).is_none());
        let (_, children) = cache.snapshot(&pk).unwrap();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].resource_version, "5");
        // A delete for an older incarnation (other UID) leaves the current one.
        assert!(
            cache
                .remove_child(0, ObjectKey::of(&children[0]), "OTHER")
                .is_empty()
        );
        assert_eq!(
            cache.remove_child(0, ObjectKey::of(&children[0]), "C"),
            vec![pk.clone()]
        );
        assert!(cache.snapshot(&pk).unwrap().1.is_empty());
        assert!(cache.upsert_parent(parent("p", "P", "0")).is_none());
        assert_eq!(cache.remove_parent(&pk, "P"), Some(pk.clone()));
        assert!(cache.snapshot(&pk).is_none());
    }
}
