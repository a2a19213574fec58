//! A field the handler returns empty (`data: {}`, `hard: {}`, `ports: []`) that the API server
//! leaves out of what it stores, as Go's encoder drops empty `omitempty` fields: not drift.

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;

use crate::common::*;

/// A ConfigMap `<name>-empty` with an empty `data`.
fn empty_data(req: &SyncRequest) -> Result<SyncResponse, Error> {
    Ok(SyncResponse::new().with_child(&json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}-empty", req.parent().name())},
        "data": {},
    })))
}

/// While the operator runs, the memory of its last write explains the missing field. A freshly
/// started operator (a restart, a new leader) has no such memory and compares the handler's
/// `data: {}` with a stored object without `data`: it rewrites every such child once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_field_the_server_leaves_out_is_not_rewritten_after_a_restart() {
    let server = server();
    let op = TestOperator::start(&server, config(), empty_data);
    create_echo(&server, "quiet", json!({"message": "hi"})).await;
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "quiet-empty")
            .is_some()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let stored = server
        .object("v1", "ConfigMap", Some(NS), "quiet-empty")
        .unwrap();
    assert!(
        stored.get("data").is_none(),
        "the server leaves it out: {stored}"
    );
    op.stop().await.unwrap();

    server.clear_requests();
    let op = TestOperator::start(&server, config(), empty_data);
    op.wait_until(LONG, || {
        metric(&op, "roperator_syncs_total{result=\"success\"}") >= 1.0
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let writes: Vec<String> = operator_writes(&server)
        .into_iter()
        .map(|w| format!("{} {}", w.verb, w.path))
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");
    op.stop().await.unwrap();
}
