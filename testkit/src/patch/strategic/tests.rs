use serde_json::{Value, json};

use crate::patch::test_types;
use crate::patch::{PatchContext, PatchError, PatchType, apply};
use crate::registry::ResourceType;

fn smp(resource: &ResourceType, live: &Value, patch: Value) -> Result<Value, PatchError> {
    let ctx = PatchContext {
        resource,
        field_manager: None,
        force: false,
        subresource: None,
    };
    let body = serde_json::to_vec(&patch).expect("patch serializes");
    apply(PatchType::StrategicMerge, Some(live), &body, &ctx)
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "finalizers": ["a.example.com/x"]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": "nginx:1",
                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                         "ports": [{"containerPort": 80, "protocol": "TCP"}],
                         "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
                        {"name": "sidecar", "image": "busybox"}
                    ],
                    "tolerations": [{"key": "a", "operator": "Exists"}],
                    "volumes": [{"name": "data", "emptyDir": {}}]
                }
            }
        }
    })
}

fn containers(doc: &Value) -> &Vec<Value> {
    doc["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers")
}

#[test]
fn container_image_edit_merges_by_name_and_keeps_other_containers() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}}),
    )
    .expect("patch applies");
    let containers = containers(&out);
    assert_eq!(containers.len(), 2);
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(
        containers[0]["env"].as_array().map(Vec::len),
        Some(2),
        "env kept"
    );
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(out["spec"]["replicas"], 2);
}

#[test]
fn env_merges_by_name_adding_and_changing() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]}
        ]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        containers(&out)[0]["env"],
        json!([{"name": "A", "value": "1"}, {"name": "B", "value": "two"}, {"name": "C", "value": "3"}])
    );
}

#[test]
fn container_ports_merge_by_container_port() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 443}]}
        ]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        containers(&out)[0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 443}])
    );
}

#[test]
fn patch_delete_directive_removes_one_container_and_one_env_var() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "$patch": "delete"},
            {"name": "app", "env": [{"name": "A", "$patch": "delete"}]}
        ]}}}}),
    )
    .expect("patch applies");
    let containers = containers(&out);
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["env"], json!([{"name": "B", "value": "2"}]));
}

#[test]
fn null_deletes_a_field_and_a_label() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"metadata": {"labels": {"tier": null}}, "spec": {"replicas": null}}),
    )
    .expect("patch applies");
    assert_eq!(out["metadata"]["labels"], json!({"app": "web"}));
    assert!(out["spec"].get("replicas").is_none());
}

#[test]
fn replace_directive_on_a_list_replaces_it() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"$patch": "replace"}, {"name": "only", "image": "x"}
        ]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        containers(&out),
        &vec![json!({"name": "only", "image": "x"})]
    );
}

#[test]
fn replace_directive_on_a_map_replaces_it() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"metadata": {"labels": {"$patch": "replace", "new": "1"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["metadata"]["labels"], json!({"new": "1"}));
}

#[test]
fn lists_without_a_strategy_are_replaced() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["template"]["spec"]["tolerations"],
        json!([{"key": "b", "operator": "Exists"}])
    );
}

#[test]
fn retain_keys_clears_the_other_union_members() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn finalizers_merge_as_a_set_and_delete_from_primitive_list_removes() {
    let resource = test_types::deployment();
    let added = smp(
        &resource,
        &deployment(),
        json!({"metadata": {"finalizers": ["b.example.com/y", "a.example.com/x"]}}),
    )
    .expect("patch applies");
    // Every item the patch names comes in the patch's order.
    assert_eq!(
        added["metadata"]["finalizers"],
        json!(["b.example.com/y", "a.example.com/x"])
    );
    let removed = smp(
        &resource,
        &added,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/x"]}}),
    )
    .expect("patch applies");
    assert_eq!(
        removed["metadata"]["finalizers"],
        json!(["b.example.com/y"])
    );
}

#[test]
fn new_items_go_before_the_live_items_after_their_predecessor_as_upstream_orders_them() {
    // kubectl patch adding a sidecar next to `app`, and an env var to `app`.
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "env": [{"name": "NEW", "value": "n"}]},
            {"name": "logger", "image": "busybox"}
        ]}}}}),
    )
    .expect("patch applies");
    let names: Vec<&str> = containers(&out)
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["app", "logger", "sidecar"]);
    let env: Vec<&str> = containers(&out)[0]["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert_eq!(env, ["NEW", "A", "B"]);
    // A finalizer patched onto others goes first.
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"metadata": {"finalizers": ["c.example.com/z"]}}),
    )
    .expect("patch applies");
    assert_eq!(
        out["metadata"]["finalizers"],
        json!(["c.example.com/z", "a.example.com/x"])
    );
    // Items the live list orders keep that order between the patch's and the others.
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [
            {"name": "sidecar", "image": "busybox:2"}
        ]}}}}),
    )
    .expect("patch applies");
    let names: Vec<&str> = containers(&out)
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["app", "sidecar"]);
}

