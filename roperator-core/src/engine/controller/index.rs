//! One controller's view over the shared informers: which parents match it, which children each
//! owns, which related objects each reads. Objects themselves stay in the informers' stores;
//! the index holds keys.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use super::related::{Interests, Query, RelatedWatch, resolve};
use crate::config::{ControllerConfig, NamespaceScope, ParentRole, RelatedConfig};
use crate::engine::watch::ObjectKey;
use crate::object::Observed;
use crate::selector::LabelSelector;

/// A child's place: its type (index into the configured child types) and key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ChildKey {
    pub type_index: usize,
    pub key: ObjectKey,
}

/// Where a parent key stands for this controller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParentState {
    /// A parent of this controller, with this UID.
    Present(String),
    /// A decorated object that stopped matching the selectors (or was deleted): what the
    /// decorator left on it is to be removed.
    Departed(String),
    /// Not (or no longer) a parent of this controller.
    Unknown,
}

/// A parent as the index knows it: its UID and a fingerprint of everything but its status.
struct Entry {
    uid: String,
    fingerprint: u64,
}

/// What a parent-type event means for this controller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ParentEvent {
    /// Nothing for this controller.
    Ignored,
    /// A new parent, or one whose spec or metadata changed: worth syncing before others, and
    /// the end of its failure backoff (the change may be the fix).
    Changed(ObjectKey),
    /// Only its status changed (the echo of the engine's own status write, often): synced like
    /// any other event, its backoff kept.
    StatusOnly(ObjectKey),
    /// It stopped being a parent of this controller.
    Left(ObjectKey),
}

/// A hash of the object without its status and its resourceVersion (member by member, so that
/// nothing is copied: it runs on every event of every parent).
fn fingerprint(obj: &Observed) -> u64 {
    use serde_json::{Map, Value};
    use std::hash::Hasher;
    fn members<'a>(
        map: &'a Map<String, Value>,
        skip: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Value)> {
        let mut sorted: Vec<(&String, &Value)> = map.iter().filter(|(k, _)| *k != skip).collect();
        sorted.sort_unstable_by_key(|(k, _)| *k);
        sorted.into_iter()
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    let Value::Object(map) = &obj.json else {
        return crate::object::content_hash(&obj.json);
    };
    for (key, value) in members(map, "status") {
        h.write(key.as_bytes());
        match value {
            Value::Object(meta) if key == "metadata" => {
                for (field, value) in members(meta, "resourceVersion") {
                    h.write(field.as_bytes());
                    h.write_u64(crate::object::content_hash(value));
                }
            }
            other => h.write_u64(crate::object::content_hash(other)),
        }
    }
    h.finish()
}

#[derive(Default)]
struct State {
    parents: HashMap<ObjectKey, Entry>,
    departed: HashMap<ObjectKey, String>,
    key_of_uid: HashMap<String, ObjectKey>,
    children: HashMap<String, BTreeSet<ChildKey>>,
    owner_of: HashMap<ChildKey, String>,
    interests: Interests,
}

pub(crate) struct Index {
    decorator: bool,
    /// Also checked here, not only by the watch: a write's answer may show that the parent no
    /// longer matches before the watch does (and the watch then never tells).
    label_selector: Option<LabelSelector>,
    annotation_selector: Option<LabelSelector>,
    /// Also checked here: an informer shared with another controller may watch more
    /// namespaces than this one.
    namespaces: NamespaceScope,
    related: Vec<(RelatedWatch, RelatedConfig)>,
    state: Mutex<State>,
}

