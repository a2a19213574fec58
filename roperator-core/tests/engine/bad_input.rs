//! A bad answer from the handler (or a bad parent) changes nothing and shows a Warning Event.

use std::time::Duration;

use kube::api::{Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};

use crate::common::*;

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct TypedEcho {
    spec: TypedSpec,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct TypedSpec {
    message: String,
    #[serde(default)]
    count: u32,
}

fn moody(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let mut children = desired(parent);
    match parent["spec"]["mode"].as_str().unwrap_or("good") {
        "no-api-version" => {
            children[0].as_object_mut().unwrap().remove("apiVersion");
        }
        "no-kind" => {
            children[1].as_object_mut().unwrap().remove("kind");
        }
        "unconfigured" => children.push(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}),
        ),
        "no-name" => {
            children[0]["metadata"]
                .as_object_mut()
                .unwrap()
                .remove("name");
        }
        "bad-name" => children[0]["metadata"]["name"] = json!("Not_Valid"),
        "other-namespace" => children[0]["metadata"]["namespace"] = json!("elsewhere"),
        "duplicate" => children.push(children[0].clone()),
        "panic" => panic!("handler exploded"),
        "hang" => std::thread::sleep(Duration::from_millis(1500)),
        "typed" => {
            let _typed: TypedEcho = req.parent().parse()?;
        }
        _ => {}
    }
    Ok(children
        .iter()
        .fold(SyncResponse::new(), |r, c| r.with_child(c))
        .with_status(&json!({"message": parent["spec"]["message"]})))
}

fn child_versions(server: &roperator_core::testkit::ApiServer) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = configmaps(server)
        .into_iter()
        .chain(secrets(server))
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bad_input_leaves_children_untouched_and_shows_a_warning() {
    let server = server();
    let config = config().with_sync_timeout(Duration::from_millis(300));
    let op = TestOperator::start(&server, config, moody);
    let cases: [(&str, &str, &str); 10] = [
        (
            "no-api-version",
            "InvalidSyncResponse",
            "desired child #1: apiVersion is missing",
        ),
        (
            "no-kind",
            "InvalidSyncResponse",
            "desired child #2: kind is missing",
        ),
        (
            "unconfigured",
            "InvalidSyncResponse",
            "(apps/v1 Deployment \"d\"): apiVersion/kind apps/v1 Deployment is not a configured child type",
        ),
        ("no-name", "InvalidSyncResponse", "metadata.name is missing"),
        (
            "bad-name",
            "InvalidSyncResponse",
            "metadata.name \"Not_Valid\" is not a valid name",
        ),
        (
            "other-namespace",
            "InvalidSyncResponse",
            "metadata.namespace \"elsewhere\" differs from the parent's namespace \"default\"",
        ),
        (
            "duplicate",
            "InvalidSyncResponse",
            "duplicates desired child #1",
        ),
        ("panic", "HandlerPanicked", "handler exploded"),
        ("hang", "HandlerTimeout", "did not return within 300ms"),
        ("typed", "SyncFailed", "does not deserialize"),
    ];
    for (mode, _, _) in &cases {
        create_echo(&server, mode, json!({"message": "hi", "mode": "good"})).await;
    }
    op.converge(LONG).await.unwrap();
    let before = child_versions(&server);
    assert_eq!(before.len(), 30);

    server.clear_requests();
    let api = echoes(&server);
    for (mode, _, _) in &cases {
        let mut spec = json!({"spec": {"mode": mode, "message": "changed"}});
        if *mode == "typed" {
            spec["spec"]["count"] = json!("three");
        }
        api.patch(mode, &PatchParams::default(), &Patch::Merge(&spec))
            .await
            .unwrap();
    }
    for (mode, reason, note) in &cases {
        op.wait_until(LONG, || {
            events_for(&server, mode)
                .iter()
                .any(|(t, r, n)| t == "Warning" && r == reason && n.contains(note))
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no Warning {reason} containing {note:?} for {mode}: {:?}",
                events_for(&server, mode)
            )
        });
    }
    // The parent's status shows the error, a timed-out handler's included.
    for (mode, reason, note) in &cases {
        let parent = server
            .object("test.roperator.io/v1", "Echo", Some(NS), mode)
            .unwrap();
        // `kubectl get` shows the failure through the Synced condition.
        status_without_synced(&parent, false);
        let synced = parent["status"]["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Synced"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(synced["reason"], *reason, "{mode}: {synced}");
        assert!(
            synced["message"]
                .as_str()
                .unwrap_or_default()
                .contains(note),
            "{mode}: {synced}"
        );
        let shown = parent["status"]["syncError"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(shown.contains(note), "{mode}: {shown:?}");
        assert_eq!(
            parent["status"]["observedGeneration"], 1,
            "{mode}: still the last good one"
        );
    }
    // The message changed in every spec, yet no child was written or deleted.
    assert_eq!(child_versions(&server), before);
    let child_writes: Vec<_> = operator_writes(&server)
        .into_iter()
        .filter(|w| w.resource == "configmaps" || w.resource == "secrets")
        .collect();
    assert!(child_writes.is_empty(), "{child_writes:#?}");
    assert!(metric(&op, "roperator_syncs_total{result=\"invalid\"}") >= 7.0);
    assert!(metric(&op, "roperator_syncs_total{result=\"panic\"}") >= 1.0);

    // Fixing the input brings the parent back without restarting anything.
    api.patch(
        "panic",
        &PatchParams::default(),
        &Patch::Merge(&json!({"spec": {"mode": "good"}})),
    )
    .await
    .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "panic-config")
            .is_some_and(|c: Value| c["data"]["message"] == "changed")
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let fixed = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "panic")
        .unwrap();
    assert_eq!(
        status_without_synced(&fixed, true),
        json!({"message": "changed", "observedGeneration": 3})
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_type_without_a_status_subresource_is_refused_at_start() {
    let server = roperator_core::testkit::ApiServer::new();
    let mut crd = echo_crd();
    crd["spec"]["versions"][0]
        .as_object_mut()
        .unwrap()
        .remove("subresources");
    server.register_crd(&crd).unwrap();
    let op = TestOperator::start(&server, config(), echo_handler);
    let error = op.stop().await.unwrap_err().to_string();
    assert!(
        error.contains("test.roperator.io/v1 Echo has no status subresource"),
        "{error}"
    );
}
