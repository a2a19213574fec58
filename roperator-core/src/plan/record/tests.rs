use serde_json::json;

use super::*;

#[test]
fn the_digest_ignores_member_order_but_not_values() {
    let a: Value = serde_json::from_str(r#"{"a": 1, "b": {"c": "x", "d": [1, 2]}}"#).unwrap();
    let b: Value = serde_json::from_str(r#"{"b": {"d": [1, 2], "c": "x"}, "a": 1}"#).unwrap();
    assert_eq!(digest(&a), digest(&b));
    for other in [
        json!({"a": 1, "b": {"c": "x", "d": [2, 1]}}),
        json!({"a": "1", "b": {"c": "x", "d": [1, 2]}}),
        json!({"a": 1, "b": {"c": "x", "d": [1, 2], "e": null}}),
        json!({"a": 1, "b": {"c": "x"}}),
    ] {
        assert_ne!(digest(&a), digest(&other), "{other}");
    }
    assert!(digest(&a).starts_with("sha256:"));
}

#[test]
fn the_paths_stop_at_values_and_lists_and_leave_the_identity_out() {
    let written = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [{"name": "app"}], "volumes": []}},
                 "strategy": {}}
    });
    let fields = Fields::of(&written);
    assert_eq!(
        serde_json::to_value(&fields).unwrap(),
        json!({"metadata": {"labels": {"app": 1}},
               "spec": {"replicas": 1, "strategy": {}, "template": {"spec": {"containers": 1, "volumes": 1}}}})
    );
    let back: Fields = serde_json::from_value(serde_json::to_value(&fields).unwrap()).unwrap();
    assert_eq!(back, fields);
}

#[test]
fn past_the_budget_the_widest_objects_are_recorded_as_a_whole() {
    let keys: serde_json::Map<String, Value> = (0..500)
        .map(|i| (format!("a-rather-long-key-{i:04}"), json!("v")))
        .collect();
    let labels: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("label-{i}"), json!("v")))
        .collect();
    let written =
        json!({"metadata": {"labels": labels}, "data": keys, "binaryData": {"b": "aGk="}});
    let fields = Fields::of(&written).within(FIELDS_BUDGET);
    assert!(fields.size() <= FIELDS_BUDGET);
    assert_eq!(fields.size(), serde_json::to_string(&fields).unwrap().len());
    assert!(fields.member("data").unwrap().is_whole());
    // The rest keeps its detail.
    assert_eq!(
        fields
            .member("metadata")
            .unwrap()
            .member("labels")
            .unwrap()
            .members()
            .count(),
        20
    );
    assert!(!fields.member("binaryData").unwrap().is_whole());
    // `metadata` itself is never recorded as a whole, however small the budget.
    let tiny = Fields::of(&written).within(10);
    assert!(!tiny.member("metadata").unwrap().is_whole());
    assert!(
        tiny.member("metadata")
            .unwrap()
            .member("labels")
            .unwrap()
            .is_whole()
    );
}

#[test]
fn a_secrets_values_are_nowhere_in_its_record() {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                        "data": {"token": "c2VjcmV0LXZhbHVl"}, "type": "Opaque"});
    let record = |v: &Value| Record::new(digest(v), v);
    let text = record(&secret).text();
    assert!(!text.contains("c2VjcmV0"), "{text}");
    assert!(text.contains("\"token\":1"), "{text}");
    let other = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                       "data": {"token": "b3RoZXI="}, "type": "Opaque"});
    assert_ne!(record(&secret).digest, record(&other).digest);
    assert_eq!(record(&secret), record(&secret.clone()));
}
