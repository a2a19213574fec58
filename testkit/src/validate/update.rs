//! Fields of built-in kinds that an update may not change (the `Validate*Update` functions of
//! `pkg/apis/{core,apps,batch,rbac}/validation`).
//!
//! Where upstream prints a whole Go struct or a `cmp.Diff` of the spec in the message, the
//! value is abbreviated (`core.PodTemplateSpec{...}`) and the diff left out: the code, reason,
//! field and the message's wording are the real server's.

use serde_json::{Map, Value};

use super::{data, forbidden, invalid, quote, service};
use crate::registry::{ResourceType, TypeSchema};
use crate::schema::FieldCause;

const IMMUTABLE: &str = "field is immutable";

pub(super) fn immutable_fields(ty: &ResourceType, new: &Value, old: &Value) -> Vec<FieldCause> {
    if !matches!(ty.schema, TypeSchema::BuiltIn { .. }) {
        return Vec::new();
    }
    match (ty.group.as_str(), ty.kind.as_str()) {
        ("", "ConfigMap") => data::immutable(new, old, &["data", "binaryData"]),
        ("", "Secret") => {
            let mut causes = Vec::new();
            let kind = |v: &Value| v.get("type").cloned().unwrap_or(Value::Null);
            if kind(new) != kind(old) {
                causes.push(invalid(
                    "type",
                    &quote(new.get("type").and_then(Value::as_str).unwrap_or("")),
                    IMMUTABLE,
                ));
            }
            causes.extend(data::immutable(new, old, &["data"]));
            causes
        }
        ("", "Service") => service::cluster_ips_kept(new, old),
        ("", "PersistentVolumeClaim") => claim_spec(new, old),
        ("", "Pod") => pod_spec(new, old),
        ("apps", "Deployment" | "ReplicaSet" | "DaemonSet") => selector(new, old),
        ("apps", "StatefulSet") => stateful_set_spec(new, old),
        ("batch", "Job") => job_spec(new, old),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_ref(new, old),
        ("scheduling.k8s.io", "PriorityClass") => {
            super::scheduling::priority_class_update(new, old)
        }
        _ => Vec::new(),
    }
}

fn spec(object: &Value) -> Map<String, Value> {
    object
        .get("spec")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn at<'a>(object: &'a Value, pointer: &str) -> Option<&'a Value> {
    object.pointer(pointer).filter(|v| !v.is_null())
}

/// `spec.selector` of the apps/v1 workloads (and Jobs) never changes.
fn selector(new: &Value, old: &Value) -> Vec<FieldCause> {
    let (n, o) = (at(new, "/spec/selector"), at(old, "/spec/selector"));
    if n == o {
        return Vec::new();
    }
    vec![invalid("spec.selector", &go_label_selector(n), IMMUTABLE)]
}

/// A `*metav1.LabelSelector` in Go's `%#v` notation, as upstream prints it in this error.
fn go_label_selector(selector: Option<&Value>) -> String {
    let Some(selector) = selector else {
        return "null".to_string();
    };
    let labels = match selector.get("matchLabels").and_then(Value::as_object) {
        Some(labels) => {
            let pairs: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{}:{}", quote(k), quote(v.as_str().unwrap_or(""))))
                .collect();
            format!("map[string]string{{{}}}", pairs.join(", "))
        }
        None => "map[string]string(nil)".to_string(),
    };
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        Some(items) => {
            let rendered: Vec<String> = items
                .iter()
                .map(|e| {
                    let text = |k: &str| quote(e.get(k).and_then(Value::as_str).unwrap_or(""));
                    let values = match e.get("values").and_then(Value::as_array) {
                        Some(values) => super::go_strings(values.iter().filter_map(Value::as_str)),
                        None => "[]string(nil)".to_string(),
                    };
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{values}}}",
                        text("key"),
                        text("operator")
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", rendered.join(", "))
        }
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
    };
    format!("v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{expressions}}}")
}

/// `ValidateStatefulSetUpdate`: only the listed fields of the spec may change.
fn stateful_set_spec(new: &Value, old: &Value) -> Vec<FieldCause> {
    // v1.32: `revisionHistoryLimit` became mutable only in v1.33.
    const MUTABLE: [&str; 6] = [
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    ];
    let strip = |v: &Value| {
        let mut s = spec(v);
        for field in MUTABLE {
            s.remove(field);
        }
        s
    };
    if strip(new) == strip(old) {
        return Vec::new();
    }
    vec![forbidden(
        "spec",
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    )]
}

