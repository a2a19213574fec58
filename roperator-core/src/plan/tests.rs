//! Exhaustive tests of validation and planning.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::k8s_type::k8s_types;

/// The writes of a plan without orphans.
fn plan(ctx: &PlanContext<'_>, observed: &[Arc<Observed>], desired: &[Desired]) -> Vec<Action> {
    super::plan(ctx, observed, &[], desired).actions
}

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
    let actions = plan(ctx, &[], std::slice::from_ref(desired));
    let [Action::Create { object, .. }] = &actions[..] else {
        panic!("expected one create, got {actions:?}")
    };
    let mut json = object.clone();
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
    plan(ctx, observed, &desired)
}

/// The record on a planned object.
fn record_of(object: &Value) -> Value {
    serde_json::from_str(
        object["metadata"]["annotations"][RECORD_ANNOTATION]
            .as_str()
            .expect("a record"),
    )
    .unwrap()
}

/// `live` with `manager` owning the fields of `fields` (FieldsV1), as after someone else's
/// update.
fn owned_by(live: &Observed, manager: &str, fields: Value) -> Arc<Observed> {
    let mut json = live.json.clone();
    json["metadata"]["managedFields"] = json!([
        {"manager": "op", "operation": "Update", "fieldsV1": {"f:metadata": {}}},
        {"manager": manager, "operation": "Update", "fieldsV1": fields},
    ]);
    Arc::new(Observed::from_json(json).unwrap())
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
        let actions = plan_for(ctx, &[], vec![cm("a", json!({"k": "the value"}))]);
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
        // The record: a digest of the answer and the paths it set, not its values.
        let record = record_of(object);
        assert_eq!(record["fields"], json!({"data": {"k": 1}, "metadata": {}}));
        assert!(record["digest"].as_str().unwrap().starts_with("sha256:"));
        assert!(!record.to_string().contains("the value"));
        assert!(
            object["metadata"]["annotations"]
                .get(LAST_APPLIED_ANNOTATION)
                .is_none()
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
        assert_eq!(plan(ctx, &[live], &desired), vec![]);
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
        assert_eq!(
            record_of(object)["fields"]["data"],
            json!({"keep": 1, "new": 1})
        );
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
        let edited = Observed::from_json(json).unwrap();
        // The edit took the field's ownership (as every update does).
        let live = owned_by(&edited, "kubectl-edit", json!({"f:data": {"f:x": {}}}));
        let actions = plan(ctx, &[live], &desired);
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
        assert_eq!(plan(ctx, &[live], &desired).len(), 1);
    });
}

