use serde_json::{Value, json};

use crate::patch::test_types;
use crate::patch::{PatchContext, PatchError, PatchType, apply, track_update};
use crate::registry::ResourceType;

fn ctx<'a>(resource: &'a ResourceType, manager: &'a str, force: bool) -> PatchContext<'a> {
    PatchContext {
        resource,
        field_manager: Some(manager),
        force,
        subresource: None,
    }
}

fn ssa(
    resource: &ResourceType,
    live: Option<&Value>,
    manager: &str,
    force: bool,
    config: &Value,
) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(config).expect("serializes");
    apply(
        PatchType::Apply,
        live,
        &body,
        &ctx(resource, manager, force),
    )
}

fn entry<'v>(object: &'v Value, manager: &str, operation: &str) -> Option<&'v Value> {
    object["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn deployment(replicas: i64, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image,
                                         "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}
            }
        }
    })
}

#[test]
fn apply_creates_the_object_and_records_ownership_in_fields_v1() {
    let resource = test_types::deployment();
    let created = ssa(&resource, None, "mgr", false, &deployment(2, "nginx:1")).expect("created");
    assert_eq!(created["spec"]["replicas"], 2);
    let managed = entry(&created, "mgr", "Apply").expect("apply entry");
    assert_eq!(managed["apiVersion"], "apps/v1");
    assert_eq!(managed["fieldsType"], "FieldsV1");
    assert!(managed["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(
        managed["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {
                            ".": {}, "f:containerPort": {}, "f:protocol": {}
                        }}
                    }}}
                }
            }
        })
    );
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let resource = test_types::deployment();
    let first = ssa(&resource, None, "mgr", false, &deployment(2, "nginx:1")).expect("created");
    let second = ssa(
        &resource,
        Some(&first),
        "mgr",
        false,
        &deployment(2, "nginx:1"),
    )
    .expect("reapplied");
    let strip = |mut v: Value| {
        v["metadata"]["managedFields"][0]["time"] = Value::Null;
        v
    };
    assert_eq!(strip(first), strip(second));
}

#[test]
fn changing_a_field_another_manager_owns_conflicts_unless_forced() {
    let resource = test_types::deployment();
    let live = ssa(&resource, None, "alice", false, &deployment(2, "nginx:1")).expect("created");
    let err = ssa(
        &resource,
        Some(&live),
        "bob",
        false,
        &deployment(3, "nginx:1"),
    )
    .expect_err("conflict");
    assert_eq!(
        err,
        PatchError::Conflicts(vec![("\"alice\"".into(), ".spec.replicas".into())])
    );
    assert_eq!(
        err.to_string(),
        "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas"
    );

    let forced = ssa(
        &resource,
        Some(&live),
        "bob",
        true,
        &deployment(3, "nginx:1"),
    )
    .expect("forced");
    assert_eq!(forced["spec"]["replicas"], 3);
    let alice = entry(&forced, "alice", "Apply").expect("alice keeps the rest");
    assert!(
        alice["fieldsV1"]["f:spec"].get("f:replicas").is_none(),
        "ownership moved"
    );
    assert!(alice["fieldsV1"]["f:spec"].get("f:selector").is_some());
    let bob = entry(&forced, "bob", "Apply").expect("bob");
    assert!(bob["fieldsV1"]["f:spec"].get("f:replicas").is_some());
}

#[test]
fn applying_the_same_value_shares_ownership() {
    let resource = test_types::deployment();
    let live = ssa(&resource, None, "alice", false, &deployment(2, "nginx:1")).expect("created");
    let shared = ssa(&resource, Some(&live), "bob", false, &json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}
    }))
    .expect("no conflict");
    for manager in ["alice", "bob"] {
        let e = entry(&shared, manager, "Apply").expect("entry");
        assert!(
            e["fieldsV1"]["f:spec"].get("f:replicas").is_some(),
            "{manager} owns replicas"
        );
    }
}

#[test]
fn fields_a_manager_stops_applying_are_removed_unless_someone_else_owns_them() {
    let resource = test_types::deployment();
    let mut config = deployment(2, "nginx:1");
    config["metadata"]["labels"] = json!({"app": "web", "tier": "front", "team": "a"});
    let live = ssa(&resource, None, "alice", false, &config).expect("created");
    // bob also sets team, to the same value: co-owned.
    let live = ssa(&resource, Some(&live), "bob", false, &json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "labels": {"team": "a"}}
    }))
    .expect("co-owned");
    let after = ssa(
        &resource,
        Some(&live),
        "alice",
        false,
        &deployment(2, "nginx:1"),
    )
    .expect("reapplied");
    assert_eq!(
        after["metadata"]["labels"],
        json!({"app": "web", "team": "a"})
    );
}