impl Index {
    pub fn new(config: &ControllerConfig) -> Self {
        let related = config
            .related
            .iter()
            .map(|(t, rc)| {
                let scope = rc.scope(&config.namespaces);
                let name = rc.name.clone();
                (RelatedWatch { t: *t, scope, name }, rc.clone())
            })
            .collect();
        Self {
            decorator: matches!(config.role, ParentRole::Decorated { .. }),
            // Checked by `ControllerConfig::validate` before the index is built.
            label_selector: config
                .parent_selector
                .as_deref()
                .and_then(|s| LabelSelector::parse(s).ok()),
            annotation_selector: config
                .parent_annotation_selector
                .as_deref()
                .and_then(|s| LabelSelector::parse(s).ok()),
            namespaces: config.namespaces.clone(),
            related,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `obj` is selected by this controller (namespaces, label and annotation
    /// selectors).
    pub fn matches(&self, obj: &Observed) -> bool {
        obj.namespace
            .as_deref()
            .is_none_or(|ns| self.namespaces.contains(ns))
            && self
                .label_selector
                .as_ref()
                .is_none_or(|s| s.matches_json(obj.json.pointer("/metadata/labels")))
            && self
                .annotation_selector
                .as_ref()
                .is_none_or(|s| s.matches_json(obj.json.pointer("/metadata/annotations")))
    }

    /// A parent-type object changed.
    pub fn parent_applied(&self, obj: &Observed) -> ParentEvent {
        let key = ObjectKey::of(obj);
        if !self.matches(obj) {
            return if self.parent_removed(&key, &obj.uid) {
                ParentEvent::Left(key)
            } else {
                self.forget_replaced(&key, &obj.uid);
                ParentEvent::Ignored
            };
        }
        // Outside the lock: the selection functions are the user's code.
        let queries = self.queries_for(obj);
        let entry = Entry {
            uid: obj.uid.clone(),
            fingerprint: fingerprint(obj),
        };
        let mut s = self.lock();
        // Matching again: no release. A departed incarnation of another UID is gone for good.
        if let Some(old) = s.departed.remove(&key)
            && old != obj.uid
        {
            s.key_of_uid.remove(&old);
        }
        let changed = match s.parents.get(&key) {
            Some(old) if old.uid == entry.uid => old.fingerprint != entry.fingerprint,
            Some(old) => {
                let old = old.uid.clone();
                s.key_of_uid.remove(&old);
                true
            }
            None => true,
        };
        s.parents.insert(key.clone(), entry);
        s.key_of_uid.insert(obj.uid.clone(), key.clone());
        s.interests.set(&key, queries);
        if changed {
            ParentEvent::Changed(key)
        } else {
            ParentEvent::StatusOnly(key)
        }
    }

    /// A parent known under another UID was replaced (deleted and created again, unseen while
    /// the watch was down) by an object that does not match: that incarnation is gone, with its
    /// attachments (garbage collected), so nothing is left to release.
    fn forget_replaced(&self, key: &ObjectKey, uid: &str) {
        let mut s = self.lock();
        let Some(old) = s.parents.get(key).map(|e| e.uid.clone()) else {
            return;
        };
        if old != uid {
            s.parents.remove(key);
            s.interests.remove(key);
            s.key_of_uid.remove(&old);
        }
    }

    /// A parent-type object is gone from the watch (deleted, or no longer selected); returns
    /// whether it was a parent of this controller.
    pub fn parent_removed(&self, key: &ObjectKey, uid: &str) -> bool {
        let mut s = self.lock();
        if s.parents.get(key).is_none_or(|e| e.uid != uid) {
            return false;
        }
        s.parents.remove(key);
        s.interests.remove(key);
        // A decorator may have left attachments, labels, annotations or its finalizer on the
        // object: the release sync finds out (one read) and removes them.
        if self.decorator {
            s.departed.insert(key.clone(), uid.to_string());
        } else {
            s.key_of_uid.remove(uid);
        }
        true
    }

    fn queries_for(&self, parent: &Observed) -> Vec<Query> {
        let mut out = Vec::new();
        for (type_index, (watch, rc)) in self.related.iter().enumerate() {
            // The user's code runs on a watch task that other controllers share: a panic
            // becomes this parent's failed sync, not a dead watch.
            let selected =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (rc.select)(parent)));
            match selected {
                Ok(selects) => out.extend(
                    selects
                        .into_iter()
                        .map(|select| resolve(parent, type_index, watch, select)),
                ),
                Err(panic) => out.push(Query::Invalid {
                    message: format!(
                        "the selection function of related {} objects panicked: {}",
                        watch.t.kind,
                        crate::handler::panic_message(panic.as_ref())
                    ),
                }),
            }
        }
        out
    }

    /// The namespaces the watch of related type `type_index` is meant to cover (its informer
    /// may cover more when shared).
    pub fn related_scope(&self, type_index: usize) -> Option<&NamespaceScope> {
        self.related.get(type_index).map(|(watch, _)| &watch.scope)
    }

    /// A child changed; returns the keys of the parents concerned (old and new owner).
    pub fn child_applied(&self, type_index: usize, obj: &Observed) -> Vec<ObjectKey> {
        let child = ChildKey {
            type_index,
            key: ObjectKey::of(obj),
        };
        let mut s = self.lock();
        let mut owners = Vec::new();
        let old = s.owner_of.get(&child).cloned();
        if old.as_deref() != obj.parent_uid.as_deref() {
            if let Some(old) = old {
                unindex(&mut s, &old, &child);
                owners.extend(s.key_of_uid.get(&old).cloned());
            }
            if let Some(new) = &obj.parent_uid {
                s.owner_of.insert(child.clone(), new.clone());
                s.children
                    .entry(new.clone())
                    .or_default()
                    .insert(child.clone());
            }
        }
        if let Some(new) = &obj.parent_uid {
            owners.extend(s.key_of_uid.get(new).cloned());
        }
        owners
    }

    /// A child is gone; returns its parent's key.
    pub fn child_removed(&self, type_index: usize, key: &ObjectKey) -> Vec<ObjectKey> {
        let child = ChildKey {
            type_index,
            key: key.clone(),
        };
        let mut s = self.lock();
        let Some(owner) = s.owner_of.get(&child).cloned() else {
            return Vec::new();
        };
        unindex(&mut s, &owner, &child);
        s.key_of_uid.get(&owner).cloned().into_iter().collect()
    }

    /// The parents that read the related object at `key` (see [`Interests::readers`]).
    pub fn readers(
        &self,
        type_index: usize,
        key: &ObjectKey,
        labels: Option<&[&[(String, String)]]>,
    ) -> Vec<ObjectKey> {
        self.lock().interests.readers(type_index, key, labels)
    }

    pub fn parent(&self, key: &ObjectKey) -> ParentState {
        let s = self.lock();
        if let Some(entry) = s.parents.get(key) {
            return ParentState::Present(entry.uid.clone());
        }
        match s.departed.get(key) {
            Some(uid) => ParentState::Departed(uid.clone()),
            None => ParentState::Unknown,
        }
    }

    pub fn children_of(&self, uid: &str) -> Vec<ChildKey> {
        self.lock()
            .children
            .get(uid)
            .map(|set| set.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn queries(&self, key: &ObjectKey) -> Vec<Query> {
        self.lock().interests.queries(key)
    }

    /// A departed parent's attachments are removed: forget it.
    pub fn forget_departed(&self, key: &ObjectKey) {
        let mut s = self.lock();
        if let Some(uid) = s.departed.remove(key)
            && !s.parents.contains_key(key)
        {
            s.key_of_uid.remove(&uid);
        }
    }

    /// Owners (by UID) of indexed children that are neither parents nor departed, each with
    /// one of its children: after a restart, the objects a decorator left while it was down.
    pub fn unknown_owners(&self) -> Vec<(String, ChildKey)> {
        let s = self.lock();
        s.children
            .iter()
            .filter(|(uid, _)| !s.key_of_uid.contains_key(*uid))
            .filter_map(|(uid, children)| children.iter().next().map(|c| (uid.clone(), c.clone())))
            .collect()
    }

    /// Marks `key` (incarnation `uid`) departed, for a release sync; `false` when it is a
    /// parent after all.
    pub fn mark_departed(&self, key: ObjectKey, uid: String) -> bool {
        let mut s = self.lock();
        if s.parents.contains_key(&key) {
            return false;
        }
        s.key_of_uid.insert(uid.clone(), key.clone());
        s.departed.insert(key, uid);
        true
    }

    /// Every parent (and departed parent) key, to sync them all when this replica becomes
    /// leader.
    pub fn parent_keys(&self) -> Vec<ObjectKey> {
        let s = self.lock();
        s.parents.keys().chain(s.departed.keys()).cloned().collect()
    }
}

fn unindex(s: &mut State, parent: &str, child: &ChildKey) {
    s.owner_of.remove(child);
    if let Some(set) = s.children.get_mut(parent) {
        set.remove(child);
        if set.is_empty() {
            s.children.remove(parent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ChildConfig, ControllerConfig};
    use crate::k8s_types;
    use crate::names::PARENT_UID_LABEL;
    use serde_json::json;

    fn parent(name: &str, uid: &str, annotations: serde_json::Value) -> Observed {
        Observed::from_json(json!({"metadata": {"name": name, "namespace": "ns", "uid": uid, "annotations": annotations}})).unwrap()
    }

    fn child(name: &str, parent: &str) -> Observed {
        Observed::from_json(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": name, "namespace": "ns", "uid": format!("{name}-uid"),
            "labels": {PARENT_UID_LABEL: parent},
            "ownerReferences": [{"uid": parent, "controller": true}]}}),
        )
        .unwrap()
    }

    #[test]
    fn children_follow_their_owner_and_a_parent_goes_with_its_uid() {
        let config = ControllerConfig::new("c", k8s_types::core::v1::Secret)
            .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
        let index = Index::new(&config);
        let ParentEvent::Changed(p) = index.parent_applied(&parent("p", "P", json!({}))) else {
            panic!("a new parent is a change")
        };
        let mut with_status = parent("p", "P", json!({}));
        with_status.json["status"] = json!({"ready": true});
        with_status.json["metadata"]["resourceVersion"] = json!("9");
        assert_eq!(
            index.parent_applied(&with_status),
            ParentEvent::StatusOnly(p.clone())
        );
        assert_eq!(index.child_applied(0, &child("c", "P")), vec![p.clone()]);
        assert_eq!(index.children_of("P").len(), 1);
        // Re-owned by another (unknown) parent: the old owner is told, the index follows.
        assert_eq!(index.child_applied(0, &child("c", "Q")), vec![p.clone()]);
        assert!(index.children_of("P").is_empty());
        assert!(!index.parent_removed(&p, "OTHER"));
        assert!(index.parent_removed(&p, "P"));
        assert_eq!(index.parent(&p), ParentState::Unknown);
    }

    #[test]
    fn a_parent_replaced_unseen_by_one_that_does_not_match_is_forgotten() {
        let config = ControllerConfig::new("c", k8s_types::core::v1::Secret)
            .with_parent_annotation_selector("example.com/on=yes")
            .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
        let index = Index::new(&config);
        let on = json!({"example.com/on": "yes"});
        let ParentEvent::Changed(p) = index.parent_applied(&parent("p", "OLD", on)) else {
            panic!("a new parent is a change")
        };
        // A relist shows the same name under a new UID, without the annotation.
        assert_eq!(
            index.parent_applied(&parent("p", "NEW", json!({}))),
            ParentEvent::Ignored
        );
        assert_eq!(index.parent(&p), ParentState::Unknown);
        assert!(
            index.parent_keys().is_empty(),
            "no sync is queued for it again"
        );
    }

    #[test]
    fn a_decorated_object_that_stops_matching_departs_with_its_attachments() {
        let config = ControllerConfig::decorator("d", k8s_types::core::v1::Secret)
            .with_parent_annotation_selector("example.com/decorate=yes")
            .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
        let index = Index::new(&config);
        assert_eq!(
            index.parent_applied(&parent("p", "P", json!({}))),
            ParentEvent::Ignored
        );
        let ParentEvent::Changed(p) =
            index.parent_applied(&parent("p", "P", json!({"example.com/decorate": "yes"})))
        else {
            panic!("a matching object is a parent")
        };
        index.child_applied(0, &child("c", "P"));
        assert_eq!(
            index.parent_applied(&parent("p", "P", json!({}))),
            ParentEvent::Left(p.clone())
        );
        assert_eq!(index.parent(&p), ParentState::Departed("P".into()));
        assert_eq!(index.parent_keys(), vec![p.clone()]);
        // Its attachment's events still reach it.
        assert_eq!(
            index.child_removed(0, &ObjectKey::of(&child("c", "P"))),
            vec![p.clone()]
        );
        index.forget_departed(&p);
        assert_eq!(index.parent(&p), ParentState::Unknown);
    }
}
