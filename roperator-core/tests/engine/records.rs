//! The record the engine keeps on each child: small whatever the child's size, enough to
//! remove a field the handler dropped, kept on the child so that a restarted operator writes
//! nothing to converged children, and understood in its earlier form.

use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use roperator_core::{
    LAST_APPLIED_ANNOTATION, MANAGED_BY_LABEL, PARENT_UID_LABEL, RECORD_ANNOTATION,
};
use serde_json::{Value, json};

use crate::common::*;

/// The operator's writes since the log was last cleared, as (verb, resource, name), sorted
/// (the writes of one sync go out together).
fn writes(server: &ApiServer) -> Vec<(String, String, String)> {
    let mut writes: Vec<_> = operator_writes(server)
        .into_iter()
        .map(|w| (w.verb, w.resource, w.name.unwrap_or_default()))
        .collect();
    writes.sort();
    writes
}

/// [`writes`] to children only.
fn child_writes(server: &ApiServer) -> Vec<(String, String, String)> {
    let mut writes = writes(server);
    writes.retain(|w| w.1 != "echoes");
    writes
}

fn write(verb: &str, resource: &str, name: &str) -> (String, String, String) {
    (verb.to_string(), resource.to_string(), name.to_string())
}

/// Bytes of the annotations and labels the engine puts on a child.
fn engine_metadata_bytes(child: &Value) -> usize {
    let entry = |map: &str, key: &str| {
        child["metadata"][map][key]
            .as_str()
            .map_or(0, |v| key.len() + v.len())
    };
    entry("annotations", RECORD_ANNOTATION)
        + entry("labels", MANAGED_BY_LABEL)
        + entry("labels", PARENT_UID_LABEL)
}

// --- Children of any size ---

const KB: usize = 1024;

/// A ConfigMap (replaced) and a Secret (recreated), each holding `spec.size` KiB of
/// `spec.fill`, plus `spec.extra` when set; none when `spec.keep` is false.
fn big_handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let spec = &parent["spec"];
    if spec["keep"] == json!(false) {
        return Ok(SyncResponse::new());
    }
    let name = req.parent().name();
    let size = spec["size"].as_u64().unwrap_or(1) as usize * KB;
    let content = spec["fill"].as_str().unwrap_or("x").repeat(size);
    let mut data = json!({"content": content});
    if let Some(extra) = spec.get("extra") {
        data["extra"] = extra.clone();
    }
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-big")},
            "data": data,
        }))
        .with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{name}-big")},
            "stringData": data,
        })))
}

fn big_config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::recreate())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
}

