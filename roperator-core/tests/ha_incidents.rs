//! Incidents as the people on call see them: what three replicas log at the default level while
//! a peer is down or cut off, and a leader killed in the middle of a create storm.
//!
//! Every test here reads the log lines of the whole binary, so they take turns (`TURN`).

#[path = "engine/common.rs"]
mod common;
mod ha_support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{ECHO, NS, echoes};
use ha_support::logs::{Capture, Line};
use ha_support::{Cluster, metric, wait_until};
use kube::api::PostParams;
use roperator_core::leader::LeaderGate;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

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
    // Under load the deposed leader may notice its lost quorum late: wait for what each side
    // must log, then count what was logged.
    wait_until(
        "40 RPCs failed on each side of the cut, and both sides said what changed",
        ELECTION * 4,
        || {
            let lines = capture.lines();
            let has = |what: &str| lines.iter().any(|l| l.text.contains(what));
            failures(&cluster, new, old) >= 40.0
                && failures(&cluster, old, new) >= 40.0
                && failures(&cluster, old, other) >= 40.0
                && has("paused writing as leader")
                && has(&format!("following node {new}"))
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
        has("paused writing as leader") && has(&format!("following node {new}")),
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

const OPERATOR: &str = "echo-chaos";

/// One replica as a process: its own runtime (threads `replica-<id>`) runs its Raft node and its
/// engine, so that shutting the runtime down stops all of it at once, mid-request, as SIGKILL
/// stops a process: no step-down, no revocation, nothing flushed.
struct Process {
    runtime: Option<tokio::runtime::Runtime>,
    operator: Option<TestOperator>,
}

impl Process {
    async fn start(id: u64, cluster: &mut Cluster, server: &ApiServer) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("replica-{id}"))
            .enable_all()
            .build()
            .unwrap();
        let gate = cluster.start_in(id, &runtime).await;
        let operator = {
            let _in_runtime = runtime.enter();
            TestOperator::start_with_gate(
                server,
                ha_support::echo::config(OPERATOR, ECHO),
                ha_support::echo::handler,
                Arc::new(gate),
            )
        };
        Self {
            runtime: Some(runtime),
            operator: Some(operator),
        }
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
        // Its stop signal goes nowhere now.
        self.operator = None;
    }

    async fn stop(&mut self) {
        if let Some(operator) = self.operator.take() {
            let _ = operator.stop().await;
        }
        self.kill();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The children ConfigMaps: the namespace's root CA bundle aside.
fn children(server: &ApiServer) -> Vec<Value> {
    server
        .objects("v1", "ConfigMap", Some(NS))
        .into_iter()
        .filter(|c| c["metadata"]["name"] != "kube-root-ca.crt")
        .collect()
}

/// Parents whose child and status both show their message.
fn converged(server: &ApiServer, parents: usize) -> usize {
    let messages: BTreeMap<String, Value> = children(server)
        .into_iter()
        .map(|c| {
            let name = c["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            (name, c["data"]["message"].clone())
        })
        .collect();
    server
        .objects("test.roperator.io/v1", "Echo", Some(NS))
        .iter()
        .filter(|p| {
            let name = p["metadata"]["name"].as_str().unwrap_or_default();
            let want = &p["spec"]["message"];
            messages.get(&format!("{name}-config")) == Some(want) && &p["status"]["message"] == want
        })
        .count()
        .min(parents)
}

/// The replica named in a request's user agent (`... (replica node-1)`).
fn writer(user_agent: &str) -> Option<u64> {
    user_agent
        .split("(replica node-")
        .nth(1)?
        .trim_end_matches(')')
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_killed_in_a_create_storm_loses_nothing_creates_nothing_twice_and_stays_quiet() {
    const PARENTS: usize = 300;
    let _turn = TURN.lock().await;
    let capture = Capture::install();
    let server = common::server();
    let mut cluster = Cluster::start_members(3, 0, false).await;
    let mut processes = Vec::new();
    for id in 0..3 {
        processes.push(Process::start(id, &mut cluster, &server).await);
    }
    let leader = cluster.wait_for_leader(None, ELECTION).await;
    for p in &processes {
        let operator = p.operator.as_ref().unwrap();
        operator.wait_ready(ELECTION).await.expect("caches sync");
    }
    capture.clear();

    // The storm: eight clients create the parents as fast as the API server takes them.
    let storm: Vec<_> = (0..8)
        .map(|client| {
            let api = echoes(&server);
            tokio::spawn(async move {
                for i in (client..PARENTS).step_by(8) {
                    let parent =
                        common::echo(&format!("p{i}"), json!({"message": format!("m{i}")}));
                    api.create(&PostParams::default(), &parent).await.unwrap();
                }
            })
        })
        .collect();
    // SIGKILL the leader once it has created the children of about a third of the parents.
    wait_until(
        "the leader is in the middle of the storm",
        Duration::from_secs(30),
        || children(&server).len() >= PARENTS / 3,
    )
    .await;
    let killed_at = SystemTime::now();
    processes[leader as usize].kill();
    cluster.forget(leader);
    for client in storm {
        client.await.unwrap();
    }
    let new = cluster.wait_for_leader(Some(leader), ELECTION).await;
    wait_until("every parent converges", Duration::from_secs(60), || {
        converged(&server, PARENTS) == PARENTS
    })
    .await;
    eprintln!(
        "converged {:?} after the kill; the new leader ran {} quorum rounds, {} failed",
        SystemTime::now()
            .duration_since(killed_at)
            .unwrap_or_default(),
        metric(cluster.gate(new), "roperator_raft_quorum_rounds_total", &[]),
        metric(
            cluster.gate(new),
            "roperator_raft_quorum_rounds_total",
            &["result=\"failed\""]
        ),
    );

    // No object was created twice, and nothing was deleted to make room.
    let writes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| r.user_agent.starts_with(&format!("{OPERATOR}/")))
        .collect();
    // A create names no object in its path; but with one child per parent, as many accepted
    // creates as parents and not a single delete, no child can have been created twice.
    let accepted_creates = writes
        .iter()
        .filter(|w| {
            w.verb == "create" && w.resource == "configmaps" && (200..300).contains(&w.status)
        })
        .count();
    assert_eq!(children(&server).len(), PARENTS);
    assert_eq!(
        accepted_creates, PARENTS,
        "every child was created exactly once"
    );
    assert!(
        writes.iter().all(|w| w.verb != "delete"),
        "nothing was deleted"
    );

    // One writer at a time: the killed leader's last write comes before the new leader's first.
    let mut spans: BTreeMap<u64, (SystemTime, SystemTime)> = BTreeMap::new();
    for w in &writes {
        let id = writer(&w.user_agent).expect("every write names its replica");
        let span = spans.entry(id).or_insert((w.time, w.time));
        span.0 = span.0.min(w.time);
        span.1 = span.1.max(w.time);
    }
    let (old_first, old_last) = spans[&leader];
    let (new_first, _) = spans[&new];
    // Requests the killed leader had already sent still land (as after a real SIGKILL), but
    // none after the new leader began.
    assert!(
        old_first < killed_at,
        "the leader wrote before it was killed: {spans:?}"
    );
    assert!(
        old_last < new_first,
        "the killed leader wrote after the new one began: {spans:?}"
    );
    let after_kill = |t: SystemTime| t.duration_since(killed_at).unwrap_or_default();
    eprintln!(
        "killed leader's last write {:?} after the kill, new leader's first {:?} after it",
        after_kill(old_last),
        after_kill(new_first)
    );
    let mut by_start: Vec<_> = spans.values().collect();
    by_start.sort();
    for pair in by_start.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "two replicas wrote at the same time: {spans:?}"
        );
    }

    // The survivors' logs at the default level, leaving out the engine's one line per sync
    // that wrote something.
    let lines = capture.lines();
    let survivors: Vec<Line> = lines
        .iter()
        .filter(|l| l.replica().is_some_and(|r| r != leader) && !l.is_write_report())
        .cloned()
        .collect();
    eprintln!(
        "{} lines from the survivors (and {} reports of writes):\n{}",
        survivors.len(),
        lines.iter().filter(|l| l.is_write_report()).count(),
        Capture::dump(&survivors)
    );
    assert_no_per_rpc_lines(&survivors);
    assert!(survivors.len() <= 12, "{}", Capture::dump(&survivors));

    for p in &mut processes {
        p.stop().await;
    }
}
