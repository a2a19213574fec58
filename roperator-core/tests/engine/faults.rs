//! Failing writes and cut watches: 500 parents still converge, exactly.

use std::time::Duration;

use roperator_core::testkit::{FaultRule, TestOperator};
use serde_json::json;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_parents_converge_through_failing_writes_and_cut_watches() {
    let server = server();
    for i in 0..500 {
        create_echo(
            &server,
            &format!("f{i:03}"),
            json!({"message": format!("m{i}")}),
        )
        .await;
    }
    // About 10% of writes fail, spread over 409, 429 and 500.
    for verb in ["create", "update", "patch", "delete"] {
        for status in [409u16, 429, 500] {
            server.faults().add(
                FaultRule::new()
                    .verb(verb)
                    .status(status)
                    .probability(0.034),
            );
        }
    }
    let op = TestOperator::start(&server, config(), echo_handler);
    let cutter = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                server.cut_watches();
            }
        })
    };
    // Change a fifth of them halfway, so that updates meet faults too.
    op.wait_until(Duration::from_secs(120), || {
        managed_children(&server).len() >= 500
    })
    .await
    .unwrap();
    let api = echoes(&server);
    for i in 0..100 {
        let name = format!("f{i:03}");
        loop {
            let patch = json!({"spec": {"more": false, "extra": "e"}});
            let result = api
                .patch(&name, &Default::default(), &kube::api::Patch::Merge(&patch))
                .await;
            if result.is_ok() {
                break;
            }
        }
    }
    let expected = |i: usize| -> usize { if i < 100 { 2 } else { 3 } };
    let total: usize = (0..500).map(expected).sum();
    op.wait_until(Duration::from_secs(120), || {
        managed_children(&server).len() == total
    })
    .await
    .unwrap();
    op.settle(Duration::from_secs(120), Duration::from_millis(500))
        .await
        .unwrap();
    cutter.abort();
    server.faults().clear();
    op.converge(LONG).await.unwrap();

    assert!(
        server.requests().writes().iter().any(|w| w.status >= 400),
        "faults were injected"
    );
    let cms = configmaps(&server);
    let mut want = Vec::new();
    for i in 0..500 {
        let name = format!("f{i:03}");
        let parent = server
            .object("test.roperator.io/v1", "Echo", Some(NS), &name)
            .unwrap();
        let puid = parent["metadata"]["uid"].clone();
        let config = cms
            .iter()
            .find(|c| c["metadata"]["name"] == format!("{name}-config"))
            .unwrap();
        let data = if i < 100 {
            json!({"message": format!("m{i}"), "extra": "e"})
        } else {
            json!({"message": format!("m{i}")})
        };
        assert_eq!(config["data"], data, "{name}");
        assert_eq!(
            config["metadata"]["ownerReferences"][0]["uid"], puid,
            "{name}"
        );
        assert_eq!(parent["status"]["message"], format!("m{i}"), "{name}");
        want.push(("ConfigMap".to_string(), format!("{name}-config")));
        if i >= 100 {
            want.push(("ConfigMap".to_string(), format!("{name}-more")));
        }
        want.push(("Secret".to_string(), format!("{name}-secret")));
    }
    want.sort();
    // No duplicate, orphaned or lost child.
    assert_eq!(managed_children(&server), want);
    assert!(
        !op.is_finished(),
        "the operator is still running (no panic)"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_write_that_conflicts_is_retried_by_a_fresh_sync() {
    let server = server();
    // Status writes are the engine's only PUTs of the parent type.
    server.faults().add(
        FaultRule::new()
            .verb("update")
            .resource("echoes")
            .status(409),
    );
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "contended", json!({"message": "hi"})).await;
    op.wait_until(LONG, || {
        metric(&op, "roperator_write_conflicts_total") >= 2.0
    })
    .await
    .unwrap();
    let status = |server: &roperator_core::testkit::ApiServer| {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "contended")
            .map(|o| o["status"].clone())
    };
    assert_eq!(status(&server), Some(serde_json::Value::Null));
    assert_eq!(managed_children(&server).len(), 3, "children are written");

    server.faults().clear();
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "contended")
            .is_some_and(|parent| {
                parent["status"]["conditions"].is_array()
                    && status_without_synced(&parent, true)
                        == json!({"message": "hi", "observedGeneration": 1})
            })
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}
