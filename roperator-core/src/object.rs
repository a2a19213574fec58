//! [`Observed`]: a Kubernetes object as the engine saw it, with the metadata it looks at often
//! pulled out once. Parents, children and related objects reach the handler as `Observed`.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::k8s_type::K8sType;
use crate::names::{LEADER_TERM_ANNOTATION, MANAGED_BY_LABEL, PARENT_UID_LABEL};

/// One object read from the API server (or, in tests of a handler, built by hand): the parent
/// of a sync, one of its children or one of its related objects.
///
/// ```
/// use roperator_core::prelude::*;
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use serde_json::json;
///
/// # fn main() -> Result<(), Error> {
/// let request = SyncRequest::new(&json!({
///     "apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": { "name": "settings", "namespace": "default", "labels": { "app": "web" } },
///     "data": { "level": "debug" }
/// }))?;
/// let parent: &Observed = request.parent();
/// assert_eq!(parent.name(), "settings");
/// assert_eq!(parent.label("app"), Some("web"));
/// assert_eq!(parent.json()["data"]["level"], "debug");
/// let typed: ConfigMap = parent.parse()?;
/// assert_eq!(typed.data.unwrap()["level"], "debug");
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub(crate) json: Value,
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) namespace: Option<String>,
    pub(crate) uid: String,
    pub(crate) resource_version: String,
    pub(crate) generation: Option<i64>,
    pub(crate) deleting: bool,
    /// The parent this object is a child of: set only when the parent-uid label and the
    /// controller ownerReference agree, so a hand-edited label cannot move a child.
    pub(crate) parent_uid: Option<String>,
    pub(crate) leader_term: Option<u64>,
    /// What the engine keeps of `metadata.managedFields` (`None` when nothing): the rest is
    /// dropped, as on a real API server it is often the largest part of an object.
    pub(crate) managed: Option<Arc<Managed>>,
}

/// The part of `metadata.managedFields` the engine reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Managed {
    /// The labels and annotations each field manager owns through server-side apply: what a
    /// decorator set on the objects it decorates, so that it can tell which of them it must
    /// remove.
    pub applied_metadata: Vec<AppliedMetadata>,
    /// On a child (an object with the managed-by label): the fields each *other* field manager
    /// owns, status aside. A field of the handler's answer whose live value differs is drift
    /// only if someone else owns it; otherwise the API server itself rewrote our write (a
    /// canonical quantity, a default, a mutating webhook), and writing again would only be
    /// rewritten again.
    pub foreign: Vec<OwnedFields>,
    /// On a child: the managed-by controller owns fields through create or update requests
    /// (rather than server-side apply); the apply policy moves them to its apply entry first,
    /// or they would never be released.
    pub ours_by_update: bool,
}

/// The fields one field manager owns, in the API server's `FieldsV1` form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnedFields {
    pub manager: String,
    pub fields: Value,
}

/// The metadata keys one field manager owns through server-side apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct AppliedMetadata {
    pub manager: String,
    pub labels: Vec<String>,
    pub annotations: Vec<String>,
}

impl Observed {
    /// Pulls the metadata out of `json`. Fails only when the object has no name.
    ///
    /// `metadata.managedFields` is dropped: the engine never reads it, and on a real API server
    /// it is often the largest part of an object.
    pub(crate) fn from_json(mut json: Value) -> Result<Self, String> {
        let managed_fields = match json.get_mut("metadata") {
            Some(Value::Object(meta)) => meta.remove("managedFields"),
            _ => None,
        };
        let managed = managed_fields.and_then(|m| {
            let ours = json
                .pointer("/metadata/labels")
                .and_then(|l| l.get(MANAGED_BY_LABEL))
                .and_then(Value::as_str);
            summarize(&m, ours).map(Arc::new)
        });
        let text = |ptr: &str| {
            json.pointer(ptr)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name =
            text("/metadata/name").ok_or_else(|| "object has no metadata.name".to_string())?;
        let label_parent = json
            .pointer("/metadata/labels")
            .and_then(|labels| labels.get(PARENT_UID_LABEL))
            .and_then(Value::as_str);
        let parent_uid = match (label_parent, controller_uid(&json)) {
            (Some(label), Some(owner)) if label == owner => Some(label.to_string()),
            _ => None,
        };
        let leader_term = json
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(LEADER_TERM_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|t| t.parse().ok());
        Ok(Self {
            api_version: text("/apiVersion").unwrap_or_default(),
            kind: text("/kind").unwrap_or_default(),
            namespace: text("/metadata/namespace").filter(|ns| !ns.is_empty()),
            uid: text("/metadata/uid").unwrap_or_default(),
            resource_version: text("/metadata/resourceVersion").unwrap_or_default(),
            generation: json.pointer("/metadata/generation").and_then(Value::as_i64),
            deleting: json
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null()),
            parent_uid,
            leader_term,
            managed,
            name,
            json,
        })
    }

