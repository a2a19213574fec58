//! `ValidatePriorityClass` and `ValidatePriorityClassUpdate` (scheduling/v1): the `system-`
//! prefix is reserved for the cluster's own classes, user classes stay at or below a billion,
//! and a class's value and preemption policy never change.

use serde_json::Value;

use super::{forbidden, invalid, quote};
use crate::schema::FieldCause;

/// `HighestUserDefinablePriority`.
const HIGHEST_USER_PRIORITY: i64 = 1_000_000_000;

/// The classes the scheduling post-start hook creates: name, value and `globalDefault`.
pub(crate) const SYSTEM_PRIORITY_CLASSES: [(&str, i64); 2] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
];

pub(super) fn priority_class(object: &Value) -> Vec<FieldCause> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let value = object.get("value").and_then(Value::as_i64).unwrap_or(0);
    let global_default = object.get("globalDefault").and_then(Value::as_bool) == Some(true);
    let mut causes = Vec::new();
    if name.starts_with("system-") {
        // `IsKnownSystemPriorityClass`.
        let error = match SYSTEM_PRIORITY_CLASSES.iter().find(|(n, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, known)) if *known != value => {
                Some(format!("value of {name} PriorityClass must be {known}"))
            }
            Some(_) if global_default => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(error) = error {
            causes.push(forbidden(
                "metadata.name",
                &format!(
                    "priority class names with 'system-' prefix are reserved for system use only. error: {error}"
                ),
            ));
        }
    } else if value > HIGHEST_USER_PRIORITY {
        causes.push(forbidden(
            "value",
            &format!("maximum allowed value of a user defined priority is {HIGHEST_USER_PRIORITY}"),
        ));
    }
    match object.get("preemptionPolicy").and_then(Value::as_str) {
        None | Some("PreemptLowerPriority" | "Never") => {}
        Some("") => causes.push(super::required("preemptionPolicy", "")),
        Some(policy) => causes.push(super::not_supported(
            "preemptionPolicy",
            &quote(policy),
            &["PreemptLowerPriority", "Never"],
        )),
    }
    causes
}

pub(super) fn priority_class_update(new: &Value, old: &Value) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    if new.get("value") != old.get("value") {
        causes.push(forbidden("value", "may not be changed in an update."));
    }
    let policy = |v: &Value| v.get("preemptionPolicy").cloned().unwrap_or(Value::Null);
    if policy(new) != policy(old) {
        let shown = new
            .get("preemptionPolicy")
            .and_then(Value::as_str)
            .map_or_else(|| "null".to_string(), quote);
        causes.push(invalid("preemptionPolicy", &shown, "field is immutable"));
    }
    causes
}
