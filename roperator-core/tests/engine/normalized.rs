//! Values the API server stores in another form than the one written (resource quantities)
//! are not drift: a converged child is not written again.

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
    let parent = req.parent_json();
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

fn config() -> OperatorConfig {
    OperatorConfig::new(OPERATOR, &ECHO)
        .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
        .with_resync_period(Duration::from_millis(300))
        .without_server()
}

/// The canonical form of the few quantities these tests use, as an API server stores them.
fn canonical(quantity: &str) -> Option<&'static str> {
    match quantity {
        "0.5" => Some("500m"),
        "0.75" => Some("750m"),
        "1024Mi" => Some("1Gi"),
        _ => None,
    }
}

fn canonicalize_containers(object: &mut Value) {
    let Some(containers) = object
        .pointer_mut("/spec/template/spec/containers")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for container in containers {
        for list in ["requests", "limits"] {
            let Some(Value::Object(quantities)) =
                container.pointer_mut(&format!("/resources/{list}"))
            else {
                continue;
            };
            for value in quantities.values_mut() {
                if let Some(c) = value.as_str().and_then(canonical) {
                    *value = json!(c);
                }
            }
        }
    }
}

/// A client for the operator whose creates and updates of Deployments have their quantities
/// canonicalized before the server stores them, the way a real API server does (in the role of
/// a mutating admission step in front of the testkit server).
fn normalizing_client(server: &ApiServer) -> kube::Client {
    let service = server.service();
    let normalizing = tower::service_fn(move |req: http::Request<kube::client::Body>| {
        let mut service = service.clone();
        async move {
            let (mut parts, body) = req.into_parts();
            let mut bytes = body.collect().await?.to_bytes();
            let writes = parts.method == http::Method::POST || parts.method == http::Method::PUT;
            if writes
                && parts.uri.path().contains("/deployments")
                && let Ok(mut object) = serde_json::from_slice::<Value>(&bytes)
            {
                canonicalize_containers(&mut object);
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
    kube::Client::new(normalizing, NS)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quantity_the_server_canonicalizes_is_written_once_and_left_alone() {
    let server = server();
    server.simulate_workloads(true);
    let op = TestOperator::spawn(Operator::new(
        normalizing_client(&server),
        config(),
        deployment_handler,
    ));
    const PARENTS: usize = 5;
    for i in 0..PARENTS {
        create_echo(&server, &format!("n{i}"), json!({"cpu": "0.5"})).await;
    }
    op.wait_until(LONG, || {
        (0..PARENTS).all(|i| cpu_of(&server, &format!("n{i}")) == "500m")
            && server
                .objects("test.roperator.io/v1", "Echo", Some(NS))
                .iter()
                .all(|p| p["status"]["observedGeneration"] == 1)
    })
    .await
    .unwrap();
    let memory = server
        .object("apps/v1", "Deployment", Some(NS), "n0-app")
        .map(|d| {
            d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["memory"]
                .clone()
        });
    assert_eq!(memory, Some(json!("1Gi")));

    // Converged: resyncs (and the simulated controllers updating the Deployments' status)
    // write nothing.
    server.clear_requests();
    let writes = writes_after_resyncs(&server, &op, PARENTS, 3).await;
    assert_eq!(writes, vec![]);

    // Someone else's change to a field the handler sets is repaired, once.
    server.clear_requests();
    deployments(&server)
        .patch(
            "n1-app",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"containers": [{
                "name": "app", "image": "app:1", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}
            }]}}}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || cpu_of(&server, "n1") == "500m")
        .await
        .unwrap();

    // A new desired value is written, once.
    echoes(&server)
        .patch(
            "n2",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cpu": "0.75"}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || cpu_of(&server, "n2") == "750m")
        .await
        .unwrap();

    // One write each (and n2's new status), nothing more over the following resyncs.
    let writes = writes_after_resyncs(&server, &op, PARENTS, 3).await;
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
    op.stop().await.unwrap();
}
