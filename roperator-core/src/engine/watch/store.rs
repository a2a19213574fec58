//! The objects of one watched type, as compact JSON text keyed by namespace and name.
//!
//! A sync parses what it needs; keeping `serde_json::Value` trees for every watched object
//! would cost several times the memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::object::{Managed, Observed};
use crate::selector::LabelSelector;

/// An object's place: namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ObjectKey {
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectKey {
    pub fn of(obj: &Observed) -> Self {
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

struct Stored {
    uid: String,
    resource_version: String,
    /// Kept only where selections by label are made over the store (related types).
    labels: Option<Box<[(String, String)]>>,
    raw: Arc<str>,
    /// What the object kept of its `managedFields`, which the raw text leaves out.
    managed: Option<Arc<Managed>>,
}

impl Stored {
    fn text(&self) -> (Arc<str>, Option<Arc<Managed>>) {
        (Arc::clone(&self.raw), self.managed.clone())
    }
}

/// Labels as the store keeps them (for related types).
pub(crate) type Labels = Box<[(String, String)]>;

/// What [`Store::upsert`] did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Upsert {
    /// A new object, or a new version of one; with the labels the previous version had, where
    /// the store keeps labels (a selection may have matched the old labels and not the new).
    Changed { previous_labels: Option<Labels> },
    /// The version the store has (the watch echoing a write already stored) or an older one.
    Unchanged,
}

pub(crate) struct Store {
    /// Set before the watch starts, when some controller selects objects of this type by label.
    keep_labels: AtomicBool,
    objects: Mutex<HashMap<ObjectKey, Stored>>,
}

/// Resource versions are opaque by contract but integers in every API server in practice; when
/// both are, an older one never overwrites a newer one (a watch event can arrive after the
/// response of a later write that the writer already stored).
fn is_stale(new: &Observed, old: &Stored) -> bool {
    if new.uid != old.uid {
        return false;
    }
    if !new.resource_version.is_empty() && new.resource_version == old.resource_version {
        return true;
    }
    match (
        new.resource_version.parse::<u64>(),
        old.resource_version.parse::<u64>(),
    ) {
        (Ok(n), Ok(o)) => n < o,
        _ => false,
    }
}

pub(crate) fn labels_of(obj: &Observed) -> Labels {
    obj.json
        .pointer("/metadata/labels")
        .and_then(serde_json::Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
        .collect()
}

fn parse(stored: (Arc<str>, Option<Arc<Managed>>)) -> Option<Arc<Observed>> {
    let (raw, managed) = stored;
    let json = serde_json::from_str(&raw).ok()?;
    let mut obj = Observed::from_json(json).ok()?;
    obj.managed = managed;
    Some(Arc::new(obj))
}

impl Store {
    pub fn new(keep_labels: bool) -> Self {
        Self {
            keep_labels: AtomicBool::new(keep_labels),
            objects: Mutex::default(),
        }
    }

    /// From now on, keeps labels for selections (call before the watch starts).
    pub fn keep_labels(&self) {
        self.keep_labels.store(true, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<ObjectKey, Stored>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stores `obj` unless the store already has this version or a newer one.
    pub fn upsert(&self, obj: &Observed) -> Upsert {
        let key = ObjectKey::of(obj);
        // Most watch events of a busy controller are echoes of its own writes, already stored
        // from their answers: tell them apart before serializing anything.
        let stale = |objects: &HashMap<ObjectKey, Stored>| {
            objects.get(&key).is_some_and(|old| is_stale(obj, old))
        };
        if stale(&self.lock()) {
            return Upsert::Unchanged;
        }
        let stored = Stored {
            uid: obj.uid.clone(),
            resource_version: obj.resource_version.clone(),
            labels: self
                .keep_labels
                .load(Ordering::Relaxed)
                .then(|| labels_of(obj)),
            raw: Arc::from(serde_json::to_string(&obj.json).unwrap_or_default()),
            managed: obj.managed.clone(),
        };
        let mut objects = self.lock();
        if stale(&objects) {
            return Upsert::Unchanged; // a newer version arrived meanwhile
        }
        let previous = objects.insert(key, stored);
        Upsert::Changed {
            previous_labels: previous.and_then(|p| p.labels),
        }
    }

    /// Forgets `key` if it is still the object with `uid`; returns whether it did.
    pub fn remove(&self, key: &ObjectKey, uid: &str) -> bool {
        let mut objects = self.lock();
        if objects.get(key).is_some_and(|o| o.uid == uid) {
            objects.remove(key);
            return true;
        }
        false
    }

    /// The object at `key`, parsed (outside the lock).
    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Observed>> {
        let stored = self.lock().get(key).map(Stored::text)?;
        parse(stored)
    }

    /// Keys and UIDs of the objects in `namespace` (all with `None`), to find what disappeared
    /// across a re-list.
    pub fn keys_in(&self, namespace: Option<&str>) -> Vec<(ObjectKey, String)> {
        self.lock()
            .iter()
            .filter(|(k, _)| namespace.is_none() || k.namespace.as_deref() == namespace)
            .map(|(k, o)| (k.clone(), o.uid.clone()))
            .collect()
    }

    /// Keys and UIDs of the objects in `namespace` last written at or before resourceVersion
    /// `up_to` (all of them with `None`, or where a version is not a number): what a namespace
    /// deleted at `up_to` took with it. Newer objects belong to a namespace of the same name
    /// created since.
    pub fn keys_in_up_to(&self, namespace: &str, up_to: Option<u64>) -> Vec<(ObjectKey, String)> {
        self.lock()
            .iter()
            .filter(|(k, _)| k.namespace.as_deref() == Some(namespace))
            .filter(|(_, o)| match (up_to, o.resource_version.parse::<u64>()) {
                (Some(up_to), Ok(rv)) => rv <= up_to,
                _ => true,
            })
            .map(|(k, o)| (k.clone(), o.uid.clone()))
            .collect()
    }

    /// The objects in `namespace` (all with `None`) whose labels match `selector`. Only for
    /// stores that keep labels; the others select nothing.
    pub fn select(&self, namespace: Option<&str>, selector: &LabelSelector) -> Vec<Arc<Observed>> {
        let raws: Vec<(Arc<str>, Option<Arc<Managed>>)> = self
            .lock()
            .iter()
            .filter(|(k, _)| namespace.is_none() || k.namespace.as_deref() == namespace)
            .filter(|(_, o)| {
                o.labels.as_deref().is_some_and(|labels| {
                    selector.matches(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                })
            })
            .map(|(_, o)| o.text())
            .collect();
        raws.into_iter().filter_map(parse).collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(name: &str, uid: &str, rv: &str, app: &str) -> Observed {
        Observed::from_json(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": name, "namespace": "ns", "uid": uid, "resourceVersion": rv, "labels": {"app": app}}}))
        .unwrap()
    }

    #[test]
    fn stale_versions_and_other_incarnations_are_told_apart() {
        let store = Store::new(true);
        let changed = |labels: Option<&[(&str, &str)]>| Upsert::Changed {
            previous_labels: labels.map(|l| {
                l.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
        };
        assert_eq!(store.upsert(&cm("a", "A", "5", "x")), changed(None));
        assert_eq!(store.upsert(&cm("a", "A", "5", "x")), Upsert::Unchanged);
        assert_eq!(store.upsert(&cm("a", "A", "4", "x")), Upsert::Unchanged);
        assert_eq!(
            store.upsert(&cm("a", "A", "6", "y")),
            changed(Some(&[("app", "x")]))
        );
        let key = ObjectKey::of(&cm("a", "A", "6", "y"));
        assert!(!store.remove(&key, "OTHER"));
        assert_eq!(store.get(&key).unwrap().resource_version, "6");
        // A new incarnation (another UID) replaces the old one whatever its version.
        assert!(matches!(
            store.upsert(&cm("a", "B", "1", "y")),
            Upsert::Changed { .. }
        ));
        assert_eq!(store.get(&key).unwrap().uid, "B");
        assert!(store.remove(&key, "B"));
        assert_eq!(store.len(), 0);
    }

    #[test]
    fn selections_match_labels_within_a_namespace() {
        let store = Store::new(true);
        store.upsert(&cm("a", "A", "1", "web"));
        store.upsert(&cm("b", "B", "1", "db"));
        let web = LabelSelector::parse("app=web").unwrap();
        assert_eq!(store.select(Some("ns"), &web).len(), 1);
        assert_eq!(store.select(Some("other"), &web).len(), 0);
        assert_eq!(
            store
                .select(None, &LabelSelector::parse("app").unwrap())
                .len(),
            2
        );
        assert!(Store::new(false).select(None, &web).is_empty());
    }
}
