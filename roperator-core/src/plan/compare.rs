//! Has a live child drifted from what the engine writes? Answered from the live object alone
//! (its values and the field ownership the API server records in `managedFields`), so that a
//! restarted operator or a new leader answers as the one that wrote the child did.
//!
//! Every field of the expected object must be in the live object. Fields only the live object
//! has (the API server's defaults and allocations, other controllers' labels, `status`) are
//! not drift. Where a value differs:
//! - numbers are compared by value (`1` and `1.0`), and the resource quantities of built-in
//!   types by value too (`"0.5"` is stored as `"500m"`; see [`quantity`](super::quantity));
//! - a field absent from the live object is drift, except a zero value (`""`, `0`, `false`,
//!   `{}`, `[]`) of a built-in type or of `metadata`, which the API server does not store;
//! - a list with fewer items is drift (someone removed one);
//! - any other difference (a different value, a list with more items) is drift only if another
//!   field manager owns that field: an update by anyone else takes the ownership of the fields
//!   it changes, so a difference nobody else owns is the API server's own rewrite of our last
//!   write (a defaulting step, an admission plugin or a mutating webhook), which writing again
//!   would only see rewritten again.

use serde_json::{Map, Value};

use super::quantity;
use crate::object::{Observed, OwnedFields};

/// One step of a path in an object: a member of an object, or an item of a list.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Step<'a> {
    Member(&'a str),
    Item(usize),
}

/// `true` when `live` no longer holds `expected` (see the module documentation).
pub(crate) fn drifted(api_version: &str, expected: &Value, live: &Observed) -> bool {
    let walk = Walk {
        built_in: is_built_in(api_version),
        foreign: live.foreign_fields(),
        live: &live.json,
    };
    walk.differs(expected, &live.json, &mut Vec::new())
}

/// Built-in API groups: the core group and the groups Kubernetes defines (no dot, or under
/// `k8s.io`). Their objects are Go structs on the server, where zero values are left out.
fn is_built_in(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

struct Walk<'a> {
    built_in: bool,
    foreign: &'a [OwnedFields],
    live: &'a Value,
}

