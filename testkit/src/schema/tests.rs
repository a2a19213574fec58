use serde_json::{Value, json};

use super::*;
use crate::patch::test_types::widget_schema;

fn run(mut object: Value) -> (Value, Vec<FieldCause>) {
    let causes = match validate_and_prune(&widget_schema(), &mut object) {
        Ok(()) => Vec::new(),
        Err(causes) => causes,
    };
    (object, causes)
}

fn widget(spec: Value) -> Value {
    json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "labels": {"a": "b"}}, "spec": spec})
}

#[test]
fn unknown_fields_are_pruned_but_metadata_and_preserved_subtrees_stay() {
    let (object, causes) = run(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "anything": 1},
        "spec": {"size": 1, "bogus": true, "extra": {"free": {"form": 1}}, "labels": {"x": "y"}},
        "junk": 1,
        "status": {"ready": true, "other": 1}
    }));
    assert!(causes.is_empty(), "{causes:?}");
    assert_eq!(object["metadata"], json!({"name": "w", "anything": 1}));
    assert!(object.get("junk").is_none());
    assert!(object["spec"].get("bogus").is_none());
    assert_eq!(object["spec"]["extra"], json!({"free": {"form": 1}}));
    assert_eq!(object["spec"]["labels"], json!({"x": "y"}));
    assert_eq!(object["status"], json!({"ready": true}));
}

#[test]
fn a_wrong_type_names_the_field_like_the_api_server() {
    let (_, causes) = run(widget(json!({"size": "big"})));
    assert_eq!(
        causes,
        vec![FieldCause {
            reason: "FieldValueTypeInvalid".into(),
            message:
                "Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
                    .into(),
            field: "spec.size".into(),
        }]
    );
    let (_, causes) = run(widget(json!({"size": 1.5})));
    assert_eq!(
        causes[0].message,
        "Invalid value: \"number\": spec.size in body must be of type integer: \"number\""
    );
}

#[test]
fn missing_required_fields_are_reported() {
    let (_, causes) = run(widget(json!({"color": "blue"})));
    assert_eq!(
        causes,
        vec![FieldCause {
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
            field: "spec.size".into()
        }]
    );
}

#[test]
fn defaults_fill_missing_fields_but_not_present_ones() {
    let (object, causes) = run(widget(json!({"size": 2})));
    assert!(causes.is_empty());
    assert_eq!(object["spec"]["color"], "red");
    let (object, _) = run(widget(json!({"size": 2, "color": "blue"})));
    assert_eq!(object["spec"]["color"], "blue");
}

#[test]
fn enum_minimum_and_item_types_are_checked() {
    let (_, causes) = run(widget(
        json!({"size": 0, "color": "green", "tags": ["a", 3]}),
    ));
    let fields: Vec<(&str, &str)> = causes
        .iter()
        .map(|c| (c.field.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            ("spec.color", "FieldValueNotSupported"),
            ("spec.size", "FieldValueInvalid"),
            ("spec.tags[1]", "FieldValueTypeInvalid"),
        ]
    );
    assert_eq!(
        causes[0].message,
        "Unsupported value: \"green\": supported values: \"red\", \"blue\""
    );
    assert_eq!(
        causes[1].message,
        "Invalid value: 0: spec.size in body should be greater than or equal to 1"
    );
}

#[test]
fn list_types_reject_duplicates() {
    let (_, causes) = run(widget(
        json!({"size": 1, "tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x", "port": 2}]}),
    ));
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["spec.ports[1]", "spec.tags[1]"]);
    assert!(causes.iter().all(|c| c.reason == "FieldValueDuplicate"));
}

#[test]
fn nulls_in_non_nullable_fields_are_pruned_before_defaulting() {
    let (object, causes) = run(widget(json!({"size": 1, "color": null})));
    assert!(causes.is_empty(), "{causes:?}");
    assert_eq!(object["spec"]["color"], "red");
}

#[test]
fn int_or_string_and_embedded_resources() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": true},
        "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                     "properties": {"spec": {"type": "object"}}}
    }}}});
    let mut ok = json!({"spec": {"port": "http", "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "junk": 1}}});
    validate_and_prune(&schema, &mut ok).expect("valid");
    assert_eq!(
        ok["spec"]["template"],
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}})
    );
    let mut bad = json!({"spec": {"port": true, "template": {"metadata": {}}}});
    let causes = validate_and_prune(&schema, &mut bad).expect_err("invalid");
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "spec.port",
            "spec.template.apiVersion",
            "spec.template.kind"
        ]
    );
}

#[test]
fn a_crd_without_a_schema_accepts_anything() {
    let mut object = json!({"spec": {"anything": [1, "two"]}});
    validate_and_prune(&Value::Null, &mut object).expect("no schema, no checks");
    assert_eq!(object["spec"]["anything"], json!([1, "two"]));
}

#[test]
fn patterns_are_checked() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "name": {"type": "string", "pattern": "^[a-z]+$"}
    }}}});
    let mut ok = json!({"spec": {"name": "abc"}});
    validate_and_prune(&schema, &mut ok).expect("matches");
    let mut bad = json!({"spec": {"name": "ABC"}});
    let causes = validate_and_prune(&schema, &mut bad).expect_err("does not match");
    assert_eq!(
        causes,
        vec![FieldCause {
            reason: "FieldValueInvalid".into(),
            message: "Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'".into(),
            field: "spec.name".into(),
        }]
    );
}
