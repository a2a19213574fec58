//! The last-applied record: what the handler returned for a child, kept on the child (the
//! `roperator.io/last-applied` annotation) so that the next sync can tell a changed answer, and
//! a field the handler stopped returning, from fields others set.
//!
//! A Secret's values are recorded as digests, never in clear: annotations are shown by
//! `kubectl describe`, copied into logs and audit records, and read by tools that would never
//! be given a Secret's data. A digest is enough, since the record is only compared for
//! equality and its keys tell which fields to remove.

use ring::digest::{SHA256, digest};
use serde_json::Value;

use super::Desired;

/// What the annotation holds for `d`.
pub(crate) fn record(d: &Desired) -> Value {
    let mut record = d.content.clone();
    if d.child_type.api_version == "v1" && d.child_type.kind == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(Value::Object(values)) = record.get_mut(field) {
                for (key, value) in values.iter_mut() {
                    *value = Value::String(fingerprint(&d.name, field, key, value));
                }
            }
        }
    }
    record
}

/// Salted with the Secret's name and key, so equal values in different places do not show as
/// equal digests.
fn fingerprint(name: &str, field: &str, key: &str, value: &Value) -> String {
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let input = format!("roperator/{name}/{field}/{key}\n{text}");
    let hash = digest(&SHA256, input.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UpdateStrategy;
    use crate::k8s_type::k8s_types;
    use serde_json::json;

    fn desired(child_type: crate::K8sType, content: Value) -> Desired {
        Desired {
            child_type,
            update: UpdateStrategy::Replace,
            namespace: Some("ns".into()),
            name: "s".into(),
            content,
        }
    }

    #[test]
    fn secret_values_are_recorded_as_digests_that_change_with_the_value() {
        let secret = |token: &str| {
            desired(
                k8s_types::core::v1::Secret,
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                       "data": {"token": token}, "stringData": {"password": "hunter2"}, "type": "Opaque"}),
            )
        };
        let a = record(&secret("c2VjcmV0"));
        let text = a.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(a["data"]["token"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(a["type"], "Opaque");
        assert_eq!(a, record(&secret("c2VjcmV0")));
        assert_ne!(a, record(&secret("b3RoZXI=")));
    }

    #[test]
    fn other_kinds_are_recorded_as_returned() {
        let content = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "data": {"k": "v"}});
        let d = desired(k8s_types::core::v1::ConfigMap, content.clone());
        assert_eq!(record(&d), content);
    }
}
