//! What a real server refuses with `422 Invalid`: object metadata (names per kind, labels,
//! annotations and their total size, owner references, finalizers), ConfigMap and Secret data
//! (keys, the 1 MiB limit, Secret types, `immutable`), Services (cluster IPs), and the fields
//! of built-in kinds that cannot change after creation.
//!
//! Each check follows the upstream validation function named in its doc comment
//! (`pkg/apis/core/validation`, `pkg/apis/apps/validation`, `apimachinery/pkg/api/validation`,
//! v1.32) and returns causes with the upstream field path and message, so the `Status` a client
//! gets is the one a real server sends. Not every upstream rule is here: see the crate docs for
//! what is checked.

mod crd;
pub(crate) use crd::stored_versions as crd_stored_versions;
pub(crate) use scheduling::SYSTEM_PRIORITY_CLASSES;
mod data;
mod metadata;
pub(crate) mod names;
mod pod;
mod scheduling;
mod service;
mod update;
mod workloads;

use serde_json::Value;

use crate::errors::cause;

use crate::registry::{ResourceType, TypeSchema};
use crate::schema::FieldCause;

/// The problems with a new object of type `ty`.
pub(crate) fn on_create(ty: &ResourceType, object: &Value) -> Vec<FieldCause> {
    let mut causes = metadata::object_meta(ty, object, true);
    if is_kind(ty, "batch", "CronJob") {
        causes.extend(metadata::cron_job_name(object));
    }
    causes.extend(kind_rules(ty, object));
    // Checked on create only: an update checks that the value stays, not what it is.
    if is_kind(ty, "scheduling.k8s.io", "PriorityClass") {
        causes.extend(scheduling::priority_class(object));
    }
    causes
}

/// The custom resource strategy's warnings (`generateWarningsFromObj`): each finalizer the write
/// adds without a `/` in its name.
pub(crate) fn finalizer_warnings(
    ty: &ResourceType,
    new: &Value,
    old: Option<&Value>,
) -> Vec<String> {
    if !matches!(ty.schema, TypeSchema::Custom { .. }) {
        return Vec::new();
    }
    let before = old
        .map(|o| strings(o.pointer("/metadata/finalizers")))
        .unwrap_or_default();
    let mut added: Vec<&str> = strings(new.pointer("/metadata/finalizers"))
        .into_iter()
        .filter(|f| !before.contains(f) && !f.contains('/'))
        .collect();
    added.sort_unstable();
    added.dedup();
    added
        .into_iter()
        .map(|f| {
            format!(
                "metadata.finalizers: {}: prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers",
                quote(f)
            )
        })
        .collect()
}

/// The problems with `new` replacing `old` (both of type `ty`).
pub(crate) fn on_update(ty: &ResourceType, new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut causes = metadata::object_meta(ty, new, false);
    // The Deployment, ReplicaSet and DaemonSet strategies check the spec first and only then
    // add the selector's immutability; the other kinds' update validation runs first.
    if matches!(ty.group.as_str(), "apps") && ty.kind != "StatefulSet" {
        causes.extend(kind_rules(ty, new));
        causes.extend(update::immutable_fields(ty, new, old));
    } else {
        causes.extend(update::immutable_fields(ty, new, old));
        causes.extend(kind_rules(ty, new));
    }
    causes
}

fn kind_rules(ty: &ResourceType, object: &Value) -> Vec<FieldCause> {
    if !matches!(ty.schema, TypeSchema::BuiltIn { .. }) {
        return Vec::new();
    }
    match (ty.group.as_str(), ty.kind.as_str()) {
        ("", "ConfigMap") => data::config_map(object),
        ("", "Secret") => data::secret(object),
        ("", "Service") => service::service(object),
        ("", "Pod") => pod::containers(object.get("spec"), "spec"),
        ("", "PodTemplate") => pod::containers(object.pointer("/template/spec"), "template.spec"),
        ("apps", kind @ ("Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet")) => {
            workloads::workload(kind, object)
        }
        ("batch", "Job") => workloads::job(object.get("spec"), "spec"),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => crd::crd(object),
        ("batch", "CronJob") => workloads::job(
            object.pointer("/spec/jobTemplate/spec"),
            "spec.jobTemplate.spec",
        ),
        _ => Vec::new(),
    }
}

/// `ValidateServiceClusterIPsRelatedFields` on a Service's spec, which the allocator runs
/// before it hands out addresses.
pub(crate) fn service_ip_fields(spec: &serde_json::Map<String, Value>) -> Vec<FieldCause> {
    service::ip_fields(&serde_json::json!({ "spec": spec }))
}

fn is_kind(ty: &ResourceType, group: &str, kind: &str) -> bool {
    matches!(ty.schema, TypeSchema::BuiltIn { .. }) && ty.group == group && ty.kind == kind
}

/// `field.Invalid`: `Invalid value: <value>: <detail>`, the value already in Go's notation.
pub(crate) fn invalid(field: &str, value: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {value}: {detail}"),
    )
}

/// `field.Required`.
pub(crate) fn required(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueRequired",
        field,
        with_detail("Required value", detail),
    )
}

/// `field.Forbidden`.
pub(crate) fn forbidden(field: &str, detail: &str) -> FieldCause {
    cause(
        "FieldValueForbidden",
        field,
        with_detail("Forbidden", detail),
    )
}

/// `field.NotSupported`: `Unsupported value: <value>: supported values: "a", "b"`.
pub(crate) fn not_supported(field: &str, value: &str, supported: &[&str]) -> FieldCause {
    let supported: Vec<String> = supported.iter().map(|s| quote(s)).collect();
    cause(
        "FieldValueNotSupported",
        field,
        format!(
            "Unsupported value: {value}: supported values: {}",
            supported.join(", ")
        ),
    )
}

/// `field.Duplicate`.
pub(crate) fn duplicate(field: &str, value: &str) -> FieldCause {
    cause(
        "FieldValueDuplicate",
        field,
        format!("Duplicate value: {value}"),
    )
}

/// `field.TooLong` (the value is never printed).
pub(crate) fn too_long(field: &str, max_bytes: usize) -> FieldCause {
    cause(
        "FieldValueTooLong",
        field,
        format!("Too long: must have at most {max_bytes} bytes"),
    )
}

fn with_detail(kind: &str, detail: &str) -> String {
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}

/// A string as Go's `%q` prints it.
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// A `[]string` as Go's `%#v` prints it.
pub(crate) fn go_strings<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = items.into_iter().map(quote).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

/// The strings of a JSON array (other items skipped).
pub(crate) fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
