//! The parts of `ValidatePodSpec` (`pkg/apis/core/validation`) a client trips over first, for a
//! Pod and for every pod template: at least one container, each named once with a DNS label,
//! each with an image; and the restart policies the workload kinds allow their templates
//! (`ValidatePodTemplateSpecForReplicaSet`, `ValidateDaemonSetSpec`,
//! `ValidatePodTemplateSpecForStatefulSet`, batch's `validateJobSpec`).

use std::collections::HashSet;

use serde_json::Value;

use super::names::dns1123_label;
use super::{duplicate, invalid, not_supported, quote, required};
use crate::errors::cause;
use crate::schema::FieldCause;

/// `validateContainers` for the pod spec at `path` (`spec`, `spec.template.spec`...).
pub(super) fn containers(spec: Option<&Value>, path: &str) -> Vec<FieldCause> {
    let field = format!("{path}.containers");
    let list = spec
        .and_then(|s| s.get("containers"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if list.is_empty() {
        return vec![required(&field, "")];
    }
    let mut causes = Vec::new();
    let mut seen = HashSet::new();
    for (i, container) in list.iter().enumerate() {
        let at = format!("{field}[{i}]");
        let name = container.get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            causes.push(required(&format!("{at}.name"), ""));
        } else {
            for problem in dns1123_label(name) {
                causes.push(invalid(&format!("{at}.name"), &quote(name), &problem));
            }
            if !seen.insert(name) {
                causes.push(duplicate(&format!("{at}.name"), &quote(name)));
            }
        }
        let image = container.get("image").and_then(Value::as_str).unwrap_or("");
        if image.is_empty() {
            causes.push(required(&format!("{at}.image"), ""));
        }
    }
    causes
}

/// A long-running workload's template must restart its pods (`Always`, the default).
pub(super) fn restart_always(spec: Option<&Value>, path: &str) -> Option<FieldCause> {
    let policy = restart_policy(spec);
    (policy != "Always").then(|| {
        not_supported(
            &format!("{path}.restartPolicy"),
            &quote(policy),
            &["Always"],
        )
    })
}

/// A Job's template must let its pods finish: `OnFailure` or `Never`, never the defaulted
/// `Always` (upstream checks both empty and `Always` as "required").
pub(super) fn restart_for_job(spec: Option<&Value>, path: &str) -> Option<FieldCause> {
    let field = format!("{path}.restartPolicy");
    match restart_policy(spec) {
        "OnFailure" | "Never" => None,
        "" | "Always" => Some(required(&field, "valid values: \"OnFailure\", \"Never\"")),
        other => Some(not_supported(
            &field,
            &quote(other),
            &["OnFailure", "Never"],
        )),
    }
}

fn restart_policy(spec: Option<&Value>) -> &str {
    spec.and_then(|s| s.get("restartPolicy"))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// `ValidateNonnegativeField` for each of `fields` present under `spec` at `path`.
pub(super) fn non_negative(spec: Option<&Value>, path: &str, fields: &[&str]) -> Vec<FieldCause> {
    fields
        .iter()
        .filter_map(|field| {
            let value = spec?.get(*field)?.as_i64()?;
            (value < 0).then(|| {
                cause(
                    "FieldValueInvalid",
                    &format!("{path}.{field}"),
                    format!("Invalid value: {value}: must be greater than or equal to 0"),
                )
            })
        })
        .collect()
}