impl Walk<'_> {
    fn differs<'e>(&self, expected: &'e Value, live: &Value, path: &mut Vec<Step<'e>>) -> bool {
        match (expected, live) {
            (Value::Object(e), Value::Object(l)) => e.iter().any(|(key, ev)| {
                path.push(Step::Member(key));
                let differs = match l.get(key) {
                    Some(lv) => self.differs(ev, lv, path),
                    None => !(ev.is_null() || self.may_be_left_out(path) && is_zero(ev)),
                };
                path.pop();
                differs
            }),
            (Value::Array(e), Value::Array(l)) => {
                if l.len() < e.len() || l.len() > e.len() && self.owned_by_others(path) {
                    return true;
                }
                e.iter().zip(l).enumerate().any(|(i, (ev, lv))| {
                    path.push(Step::Item(i));
                    let differs = self.differs(ev, lv, path);
                    path.pop();
                    differs
                })
            }
            (Value::Number(e), Value::Number(l)) if e == l || e.as_f64() == l.as_f64() => false,
            (Value::String(e), Value::String(l))
                if e == l || self.built_in && is_quantity(path) && quantity::same_value(e, l) =>
            {
                false
            }
            (e, l) if e == l => false,
            _ => self.owned_by_others(path),
        }
    }

    /// A zero value may be absent from the stored object: everywhere in a built-in type, and
    /// in every object's `metadata`.
    fn may_be_left_out(&self, path: &[Step<'_>]) -> bool {
        self.built_in || path.first() == Some(&Step::Member("metadata"))
    }

    fn owned_by_others(&self, path: &[Step<'_>]) -> bool {
        self.foreign
            .iter()
            .any(|owner| owns(&owner.fields, self.live, path))
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
    }
}

/// The member names along `path`, for [`quantity::is_quantity_field`].
fn is_quantity(path: &[Step<'_>]) -> bool {
    let names: Vec<&str> = path
        .iter()
        .filter_map(|s| match s {
            Step::Member(name) => Some(*name),
            Step::Item(_) => None,
        })
        .collect();
    quantity::is_quantity_field(&names)
}

/// `true` when the `FieldsV1` set `fields` holds the field at `path` of `live`, or a field
/// within it, or a whole value (an atomic list or map) that contains it.
fn owns(fields: &Value, live: &Value, path: &[Step<'_>]) -> bool {
    let Some(node) = fields.as_object() else {
        return false;
    };
    let Some((step, rest)) = path.split_first() else {
        return true;
    };
    if node.is_empty() {
        return true;
    }
    match *step {
        Step::Member(name) => node
            .get(&format!("f:{name}"))
            .is_some_and(|child| owns(child, live.get(name).unwrap_or(&Value::Null), rest)),
        Step::Item(index) => {
            let Some(item) = live.as_array().and_then(|items| items.get(index)) else {
                return false;
            };
            node.iter()
                .any(|(key, child)| designates(key, item, index) && owns(child, item, rest))
        }
    }
}

/// `true` when the `FieldsV1` key of a list item (`k:{...}` by its key fields, `v:...` by its
/// value, `i:N` by its position) designates `item`.
fn designates(key: &str, item: &Value, index: usize) -> bool {
    if let Some(keys) = key.strip_prefix("k:") {
        serde_json::from_str::<Map<String, Value>>(keys)
            .is_ok_and(|keys| keys.iter().all(|(k, v)| item.get(k) == Some(v)))
    } else if let Some(value) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(value).is_ok_and(|v| v == *item)
    } else if let Some(position) = key.strip_prefix("i:") {
        position.parse() == Ok(index)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(json: Value) -> Observed {
        Observed::from_json(json).unwrap()
    }

    fn child(spec: Value, managed_fields: Value) -> Observed {
        live(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"roperator.io/managed-by": "op"},
                         "managedFields": managed_fields},
            "spec": spec,
        }))
    }

    #[test]
    fn fields_only_the_live_object_has_are_not_drift_but_missing_ones_are() {
        let expected = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        let l = child(
            json!({"replicas": 2, "ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}),
            json!([]),
        );
        assert!(!drifted("v1", &expected, &l));
        assert!(drifted("v1", &json!({"spec": {"missing": 1}}), &l));
        assert!(!drifted("v1", &json!({"spec": {"missing": null}}), &l));
        assert!(!drifted("v1", &json!({"spec": {"replicas": 2.0}}), &l));
        // A list with an item less is drift, whoever owns what.
        assert!(drifted(
            "v1",
            &json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
            &l
        ));
    }

    #[test]
    fn zero_values_may_be_left_out_by_built_in_types_and_metadata_only() {
        let expected = json!({"metadata": {"labels": {}}, "spec": {"hostNetwork": false, "args": [], "name": ""}});
        let l = child(json!({}), json!([]));
        assert!(!drifted("apps/v1", &expected, &l));
        assert!(!drifted("networking.k8s.io/v1", &expected, &l));
        assert!(drifted("example.com/v1", &expected, &l));
        assert!(!drifted(
            "example.com/v1",
            &json!({"metadata": {"annotations": {}}}),
            &l
        ));
    }

    #[test]
    fn a_different_value_is_drift_only_when_another_manager_owns_it() {
        let expected = json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}}}});
        let spec = json!({"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "registry/app:1"}]}}});
        // Nobody else owns them: the server rewrote our write.
        let ours = child(
            spec.clone(),
            json!([{"manager": "op", "operation": "Update", "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        );
        assert!(!drifted("apps/v1", &expected, &ours));
        // An autoscaler took `spec.replicas`.
        let scaled = child(
            spec.clone(),
            json!([{"manager": "hpa", "operation": "Update", "subresource": "scale",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        );
        assert!(drifted("apps/v1", &expected, &scaled));
        // Someone edited the image: owned through the container's key.
        let edited = child(
            spec.clone(),
            json!([{"manager": "kubectl-edit", "operation": "Update",
                    "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"app\"}": {"f:image": {}}}}}}}}]),
        );
        assert!(drifted("apps/v1", &expected, &edited));
        // A key naming another container, or status alone, says nothing about ours.
        let elsewhere = child(
            spec,
            json!([{"manager": "kubectl-edit", "operation": "Update",
                    "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"sidecar\"}": {"f:image": {}}}}}}}},
                   {"manager": "kcm", "operation": "Update", "subresource": "status",
                    "fieldsV1": {"f:spec": {"f:replicas": {}}}}]),
        );
        assert!(!drifted("apps/v1", &expected, &elsewhere));
    }

    #[test]
    fn items_added_to_a_list_are_drift_only_when_another_manager_added_them() {
        let expected = json!({"spec": {"tolerations": [{"key": "a"}]}});
        let spec = json!({"tolerations": [{"key": "a"}, {"key": "b"}]});
        assert!(!drifted("v1", &expected, &child(spec.clone(), json!([]))));
        let theirs = child(
            spec,
            json!([{"manager": "other", "operation": "Apply",
                    "fieldsV1": {"f:spec": {"f:tolerations": {}}}}]),
        );
        assert!(drifted("v1", &expected, &theirs));
    }

    #[test]
    fn quantities_of_built_in_types_are_compared_by_value() {
        let expected = json!({"spec": {"containers": [{"resources": {"requests": {"cpu": "0.5"}}, "env": [{"value": "0.5"}]}]}});
        let l = child(
            json!({"containers": [{"resources": {"requests": {"cpu": "500m"}}, "env": [{"value": "0.5"}]}]}),
            json!([{"manager": "other", "operation": "Update", "fieldsV1": {"f:spec": {"f:containers": {}}}}]),
        );
        assert!(!drifted("v1", &expected, &l));
        assert!(drifted("example.com/v1", &expected, &l));
    }

    #[test]
    fn list_items_are_designated_by_key_value_or_position() {
        let item = json!({"name": "app", "port": 80});
        assert!(designates(r#"k:{"name":"app","port":80}"#, &item, 3));
        assert!(!designates(r#"k:{"name":"app","port":81}"#, &item, 3));
        assert!(designates(r#"v:"x""#, &json!("x"), 0));
        assert!(designates("i:3", &item, 3));
        assert!(!designates("i:2", &item, 3));
        assert!(!designates("f:name", &item, 3));
    }
}
