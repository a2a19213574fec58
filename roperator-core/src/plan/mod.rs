//! Planning: from the observed children, the desired children and the per-type policies to the
//! list of writes that makes the first match the second.
//!
//! Everything here is pure (no I/O, no clock), so every case is unit-tested below. Invalid
//! desired children fail the whole plan before anything is written.
//!
//! A live child is converged when the handler's answer is the one recorded on it (the record
//! annotation: a digest of the answer and the paths it set, see [`record`]) and the live object
//! has not drifted from it ([`compare`]): every field of the answer is there with the same
//! value, or with the value the API server made of our write (a canonical quantity, a default,
//! a webhook's rewrite), told apart from someone else's change by the field ownership the
//! server records. Fields only the live object has (set by the server or by others) are not
//! drift. Both questions are answered from the child alone, so a restarted operator or a new
//! leader writes nothing to converged children.

mod compare;
mod diff;
mod ownership;
mod quantity;
mod record;
mod rollout;
mod validate;
mod written;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::config::{ChildConfig, NamespaceScope, Prune, UpdateStrategy};
use crate::k8s_type::K8sType;
use crate::names::{
    LAST_APPLIED_ANNOTATION, MANAGED_BY_LABEL, PARENT_UID_LABEL, RECORD_ANNOTATION,
};
use crate::object::Observed;

pub(crate) use diff::is_subset;
pub(crate) use rollout::Progress;
pub(crate) use validate::InvalidResponse;

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
    /// removed). It is written in the form of [`written::as_written`].
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
    Adopted,
    Replaced,
    Applied,
    Recreating,
    Deleted,
    Released,
}

impl ChangeKind {
    /// Every kind, in the order Events report them.
    pub const ALL: [ChangeKind; 7] = [
        ChangeKind::Created,
        ChangeKind::Adopted,
        ChangeKind::Replaced,
        ChangeKind::Applied,
        ChangeKind::Recreating,
        ChangeKind::Deleted,
        ChangeKind::Released,
    ];

    /// The word in logs and Event notes (`"created ConfigMap ns/a"`).
    pub fn past_tense(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Adopted => "adopted",
            ChangeKind::Released => "released",
            ChangeKind::Replaced => "replaced",
            ChangeKind::Applied => "applied",
            ChangeKind::Recreating => "recreating",
            ChangeKind::Deleted => "deleted",
        }
    }

    /// The reason of the Normal Event listing changes of this kind.
    pub fn event_reason(self) -> &'static str {
        match self {
            ChangeKind::Created => "ChildCreated",
            ChangeKind::Adopted => "ChildAdopted",
            ChangeKind::Released => "ChildReleased",
            ChangeKind::Replaced => "ChildReplaced",
            ChangeKind::Applied => "ChildApplied",
            ChangeKind::Recreating => "ChildRecreating",
            ChangeKind::Deleted => "ChildDeleted",
        }
    }
}

/// One write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Action {
    /// POST this object, or apply it (server-side) when its policy is apply, once the name is
    /// known to be free.
    Create {
        child_type: K8sType,
        object: Value,
        by_apply: bool,
    },
    /// PUT this object (it carries the observed resourceVersion as precondition).
    Replace {
        child_type: K8sType,
        object: Value,
        observed: Arc<Observed>,
    },
    /// Apply this configuration (server-side, under the controller's field manager; it carries
    /// the observed resourceVersion as precondition).
    Apply {
        child_type: K8sType,
        object: Value,
        observed: Arc<Observed>,
        force: bool,
    },
    /// DELETE this object with its UID as precondition.
    Delete {
        child_type: K8sType,
        observed: Arc<Observed>,
        reason: DeleteReason,
    },
    /// Take over an orphan: this JSON patch (testing its resourceVersion) sets the parent's
    /// controller reference and parent-uid label.
    Adopt {
        child_type: K8sType,
        observed: Arc<Observed>,
        patch: Value,
    },
    /// Let go of a child the handler no longer returns: this JSON patch (testing its
    /// resourceVersion) removes the parent's controller reference and parent-uid label.
    Release {
        child_type: K8sType,
        observed: Arc<Observed>,
        patch: Value,
    },
}

