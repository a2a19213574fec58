//! Object metadata rules: timestamps, generation, strategy switches.

use serde_json::Value;

/// Now, as Kubernetes writes timestamps (RFC 3339, seconds, UTC).
pub(crate) fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Base64 (RFC 4648, padded), as Kubernetes writes `[]byte` fields.
pub(crate) fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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
/// built-ins whose spec a controller reconciles; Pods (before v1.33), ConfigMaps, Secrets,
/// Services, Namespaces, RBAC objects and the like have none on a v1.32 server).
pub(crate) fn tracks_generation(ty: &crate::registry::ResourceType) -> bool {
    matches!(ty.schema, crate::registry::TypeSchema::Custom { .. })
        || matches!(
            (ty.group.as_str(), ty.kind.as_str()),
            (
                "apps",
                "Deployment" | "ReplicaSet" | "StatefulSet" | "DaemonSet"
            ) | ("batch", "Job" | "CronJob")
                | (
                    "networking.k8s.io",
                    "Ingress" | "IngressClass" | "NetworkPolicy"
                )
                | ("policy", "PodDisruptionBudget")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
                | ("", "PodTemplate")
                | ("discovery.k8s.io", "EndpointSlice")
                | ("scheduling.k8s.io", "PriorityClass")
                | (
                    "admissionregistration.k8s.io",
                    "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"
                )
        )
}

/// The type's registry strategy `AllowUnconditionalUpdate()`: whether an update without a
/// `resourceVersion` overwrites the live object (most built-ins) or is refused with `422`
/// (custom resources, Leases and CRDs, whose strategies return false).
pub(crate) fn allows_unconditional_update(ty: &crate::registry::ResourceType) -> bool {
    !matches!(ty.schema, crate::registry::TypeSchema::Custom { .. })
        && !matches!(
            (ty.group.as_str(), ty.kind.as_str()),
            ("coordination.k8s.io", "Lease")
                | ("apiextensions.k8s.io", "CustomResourceDefinition")
                | (
                    "admissionregistration.k8s.io",
                    "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration"
                )
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
    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
    }
}
