//! Exhaustive tests of validation and planning.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::k8s_type::k8s_types;

static PARENT: K8sType = K8sType {
    api_version: "x.io/v1",
    kind: "Parent",
    plural: "parents",
    namespaced: true,
};

fn types() -> Vec<(K8sType, ChildConfig)> {
    vec![
        (k8s_types::core::v1::ConfigMap, ChildConfig::replace()),
        (k8s_types::batch::v1::Job, ChildConfig::recreate()),
        (k8s_types::core::v1::Secret, ChildConfig::on_delete()),
        (k8s_types::core::v1::Service, ChildConfig::replace()),
        (k8s_types::rbac::v1::ClusterRole, ChildConfig::replace()),
    ]
}

fn parent_obj(ns: Option<&str>) -> Observed {
    let mut meta =
        json!({"name": "p", "uid": "parent-uid", "resourceVersion": "1", "generation": 3});
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    Observed::from_json(json!({"apiVersion": "x.io/v1", "kind": "Parent", "metadata": meta}))
        .unwrap()
}

fn with_ctx<R>(parent_ns: Option<&str>, f: impl FnOnce(&PlanContext<'_>) -> R) -> R {
    let parent = parent_obj(parent_ns);
    let child_types = types();
    let ctx = PlanContext {
        operator: "op",
        parent_type: PARENT,
        parent: &parent,
        child_types: &child_types,
        namespaces: &NamespaceScope::All,
    };
    f(&ctx)
}

#[test]
fn a_cluster_scoped_parent_may_not_create_children_in_unwatched_namespaces() {
    let parent = parent_obj(None);
    let child_types = types();
    let scope = NamespaceScope::Only(["team-a".to_string()].into());
    let ctx = PlanContext {
        operator: "op",
        parent_type: PARENT,
        parent: &parent,
        child_types: &child_types,
        namespaces: &scope,
    };
    let mut inside = cm("a", json!({}));
    inside["metadata"]["namespace"] = json!("team-a");
    assert!(validate(&ctx, &[inside]).is_ok());
    let mut outside = cm("b", json!({}));
    outside["metadata"]["namespace"] = json!("team-b");
    let err = validate(&ctx, &[outside]).unwrap_err().to_string();
    assert!(
        err.contains("metadata.namespace \"team-b\" is not watched by this controller"),
        "{err}"
    );
}

fn cm(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn invalid(children: Vec<Value>) -> String {
    with_ctx(Some("ns"), |ctx| match validate(ctx, &children) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("expected an invalid response"),
    })
}

/// What a live child looks like after the engine created it from `desired` and the server
/// added its own fields.
fn live_from(ctx: &PlanContext<'_>, desired: &Desired, uid: &str) -> Arc<Observed> {
    let mut json = full_object(ctx, desired);
    let meta = json["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!(uid));
    meta.insert("resourceVersion".into(), json!("10"));
    meta.insert("creationTimestamp".into(), json!("2026-01-01T00:00:00Z"));
    meta.insert("managedFields".into(), json!([{"manager": "op"}]));
    Arc::new(Observed::from_json(json).unwrap())
}

fn plan_for(
    ctx: &PlanContext<'_>,
    observed: &[Arc<Observed>],
    desired_children: Vec<Value>,
) -> Vec<Action> {
    let desired = validate(ctx, &desired_children).unwrap();
    plan(ctx, observed, &desired, &WrittenByUid::new())
}

#[test]
fn each_invalid_child_is_named_with_its_field() {
    assert!(invalid(vec![json!("x")]).contains("desired child #1: is not a JSON object"));
    assert!(
        invalid(vec![
            json!({"kind": "ConfigMap", "metadata": {"name": "a"}})
        ])
        .contains("apiVersion is missing")
    );
    assert!(
        invalid(vec![json!({"apiVersion": "v1", "metadata": {"name": "a"}})])
            .contains("kind is missing")
    );
    let unknown = invalid(vec![
        cm("ok", json!({})),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
    ]);
    assert!(
        unknown.contains("desired child #2 (apps/v1 Deployment \"d\")"),
        "{unknown}"
    );
    assert!(unknown.contains("not a configured child type"), "{unknown}");
    assert!(
        invalid(vec![json!({"apiVersion": "v1", "kind": "ConfigMap"})])
            .contains("metadata is missing")
    );
    assert!(
        invalid(vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})
        ])
        .contains("metadata.name is missing")
    );
    let bad_name = invalid(vec![cm("Bad_Name", json!({}))]);
    assert!(
        bad_name.contains("metadata.name \"Bad_Name\" is not a valid name"),
        "{bad_name}"
    );
    let other_ns = invalid(vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "other"}}),
    ]);
    assert!(other_ns.contains("(v1 ConfigMap \"a\"): metadata.namespace \"other\" differs from the parent's namespace \"ns\""), "{other_ns}");
    let dup = invalid(vec![
        cm("a", json!({})),
        cm("b", json!({})),
        cm("a", json!({"x": "y"})),
    ]);
    assert!(
        dup.contains("desired child #3 (v1 ConfigMap \"a\") duplicates desired child #1"),
        "{dup}"
    );
    let cluster = invalid(vec![
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "ns"}}),
    ]);
    assert!(cluster.contains("is cluster-scoped"), "{cluster}");
    let owner = invalid(vec![
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "ownerReferences": [{"uid": "someone-else", "controller": true}]}}),
    ]);
    assert!(owner.contains("metadata.ownerReferences"), "{owner}");
}

