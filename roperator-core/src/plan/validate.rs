//! Checking the handler's desired children before anything is written.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::{Desired, PlanContext, diff::strip_nulls};
use crate::config::NamespaceScope;
use crate::names::{LAST_APPLIED_ANNOTATION, LEADER_TERM_ANNOTATION, is_dns_subdomain};

/// Metadata the API server owns; a handler that copies a live child into its answer must not
/// make the engine think the child changed whenever the server bumps them.
const SERVER_METADATA: &[&str] = &[
    "resourceVersion",
    "uid",
    "creationTimestamp",
    "generation",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

/// A handler response that cannot be applied. The message names the child (by position, type
/// and name when known) and the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sync response: {0}")]
pub(crate) struct InvalidResponse(pub String);

pub(super) fn validate(
    ctx: &PlanContext<'_>,
    children: &[Value],
) -> Result<Vec<Desired>, InvalidResponse> {
    let mut out = Vec::with_capacity(children.len());
    let mut seen: HashMap<(&'static str, &'static str, Option<String>, String), usize> =
        HashMap::new();
    for (index, child) in children.iter().enumerate() {
        let d = one(ctx, index, child)?;
        let key = (
            d.child_type.api_version,
            d.child_type.kind,
            d.namespace.clone(),
            d.name.clone(),
        );
        if let Some(first) = seen.insert(key, index) {
            return Err(InvalidResponse(format!(
                "desired child #{} ({} {:?}) duplicates desired child #{}: metadata.name must be unique per type",
                index + 1,
                d.child_type,
                d.name,
                first + 1
            )));
        }
        out.push(d);
    }
    Ok(out)
}

struct Who<'a> {
    index: usize,
    api_version: &'a str,
    kind: &'a str,
    name: Option<&'a str>,
}

impl fmt::Display for Who<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "desired child #{}", self.index + 1)?;
        if !self.kind.is_empty() {
            write!(f, " ({} {}", self.api_version, self.kind)?;
            if let Some(name) = self.name {
                write!(f, " {name:?}")?;
            }
            write!(f, ")")?;
        }
        Ok(())
    }
}

fn one(ctx: &PlanContext<'_>, index: usize, child: &Value) -> Result<Desired, InvalidResponse> {
    let fail = |who: &Who<'_>, msg: String| Err(InvalidResponse(format!("{who}: {msg}")));
    let mut who = Who {
        index,
        api_version: "",
        kind: "",
        name: None,
    };
    let Some(obj) = child.as_object() else {
        return fail(&who, "is not a JSON object".to_string());
    };
    let text = |field: &str| {
        obj.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let Some(api_version) = text("apiVersion") else {
        return fail(&who, "apiVersion is missing".to_string());
    };
    let Some(kind) = text("kind") else {
        return fail(&who, "kind is missing".to_string());
    };
    who.api_version = api_version;
    who.kind = kind;
    let name = child.pointer("/metadata/name").and_then(Value::as_str);
    who.name = name;
    let Some((child_type, config)) = ctx
        .child_types
        .iter()
        .find(|(t, _)| t.matches(api_version, kind))
    else {
        let configured: Vec<String> = ctx.child_types.iter().map(|(t, _)| t.to_string()).collect();
        return fail(
            &who,
            format!(
                "apiVersion/kind {api_version} {kind} is not a configured child type (configured: {})",
                configured.join(", ")
            ),
        );
    };
    match child.get("metadata") {
        Some(Value::Object(_)) => {}
        _ => return fail(&who, "metadata is missing or not an object".to_string()),
    }
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return fail(&who, "metadata.name is missing".to_string());
    };
    if !is_dns_subdomain(name) {
        return fail(
            &who,
            format!(
                "metadata.name {name:?} is not a valid name (lowercase letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit)"
            ),
        );
    }
    let given_ns = match child.pointer("/metadata/namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return fail(&who, "metadata.namespace is not a string".to_string()),
    };
    let namespace = if child_type.namespaced {
        match (ctx.parent.namespace.as_deref(), given_ns) {
            (Some(parent_ns), None) => Some(parent_ns.to_string()),
            (Some(parent_ns), Some(ns)) if ns == parent_ns => Some(ns),
            (Some(parent_ns), Some(ns)) => {
                return fail(
                    &who,
                    format!(
                        "metadata.namespace {ns:?} differs from the parent's namespace {parent_ns:?}; children must live in their parent's namespace"
                    ),
                );
            }
            (None, None) => {
                return fail(
                    &who,
                    "metadata.namespace is missing (the parent is cluster-scoped, so a namespaced child must name its namespace)".to_string(),
                );
            }
            (None, Some(ns)) => {
                if let NamespaceScope::Only(watched) = ctx.namespaces
                    && !watched.contains(&ns)
                {
                    return fail(
                        &who,
                        format!(
                            "metadata.namespace {ns:?} is not watched by this operator (it watches {}); add it with `within_namespaces`",
                            watched.iter().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    );
                }
                Some(ns)
            }
        }
    } else {
        if let Some(ns) = given_ns {
            return fail(
                &who,
                format!("metadata.namespace {ns:?} is set, but {child_type} is cluster-scoped"),
            );
        }
        None
    };
    if let Some(refs) = child
        .pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
    {
        let other_controller = refs.iter().any(|r| {
            r.get("controller").and_then(Value::as_bool) == Some(true)
                && r.get("uid").and_then(Value::as_str) != Some(ctx.parent.uid.as_str())
        });
        if other_controller {
            return fail(
                &who,
                "metadata.ownerReferences names another controller; the parent is the child's controller".to_string(),
            );
        }
    }

    let mut content = child.clone();
    strip_nulls(&mut content);
    if let Some(obj) = content.as_object_mut() {
        obj.remove("status");
    }
    if let Some(Value::Object(meta)) = content.get_mut("metadata") {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        match &namespace {
            Some(ns) => {
                meta.insert("namespace".into(), Value::String(ns.clone()));
            }
            None => {
                meta.remove("namespace");
            }
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED_ANNOTATION);
            annotations.remove(LEADER_TERM_ANNOTATION);
        }
    }
    Ok(Desired {
        child_type: *child_type,
        update: config.update,
        namespace,
        name: name.to_string(),
        content,
    })
}