    /// The one conversion from what a watch or a write returned: list responses may leave
    /// `apiVersion` and `kind` out of their items, so they are set from the type watched.
    pub(crate) fn from_dynamic(obj: &kube::api::DynamicObject, t: &K8sType) -> Option<Self> {
        let mut json = serde_json::to_value(obj).ok()?;
        let map = json.as_object_mut()?;
        map.insert("apiVersion".into(), Value::String(t.api_version.into()));
        map.insert("kind".into(), Value::String(t.kind.into()));
        Self::from_json(json).ok()
    }

    /// The object as JSON, as the API server returned it (without `metadata.managedFields`).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The object deserialized into `T` (a k8s-openapi type, your `#[derive(CustomResource)]`
    /// type, or any `Deserialize` shape). An object that does not fit gives an
    /// [`Error::Deserialize`] naming the object and the field; returned from the handler, it
    /// fails the sync without touching any child.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&self.json).map_err(|source| Error::Deserialize {
            what: format!("{} {}", self.kind, self.display_name()),
            rust_type: std::any::type_name::<T>(),
            source,
        })
    }

    /// `apiVersion`, e.g. `"apps/v1"`.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }

    /// `kind`, e.g. `"Deployment"`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `metadata.namespace` (`None` for a cluster-scoped object).
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// `metadata.uid` (empty for a hand-built object without one).
    pub fn uid(&self) -> &str {
        &self.uid
    }

    /// `metadata.generation`, which the API server bumps on every change of the spec.
    pub fn generation(&self) -> Option<i64> {
        self.generation
    }

    /// `true` once the object has a `deletionTimestamp`.
    pub fn is_being_deleted(&self) -> bool {
        self.deleting
    }

    /// The value of label `key`, if set.
    pub fn label(&self, key: &str) -> Option<&str> {
        self.json
            .pointer("/metadata/labels")
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
    }

    /// The value of annotation `key`, if set.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.json
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
    }

    /// `true` when this object is of type `t`.
    pub fn is(&self, t: K8sType) -> bool {
        t.matches(&self.api_version, &self.kind)
    }

    /// `namespace/name`, or just `name` for cluster-scoped objects.
    pub(crate) fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The finalizers currently on the object.
    pub(crate) fn finalizers(&self) -> Vec<&str> {
        self.json
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The labels and annotations each field manager owns through server-side apply.
    pub(crate) fn applied_metadata(&self) -> &[AppliedMetadata] {
        self.managed
            .as_deref()
            .map_or(&[], |m| m.applied_metadata.as_slice())
    }

    /// The fields other field managers own on this child (see [`Managed::foreign`]).
    pub(crate) fn foreign_fields(&self) -> &[OwnedFields] {
        self.managed
            .as_deref()
            .map_or(&[], |m| m.foreign.as_slice())
    }

    /// See [`Managed::ours_by_update`].
    pub(crate) fn owned_by_updates(&self) -> bool {
        self.managed.as_deref().is_some_and(|m| m.ours_by_update)
    }

    /// The object's `status`, if any.
    pub(crate) fn status(&self) -> Option<&Value> {
        self.json.get("status").filter(|s| !s.is_null())
    }
}

/// What the engine keeps of `managedFields`; `ours` is the managed-by label of a child (`None`
/// for other objects, whose field ownership the engine never needs). `None` when nothing.
fn summarize(managed_fields: &Value, ours: Option<&str>) -> Option<Managed> {
    let entries = managed_fields.as_array()?;
    let mut managed = Managed {
        applied_metadata: applied_metadata(managed_fields),
        ..Managed::default()
    };
    if let Some(ours) = ours {
        for entry in entries {
            let manager = entry["manager"].as_str().unwrap_or_default();
            let subresource = entry["subresource"].as_str().unwrap_or_default();
            if subresource == "status" {
                continue;
            }
            if manager == ours {
                managed.ours_by_update |= entry["operation"] == "Update" && subresource.is_empty();
            } else if let Some(fields) = entry.get("fieldsV1").filter(|f| f.is_object()) {
                managed.foreign.push(OwnedFields {
                    manager: manager.to_string(),
                    fields: fields.clone(),
                });
            }
        }
    }
    (managed != Managed::default()).then_some(managed)
}