#[test]
fn a_cluster_scoped_parent_needs_namespaced_children_to_say_where() {
    with_ctx(None, |ctx| {
        let err = validate(ctx, &[cm("a", json!({}))])
            .unwrap_err()
            .to_string();
        assert!(err.contains("metadata.namespace is missing"), "{err}");
        let ok = validate(ctx, &[json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "anywhere"}})]).unwrap();
        assert_eq!(ok[0].namespace.as_deref(), Some("anywhere"));
    });
}

#[test]
fn normalization_fills_the_namespace_and_drops_server_fields_status_and_nulls() {
    with_ctx(Some("ns"), |ctx| {
        let child = json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "web", "resourceVersion": "9", "uid": "u", "creationTimestamp": "t",
                         "managedFields": [], "generation": 2,
                         "annotations": {LAST_APPLIED_ANNOTATION: "{}", "keep": "me"}, "labels": null},
            "spec": {"ports": [{"port": 80, "name": null}]},
            "status": {"loadBalancer": {}}
        });
        let d = validate(ctx, &[child]).unwrap().remove(0);
        assert_eq!(
            d.content,
            json!({
                "apiVersion": "v1", "kind": "Service",
                "metadata": {"name": "web", "namespace": "ns", "annotations": {"keep": "me"}},
                "spec": {"ports": [{"port": 80}]}
            })
        );
        assert_eq!(
            (d.child_type, d.update),
            (k8s_types::core::v1::Service, UpdateStrategy::Replace)
        );
    });
}

#[test]
fn the_same_name_under_two_types_is_not_a_duplicate() {
    with_ctx(Some("ns"), |ctx| {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
        assert_eq!(
            validate(ctx, &[cm("web", json!({})), svc]).unwrap().len(),
            2
        );
    });
}

#[test]
fn a_missing_child_is_created_labelled_annotated_and_owned() {
    with_ctx(Some("ns"), |ctx| {
        let actions = plan_for(ctx, &[], vec![cm("a", json!({"k": "v"}))]);
        let [
            Action::Create {
                child_type, object, ..
            },
        ] = &actions[..]
        else {
            panic!("expected one create, got {actions:?}")
        };
        assert_eq!(*child_type, k8s_types::core::v1::ConfigMap);
        assert_eq!(object["metadata"]["labels"][MANAGED_BY_LABEL], "op");
        assert_eq!(object["metadata"]["labels"][PARENT_UID_LABEL], "parent-uid");
        assert_eq!(object["metadata"]["namespace"], "ns");
        assert_eq!(
            object["metadata"]["ownerReferences"],
            json!([{"apiVersion": "x.io/v1", "kind": "Parent", "name": "p", "uid": "parent-uid", "controller": true, "blockOwnerDeletion": true}])
        );
        let applied: Value = serde_json::from_str(
            object["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            applied,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"}, "data": {"k": "v"}})
        );
    });
}

