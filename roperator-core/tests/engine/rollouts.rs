//! Rolling updates: a change reaches the children of a rolling type one at a time, each once
//! the previous one is ready, and a child that does not become ready stops the rollout.

use kube::api::{Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

use crate::common::*;

static SHARD: K8sType = K8sType {
    api_version: "test.roperator.io/v1",
    kind: "Shard",
    plural: "shards",
    namespaced: true,
};

const SHARDS: usize = 5;

fn shard_server() -> ApiServer {
    let server = server();
    server
        .register_crd(&crd("Shard", "shards", true))
        .expect("the Shard CRD registers");
    server
}

/// Five shards whose spec carries the parent's version; the parent's status counts the shards
/// the handler sees ready.
fn shards(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let version = req.parent().json()["spec"]["version"].clone();
    let ready = req
        .children(SHARD)
        .filter(|s| s.readiness().is_ready())
        .count();
    let response = (0..SHARDS)
        .fold(SyncResponse::new(), |r, i| {
            r.with_child(&json!({
                "apiVersion": "test.roperator.io/v1", "kind": "Shard",
                "metadata": {"name": format!("shard-{i}")},
                "spec": {"version": version},
            }))
        })
        .with_status(&json!({"readyShards": ready}));
    Ok(response)
}

fn shard(server: &ApiServer, i: usize) -> Value {
    server
        .object(
            "test.roperator.io/v1",
            "Shard",
            Some(NS),
            &format!("shard-{i}"),
        )
        .unwrap_or_else(|| panic!("shard-{i} exists"))
}

fn versions(server: &ApiServer) -> Vec<i64> {
    (0..SHARDS)
        .map(|i| shard(server, i)["spec"]["version"].as_i64().unwrap_or(-1))
        .collect()
}

/// What the shard's controller would write: its latest generation observed, and `ready`.
async fn report(server: &ApiServer, i: usize, ready: bool) {
    let generation = shard(server, i)["metadata"]["generation"].clone();
    api_for(server, SHARD, Some(NS))
        .patch_status(
            &format!("shard-{i}"),
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": {
                "observedGeneration": generation,
                "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" },
                                "reason": "Test", "message": "set by the test"}],
            }})),
        )
        .await
        .unwrap();
}

fn updated_condition(server: &ApiServer) -> Value {
    let parent = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "db")
        .unwrap();
    parent["status"]["conditions"]
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == "Updated"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// An operator with rolling shards (updated in place unless `policy` says otherwise), and a
/// parent `db` whose five shards exist at version 1 and are ready.
async fn five_ready_shards() -> (ApiServer, TestOperator) {
    five_ready_shards_with(ChildConfig::rolling_replace()).await
}

async fn five_ready_shards_with(policy: ChildConfig) -> (ApiServer, TestOperator) {
    let server = shard_server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(SHARD, policy)
        .with_error_backoff(
            std::time::Duration::from_millis(20),
            std::time::Duration::from_millis(500),
        );
    let op = TestOperator::start(&server, config, shards);
    create_echo(&server, "db", json!({"version": 1})).await;
    op.wait_until(LONG, || {
        server
            .objects("test.roperator.io/v1", "Shard", Some(NS))
            .len()
            == SHARDS
    })
    .await
    .unwrap();
    // Creation is not paced: every shard exists before any is ready.
    for i in 0..SHARDS {
        report(&server, i, true).await;
    }
    op.wait_until(LONG, || updated_condition(&server)["status"] == "True")
        .await
        .unwrap();
    (server, op)
}

/// Reports each shard Ready in turn and checks that the rollout then moves exactly one more shard
/// to version 2 and leaves the rest at 1 (`versions` reads each shard's version, -1 while it
/// does not exist).
async fn ready_one_after_the_other(
    server: &ApiServer,
    op: &TestOperator,
    versions: impl Fn(&ApiServer) -> Vec<i64>,
) {
    for i in 0..SHARDS {
        report(server, i, true).await;
        if i + 1 < SHARDS {
            op.wait_until(LONG, || versions(server)[i + 1] == 2)
                .await
                .unwrap();
            let now = versions(server);
            assert_eq!(
                now.iter().filter(|v| **v == 2).count(),
                i + 2,
                "one more shard at a time: {now:?}"
            );
            assert!(
                now[i + 2..].iter().all(|v| *v == 1),
                "the shards after it are untouched (not gone, not recreated): {now:?}"
            );
        }
    }
}

