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

fn messages(schema: Value, value: Value) -> Vec<(String, String)> {
    validate(
        &json!({"type": "object", "properties": {"v": schema}}),
        &json!({"v": value}),
    )
    .into_iter()
    .map(|c| (c.field, c.message))
    .collect()
}

#[test]
fn validators_run_and_stop_in_kube_openapi_order() {
    // Strings stop at the first failure (maxLength, minLength, pattern).
    assert_eq!(
        messages(
            json!({"type": "string", "minLength": 2, "pattern": "^[a-z]+$"}),
            json!("A")
        ),
        [(
            "v".to_string(),
            "Invalid value: \"A\": v in body should be at least 2 chars long".to_string()
        )]
    );
    // Enum values that are not strings are quoted as JSON, and enum comes after the rest.
    assert_eq!(
        messages(
            json!({"type": "integer", "enum": [1, 2], "maximum": 3}),
            json!(5)
        ),
        [
            (
                "v".to_string(),
                "Invalid value: 5: v in body should be less than or equal to 3".to_string()
            ),
            (
                "v".to_string(),
                "Unsupported value: 5: supported values: \"1\", \"2\"".to_string()
            ),
        ]
    );
    // A whole float is an integer.
    assert!(messages(json!({"type": "integer"}), json!(1.0)).is_empty());
    // Missing properties are reported after the problems of present ones.
    let object = json!({"type": "object", "required": ["z"],
        "properties": {"i": {"type": "string", "enum": ["a"]}, "z": {"type": "string"}}});
    let fields: Vec<String> = messages(object, json!({"i": "b"}))
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["v.i", "v.z"]);
}

#[test]
fn list_type_duplicates_are_reported_once_per_value_in_go_notation() {
    let set =
        json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}});
    assert_eq!(
        messages(set, json!(["a", "a", "a"])),
        [("v[1]".to_string(), "Duplicate value: \"a\"".to_string())]
    );
    let map = json!({"type": "array", "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port"],
        "items": {"type": "object", "properties": {"port": {"type": "integer"}}}});
    assert_eq!(
        messages(map, json!([{"port": 1}, {"port": 1}])),
        [(
            "v[1]".to_string(),
            "Duplicate value: map[string]interface {}{\"port\":1}".to_string()
        )]
    );
}