/// A hash of a JSON value that does not depend on the order of object members (which differs
/// between what a client sends and what the API server answers).
pub(crate) fn content_hash(value: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn feed(value: &Value, h: &mut impl Hasher) {
        match value {
            Value::Null => 0u8.hash(h),
            Value::Bool(b) => (1u8, b).hash(h),
            Value::Number(n) => (2u8, n.to_string()).hash(h),
            Value::String(s) => (3u8, s).hash(h),
            Value::Array(items) => {
                (4u8, items.len()).hash(h);
                items.iter().for_each(|v| feed(v, h));
            }
            Value::Object(map) => {
                (5u8, map.len()).hash(h);
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    k.hash(h);
                    feed(&map[k], h);
                }
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    feed(value, &mut h);
    h.finish()
}

/// The label and annotation keys of each `Apply` entry of `managedFields`.
fn applied_metadata(managed_fields: &Value) -> Vec<AppliedMetadata> {
    let keys = |fields: &Value, set: &str| -> Vec<String> {
        fields
            .pointer(&format!("/f:metadata/f:{set}"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.strip_prefix("f:").map(str::to_string))
            .collect()
    };
    managed_fields
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["operation"] == "Apply")
        .filter_map(|entry| {
            let fields = entry.get("fieldsV1")?;
            let owned = AppliedMetadata {
                manager: entry["manager"].as_str()?.to_string(),
                labels: keys(fields, "labels"),
                annotations: keys(fields, "annotations"),
            };
            (!owned.labels.is_empty() || !owned.annotations.is_empty()).then_some(owned)
        })
        .collect()
}

/// The UID named by the object's controller owner reference, if it has one.
pub(crate) fn controller_uid(json: &Value) -> Option<&str> {
    controller_reference(json)?
        .get("uid")
        .and_then(Value::as_str)
}

/// The object's controller owner reference, if it has one.
pub(crate) fn controller_reference(json: &Value) -> Option<&Value> {
    json.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
}

/// Objects of one type among many, in the order given.
pub(crate) fn of_type(
    objects: &[Arc<Observed>],
    t: K8sType,
) -> impl Iterator<Item = &Observed> + '_ {
    objects.iter().filter(move |o| o.is(t)).map(AsRef::as_ref)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parent_uid_needs_label_and_controller_reference_to_agree() {
        let child = |label: &str, owner: &str| {
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {
                    "name": "c", "namespace": "ns", "uid": "u1", "resourceVersion": "7",
                    "labels": { PARENT_UID_LABEL: label },
                    "ownerReferences": [{ "apiVersion": "x/v1", "kind": "P", "name": "p", "uid": owner, "controller": true }],
                    "annotations": { LEADER_TERM_ANNOTATION: "12" },
                    "deletionTimestamp": "2024-01-01T00:00:00Z"
                }
            })
        };
        let agreed = Observed::from_json(child("p1", "p1")).unwrap();
        assert_eq!(agreed.parent_uid.as_deref(), Some("p1"));
        assert_eq!(agreed.leader_term, Some(12));
        assert!(agreed.is_being_deleted());
        assert_eq!(agreed.display_name(), "ns/c");
        let disagreed = Observed::from_json(child("p1", "p2")).unwrap();
        assert_eq!(disagreed.parent_uid, None);
    }

    #[test]
    fn an_object_without_a_name_is_refused() {
        assert!(Observed::from_json(json!({"metadata": {}})).is_err());
    }

    #[test]
    fn a_dynamic_object_gets_the_watched_type() {
        let obj: kube::api::DynamicObject =
            serde_json::from_value(json!({"metadata": {"name": "x"}})).unwrap();
        let o = Observed::from_dynamic(&obj, &crate::k8s_types::core::v1::ConfigMap).unwrap();
        assert!(o.is(crate::k8s_types::core::v1::ConfigMap));
    }
}
