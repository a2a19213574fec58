use serde_json::{Value, json};

use super::*;
use crate::patch::test_types;

fn types() -> Vec<ResourceType> {
    vec![
        test_types::deployment(),
        test_types::pod(),
        test_types::config_map(),
        test_types::widget(test_types::widget_schema()),
    ]
}

fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "$ref" {
                    out.push(v.as_str().unwrap_or_default().to_string());
                } else {
                    refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| refs(i, out)),
        _ => {}
    }
}

#[test]
fn v3_index_lists_each_group_version_with_a_hash() {
    let index = v3_index(&types());
    let paths = index["paths"].as_object().expect("paths");
    let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
    assert_eq!(keys, ["api/v1", "apis/apps/v1", "apis/example.com/v1"]);
    let url = paths["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("url");
    assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
    assert_eq!(v3_index(&types()), index, "stable across calls");
}

#[test]
fn the_index_hash_changes_when_a_served_schema_changes() {
    let before = v3_index(&types());
    let mut changed = types();
    changed[3] =
        test_types::widget(json!({"type": "object", "properties": {"spec": {"type": "string"}}}));
    let after = v3_index(&changed);
    assert_ne!(
        before["paths"]["apis/example.com/v1"],
        after["paths"]["apis/example.com/v1"]
    );
    assert_eq!(
        before["paths"]["apis/apps/v1"],
        after["paths"]["apis/apps/v1"]
    );
}

#[test]
fn v3_group_version_documents_kinds_with_patch_extensions() {
    let doc = v3_group_version(&types(), "apps", "v1").expect("apps/v1 served");
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
    );
    let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
    assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
    assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
    let ports = &schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"];
    assert_eq!(
        ports["x-kubernetes-list-map-keys"],
        json!(["containerPort", "protocol"])
    );
    assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
    assert_eq!(
        schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["x-kubernetes-patch-strategy"],
        "retainKeys"
    );
    assert!(v3_group_version(&types(), "batch", "v1").is_none());
}

#[test]
fn every_reference_in_a_v3_document_resolves_inside_it() {
    for (group, version) in [("", "v1"), ("apps", "v1"), ("example.com", "v1")] {
        let doc = v3_group_version(&types(), group, version).expect("served");
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("odd ref {r}"));
            assert!(
                doc["components"]["schemas"].get(name).is_some(),
                "{group}/{version}: dangling {r}"
            );
        }
    }
}

#[test]
fn patch_operations_advertise_field_validation_for_kubectl() {
    let doc = v3_group_version(&types(), "apps", "v1").expect("apps/v1");
    let item = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
    let patch = &item["patch"];
    assert_eq!(patch["x-kubernetes-action"], "patch");
    assert_eq!(
        patch["x-kubernetes-group-version-kind"],
        json!({"group": "apps", "version": "v1", "kind": "Deployment"})
    );
    let names: Vec<&str> = patch["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(
        names.contains(&"fieldValidation")
            && names.contains(&"fieldManager")
            && names.contains(&"force")
    );
    assert!(
        patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_some()
    );
    assert_eq!(item["get"]["operationId"], "readAppsV1NamespacedDeployment");
    assert!(
        doc["paths"].get("/apis/apps/v1/deployments").is_some(),
        "list across namespaces"
    );
    let status = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"];
    assert_eq!(
        status["patch"]["operationId"],
        "patchAppsV1NamespacedDeploymentStatus"
    );
    let core = v3_group_version(&types(), "", "v1").expect("v1");
    assert!(
        core["paths"]
            .get("/api/v1/namespaces/{namespace}/configmaps/{name}")
            .is_some()
    );
    assert!(
        core["paths"]
            .get("/api/v1/namespaces/{namespace}/configmaps/{name}/status")
            .is_none()
    );
}

