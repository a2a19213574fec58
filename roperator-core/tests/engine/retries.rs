//! How failing and stuck handlers are retried: at the backoff's pace, one call per parent at a
//! time, without holding up other parents.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};

use crate::common::*;

/// Handler calls per parent name.
type Calls = Arc<Mutex<HashMap<String, u32>>>;

fn calls_of(calls: &Calls, name: &str) -> u32 {
    calls.lock().unwrap().get(name).copied().unwrap_or(0)
}

async fn set_mode(server: &roperator_core::testkit::ApiServer, name: &str, mode: &str) {
    echoes(server)
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"mode": mode}})),
        )
        .await
        .unwrap();
}

fn status_message(server: &roperator_core::testkit::ApiServer, name: &str) -> Value {
    server
        .object("test.roperator.io/v1", "Echo", Some(NS), name)
        .map(|o| o["status"]["message"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_parent_waits_out_its_backoff_on_child_events_but_not_on_its_own_change() {
    let server = server();
    let calls: Calls = Arc::default();
    let counter = Arc::clone(&calls);
    // A backoff far longer than the test: any retry seen here was brought by an event.
    let config = config().with_error_backoff(Duration::from_secs(60), Duration::from_secs(60));
    let op = TestOperator::start(&server, config, move |req: &SyncRequest| {
        let parent = req.parent().json();
        if parent["spec"]["mode"] == "fail" {
            *counter
                .lock()
                .unwrap()
                .entry(req.parent().name().to_string())
                .or_default() += 1;
            return Err("the backend is down".to_string());
        }
        echo_handler(req).map_err(|e| e.to_string())
    });
    create_echo(&server, "flaky", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();

    set_mode(&server, "flaky", "fail").await;
    op.wait_until(LONG, || calls_of(&calls, "flaky") == 1)
        .await
        .unwrap();
    // Others change its children (think of a Deployment's status): no retry before the backoff.
    let configmaps: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    for i in 0..10 {
        configmaps
            .patch(
                "flaky-config",
                &PatchParams::default(),
                &Patch::Merge(&json!({"metadata": {"annotations": {"touched": i.to_string()}}})),
            )
            .await
            .unwrap();
    }
    op.settle(LONG, Duration::from_millis(500)).await.unwrap();
    assert_eq!(calls_of(&calls, "flaky"), 1);

    // A change of the parent itself may be the fix: it is synced at once.
    echoes(&server)
        .patch(
            "flaky",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"mode": "good", "message": "fixed"}})),
        )
        .await
        .unwrap();
    op.wait_until(Duration::from_secs(30), || {
        status_message(&server, "flaky") == "fixed"
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_never_returns_holds_up_only_its_own_parent() {
    let server = server();
    let calls: Calls = Arc::default();
    let released = Arc::new(AtomicBool::new(false));
    let (counter, release) = (Arc::clone(&calls), Arc::clone(&released));
    let config = config().with_sync_timeout(Duration::from_millis(200));
    let op = TestOperator::start(&server, config, move |req: &SyncRequest| {
        *counter
            .lock()
            .unwrap()
            .entry(req.parent().name().to_string())
            .or_default() += 1;
        if req.parent().json()["spec"]["mode"] == "hang" {
            while !release.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        echo_handler(req)
    });
    let overrunning = |op: &TestOperator| metric(op, "roperator_handlers_overrunning");

    create_echo(&server, "stuck", json!({"message": "hi", "mode": "hang"})).await;
    op.wait_until(LONG, || overrunning(&op) == 1.0)
        .await
        .unwrap();
    // Other parents are synced meanwhile.
    create_echo(&server, "free", json!({"message": "hi"})).await;
    op.wait_until(LONG, || status_message(&server, "free") == "hi")
        .await
        .unwrap();
    // A change of the stuck parent does not start a second call of its handler. A parent
    // created after that change is synced: its event came later from the same watch, so the
    // stuck parent's event has been handled by then.
    set_mode(&server, "stuck", "good").await;
    create_echo(&server, "later", json!({"message": "hi"})).await;
    op.wait_until(LONG, || status_message(&server, "later") == "hi")
        .await
        .unwrap();
    assert_eq!(calls_of(&calls, "stuck"), 1);
    assert!(
        server
            .object("v1", "ConfigMap", Some(NS), "stuck-config")
            .is_none()
    );

    // Once the call returns (its late answer is discarded), the parent is synced again.
    released.store(true, Ordering::SeqCst);
    op.wait_until(LONG, || {
        status_message(&server, "stuck") == "hi"
            && server
                .object("v1", "ConfigMap", Some(NS), "stuck-config")
                .is_some()
    })
    .await
    .unwrap();
    assert_eq!(overrunning(&op), 0.0);
    assert!(calls_of(&calls, "stuck") >= 2);
    assert_eq!(
        metric(&op, "roperator_syncs_total{result=\"timeout\"}"),
        1.0,
        "one timeout, counted once"
    );
    op.stop().await.unwrap();
}
