//! Three engine replicas, each behind its own `RaftGate`, against one testkit API server.
//! Run with `--features testkit`.

#[path = "engine/common.rs"]
mod common;
mod ha_support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{ECHO, NS, echoes, server};
use ha_support::{Cluster, wait_until};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use roperator_core::leader::LeaderGate;
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

const OPERATOR: &str = "echo-ha";

fn config() -> ControllerConfig {
    ha_support::echo::config(OPERATOR, ECHO)
}

async fn create_parents(server: &ApiServer, n: usize, message: &str) {
    let api = echoes(server);
    for i in 0..n {
        let echo: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "test.roperator.io/v1", "kind": "Echo",
            "metadata": {"name": format!("p{i}"), "namespace": NS},
            "spec": {"message": message},
        }))
        .unwrap();
        api.create(&PostParams::default(), &echo).await.unwrap();
    }
}

async fn set_message(server: &ApiServer, i: usize, message: &str) {
    echoes(server)
        .patch(
            &format!("p{i}"),
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": message}})),
        )
        .await
        .unwrap();
}

/// How many of the `n` parents have a child ConfigMap with `message`.
fn converged(server: &ApiServer, n: usize, message: &str) -> usize {
    let cms: Vec<Value> = server.objects("v1", "ConfigMap", Some(NS));
    (0..n)
        .filter(|i| {
            cms.iter().any(|c| {
                c["metadata"]["name"] == format!("p{i}-config") && c["data"]["message"] == message
            })
        })
        .count()
}

async fn wait_converged(server: &ApiServer, n: usize, message: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let done = converged(server, n, message);
        if done == n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {done}/{n} parents show `{message}` after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes by any replica of the operator (Events left out), with the replica each came from.
fn writes(server: &ApiServer) -> Vec<(String, SystemTime)> {
    server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| r.user_agent.starts_with(&format!("{OPERATOR}/")) && r.resource != "events")
        .map(|r| {
            let replica = r
                .user_agent
                .split("(replica ")
                .nth(1)
                .map(|s| s.trim_end_matches(')').to_string())
                .unwrap_or_default();
            (replica, r.time)
        })
        .collect()
}

