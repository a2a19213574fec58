//! Prometheus metrics of the leadership group.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Label pairs of a metric family, e.g. `[("peer", "2")]`.
pub type Labels = Vec<(&'static str, String)>;

/// The gate's metrics; clones share the same values.
///
/// While a peer is down the logs say so once; these carry the ongoing state: which peers answer,
/// how many RPCs fail, how often and how fast leadership is confirmed.
#[derive(Debug, Clone)]
pub struct HaMetrics {
    /// Current Raft term.
    pub term: Gauge,
    /// Current leader's node id, -1 when none is known.
    pub leader_id: Gauge,
    /// 1 while this replica may write.
    pub is_leader: Gauge,
    /// Seconds since a quorum last acknowledged this leader (-1 on followers).
    pub seconds_since_quorum_ack: Gauge<f64, AtomicU64>,
    /// Times the known leader changed.
    pub leader_changes: Counter,
    /// Write batches the gate refused.
    pub writes_refused: Counter,
    /// A term seen on an object above this replica's own, which stops its writes until Raft
    /// shows whether it was deposed (0 when there is none).
    pub fenced_term: Gauge,
    /// Voting members of the group, as this replica knows the membership.
    pub voters: Gauge,
    /// Other members that answered this replica's last RPC to them.
    pub reachable_peers: Gauge,
    /// Per peer (`peer` = node id): 1 if it answered this replica's last RPC, else 0.
    pub peer_reachable: Family<Labels, Gauge>,
    /// RPCs to a peer that failed, by `peer`, `rpc` (`append`, `vote`, `snapshot`, `status`) and
    /// `error` (`unreachable`, `timeout`, `network`).
    pub rpc_failures: Family<Labels, Counter>,
    /// Leadership confirmations (quorum rounds) this replica ran, by `result` (`confirmed`,
    /// `failed`). Concurrent write batches share rounds, so this grows with time, not load.
    pub quorum_rounds: Family<Labels, Counter>,
    /// How long a successful quorum round took.
    pub quorum_round_duration: Histogram,
}

impl Default for HaMetrics {
    fn default() -> Self {
        Self {
            term: Gauge::default(),
            leader_id: Gauge::default(),
            is_leader: Gauge::default(),
            seconds_since_quorum_ack: Gauge::default(),
            leader_changes: Counter::default(),
            writes_refused: Counter::default(),
            fenced_term: Gauge::default(),
            voters: Gauge::default(),
            reachable_peers: Gauge::default(),
            peer_reachable: Family::default(),
            rpc_failures: Family::default(),
            quorum_rounds: Family::default(),
            // 0.25 ms to about 4 s.
            quorum_round_duration: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
        }
    }
}

impl HaMetrics {
    /// Registers every metric under the `roperator_raft_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("roperator_raft");
        r.register("term", "Current Raft term", self.term.clone());
        r.register(
            "leader_id",
            "Node id of the current leader (-1 if unknown)",
            self.leader_id.clone(),
        );
        r.register(
            "is_leader",
            "1 while this replica holds a confirmed write lease",
            self.is_leader.clone(),
        );
        r.register(
            "seconds_since_quorum_ack",
            "Seconds since a quorum last acknowledged this leader (-1 when not leader)",
            self.seconds_since_quorum_ack.clone(),
        );
        r.register(
            "leader_changes",
            "Times the known leader changed",
            self.leader_changes.clone(),
        );
        r.register(
            "writes_refused",
            "Write batches refused because this replica is not a confirmed leader",
            self.writes_refused.clone(),
        );
        r.register(
            "fenced_term",
            "Leader term seen on an object above this replica's term, stopping its writes (0: none)",
            self.fenced_term.clone(),
        );
        r.register(
            "voters",
            "Voting members of the group, as this replica knows the membership",
            self.voters.clone(),
        );
        r.register(
            "reachable_peers",
            "Other members that answered this replica's last RPC to them",
            self.reachable_peers.clone(),
        );
        r.register(
            "peer_reachable",
            "1 if the peer answered this replica's last RPC to it, else 0",
            self.peer_reachable.clone(),
        );
        r.register(
            "rpc_failures",
            "Raft RPCs to a peer that failed, by peer, rpc and error",
            self.rpc_failures.clone(),
        );
        r.register(
            "quorum_rounds",
            "Leadership confirmations (quorum rounds) run by this replica, by result",
            self.quorum_rounds.clone(),
        );
        r.register(
            "quorum_round_duration_seconds",
            "Duration of a successful leadership confirmation",
            self.quorum_round_duration.clone(),
        );
    }
}