/// `ValidateJobSpecUpdate`: what identifies a Job's pods and how it completes is fixed.
fn job_spec(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut causes = selector(new, old);
    let changed = |field: &str| {
        let pointer = format!("/spec/{field}");
        at(new, &pointer) != at(old, &pointer)
    };
    // An Indexed Job may change completions together with parallelism (elastic Jobs).
    let elastic = at(new, "/spec/completionMode") == Some(&Value::from("Indexed"))
        && at(new, "/spec/completions") == at(new, "/spec/parallelism");
    if changed("completions") && !elastic {
        let value = at(new, "/spec/completions").map_or("null".to_string(), Value::to_string);
        causes.push(invalid("spec.completions", &value, IMMUTABLE));
    }
    if changed("template") {
        causes.push(invalid(
            "spec.template",
            "core.PodTemplateSpec{...}",
            IMMUTABLE,
        ));
    }
    for field in [
        "completionMode",
        "podFailurePolicy",
        "backoffLimitPerIndex",
        "managedBy",
        "successPolicy",
    ] {
        if changed(field) {
            let value = at(new, &format!("/spec/{field}")).map_or("null".to_string(), |v| match v
                .as_str()
            {
                Some(s) => quote(s),
                None => v.to_string(),
            });
            causes.push(invalid(&format!("spec.{field}"), &value, IMMUTABLE));
        }
    }
    causes
}

/// `ValidateRoleBindingUpdate` / `ValidateClusterRoleBindingUpdate`.
fn role_ref(new: &Value, old: &Value) -> Vec<FieldCause> {
    let (n, o) = (new.get("roleRef"), old.get("roleRef"));
    if n == o {
        return Vec::new();
    }
    let text = |k: &str| {
        quote(
            n.and_then(|r| r.get(k))
                .and_then(Value::as_str)
                .unwrap_or(""),
        )
    };
    vec![invalid(
        "roleRef",
        &format!(
            "rbac.RoleRef{{APIGroup:{}, Kind:{}, Name:{}}}",
            text("apiGroup"),
            text("kind"),
            text("name")
        ),
        "cannot change roleRef",
    )]
}

/// `ValidatePersistentVolumeClaimUpdate` for a claim that is not bound (the testkit binds
/// none): the spec is fixed, except that `volumeName` may be set once.
fn claim_spec(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut new_spec = spec(new);
    let old_spec = spec(old);
    if old_spec.get("volumeName").is_none_or(|v| v == "") {
        match old_spec.get("volumeName") {
            Some(v) => new_spec.insert("volumeName".into(), v.clone()),
            None => new_spec.remove("volumeName"),
        };
    }
    if new_spec == old_spec {
        return Vec::new();
    }
    vec![forbidden(
        "spec",
        "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
    )]
}

/// `ValidatePodUpdate`: a Pod's spec is fixed but for images, the active deadline, added
/// tolerations and a negative grace period set to 1.
fn pod_spec(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut munged = spec(new);
    let old_spec = spec(old);
    for list in ["containers", "initContainers"] {
        let old_items = old_spec.get(list).and_then(Value::as_array);
        if let (Some(Value::Array(items)), Some(old_items)) = (munged.get_mut(list), old_items)
            && items.len() == old_items.len()
        {
            for (item, old_item) in items.iter_mut().zip(old_items) {
                if let (Some(image), Some(item)) = (old_item.get("image"), item.as_object_mut()) {
                    item.insert("image".into(), image.clone());
                }
            }
        }
    }
    for field in ["activeDeadlineSeconds", "terminationGracePeriodSeconds"] {
        match old_spec.get(field) {
            Some(v) => munged.insert(field.into(), v.clone()),
            None => munged.remove(field),
        };
    }
    let old_tolerations = old_spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let new_tolerations = munged
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
        match old_spec.get("tolerations") {
            Some(v) => munged.insert("tolerations".into(), v.clone()),
            None => munged.remove("tolerations"),
        };
    }
    if munged == old_spec {
        return Vec::new();
    }
    vec![forbidden(
        "spec",
        "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )]
}
