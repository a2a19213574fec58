//! The apply policy: children written with server-side apply under the controller's field
//! manager. Fields the handler drops are released (removed unless another manager owns them),
//! other managers' fields are left to them, drift of the handler's fields is repaired (or, not
//! forcing, reported), and converged children cost no request.

use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use roperator_testkit::patch::PatchType;
use serde_json::{Value, json};

use crate::common::*;

/// The Deployment `<name>-web`: image `spec.image` (default `web:1`), and when the parent's
/// spec has them, `spec.replicas`, the label `tier` and the annotation `example.com/note`.
fn web_handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let name = req.parent().name();
    let spec = &req.parent().json()["spec"];
    let app = json!({"app": name});
    let mut deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("{name}-web"), "labels": app},
        "spec": {
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {"containers": [{"name": "web", "image": spec.get("image").unwrap_or(&json!("web:1"))}]}
            }
        }
    });
    if let Some(replicas) = spec.get("replicas") {
        deployment["spec"]["replicas"] = replicas.clone();
    }
    if let Some(tier) = spec.get("tier") {
        deployment["metadata"]["labels"]["tier"] = tier.clone();
    }
    if let Some(note) = spec.get("note") {
        deployment["metadata"]["annotations"] = json!({"example.com/note": note});
    }
    Ok(SyncResponse::new().with_child(&deployment))
}

fn web_config(policy: ChildConfig) -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::apps::v1::Deployment, policy)
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(200))
        .with_resync_period(Duration::from_millis(200))
}

fn deployments(server: &ApiServer) -> Api<DynamicObject> {
    Api::namespaced_with(
        server.client(),
        NS,
        &kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    )
}

fn web(server: &ApiServer, name: &str) -> Value {
    server
        .object("apps/v1", "Deployment", Some(NS), &format!("{name}-web"))
        .unwrap_or(Value::Null)
}

/// Another field manager applying `fields` (merged into the Deployment's identity).
async fn apply_as(server: &ApiServer, manager: &str, name: &str, fields: Value) {
    let mut body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": format!("{name}-web")}});
    json_patch::merge(&mut body, &fields);
    deployments(server)
        .patch(
            &format!("{name}-web"),
            &PatchParams::apply(manager).force(),
            &Patch::Apply(&body),
        )
        .await
        .unwrap();
}

/// The operator's writes to Deployments since the log was last cleared, as (kind of request,
/// name), sorted: `apply`, `json-patch`, `create`, `update`, `delete`.
fn deployment_writes(server: &ApiServer) -> Vec<(String, String)> {
    let mut writes: Vec<(String, String)> = operator_writes(server)
        .into_iter()
        .filter(|w| w.resource == "deployments")
        .map(|w| {
            let verb = match w.patch_type {
                Some(PatchType::Apply) => "apply".to_string(),
                Some(PatchType::Json) => "json-patch".to_string(),
                _ => w.verb,
            };
            (verb, w.name.unwrap_or_default())
        })
        .collect();
    writes.sort();
    writes
}

/// Waits for `rounds` more successful syncs of each of `parents`.
async fn resyncs(op: &TestOperator, parents: usize, rounds: usize) {
    let series = "roperator_syncs_total{result=\"success\"}";
    let target = metric(op, series) + (parents * rounds) as f64;
    op.wait_until(LONG, || metric(op, series) >= target)
        .await
        .unwrap();
}

