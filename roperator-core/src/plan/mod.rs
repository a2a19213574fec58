//! Planning: from the observed children, the desired children and the per-type policies to the
//! list of writes that makes the first match the second.
//!
//! Everything here is pure (no I/O, no clock), so every case is unit-tested below. Invalid
//! desired children fail the whole plan before anything is written.
//!
//! A live child is converged when the handler's answer is the one recorded on it (the
//! last-applied annotation) and every field of that answer is in the live object with the same
//! value — or with the value the API server made of it when we last wrote it (a quantity it
//! canonicalized, a value a webhook rewrote): see [`written`] for that memory, which the caller
//! passes in. Without that memory, quantity fields of built-in types are compared by value
//! ([`quantity`]). Fields only the live object has (set by the server or by others) are not
//! drift.

mod diff;
mod quantity;
mod record;
mod validate;
mod written;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{ChildConfig, NamespaceScope, UpdateStrategy};
use crate::k8s_type::K8sType;
use crate::names::{LAST_APPLIED_ANNOTATION, MANAGED_BY_LABEL, PARENT_UID_LABEL};
use crate::object::Observed;

pub(crate) use diff::is_subset;
pub(crate) use validate::InvalidResponse;
pub(crate) use written::{Expected, Written};

/// What the server made of our last write, per child UID (see [`written`]).
pub(crate) type WrittenByUid = HashMap<String, Arc<Written>>;

/// What the planner needs to know besides the children themselves.
pub(crate) struct PlanContext<'a> {
    pub operator: &'a str,
    pub parent_type: K8sType,
    pub parent: &'a Observed,
    pub child_types: &'a [(K8sType, ChildConfig)],
    /// Where the operator watches: a child elsewhere could be created but never seen again.
    pub namespaces: &'a NamespaceScope,
}

/// A desired child after validation and normalization.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Desired {
    pub child_type: K8sType,
    pub update: UpdateStrategy,
    pub namespace: Option<String>,
    pub name: String,
    /// The handler's object, normalized (namespace filled in, server-owned fields and nulls
    /// removed). The last-applied annotation records it (see [`record`]).
    pub content: Value,
}

/// Identifies a child among a parent's children: type, namespace and name.
pub(crate) type ChildId = (K8sType, Option<String>, String);

/// Why a child is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DeleteReason {
    /// No longer desired.
    Prune,
    /// Changed under the recreate policy; created again on the next sync.
    Recreate,
}

/// What a write does to a child, as logs, Events and metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ChangeKind {
    Created,
    Replaced,
    Recreating,
    Deleted,
}

impl ChangeKind {
    /// Every kind, in the order Events report them.
    pub const ALL: [ChangeKind; 4] = [
        ChangeKind::Created,
        ChangeKind::Replaced,
        ChangeKind::Recreating,
        ChangeKind::Deleted,
    ];

    /// The word in logs and Event notes (`"created ConfigMap ns/a"`).
    pub fn past_tense(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Replaced => "replaced",
            ChangeKind::Recreating => "recreating",
            ChangeKind::Deleted => "deleted",
        }
    }

    /// The reason of the Normal Event listing changes of this kind.
    pub fn event_reason(self) -> &'static str {
        match self {
            ChangeKind::Created => "ChildCreated",
            ChangeKind::Replaced => "ChildReplaced",
            ChangeKind::Recreating => "ChildRecreating",
            ChangeKind::Deleted => "ChildDeleted",
        }
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// POST this object.
    Create {
        child_type: K8sType,
        object: Value,
        expected: Expected,
    },
    /// PUT this object (it carries the observed resourceVersion as precondition).
    Replace {
        child_type: K8sType,
        object: Value,
        observed: Arc<Observed>,
        expected: Expected,
    },
    /// DELETE this object with its UID as precondition.
    Delete {
        child_type: K8sType,
        observed: Arc<Observed>,
        reason: DeleteReason,
    },
}

impl Action {
    /// What the action changes once it succeeded.
    pub fn change(&self) -> ChangeKind {
        match self {
            Action::Create { .. } => ChangeKind::Created,
            Action::Replace { .. } => ChangeKind::Replaced,
            Action::Delete {
                reason: DeleteReason::Recreate,
                ..
            } => ChangeKind::Recreating,
            Action::Delete {
                reason: DeleteReason::Prune,
                ..
            } => ChangeKind::Deleted,
        }
    }