fn start_operators(server: &ApiServer, cluster: &Cluster) -> Vec<Option<TestOperator>> {
    cluster
        .running()
        .map(|gate| {
            Some(TestOperator::start_with_gate(
                server,
                config(),
                ha_support::echo::handler,
                Arc::new(gate.clone()),
            ))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_writes_and_a_new_leader_converges_500_parents() {
    const N: usize = 500;
    let server = server();
    let mut cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
    let mut operators = start_operators(&server, &cluster);
    create_parents(&server, N, "one").await;
    wait_converged(&server, N, "one", Duration::from_secs(120)).await;

    let replicas: BTreeSet<String> = writes(&server).into_iter().map(|(r, _)| r).collect();
    assert_eq!(
        replicas,
        BTreeSet::from([format!("node-{leader}")]),
        "exactly one replica writes"
    );

    // Kill the leader: its Raft node and its engine go away at once.
    cluster.kill(leader).await;
    if let Some(op) = operators[leader as usize].take() {
        let _ = op.stop().await;
    }
    server.clear_requests();
    for i in 0..N {
        set_message(&server, i, "two").await;
    }
    let new = cluster
        .wait_for_leader(Some(leader), Duration::from_secs(10))
        .await;
    wait_converged(&server, N, "two", Duration::from_secs(120)).await;
    let replicas: BTreeSet<String> = writes(&server).into_iter().map(|(r, _)| r).collect();
    assert_eq!(replicas, BTreeSet::from([format!("node-{new}")]));
    cluster.assert_one_leader_per_term();

    for op in operators.into_iter().flatten() {
        let _ = op.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_leader_writes_nothing_after_the_new_leader_starts() {
    const N: usize = 40;
    let server = server();
    let cluster = Cluster::start(3, false).await;
    let old = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
    let operators = start_operators(&server, &cluster);
    create_parents(&server, N, "m0").await;
    wait_converged(&server, N, "m0", Duration::from_secs(60)).await;

    // Keep every replica busy: parents change all the time, before, during and after the cut.
    let churn = {
        let server = server.clone();
        tokio::spawn(async move {
            for round in 1.. {
                for i in 0..N {
                    set_message(&server, i, &format!("m{round}")).await;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let writes_by = |replica: u64| {
        let name = format!("node-{replica}");
        writes(&server).iter().filter(|(r, _)| *r == name).count()
    };
    let before = writes_by(old);
    wait_until(
        "the leader writes for the churn",
        Duration::from_secs(30),
        || writes_by(old) >= before + 20,
    )
    .await;
    let cut = SystemTime::now();
    cluster.faults.isolate(old, [0, 1, 2]);
    let new = cluster
        .wait_for_leader(Some(old), Duration::from_secs(10))
        .await;
    // Long enough under load for a late write of the old leader to show among the new one's.
    wait_until(
        "the new leader writes for the churn",
        Duration::from_secs(30),
        || writes_by(new) >= 100,
    )
    .await;
    churn.abort();

    let log = writes(&server);
    let old_name = format!("node-{old}");
    let new_name = format!("node-{new}");
    let last_old = log
        .iter()
        .filter(|(r, _)| *r == old_name)
        .map(|(_, t)| *t)
        .max()
        .expect("the old leader wrote before the cut");
    let first_new = log
        .iter()
        .filter(|(r, _)| *r == new_name)
        .map(|(_, t)| *t)
        .min()
        .expect("the new leader wrote after the cut");
    assert!(
        last_old < first_new,
        "old leader wrote {:?} after the new leader's first write",
        last_old.duration_since(first_new).unwrap_or_default()
    );
    // The old leader was busy right up to the cut, so the ordering above is not an accident of
    // it having gone quiet early.
    assert!(
        last_old + Duration::from_millis(200) > cut,
        "the old leader's last write was {:?} before the cut",
        cut.duration_since(last_old).unwrap_or_default()
    );
    eprintln!(
        "old leader's last write {:?} after the cut, new leader's first write {:?} after the cut",
        last_old.duration_since(cut).unwrap_or_default(),
        first_new.duration_since(cut).unwrap_or_default()
    );
    let others: BTreeSet<&String> = log
        .iter()
        .map(|(r, _)| r)
        .filter(|r| **r != old_name && **r != new_name)
        .collect();
    assert!(others.is_empty(), "unexpected writers: {others:?}");

    cluster.faults.heal();
    for op in operators.into_iter().flatten() {
        let _ = op.stop().await;
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_stamped_by_another_raft_group_pauses_writing_only_briefly() {
    const N: usize = 5;
    let server = server();
    let cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
    let operators = start_operators(&server, &cluster);
    create_parents(&server, N, "one").await;
    wait_converged(&server, N, "one", Duration::from_secs(30)).await;
    let term = cluster.gate(leader).subscribe().borrow().term;

    // A previous installation of the operator (whose Raft group got much further before its
    // volumes were lost) left its term on a child.
    let mut state = cluster.gate(leader).subscribe();
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        server.client(),
        NS,
        &kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    configmaps
        .patch(
            "p0-config",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"roperator.io/leader-term": "1000"}}}),
            ),
        )
        .await
        .unwrap();

    // The leader stops writing as soon as its engine sees the child...
    tokio::time::timeout(Duration::from_secs(5), state.wait_for(|s| !s.is_leader))
        .await
        .expect("the leader steps down when it sees term 1000")
        .unwrap();
    // ... and, no leader of term 1000 existing in this group, takes up its work again.
    for i in 0..N {
        set_message(&server, i, "two").await;
    }
    wait_converged(&server, N, "two", Duration::from_secs(10)).await;
    let state = cluster.gate(leader).subscribe().borrow().clone();
    assert!(state.is_leader);
    assert_eq!(state.term, term, "the same leader, without an election");
    let replicas: BTreeSet<String> = writes(&server).into_iter().map(|(r, _)| r).collect();
    assert_eq!(replicas, BTreeSet::from([format!("node-{leader}")]));
    // The child now carries this group's term again.
    let cm = configmaps.get("p0-config").await.unwrap();
    assert_eq!(
        cm.metadata.annotations.unwrap()["roperator.io/leader-term"],
        term.to_string()
    );

    for op in operators.into_iter().flatten() {
        let _ = op.stop().await;
    }
    cluster.shutdown().await;
}