/// The handler returns `spec.replicas`, the label `tier` and an annotation; other managers
/// apply the same replicas and label (sharing them), then the handler stops returning all
/// three. Returns the Deployment afterwards, and after the other manager scaled it to 5.
async fn drop_shared_fields(policy: ChildConfig) -> (Value, Value) {
    let server = server();
    let op = TestOperator::start(&server, web_config(policy), web_handler);
    create_echo(
        &server,
        "shop",
        json!({"replicas": 2, "tier": "front", "note": "hello"}),
    )
    .await;
    op.wait_until(LONG, || web(&server, "shop")["spec"]["replicas"] == 2)
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();

    server.clear_requests();
    apply_as(
        &server,
        "autoscaler",
        "shop",
        json!({"spec": {"replicas": 2}}),
    )
    .await;
    apply_as(
        &server,
        "labeller",
        "shop",
        json!({"metadata": {"labels": {"tier": "front"}}}),
    )
    .await;
    resyncs(&op, 1, 2).await;
    assert_eq!(deployment_writes(&server), vec![], "nothing changed");

    echoes(&server)
        .patch(
            "shop",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": null, "tier": null, "note": null}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        web(&server, "shop")["metadata"]["annotations"]
            .get("example.com/note")
            .is_none()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let after_drop = web(&server, "shop");

    // The other manager now scales alone; the handler does not return replicas.
    server.clear_requests();
    apply_as(
        &server,
        "autoscaler",
        "shop",
        json!({"spec": {"replicas": 5}}),
    )
    .await;
    resyncs(&op, 1, 3).await;
    let writes = deployment_writes(&server);
    assert_eq!(
        writes,
        vec![],
        "a field the handler does not return is not drift"
    );
    let scaled = web(&server, "shop");
    op.stop().await.unwrap();
    (after_drop, scaled)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_apply_dropped_fields_are_released_and_other_managers_keep_theirs() {
    let (after_drop, scaled) = drop_shared_fields(ChildConfig::apply()).await;
    // Released and owned by nobody else: removed. Owned by another manager too: kept.
    assert!(
        after_drop["metadata"]["annotations"]
            .get("example.com/note")
            .is_none()
    );
    assert_eq!(after_drop["metadata"]["labels"]["tier"], "front");
    assert_eq!(after_drop["spec"]["replicas"], 2);
    assert_eq!(scaled["spec"]["replicas"], 5);
    let ours = after_drop["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["manager"] == OPERATOR && e["operation"] == "Apply")
        .cloned()
        .expect("an apply entry of the operator");
    assert!(ours["fieldsV1"]["f:spec"].get("f:replicas").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_replace_dropped_fields_are_removed_whoever_else_set_them() {
    let (after_drop, scaled) = drop_shared_fields(ChildConfig::replace()).await;
    assert!(
        after_drop["metadata"]["annotations"]
            .get("example.com/note")
            .is_none()
    );
    assert!(after_drop["metadata"]["labels"].get("tier").is_none());
    assert_eq!(after_drop["spec"]["replicas"], 1, "removed, then defaulted");
    assert_eq!(scaled["spec"]["replicas"], 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_apply_a_child_is_created_and_repaired_with_one_request_each() {
    let server = server();
    let op = TestOperator::start(&server, web_config(ChildConfig::apply()), web_handler);
    op.wait_ready(LONG).await.unwrap();
    server.clear_requests();
    create_echo(&server, "a", json!({})).await;
    op.wait_until(LONG, || !web(&server, "a").is_null())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        deployment_writes(&server),
        vec![("apply".to_string(), "a-web".to_string())]
    );
    // The name was checked first: an apply would merge into someone else's object.
    assert!(server.requests().records().iter().any(|r| r.verb == "get"
        && r.resource == "deployments"
        && r.user_agent.starts_with(OPERATOR)));

    // Someone changes the image (and so owns it now): drift, repaired by one apply.
    server.clear_requests();
    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    let tampered = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "evil:1"}]}}}});
    deployments(&server)
        .patch("a-web", &edit, &Patch::Strategic(tampered))
        .await
        .unwrap();
    op.wait_until(LONG, || {
        web(&server, "a")["spec"]["template"]["spec"]["containers"][0]["image"] == "web:1"
    })
    .await
    .unwrap();
    resyncs(&op, 1, 2).await;
    assert_eq!(
        deployment_writes(&server),
        vec![("apply".to_string(), "a-web".to_string())]
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_force_a_conflict_is_reported_and_the_other_managers_value_stays() {
    let server = server();
    let config = web_config(ChildConfig::apply().with_force(false));
    let op = TestOperator::start(&server, config, web_handler);
    create_echo(&server, "b", json!({})).await;
    op.wait_until(LONG, || !web(&server, "b").is_null())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();

    let edit = PatchParams {
        field_manager: Some("kubectl-edit".into()),
        ..PatchParams::default()
    };
    let theirs = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "theirs:2"}]}}}});
    deployments(&server)
        .patch("b-web", &edit, &Patch::Strategic(theirs))
        .await
        .unwrap();
    let error = || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "b")
            .and_then(|p| p["status"]["syncError"].as_str().map(str::to_string))
            .unwrap_or_default()
    };
    op.wait_until(LONG, || !error().is_empty()).await.unwrap();
    let message = error();
    assert!(message.contains("conflict"), "{message}");
    assert!(message.contains("kubectl-edit"), "{message}");
    assert!(message.contains("with_force(true)"), "{message}");
    assert!(
        events_for(&server, "b")
            .iter()
            .any(|(kind, reason, _)| kind == "Warning" && reason == "WriteFailed")
    );
    let image = &web(&server, "b")["spec"]["template"]["spec"]["containers"][0]["image"];
    assert_eq!(image, "theirs:2");

    // The handler follows: the conflict is gone, and so is the error.
    echoes(&server)
        .patch(
            "b",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"image": "theirs:2"}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || error().is_empty()).await.unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_created_under_replace_move_to_apply_on_their_next_change() {
    let server = server();
    let op = TestOperator::start(&server, web_config(ChildConfig::replace()), web_handler);
    create_echo(&server, "m", json!({"note": "hello"})).await;
    op.wait_until(LONG, || !web(&server, "m").is_null())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    op.stop().await.unwrap();

    // Same children, now under apply: converged, nothing to write.
    server.clear_requests();
    let op = TestOperator::start(&server, web_config(ChildConfig::apply()), web_handler);
    op.wait_ready(LONG).await.unwrap();
    resyncs(&op, 1, 2).await;
    assert_eq!(deployment_writes(&server), vec![]);

    // The handler drops the annotation: the ownership the creates and updates gave is moved to
    // the apply entry (one JSON patch), then the apply releases and removes it.
    echoes(&server)
        .patch(
            "m",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"note": null}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        web(&server, "m")["metadata"]["annotations"]
            .get("example.com/note")
            .is_none()
    })
    .await
    .unwrap();
    resyncs(&op, 1, 2).await;
    assert_eq!(
        deployment_writes(&server),
        vec![
            ("apply".to_string(), "m-web".to_string()),
            ("json-patch".to_string(), "m-web".to_string()),
        ]
    );
    let entries = web(&server, "m")["metadata"]["managedFields"].clone();
    let ours: Vec<&Value> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["manager"] == OPERATOR && e.get("subresource").is_none())
        .collect();
    assert_eq!(ours.len(), 1, "{entries}");
    assert_eq!(ours[0]["operation"], "Apply");
    op.stop().await.unwrap();
}
