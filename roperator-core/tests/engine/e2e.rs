//! End to end: a create storm, changes, deletions, and a quiet steady state.

use std::time::Duration;

use kube::api::{DeleteParams, Patch, PatchParams};
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};

use crate::common::*;

fn by_name(objects: &[Value], name: &str) -> Option<Value> {
    objects
        .iter()
        .find(|o| o["metadata"]["name"] == name)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_parents_converge_change_and_go_with_an_exact_number_of_writes() {
    let server = server();
    let op = TestOperator::start(&server, config(), echo_handler);
    op.wait_ready(LONG).await.unwrap();

    for i in 0..200 {
        create_echo(
            &server,
            &format!("e{i:03}"),
            json!({"message": format!("m{i}"), "extra": "x"}),
        )
        .await;
    }
    op.converge(LONG).await.unwrap();
    assert_eq!(managed_children(&server).len(), 600);
    // Every parent: 3 creates + 1 status write; nothing else.
    let writes = operator_writes(&server);
    assert_eq!(writes.len(), 800, "{:#?}", &writes[..writes.len().min(20)]);
    assert_eq!(writes.iter().filter(|w| w.verb == "create").count(), 600);
    assert_eq!(
        writes
            .iter()
            .filter(|w| w.subresource.as_deref() == Some("status"))
            .count(),
        200
    );
    let cms = configmaps(&server);
    let config7 = by_name(&cms, "e007-config").unwrap();
    assert_eq!(config7["data"], json!({"message": "m7", "extra": "x"}));
    assert_eq!(config7["metadata"]["labels"]["app"], "e007");
    let e7 = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "e007")
        .unwrap();
    assert_eq!(
        status_without_synced(&e7, true),
        json!({"message": "m7", "observedGeneration": 1})
    );
    assert_eq!(
        config7["metadata"]["ownerReferences"][0]["uid"],
        e7["metadata"]["uid"]
    );

    // Change half: all of them drop `extra` (a removed field), the first 50 also drop a child.
    server.clear_requests();
    let api = echoes(&server);
    for i in 0..100 {
        let spec = if i < 50 {
            json!({"message": format!("m{i}"), "more": false})
        } else {
            json!({"message": format!("m{i}")})
        };
        // A JSON merge patch with `extra: null` removes the field from the parent.
        let mut patch = json!({"spec": spec});
        patch["spec"]["extra"] = Value::Null;
        api.patch(
            &format!("e{i:03}"),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .unwrap();
    }
    // Delete a quarter, without a finalizer: garbage collection removes their children.
    for i in 150..200 {
        api.delete(&format!("e{i:03}"), &DeleteParams::default())
            .await
            .unwrap();
    }
    op.converge(LONG).await.unwrap();
    op.wait_until(LONG, || managed_children(&server).len() == 400)
        .await
        .unwrap();

    let writes = operator_writes(&server);
    let count = |verb: &str| writes.iter().filter(|w| w.verb == verb).count();
    // 100 config replacements, 50 prunes, 100 status writes (observedGeneration moved).
    assert_eq!(count("create"), 0, "{writes:#?}");
    assert_eq!(count("delete"), 50);
    assert_eq!(
        writes
            .iter()
            .filter(|w| w.verb == "update" && w.subresource.is_none())
            .count(),
        100
    );
    assert_eq!(
        writes
            .iter()
            .filter(|w| w.subresource.as_deref() == Some("status"))
            .count(),
        100
    );
    assert_eq!(writes.len(), 250);

    // The exact final state.
    let cms = configmaps(&server);
    let secrets = secrets(&server);
    let mut expected = Vec::new();
    for i in 0..150 {
        let name = format!("e{i:03}");
        let config = by_name(&cms, &format!("{name}-config")).unwrap();
        let want = if i < 100 {
            json!({"message": format!("m{i}")})
        } else {
            json!({"message": format!("m{i}"), "extra": "x"})
        };
        assert_eq!(config["data"], want, "{name}");
        assert_eq!(
            by_name(&cms, &format!("{name}-more")).is_some(),
            i >= 50,
            "{name}"
        );
        assert!(by_name(&secrets, &format!("{name}-secret")).is_some());
        expected.push(("ConfigMap".to_string(), format!("{name}-config")));
        if i >= 50 {
            expected.push(("ConfigMap".to_string(), format!("{name}-more")));
        }
        expected.push(("Secret".to_string(), format!("{name}-secret")));
        let parent = server
            .object("test.roperator.io/v1", "Echo", Some(NS), &name)
            .unwrap();
        let generation = if i < 100 { 2 } else { 1 };
        assert_eq!(parent["status"]["observedGeneration"], generation, "{name}");
    }
    expected.sort();
    assert_eq!(managed_children(&server), expected);
    assert!(
        server
            .objects("test.roperator.io/v1", "Echo", Some(NS))
            .len()
            == 150
    );

    // The user agent names the operator.
    assert!(
        writes
            .iter()
            .all(|w| w.user_agent.starts_with("echo-test/"))
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_of_a_thousand_converged_parents_writes_nothing() {
    let server = server();
    let config = config().with_resync_period(Duration::from_millis(700));
    let op = TestOperator::start(&server, config, echo_handler);
    for i in 0..1000 {
        create_echo(&server, &format!("s{i:04}"), json!({"message": "same"})).await;
    }
    // Resyncs keep the queue busy, so convergence is read from the server: every child exists
    // and every parent shows its status.
    op.wait_until(LONG, || {
        managed_children(&server).len() == 3000
            && server
                .objects("test.roperator.io/v1", "Echo", Some(NS))
                .iter()
                .all(|p| p["status"]["observedGeneration"] == 1)
    })
    .await
    .unwrap();
    server.clear_requests();
    let before = metric(&op, "roperator_syncs_total{result=\"success\"}");
    // Wait for at least one full resync of every parent.
    op.wait_until(LONG, || {
        metric(&op, "roperator_syncs_total{result=\"success\"}") >= before + 2000.0
    })
    .await
    .unwrap();
    // Events about the creations may still be published in the background: only the
    // operator's writes to objects count.
    let writes = operator_writes(&server);
    assert_eq!(writes.len(), 0, "{:#?}", &writes[..writes.len().min(10)]);
    op.stop().await.unwrap();
}
