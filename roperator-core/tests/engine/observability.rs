//! Health, readiness and metrics endpoints; the hot-loop guard; async handlers; shutdown.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::*;

async fn http_get(address: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).await.unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics_are_served() {
    let server = server();
    let op = TestOperator::spawn(
        Operator::new(OPERATOR, server.client())
            .with_controller(config(), echo_handler)
            .with_server_address(([127, 0, 0, 1], 0)),
    );
    create_echo(&server, "m", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    let address = op.monitor().server_address().expect("the server listens");
    assert!(
        http_get(address, "/healthz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        http_get(address, "/readyz")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(http_get(address, "/nope").await.starts_with("HTTP/1.1 404"));
    let needles = [
        "roperator_syncs_total{controller=\"echo-test\",result=\"success\"}",
        "roperator_sync_duration_seconds_count{controller=\"echo-test\"}",
        "roperator_writes_total{controller=\"echo-test\",verb=\"create\",group=\"\",kind=\"ConfigMap\"} 2",
        "roperator_writes_total{controller=\"echo-test\",verb=\"create\",group=\"\",kind=\"Secret\"} 1",
        "roperator_writes_total{controller=\"echo-test\",verb=\"update_status\",group=\"test.roperator.io\",kind=\"Echo\"} 1",
        "roperator_cached_objects{group=\"\",kind=\"ConfigMap\"} 2",
        "roperator_cached_objects{group=\"test.roperator.io\",kind=\"Echo\"} 1",
        "roperator_queue_depth{controller=\"echo-test\"} 0",
        "roperator_leader 1",
        "roperator_write_conflicts_total{controller=\"echo-test\"} 0",
        "roperator_handlers_overrunning{controller=\"echo-test\"} 0",
        "roperator_events_dropped_total 0",
    ];
    // Gauges are refreshed every second: wait for the first refresh after convergence.
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let metrics = http_get(address, "/metrics").await;
        if needles.iter().all(|n| metrics.contains(n)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "missing from the metrics: {:?}\n{metrics}",
            needles
                .iter()
                .filter(|n| !metrics.contains(*n))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_changes_show_as_normal_events_on_the_parent_one_per_kind_of_change() {
    let server = server();
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "ev", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    let has = |reason: &str, note: &str| {
        events_for(&server, "ev")
            .iter()
            .any(|(t, r, n)| t == "Normal" && r == reason && n == note)
    };
    op.wait_until(LONG, || {
        has(
            "ChildCreated",
            "created ConfigMap default/ev-config, ConfigMap default/ev-more, Secret default/ev-secret",
        )
    })
    .await
    .unwrap_or_else(|_| panic!("{:?}", events_for(&server, "ev")));

    // One change and one removal in a single sync: two Events, each naming its child.
    echoes(&server)
        .patch(
            "ev",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"spec": {"message": "bye", "more": false}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        has("ChildReplaced", "replaced ConfigMap default/ev-config")
            && has("ChildDeleted", "deleted ConfigMap default/ev-more")
    })
    .await
    .unwrap_or_else(|_| panic!("{:?}", events_for(&server, "ev")));

    // Another creation is another Event with its own note, not a repeat of the first one.
    echoes(&server)
        .patch(
            "ev",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"spec": {"more": null}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        has("ChildCreated", "created ConfigMap default/ev-more")
    })
    .await
    .unwrap_or_else(|_| panic!("{:?}", events_for(&server, "ev")));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_that_changes_on_every_call_is_slowed_down_and_reported() {
    let server = server();
    let calls = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&calls);
    let op = TestOperator::start(&server, config(), move |_req: &SyncRequest| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        // Asking for an immediate resync while changing the status every time: each sync writes.
        Ok::<_, Error>(
            SyncResponse::new()
                .with_status(&json!({"calls": n}))
                .with_resync_after(Duration::from_millis(1)),
        )
    });
    create_echo(&server, "hot", json!({})).await;
    op.wait_until(LONG, || {
        events_for(&server, "hot")
            .iter()
            .any(|(t, r, _)| t == "Warning" && r == "HotLoop")
    })
    .await
    .unwrap();
    // Unchecked, a sync (and a write) every millisecond. Spaced by the growing backoff
    // (20, 40, 80, 160 ms, each at least 75% of that), the next four writes take a while; a
    // slow machine only makes them take longer.
    server.clear_requests();
    let started = tokio::time::Instant::now();
    op.wait_until(LONG, || operator_writes(&server).len() >= 4)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(150),
        "four writes in {elapsed:?}: the hot loop is not spaced"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_handler_sees_the_children_it_made() {
    let server = server();
    let seen = Arc::new(AtomicU64::new(0));
    let seen_in = Arc::clone(&seen);
    let op = TestOperator::start_async(&server, config(), move |req: SyncRequest| {
        let seen = Arc::clone(&seen_in);
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            let configs = req
                .children(k8s_types::core::v1::ConfigMap)
                .map(Observed::parse::<k8s_openapi::api::core::v1::ConfigMap>)
                .collect::<Result<Vec<_>, _>>()?;
            seen.fetch_max(configs.len() as u64, Ordering::SeqCst);
            echo_handler(&req)
        }
    });
    create_echo(&server, "a", json!({"message": "async"})).await;
    op.converge(LONG).await.unwrap();
    assert_eq!(managed_children(&server).len(), 3);
    echoes(&server)
        .patch(
            "a",
            &Default::default(),
            &kube::api::Patch::Merge(&json!({"spec": {"message": "again"}})),
        )
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        seen.load(Ordering::SeqCst),
        2,
        "a later sync sees both ConfigMaps"
    );
    assert_eq!(
        server
            .object("v1", "ConfigMap", Some(NS), "a-config")
            .unwrap()["data"]["message"],
        "again"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_sync_finish_its_writes() {
    let server = server();
    let op = TestOperator::start(&server, config(), |req: &SyncRequest| {
        std::thread::sleep(Duration::from_millis(400));
        echo_handler(req)
    });
    op.wait_ready(LONG).await.unwrap();
    create_echo(&server, "slow", json!({"message": "hi"})).await;
    op.wait_until(LONG, || !op.monitor().is_idle())
        .await
        .unwrap();
    op.stop().await.unwrap();
    assert_eq!(
        managed_children(&server).len(),
        3,
        "the sync that was running completed"
    );
}
