//! The apps/v1 and batch/v1 defaulting functions (upstream `pkg/apis/apps/v1/defaults.go` and
//! `pkg/apis/batch/v1/defaults.go`, v1.32, with the feature gates of a default v1.32 server).

use serde_json::{Map, Value, json};

use super::{at, at_mut, object, set_empty, set_unset, text};

/// `SetDefaults_Deployment`.
pub(super) fn deployment(deployment: &mut Map<String, Value>) {
    let spec = object(deployment, "spec");
    set_unset(spec, "replicas", json!(1));
    let strategy = object(spec, "strategy");
    set_empty(strategy, "type", "RollingUpdate");
    if text(strategy, "type") == Some("RollingUpdate") {
        let rolling = object(strategy, "rollingUpdate");
        set_unset(rolling, "maxUnavailable", json!("25%"));
        set_unset(rolling, "maxSurge", json!("25%"));
    }
    set_unset(spec, "revisionHistoryLimit", json!(10));
    set_unset(spec, "progressDeadlineSeconds", json!(600));
}

/// `SetDefaults_StatefulSet`. A strategy given as `RollingUpdate` without `rollingUpdate` stays
/// without it (only a defaulted type gets the partition), as upstream.
pub(super) fn stateful_set(set: &mut Map<String, Value>) {
    let spec = object(set, "spec");
    set_empty(spec, "podManagementPolicy", "OrderedReady");
    let strategy = object(spec, "updateStrategy");
    if strategy.get("type").is_none_or(|t| t.is_null() || t == "") {
        strategy.insert("type".into(), json!("RollingUpdate"));
        set_unset(strategy, "rollingUpdate", json!({}));
    }
    if text(strategy, "type") == Some("RollingUpdate")
        && let Some(Value::Object(rolling)) = strategy.get_mut("rollingUpdate")
    {
        set_unset(rolling, "partition", json!(0));
    }
    let retention = object(spec, "persistentVolumeClaimRetentionPolicy");
    set_empty(retention, "whenDeleted", "Retain");
    set_empty(retention, "whenScaled", "Retain");
    set_unset(spec, "replicas", json!(1));
    set_unset(spec, "revisionHistoryLimit", json!(10));
    // The claim templates are whole PersistentVolumeClaims, and the server writes their type
    // (as the recorded v1.32 responses show).
    if let Some(Value::Array(templates)) = spec.get_mut("volumeClaimTemplates") {
        for template in templates.iter_mut().filter_map(Value::as_object_mut) {
            set_empty(template, "apiVersion", "v1");
            set_empty(template, "kind", "PersistentVolumeClaim");
        }
    }
}

/// `SetDefaults_DaemonSet`.
pub(super) fn daemon_set(set: &mut Map<String, Value>) {
    let spec = object(set, "spec");
    let strategy = object(spec, "updateStrategy");
    set_empty(strategy, "type", "RollingUpdate");
    if text(strategy, "type") == Some("RollingUpdate") {
        let rolling = object(strategy, "rollingUpdate");
        set_unset(rolling, "maxUnavailable", json!(1));
        set_unset(rolling, "maxSurge", json!(0));
    }
    set_unset(spec, "revisionHistoryLimit", json!(10));
}

/// `SetDefaults_ReplicaSet`.
pub(super) fn replica_set(set: &mut Map<String, Value>) {
    set_unset(object(set, "spec"), "replicas", json!(1));
}

/// `SetDefaults_Job`. The selector and the `controller-uid`/`job-name` labels are not defaults:
/// the Job strategy generates them on create, from the uid (see the `strategy` module).
pub(super) fn job(job: &mut Map<String, Value>) {
    let template_labels = at(job, &["spec", "template", "metadata", "labels"])
        .and_then(Value::as_object)
        .filter(|l| !l.is_empty())
        .cloned();
    let spec = object(job, "spec");
    let unset = |spec: &Map<String, Value>, key: &str| spec.get(key).is_none_or(Value::is_null);
    if unset(spec, "completions") && unset(spec, "parallelism") {
        spec.insert("completions".into(), json!(1));
        spec.insert("parallelism".into(), json!(1));
    }
    set_unset(spec, "parallelism", json!(1));
    let per_index = !unset(spec, "backoffLimitPerIndex");
    set_unset(
        spec,
        "backoffLimit",
        json!(if per_index { i32::MAX } else { 6 }),
    );
    set_unset(spec, "completionMode", json!("NonIndexed"));
    set_unset(spec, "suspend", json!(false));
    set_unset(spec, "manualSelector", json!(false));
    let failure_policy = !unset(spec, "podFailurePolicy");
    if let Some(Value::Array(rules)) = at_mut(spec, &["podFailurePolicy", "rules"]) {
        for rule in rules.iter_mut() {
            let Some(Value::Array(patterns)) = rule.get_mut("onPodConditions") else {
                continue;
            };
            for pattern in patterns.iter_mut().filter_map(Value::as_object_mut) {
                set_empty(pattern, "status", "True");
            }
        }
    }
    set_unset(
        spec,
        "podReplacementPolicy",
        json!(if failure_policy {
            "Failed"
        } else {
            "TerminatingOrFailed"
        }),
    );
    // A Job without labels takes its template's (the same map upstream, so labels the strategy
    // later adds to the template show on the Job too; see `strategy::job_selector`).
    let labels_empty = at(job, &["metadata", "labels"])
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    if let (Some(labels), true) = (template_labels, labels_empty) {
        object(job, "metadata").insert("labels".into(), Value::Object(labels));
    }
}

/// `SetDefaults_CronJob` (its job template gets no Job defaults: those apply to Job objects).
pub(super) fn cron_job(job: &mut Map<String, Value>) {
    let spec = object(job, "spec");
    set_empty(spec, "concurrencyPolicy", "Allow");
    set_unset(spec, "suspend", json!(false));
    set_unset(spec, "successfulJobsHistoryLimit", json!(3));
    set_unset(spec, "failedJobsHistoryLimit", json!(1));
}
