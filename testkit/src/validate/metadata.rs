//! `ValidateObjectMeta` (apimachinery `pkg/api/validation/objectmeta.go`) and the per-kind name
//! rules.

use serde_json::{Map, Value};

use super::names::{self, NameRule};
use super::{invalid, quote, required, too_long};
use crate::registry::{ResourceType, TypeSchema};
use crate::schema::FieldCause;

/// `TotalAnnotationSizeLimitB`: keys and values together.
pub(crate) const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Name (and, on create, `generateName`), labels, annotations, owner references, finalizers.
pub(super) fn object_meta(ty: &ResourceType, object: &Value, create: bool) -> Vec<FieldCause> {
    let empty = Map::new();
    let meta = object
        .get("metadata")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let text = |key: &str| meta.get(key).and_then(Value::as_str).unwrap_or("");
    let rule = NameRule::for_kind(&ty.group, &ty.kind);
    let mut causes = Vec::new();
    let generate = text("generateName");
    if create && !generate.is_empty() {
        for msg in rule.check(generate, true) {
            causes.push(invalid("metadata.generateName", &quote(generate), &msg));
        }
    }
    let name = text("name");
    if name.is_empty() {
        causes.push(required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else {
        for msg in rule.check(name, false) {
            causes.push(invalid("metadata.name", &quote(name), &msg));
        }
    }
    causes.extend(labels(meta.get("labels"), "metadata.labels"));
    causes.extend(annotations(meta.get("annotations")));
    causes.extend(owner_references(meta.get("ownerReferences")));
    causes.extend(finalizers(meta.get("finalizers")));
    if matches!(ty.schema, TypeSchema::BuiltIn { .. }) && ty.group != "apiextensions.k8s.io" {
        causes.extend(kube_finalizers(meta.get("finalizers")));
    }
    causes
}

/// `ValidateLabels`: every key a qualified name, every value a label value; one cause per
/// problem, all on the map's path.
pub(crate) fn labels(labels: Option<&Value>, field: &str) -> Vec<FieldCause> {
    let Some(Value::Object(labels)) = labels else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    for (key, value) in labels {
        for msg in names::qualified_name(key) {
            causes.push(invalid(field, &quote(key), &msg));
        }
        let value = value.as_str().unwrap_or("");
        for msg in names::label_value(value) {
            causes.push(invalid(field, &quote(value), &msg));
        }
    }
    causes
}

/// `ValidateAnnotations`: keys are qualified names in any case, and keys and values together
/// stay within 256 KiB.
fn annotations(annotations: Option<&Value>) -> Vec<FieldCause> {
    let Some(Value::Object(annotations)) = annotations else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    let mut total = 0usize;
    for (key, value) in annotations {
        for msg in names::qualified_name(&key.to_lowercase()) {
            causes.push(invalid("metadata.annotations", &quote(key), &msg));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        causes.push(too_long("metadata.annotations", ANNOTATIONS_MAX_BYTES));
    }
    causes
}

/// `ValidateOwnerReferences`: every reference names its owner completely (no index in the
/// path: upstream reports on `metadata.ownerReferences.<field>`), an Event owns nothing, and
/// one reference at most is the controller.
fn owner_references(references: Option<&Value>) -> Vec<FieldCause> {
    let Some(Value::Array(references)) = references else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    let mut controller: Option<String> = None;
    for reference in references {
        let text = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or("");
        let api_version = text("apiVersion");
        let version = api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            causes.push(invalid(
                "metadata.ownerReferences.apiVersion",
                &quote(api_version),
                "version must not be empty",
            ));
        }
        for field in ["kind", "name", "uid"] {
            if text(field).is_empty() {
                causes.push(invalid(
                    &format!("metadata.ownerReferences.{field}"),
                    "\"\"",
                    &format!("{field} must not be empty"),
                ));
            }
        }
        if api_version == "v1" && text("kind") == "Event" {
            causes.push(invalid(
                "metadata.ownerReferences",
                &go_owner_reference(reference),
                "/v1, Kind=Event is disallowed from being an owner",
            ));
        }
        if reference.get("controller") == Some(&Value::Bool(true)) {
            let this = format!("{}/{}", text("kind"), text("name"));
            match &controller {
                Some(first) => causes.push(invalid(
                    "metadata.ownerReferences",
                    "[]v1.OwnerReference{...}",
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {this}"
                    ),
                )),
                None => controller = Some(this),
            }
        }
    }
    causes
}

/// An owner reference in Go's `%#v` notation, abbreviated to the fields that identify it.
fn go_owner_reference(reference: &Value) -> String {
    let text = |key: &str| reference.get(key).and_then(Value::as_str).unwrap_or("");
    format!(
        "v1.OwnerReference{{APIVersion:{}, Kind:{}, Name:{}, UID:{}, ...}}",
        quote(text("apiVersion")),
        quote(text("kind")),
        quote(text("name")),
        quote(text("uid"))
    )
}

/// `ValidateFinalizers`: qualified names, and not both ways of handling dependents.
fn finalizers(finalizers: Option<&Value>) -> Vec<FieldCause> {
    let list = super::strings(finalizers);
    let mut causes = Vec::new();
    for finalizer in &list {
        for msg in names::qualified_name(finalizer) {
            causes.push(invalid("metadata.finalizers", &quote(finalizer), &msg));
        }
    }
    if list.contains(&"orphan") && list.contains(&"foregroundDeletion") {
        causes.push(invalid(
            "metadata.finalizers",
            &super::go_strings(list.iter().copied()),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    causes
}

/// The core group's `validateKubeFinalizerName`, which the built-in kinds' metadata validation
/// adds (per item, after the generic checks, which it repeats): a name without a `/` must be
/// one of the standard finalizers.
fn kube_finalizers(finalizers: Option<&Value>) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (i, finalizer) in super::strings(finalizers).into_iter().enumerate() {
        let path = format!("metadata.finalizers[{i}]");
        for msg in names::qualified_name(finalizer) {
            causes.push(invalid(&path, &quote(finalizer), &msg));
        }
        if !finalizer.contains('/')
            && !matches!(finalizer, "kubernetes" | "orphan" | "foregroundDeletion")
        {
            causes.push(invalid(
                &path,
                &quote(finalizer),
                "name is neither a standard finalizer name nor is it fully qualified",
            ));
        }
    }
    causes
}

/// `ValidateCronJobCreate`: a CronJob's name must leave room for the 11 characters its Jobs
/// append.
pub(super) fn cron_job_name(object: &Value) -> Vec<FieldCause> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    if name.len() > 52 {
        vec![invalid(
            "metadata.name",
            &quote(name),
            "must be no more than 52 characters",
        )]
    } else {
        Vec::new()
    }
}
