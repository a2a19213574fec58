//! Object metadata rules: names, timestamps, generation.

use serde_json::Value;

use crate::errors::cause;
use crate::schema::FieldCause;

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn dns_label_chars(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Checks `metadata.name` the way the real server does for this kind.
pub(crate) fn validate_name(kind: &str, name: &str) -> Option<FieldCause> {
    let problem = match kind {
        // RBAC objects only need to be valid path segments (names like `system:controller:x`).
        "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding" => {
            if name == "." || name == ".." || name.contains('/') || name.contains('%') {
                Some("may not be '.' or '..' and may not contain '/' or '%'".to_string())
            } else {
                None
            }
        }
        "Namespace" => (!(dns_label_chars(name) && name.len() <= 63)).then(|| {
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()
        }),
        "Service" => (!(dns_label_chars(name)
            && name.len() <= 63
            && name.as_bytes()[0].is_ascii_lowercase()))
        .then(|| {
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()
        }),
        _ => (!(name.len() <= 253 && name.split('.').all(dns_label_chars))).then(|| {
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string()
        }),
    };
    problem.map(|p| {
        cause(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: {p}"),
        )
    })
}

fn qualified_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// Checks `metadata.labels` keys and values with the real server's rules.
pub(crate) fn validate_labels(v: &Value) -> Vec<FieldCause> {
    let Some(labels) = v.pointer("/metadata/labels").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    for (key, value) in labels {
        let (prefix, name) = match key.rsplit_once('/') {
            Some((p, n)) => (Some(p), n),
            None => (None, key.as_str()),
        };
        let prefix_ok = prefix.is_none_or(|p| p.len() <= 253 && p.split('.').all(dns_label_chars));
        if !prefix_ok || !qualified_name_part(name) {
            causes.push(cause(
                "FieldValueInvalid",
                "metadata.labels",
                format!("Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]'), with an optional DNS subdomain prefix and '/'"),
            ));
        }
        match value.as_str() {
            Some("") => {}
            Some(s) if qualified_name_part(s) => {}
            _ => causes.push(cause(
                "FieldValueInvalid",
                "metadata.labels",
                format!("Invalid value: {value}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"),
            )),
        }
    }
    causes
}

/// A `generateName` suffix: five characters from the alphabet the real server uses.
pub(crate) fn name_suffix(rng: &mut impl rand::Rng) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The parts of an object whose change bumps `metadata.generation`: everything except metadata,
/// and except status when the type has a status subresource.
pub(crate) fn spec_changed(old: &Value, new: &Value, status_subresource: bool) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("metadata");
            if status_subresource {
                o.remove("status");
            }
        }
        v
    };
    strip(old) != strip(new)
}

/// Whether the type's registry strategy maintains `metadata.generation` (custom resources and the
/// built-ins whose spec a controller reconciles; ConfigMaps, Secrets, Namespaces, RBAC objects and
/// the like have none on a real server).
pub(crate) fn tracks_generation(ty: &crate::registry::ResourceType) -> bool {
    matches!(ty.schema, crate::registry::TypeSchema::Custom { .. })
        || matches!(
            (ty.group.as_str(), ty.kind.as_str()),
            (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            ) | ("batch", "Job" | "CronJob")
                | ("networking.k8s.io", "Ingress" | "NetworkPolicy")
                | ("policy", "PodDisruptionBudget")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
                | ("", "Pod")
        )
}

/// The type's registry strategy `AllowUnconditionalUpdate()`: whether an update without a
/// `resourceVersion` overwrites the live object (most built-ins) or is refused with `422`
/// (custom resources, Leases and CRDs, whose strategies return false).
pub(crate) fn allows_unconditional_update(ty: &crate::registry::ResourceType) -> bool {
    !matches!(ty.schema, crate::registry::TypeSchema::Custom { .. })
        && !matches!(
            (ty.group.as_str(), ty.kind.as_str()),
            ("coordination.k8s.io", "Lease") | ("apiextensions.k8s.io", "CustomResourceDefinition")
        )
}

/// The type's registry strategy `AllowCreateOnUpdate()`: whether an update of a missing object
/// creates it (`201`) instead of answering `404`.
pub(crate) fn allows_create_on_update(ty: &crate::registry::ResourceType) -> bool {
    matches!(
        (ty.group.as_str(), ty.kind.as_str()),
        ("coordination.k8s.io", "Lease")
            | ("", "Endpoints" | "Event")
            | ("events.k8s.io", "Event")
            | (
                "rbac.authorization.k8s.io",
                "Role" | "RoleBinding" | "ClusterRole" | "ClusterRoleBinding"
            )
    )
}

/// `metadata.<field>` as a string.
pub(crate) fn meta_str<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
}

/// `metadata.finalizers`.
pub(crate) fn finalizers(v: &Value) -> Vec<String> {
    v.pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn set_finalizers(v: &mut Value, list: Vec<String>) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("finalizers");
        } else {
            meta.insert("finalizers".into(), Value::from(list));
        }
    }
}

pub(crate) fn is_deleting(v: &Value) -> bool {
    v.pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

pub(crate) fn meta_mut(v: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    let o = v.as_object_mut()?;
    let m = o
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if !m.is_object() {
        *m = Value::Object(Default::default());
    }
    m.as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_kind_rules() {
        assert!(validate_name("ConfigMap", "a.b-c").is_none());
        assert!(validate_name("ConfigMap", "Upper").is_some());
        assert!(validate_name("Namespace", "a.b").is_some());
        assert!(validate_name("Service", "1abc").is_some());
        assert!(validate_name("ClusterRole", "system:controller:x").is_none());
    }

    #[test]
    fn labels_follow_the_qualified_name_rules() {
        let ok = serde_json::json!({"metadata": {"labels": {"app.kubernetes.io/name": "web_1", "empty": ""}}});
        assert!(validate_labels(&ok).is_empty());
        let bad =
            serde_json::json!({"metadata": {"labels": {"-bad": "x", "good": "no spaces", "n": 1}}});
        assert_eq!(validate_labels(&bad).len(), 3);
    }
}