async fn set_version(server: &ApiServer, version: i64) {
    echoes(server)
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"version": version}})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_rolls_out_one_ready_shard_at_a_time_and_stops_at_one_that_is_not_ready() {
    let (server, op) = five_ready_shards().await;
    set_version(&server, 2).await;
    // shard-0 first; the others wait for it (its controller has not seen generation 2 yet).
    op.wait_until(LONG, || {
        updated_condition(&server)["reason"] == "RolloutBlocked"
    })
    .await
    .unwrap();
    assert_eq!(versions(&server), vec![2, 1, 1, 1, 1]);
    let condition = updated_condition(&server);
    assert_eq!(condition["status"], "False");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.contains("4 of 5 Shard children not updated yet"),
        "{message}"
    );
    assert!(message.contains("waiting for Shard shard-0"), "{message}");
    assert_eq!(metric(&op, "roperator_rollouts_waiting"), 1.0);

    // shard-0 does not become ready: the rollout stays where it is, and says why.
    report(&server, 0, false).await;
    op.wait_until(LONG, || {
        updated_condition(&server)["message"]
            .as_str()
            .is_some_and(|m| m.contains("its Ready condition is False"))
    })
    .await
    .unwrap();
    op.settle(LONG, std::time::Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(versions(&server), vec![2, 1, 1, 1, 1], "held at shard-0");

    // Ready again: one shard after the other.
    ready_one_after_the_other(&server, &op, versions).await;
    op.wait_until(LONG, || updated_condition(&server)["status"] == "True")
        .await
        .unwrap();
    assert_eq!(versions(&server), vec![2; SHARDS]);
    assert_eq!(updated_condition(&server)["reason"], "UpToDate");
    assert_eq!(metric(&op, "roperator_rollouts_waiting"), 0.0);

    // Done: a sync of the parent (brought by an edit of its labels) writes nothing.
    op.converge(LONG).await.unwrap();
    server.clear_requests();
    let syncs = metric(&op, "roperator_syncs_total");
    echoes(&server)
        .patch(
            "db",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {"touched": "yes"}}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || metric(&op, "roperator_syncs_total") > syncs)
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(
        operator_writes(&server).len(),
        0,
        "{:?}",
        operator_writes(&server)
    );
    let reasons: Vec<String> = events_for(&server, "db").into_iter().map(|e| e.1).collect();
    assert!(!reasons.iter().any(|r| r == "HotLoop"), "{reasons:?}");
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_answer_goes_at_once_to_a_shard_that_is_not_ready() {
    let (server, op) = five_ready_shards().await;
    // A bad version 2 stops at shard-0; version 3 (the fix) reaches shard-0 at once.
    set_version(&server, 2).await;
    op.wait_until(LONG, || versions(&server)[0] == 2)
        .await
        .unwrap();
    report(&server, 0, false).await;
    set_version(&server, 3).await;
    op.wait_until(LONG, || versions(&server)[0] == 3)
        .await
        .unwrap();
    op.settle(LONG, std::time::Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(versions(&server), vec![3, 1, 1, 1, 1]);
    report(&server, 0, true).await;
    op.wait_until(LONG, || versions(&server)[1] == 3)
        .await
        .unwrap();
    op.stop().await.unwrap();
}

/// A shard's version and uid, if it exists (a recreated shard is briefly gone).
fn shard_state(server: &ApiServer, i: usize) -> Option<(i64, String)> {
    let s = server.object(
        "test.roperator.io/v1",
        "Shard",
        Some(NS),
        &format!("shard-{i}"),
    )?;
    Some((
        s["spec"]["version"].as_i64().unwrap_or(-1),
        s["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_recreate_replaces_one_ready_shard_at_a_time() {
    // A recreated Shard has no status: by the readiness view (no Ready condition) it would be
    // ready at once, so the rollout asks for the condition, as Metacontroller's statusChecks.
    let policy = ChildConfig::recreate()
        .with_rollout(Rollout::one_at_a_time().ready_when_condition("Ready", "True"));
    let (server, op) = five_ready_shards_with(policy).await;
    let first_uids: Vec<String> = (0..SHARDS)
        .map(|i| shard_state(&server, i).expect("exists").1)
        .collect();
    set_version(&server, 2).await;
    // shard-0 is deleted and created again at version 2; the others wait until it is ready.
    op.wait_until(LONG, || {
        shard_state(&server, 0).is_some_and(|(v, _)| v == 2)
            && updated_condition(&server)["reason"] == "RolloutBlocked"
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}: shards {:?}, condition {}",
            (0..SHARDS)
                .map(|i| shard_state(&server, i))
                .collect::<Vec<_>>(),
            updated_condition(&server)
        )
    });
    assert_ne!(
        shard_state(&server, 0).unwrap().1,
        first_uids[0],
        "recreated, not updated"
    );
    assert_eq!(versions(&server), vec![2, 1, 1, 1, 1]);

    ready_one_after_the_other(&server, &op, |server| {
        (0..SHARDS)
            .map(|j| shard_state(server, j).map_or(-1, |(v, _)| v))
            .collect()
    })
    .await;
    op.wait_until(LONG, || updated_condition(&server)["status"] == "True")
        .await
        .unwrap();
    let last: Vec<(i64, String)> = (0..SHARDS)
        .map(|i| shard_state(&server, i).expect("exists"))
        .collect();
    assert!(last.iter().all(|(v, _)| *v == 2), "{last:?}");
    assert!(
        last.iter()
            .zip(&first_uids)
            .all(|((_, now), before)| now != before),
        "every shard was recreated"
    );
    op.stop().await.unwrap();
}
