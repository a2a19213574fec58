//! Comparing and merging JSON objects the way a three-way apply needs.

use serde_json::{Map, Value};

/// `true` when every field of `desired` is present in `live` with the same value.
///
/// Objects may have extra fields in `live` (set by the API server or by others); arrays must
/// have the same length, element by element under the same rule, so that defaults the server
/// fills into list items (a container's `terminationMessagePath`, a port's `protocol`) are not
/// drift while an added or removed item is. An empty object or list the live object lacks is
/// the same as absent: the API server does not store what Go's encoder leaves out (`data: {}`,
/// `hard: {}`, an empty optional list).
pub(crate) fn is_subset(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => is_subset(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Array(d), Value::Array(l)) => {
            d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| is_subset(dv, lv))
        }
        (Value::Number(d), Value::Number(l)) => d == l || d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

/// `null`, `{}` or `[]`.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The object to write so that `live` ends up with exactly `desired`: starts from `live` (so
/// fields others set are kept), removes the fields that were in `last` (what we applied last
/// time) but are no longer in `desired`, and sets every field of `desired`. Arrays are replaced
/// as a whole.
pub(crate) fn merge3(live: &Value, last: Option<&Value>, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => {
            let last = last.and_then(Value::as_object);
            let mut out: Map<String, Value> = l.clone();
            if let Some(last) = last {
                for k in last.keys() {
                    if !d.contains_key(k) {
                        out.remove(k);
                    }
                }
            }
            for (k, dv) in d {
                let merged = match l.get(k) {
                    Some(lv) => merge3(lv, last.and_then(|m| m.get(k)), dv),
                    None => dv.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        _ => desired.clone(),
    }
}

/// Removes `null` members from objects, recursively: for a desired object, `null` means
/// "not set", and keeping it would make the live object (where it is absent) look different.
pub(crate) fn strip_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn subset_ignores_fields_others_set_but_not_changed_values() {
        let desired = json!({"spec": {"replicas": 2, "ports": [{"port": 80}]}});
        let live = json!({"spec": {"replicas": 2, "ports": [{"port": 80, "protocol": "TCP"}], "clusterIP": "10.0.0.1"}, "status": {}});
        assert!(is_subset(&desired, &live));
        assert!(!is_subset(&json!({"spec": {"replicas": 3}}), &live));
        assert!(!is_subset(&json!({"spec": {"ports": []}}), &live));
        assert!(!is_subset(
            &json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
            &live
        ));
        assert!(!is_subset(&json!({"spec": {"missing": 1}}), &live));
        assert!(is_subset(&json!({"spec": {"missing": null}}), &live));
        // What the API server does not store: empty maps and lists.
        assert!(is_subset(
            &json!({"spec": {"missing": {}, "none": []}}),
            &live
        ));
        assert!(!is_subset(&json!({"spec": {"ports": []}}), &live));
        assert!(is_subset(&json!({"a": 1}), &json!({"a": 1.0})));
        assert!(!is_subset(&json!({"a": "1"}), &json!({"a": 1})));
    }

    #[test]
    fn merge_removes_what_we_dropped_and_keeps_what_others_set() {
        let live = json!({
            "metadata": {"name": "x", "resourceVersion": "5", "labels": {"a": "1", "b": "2", "theirs": "t"}},
            "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80, "protocol": "TCP"}], "old": true}
        });
        let last = json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}], "old": true}});
        let desired = json!({"metadata": {"name": "x", "labels": {"a": "9"}}, "spec": {"ports": [{"port": 81}]}});
        let merged = merge3(&live, Some(&last), &desired);
        assert_eq!(
            merged,
            json!({
                "metadata": {"name": "x", "resourceVersion": "5", "labels": {"a": "9", "theirs": "t"}},
                "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 81}]}
            })
        );
        // Without a record of what we applied, nothing can be safely removed.
        let merged = merge3(&live, None, &desired);
        assert_eq!(merged["spec"]["old"], json!(true));
        assert_eq!(merged["metadata"]["labels"]["b"], json!("2"));
    }

    #[test]
    fn nulls_are_stripped_everywhere() {
        let mut v = json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]});
        strip_nulls(&mut v);
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}]}));
    }
}