#[test]
fn a_converged_child_needs_nothing_even_with_fields_others_set() {
    with_ctx(Some("ns"), |ctx| {
        let desired = validate(ctx, &[json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}})]).unwrap();
        let live = live_from(ctx, &desired[0], "s1");
        let mut json = live.json.clone();
        json["spec"]["clusterIP"] = json!("10.0.0.7");
        json["spec"]["ports"][0]["protocol"] = json!("TCP");
        json["metadata"]["labels"]["added-by"] = json!("someone");
        json["metadata"]["annotations"]["other"] = json!("x");
        json["status"] = json!({"loadBalancer": {}});
        let live = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[live], &desired, &WrittenByUid::new()), vec![]);
    });
}

#[test]
fn a_changed_child_is_replaced_with_removed_fields_removed_and_others_kept() {
    with_ctx(Some("ns"), |ctx| {
        let before = validate(ctx, &[cm("a", json!({"keep": "1", "drop": "2"}))]).unwrap();
        let mut live_json = live_from(ctx, &before[0], "c1").json.clone();
        live_json["metadata"]["labels"]["theirs"] = json!("t");
        let live = Arc::new(Observed::from_json(live_json).unwrap());
        let actions = plan_for(
            ctx,
            &[Arc::clone(&live)],
            vec![cm("a", json!({"keep": "1", "new": "3"}))],
        );
        let [
            Action::Replace {
                object, observed, ..
            },
        ] = &actions[..]
        else {
            panic!("expected one replace, got {actions:?}")
        };
        assert_eq!(observed.uid, "c1");
        assert_eq!(object["data"], json!({"keep": "1", "new": "3"}));
        assert_eq!(object["metadata"]["resourceVersion"], "10");
        assert_eq!(object["metadata"]["uid"], "c1");
        assert_eq!(object["metadata"]["labels"]["theirs"], "t");
        assert_eq!(object["metadata"]["labels"][MANAGED_BY_LABEL], "op");
        assert!(object["metadata"].get("managedFields").is_none());
        let applied: Value = serde_json::from_str(
            object["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(applied["data"], json!({"keep": "1", "new": "3"}));
    });
}

#[test]
fn removing_a_field_alone_is_a_change() {
    with_ctx(Some("ns"), |ctx| {
        let before = validate(ctx, &[cm("a", json!({"x": "1", "y": "2"}))]).unwrap();
        let live = live_from(ctx, &before[0], "c1");
        let actions = plan_for(ctx, &[live], vec![cm("a", json!({"x": "1"}))]);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        assert_eq!(object["data"], json!({"x": "1"}));
    });
}

#[test]
fn drift_of_a_field_we_set_is_repaired() {
    with_ctx(Some("ns"), |ctx| {
        let desired = validate(ctx, &[cm("a", json!({"x": "1"}))]).unwrap();
        let mut json = live_from(ctx, &desired[0], "c1").json.clone();
        json["data"]["x"] = json!("edited by hand");
        let live = Arc::new(Observed::from_json(json).unwrap());
        let actions = plan(ctx, &[live], &desired, &WrittenByUid::new());
        assert!(
            matches!(&actions[..], [Action::Replace { object, .. }] if object["data"]["x"] == "1"),
            "{actions:?}"
        );
        // So is a label of ours taken off.
        let mut json = live_from(ctx, &desired[0], "c1").json.clone();
        json["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove(MANAGED_BY_LABEL);
        let live = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[live], &desired, &WrittenByUid::new()).len(), 1);
    });
}

#[test]
fn a_child_without_a_last_applied_record_is_rewritten_once() {
    with_ctx(Some("ns"), |ctx| {
        let desired = validate(ctx, &[cm("a", json!({"x": "1"}))]).unwrap();
        let mut json = live_from(ctx, &desired[0], "c1").json.clone();
        json["metadata"]["annotations"]
            .as_object_mut()
            .unwrap()
            .remove(LAST_APPLIED_ANNOTATION);
        let live = Arc::new(Observed::from_json(json).unwrap());
        assert!(matches!(
            &plan(ctx, &[live], &desired, &WrittenByUid::new())[..],
            [Action::Replace { .. }]
        ));
    });
}

#[test]
fn recreate_deletes_a_changed_child_and_waits_while_it_goes() {
    with_ctx(Some("ns"), |ctx| {
        let job = |image: &str| json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": image}]}}}});
        let before = validate(ctx, &[job("v1")]).unwrap();
        let live = live_from(ctx, &before[0], "j1");
        assert_eq!(plan_for(ctx, &[Arc::clone(&live)], vec![job("v1")]), vec![]);
        let actions = plan_for(ctx, &[Arc::clone(&live)], vec![job("v2")]);
        let [
            Action::Delete {
                observed,
                reason: DeleteReason::Recreate,
                ..
            },
        ] = &actions[..]
        else {
            panic!("expected a recreate delete, got {actions:?}")
        };
        assert_eq!(observed.uid, "j1");
        let mut deleting = live.json.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let deleting = Arc::new(Observed::from_json(deleting).unwrap());
        assert_eq!(plan_for(ctx, &[deleting], vec![job("v2")]), vec![]);
        // Once gone, it is created with the new content.
        let actions = plan_for(ctx, &[], vec![job("v2")]);
        assert!(
            matches!(&actions[..], [Action::Create { object, .. }] if object["spec"]["template"]["spec"]["containers"][0]["image"] == "v2")
        );
    });
}

#[test]
fn on_delete_never_updates_but_still_creates_and_prunes() {
    with_ctx(Some("ns"), |ctx| {
        let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": v}});
        let before = validate(ctx, &[secret("1")]).unwrap();
        let live = live_from(ctx, &before[0], "s1");
        assert_eq!(
            plan_for(ctx, &[Arc::clone(&live)], vec![secret("2")]),
            vec![]
        );
        assert!(matches!(
            &plan_for(ctx, &[], vec![secret("2")])[..],
            [Action::Create { .. }]
        ));
        assert!(matches!(
            &plan_for(ctx, &[live], vec![])[..],
            [Action::Delete {
                reason: DeleteReason::Prune,
                ..
            }]
        ));
    });
}

#[test]
fn pruning_is_keyed_by_type_namespace_and_name() {
    with_ctx(Some("ns"), |ctx| {
        let old = validate(ctx, &[cm("web", json!({}))]).unwrap();
        let live_cm = live_from(ctx, &old[0], "cm1");
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}});
        let actions = plan_for(ctx, &[live_cm], vec![svc]);
        assert_eq!(actions.len(), 2, "{actions:?}");
        assert!(
            matches!(&actions[0], Action::Create { child_type, .. } if *child_type == k8s_types::core::v1::Service)
        );
        assert!(
            matches!(&actions[1], Action::Delete { child_type, observed, reason: DeleteReason::Prune } if *child_type == k8s_types::core::v1::ConfigMap && observed.uid == "cm1")
        );
    });
}