#[test]
fn a_child_without_a_readable_record_is_rewritten_once() {
    with_ctx(Some("ns"), |ctx| {
        let desired = validate(ctx, &[cm("a", json!({"x": "1"}))]).unwrap();
        for record in [
            None,
            Some("not json"),
            Some(r#"{"v": 99, "digest": "", "fields": 1}"#),
        ] {
            let mut json = live_from(ctx, &desired[0], "c1").json.clone();
            let annotations = json["metadata"]["annotations"].as_object_mut().unwrap();
            match record {
                Some(text) => annotations.insert(RECORD_ANNOTATION.into(), json!(text)),
                None => annotations.remove(RECORD_ANNOTATION),
            };
            let live = Arc::new(Observed::from_json(json).unwrap());
            let actions = plan(ctx, &[live], &desired);
            let [Action::Replace { object, .. }] = &actions[..] else {
                panic!("expected one replace, got {actions:?}")
            };
            assert_eq!(record_of(object)["v"], 1, "{record:?}");
        }
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
                Action::Replace { observed, .. } | Action::Apply { observed, .. } => {
                    ("update", observed.name.clone())
                }
                Action::Delete { observed, .. } => ("delete", observed.name.clone()),
                Action::Adopt { observed, .. } => ("adopt", observed.name.clone()),
                Action::Release { observed, .. } => ("release", observed.name.clone()),
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

// --- Values the API server normalizes (see `compare` and `written`) ---

fn with_workloads<R>(f: impl FnOnce(&PlanContext<'_>) -> R) -> R {
    let parent = parent_obj(Some("ns"));
    let child_types = vec![
        (k8s_types::apps::v1::Deployment, ChildConfig::replace()),
        (k8s_types::batch::v1::Job, ChildConfig::recreate()),
        (k8s_types::apps::v1::DaemonSet, ChildConfig::on_delete()),
        (k8s_types::apps::v1::StatefulSet, ChildConfig::apply()),
        (k8s_types::core::v1::Secret, ChildConfig::replace()),
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

/// What an API server that canonicalizes quantities stores for `object` written by "op":
/// `cpu` becomes `cpu_as`, memory `1Gi`, the image `image_as` (as a mutating webhook might
/// qualify it), plus its own fields; "op" owns what it wrote.
fn stored(object: &Value, uid: &str, rv: &str, cpu_as: &str, image_as: &str) -> Arc<Observed> {
    let mut json = object.clone();
    let meta = json["metadata"].as_object_mut().unwrap();
    meta.insert("uid".into(), json!(uid));
    meta.insert("resourceVersion".into(), json!(rv));
    meta.insert("generation".into(), json!(1));
    meta.insert(
        "managedFields".into(),
        json!([{"manager": "op", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {}}}}]),
    );
    let container = &mut json["spec"]["template"]["spec"]["containers"][0];
    container["resources"]["requests"] = json!({"cpu": cpu_as, "memory": "1Gi"});
    container["terminationMessagePath"] = json!("/dev/termination-log");
    container["image"] = json!(image_as);
    json["spec"]["replicas"] = json!(1);
    Arc::new(Observed::from_json(json).unwrap())
}

/// Plans `desired`, expects one create, and returns the child as a normalizing server stores it.
fn created(ctx: &PlanContext<'_>, desired: &[Desired]) -> Arc<Observed> {
    let actions = plan(ctx, &[], desired);
    let [Action::Create { object, .. }] = &actions[..] else {
        panic!("expected one create, got {actions:?}")
    };
    stored(object, "w1", "10", "500m", WEBHOOK_IMAGE)
}

/// The image `app:1` as a mutating webhook rewrites it: a rewrite only field ownership tells
/// from someone else's change.
const WEBHOOK_IMAGE: &str = "registry.example/library/app:1";

/// The cpu of the container set to `cpu` by an update of `manager`.
fn set_cpu(live: &Observed, cpu: &str, rv: &str, manager: &str) -> Arc<Observed> {
    let mut json = live.json.clone();
    json["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!(cpu);
    json["metadata"]["resourceVersion"] = json!(rv);
    let edited = Observed::from_json(json).unwrap();
    owned_by(
        &edited,
        manager,
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"app\"}": {"f:resources": {"f:requests": {"f:cpu": {}}}}}}}}}),
    )
}

#[test]
fn a_value_the_server_rewrote_on_our_write_is_converged_even_after_a_restart() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        // The plan is computed from the child alone: nothing is kept in memory.
        let live = created(ctx, &desired);
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &desired), vec![]);
        // Others changing fields we never set (status, a newer resourceVersion) change nothing.
        let mut json = live.json.clone();
        json["status"] = json!({"readyReplicas": 1});
        json["metadata"]["resourceVersion"] = json!("11");
        let later = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[later], &desired), vec![]);
    });
}

#[test]
fn someone_elses_change_to_a_rewritten_field_is_drift() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let live = created(ctx, &desired);
        let edited = set_cpu(&live, "2", "11", "kubectl-edit");
        let actions = plan(ctx, &[edited], &desired);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["resources"]["requests"]["cpu"], "0.5");
        assert_eq!(object["metadata"]["resourceVersion"], "11");
        // The same value in another form is no drift, whoever wrote it.
        let same = set_cpu(&live, "500m", "11", "kubectl-edit");
        assert_eq!(plan(ctx, &[same], &desired), vec![]);
        // Removing a field we set is drift, even though nobody owns it any more.
        let mut json = live.json.clone();
        json["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]
            .as_object_mut()
            .unwrap()
            .remove("memory");
        let removed = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[removed], &desired).len(), 1);
    });
}

#[test]
fn a_changed_desired_value_is_written_whatever_the_live_object_holds() {
    with_workloads(|ctx| {
        let desired = validate(ctx, &[workload("Deployment", "0.5")]).unwrap();
        let live = created(ctx, &desired);
        let changed = validate(ctx, &[workload("Deployment", "0.75")]).unwrap();
        let actions = plan(ctx, &[Arc::clone(&live)], &changed);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["resources"]["requests"]["cpu"], "0.75");
    });
}

