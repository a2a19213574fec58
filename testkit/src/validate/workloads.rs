//! The spec rules of the apps/v1 workloads (`ValidateDeploymentSpec`,
//! `ValidateReplicaSetSpec`, `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`) and of Jobs
//! (`validateJobSpec`): counts are not negative, a selector is required, may not be empty and
//! must select the pod template's own labels, and the template is a valid pod that restarts as
//! the kind needs.

use serde_json::{Map, Value};

use super::pod;
use super::{invalid, quote, required};
use crate::schema::FieldCause;

/// A Deployment's, ReplicaSet's, StatefulSet's or DaemonSet's spec, in upstream's order.
pub(super) fn workload(kind: &str, object: &Value) -> Vec<FieldCause> {
    let spec = object.get("spec");
    let template = object.pointer("/spec/template/spec");
    let mut causes = Vec::new();
    if kind == "StatefulSet" {
        causes.extend(pod::non_negative(
            spec,
            "spec",
            &["replicas", "minReadySeconds"],
        ));
    } else if kind != "DaemonSet" {
        causes.extend(pod::non_negative(spec, "spec", &["replicas"]));
    }
    causes.extend(selector(kind, object));
    causes.extend(pod::containers(template, "spec.template.spec"));
    causes.extend(pod::restart_always(template, "spec.template.spec"));
    match kind {
        "Deployment" => {
            causes.extend(pod::non_negative(
                spec,
                "spec",
                &[
                    "minReadySeconds",
                    "revisionHistoryLimit",
                    "progressDeadlineSeconds",
                ],
            ));
            causes.extend(progress_deadline(spec));
        }
        "ReplicaSet" | "DaemonSet" => {
            causes.extend(pod::non_negative(spec, "spec", &["minReadySeconds"]));
        }
        _ => {}
    }
    causes
}

/// `ValidateDeploymentSpec`: a rollout cannot be judged stuck before a pod can be available.
fn progress_deadline(spec: Option<&Value>) -> Option<FieldCause> {
    let deadline = spec?.get("progressDeadlineSeconds")?.as_i64()?;
    let ready = spec
        .and_then(|s| s.get("minReadySeconds"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    // A negative deadline gets this cause too, after the non-negative one, as upstream.
    (deadline <= ready).then(|| {
        invalid(
            "spec.progressDeadlineSeconds",
            &deadline.to_string(),
            "must be greater than minReadySeconds",
        )
    })
}

/// `validateJobSpec` on the Job spec at `path` (a Job's `spec`, a CronJob's job template).
pub(super) fn job(spec: Option<&Value>, path: &str) -> Vec<FieldCause> {
    let mut causes = pod::non_negative(
        spec,
        path,
        &[
            "parallelism",
            "completions",
            "activeDeadlineSeconds",
            "backoffLimit",
        ],
    );
    let template = spec.and_then(|s| s.pointer("/template/spec"));
    let template_path = format!("{path}.template.spec");
    causes.extend(pod::containers(template, &template_path));
    causes.extend(pod::restart_for_job(template, &template_path));
    causes
}

fn selector(kind: &str, object: &Value) -> Vec<FieldCause> {
    let Some(selector) = object.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        // A DaemonSet's nil selector selects nothing: its template's labels do not match.
        if kind == "DaemonSet" {
            let labels = template_labels(object);
            return vec![invalid(
                "spec.template.metadata.labels",
                &go_map(&labels),
                "`selector` does not match template `labels`",
            )];
        }
        return vec![required("spec.selector", "")];
    };
    let match_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let expressions = selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if match_labels.is_empty() && expressions.is_empty() {
        // ValidateReplicaSetSpec's message says "deployment" too (an upstream copy).
        let named = if kind == "ReplicaSet" {
            "deployment"
        } else {
            kind
        };
        return vec![invalid(
            "spec.selector",
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}",
            &format!("empty selector is invalid for {}", named.to_lowercase()),
        )];
    }
    let labels = template_labels(object);
    let matches_labels = match_labels.iter().all(|(k, v)| labels.get(k) == Some(v));
    if matches_labels && expressions.iter().all(|e| matches_expression(e, &labels)) {
        return Vec::new();
    }
    vec![invalid(
        "spec.template.metadata.labels",
        &go_map(&labels),
        "`selector` does not match template `labels`",
    )]
}

fn template_labels(object: &Value) -> Map<String, Value> {
    object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

fn matches_expression(expression: &Value, labels: &Map<String, Value>) -> bool {
    let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
    let values: Vec<&str> = super::strings(expression.get("values"));
    let value = labels.get(key).and_then(Value::as_str);
    match expression
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or("")
    {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        _ => false,
    }
}

/// A `map[string]string` in Go's `%#v` notation (keys sorted, as fmt prints maps).
fn go_map(labels: &Map<String, Value>) -> String {
    if labels.is_empty() {
        return "map[string]string(nil)".to_string();
    }
    let mut pairs: Vec<(&String, &Value)> = labels.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    let rendered: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{}", quote(k), quote(v.as_str().unwrap_or(""))))
        .collect();
    format!("map[string]string{{{}}}", rendered.join(", "))
}