#[test]
fn children_being_deleted_or_of_unconfigured_types_are_left_alone() {
    with_ctx(Some("ns"), |ctx| {
        let old = validate(ctx, &[cm("a", json!({}))]).unwrap();
        let mut deleting = live_from(ctx, &old[0], "c1").json.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        let deleting = Arc::new(Observed::from_json(deleting).unwrap());
        let foreign = Arc::new(Observed::from_json(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "ns", "uid": "d1"}})).unwrap());
        assert_eq!(plan_for(ctx, &[deleting, foreign], vec![]), vec![]);
    });
}

#[test]
fn creates_and_replaces_come_before_deletes_in_the_handlers_order() {
    with_ctx(Some("ns"), |ctx| {
        let old = validate(ctx, &[cm("old", json!({})), cm("b", json!({"v": "1"}))]).unwrap();
        let observed = vec![live_from(ctx, &old[0], "o1"), live_from(ctx, &old[1], "b1")];
        let actions = plan_for(
            ctx,
            &observed,
            vec![
                cm("c", json!({})),
                cm("b", json!({"v": "2"})),
                cm("a", json!({})),
            ],
        );
        let verbs: Vec<(&str, String)> = actions
            .iter()
            .map(|a| match a {
                Action::Create { object, .. } => (
                    "create",
                    object["metadata"]["name"].as_str().unwrap().to_string(),
                ),
                Action::Replace { observed, .. } => ("update", observed.name.clone()),
                Action::Delete { observed, .. } => ("delete", observed.name.clone()),
            })
            .collect();
        assert_eq!(
            verbs,
            vec![
                ("create", "c".into()),
                ("update", "b".into()),
                ("create", "a".into()),
                ("delete", "old".into())
            ]
        );
    });
}