#[test]
fn rewritten_values_under_recreate_on_delete_and_apply() {
    with_workloads(|ctx| {
        let job = validate(ctx, &[workload("Job", "0.5")]).unwrap();
        let live = created(ctx, &job);
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &job), vec![]);
        let edited = set_cpu(&live, "2", "11", "kubectl-edit");
        assert!(matches!(
            &plan(ctx, &[edited], &job)[..],
            [Action::Delete {
                reason: DeleteReason::Recreate,
                ..
            }]
        ));

        let ds = validate(ctx, &[workload("DaemonSet", "0.5")]).unwrap();
        let live = created(ctx, &ds);
        let edited = set_cpu(&live, "2", "11", "kubectl-edit");
        assert_eq!(plan(ctx, &[edited], &ds), vec![]);

        let sts = validate(ctx, &[workload("StatefulSet", "0.5")]).unwrap();
        let live = created(ctx, &sts);
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &sts), vec![]);
        let edited = set_cpu(&live, "2", "11", "kubectl-edit");
        let actions = plan(ctx, &[edited], &sts);
        let [Action::Apply { object, force, .. }] = &actions[..] else {
            panic!("expected one apply, got {actions:?}")
        };
        assert!(*force);
        assert_eq!(object["metadata"]["resourceVersion"], "11");
    });
}

#[test]
fn under_apply_a_child_is_created_by_apply_and_sent_whole_when_changed() {
    with_workloads(|ctx| {
        let sts = validate(ctx, &[workload("StatefulSet", "0.5")]).unwrap();
        let actions = plan(ctx, &[], &sts);
        let [Action::Create { by_apply, .. }] = &actions[..] else {
            panic!("expected one create, got {actions:?}")
        };
        assert!(*by_apply);
        let live = created(ctx, &sts);
        let mut json = live.json.clone();
        json["spec"]["serviceName"] = json!("theirs");
        let live = Arc::new(Observed::from_json(json).unwrap());
        let mut changed = workload("StatefulSet", "0.5");
        changed["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("resources");
        let changed = validate(ctx, &[changed]).unwrap();
        let actions = plan(ctx, &[live], &changed);
        let [Action::Apply { object, .. }] = &actions[..] else {
            panic!("expected one apply, got {actions:?}")
        };
        // The configuration is exactly the answer (the server removes what it no longer
        // sets), never someone else's fields.
        let container = &object["spec"]["template"]["spec"]["containers"][0];
        assert!(container.get("resources").is_none());
        assert!(container.get("terminationMessagePath").is_none());
        assert!(object["spec"].get("serviceName").is_none());
    });
}

#[test]
fn a_secrets_string_data_is_written_and_compared_as_data() {
    with_workloads(|ctx| {
        let secret = |password: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "stringData": {"password": password, "user": "admin"}})
        };
        let desired = validate(ctx, &[secret("hunter2")]).unwrap();
        let actions = plan(ctx, &[], &desired);
        let [Action::Create { object, .. }] = &actions[..] else {
            panic!("expected one create, got {actions:?}")
        };
        assert_eq!(
            object["data"],
            json!({"password": "aHVudGVyMg==", "user": "YWRtaW4="})
        );
        assert!(object.get("stringData").is_none());
        let text = object["metadata"]["annotations"][RECORD_ANNOTATION].to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("aHVudGVyMg"),
            "{text}"
        );
        // Stored as sent (a real server never keeps stringData): converged, after a restart
        // too, and a new password is a change.
        let mut json = object.clone();
        json["metadata"]["uid"] = json!("s1");
        json["type"] = json!("Opaque");
        let live = Arc::new(Observed::from_json(json).unwrap());
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &desired), vec![]);
        let changed = validate(ctx, &[secret("correct horse")]).unwrap();
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &changed).len(), 1);
        // A key no longer returned is removed from `data`, where the server keeps it.
        let fewer = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                           "stringData": {"password": "hunter2"}});
        let fewer = validate(ctx, &[fewer]).unwrap();
        let actions = plan(ctx, &[live], &fewer);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        assert_eq!(object["data"], json!({"password": "aHVudGVyMg=="}));
        assert_eq!(object["type"], "Opaque");
    });
}

// --- The record of earlier versions ---

