//! `ValidateCustomResourceDefinition` (apiextensions-apiserver, v1.32), the rules a CRD author
//! trips over first: the name, group and scope, the names, one storage version among uniquely
//! and validly named versions, a schema per version, and a structural root and field types.
//! (Not here: the full structural-schema, CEL, conversion and printer-column rules.)

use std::collections::HashSet;

use serde_json::Value;

use super::names::{dns1035_label, dns1123_subdomain};
use super::{invalid, not_supported, quote, required};
use crate::schema::FieldCause;

pub(super) fn crd(object: &Value) -> Vec<FieldCause> {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let (name, group, plural) = (
        text("/metadata/name"),
        text("/spec/group"),
        text("/spec/names/plural"),
    );
    let mut causes = Vec::new();
    if !name.is_empty() && name != format!("{plural}.{group}") {
        causes.push(invalid(
            "metadata.name",
            &quote(name),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }
    if group.is_empty() {
        causes.push(required("spec.group", ""));
    } else if let errs @ [_, ..] = dns1123_subdomain(group).as_slice() {
        causes.push(invalid("spec.group", &quote(group), &errs.join(",")));
    } else if !group.contains('.') {
        causes.push(invalid(
            "spec.group",
            &quote(group),
            "should be a domain with at least one dot",
        ));
    }
    match text("/spec/scope") {
        "" => causes.push(required("spec.scope", "")),
        "Cluster" | "Namespaced" => {}
        other => causes.push(not_supported(
            "spec.scope",
            &quote(other),
            &["Cluster", "Namespaced"],
        )),
    }
    causes.extend(versions(object));
    causes.extend(names(object));
    causes
}

fn versions(object: &Value) -> Vec<FieldCause> {
    let versions = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut causes = Vec::new();
    let mut seen = HashSet::new();
    let mut unique = true;
    for (i, version) in versions.iter().enumerate() {
        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
        unique &= seen.insert(name);
        let errs = dns1035_label(name);
        if !errs.is_empty() {
            causes.push(invalid(
                &format!("spec.versions[{i}].name"),
                &quote(name),
                &errs.join(","),
            ));
        }
        let path = format!("spec.versions[{i}].schema.openAPIV3Schema");
        match version.pointer("/schema/openAPIV3Schema") {
            None | Some(Value::Null) => causes.push(required(&path, "schemas are required")),
            Some(schema) => causes.extend(structural_types(schema, &path, Level::Root)),
        }
    }
    // Upstream prints the versions with `%#v`, Go struct by struct; only its gist is kept here.
    let shown = "[]apiextensions.CustomResourceDefinitionVersion{...}";
    if !unique {
        causes.push(invalid(
            "spec.versions",
            shown,
            "must contain unique version names",
        ));
    }
    let storage = versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count();
    if storage != 1 {
        causes.push(invalid(
            "spec.versions",
            shown,
            "must have exactly one version marked as storage version",
        ));
    }
    causes
}

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Field,
    Item,
}

/// The type rules of a structural schema: every specified field and array item has a type
/// (unless it is free-form or int-or-string), and the root is an object.
fn structural_types(schema: &Value, path: &str, level: Level) -> Vec<FieldCause> {
    let flag = |key: &str| schema.get(key).and_then(Value::as_bool) == Some(true);
    let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
    let exempt = flag("x-kubernetes-int-or-string")
        || flag("x-kubernetes-embedded-resource")
        || flag("x-kubernetes-preserve-unknown-fields");
    let mut causes = Vec::new();
    if kind.is_empty() && !exempt {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Field => "must not be empty for specified object fields",
            Level::Item => "must not be empty for specified array items",
        };
        causes.push(required(&format!("{path}.type"), detail));
    }
    if level == Level::Root && !kind.is_empty() && kind != "object" {
        causes.push(invalid(
            &format!("{path}.type"),
            &quote(kind),
            "must be object at the root",
        ));
    }
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (key, child) in properties {
            causes.extend(structural_types(
                child,
                &format!("{path}.properties[{key}]"),
                Level::Field,
            ));
        }
    }
    if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
        causes.extend(structural_types(
            items,
            &format!("{path}.items"),
            Level::Item,
        ));
    }
    if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        causes.extend(structural_types(
            additional,
            &format!("{path}.additionalProperties"),
            Level::Field,
        ));
    }
    causes
}

/// `ValidateCustomResourceDefinitionNames` with the required names of the spec.
fn names(object: &Value) -> Vec<FieldCause> {
    let text = |key: &str| {
        object
            .pointer(&format!("/spec/names/{key}"))
            .and_then(Value::as_str)
            .unwrap_or("")
    };
    let mut causes = Vec::new();
    for key in ["plural", "singular", "kind", "listKind"] {
        if text(key).is_empty() {
            causes.push(required(&format!("spec.names.{key}"), ""));
        }
    }
    for key in ["plural", "singular"] {
        let value = text(key);
        let errs = dns1035_label(value);
        if !value.is_empty() && !errs.is_empty() {
            causes.push(invalid(
                &format!("spec.names.{key}"),
                &quote(value),
                &errs.join(","),
            ));
        }
    }
    for key in ["kind", "listKind"] {
        let value = text(key);
        let errs = dns1035_label(&value.to_lowercase());
        if !value.is_empty() && !errs.is_empty() {
            causes.push(invalid(
                &format!("spec.names.{key}"),
                &quote(value),
                &format!(
                    "may have mixed case, but should otherwise match: {}",
                    errs.join(",")
                ),
            ));
        }
    }
    let (kind, list_kind) = (text("kind"), text("listKind"));
    if !kind.is_empty() && kind == list_kind {
        causes.push(invalid(
            "spec.names.listKind",
            &quote(list_kind),
            "kind and listKind may not be the same",
        ));
    }
    causes
}

/// `ValidateCustomResourceDefinitionStoredVersions`, on every update of a CRD (after the
/// storage version was added to the versions ever stored): a version may leave `spec.versions`
/// only once no object is stored at it any more, and `status.storedVersions` says which are.
pub(crate) fn stored_versions(object: &Value) -> Vec<FieldCause> {
    let path = "status.storedVersions";
    let stored = super::strings(object.pointer("/status/storedVersions"));
    if stored.is_empty() {
        return vec![invalid(
            path,
            "[]string{}",
            "must have at least one stored version",
        )];
    }
    let versions = object
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut causes = Vec::new();
    let mut named = HashSet::new();
    for version in versions {
        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
        named.insert(name);
        if version.get("storage").and_then(Value::as_bool) == Some(true) && !stored.contains(&name)
        {
            // Upstream prints the whole version struct; its name is what tells it apart.
            causes.push(invalid(
                path,
                &format!(
                    "apiextensions.CustomResourceDefinitionVersion{{Name:{}, ...}}",
                    quote(name)
                ),
                &format!("must have the storage version {name}"),
            ));
        }
    }
    for (i, version) in stored.iter().enumerate() {
        if !named.contains(version) {
            causes.push(invalid(
                &format!("{path}[{i}]"),
                &quote(version),
                "must appear in spec.versions",
            ));
        }
    }
    causes
}
