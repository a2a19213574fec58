//! A Kubernetes object as the engine keeps it: its JSON, with the metadata it looks at often
//! pulled out once.

use serde_json::Value;

use crate::names::{LEADER_TERM_ANNOTATION, PARENT_UID_LABEL};

/// One object from the API server (or, in tests, built by hand).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object {
    pub json: Value,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub uid: String,
    pub resource_version: String,
    pub generation: Option<i64>,
    pub deleting: bool,
    /// The parent this object is a child of: set only when the parent-uid label and the
    /// controller ownerReference agree, so a hand-edited label cannot move a child.
    pub parent_uid: Option<String>,
    pub leader_term: Option<u64>,
}

impl Object {
    /// Pulls the metadata out of `json`. Fails only when the object has no name.
    ///
    /// `metadata.managedFields` is dropped: the engine never reads it, and on a real API server
    /// it is often the largest part of an object.
    pub fn from_json(mut json: Value) -> Result<Self, String> {
        if let Some(Value::Object(meta)) = json.get_mut("metadata") {
            meta.remove("managedFields");
        }
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
        let controller_uid = json
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|refs| {
                refs.iter()
                    .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
            })
            .and_then(|r| r.get("uid"))
            .and_then(Value::as_str);
        let parent_uid = match (label_parent, controller_uid) {
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
            name,
            json,
        })
    }

    /// `namespace/name`, or just `name` for cluster-scoped objects.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// The finalizers currently on the object.
    pub fn finalizers(&self) -> Vec<&str> {
        self.json
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// The object's `status`, if any.
    pub fn status(&self) -> Option<&Value> {
        self.json.get("status").filter(|s| !s.is_null())
    }
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
        let agreed = Object::from_json(child("p1", "p1")).unwrap();
        assert_eq!(agreed.parent_uid.as_deref(), Some("p1"));
        assert_eq!(agreed.leader_term, Some(12));
        assert!(agreed.deleting);
        assert_eq!(agreed.display_name(), "ns/c");
        let disagreed = Object::from_json(child("p1", "p2")).unwrap();
        assert_eq!(disagreed.parent_uid, None);
    }

    #[test]
    fn an_object_without_a_name_is_refused() {
        assert!(Object::from_json(json!({"metadata": {}})).is_err());
    }
}