/// `live` as an earlier version of the engine left it: the whole answer in the last-applied
/// annotation, Secret values as salted digests.
fn with_legacy_record(live: &Observed, answer: &Value) -> Arc<Observed> {
    let mut json = live.json.clone();
    let annotations = json["metadata"]["annotations"].as_object_mut().unwrap();
    annotations.remove(RECORD_ANNOTATION);
    annotations.insert(
        LAST_APPLIED_ANNOTATION.into(),
        json!(serde_json::to_string(answer).unwrap()),
    );
    Arc::new(Observed::from_json(json).unwrap())
}

#[test]
fn a_child_with_the_old_record_stays_converged_and_is_migrated_by_its_next_write() {
    with_ctx(Some("ns"), |ctx| {
        let before = validate(ctx, &[cm("a", json!({"keep": "1", "drop": "2"}))]).unwrap();
        let mut json = live_from(ctx, &before[0], "c1").json.clone();
        json["metadata"]["labels"]["theirs"] = json!("t");
        let live = with_legacy_record(&Observed::from_json(json).unwrap(), &before[0].content);
        // Same answer: no write just to migrate.
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &before), vec![]);
        // A new answer: the write removes what the old record says was ours and no longer is,
        // and carries the new record instead of the old one.
        let after = validate(ctx, &[cm("a", json!({"keep": "1"}))]).unwrap();
        let actions = plan(ctx, &[live], &after);
        let [Action::Replace { object, .. }] = &actions[..] else {
            panic!("expected one replace, got {actions:?}")
        };
        assert_eq!(object["data"], json!({"keep": "1"}));
        assert_eq!(object["metadata"]["labels"]["theirs"], "t");
        let annotations = &object["metadata"]["annotations"];
        assert!(annotations.get(LAST_APPLIED_ANNOTATION).is_none());
        assert_eq!(record_of(object)["fields"]["data"], json!({"keep": 1}));
    });
}

#[test]
fn an_old_record_of_a_secret_is_compared_through_its_digests() {
    with_ctx(Some("ns"), |ctx| {
        let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"k": v}});
        let d = validate(ctx, &[secret("1")]).unwrap();
        // What earlier versions recorded: the answer with the value as a salted digest.
        let mut legacy = d[0].content.clone();
        let digest = ring::digest::digest(&ring::digest::SHA256, b"roperator/s/stringData/k\n1");
        let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        legacy["stringData"]["k"] = json!(format!("sha256:{hex}"));
        let live = live_from(ctx, &d[0], "s1");
        let live = with_legacy_record(&live, &legacy);
        assert_eq!(plan(ctx, &[Arc::clone(&live)], &d), vec![]);
        // on_delete: a new value is not written, but it is a change.
        let replace = vec![(k8s_types::core::v1::Secret, ChildConfig::replace())];
        let ctx = PlanContext {
            child_types: &replace,
            ..*ctx
        };
        let changed = validate(&ctx, &[secret("2")]).unwrap();
        assert_eq!(plan(&ctx, &[live], &changed).len(), 1);
    });
}

#[test]
fn the_record_of_a_large_child_stays_small() {
    with_ctx(Some("ns"), |ctx| {
        let big = "x".repeat(300 * 1024);
        let many: serde_json::Map<String, Value> = (0..2000)
            .map(|i| (format!("key-{i:04}"), json!("v")))
            .collect();
        for data in [json!({"big": big}), Value::Object(many)] {
            let actions = plan_for(ctx, &[], vec![cm("a", data.clone())]);
            let [Action::Create { object, .. }] = &actions[..] else {
                panic!("expected one create, got {actions:?}")
            };
            let text = object["metadata"]["annotations"][RECORD_ANNOTATION]
                .as_str()
                .unwrap();
            assert!(text.len() < 1024, "{} bytes", text.len());
            // The object carries its content once.
            let size = serde_json::to_string(object).unwrap().len();
            assert!(size < serde_json::to_string(&data).unwrap().len() + 2048);
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
        let actions = plan(&ctx, &[], &desired);
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
        assert_eq!(super::super::waves(plan(&ctx, &[], &desired)).len(), 1);
    }

    fn cm_in(ns: &str, name: &str) -> Value {
        let mut c = cm(name, json!({}));
        c["metadata"]["namespace"] = json!(ns);
        c
    }
}

mod lifecycle;
