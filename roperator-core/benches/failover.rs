//! Failover time of a three-replica group on loopback: the leader is killed, and we measure until
//! the new leader's first successful `acquire` (the moment it may write). Default timing.
//!
//! Run: `cargo bench -p roperator-core --bench failover` (prints p50/p99 over 20 runs).

#[path = "../tests/ha_support/mod.rs"]
mod ha_support;

use std::time::{Duration, Instant};

use ha_support::Cluster;

const RUNS: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() {
    let tls = std::env::args().any(|a| a == "--tls");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let mut cluster = Cluster::start(3, tls).await;
        let timing = cluster.timing;
        let mut samples = Vec::with_capacity(RUNS);
        for run in 0..RUNS {
            let old = cluster.wait_for_leader(None, Duration::from_secs(10)).await;
            let killed_at = Instant::now();
            cluster.kill(old).await;
            let elected = {
                let cluster = &cluster;
                async move {
                    loop {
                        let leader = cluster.running().find(|g| {
                            g.raft().metrics().borrow().state == openraft::ServerState::Leader
                        });
                        if leader.is_some() {
                            return Instant::now();
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            };
            let (elected_at, (new, at)) =
                tokio::join!(elected, cluster.first_acquire(Duration::from_secs(10)));
            let took = at - killed_at;
            println!(
                "run {run:2}: leader {old} killed, node {new} elected after {:?}, writes after {took:?}",
                elected_at - killed_at
            );
            samples.push(took);
            cluster.restart(old).await.expect("restart the killed node");
            // Every run starts from a healthy group: the restarted node follows the new leader
            // and has its whole log.
            let want = cluster.gate(new).raft().metrics().borrow().last_log_index;
            cluster
                .gate(old)
                .raft()
                .wait(Some(Duration::from_secs(10)))
                .metrics(
                    |m| m.current_leader == Some(new) && m.last_log_index >= want,
                    "restarted node caught up",
                )
                .await
                .expect("the restarted node catches up");
        }
        cluster.assert_one_leader_per_term();
        cluster.shutdown().await;
        samples.sort();
        println!(
            "failover (leader killed -> first permit of the new leader), {RUNS} runs, {}: \
             p50 {:?}, p99 {:?}, min {:?}, max {:?} (heartbeat {:?}, election timeout {:?}..{:?})",
            if tls { "mTLS" } else { "plaintext" },
            percentile(&samples, 50.0),
            percentile(&samples, 99.0),
            samples[0],
            samples[samples.len() - 1],
            timing.heartbeat,
            timing.election_timeout_min,
            timing.election_timeout_max,
        );
    });
}
