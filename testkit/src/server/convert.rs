//! Conversion between API versions that share one storage.
//!
//! On a real server, core `v1` Events and `events.k8s.io/v1` Events are one resource (one etcd
//! prefix) served at two API versions: an event a kube-rs `Recorder` writes through
//! events.k8s.io/v1 is what `kubectl get events` lists through core v1. The server converts
//! between the two shapes on every read, write and watch event
//! (`pkg/apis/events/v1/conversion.go`). Here objects are stored in the bucket's primary shape
//! (core v1 for Events) and converted at the edges: bodies on the way in, objects on the way out.
//!
//! Custom resources served at several versions share a bucket too; their "conversion" only
//! rewrites `apiVersion` (no conversion webhooks).

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::registry::ResourceType;

/// Which group a type is stored under when another group's type owns its storage.
///
/// `events.k8s.io` Events live in the core `events` resource, as upstream's storage does.
pub(crate) fn storage_group<'a>(group: &'a str, plural: &str) -> &'a str {
    match (group, plural) {
        ("events.k8s.io", "events") => "",
        _ => group,
    }
}

/// Field renames from the served shape to the stored shape, per (group, kind) of the served
/// type; the reverse renames go the other way. Every other field (`type`, `reason`, `action`,
/// `eventTime`, `series`, `related`, `reportingInstance`, metadata) has the same name in both.
fn renames(group: &str, kind: &str) -> &'static [(&'static str, &'static str)] {
    match (group, kind) {
        // Convert_v1_Event_To_core_Event and its generated auto-conversion: `reportingController`
        // is the core type's `ReportingController` field, serialized as `reportingComponent`.
        ("events.k8s.io", "Event") => &[
            ("note", "message"),
            ("regarding", "involvedObject"),
            ("deprecatedSource", "source"),
            ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"),
            ("deprecatedCount", "count"),
            ("reportingController", "reportingComponent"),
        ],
        _ => &[],
    }
}

fn rename_fields(o: &mut Map<String, Value>, pairs: &[(&str, &str)], reverse: bool) {
    // Taken out first, then put back, so that a pair of fields swapping names cannot collide.
    let moved: Vec<(&str, Value)> = pairs
        .iter()
        .filter_map(|(a, b)| {
            let (from, to) = if reverse { (*b, *a) } else { (*a, *b) };
            o.remove(from).map(|v| (to, v))
        })
        .collect();
    for (to, v) in moved {
        o.insert(to.to_string(), v);
    }
}

/// Turns a body written at `served` (a type of `primary`'s bucket) into the stored shape.
pub(crate) fn to_storage(primary: &ResourceType, served: &ResourceType, v: &mut Value) {
    if served.group == primary.group {
        return;
    }
    if let Some(o) = v.as_object_mut() {
        rename_fields(o, renames(&served.group, &served.kind), false);
        o.insert("apiVersion".into(), json!(primary.api_version()));
    }
}

/// Turns a stored object into the shape of `served`.
pub(crate) fn from_storage(served: &ResourceType, v: &mut Value) {
    let want = served.api_version();
    let Some(o) = v.as_object_mut() else {
        return;
    };
    if o.get("apiVersion").and_then(Value::as_str) == Some(want.as_str()) {
        return;
    }
    rename_fields(o, renames(&served.group, &served.kind), true);
    o.insert("apiVersion".into(), json!(want));
}

/// A stored object's bytes as `served` shows them (the same buffer when nothing changes).
pub(crate) fn serve_bytes(served: &ResourceType, json: &Bytes) -> Bytes {
    let want = served.api_version();
    match serde_json::from_slice::<Value>(json) {
        Ok(mut v) if v.get("apiVersion").and_then(Value::as_str) != Some(want.as_str()) => {
            from_storage(served, &mut v);
            Bytes::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        _ => json.clone(),
    }
}

/// The stored form of a field-selector label, as upstream's field label conversion functions
/// map them; `None` when the served type does not select by it.
pub(crate) fn field_label(group: &str, kind: &str, label: &str) -> Option<String> {
    match (group, kind) {
        // AddFieldLabelConversionsForEvent in pkg/apis/events/v1.
        ("events.k8s.io", "Event") => match label {
            "reason" | "source" | "type" | "metadata.namespace" | "metadata.name" => {
                Some(label.to_string())
            }
            "reportingController" => Some("reportingComponent".into()),
            _ => label
                .strip_prefix("regarding.")
                .filter(|f| {
                    matches!(
                        *f,
                        "kind"
                            | "namespace"
                            | "name"
                            | "uid"
                            | "apiVersion"
                            | "resourceVersion"
                            | "fieldPath"
                    )
                })
                .map(|f| format!("involvedObject.{f}")),
        },
        _ => Some(label.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin_types;

    fn ty(group: &str, plural: &str) -> ResourceType {
        builtin_types()
            .into_iter()
            .find(|t| t.group == group && t.plural == plural)
            .expect("built-in type")
    }

    #[test]
    fn events_round_trip_between_the_two_versions() {
        let core = ty("", "events");
        let new = ty("events.k8s.io", "events");
        let written = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "note": "n", "regarding": {"kind": "Pod", "name": "p"}, "reason": "R",
            "reportingController": "ctl", "reportingInstance": "ctl-1", "type": "Normal",
            "deprecatedCount": 3, "series": {"count": 2, "lastObservedTime": "2024-01-01T00:00:00.000000Z"},
        });
        let mut stored = written.clone();
        to_storage(&core, &new, &mut stored);
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["message"], "n");
        assert_eq!(stored["involvedObject"]["name"], "p");
        assert_eq!(stored["reportingComponent"], "ctl");
        assert_eq!(stored["count"], 3);
        assert_eq!(stored["series"]["count"], 2);
        assert!(stored.get("note").is_none() && stored.get("regarding").is_none());
        let mut back = stored.clone();
        from_storage(&new, &mut back);
        assert_eq!(back, written);
        let mut same = stored.clone();
        from_storage(&core, &mut same);
        assert_eq!(same, stored);
    }

    #[test]
    fn events_field_labels_map_to_the_core_ones() {
        assert_eq!(
            field_label("events.k8s.io", "Event", "regarding.name").as_deref(),
            Some("involvedObject.name")
        );
        assert_eq!(
            field_label("events.k8s.io", "Event", "reportingController").as_deref(),
            Some("reportingComponent")
        );
        assert_eq!(
            field_label("events.k8s.io", "Event", "involvedObject.name"),
            None
        );
    }
}
