//! The defaulting functions of the cluster-infrastructure kinds (upstream
//! `pkg/apis/{core,scheduling,storage,discovery,admissionregistration}/v1/defaults.go`, v1.32):
//! volumes, priority and storage classes, endpoint slices and admission webhooks.

use serde_json::{Map, Value, json};

use super::{object, set_empty, set_unset};

/// `SetDefaults_PersistentVolume`: a new volume is `Pending`, kept when released and mounted
/// as a filesystem unless said otherwise.
pub(super) fn persistent_volume(volume: &mut Map<String, Value>) {
    let spec = object(volume, "spec");
    set_empty(spec, "persistentVolumeReclaimPolicy", "Retain");
    set_unset(spec, "volumeMode", json!("Filesystem"));
    set_empty(object(volume, "status"), "phase", "Pending");
}

/// `SetDefaults_NodeStatus`: what a node can give pods is, unless said, all it has.
pub(super) fn node_status(status: &mut Map<String, Value>) {
    if status.get("allocatable").is_none_or(Value::is_null)
        && let Some(capacity) = status.get("capacity").cloned()
    {
        status.insert("allocatable".into(), capacity);
    }
}

/// `SetDefaults_IngressClass`: parameters are cluster-scoped unless said otherwise.
pub(super) fn ingress_class(class: &mut Map<String, Value>) {
    if let Some(Value::Object(parameters)) = object(class, "spec").get_mut("parameters") {
        set_unset(parameters, "scope", json!("Cluster"));
    }
}

/// `SetDefaults_PriorityClass` (scheduling/v1).
pub(super) fn priority_class(class: &mut Map<String, Value>) {
    set_unset(class, "preemptionPolicy", json!("PreemptLowerPriority"));
}

/// `SetDefaults_StorageClass`.
pub(super) fn storage_class(class: &mut Map<String, Value>) {
    set_unset(class, "reclaimPolicy", json!("Delete"));
    set_unset(class, "volumeBindingMode", json!("Immediate"));
}

/// `SetDefaults_EndpointPort` (discovery/v1).
pub(super) fn endpoint_port(port: &mut Map<String, Value>) {
    set_unset(port, "name", json!(""));
    set_unset(port, "protocol", json!("TCP"));
}

/// `SetDefaults_ValidatingWebhook`.
pub(super) fn validating_webhook(webhook: &mut Map<String, Value>) {
    set_unset(webhook, "failurePolicy", json!("Fail"));
    set_unset(webhook, "matchPolicy", json!("Equivalent"));
    set_unset(webhook, "namespaceSelector", json!({}));
    set_unset(webhook, "objectSelector", json!({}));
    set_unset(webhook, "timeoutSeconds", json!(10));
}

/// `SetDefaults_MutatingWebhook`: as a validating one, and called once per request.
pub(super) fn mutating_webhook(webhook: &mut Map<String, Value>) {
    validating_webhook(webhook);
    set_unset(webhook, "reinvocationPolicy", json!("Never"));
}

/// `SetDefaults_Rule`: a rule without a scope matches both.
pub(super) fn webhook_rule(rule: &mut Map<String, Value>) {
    set_unset(rule, "scope", json!("*"));
}