    /// The namespace the action writes in, if any.
    fn namespace(&self) -> Option<&str> {
        match self {
            Action::Create { object, .. } => object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str),
            Action::Replace { observed, .. } | Action::Delete { observed, .. } => {
                observed.namespace.as_deref()
            }
        }
    }

    /// The name of a Namespace this action creates.
    fn creates_namespace(&self) -> Option<&str> {
        match self {
            Action::Create {
                child_type, object, ..
            } if is_namespace(child_type) => {
                object.pointer("/metadata/name").and_then(Value::as_str)
            }
            _ => None,
        }
    }
}

/// Splits a plan into waves: the writes of one wave do not depend on each other and may go out
/// at once; a wave starts when the previous one succeeded. A child in a Namespace that the same
/// plan creates waits for that create (the API server refuses objects in a namespace that does
/// not exist); everything else is independent, since children are keyed by type, namespace and
/// name and each write touches one of them. Within a wave, the planner's order is kept.
pub(crate) fn waves(actions: Vec<Action>) -> Vec<Vec<Action>> {
    let created: std::collections::HashSet<String> = actions
        .iter()
        .filter_map(Action::creates_namespace)
        .map(str::to_string)
        .collect();
    let (first, second): (Vec<Action>, Vec<Action>) = actions
        .into_iter()
        .partition(|a| a.namespace().is_none_or(|ns| !created.contains(ns)));
    [first, second]
        .into_iter()
        .filter(|wave| !wave.is_empty())
        .collect()
}

/// Validates the handler's children; see [`validate::validate`].
pub(crate) fn validate(
    ctx: &PlanContext<'_>,
    children: &[Value],
) -> Result<Vec<Desired>, InvalidResponse> {
    validate::validate(ctx, children)
}

/// The writes that turn `observed` into `desired`. Creates and updates come first, in the
/// handler's order, then deletions. `written` is what the server made of our last write to
/// each child (possibly nothing: then only exact values count as converged).
pub(crate) fn plan(
    ctx: &PlanContext<'_>,
    observed: &[Arc<Observed>],
    desired: &[Desired],
    written: &WrittenByUid,
) -> Vec<Action> {
    let mut by_id: HashMap<ChildId, &Arc<Observed>> = HashMap::with_capacity(observed.len());
    let mut observed_types: Vec<(ChildId, &Arc<Observed>)> = Vec::with_capacity(observed.len());
    for obj in observed {
        let Some((child_type, _)) = ctx
            .child_types
            .iter()
            .find(|(t, _)| t.matches(&obj.api_version, &obj.kind))
        else {
            continue; // not a configured type: never touched
        };
        let id = (*child_type, obj.namespace.clone(), obj.name.clone());
        by_id.insert(id.clone(), obj);
        observed_types.push((id, obj));
    }

    let mut actions = Vec::new();
    let mut wanted = std::collections::HashSet::with_capacity(desired.len());
    for d in desired {
        let id = (d.child_type, d.namespace.clone(), d.name.clone());
        let full = full_object(ctx, d);
        let expected = Expected::new(comparable(&full));
        match by_id.get(&id) {
            None => actions.push(Action::Create {
                child_type: d.child_type,
                object: full,
                expected,
            }),
            Some(live) if live.deleting => {} // wait until it is gone, then create it again
            Some(live) if !is_changed(live, d, &expected, written.get(&live.uid)) => {}
            Some(live) => match d.update {
                UpdateStrategy::OnDelete => {}
                UpdateStrategy::Recreate => actions.push(Action::Delete {
                    child_type: d.child_type,
                    observed: Arc::clone(live),
                    reason: DeleteReason::Recreate,
                }),
                UpdateStrategy::Replace => actions.push(Action::Replace {
                    child_type: d.child_type,
                    object: replacement(live, &full),
                    observed: Arc::clone(live),
                    expected,
                }),
            },
        }
        wanted.insert(id);
    }
    // A Namespace that goes takes what is in it: deleting its content one by one would be
    // redundant writes, failing once the namespace controller got there first.
    let going: std::collections::HashSet<&str> = observed_types
        .iter()
        .filter(|((t, _, name), obj)| {
            is_namespace(t) && (obj.deleting || !wanted.contains(&(*t, None, name.clone())))
        })
        .map(|((_, _, name), _)| name.as_str())
        .collect();
    for (id, obj) in &observed_types {
        let inside_going = obj
            .namespace
            .as_deref()
            .is_some_and(|ns| going.contains(ns));
        if !wanted.contains(id) && !obj.deleting && !inside_going {
            actions.push(Action::Delete {
                child_type: id.0,
                observed: Arc::clone(obj),
                reason: DeleteReason::Prune,
            });
        }
    }
    actions
}