// --- Values the API server normalizes (see `written`) ---

fn with_workloads<R>(f: impl FnOnce(&PlanContext<'_>) -> R) -> R {
    let parent = parent_obj(Some("ns"));
    let child_types = vec![
        (k8s_types::apps::v1::Deployment, ChildConfig::replace()),
        (k8s_types::batch::v1::Job, ChildConfig::recreate()),
        (k8s_types::apps::v1::DaemonSet, ChildConfig::on_delete()),
    ];
    let ctx = PlanContext {
        operator: "op",
        parent_type: PARENT,
        parent: &parent,
        child_types: &child_types,
        namespaces: &NamespaceScope::All,
    };
    f(&ctx)
}

fn workload(kind: &str, cpu: &str) -> Value {
    let api_version = if kind == "Job" { "batch/v1" } else { "apps/v1" };
    json!({
        "apiVersion": api_version, "kind": kind, "metadata": {"name": "w"},
        "spec": {"template": {"spec": {"containers": [{
            "name": "app", "image": "app:1",
            "resources": {"requests": {"cpu": cpu, "memory": "1024Mi"}}
        }]}}}
    })
}

/// What an API server that canonicalizes quantities stores for `object`: `cpu` becomes `cpu_as`,
/// memory `1Gi`, the image `image_as` (as a mutating webhook might qualify it), plus its own
/// fields; and the record the writer keeps of that write.
fn stored(
    object: &Value,
    expected: &Expected,
    uid: &str,
    rv: &str,
    cpu_as: &str,
    image_as: &str,
) -> (Arc<Observed>, WrittenByUid) {
    let mut json = object.clone();
    let meta = json["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!(uid));
    meta.insert("resourceVersion".into(), json!(rv));
    meta.insert("generation".into(), json!(1));
    let container = &mut json["spec"]["template"]["spec"]["containers"][0];
    container["resources"]["requests"] = json!({"cpu": cpu_as, "memory": "1Gi"});
    container["terminationMessagePath"] = json!("/dev/termination-log");
    container["image"] = json!(image_as);
    json["spec"]["replicas"] = json!(1);
    let written = expected.after_write(&json).map(Arc::new);
    let live = Arc::new(Observed::from_json(json).unwrap());
    let memory = written.into_iter().map(|w| (uid.to_string(), w)).collect();
    (live, memory)
}

/// Plans `desired`, expects one create, and returns the child as a normalizing server stores it.
fn created(ctx: &PlanContext<'_>, desired: &[Desired]) -> (Arc<Observed>, WrittenByUid) {
    let actions = plan(ctx, &[], desired, &WrittenByUid::new());
    let [
        Action::Create {
            object, expected, ..
        },
    ] = &actions[..]
    else {
        panic!("expected one create, got {actions:?}")
    };
    stored(object, expected, "w1", "10", "500m", WEBHOOK_IMAGE)
}

/// The image `app:1` as a mutating webhook rewrites it: a normalization only the memory of our
/// last write can recognize.
const WEBHOOK_IMAGE: &str = "registry.example/library/app:1";

fn set_cpu(live: &Observed, cpu: &str, rv: &str) -> Arc<Observed> {
    let mut json = live.json.clone();
    json["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!(cpu);
    json["metadata"]["resourceVersion"] = json!(rv);
    Arc::new(Observed::from_json(json).unwrap())
}

#[test]
fn a_value_the_server_normalized_on_our_write_is_converged() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let (live, memory) = created(ctx, &desired);
        assert_eq!(memory.len(), 1, "the server changed what we sent");
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &desired, &memory), vec![]);
        // Others changing fields we never set (status, a newer resourceVersion) change nothing.
        let mut json = live.json.clone();
        json["status"] = json!({"readyReplicas": 1});
        json["metadata"]["resourceVersion"] = json!("11");
        let later = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[later], &desired, &memory), vec![]);
    });
}

