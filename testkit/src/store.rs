//! The object store: compact serialized objects, one global resourceVersion counter, a bounded
//! event history for watch resumes, and the live watchers.
//!
//! Objects are kept as serialized JSON (`Bytes`) rather than `serde_json::Value` trees: a tree
//! costs several times the JSON size, and gets, lists and watch events can then be served by
//! copying bytes. History events share those same buffers.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::allocate::Allocator;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};

/// Index of a bucket (one storage location per group + plural).
pub(crate) type BucketId = usize;

/// One stored object.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub json: Bytes,
}

/// Everything stored for one group + plural, whichever version it is served at.
#[derive(Debug)]
pub(crate) struct Bucket {
    /// Served versions; the first is the one objects are stored at.
    pub types: Vec<Arc<ResourceType>>,
    /// Keyed by (namespace, name); namespace is empty for cluster-scoped types.
    pub objects: BTreeMap<(String, String), Stored>,
    /// Defined by a CRD (and removed with it).
    pub custom: bool,
}

impl Bucket {
    pub fn primary(&self) -> &Arc<ResourceType> {
        &self.types[0]
    }
}

/// Where an object lives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjRef {
    pub bucket: BucketId,
    pub ns: String,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    fn wire(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

/// One change, as kept in the history window.
#[derive(Debug)]
pub(crate) struct Event {
    pub rv: u64,
    pub etype: EventType,
    pub bucket: BucketId,
    pub ns: String,
    pub json: Bytes,
    /// The object before a modification, to turn selector transitions into ADDED/DELETED.
    pub prev: Option<Bytes>,
}

impl Event {
    /// The object a watcher that sees this event as `seen` is sent: an object that stopped
    /// matching the watcher's selectors goes out as it was before, with the new
    /// resourceVersion (upstream's `convertToWatchEvent`).
    fn object_seen_as(&self, seen: EventType) -> Bytes {
        match (&self.prev, self.etype, seen) {
            (Some(prev), EventType::Modified, EventType::Deleted) => {
                let mut before: Value = match serde_json::from_slice(prev) {
                    Ok(v) => v,
                    Err(_) => return self.json.clone(),
                };
                if let Some(meta) = before.get_mut("metadata").and_then(Value::as_object_mut) {
                    meta.insert("resourceVersion".into(), Value::String(self.rv.to_string()));
                }
                Bytes::from(serde_json::to_vec(&before).unwrap_or_default())
            }
            _ => self.json.clone(),
        }
    }
}

/// One line of a watch stream: `{"type":..,"object":..}\n`.
pub(crate) fn watch_line(etype: &str, object: &[u8]) -> Bytes {
    let mut line = Vec::with_capacity(object.len() + 32);
    line.extend_from_slice(b"{\"type\":\"");
    line.extend_from_slice(etype.as_bytes());
    line.extend_from_slice(b"\",\"object\":");
    line.extend_from_slice(object);
    line.extend_from_slice(b"}\n");
    Bytes::from(line)
}

/// What a watch (or list) selects.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub bucket: BucketId,
    pub ns: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    /// The type the watcher reads at, when its bucket serves several (objects are then
    /// converted from the stored shape); `None` sends stored objects as they are.
    pub view: Option<Arc<ResourceType>>,
}

impl Filter {
    fn needs_parse(&self) -> bool {
        !self.labels.is_empty() || !self.fields.is_empty()
    }

    pub fn matches_value(&self, v: &Value) -> bool {
        self.labels
            .matches(v.pointer("/metadata/labels").and_then(Value::as_object))
            && self.fields.matches(v)
    }

    /// A stored object as this filter's reader sees it.
    pub fn shown(&self, json: &Bytes) -> Bytes {
        match &self.view {
            Some(ty) => crate::server::convert::serve_bytes(ty, json),
            None => json.clone(),
        }
    }

    pub fn matches_bytes(&self, json: &[u8]) -> bool {
        if !self.needs_parse() {
            return true;
        }
        serde_json::from_slice::<Value>(json).is_ok_and(|v| self.matches_value(&v))
    }

    /// How this event looks to this filter, if it sees it at all.
    fn classify(&self, event: &Event) -> Option<EventType> {
        if event.bucket != self.bucket {
            return None;
        }
        if let Some(ns) = &self.ns
            && *ns != event.ns
        {
            return None;
        }
        if !self.needs_parse() {
            return Some(event.etype);
        }
        let now = self.matches_bytes(&event.json);
        let before = event.prev.as_ref().is_some_and(|p| self.matches_bytes(p));
        match (event.etype, before, now) {
            (EventType::Modified, true, true) => Some(EventType::Modified),
            (EventType::Modified, false, true) => Some(EventType::Added),
            (EventType::Modified, true, false) => Some(EventType::Deleted),
            (EventType::Modified, false, false) => None,
            (etype, _, true) => Some(etype),
            (_, _, false) => None,
        }
    }
}

/// An item sent to a live watcher.
#[derive(Debug)]
pub(crate) struct WatchItem {
    pub rv: u64,
    pub line: Bytes,
}