impl Action {
    /// What the action changes once it succeeded.
    pub fn change(&self) -> ChangeKind {
        match self {
            Action::Create { .. } => ChangeKind::Created,
            Action::Replace { .. } => ChangeKind::Replaced,
            Action::Apply { .. } => ChangeKind::Applied,
            Action::Delete {
                reason: DeleteReason::Recreate,
                ..
            } => ChangeKind::Recreating,
            Action::Delete {
                reason: DeleteReason::Prune,
                ..
            } => ChangeKind::Deleted,
            Action::Adopt { .. } => ChangeKind::Adopted,
            Action::Release { .. } => ChangeKind::Released,
        }
    }

    /// The namespace the action writes in, if any.
    fn namespace(&self) -> Option<&str> {
        match self {
            Action::Create { object, .. } => object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str),
            Action::Replace { observed, .. }
            | Action::Apply { observed, .. }
            | Action::Delete { observed, .. }
            | Action::Adopt { observed, .. }
            | Action::Release { observed, .. } => observed.namespace.as_deref(),
        }
    }

    /// The name of a Namespace this action creates.
    fn creates_namespace(&self) -> Option<&str> {
        match self {
            Action::Create {
                child_type, object, ..
            } if child_type.is_namespace() => {
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

/// What a sync does to a parent's children.
#[derive(Debug)]
pub(crate) struct Plan {
    pub actions: Vec<Action>,
    /// For each child type that rolls out (see [`crate::Rollout`]), how far it got.
    pub rollouts: Vec<Progress>,
    /// A desired child waits for an orphan of its name to be deleted. Nothing the engine
    /// watches for this parent tells when it is gone (the orphan is nobody's child): sync again
    /// soon.
    pub awaits_deletion: bool,
}

/// The writes that turn `observed` into `desired`. Creates, adoptions and updates come first,
/// in the handler's order, then deletions and releases. `orphans`: objects the handler asks
/// for that carry the controller's label and have no controller (see
/// [`ChildConfig::with_adoption`](crate::ChildConfig::with_adoption)).
pub(crate) fn plan(
    ctx: &PlanContext<'_>,
    observed: &[Arc<Observed>],
    orphans: &[Arc<Observed>],
    desired: &[Desired],
) -> Plan {
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

    let mut wanted = std::collections::HashSet::with_capacity(desired.len());
    let mut steps = Vec::with_capacity(desired.len());
    let mut awaits_deletion = false;
    for d in desired {
        let id = (d.child_type, d.namespace.clone(), d.name.clone());
        let step = step(
            ctx,
            d,
            by_id.get(&id).copied(),
            orphans,
            &mut awaits_deletion,
        );
        steps.push(step);
        wanted.insert(id);
    }
    let (held, rollouts) = rollout::hold(ctx, &steps);
    let mut actions: Vec<Action> = steps
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !held.contains(i))
        .filter_map(|(_, step)| step.action)
        .collect();
    actions.extend(prunes(ctx, &observed_types, &wanted));
    Plan {
        actions,
        rollouts,
        awaits_deletion,
    }
}

/// The write planned for the desired child `d`: an update of `live`, an adoption of an orphan
/// of its name, or a create.
fn step<'a>(
    ctx: &PlanContext<'_>,
    d: &'a Desired,
    live: Option<&'a Arc<Observed>>,
    orphans: &'a [Arc<Observed>],
    awaits_deletion: &mut bool,
) -> rollout::Step<'a> {
    let (current, action) = match live {
        Some(_) => (live, update(ctx, d, live)),
        None => match ownership::orphan(ctx, d, orphans) {
            ownership::Orphan::None => (None, update(ctx, d, None)),
            ownership::Orphan::Adopt(orphan, adopt) => (Some(orphan), Some(adopt)),
            ownership::Orphan::LeaveAlone => (None, None),
            ownership::Orphan::AwaitDeletion => {
                *awaits_deletion = true;
                (None, None)
            }
        },
    };
    rollout::Step {
        desired: d,
        current,
        action,
    }
}

/// What becomes of the observed children the handler no longer returns.
fn prunes(
    ctx: &PlanContext<'_>,
    observed: &[(ChildId, &Arc<Observed>)],
    wanted: &std::collections::HashSet<ChildId>,
) -> Vec<Action> {
    // A Namespace that goes takes what is in it: deleting its content one by one would be
    // redundant writes, failing once the namespace controller got there first.
    let going: std::collections::HashSet<&str> = observed
        .iter()
        .filter(|((t, _, name), obj)| {
            t.is_namespace() && (obj.deleting || !wanted.contains(&(*t, None, name.clone())))
        })
        .map(|((_, _, name), _)| name.as_str())
        .collect();
    let releases = |t: &K8sType| {
        ctx.child_types
            .iter()
            .any(|(c, config)| c == t && config.prune == Prune::Release)
    };
    let mut actions = Vec::new();
    for (id, obj) in observed {
        let inside_going = obj
            .namespace
            .as_deref()
            .is_some_and(|ns| going.contains(ns));
        if wanted.contains(id) || obj.deleting || inside_going {
            continue;
        }
        actions.push(if releases(&id.0) {
            Action::Release {
                child_type: id.0,
                patch: ownership::release_patch(ctx, obj),
                observed: Arc::clone(obj),
            }
        } else {
            Action::Delete {
                child_type: id.0,
                observed: Arc::clone(obj),
                reason: DeleteReason::Prune,
            }
        });
    }
    actions
}