#[test]
fn without_memory_a_normalized_value_is_written_once_then_converged() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let (live, _) = created(ctx, &desired);
        // After a restart: nothing remembered, and only the memory explains the webhook's
        // rewrite of the image, so it is written...
        let actions = plan(ctx, &[Arc::clone(&live)], &desired, &WrittenByUid::new());
        let [
            Action::Replace {
                object, expected, ..
            },
        ] = &actions[..]
        else {
            panic!("expected one replace, got {actions:?}")
        };
        assert_eq!(object["metadata"]["resourceVersion"], "10");
        // ...and what the server makes of that write is remembered: no further write.
        let (after, memory) = stored(object, expected, "w1", "12", "500m", WEBHOOK_IMAGE);
        assert_eq!(plan(ctx, &[after], &desired, &memory), vec![]);
    });
}

#[test]
fn someone_elses_change_to_a_normalized_field_is_still_drift() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let (live, memory) = created(ctx, &desired);
        let edited = set_cpu(&live, "2", "11");
        let actions = plan(ctx, &[edited], &desired, &memory);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["resources"]["requests"]["cpu"], "0.5");
        assert_eq!(object["metadata"]["resourceVersion"], "11");
        // Removing a field we set is drift too.
        let mut json = live.json.clone();
        json["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
            .as_object_mut()
            .unwrap()
            .remove("memory");
        let removed = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[removed], &desired, &memory).len(), 1);
    });
}

#[test]
fn a_changed_desired_value_is_written_despite_the_memory() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let (live, memory) = created(ctx, &desired);
        let changed = validate(ctx, &[workload("Deployment", "0.75")]).unwrap();
        let actions = plan(ctx, &[Arc::clone(&live)], &changed, &memory);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["resources"]["requests"]["cpu"], "0.75");
        // Even if the object still claims the new content (say, another replica wrote it and
        // the server made something else of it), a record of an older write does not count.
        let mut json = live.json.clone();
        let last = serde_json::to_string(&changed[0].content).unwrap();
        json["metadata"]["annotations"][LAST_APPLIED_ANNOTATION] = json!(last);
        let claimed = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[claimed], &changed, &memory).len(), 1);
    });
}

#[test]
fn a_record_of_another_object_with_the_same_name_does_not_count() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let (live, memory) = created(ctx, &desired);
        // Deleted and created again by someone else: another UID, the record was for "w1".
        let mut json = live.json.clone();
        json["metadata"]["uid"] = json!("w2");
        let other = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[other], &desired, &memory).len(), 1);
    });
}

#[test]
fn normalized_values_under_recreate_and_on_delete() {
    with_workloads(|ctx| {
        let job = validate(ctx, &[workload("Job", "0.5")]).unwrap();
        let (live, memory) = created(ctx, &job);
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &job, &memory), vec![]);
        let edited = set_cpu(&live, "2", "11");
        assert!(matches!(
            &plan(ctx, &[edited], &job, &memory)[..],
            [Action::Delete {
                reason: DeleteReason::Recreate,
                ..
            }]
        ));
        // Unknown memory: the current behaviour, a recreate.
        assert_eq!(plan(ctx, &[live], &job, &WrittenByUid::new()).len(), 1);

        let ds = validate(ctx, &[workload("DaemonSet", "0.5")]).unwrap();
        let (live, _) = created(ctx, &ds);
        assert_eq!(plan(ctx, &[live], &ds, &WrittenByUid::new()), vec![]);
    });
}