/// A live watcher: its filter and its bounded buffer.
#[derive(Debug)]
pub(crate) struct Watcher {
    pub filter: Filter,
    pub tx: mpsc::Sender<WatchItem>,
}

/// The whole mutable state, behind one mutex.
#[derive(Debug)]
pub(crate) struct State {
    pub rv: u64,
    pub buckets: Vec<Bucket>,
    /// (group, version, plural) -> bucket
    pub routes: HashMap<(String, String, String), BucketId>,
    pub history: VecDeque<Arc<Event>>,
    pub window: usize,
    /// Every event with rv <= compacted has been dropped from the history.
    pub compacted: u64,
    pub watchers: Vec<Watcher>,
    /// uid -> object, for owner lookups.
    pub uids: HashMap<String, ObjRef>,
    /// owner uid -> dependents.
    pub dependents: HashMap<String, BTreeSet<ObjRef>>,
    pub rng: StdRng,
    /// See [`crate::ApiServer::simulate_workloads`].
    pub simulate_workloads: bool,
    /// `Warning` headers for the response to the write being handled.
    pub warnings: Vec<String>,
    /// Service cluster IPs and node ports in use.
    pub allocator: Allocator,
}

fn owner_uids(v: &Value) -> Vec<String> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn uid_of(v: &Value) -> Option<String> {
    v.pointer("/metadata/uid")
        .and_then(Value::as_str)
        .map(str::to_string)
}

impl State {
    pub fn new(window: usize, seed: u64) -> Self {
        Self {
            rv: 1,
            buckets: Vec::new(),
            routes: HashMap::new(),
            history: VecDeque::new(),
            window: window.max(1),
            compacted: 0,
            watchers: Vec::new(),
            uids: HashMap::new(),
            dependents: HashMap::new(),
            rng: StdRng::seed_from_u64(seed),
            simulate_workloads: false,
            warnings: Vec::new(),
            allocator: Allocator::default(),
        }
    }

    /// Serves `ty`; types of the same group + plural share one bucket.
    pub fn register(&mut self, ty: ResourceType, custom: bool) -> BucketId {
        // Types that upstream stores in another group's resource (events.k8s.io Events in core
        // Events) join that bucket and are converted on the way in and out.
        let group = crate::server::convert::storage_group(&ty.group, &ty.plural);
        let existing = self
            .buckets
            .iter()
            .position(|b| b.primary().group == group && b.primary().plural == ty.plural);
        let id = match existing {
            Some(id) => {
                let bucket = &mut self.buckets[id];
                bucket.custom = custom;
                if let Some(slot) = bucket
                    .types
                    .iter_mut()
                    .find(|t| t.group == ty.group && t.version == ty.version)
                {
                    *slot = Arc::new(ty.clone());
                } else {
                    bucket.types.push(Arc::new(ty.clone()));
                }
                id
            }
            None => {
                self.buckets.push(Bucket {
                    types: vec![Arc::new(ty.clone())],
                    objects: BTreeMap::new(),
                    custom,
                });
                self.buckets.len() - 1
            }
        };
        self.routes.insert(
            (ty.group.clone(), ty.version.clone(), ty.plural.clone()),
            id,
        );
        id
    }

    /// Whether `bucket` holds the core Services (whose writes change what is allocated).
    fn is_services(&self, bucket: BucketId) -> bool {
        let ty = self.buckets[bucket].primary();
        ty.group.is_empty() && ty.plural == "services"
    }

    /// Stops serving the given versions of a bucket (all when `keep` is empty).
    pub fn unregister_versions(&mut self, id: BucketId, keep: &[String]) {
        let bucket = &mut self.buckets[id];
        let gone: Vec<Arc<ResourceType>> = bucket
            .types
            .iter()
            .filter(|t| !keep.contains(&t.version))
            .cloned()
            .collect();
        for t in &gone {
            self.routes
                .remove(&(t.group.clone(), t.version.clone(), t.plural.clone()));
        }
        if !keep.is_empty() {
            bucket.types.retain(|t| keep.contains(&t.version));
        }
    }

    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<BucketId> {
        self.routes
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .copied()
    }

    pub fn bucket_by_kind(&self, api_version: &str, kind: &str) -> Option<BucketId> {
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        self.buckets.iter().enumerate().find_map(|(id, b)| {
            b.types
                .iter()
                .any(|t| t.group == group && t.version == version && t.kind == kind)
                .then_some(id)
        })
    }

    pub fn get(&self, r: &ObjRef) -> Option<&Stored> {
        self.buckets[r.bucket]
            .objects
            .get(&(r.ns.clone(), r.name.clone()))
    }

