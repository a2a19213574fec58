//! The selector rules of the apps/v1 workloads (`ValidateDeploymentSpec`,
//! `ValidateReplicaSetSpec`, `ValidateStatefulSetSpec`, `ValidateDaemonSetSpec`): a selector is
//! required, may not be empty, and must select the pod template's own labels.

use serde_json::{Map, Value};

use super::{invalid, quote, required};
use crate::schema::FieldCause;

pub(super) fn selector(kind: &str, object: &Value) -> Vec<FieldCause> {
    let Some(selector) = object.pointer("/spec/selector").filter(|s| !s.is_null()) else {
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
        return vec![invalid(
            "spec.selector",
            "v1.LabelSelector{MatchLabels:map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}",
            &format!("empty selector is invalid for {}", kind.to_lowercase()),
        )];
    }
    let labels = object
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
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
