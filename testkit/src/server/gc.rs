//! What kube-controller-manager's garbage collector and namespace controller do, run to
//! completion after each write: cascading deletion by ownerReferences (background, foreground,
//! orphan), dangling owners, and emptying terminating namespaces.
//!
//! Running it synchronously (instead of in a background loop) keeps tests deterministic: by the
//! time a delete returns, every dependent that will be deleted already is (or carries a
//! deletionTimestamp if its own finalizers hold it).

use std::collections::VecDeque;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::meta::{finalizers, is_deleting, meta_mut, now, set_finalizers};
use crate::store::{ObjRef, State, uid_of};

pub(crate) const FOREGROUND: &str = "foregroundDeletion";
/// The garbage collector's finalizer for an owner whose dependents are being orphaned.
const ORPHAN: &str = "orphan";

/// `propagationPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

impl Propagation {
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        match s {
            "Background" => Ok(Self::Background),
            "Foreground" => Ok(Self::Foreground),
            "Orphan" => Ok(Self::Orphan),
            other => Err(ApiError::invalid(
                "DeleteOptions",
                "meta.k8s.io",
                "",
                &[crate::errors::cause(
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    format!(
                        "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            )),
        }
    }
}

/// Follow-up work after a write.
#[derive(Debug)]
pub(crate) enum Work {
    /// An object is gone for good.
    Removed { r: ObjRef, last: Value },
    /// Re-check a dependent's owners.
    Evaluate(ObjRef),
    /// Re-check an owner waiting in foreground deletion.
    Foreground(String),
    /// An owner deleted with `Orphan` whose dependents have been let go.
    Orphaned(String),
    /// Re-check a terminating namespace.
    Namespace(String),
    /// A new namespace, which the cluster's controllers fill.
    NamespaceCreated(String),
}

pub(crate) type Queue = VecDeque<Work>;

/// What a delete did.
pub(crate) enum Deleted {
    /// Removed; the object as it was last stored.
    Gone(Bytes),
    /// Still there with a deletionTimestamp (finalizers pending).
    Pending(Bytes),
}

fn owner_refs(v: &Value) -> Vec<Value> {
    v.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn dependents_of(st: &State, uid: &str) -> Vec<ObjRef> {
    st.dependents
        .get(uid)
        .map(|s| s.iter().cloned().collect())
        .unwrap_or_default()
}

/// Removes the object now (no finalizers left) and queues the consequences.
pub(crate) fn remove_now(st: &mut State, work: &mut Queue, r: &ObjRef, mut last: Value) -> Value {
    st.remove(r, &mut last);
    work.push_back(Work::Removed {
        r: r.clone(),
        last: last.clone(),
    });
    last
}

/// Deletes one object with the given propagation, honouring its finalizers.
pub(crate) fn delete_object(
    st: &mut State,
    work: &mut Queue,
    r: &ObjRef,
    policy: Propagation,
) -> Option<Deleted> {
    let mut v = st.get_value(r)?;
    let uid = uid_of(&v).unwrap_or_default();
    let is_namespace = is_namespace_bucket(st, r);
    if is_deleting(&v) {
        let json = st.get(r).map(|s| s.json.clone()).unwrap_or_default();
        return Some(Deleted::Pending(json));
    }
    if policy == Propagation::Orphan {
        for dep in dependents_of(st, &uid) {
            drop_owner_refs(st, work, &dep, |o| {
                o.get("uid").and_then(Value::as_str) == Some(uid.as_str())
            });
        }
    }
    let kind = DeletedKind {
        namespace: is_namespace,
        pod: is_pod_bucket(st, r),
    };
    let marked = mark_deleted(&mut v, policy, kind);
    if marked != Marked::Held {
        if marked == Marked::Stamped {
            // Pods are deleted gracefully: with no node to wait for, the period is zero, so
            // the store stamps the deletion (a MODIFIED event) and removes the pod at once.
            st.put(r, None, &mut v);
        }
        let last = st.get(r).map(|s| s.json.clone()).unwrap_or_default();
        remove_now(st, work, r, v);
        return Some(Deleted::Gone(last));
    }
    let json = st.put(r, None, &mut v);
    match policy {
        Propagation::Foreground => {
            for dep in dependents_of(st, &uid) {
                work.push_back(Work::Evaluate(dep));
            }
            work.push_back(Work::Foreground(uid));
        }
        Propagation::Orphan => work.push_back(Work::Orphaned(uid)),
        Propagation::Background => {}
    }
    if is_namespace {
        empty_namespace(st, work, &r.name);
        work.push_back(Work::Namespace(r.name.clone()));
    }
    Some(Deleted::Pending(json))
}

/// What kind of object a delete marks: namespaces and pods are marked their own way.
#[derive(Clone, Copy)]
pub(crate) struct DeletedKind {
    pub namespace: bool,
    pub pod: bool,
}

/// How a delete leaves an object, once [`mark_deleted`] has written on it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Marked {
    /// Nothing holds it: it goes at once, unmarked.
    Gone,
    /// A pod: stamped as deleted with a zero grace period, then gone at once.
    Stamped,
    /// Finalizers hold it: stamped and kept until they are removed.
    Held,
}

/// Writes on `v` what a delete with `policy` writes before the object goes (shared by the delete
/// and its dry run, which answers with the same object).
pub(crate) fn mark_deleted(v: &mut Value, policy: Propagation, kind: DeletedKind) -> Marked {
    // `deletionFinalizersForGarbageCollection`: the policy's finalizer goes on whether or not
    // there are dependents, so the object answers the delete still present, and goes once the
    // collector has done its part (here, in the same request).
    let mut fins: Vec<String> = finalizers(v)
        .into_iter()
        .filter(|f| f != FOREGROUND && f != ORPHAN)
        .collect();
    match policy {
        Propagation::Foreground => fins.push(FOREGROUND.to_string()),
        Propagation::Orphan => fins.push(ORPHAN.to_string()),
        Propagation::Background => {}
    }
    if fins.is_empty() && !kind.namespace {
        if !kind.pod {
            return Marked::Gone;
        }
        if let Some(meta) = meta_mut(v) {
            meta.insert("deletionTimestamp".into(), json!(now()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        return Marked::Stamped;
    }
    set_finalizers(v, fins);
    if let Some(meta) = meta_mut(v) {
        meta.insert("deletionTimestamp".into(), json!(now()));
        // The namespace REST sets the timestamp only; the generic store also a zero grace.
        if !kind.namespace {
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        // Setting deletionTimestamp counts as a change for types that track generation.
        if let Some(generation) = meta.get("generation").and_then(Value::as_i64) {
            meta.insert("generation".into(), json!(generation + 1));
        }
    }
    if kind.namespace {
        v["status"]["phase"] = json!("Terminating");
    }
    Marked::Held
}

/// Deletes everything in a terminating namespace (their finalizers still hold them).
fn empty_namespace(st: &mut State, work: &mut Queue, ns: &str) {
    for bucket in 0..st.buckets.len() {
        if !st.buckets[bucket].primary().namespaced {
            continue;
        }
        let names: Vec<String> = st.buckets[bucket]
            .objects
            .range((ns.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
            .map(|((_, name), _)| name.clone())
            .collect();
        for name in names {
            delete_object(
                st,
                work,
                &ObjRef {
                    bucket,
                    ns: ns.to_string(),
                    name,
                },
                Propagation::Background,
            );
        }
    }
}

fn namespace_is_empty(st: &State, ns: &str) -> bool {
    st.buckets.iter().all(|b| {
        !b.primary().namespaced
            || b.objects
                .range((ns.to_string(), String::new())..)
                .next()
                .is_none_or(|((n, _), _)| n != ns)
    })
}

/// Removes the owner references `drop` selects from a dependent.
fn drop_owner_refs(st: &mut State, work: &mut Queue, dep: &ObjRef, drop: impl Fn(&Value) -> bool) {
    let Some(old) = st.get_value(dep) else { return };
    let refs = owner_refs(&old);
    let (gone, keep): (Vec<Value>, Vec<Value>) = refs.into_iter().partition(|o| drop(o));
    if gone.is_empty() {
        return;
    }
    let mut new = old.clone();
    if let Some(meta) = meta_mut(&mut new) {
        if keep.is_empty() {
            meta.remove("ownerReferences");
        } else {
            meta.insert("ownerReferences".into(), Value::Array(keep));
        }
    }
    st.put(dep, Some(&old), &mut new);
    for o in gone {
        if let Some(uid) = o.get("uid").and_then(Value::as_str) {
            work.push_back(Work::Foreground(uid.to_string()));
        }
    }
}

enum OwnerState {
    Solid,
    Dangling,
    Waiting,
}

fn owner_state(st: &State, dep: &ObjRef, owner: &Value) -> OwnerState {
    let Some(uid) = owner.get("uid").and_then(Value::as_str) else {
        return OwnerState::Dangling;
    };
    let Some(r) = st.uids.get(uid) else {
        return OwnerState::Dangling;
    };
    // A namespaced owner must live in the dependent's namespace.
    if !r.ns.is_empty() && r.ns != dep.ns {
        return OwnerState::Dangling;
    }
    match st.get_value(r) {
        None => OwnerState::Dangling,
        Some(v) if is_deleting(&v) && finalizers(&v).iter().any(|f| f == FOREGROUND) => {
            OwnerState::Waiting
        }
        Some(_) => OwnerState::Solid,
    }
}

/// The garbage collector's decision for one dependent.
fn evaluate(st: &mut State, work: &mut Queue, dep: &ObjRef) {
    let Some(v) = st.get_value(dep) else { return };
    if is_deleting(&v) {
        return;
    }
    let refs = owner_refs(&v);
    if refs.is_empty() {
        return;
    }
    let states: Vec<OwnerState> = refs.iter().map(|o| owner_state(st, dep, o)).collect();
    let solid = states.iter().any(|s| matches!(s, OwnerState::Solid));
    if solid {
        let bad: Vec<String> = refs
            .iter()
            .zip(&states)
            .filter(|(_, s)| !matches!(s, OwnerState::Solid))
            .filter_map(|(o, _)| o.get("uid").and_then(Value::as_str).map(str::to_string))
            .collect();
        if !bad.is_empty() {
            drop_owner_refs(st, work, dep, |o| {
                o.get("uid")
                    .and_then(Value::as_str)
                    .is_some_and(|u| bad.iter().any(|b| b == u))
            });
        }
        return;
    }
    let policy = if states.iter().any(|s| matches!(s, OwnerState::Waiting)) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    delete_object(st, work, dep, policy);
}

/// Releases an owner in foreground deletion once no blocking dependent is left.
fn check_foreground(st: &mut State, work: &mut Queue, uid: &str) {
    let Some(r) = st.uids.get(uid).cloned() else {
        return;
    };
    let Some(v) = st.get_value(&r) else { return };
    let fins = finalizers(&v);
    if !is_deleting(&v) || !fins.iter().any(|f| f == FOREGROUND) {
        return;
    }
    let blocking = dependents_of(st, uid).iter().any(|d| {
        st.get_value(d).is_some_and(|dv| {
            owner_refs(&dv).iter().any(|o| {
                o.get("uid").and_then(Value::as_str) == Some(uid)
                    && o.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
            })
        })
    });
    if blocking {
        return;
    }
    release_finalizer(st, work, &r, FOREGROUND);
}

/// Removes the collector's own `finalizer` from a deleting object, which goes when it was the
/// last one.
fn release_finalizer(st: &mut State, work: &mut Queue, r: &ObjRef, finalizer: &str) {
    let Some(v) = st.get_value(r) else { return };
    let fins = finalizers(&v);
    if !is_deleting(&v) || !fins.iter().any(|f| f == finalizer) {
        return;
    }
    let rest: Vec<String> = fins.into_iter().filter(|f| f != finalizer).collect();
    let mut new = v.clone();
    let gone = rest.is_empty();
    set_finalizers(&mut new, rest);
    // A Namespace also waits for its `kubernetes` finalizer, which the namespace controller
    // lifts only once the namespace is empty.
    if gone && !is_namespace_bucket(st, r) {
        remove_now(st, work, r, new);
    } else {
        st.put(r, Some(&v), &mut new);
        if gone {
            work.push_back(Work::Namespace(r.name.clone()));
        }
    }
}

fn is_pod_bucket(st: &State, r: &ObjRef) -> bool {
    let t = st.buckets[r.bucket].primary();
    t.kind == "Pod" && t.group.is_empty()
}

fn is_namespace_bucket(st: &State, r: &ObjRef) -> bool {
    let t = st.buckets[r.bucket].primary();
    t.kind == "Namespace" && t.group.is_empty()
}

fn check_namespace(st: &mut State, work: &mut Queue, ns: &str) {
    let Some(id) = st.lookup("", "v1", "namespaces") else {
        return;
    };
    let r = ObjRef {
        bucket: id,
        ns: String::new(),
        name: ns.to_string(),
    };
    let Some(v) = st.get_value(&r) else { return };
    if !is_deleting(&v) || !finalizers(&v).is_empty() || !namespace_is_empty(st, ns) {
        return;
    }
    remove_now(st, work, &r, v);
}

/// Runs queued work until nothing is left.
pub(crate) fn drain(st: &mut State, work: &mut Queue) {
    // Bounded so that a bug can never spin forever inside a request.
    let mut budget = 1_000_000u32;
    while let Some(item) = work.pop_front() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            tracing::error!("garbage collection did not settle; giving up");
            return;
        }
        match item {
            Work::Removed { r, last } => {
                if let Some(uid) = uid_of(&last) {
                    for dep in dependents_of(st, &uid) {
                        work.push_back(Work::Evaluate(dep));
                    }
                }
                for o in owner_refs(&last) {
                    if let Some(uid) = o.get("uid").and_then(Value::as_str) {
                        work.push_back(Work::Foreground(uid.to_string()));
                    }
                }
                if !r.ns.is_empty() {
                    work.push_back(Work::Namespace(r.ns.clone()));
                }
                super::crd::after_removal(st, work, &r, &last);
                super::controllers::after_removal(st, work, &r);
            }
            Work::Evaluate(dep) => evaluate(st, work, &dep),
            Work::Foreground(uid) => check_foreground(st, work, &uid),
            Work::Orphaned(uid) => {
                if let Some(r) = st.uids.get(&uid).cloned() {
                    release_finalizer(st, work, &r, ORPHAN);
                }
            }
            Work::Namespace(ns) => check_namespace(st, work, &ns),
            Work::NamespaceCreated(ns) => super::controllers::namespace_created(st, work, &ns),
        }
    }
}