    pub fn get_value(&self, r: &ObjRef) -> Option<Value> {
        self.get(r)
            .and_then(|s| serde_json::from_slice(&s.json).ok())
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn reindex(&mut self, r: &ObjRef, old: Option<&Value>, new: Option<&Value>) {
        if let Some(old) = old {
            for owner in owner_uids(old) {
                if let Some(set) = self.dependents.get_mut(&owner) {
                    set.remove(r);
                    if set.is_empty() {
                        self.dependents.remove(&owner);
                    }
                }
            }
            if new.is_none()
                && let Some(uid) = uid_of(old)
            {
                self.uids.remove(&uid);
            }
        }
        if let Some(new) = new {
            for owner in owner_uids(new) {
                self.dependents.entry(owner).or_default().insert(r.clone());
            }
            if let Some(uid) = uid_of(new) {
                self.uids.insert(uid, r.clone());
            }
        }
    }

    /// Turns a value written at one of the bucket's served types into the stored shape (see
    /// [`crate::server::convert`]); the value's `apiVersion` says which type it was written at.
    fn to_stored_shape(&self, bucket: BucketId, value: &mut Value) {
        let b = &self.buckets[bucket];
        let written = value.get("apiVersion").and_then(Value::as_str);
        if let Some(served) = b
            .types
            .iter()
            .find(|t| Some(t.api_version().as_str()) == written)
        {
            crate::server::convert::to_storage(b.primary(), served, value);
        }
    }

    /// Stores `value` (stamping a fresh resourceVersion into it, and converting it to the
    /// stored shape) and records the event. Returns the stored bytes.
    pub fn put(&mut self, r: &ObjRef, old: Option<&Value>, value: &mut Value) -> Bytes {
        self.to_stored_shape(r.bucket, value);
        let rv = self.next_rv();
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        let prev = self.buckets[r.bucket]
            .objects
            .insert(
                (r.ns.clone(), r.name.clone()),
                Stored { json: json.clone() },
            )
            .map(|s| s.json);
        let etype = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.reindex(r, old, Some(value));
        if self.is_services(r.bucket) {
            self.allocator.index(r, Some(value));
        }
        self.record(Event {
            rv,
            etype,
            bucket: r.bucket,
            ns: r.ns.clone(),
            json: json.clone(),
            prev,
        });
        json
    }

    /// Removes the object; the DELETED event carries `last` with a fresh resourceVersion.
    pub fn remove(&mut self, r: &ObjRef, last: &mut Value) -> Bytes {
        self.to_stored_shape(r.bucket, last);
        let rv = self.next_rv();
        if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let json = Bytes::from(serde_json::to_vec(&last).unwrap_or_default());
        let prev = self.buckets[r.bucket]
            .objects
            .remove(&(r.ns.clone(), r.name.clone()))
            .map(|s| s.json);
        self.reindex(r, Some(last), None);
        if self.is_services(r.bucket) {
            self.allocator.index(r, None);
        }
        self.record(Event {
            rv,
            etype: EventType::Deleted,
            bucket: r.bucket,
            ns: r.ns.clone(),
            json: json.clone(),
            prev,
        });
        json
    }

    fn record(&mut self, event: Event) {
        let event = Arc::new(event);
        // One line per event type and reader's view, shared by every watcher that needs it.
        let mut lines: Vec<(EventType, Option<String>, Bytes)> = Vec::new();
        self.watchers.retain(|w| {
            let Some(etype) = w.filter.classify(&event) else {
                return !w.tx.is_closed();
            };
            let view = w.filter.view.as_ref().map(|t| t.api_version());
            let line = match lines.iter().find(|(e, v, _)| *e == etype && *v == view) {
                Some((_, _, line)) => line.clone(),
                None => {
                    let object = event.object_seen_as(etype);
                    let line = watch_line(etype.wire(), &w.filter.shown(&object));
                    lines.push((etype, view, line.clone()));
                    line
                }
            };
            // A watcher that cannot keep up is dropped (its stream ends) rather than slowing the
            // writer down; the client re-watches from its last resourceVersion, as with the real
            // server's "forcing watcher close due to unresponsiveness".
            w.tx.try_send(WatchItem { rv: event.rv, line }).is_ok()
        });
        self.history.push_back(event);
        while self.history.len() > self.window {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.rv;
            }
        }
    }

    /// Drops all history: every resume from an older resourceVersion gets `410 Gone`.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted = self.rv;
    }

    /// The events after `rv` that `filter` sees, as watch lines; `None` when `rv` is too old.
    pub fn replay(&self, filter: &Filter, rv: u64) -> Option<Vec<WatchItem>> {
        if rv < self.compacted {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|e| e.rv > rv)
                .filter_map(|e| {
                    filter.classify(e).map(|t| WatchItem {
                        rv: e.rv,
                        line: watch_line(t.wire(), &filter.shown(&e.object_seen_as(t))),
                    })
                })
                .collect(),
        )
    }

    /// Whether a namespace exists, and whether it is being deleted.
    pub fn namespace_state(&self, ns: &str) -> Option<bool> {
        let id = self.lookup("", "v1", "namespaces")?;
        let stored = self.buckets[id]
            .objects
            .get(&(String::new(), ns.to_string()))?;
        let v: Value = serde_json::from_slice(&stored.json).ok()?;
        Some(v.pointer("/metadata/deletionTimestamp").is_some())
    }
}