#[test]
fn set_element_order_reorders_merged_items() {
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
            "containers": [{"name": "app", "image": "nginx:3"}]
        }}}}),
    )
    .expect("patch applies");
    let containers = containers(&out);
    assert_eq!(containers[0]["name"], "sidecar");
    assert_eq!(containers[1]["image"], "nginx:3");
}

#[test]
fn service_ports_merge_by_port() {
    let live = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}});
    let out = smp(
        &test_types::service(),
        &live,
        json!({"spec": {"ports": [{"port": 443, "targetPort": 9443}]}}),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 9443}])
    );
}

#[test]
fn pod_with_inline_root_schema_merges_containers_and_conditions() {
    let live = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
        "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}});
    let out = smp(
        &test_types::pod(),
        &live,
        json!({"spec": {"containers": [{"name": "b", "image": "z"}]},
               "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    )
    .expect("patch applies");
    assert_eq!(out["spec"]["containers"][0]["image"], "x");
    assert_eq!(out["spec"]["containers"][1]["image"], "z");
    assert_eq!(
        out["status"]["conditions"][0],
        json!({"type": "Ready", "status": "True"})
    );
    assert_eq!(
        out["status"]["conditions"].as_array().map(Vec::len),
        Some(2)
    );
}

#[test]
fn data_maps_merge_key_by_key() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}});
    let out = smp(
        &test_types::config_map(),
        &live,
        json!({"data": {"b": null, "c": "3"}}),
    )
    .expect("patch applies");
    assert_eq!(out["data"], json!({"a": "1", "c": "3"}));
}

#[test]
fn an_item_without_its_merge_key_fails_as_upstream_err_no_merge_key() {
    let err = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"image": "nginx:2", "ports": [{"containerPort": 80}]}]}}}}),
    )
    .expect_err("missing merge key");
    assert_eq!(
        err,
        PatchError::Internal(
            "map: map[image:nginx:2 ports:[map[containerPort:80]]] does not contain declared merge key: name"
                .into()
        )
    );
}

#[test]
fn directives_upstream_does_not_know_fail_with_its_messages() {
    let unknown = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"$patch": "explode", "replicas": 2}}),
    );
    assert_eq!(
        unknown,
        Err(PatchError::Internal(
            "unknown patch type: explode in map: map[$patch:explode replicas:2]".into()
        ))
    );
    // `merge` is the default for maps and cannot be asked for on list items.
    let merge_map = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"$patch": "merge"}}),
    );
    assert!(
        matches!(&merge_map, Err(PatchError::Internal(m)) if m == "unknown patch type: merge in map: map[$patch:merge]"),
        "{merge_map:?}"
    );
    let merge_item = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "$patch": "merge"}]}}}}),
    );
    assert_eq!(
        merge_item,
        Err(PatchError::Internal(
            "merging lists cannot yet be specified in the patch".into()
        ))
    );
}

#[test]
fn retain_keys_must_be_a_list_holding_every_field_the_patch_sets() {
    let bad = PatchError::Malformed("invalid patch format of retainKeys".into());
    for patch in [
        json!({"spec": {"strategy": {"$retainKeys": "type", "type": "Recreate"}}}),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1}}}}),
    ] {
        assert_eq!(
            smp(&test_types::deployment(), &deployment(), patch.clone()),
            Err(bad.clone()),
            "{patch}"
        );
    }
    let out = smp(
        &test_types::deployment(),
        &deployment(),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": null}}}),
    )
    .expect("a field removed with null need not be kept");
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn custom_resources_refuse_strategic_merge_patch() {
    let resource = test_types::widget(test_types::widget_schema());
    let err = smp(
        &resource,
        &json!({"spec": {}}),
        json!({"spec": {"size": 2}}),
    )
    .expect_err("415");
    assert!(
        matches!(err, PatchError::UnsupportedMediaType(_)),
        "{err:?}"
    );
}

#[test]
fn malformed_body_is_a_bad_request() {
    let resource = test_types::deployment();
    let ctx = PatchContext {
        resource: &resource,
        field_manager: None,
        force: false,
        subresource: None,
    };
    let err = apply(
        PatchType::StrategicMerge,
        Some(&deployment()),
        b"{not json",
        &ctx,
    )
    .expect_err("400");
    assert!(matches!(err, PatchError::Malformed(_)), "{err:?}");
    let err = apply(PatchType::StrategicMerge, Some(&deployment()), b"[1]", &ctx).expect_err("400");
    assert!(matches!(err, PatchError::Malformed(_)), "{err:?}");
}