async fn set_spec(server: &ApiServer, name: &str, spec: Value) {
    echoes(server)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": spec})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_of_300_kib_is_created_replaced_recreated_and_pruned() {
    let server = server();
    let op = TestOperator::start(&server, big_config(), big_handler);
    op.wait_ready(LONG).await.unwrap();
    let cm = || server.object("v1", "ConfigMap", Some(NS), "big-big");
    let secret = || server.object("v1", "Secret", Some(NS), "big-big");

    create_echo(
        &server,
        "big",
        json!({"size": 300, "fill": "x", "extra": "yes"}),
    )
    .await;
    op.wait_until(LONG, || cm().is_some() && secret().is_some())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    let created = cm().unwrap();
    assert_eq!(created["data"]["content"].as_str().unwrap().len(), 300 * KB);
    let bytes = engine_metadata_bytes(&created);
    assert!(bytes < KB, "{bytes} bytes of engine metadata");
    assert!(
        created["metadata"]["annotations"]
            .get(LAST_APPLIED_ANNOTATION)
            .is_none()
    );
    let first_secret = secret().unwrap();
    assert!(first_secret.get("stringData").is_none());
    assert!(engine_metadata_bytes(&first_secret) < KB);
    assert!(
        !first_secret["metadata"]["annotations"]
            .to_string()
            .contains("xxxx"),
        "no Secret value in its annotations"
    );
    assert_eq!(
        child_writes(&server),
        vec![
            write("create", "configmaps", "big-big"),
            write("create", "secrets", "big-big"),
        ]
    );

    // Another content, and the extra field dropped: the ConfigMap is replaced in place without
    // it, the Secret deleted and created again.
    server.clear_requests();
    set_spec(&server, "big", json!({"fill": "y", "extra": null})).await;
    op.wait_until(LONG, || {
        cm().is_some_and(|c| c["data"]["content"].as_str().unwrap().starts_with('y'))
            && secret().is_some_and(|s| s["metadata"]["uid"] != first_secret["metadata"]["uid"])
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let replaced = cm().unwrap();
    assert_eq!(
        replaced["data"].as_object().unwrap().len(),
        1,
        "extra is gone"
    );
    assert_eq!(replaced["metadata"]["uid"], created["metadata"]["uid"]);
    let recreated = secret().unwrap();
    assert_eq!(recreated["data"].as_object().unwrap().len(), 1);
    assert_eq!(
        child_writes(&server),
        vec![
            write("create", "secrets", "big-big"),
            write("delete", "secrets", "big-big"),
            write("update", "configmaps", "big-big"),
        ]
    );

    // No longer wanted: both pruned.
    server.clear_requests();
    set_spec(&server, "big", json!({"keep": false})).await;
    op.wait_until(LONG, || cm().is_none() && secret().is_none())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        child_writes(&server),
        vec![
            write("delete", "configmaps", "big-big"),
            write("delete", "secrets", "big-big"),
        ]
    );
    // Nothing the engine sent was refused along the way.
    assert!(
        server
            .requests()
            .writes()
            .iter()
            .all(|r| r.status < 400 || r.resource == "events"),
        "{:?}",
        server.requests().writes()
    );
    op.stop().await.unwrap();
}

// --- Restarts ---

/// Children whose values the API server normalizes: a Secret from `stringData`, a Deployment
/// asking for `0.5` cpu and `1024Mi` (stored as `500m` and `1Gi`) with everything else left to
/// the server's defaults, a Service whose cluster IP the server allocates (applied), and a
/// ConfigMap with empty maps (which a real API server does not store).
fn normalized_handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let name = req.parent().name();
    let labels = json!({"app": name});
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{name}-creds")},
            "stringData": {"password": format!("hunter2-{name}")},
        }))
        .with_child(&json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": format!("{name}-app")},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{
                        "name": "app", "image": "app:1",
                        "ports": [{"containerPort": 8080}],
                        "resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}}
                    }]}
                }
            }
        }))
        .with_child(&json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("{name}-svc")},
            "spec": {"selector": labels, "ports": [{"port": 80, "targetPort": 8080}]}
        }))
        .with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-settings"), "annotations": {}},
            "data": {}, "binaryData": {}
        }))
        .with_status(&json!({"ok": true})))
}

fn normalized_config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Service, ChildConfig::apply())
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::recreate())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
        .with_resync_period(Duration::from_millis(200))
}

/// Waits until every one of `parents` has been synced `rounds` more times, then returns the
/// operator's writes since the log was last cleared.
async fn writes_over_resyncs(
    server: &ApiServer,
    op: &TestOperator,
    parents: usize,
    rounds: usize,
) -> Vec<(String, String, String)> {
    let series = "roperator_syncs_total{result=\"success\"}";
    let target = metric(op, series) + (parents * rounds) as f64;
    op.wait_until(LONG, || metric(op, series) >= target)
        .await
        .unwrap();
    writes(server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_operator_writes_nothing_to_children_the_server_normalized() {
    const PARENTS: usize = 4;
    let server = server();
    server.simulate_workloads(true);
    let op = TestOperator::start(&server, normalized_config(), normalized_handler);
    for i in 0..PARENTS {
        create_echo(&server, &format!("n{i}"), json!({})).await;
    }
    op.wait_until(LONG, || {
        server
            .objects("test.roperator.io/v1", "Echo", Some(NS))
            .iter()
            .all(|p| p["status"]["ok"] == true)
    })
    .await
    .unwrap();
    // What the server made of the children.
    let secret = server.object("v1", "Secret", Some(NS), "n0-creds").unwrap();
    assert!(secret.get("stringData").is_none());
    assert_eq!(secret["data"]["password"], "aHVudGVyMi1uMA==");
    assert_eq!(secret["type"], "Opaque");
    let deployment = server
        .object("apps/v1", "Deployment", Some(NS), "n0-app")
        .unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["resources"]["requests"]["cpu"], "500m");
    assert_eq!(container["resources"]["requests"]["memory"], "1Gi");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let service = server.object("v1", "Service", Some(NS), "n0-svc").unwrap();
    assert!(
        service["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| !ip.is_empty())
    );

    server.clear_requests();
    assert_eq!(writes_over_resyncs(&server, &op, PARENTS, 3).await, vec![]);

    // A new engine on the same API server, with nothing in memory: still nothing to write.
    op.stop().await.unwrap();
    server.clear_requests();
    let op = TestOperator::start(&server, normalized_config(), normalized_handler);
    op.wait_ready(LONG).await.unwrap();
    assert_eq!(writes_over_resyncs(&server, &op, PARENTS, 3).await, vec![]);

    // Someone else's change to a value the server normalized is still repaired.
    Api::<DynamicObject>::namespaced_with(
        server.client(),
        NS,
        &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    )
    .patch(
        "n1-creds",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"password": "dGFtcGVyZWQ="}})),
    )
    .await
    .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "Secret", Some(NS), "n1-creds")
            .is_some_and(|s| s["data"]["password"] == "aHVudGVyMi1uMQ==")
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

