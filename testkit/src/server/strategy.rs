//! What each built-in type's registry strategy does to an object before it is validated and
//! stored (`PrepareForCreate` / `PrepareForUpdate` in `pkg/registry/<group>/<kind>/strategy.go`),
//! beyond keeping `status` apart, which `objects` does for every type with the subresource.

use serde_json::{Map, Value, json};

use crate::defaults::object;
use crate::quantity::canonical;
use crate::registry::{ResourceType, TypeSchema};

fn is(ty: &ResourceType, group: &str, kind: &str) -> bool {
    matches!(ty.schema, TypeSchema::BuiltIn { .. }) && ty.group == group && ty.kind == kind
}

/// `PrepareForCreate`. Runs after the object has its uid.
pub(crate) fn on_create(ty: &ResourceType, object: &mut Value) {
    if is(ty, "", "Pod") {
        let qos = qos_class(object);
        object["status"] = json!({"phase": "Pending", "qosClass": qos});
    } else if is(ty, "", "Namespace") {
        namespace_finalizer(object);
    } else if is(ty, "batch", "Job") {
        if object.pointer("/spec/manualSelector") != Some(&Value::Bool(true)) {
            job_selector(object);
        }
    } else if is(ty, "apps", "DaemonSet") {
        set_template_generation(object, 1);
    } else if is(ty, "", "PersistentVolume") {
        // The status is the server's: a new volume is Pending since now.
        object["status"] =
            json!({"phase": "Pending", "lastPhaseTransitionTime": crate::meta::now()});
    }
}

/// `PrepareForUpdate` (status and generation aside, which `objects` handles for every type).
pub(crate) fn on_update(ty: &ResourceType, object: &mut Value, old: &Value) {
    if is(ty, "apps", "DaemonSet") {
        daemon_set_template_generation(object, old);
    } else if is(ty, "", "Namespace") {
        // Only `/finalize` changes a namespace's finalizers.
        match old.pointer("/spec/finalizers") {
            Some(kept) => object["spec"]["finalizers"] = kept.clone(),
            None => {
                if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
            }
        }
    }
}

/// The namespace controller's finalizer, which every new namespace carries.
fn namespace_finalizer(namespace: &mut Value) {
    let Some(namespace) = namespace.as_object_mut() else {
        return;
    };
    let spec = object(namespace, "spec");
    let list = spec
        .entry("finalizers")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(list) = list
        && !list.iter().any(|f| f == "kubernetes")
    {
        list.push(json!("kubernetes"));
    }
}

/// The Job strategy's `generateSelector`: the pods of a Job carry its name and uid as labels
/// (under both the legacy and the `batch.kubernetes.io/` keys, unless given), and its selector
/// picks them by uid.
fn job_selector(job: &mut Value) {
    let name = job
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let uid = job
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    // Defaulting gave a Job without labels its template's, and upstream that is one map: what
    // is added to the template here shows on the Job too.
    let labels_at = |pointer: &str| {
        job.pointer(pointer)
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .cloned()
    };
    let shared = labels_at("/metadata/labels") == labels_at("/spec/template/metadata/labels");
    let Some(job) = job.as_object_mut() else {
        return;
    };
    let spec = object(job, "spec");
    let labels = object(object(object(spec, "template"), "metadata"), "labels");
    for key in ["job-name", "batch.kubernetes.io/job-name"] {
        labels.entry(key).or_insert_with(|| json!(name));
    }
    for key in ["controller-uid", "batch.kubernetes.io/controller-uid"] {
        labels.entry(key).or_insert_with(|| json!(uid));
    }
    let labels = shared.then(|| labels.clone());
    let selector = object(object(spec, "selector"), "matchLabels");
    selector
        .entry("batch.kubernetes.io/controller-uid")
        .or_insert_with(|| json!(uid));
    if let Some(labels) = labels {
        object(job, "metadata").insert("labels".into(), Value::Object(labels));
    }
}

const TEMPLATE_GENERATION: &str = "deprecated.daemonset.template.generation";

fn set_template_generation(set: &mut Value, generation: i64) {
    let Some(set) = set.as_object_mut() else {
        return;
    };
    let annotations = object(object(set, "metadata"), "annotations");
    annotations.insert(TEMPLATE_GENERATION.into(), json!(generation.to_string()));
}

/// A DaemonSet's template generation (kept in an annotation at apps/v1) goes up when its
/// template changes; otherwise it is whatever the write carried, `0` when it carried none, as
/// the upstream conversion reads it.
fn daemon_set_template_generation(set: &mut Value, old: &Value) {
    let generation = |v: &Value| {
        v.pointer("/metadata/annotations")
            .and_then(|a| a.get(TEMPLATE_GENERATION))
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<i64>().ok())
            .unwrap_or(0)
    };
    // "update is not allowed to set TemplateGeneration": the stored one, bumped by a new
    // template, whatever the write carried.
    let changed = set.pointer("/spec/template") != old.pointer("/spec/template");
    set_template_generation(set, generation(old) + i64::from(changed));
}

/// `qos.GetPodQOS`: Guaranteed when every container limits CPU and memory to what it requests,
/// BestEffort when nothing is requested or limited, Burstable otherwise.
fn qos_class(pod: &Value) -> &'static str {
    let mut any = false;
    let mut guaranteed = true;
    for list in ["containers", "initContainers"] {
        let containers = pod
            .pointer(&format!("/spec/{list}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for container in containers {
            let amounts = |kind: &str| -> Map<String, Value> {
                container
                    .pointer(&format!("/resources/{kind}"))
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default()
            };
            let nonzero = |m: &Map<String, Value>, name: &str| {
                m.get(name)
                    .and_then(Value::as_str)
                    .and_then(|q| canonical(q).ok())
                    .filter(|q| q != "0")
            };
            let (requests, limits) = (amounts("requests"), amounts("limits"));
            for name in ["cpu", "memory"] {
                let (request, limit) = (nonzero(&requests, name), nonzero(&limits, name));
                any |= request.is_some() || limit.is_some();
                if limit.is_none() || request.as_ref().is_some_and(|r| Some(r) != limit.as_ref()) {
                    guaranteed = false;
                }
            }
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}