#[test]
fn custom_kinds_publish_their_crd_schema_with_object_meta() {
    let doc = v3_group_version(&types(), "example.com", "v1").expect("example.com/v1");
    let widget = &doc["components"]["schemas"]["com.example.v1.Widget"];
    assert_eq!(widget["properties"]["spec"]["required"], json!(["size"]));
    assert_eq!(
        widget["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );
    assert_eq!(
        widget["x-kubernetes-group-version-kind"],
        json!([{"group": "example.com", "version": "v1", "kind": "Widget"}])
    );
    let patch =
        &doc["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"];
    assert!(
        patch["requestBody"]["content"]
            .get("application/strategic-merge-patch+json")
            .is_none()
    );
    assert!(
        patch["requestBody"]["content"]
            .get("application/apply-patch+yaml")
            .is_some()
    );
    assert!(
        doc["paths"]
            .get("/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/status")
            .is_some()
    );
}

#[test]
fn v2_uses_definitions_references_only() {
    let doc = v2_document(&types());
    assert_eq!(doc["swagger"], "2.0");
    let definitions = doc["definitions"].as_object().expect("definitions");
    for name in [
        "io.k8s.api.apps.v1.Deployment",
        "io.k8s.api.core.v1.Pod",
        "io.k8s.api.core.v1.ConfigMap",
        "com.example.v1.Widget",
    ] {
        assert!(
            definitions[name]["x-kubernetes-group-version-kind"].is_array(),
            "{name}"
        );
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    for r in found {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("v3-style ref {r} in v2"));
        assert!(definitions.contains_key(name), "dangling {r}");
    }
    let bytes = v2_document_json(&types());
    let reparsed: Value = serde_json::from_slice(&bytes).expect("valid JSON");
    assert_eq!(reparsed, doc);
    let patch = &doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"];
    assert!(
        patch["parameters"]
            .as_array()
            .expect("params")
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["type"] == "string")
    );
}

#[test]
fn every_built_in_type_generates_and_every_table_row_names_a_real_field() {
    let types = crate::registry::builtin_types();
    let catalog = Catalog::for_types(&types);
    for t in &types {
        assert!(catalog.root(t).is_some(), "{} has a schema", t.kind);
    }
    let mut checked = 0;
    for (def, field, _) in list_types::LIST_TYPES {
        if let Some(definition) = catalog.definitions.get(*def) {
            assert!(
                definition["properties"].get(*field).is_some(),
                "{def} has no property {field}"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} rows checked");
    let doc = v3_group_version(&types, "", "v1").expect("core/v1");
    assert!(doc["components"]["schemas"]["io.k8s.api.core.v1.Pod"].is_object());
}

#[test]
fn unknown_fields_are_found_in_built_in_and_custom_objects() {
    let deployment = test_types::deployment();
    let object = json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"any": "label"}, "bogus": 1},
    "spec": {"replicas": 1, "template": {"spec": {"containers": [
        {"name": "a", "image": "x", "imagee": "typo", "resources": {"limits": {"cpu": "1"}}}
    ]}}}});
    assert_eq!(
        unknown_fields(&deployment, &object),
        ["metadata.bogus", "spec.template.spec.containers[0].imagee"]
    );
    let widget = test_types::widget(test_types::widget_schema());
    let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "x": 1},
        "spec": {"size": 1, "sise": 2, "extra": {"free": true}, "labels": {"a": "b"},
                 "ports": [{"name": "p", "prot": 1}]},
        "stray": true});
    assert_eq!(
        unknown_fields(&widget, &object),
        ["spec.ports[0].prot", "spec.sise", "stray"]
    );
    assert!(unknown_fields(&test_types::widget(Value::Null), &object).is_empty());
}

#[test]
fn unknown_fields_of_built_ins_can_be_pruned() {
    let deployment = test_types::deployment();
    let mut object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 1, "replica": 2, "template": {"spec": {"containers": [{"name": "a", "imagee": "x"}]}}}});
    let removed = prune_unknown_fields(&deployment, &mut object);
    assert_eq!(
        removed,
        ["spec.replica", "spec.template.spec.containers[0].imagee"]
    );
    assert_eq!(
        object["spec"],
        json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "a"}]}}})
    );
}
