//! Prometheus metrics of the leadership group.

use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// The gate's metrics; clones share the same values.
#[derive(Debug, Clone, Default)]
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
    }
}
