//! Remembering what the API server made of our last write, so that values it normalizes are not
//! mistaken for drift.
//!
//! An API server may store a value in another form than the one written: resource quantities
//! are canonicalized (`cpu: "0.5"` is stored as `"500m"`, `memory: "1024Mi"` as `"1Gi"`),
//! defaulting and mutating admission webhooks may rewrite what a client sent. Comparing the
//! handler's value with the live one would then find a difference on every sync, and replacing
//! the child would only be normalized again: a hot loop of writes.
//!
//! So after each create or update of a child, the writer keeps, per child UID, a [`Written`]
//! record: a fingerprint of the content the planner compared ([`Expected`]) and the same fields
//! as the server returned them. The planner takes these records as an input: a child whose
//! desired content still has that fingerprint is converged when the live object matches either
//! the desired values or what the server made of them. A change by someone else (a value that is
//! neither) is still drift, and a new desired value has a new fingerprint and is written.
//!
//! The records live in memory only. After a restart, or on a replica that has just become
//! leader, quantities are still recognized by value (see [`quantity`](super::quantity)); a child
//! with any other value the server rewrote is written once more, and from that write on the
//! record exists and the child is left alone. Records are kept only when the server changed
//! something, so most children cost nothing.

use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

/// The content the planner compares a live child with, carried by a create or an update so
/// that the writer can record what the server made of it.
///
/// Its fingerprint is computed only when a record is made or consulted, which a converged
/// child whose values came back as sent never needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expected {
    content: Value,
}

impl Expected {
    pub fn new(content: Value) -> Self {
        Self { content }
    }

    pub fn content(&self) -> &Value {
        &self.content
    }

    /// What to remember after the server answered a write of this content with `stored`;
    /// `None` when every value came back as sent (the plain comparison then suffices).
    pub fn after_write(&self, stored: &Value) -> Option<Written> {
        if super::is_subset(&self.content, stored) {
            return None;
        }
        Some(Written {
            fingerprint: fingerprint(&self.content),
            as_stored: project(&self.content, stored),
        })
    }
}

/// What the API server made of the content we last wrote to a child.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Written {
    fingerprint: u64,
    /// The fields of the written content, with the values the server stored; `null` where the
    /// server dropped a field (so it must stay absent).
    as_stored: Value,
}

impl Written {
    /// `true` when `expected` is the content this record was written from and `live` still
    /// holds every value the server stored for it.
    pub fn explains(&self, expected: &Expected, live: &Value) -> bool {
        super::is_subset(&self.as_stored, live)
            && self.fingerprint == fingerprint(&expected.content)
    }
}

/// The fields of `shape`, with their values taken from `stored`.
fn project(shape: &Value, stored: &Value) -> Value {
    match (shape, stored) {
        (Value::Object(s), Value::Object(v)) => Value::Object(
            s.iter()
                .map(|(k, sv)| {
                    let value = v.get(k).map_or(Value::Null, |vv| project(sv, vv));
                    (k.clone(), value)
                })
                .collect::<Map<_, _>>(),
        ),
        (Value::Array(s), Value::Array(v)) if s.len() == v.len() => {
            Value::Array(s.iter().zip(v).map(|(sv, vv)| project(sv, vv)).collect())
        }
        _ => stored.clone(),
    }
}

/// A hash of `value` that does not depend on the order of object members.
fn fingerprint(value: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    hash_value(value, &mut h);
    h.finish()
}

fn hash_value(value: &Value, h: &mut impl Hasher) {
    match value {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, b).hash(h),
        Value::Number(n) => (2u8, n.to_string()).hash(h),
        Value::String(s) => (3u8, s).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|v| hash_value(v, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                k.hash(h);
                hash_value(&map[k], h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fingerprint_ignores_member_order_but_not_values() {
        let a: Value = serde_json::from_str(r#"{"a": 1, "b": {"c": "x", "d": [1, 2]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b": {"d": [1, 2], "c": "x"}, "a": 1}"#).unwrap();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(
            fingerprint(&a),
            fingerprint(&json!({"a": 1, "b": {"c": "x", "d": [2, 1]}}))
        );
        assert_ne!(
            fingerprint(&json!({"a": "1"})),
            fingerprint(&json!({"a": 1}))
        );
    }

    #[test]
    fn only_what_the_server_changed_is_worth_remembering() {
        let expected = Expected::new(json!({"spec": {"cpu": "0.5", "name": "x"}}));
        let same = json!({"spec": {"cpu": "0.5", "name": "x", "added": true}, "status": {}});
        assert_eq!(expected.after_write(&same), None);

        let normalized = json!({"spec": {"cpu": "500m", "name": "x", "added": true}});
        let written = expected.after_write(&normalized).unwrap();
        assert_eq!(
            written.as_stored,
            json!({"spec": {"cpu": "500m", "name": "x"}})
        );
        assert!(written.explains(&expected, &normalized));
        // Someone else's value is not what the server made of ours.
        assert!(!written.explains(&expected, &json!({"spec": {"cpu": "2", "name": "x"}})));
        // A different desired content is not explained by an old write.
        let other = Expected::new(json!({"spec": {"cpu": "0.6", "name": "x"}}));
        assert!(!written.explains(&other, &normalized));
    }

    #[test]
    fn a_field_the_server_dropped_must_stay_absent() {
        let expected = Expected::new(json!({"spec": {"a": "", "items": [{"x": 1}]}}));
        let stored = json!({"spec": {"items": [{"x": 1, "default": "d"}]}});
        let written = expected.after_write(&stored).unwrap();
        assert_eq!(
            written.as_stored,
            json!({"spec": {"a": null, "items": [{"x": 1}]}})
        );
        assert!(written.explains(&expected, &stored));
        assert!(!written.explains(
            &expected,
            &json!({"spec": {"a": "set", "items": [{"x": 1}]}})
        ));
    }
}