fn is_namespace(t: &K8sType) -> bool {
    t.api_version == "v1" && t.kind == "Namespace"
}

/// The handler's object plus what the engine adds: our labels, the last-applied record and the
/// parent's controller reference.
fn full_object(ctx: &PlanContext<'_>, d: &Desired) -> Value {
    let mut full = d.content.clone();
    let last_applied = serde_json::to_string(&record::record(d)).unwrap_or_default();
    let meta = full
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| json!({})));
    let Some(Value::Object(meta)) = meta else {
        return full; // validation guarantees an object with object metadata
    };
    let labels = meta.entry("labels").or_insert_with(|| json!({}));
    if let Value::Object(labels) = labels {
        labels.insert(MANAGED_BY_LABEL.into(), json!(ctx.operator));
        labels.insert(PARENT_UID_LABEL.into(), json!(ctx.parent.uid));
    }
    let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
    if let Value::Object(annotations) = annotations {
        annotations.insert(LAST_APPLIED_ANNOTATION.into(), json!(last_applied));
    }
    let owner = json!({
        "apiVersion": ctx.parent_type.api_version,
        "kind": ctx.parent_type.kind,
        "name": ctx.parent.name,
        "uid": ctx.parent.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    });
    let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
    if let Value::Array(refs) = refs {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&ctx.parent.uid));
        refs.push(owner);
    }
    full
}

/// What a live child must hold to be converged: the full object minus the last-applied record
/// (compared separately, as text would differ in member order).
fn comparable(full: &Value) -> Value {
    let mut compare = full.clone();
    if let Some(Value::Object(a)) = compare.pointer_mut("/metadata/annotations") {
        a.remove(LAST_APPLIED_ANNOTATION);
    }
    compare
}

/// `true` when the handler's answer changed since we last applied it (including a removed
/// field), or when the live object drifted away from it — away from both the desired values
/// and what the server made of them on our last write. Fields only the live object has are not
/// a change.
fn is_changed(
    live: &Observed,
    d: &Desired,
    expected: &Expected,
    written: Option<&Arc<Written>>,
) -> bool {
    let last = last_applied(live);
    if last != Some(record::record(d)) {
        return true;
    }
    if is_subset(expected.content(), &live.json) {
        return false;
    }
    if written.is_some_and(|w| w.explains(expected, &live.json)) {
        return false;
    }
    // No record of our last write (a restart, a new leader): quantities the server stored in
    // their canonical form are still the same values.
    quantity::aligned_with_live(d.child_type.api_version, expected.content(), &live.json)
        .is_none_or(|aligned| !is_subset(&aligned, &live.json))
}

fn last_applied(live: &Observed) -> Option<Value> {
    live.json
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(LAST_APPLIED_ANNOTATION))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
}

/// The body of the PUT: the live object, minus what we applied before and no longer want, plus
/// the full desired object. It keeps the live resourceVersion, which makes it conditional.
fn replacement(live: &Observed, full: &Value) -> Value {
    let mut last = last_applied(live);
    // Our own additions were applied too; keep them out of the removal set so that they are
    // simply overwritten.
    if let Some(Value::Object(meta)) = last.as_mut().and_then(|l| l.get_mut("metadata")) {
        meta.remove("ownerReferences");
    }
    let mut body = diff::merge3(&live.json, last.as_ref(), full);
    if let Some(Value::Object(meta)) = body.get_mut("metadata") {
        meta.remove("managedFields");
        meta.insert(
            "resourceVersion".into(),
            Value::String(live.resource_version.clone()),
        );
    }
    body
}

#[cfg(test)]
mod tests;
