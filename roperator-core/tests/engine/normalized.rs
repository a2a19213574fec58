//! Values the API server stores in another form than the one written (resource quantities, a
//! mutating webhook's rewrite) are not drift: a converged child is not written again, by the
//! operator that wrote it or by a restarted one.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

use crate::common::*;

/// The child Deployment `<name>-app`, requesting `spec.cpu` and 1024Mi of memory.
fn deployment_handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let name = parent["metadata"]["name"].as_str().unwrap_or_default();
    let labels = json!({"app": name});
    let child = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": format!("{name}-app")},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{
                    "name": "app", "image": "app:1",
                    "resources": {"requests": {"cpu": parent["spec"]["cpu"], "memory": "1024Mi"}}
                }]}
            }
        }
    });
    Ok(SyncResponse::new()
        .with_child(&child)
        .with_status(&json!({"cpu": parent["spec"]["cpu"]})))
}

fn config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
        .with_resync_period(Duration::from_millis(300))
}

/// What the mutating webhook below makes of an image: a fully qualified reference.
const IMAGE_AS_STORED: &str = "registry.example/library/app:1";

/// A client for the operator whose creates and updates of Deployments pass a mutating admission
/// step, as on clusters where a webhook qualifies image references, before the testkit server
/// stores them.
fn webhook_client(server: &ApiServer) -> kube::Client {
    let service = server.service();
    let mutating = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let mut service = service.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let mut bytes = body.collect().await?.to_bytes();
            let writes = parts.method == http::Method::POST || parts.method == http::Method::PUT;
            if writes
                && parts.uri.path().contains("/deployments")
                && let Ok(mut object) = serde_json::from_slice::<Value>(&bytes)
            {
                if let Some(Value::Array(containers)) =
                    object.pointer_mut("/spec/template/spec/containers")
                {
                    for c in containers.iter_mut().filter(|c| c["image"] == "app:1") {
                        c["image"] = json!(IMAGE_AS_STORED);
                    }
                }
                bytes = Bytes::from(serde_json::to_vec(&object)?);
                parts.headers.remove(http::header::CONTENT_LENGTH);
            }
            let response = tower::Service::call(
                &mut service,
                http::Request::from_parts(parts, Full::new(bytes)),
            )
            .await?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(response)
        }
    });
    kube::Client::new(mutating, NS)
}

fn deployments(server: &ApiServer) -> Api<DynamicObject> {
    Api::namespaced_with(
        server.client(),
        NS,
        &kube::core::ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
    )
}

fn cpu_of(server: &ApiServer, name: &str) -> Value {
    server
        .object("apps/v1", "Deployment", Some(NS), &format!("{name}-app"))
        .map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"].clone()
        })
        .unwrap_or(Value::Null)
}

/// Waits until every parent has been synced at least `rounds` more times (by the resync
/// period), then returns the operator's writes since the request log was last cleared, as
/// (verb, path) sorted.
async fn writes_after_resyncs(
    server: &ApiServer,
    op: &TestOperator,
    parents: usize,
    rounds: usize,
) -> Vec<(String, String)> {
    let before = metric(op, "roperator_syncs_total{result=\"success\"}");
    let target = before + (parents * rounds) as f64;
    op.wait_until(LONG, || {
        metric(op, "roperator_syncs_total{result=\"success\"}") >= target
    })
    .await
    .unwrap();
    let mut writes: Vec<(String, String)> = operator_writes(server)
        .into_iter()
        .map(|w| (w.verb, w.path))
        .collect();
    writes.sort();
    writes
}

fn container_of(server: &ApiServer, name: &str) -> Value {
    server
        .object("apps/v1", "Deployment", Some(NS), &format!("{name}-app"))
        .map(|d| d["spec"]["template"]["spec"]["containers"][0].clone())
        .unwrap_or(Value::Null)
}

/// Five parents asking for `cpu: "0.5"` and `memory: "1024Mi"`, which the testkit server
/// stores as `500m` and `1Gi` (as a real API server does), and image `app:1`, stored as
/// `image_as`. Converged children are not written by resyncs (nor when the simulated
/// controllers update their status); someone else's change to the cpu and a new desired cpu
/// are each written exactly once.
async fn converges_and_stays_quiet(server: &ApiServer, op: &TestOperator, image_as: &str) {
    const PARENTS: usize = 5;
    for i in 0..PARENTS {
        create_echo(server, &format!("n{i}"), json!({"cpu": "0.5"})).await;
    }
    op.wait_until(LONG, || {
        (0..PARENTS).all(|i| cpu_of(server, &format!("n{i}")) == "500m")
            && server
                .objects("test.roperator.io/v1", "Echo", Some(NS))
                .iter()
                .all(|p| p["status"]["observedGeneration"] == 1)
    })
    .await
    .unwrap();
    let container = container_of(server, "n0");
    assert_eq!(container["resources"]["requests"]["memory"], "1Gi");
    assert_eq!(container["image"], image_as);

    server.clear_requests();
    let writes = writes_after_resyncs(server, op, PARENTS, 3).await;
    assert_eq!(writes, vec![]);

    // Someone else's change to a field the handler sets is repaired.
    server.clear_requests();
    deployments(server)
        .patch(
            "n1-app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{
                "name": "app", "image": image_as,
                "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}
            }]}}}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || cpu_of(server, "n1") == "500m")
        .await
        .unwrap();

    // A new desired value is written.
    echoes(server)
        .patch(
            "n2",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cpu": "0.75"}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || cpu_of(server, "n2") == "750m")
        .await
        .unwrap();

    // One write each (and n2's new status), nothing more over the following resyncs.
    let writes = writes_after_resyncs(server, op, PARENTS, 3).await;
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let echoes = "/apis/test.roperator.io/v1/namespaces/default/echoes";
    assert_eq!(
        writes,
        vec![
            ("update".to_string(), format!("{deployments}/n1-app")),
            ("update".to_string(), format!("{deployments}/n2-app")),
            ("update".to_string(), format!("{echoes}/n2/status")),
        ]
    );
}

/// Stops `op`, starts a fresh operator (a new engine on the same API server) and returns its
/// writes over three resyncs.
async fn writes_after_restart(
    server: &ApiServer,
    op: TestOperator,
    client: kube::Client,
) -> Vec<(String, String)> {
    op.stop().await.unwrap();
    server.clear_requests();
    let op = TestOperator::spawn(
        Operator::new(OPERATOR, client).with_controller(config(), deployment_handler),
    );
    op.wait_ready(LONG).await.unwrap();
    let writes = writes_after_resyncs(server, &op, 5, 3).await;
    op.stop().await.unwrap();
    writes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantities_the_server_canonicalizes_are_not_drift() {
    let server = server();
    server.simulate_workloads(true);
    let op = TestOperator::start(&server, config(), deployment_handler);
    converges_and_stays_quiet(&server, &op, "app:1").await;
    // A restarted operator recognizes 500m as 0.5: still no write.
    let writes = writes_after_restart(&server, op, server.client()).await;
    assert_eq!(writes, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_a_mutating_webhook_rewrites_is_not_drift() {
    let server = server();
    server.simulate_workloads(true);
    let op = TestOperator::spawn(
        Operator::new(OPERATOR, webhook_client(&server))
            .with_controller(config(), deployment_handler),
    );
    converges_and_stays_quiet(&server, &op, IMAGE_AS_STORED).await;
    // The rewritten image is still owned by the operator's field manager (the webhook acted on
    // its request), so a restarted operator, which remembers nothing, writes nothing either.
    let writes = writes_after_restart(&server, op, webhook_client(&server)).await;
    assert_eq!(writes, vec![]);
}