#[test]
fn a_container_dropped_from_the_configuration_is_removed() {
    let resource = test_types::deployment();
    let mut two = deployment(1, "nginx:1");
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .expect("containers")
        .push(json!({"name": "sidecar", "image": "busybox"}));
    let live = ssa(&resource, None, "mgr", false, &two).expect("created");
    let after = ssa(
        &resource,
        Some(&live),
        "mgr",
        false,
        &deployment(1, "nginx:2"),
    )
    .expect("applied");
    let containers = after["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "nginx:2");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
}

#[test]
fn a_non_apply_write_takes_ownership_so_a_later_apply_conflicts() {
    let resource = test_types::deployment();
    let live = ssa(&resource, None, "alice", false, &deployment(2, "nginx:1")).expect("created");
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(5);
    track_update(
        Some(&live),
        &mut edited,
        &ctx(&resource, "kubectl-edit", false),
    );
    let editor = entry(&edited, "kubectl-edit", "Update").expect("update entry");
    assert_eq!(editor["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
    let alice = entry(&edited, "alice", "Apply").expect("alice");
    assert!(alice["fieldsV1"]["f:spec"].get("f:replicas").is_none());

    let err = ssa(
        &resource,
        Some(&edited),
        "alice",
        false,
        &deployment(2, "nginx:1"),
    )
    .expect_err("conflict");
    assert_eq!(
        err,
        PatchError::Conflicts(vec![(
            "\"kubectl-edit\" using apps/v1".into(),
            ".spec.replicas".into()
        )])
    );
}

#[test]
fn several_conflicts_are_listed_by_manager() {
    let conflicts = vec![
        ("\"m3\" using v1".to_string(), ".data.b".to_string()),
        ("\"m1\"".to_string(), ".data.a".to_string()),
        ("\"m1\"".to_string(), ".data.c".to_string()),
    ];
    assert_eq!(
        PatchError::Conflicts(conflicts).to_string(),
        "Apply failed with 3 conflicts: conflicts with \"m1\":\n- .data.a\n- .data.c\nconflicts with \"m3\" using v1:\n- .data.b"
    );
}

#[test]
fn tracking_a_create_records_every_field_but_identity() {
    let resource = test_types::config_map();
    let mut created = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "uid": "u", "labels": {"a": "b"}},
        "data": {"k": "v"}});
    track_update(None, &mut created, &ctx(&resource, "operator", false));
    let e = entry(&created, "operator", "Update").expect("entry");
    assert_eq!(
        e["fieldsV1"],
        json!({"f:data": {"f:k": {}}, "f:metadata": {"f:labels": {"f:a": {}}}})
    );
    let mut unchanged = created.clone();
    track_update(
        Some(&created),
        &mut unchanged,
        &ctx(&resource, "other", false),
    );
    assert!(
        entry(&unchanged, "other", "Update").is_none(),
        "no change, no entry"
    );
}

#[test]
fn custom_resources_use_their_schema_list_types() {
    let resource = test_types::widget(test_types::widget_schema());
    let config = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1, "tags": ["a", "b"], "ports": [{"name": "http", "port": 80}]}});
    let live = ssa(&resource, None, "mgr", false, &config).expect("created");
    assert_eq!(
        entry(&live, "mgr", "Apply").expect("entry")["fieldsV1"]["f:spec"],
        json!({"f:size": {}, "f:tags": {"v:\"a\"": {}, "v:\"b\"": {}},
               "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}}})
    );
    let other = ssa(&resource, Some(&live), "other", false, &json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": {"tags": ["c"], "ports": [{"name": "https", "port": 443}]}}))
    .expect("merges");
    assert_eq!(other["spec"]["tags"], json!(["a", "b", "c"]));
    assert_eq!(other["spec"]["ports"].as_array().map(Vec::len), Some(2));
}

#[test]
fn status_subresource_applies_own_only_status() {
    let resource = test_types::deployment();
    let live = ssa(&resource, None, "mgr", false, &deployment(2, "nginx:1")).expect("created");
    let ctx = PatchContext {
        resource: &resource,
        field_manager: Some("ctrl"),
        force: false,
        subresource: Some("status"),
    };
    let body = serde_json::to_vec(
        &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 9}, "status": {"replicas": 2}}),
    )
    .expect("serializes");
    let out = apply(PatchType::Apply, Some(&live), &body, &ctx).expect("applied");
    let e = out["metadata"]["managedFields"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["manager"] == "ctrl")
        .expect("ctrl entry");
    assert_eq!(e["subresource"], "status");
    assert_eq!(e["fieldsV1"], json!({"f:status": {"f:replicas": {}}}));
}

#[test]
fn apply_needs_a_field_manager_and_a_matching_type() {
    let resource = test_types::deployment();
    let body = serde_json::to_vec(&deployment(1, "x")).expect("serializes");
    let no_manager = PatchContext {
        resource: &resource,
        field_manager: None,
        force: false,
        subresource: None,
    };
    let err = apply(PatchType::Apply, None, &body, &no_manager).expect_err("manager required");
    assert!(
        matches!(err, PatchError::Malformed(ref m) if m.contains("fieldManager")),
        "{err:?}"
    );

    let wrong = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web"}});
    let err = ssa(&resource, None, "mgr", false, &wrong).expect_err("wrong kind");
    assert!(
        matches!(err, PatchError::Malformed(ref m) if m.contains("ConfigMap")),
        "{err:?}"
    );

    let mut with_managed = deployment(1, "x");
    with_managed["metadata"]["managedFields"] = json!([{"manager": "me", "operation": "Apply"}]);
    let err =
        ssa(&resource, None, "mgr", false, &with_managed).expect_err("managedFields in an apply");
    assert!(
        matches!(err, PatchError::Malformed(ref m) if m.contains("managedFields")),
        "{err:?}"
    );

    let err = apply(
        PatchType::Apply,
        None,
        b"- just\n- a list\n",
        &ctx(&resource, "mgr", false),
    )
    .expect_err("not an object");
    assert!(matches!(err, PatchError::Malformed(_)), "{err:?}");
}