/// The write (if any) that brings the child `d` from `live` to what the handler returned.
///
/// A converged child is the common case, on every resync: it costs one copy of the answer, its
/// digest and a walk over the live object; the record's paths are worked out only for a write.
/// A child being deleted (waited for, then created again) and one that is never updated cost
/// nothing.
fn update(ctx: &PlanContext<'_>, d: &Desired, live: Option<&Arc<Observed>>) -> Option<Action> {
    if live.is_some_and(|l| l.deleting) || live.is_some() && d.update == UpdateStrategy::OnDelete {
        return None;
    }
    let written = written::as_written(d.child_type, &d.content);
    let digest = record::digest(&written);
    let mut full = with_engine_metadata(ctx, written);
    let recorded_as = |full: &mut Value| {
        let written = written::as_written(d.child_type, &d.content);
        let record = record::Record::new(digest.clone(), &written);
        if let Some(Value::Object(a)) = full.pointer_mut("/metadata/annotations") {
            a.insert(RECORD_ANNOTATION.into(), json!(record.text()));
        }
    };
    let Some(live) = live else {
        recorded_as(&mut full);
        return Some(Action::Create {
            child_type: d.child_type,
            object: full,
            by_apply: matches!(d.update, UpdateStrategy::Apply { .. }),
        });
    };
    let recorded = record::Recorded::of(live);
    if recorded.same_answer(&digest, d) && !compare::drifted(d.child_type.api_version, &full, live)
    {
        return None;
    }
    match d.update {
        UpdateStrategy::OnDelete => None, // returned above
        UpdateStrategy::Recreate => Some(Action::Delete {
            child_type: d.child_type,
            observed: Arc::clone(live),
            reason: DeleteReason::Recreate,
        }),
        UpdateStrategy::Replace => {
            recorded_as(&mut full);
            Some(Action::Replace {
                child_type: d.child_type,
                object: replacement(live, recorded.fields(d).as_ref(), &full),
                observed: Arc::clone(live),
            })
        }
        UpdateStrategy::Apply { force } => {
            recorded_as(&mut full);
            Some(Action::Apply {
                child_type: d.child_type,
                object: with_resource_version(full, live),
                observed: Arc::clone(live),
                force,
            })
        }
    }
}

/// The handler's object as written plus what the engine adds: our labels, the parent's
/// controller reference, and an `annotations` map for the record (set only when writing).
fn with_engine_metadata(ctx: &PlanContext<'_>, written: Value) -> Value {
    let mut full = written;
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
    meta.entry("annotations").or_insert_with(|| json!({}));
    let owner = ownership::owner_reference(ctx);
    let refs = meta.entry("ownerReferences").or_insert_with(|| json!([]));
    if let Value::Array(refs) = refs {
        refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(&ctx.parent.uid));
        refs.push(owner);
    }
    full
}

/// The body of the PUT: the live object, minus what we set before (`last`) and no longer want,
/// plus the full desired object. It keeps the live resourceVersion, which makes it
/// conditional. The record of earlier versions goes: the new record replaces it.
fn replacement(live: &Observed, last: Option<&record::Fields>, full: &Value) -> Value {
    let mut body = diff::merge(&live.json, last, full);
    if let Some(Value::Object(meta)) = body.get_mut("metadata") {
        meta.remove("managedFields");
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED_ANNOTATION);
        }
    }
    with_resource_version(body, live)
}

/// `object` made conditional on `live`'s resourceVersion.
fn with_resource_version(mut object: Value, live: &Observed) -> Value {
    if let Some(Value::Object(meta)) = object.get_mut("metadata") {
        meta.insert(
            "resourceVersion".into(),
            Value::String(live.resource_version.clone()),
        );
    }
    object
}

#[cfg(test)]
mod tests;
