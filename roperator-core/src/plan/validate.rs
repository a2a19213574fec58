//! Checking the handler's desired children before anything is written.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::{Desired, PlanContext, diff::strip_nulls};
use crate::config::{ChildConfig, NamespaceScope};
use crate::k8s_type::K8sType;
use crate::names::{
    LAST_APPLIED_ANNOTATION, LEADER_TERM_ANNOTATION, RECORD_ANNOTATION, is_dns_subdomain,
};
use crate::object::controller_uid;

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
    let mut who = Who {
        index,
        api_version: "",
        kind: "",
        name: None,
    };
    let fail = |who: &Who<'_>, msg: String| InvalidResponse(format!("{who}: {msg}"));
    let (child_type, config) = identify(ctx, child, &mut who).map_err(|m| fail(&who, m))?;
    let name = who
        .name
        .filter(|n| !n.is_empty())
        .ok_or_else(|| fail(&who, "metadata.name is missing".to_string()))?;
    if !is_dns_subdomain(name) {
        return Err(fail(
            &who,
            format!(
                "metadata.name {name:?} is not a valid name (lowercase letters, digits, '-' and '.', at most 253 characters, starting and ending with a letter or digit)"
            ),
        ));
    }
    let namespace = namespace_of(ctx, child_type, child).map_err(|m| fail(&who, m))?;
    check_owner_references(ctx, child).map_err(|m| fail(&who, m))?;
    Ok(Desired {
        child_type,
        update: config.update,
        namespace: namespace.clone(),
        name: name.to_string(),
        content: normalized(child, namespace),
    })
}

/// The child's configured type; fills in `who` as far as the child says.
fn identify<'v, 'c>(
    ctx: &PlanContext<'c>,
    child: &'v Value,
    who: &mut Who<'v>,
) -> Result<(K8sType, &'c ChildConfig), String> {
    let Some(obj) = child.as_object() else {
        return Err("is not a JSON object".to_string());
    };
    let text = |field: &str| {
        obj.get(field)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let api_version = text("apiVersion").ok_or("apiVersion is missing")?;
    let kind = text("kind").ok_or("kind is missing")?;
    who.api_version = api_version;
    who.kind = kind;
    who.name = child.pointer("/metadata/name").and_then(Value::as_str);
    let Some(found) = ctx
        .child_types
        .iter()
        .find(|(t, _)| t.matches(api_version, kind))
    else {
        let configured: Vec<String> = ctx.child_types.iter().map(|(t, _)| t.to_string()).collect();
        return Err(format!(
            "apiVersion/kind {api_version} {kind} is not a configured child type (configured: {})",
            configured.join(", ")
        ));
    };
    if !matches!(child.get("metadata"), Some(Value::Object(_))) {
        return Err("metadata is missing or not an object".to_string());
    }
    Ok((found.0, &found.1))
}

/// Where the child lives: the parent's namespace for a namespaced child of a namespaced parent,
/// the one it names (and the operator watches) for a namespaced child of a cluster-scoped
/// parent, none for a cluster-scoped child.
fn namespace_of(
    ctx: &PlanContext<'_>,
    child_type: K8sType,
    child: &Value,
) -> Result<Option<String>, String> {
    let given = match child.pointer("/metadata/namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("metadata.namespace is not a string".to_string()),
    };
    if !child_type.namespaced {
        return match given {
            Some(ns) => Err(format!(
                "metadata.namespace {ns:?} is set, but {child_type} is cluster-scoped"
            )),
            None => Ok(None),
        };
    }
    match (ctx.parent.namespace.as_deref(), given) {
        (Some(parent_ns), None) => Ok(Some(parent_ns.to_string())),
        (Some(parent_ns), Some(ns)) if ns == parent_ns => Ok(Some(ns)),
        (Some(parent_ns), Some(ns)) => Err(format!(
            "metadata.namespace {ns:?} differs from the parent's namespace {parent_ns:?}; children must live in their parent's namespace"
        )),
        (None, None) => Err(
            "metadata.namespace is missing (the parent is cluster-scoped, so a namespaced child must name its namespace)".to_string(),
        ),
        (None, Some(ns)) => match ctx.namespaces {
            NamespaceScope::Only(watched) if !watched.contains(&ns) => Err(format!(
                "metadata.namespace {ns:?} is not watched by this controller (it watches {}); add it with `with_namespaces`",
                watched.iter().cloned().collect::<Vec<_>>().join(", ")
            )),
            _ => Ok(Some(ns)),
        },
    }
}

fn check_owner_references(ctx: &PlanContext<'_>, child: &Value) -> Result<(), String> {
    if controller_uid(child).is_some_and(|uid| uid != ctx.parent.uid) {
        return Err(
            "metadata.ownerReferences names another controller; the parent is the child's controller".to_string(),
        );
    }
    Ok(())
}

/// The child as the engine records and compares it: no nulls, no status, no server-owned
/// metadata or engine annotations, the namespace filled in.
fn normalized(child: &Value, namespace: Option<String>) -> Value {
    let mut content = child.clone();
    strip_nulls(&mut content);
    if let Some(obj) = content.as_object_mut() {
        obj.remove("status");
    }
    if let Some(Value::Object(meta)) = content.get_mut("metadata") {
        for field in SERVER_METADATA {
            meta.remove(*field);
        }
        match namespace {
            Some(ns) => {
                meta.insert("namespace".into(), Value::String(ns));
            }
            None => {
                meta.remove("namespace");
            }
        }
        if let Some(Value::Object(annotations)) = meta.get_mut("annotations") {
            annotations.remove(LAST_APPLIED_ANNOTATION);
            annotations.remove(RECORD_ANNOTATION);
            annotations.remove(LEADER_TERM_ANNOTATION);
        }
    }
    content
}