#[test]
fn yaml_bodies_are_accepted() {
    let resource = test_types::config_map();
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  key: value\n  count: \"3\"\n";
    let out = apply(PatchType::Apply, None, yaml, &ctx(&resource, "mgr", false)).expect("applied");
    assert_eq!(out["data"], json!({"key": "value", "count": "3"}));
}

#[test]
fn a_port_without_protocol_is_the_same_item_as_its_tcp_form() {
    let resource = test_types::deployment();
    let live = ssa(&resource, None, "alice", false, &deployment(1, "nginx:1")).expect("created");
    let mut config = deployment(1, "nginx:1");
    config["spec"]["template"]["spec"]["containers"][0]["ports"] =
        json!([{"containerPort": 80, "name": "http"}]);
    let out = ssa(&resource, Some(&live), "alice", false, &config).expect("applied");
    let ports = &out["spec"]["template"]["spec"]["containers"][0]["ports"];
    assert_eq!(
        ports,
        &json!([{"containerPort": 80, "name": "http"}]),
        "protocol was alice's and is dropped; one item"
    );
    let fields = &entry(&out, "alice", "Apply").expect("entry")["fieldsV1"]["f:spec"]["f:template"]
        ["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"]["f:ports"];
    assert!(
        fields
            .get("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")
            .is_some(),
        "{fields}"
    );
}

#[test]
fn fields_still_as_kubectl_last_applied_them_are_taken_over_without_force() {
    let resource = test_types::config_map();
    let last = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}});
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last.to_string()}},
        "data": {"k": "v"}});
    track_update(
        None,
        &mut live,
        &ctx(&resource, "kubectl-client-side-apply", false),
    );
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "w"}});
    let out = ssa(&resource, Some(&live), "kubectl", false, &config).expect("taken over");
    assert_eq!(out["data"]["k"], "w");
    let annotation =
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .as_str()
            .expect("annotation kept");
    let recorded: Value = serde_json::from_str(annotation).expect("JSON");
    assert_eq!(
        recorded["data"]["k"], "w",
        "annotation follows the server-side apply"
    );

    // Once someone else changed the value, the takeover is a conflict again.
    let mut drifted = live.clone();
    drifted["data"]["k"] = json!("changed-by-hand");
    let err = ssa(&resource, Some(&drifted), "kubectl", false, &config).expect_err("conflict");
    assert!(matches!(err, PatchError::Conflicts(_)), "{err:?}");

    // Another manager gets no takeover: that is kubectl's own migration path.
    let err = ssa(&resource, Some(&live), "my-operator", false, &config).expect_err("conflict");
    assert_eq!(
        err,
        PatchError::Conflicts(vec![(
            "\"kubectl-client-side-apply\" using v1".into(),
            ".data.k".into()
        )])
    );

    // Of several conflicts, only those kubectl may not take over are reported.
    let mut two = live.clone();
    two["data"]["other"] = json!("x");
    track_update(
        Some(&live),
        &mut two,
        &ctx(&resource, "kubectl-edit", false),
    );
    let mut both = config.clone();
    both["data"]["other"] = json!("y");
    let err = ssa(&resource, Some(&two), "kubectl", false, &both).expect_err("conflict");
    assert_eq!(
        err,
        PatchError::Conflicts(vec![(
            "\"kubectl-edit\" using v1".into(),
            ".data.other".into()
        )])
    );
}

#[test]
fn configurations_that_do_not_fit_the_schema_are_refused() {
    let resource = test_types::deployment();
    let mut typo = deployment(1, "nginx:1");
    typo["spec"]["replica"] = json!(3);
    let err = ssa(&resource, None, "mgr", false, &typo).expect_err("undeclared field");
    assert_eq!(
        err,
        PatchError::Internal(
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replica: field not declared in schema".into()
        )
    );
    let mut mistyped = deployment(1, "nginx:1");
    mistyped["spec"]["replicas"] = json!("three");
    let err = ssa(&resource, None, "mgr", false, &mistyped).expect_err("a string for a number");
    assert_eq!(
        err,
        PatchError::Internal(
            "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): .spec.replicas: expected numeric (int or float), got string".into()
        )
    );

    let widget = test_types::widget(test_types::widget_schema());
    let keyless = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 1, "ports": [{"name": "a"}, {"port": 80}]}});
    let err = ssa(&widget, None, "mgr", false, &keyless).expect_err("item without its key");
    assert!(
        matches!(&err, PatchError::Internal(m) if m.ends_with(
            ".spec.ports: element 1: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
        )),
        "{err:?}"
    );
}