// --- Children carrying the record of earlier versions ---

/// What earlier versions of the engine created for `parent`: `object` with the engine's
/// labels, the parent's controller reference and the whole answer in the last-applied
/// annotation (`recorded`, which for a Secret holds digests of the values).
async fn create_as_before(
    server: &ApiServer,
    parent: &Value,
    resource: kube::core::ApiResource,
    mut object: Value,
    recorded: Value,
) {
    let uid = parent["metadata"]["uid"].as_str().unwrap();
    let meta = &mut object["metadata"];
    meta["labels"][MANAGED_BY_LABEL] = json!(OPERATOR);
    meta["labels"][PARENT_UID_LABEL] = json!(uid);
    meta["annotations"][LAST_APPLIED_ANNOTATION] = json!(recorded.to_string());
    meta["ownerReferences"] = json!([{
        "apiVersion": "test.roperator.io/v1", "kind": "Echo",
        "name": parent["metadata"]["name"], "uid": uid,
        "controller": true, "blockOwnerDeletion": true,
    }]);
    let object: DynamicObject = serde_json::from_value(object).unwrap();
    let pp = PostParams {
        field_manager: Some(OPERATOR.to_string()),
        ..PostParams::default()
    };
    Api::<DynamicObject>::namespaced_with(server.client(), NS, &resource)
        .create(&pp, &object)
        .await
        .unwrap();
}

/// The salted digest earlier versions recorded for a Secret value.
fn old_digest(name: &str, field: &str, key: &str, value: &str) -> String {
    let input = format!("roperator/{name}/{field}/{key}\n{value}");
    let hash = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    let hex: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_with_the_old_record_need_no_write_until_their_answer_changes() {
    let server = server();
    // The parent and its children as an earlier version left them (`common::desired`).
    create_echo(&server, "old", json!({"message": "hi", "extra": "e"})).await;
    let parent = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "old")
        .unwrap();
    let configmaps = kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
    for (name, data) in [
        ("old-config", json!({"message": "hi", "extra": "e"})),
        ("old-more", json!({"more": "yes"})),
    ] {
        let mut answer = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NS}, "data": data});
        if name == "old-config" {
            answer["metadata"]["labels"] = json!({"app": "old"});
        }
        create_as_before(&server, &parent, configmaps.clone(), answer.clone(), answer).await;
    }
    let answer = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "old-secret", "namespace": NS},
        "type": "Opaque", "data": {"token": "c2VjcmV0"}});
    let mut recorded = answer.clone();
    recorded["data"]["token"] = json!(old_digest("old-secret", "data", "token", "c2VjcmV0"));
    create_as_before(
        &server,
        &parent,
        kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
        answer,
        recorded,
    )
    .await;

    // The new engine finds them converged: no write just to change the record.
    server.clear_requests();
    let op = TestOperator::start(
        &server,
        config().with_resync_period(Duration::from_millis(200)),
        echo_handler,
    );
    op.wait_ready(LONG).await.unwrap();
    let writes_now = writes_over_resyncs(&server, &op, 1, 3).await;
    assert!(
        writes_now.iter().all(|w| w.1 == "echoes"),
        "only the status condition may be written: {writes_now:?}"
    );

    // The answer changes: one write of the changed child, which removes the dropped field and
    // carries the new record in place of the old; the others keep the old record.
    server.clear_requests();
    set_spec(&server, "old", json!({"extra": null})).await;
    let cm = |name: &str| server.object("v1", "ConfigMap", Some(NS), name).unwrap();
    op.wait_until(LONG, || cm("old-config")["data"].get("extra").is_none())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        child_writes(&server),
        vec![write("update", "configmaps", "old-config")]
    );
    let migrated = cm("old-config");
    let annotations = &migrated["metadata"]["annotations"];
    assert!(annotations.get(LAST_APPLIED_ANNOTATION).is_none());
    assert!(annotations.get(RECORD_ANNOTATION).is_some());
    assert_eq!(migrated["data"], json!({"message": "hi"}));
    assert!(
        cm("old-more")["metadata"]["annotations"]
            .get(LAST_APPLIED_ANNOTATION)
            .is_some()
    );
    op.stop().await.unwrap();
}