#[test]
fn values_the_server_keeps_as_sent_need_no_memory() {
    with_workloads(|ctx| {
        let mut canonical = workload("Deployment", "500m");
        canonical["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"] =
            json!("1Gi");
        let desired = validate(ctx, &[canonical]).unwrap();
        let actions = plan(ctx, &[], &desired, &WrittenByUid::new());
        let [
            Action::Create {
                object, expected, ..
            },
        ] = &actions[..]
        else {
            panic!("expected one create, got {actions:?}")
        };
        let (live, memory) = stored(object, expected, "w1", "10", "500m", "app:1");
        assert!(memory.is_empty());
        assert_eq!(plan(ctx, &[live], &desired, &memory), vec![]);
    });
}

#[test]
fn after_a_restart_quantities_in_canonical_form_are_recognized_by_value() {
    with_workloads(|ctx| {
        for kind in ["Deployment", "Job"] {
            let desired = validate(ctx, &[workload(kind, "0.5")]).unwrap();
            let actions = plan(ctx, &[], &desired, &WrittenByUid::new());
            let [
                Action::Create {
                    object, expected, ..
                },
            ] = &actions[..]
            else {
                panic!("expected one create, got {actions:?}")
            };
            // The server stored 0.5 as 500m and 1024Mi as 1Gi; nothing is remembered.
            let (live, _) = stored(object, expected, "w1", "10", "500m", "app:1");
            let none = WrittenByUid::new();
            assert_eq!(
                plan(ctx, &[Arc::clone(&live)], &desired, &none),
                vec![],
                "{kind}"
            );
            // Another value is drift, in whatever form.
            let edited = set_cpu(&live, "0.6", "11");
            assert_eq!(plan(ctx, &[edited], &desired, &none).len(), 1, "{kind}");
            let edited = set_cpu(&live, "600m", "11");
            assert_eq!(plan(ctx, &[edited], &desired, &none).len(), 1, "{kind}");
        }
    });
}

mod waves {
    use super::*;

    fn namespace(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    }

    #[test]
    fn children_in_a_namespace_created_by_the_same_plan_wait_for_it() {
        let child_types = vec![
            (k8s_types::core::v1::Namespace, ChildConfig::replace()),
            (k8s_types::core::v1::ConfigMap, ChildConfig::replace()),
        ];
        let parent = parent_obj(None);
        let scope = NamespaceScope::All;
        let ctx = PlanContext {
            operator: "op",
            parent_type: PARENT,
            parent: &parent,
            child_types: &child_types,
            namespaces: &scope,
        };
        let mut in_new = cm("a", json!({}));
        in_new["metadata"]["namespace"] = json!("fresh");
        let mut in_old = cm("b", json!({}));
        in_old["metadata"]["namespace"] = json!("existing");
        let desired = validate(&ctx, &[in_new, namespace("fresh"), in_old]).unwrap();
        let actions = plan(&ctx, &[], &desired, &WrittenByUid::new());
        let names = |wave: &[Action]| -> Vec<String> {
            wave.iter()
                .map(|a| match a {
                    Action::Create { object, .. } => {
                        object["metadata"]["name"].as_str().unwrap().to_string()
                    }
                    other => panic!("only creates here: {other:?}"),
                })
                .collect()
        };
        let waves = super::super::waves(actions);
        assert_eq!(waves.len(), 2);
        assert_eq!(names(&waves[0]), ["fresh", "b"]);
        assert_eq!(names(&waves[1]), ["a"]);

        // Without a namespace to create, one wave.
        let desired = validate(&ctx, &[cm_in("existing", "c")]).unwrap();
        assert_eq!(
            super::super::waves(plan(&ctx, &[], &desired, &WrittenByUid::new())).len(),
            1
        );
    }

    fn cm_in(ns: &str, name: &str) -> Value {
        let mut c = cm(name, json!({}));
        c["metadata"]["namespace"] = json!(ns);
        c
    }
}
