//! Failover of a three-replica operator on loopback: three engines, each behind its own
//! `RaftGate`, against one testkit API server. The leader's Raft node and engine are killed, a
//! parent is changed at the same moment, and we measure until the API server accepts the first
//! write of the new leader (a 2xx answer to a request carrying another replica's user agent, from
//! the server's request log). Along the way: when Raft elected the new leader, and when its gate
//! confirmed leadership with a quorum (the moment it may write). Default timing.
//!
//! Then the cost of a leadership confirmation when a sync needs a fresh quorum round: its latency
//! with every follower up, one stopped and one silent (packets dropped), and how many rounds 64
//! concurrent syncs cost.
//!
//! Run: `cargo bench -p roperator-core --features testkit,raft-test-hooks --bench failover` (add
//! `-- --tls` for mutual TLS). Prints p50/p99 over 20 runs.

#[path = "../tests/engine/common.rs"]
mod common;
#[path = "../tests/ha_support/mod.rs"]
mod ha_support;

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use common::{ECHO, NS, echoes, server};
use ha_support::Cluster;
use kube::api::{Patch, PatchParams};
use roperator_core::ha::RaftGate;
use roperator_core::leader::LeaderGate;
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::json;

const RUNS: usize = 20;
const OPERATOR: &str = "echo-failover";
const PARENT: &str = "failover";

fn config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
}

fn handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{PARENT}-config")},
            "data": {"message": parent["spec"]["message"]},
        }))
        .with_status(&json!({"message": parent["spec"]["message"]})))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "{name}: p50 {:?}, p99 {:?}, min {:?}, max {:?}",
        percentile(&samples, 50.0),
        percentile(&samples, 99.0),
        samples[0],
        samples[samples.len() - 1],
    )
}

async fn start_operator(server: &ApiServer, gate: &roperator_core::ha::RaftGate) -> TestOperator {
    let op = TestOperator::start_with_gate(server, config(), handler, Arc::new(gate.clone()));
    op.wait_ready(Duration::from_secs(10))
        .await
        .expect("the operator's caches sync");
    op
}

async fn set_message(server: &ApiServer, message: &str) {
    echoes(server)
        .patch(
            PARENT,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": message}})),
        )
        .await
        .expect("the parent can be changed");
}

fn child_message(server: &ApiServer) -> Option<serde_json::Value> {
    server
        .object("v1", "ConfigMap", Some(NS), &format!("{PARENT}-config"))
        .map(|c| c["data"]["message"].clone())
}

/// When the API server accepted the first write (Events left out) of a replica other than
/// `old` at or after `since`.
fn first_write_by_another(server: &ApiServer, old: u64, since: SystemTime) -> Option<SystemTime> {
    let old_agent = format!("(replica node-{old})");
    server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| {
            r.user_agent.starts_with(&format!("{OPERATOR}/"))
                && !r.user_agent.contains(&old_agent)
                && r.resource != "events"
                && (200..300).contains(&r.status)
                && r.time >= since
        })
        .map(|r| r.time)
        .min()
}

