//! Changes of ownership without a change of content: adopting an orphan, releasing a child.
//! Both are JSON patches that test the object's `resourceVersion` first, so that whoever else
//! changed it meanwhile (a concurrent owner, above all) wins and the next sync sees why.

use std::sync::Arc;

use serde_json::{Value, json};

use super::{Action, Desired, PlanContext};
use crate::names::PARENT_UID_LABEL;
use crate::object::Observed;

/// The controller reference every child of `ctx.parent` carries.
pub(super) fn owner_reference(ctx: &PlanContext<'_>) -> Value {
    json!({
        "apiVersion": ctx.parent_type.api_version,
        "kind": ctx.parent_type.kind,
        "name": ctx.parent.name,
        "uid": ctx.parent.uid,
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// What to do about an orphan the handler asks for.
pub(super) enum Orphan<'a> {
    /// None of that name, or its type does not adopt (a create reports the collision).
    None,
    /// Adopt it with this action.
    Adopt(&'a Arc<Observed>, Action),
    /// Leave it alone: the parent is being deleted.
    LeaveAlone,
    /// Wait for it to go, then create the child: the orphan is being deleted.
    AwaitDeletion,
}

/// The orphan among `orphans` that `d` names, if its type adopts. `orphans` are the objects
/// the engine found with the controller's label and no controller (see
/// `engine::sync::snapshot::orphans`).
pub(super) fn orphan<'a>(
    ctx: &PlanContext<'_>,
    d: &Desired,
    orphans: &'a [Arc<Observed>],
) -> Orphan<'a> {
    let adopts = ctx
        .child_types
        .iter()
        .any(|(t, config)| *t == d.child_type && config.adoption);
    let found = orphans.iter().find(|o| {
        d.child_type.matches(&o.api_version, &o.kind)
            && o.name == d.name
            && o.namespace == d.namespace
    });
    match found {
        Some(_) if !adopts => Orphan::None,
        None => Orphan::None,
        Some(_) if ctx.parent.deleting => Orphan::LeaveAlone,
        Some(o) if o.deleting => Orphan::AwaitDeletion,
        Some(o) => Orphan::Adopt(
            o,
            Action::Adopt {
                child_type: d.child_type,
                patch: adopt_patch(ctx, o),
                observed: Arc::clone(o),
            },
        ),
    }
}

/// Sets the parent's controller reference and parent-uid label on `orphan`.
fn adopt_patch(ctx: &PlanContext<'_>, orphan: &Observed) -> Value {
    let mut ops = vec![test_resource_version(orphan)];
    // The whole list, whether the server shows it empty or leaves it out: the resourceVersion
    // test guarantees that the other references are still the ones seen.
    let mut refs = orphan
        .json
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    refs.push(owner_reference(ctx));
    ops.push(json!({"op": "add", "path": "/metadata/ownerReferences", "value": refs}));
    match orphan.json.pointer("/metadata/labels") {
        Some(Value::Object(_)) => ops.push(json!({
            "op": "add", "path": format!("/metadata/labels/{}", escape(PARENT_UID_LABEL)),
            "value": ctx.parent.uid,
        })),
        _ => ops.push(json!({
            "op": "add", "path": "/metadata/labels",
            "value": {PARENT_UID_LABEL: ctx.parent.uid},
        })),
    }
    Value::Array(ops)
}

/// Removes the parent's controller reference and parent-uid label from `child`; its content,
/// managed-by label and record stay (a later parent may adopt it as it is).
pub(super) fn release_patch(ctx: &PlanContext<'_>, child: &Observed) -> Value {
    let mut ops = vec![test_resource_version(child)];
    let position = child
        .json
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .position(|r| r["uid"] == ctx.parent.uid.as_str())
        });
    if let Some(i) = position {
        ops.push(json!({"op": "remove", "path": format!("/metadata/ownerReferences/{i}")}));
    }
    if child
        .json
        .pointer("/metadata/labels")
        .is_some_and(|l| l.get(PARENT_UID_LABEL).is_some())
    {
        ops.push(json!({
            "op": "remove", "path": format!("/metadata/labels/{}", escape(PARENT_UID_LABEL)),
        }));
    }
    Value::Array(ops)
}

fn test_resource_version(obj: &Observed) -> Value {
    json!({"op": "test", "path": "/metadata/resourceVersion", "value": obj.resource_version})
}

/// A key as a JSON pointer token (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
