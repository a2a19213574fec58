//! Comparing and merging JSON objects the way a three-way apply needs.

use serde_json::{Map, Value};

use super::record::Fields;

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
/// fields others set are kept), removes the fields the engine set last time (`last`, from the
/// record) that `desired` no longer has, and sets every field of `desired`. Lists are replaced
/// as a whole, and so are objects recorded as a whole. Without a record (`None`) nothing can
/// safely be removed.
pub(crate) fn merge(live: &Value, last: Option<&Fields>, desired: &Value) -> Value {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) if !last.is_some_and(Fields::is_whole) => {
            let mut out: Map<String, Value> = l.clone();
            for k in last.into_iter().flat_map(Fields::members) {
                if !d.contains_key(k) {
                    out.remove(k);
                }
            }
            for (k, dv) in d {
                let merged = match l.get(k) {
                    Some(lv) => merge(lv, last.and_then(|f| f.member(k)), dv),
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
        let last = Fields::of(
            &json!({"metadata": {"name": "x", "labels": {"a": "1", "b": "2"}}, "spec": {"ports": [{"port": 80}], "old": true}}),
        );
        let desired = json!({"metadata": {"name": "x", "labels": {"a": "9"}}, "spec": {"ports": [{"port": 81}]}});
        let merged = merge(&live, Some(&last), &desired);
        assert_eq!(
            merged,
            json!({
                "metadata": {"name": "x", "resourceVersion": "5", "labels": {"a": "9", "theirs": "t"}},
                "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 81}]}
            })
        );
        // Without a record of what we applied, nothing can be safely removed.
        let merged = merge(&live, None, &desired);
        assert_eq!(merged["spec"]["old"], json!(true));
        assert_eq!(merged["metadata"]["labels"]["b"], json!("2"));
    }

    #[test]
    fn an_object_recorded_as_a_whole_is_replaced_as_a_whole() {
        let live = json!({"data": {"a": "1", "theirs": "t"}, "other": {"x": 1}});
        let last: Fields = serde_json::from_value(json!({"data": 1, "other": {"x": 1}})).unwrap();
        let desired = json!({"data": {"b": "2"}, "other": {}});
        assert_eq!(
            merge(&live, Some(&last), &desired),
            json!({"data": {"b": "2"}, "other": {}})
        );
    }

    #[test]
    fn nulls_are_stripped_everywhere() {
        let mut v = json!({"a": null, "b": {"c": null, "d": 1}, "e": [{"f": null}]});
        strip_nulls(&mut v);
        assert_eq!(v, json!({"b": {"d": 1}, "e": [{}]}));
    }
}