fn main() {
    let tls = std::env::args().any(|a| a == "--tls");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let server = server();
        let mut cluster = Cluster::start(3, tls).await;
        let timing = cluster.timing;
        cluster.wait_for_leader(None, Duration::from_secs(10)).await;
        let mut operators = Vec::new();
        for gate in cluster.running() {
            operators.push(Some(start_operator(&server, gate).await));
        }
        common::create_echo(&server, PARENT, json!({"message": "start"})).await;

        let (mut elected, mut confirmed, mut written) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..RUNS {
            let old = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
            server.clear_requests();
            let killed_at = Instant::now();
            let killed_wall = SystemTime::now();
            cluster.kill(old).await;
            if let Some(op) = operators[old as usize].take() {
                let _ = op.stop().await;
            }
            let message = format!("run-{run}");
            set_message(&server, &message).await;

            // Passive observation only: polling `acquire` would add quorum rounds of our own.
            let (mut elected_at, mut confirmed_at, mut new) = (None, None, None);
            let write = loop {
                for gate in cluster.running() {
                    if elected_at.is_none() && gate.raft_view().raft_leader {
                        elected_at = Some(killed_at.elapsed());
                    }
                    if confirmed_at.is_none() && gate.subscribe().borrow().is_leader {
                        confirmed_at = Some(killed_at.elapsed());
                        new = Some(gate.node_id());
                    }
                }
                if let Some(at) = first_write_by_another(&server, old, killed_wall) {
                    break at.duration_since(killed_wall).unwrap_or_default();
                }
                assert!(
                    killed_at.elapsed() < Duration::from_secs(20),
                    "no write by a new leader within 20 s"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            };
            let (elected_at, confirmed_at) =
                (elected_at.unwrap_or(write), confirmed_at.unwrap_or(write));
            println!(
                "run {run:2}: leader {old} killed; node {} elected after {elected_at:?}, \
                 confirmed after {confirmed_at:?}, first write accepted after {write:?}",
                new.map_or("?".to_string(), |n| n.to_string()),
            );
            elected.push(elected_at);
            confirmed.push(confirmed_at);
            written.push(write);

            // Every run starts from a healthy group: the change is carried out, the killed
            // replica is back with warm caches and has the new leader's whole log.
            let deadline = Instant::now() + Duration::from_secs(20);
            while child_message(&server) != Some(json!(message)) {
                assert!(Instant::now() < deadline, "run {run} did not converge");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            cluster.restart(old).await.expect("restart the killed node");
            operators[old as usize] = Some(start_operator(&server, cluster.gate(old)).await);
            let new = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
            let want = cluster.gate(new).raft_view().last_log_index;
            cluster
                .gate(old)
                .wait_for_raft(Duration::from_secs(10), |v| {
                    v.leader == Some(new) && v.last_log_index >= want
                })
                .await
                .expect("the restarted node catches up");
        }
        cluster.assert_one_leader_per_term();
        // Before the engines stop: stopping one steps its gate down.
        let confirmations = confirmations(&mut cluster).await;
        for op in operators.into_iter().flatten() {
            let _ = op.stop().await;
        }
        cluster.shutdown().await;
        println!(
            "failover, {RUNS} runs, {}, heartbeat {:?}, election timeout {:?}..{:?}; from the \
             leader's kill to:",
            if tls { "mTLS" } else { "plaintext" },
            timing.heartbeat,
            timing.election_timeout_min,
            timing.election_timeout_max,
        );
        println!("  {}", summary("new leader elected (Raft)", elected));
        println!(
            "  {}",
            summary("leadership confirmed by a quorum (may write)", confirmed)
        );
        println!(
            "  {}",
            summary(
                "first write of the new leader accepted by the API server",
                written
            )
        );
        println!(
            "leadership confirmation when a sync needs a fresh quorum round ({SAMPLES} \
             samples; and the rounds {BURST} concurrent syncs cost):"
        );
        for (scenario, latency, rounds) in confirmations {
            println!(
                "  {}; {BURST} syncs: {rounds} round(s)",
                summary(scenario, latency)
            );
        }
    });
}

const SAMPLES: usize = 200;
const BURST: usize = 64;

/// Quorum rounds `gate` completed so far.
fn rounds(gate: &RaftGate) -> f64 {
    ha_support::metric(gate, "roperator_raft_quorum_rounds_total", &[])
}

/// How long a permit takes when it needs a fresh round, with every follower up, one stopped and
/// one silent (packets dropped). A term of another group, once proven foreign, makes the next
/// permit wait for a round started after it is seen again: that is how each sample needs one.
async fn confirmations(cluster: &mut Cluster) -> Vec<(&'static str, Vec<Duration>, f64)> {
    let leader = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
    let gate = cluster.gate(leader).clone();
    let foreign = gate.subscribe().borrow().term + 1000;
    gate.observe_term(foreign);
    let deadline = Instant::now() + Duration::from_secs(10);
    while gate.acquire().await.is_err() {
        assert!(
            Instant::now() < deadline,
            "the foreign term is never proven"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let follower = (leader + 1) % 3;
    let mut out = Vec::new();
    for scenario in [
        "every follower up",
        "one follower stopped",
        "one follower silent",
    ] {
        match scenario {
            "one follower stopped" => cluster.kill(follower).await,
            "one follower silent" => {
                cluster
                    .restart(follower)
                    .await
                    .expect("the follower restarts");
                cluster.faults.silence(follower);
            }
            _ => {}
        }
        let mut latency = Vec::new();
        for _ in 0..SAMPLES {
            gate.observe_term(foreign);
            let asked = Instant::now();
            gate.acquire().await.expect("the leader confirms");
            latency.push(asked.elapsed());
        }
        let before = rounds(&gate);
        gate.observe_term(foreign);
        let syncs: Vec<_> = (0..BURST)
            .map(|_| {
                let gate = gate.clone();
                tokio::spawn(async move { gate.acquire().await })
            })
            .collect();
        for sync in syncs {
            sync.await.unwrap().expect("every sync gets a permit");
        }
        out.push((scenario, latency, rounds(&gate) - before));
    }
    cluster.faults.heal();
    out
}
