//! Incidents as the people on call see them: what three replicas log at the default level while
//! a peer is down or cut off, and a leader killed in the middle of a create storm.
//!
//! Every test here reads the log lines of the whole binary, so they take turns (`TURN`).

mod ha_support;

use std::time::Duration;

use ha_support::logs::{Capture, Line};
use ha_support::{Cluster, metric, wait_until};
use roperator_core::leader::LeaderGate;

const ELECTION: Duration = Duration::from_secs(10);

/// One test at a time: they all count the lines of the one global subscriber.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Failed RPCs from `on` to `peer`, as counted by `on`.
fn failures(cluster: &Cluster, on: u64, peer: u64) -> f64 {
    metric(
        cluster.gate(on),
        "roperator_raft_rpc_failures_total",
        &[&format!("peer=\"{peer}\"")],
    )
}

fn reachable(cluster: &Cluster, on: u64, peer: u64) -> f64 {
    metric(
        cluster.gate(on),
        "roperator_raft_peer_reachable",
        &[&format!("peer=\"{peer}\"")],
    )
}

/// No line of openraft's own, and none that reports a single RPC.
fn assert_no_per_rpc_lines(lines: &[Line]) {
    let noisy: Vec<Line> = lines
        .iter()
        .filter(|l| {
            l.text.contains("openraft")
                || [
                    "RPCError",
                    "heartbeat error",
                    "backoff",
                    "confirming leadership",
                ]
                .iter()
                .any(|n| l.text.contains(n))
        })
        .cloned()
        .collect();
    assert!(
        noisy.is_empty(),
        "per-RPC lines:\n{}",
        Capture::dump(&noisy)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_down_or_cut_off_is_logged_once_per_change_and_counted_in_metrics() {
    let _turn = TURN.lock().await;
    let capture = Capture::install();
    let mut cluster = Cluster::start(3, false).await;
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    wait_until("every follower knows the leader", ELECTION, || {
        cluster
            .running()
            .all(|g| g.raft_view().leader == Some(leader))
    })
    .await;
    capture.clear();

    // A follower goes down. The leader keeps sending it heartbeats and confirming its own
    // leadership with quorum rounds; wait until dozens of RPCs to it have failed.
    let down = (leader + 1) % 3;
    let third = (leader + 2) % 3;
    cluster.kill(down).await;
    let rounds_before = metric(
        cluster.gate(leader),
        "roperator_raft_quorum_rounds_total",
        &[],
    );
    wait_until(
        "40 RPCs to the stopped follower failed",
        ELECTION * 2,
        || failures(&cluster, leader, down) >= 40.0,
    )
    .await;
    let rounds = metric(
        cluster.gate(leader),
        "roperator_raft_quorum_rounds_total",
        &[],
    ) - rounds_before;
    assert!(
        rounds >= 10.0,
        "the leader kept confirming ({rounds} rounds)"
    );
    let lines = capture.lines();
    eprintln!(
        "follower down, {} lines:\n{}",
        lines.len(),
        Capture::dump(&lines)
    );
    assert_no_per_rpc_lines(&lines);
    let about_peer: Vec<&Line> = lines
        .iter()
        .filter(|l| {
            l.text
                .contains(&format!("raft peer {down} does not answer"))
        })
        .collect();
    assert_eq!(about_peer.len(), 1, "{}", Capture::dump(&lines));
    assert_eq!(about_peer[0].level, "WARN");
    assert!(lines.len() <= 2, "{}", Capture::dump(&lines));
    // The ongoing state is in the metrics.
    let gate = cluster.gate(leader);
    assert_eq!(reachable(&cluster, leader, down), 0.0);
    assert_eq!(reachable(&cluster, leader, third), 1.0);
    assert_eq!(metric(gate, "roperator_raft_reachable_peers", &[]), 1.0);
    assert_eq!(metric(gate, "roperator_raft_voters", &[]), 3.0);
    assert!(
        gate.acquire().await.is_ok(),
        "a quorum of two still confirms"
    );

    // Back: said once (after the minimum gap between two lines about one peer).
    cluster.restart(down).await.unwrap();
    wait_until(
        "the leader reaches the restarted follower",
        ELECTION,
        || reachable(&cluster, leader, down) == 1.0,
    )
    .await;
    wait_until(
        "the leader says the follower is back",
        Duration::from_secs(30),
        || {
            capture
                .lines()
                .iter()
                .any(|l| l.text.contains(&format!("raft peer {down} answers again")))
        },
    )
    .await;
    assert_eq!(
        metric(cluster.gate(leader), "roperator_raft_reachable_peers", &[]),
        2.0
    );

    // The leader is cut off from both followers: each side logs what changed for it, once.
    capture.clear();
    let old = leader;
    cluster.faults.isolate(old, [0, 1, 2]);
    let new = cluster.wait_for_leader(Some(old), ELECTION).await;
    let other = 3 - old - new;
    wait_until(
        "40 RPCs failed on each side of the cut",
        ELECTION * 2,
        || {
            failures(&cluster, new, old) >= 40.0
                && failures(&cluster, old, new) >= 40.0
                && failures(&cluster, old, other) >= 40.0
        },
    )
    .await;
    let lines = capture.lines();
    eprintln!(
        "leader cut off, {} lines:\n{}",
        lines.len(),
        Capture::dump(&lines)
    );
    assert_no_per_rpc_lines(&lines);
    let has = |what: &str| lines.iter().any(|l| l.text.contains(what));
    assert!(
        has("this replica is the leader of term"),
        "{}",
        Capture::dump(&lines)
    );
    assert!(
        has(&format!("raft peer {old} does not answer")),
        "{}",
        Capture::dump(&lines)
    );
    assert!(
        has("stopped writing as leader") && has(&format!("following node {new}")),
        "{}",
        Capture::dump(&lines)
    );
    assert!(
        lines.len() <= 10,
        "{} lines:\n{}",
        lines.len(),
        Capture::dump(&lines)
    );

    cluster.faults.heal();
    cluster
        .gate(old)
        .wait_for_raft(ELECTION, |v| v.leader == Some(new))
        .await
        .expect("the old leader follows the new one after the heal");
    cluster.assert_one_leader_per_term();
    cluster.shutdown().await;
}
