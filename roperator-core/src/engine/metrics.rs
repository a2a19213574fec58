//! Prometheus metrics of the engine.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::k8s_type::K8sType;

type Labels = Vec<(&'static str, String)>;

/// The engine's metrics; cheap to clone (every metric is shared).
#[derive(Clone)]
pub(crate) struct Metrics {
    pub syncs: Family<Labels, Counter>,
    pub sync_duration: Histogram,
    pub queue_depth: Gauge,
    pub writes: Family<Labels, Counter>,
    pub conflicts: Counter,
    pub cached_objects: Family<Labels, Gauge>,
    pub leader: Gauge,
    pub leader_term: Gauge,
    pub watch_errors: Family<Labels, Counter>,
    pub handlers_overrunning: Gauge,
    pub events_dropped: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            syncs: Family::default(),
            sync_duration: Histogram::new(exponential_buckets(0.001, 2.0, 16)),
            queue_depth: Gauge::default(),
            writes: Family::default(),
            conflicts: Counter::default(),
            cached_objects: Family::default(),
            leader: Gauge::default(),
            leader_term: Gauge::default(),
            watch_errors: Family::default(),
            handlers_overrunning: Gauge::default(),
            events_dropped: Counter::default(),
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("roperator");
        r.register(
            "syncs",
            "Syncs by result (success, error, panic, timeout, invalid, conflict, write_error, not_leader, gone)",
            self.syncs.clone(),
        );
        r.register(
            "sync_duration_seconds",
            "Duration of a sync: handler, plan and writes",
            self.sync_duration.clone(),
        );
        r.register(
            "queue_depth",
            "Parents waiting for a sync now",
            self.queue_depth.clone(),
        );
        r.register(
            "writes",
            "Writes to the API server by verb and type (API group and kind)",
            self.writes.clone(),
        );
        r.register(
            "write_conflicts",
            "Writes refused because the object changed meanwhile (409)",
            self.conflicts.clone(),
        );
        r.register(
            "cached_objects",
            "Objects in the engine's caches by type (API group and kind)",
            self.cached_objects.clone(),
        );
        r.register(
            "leader",
            "1 while this replica may write",
            self.leader.clone(),
        );
        r.register(
            "leader_term",
            "The leadership term this replica knows",
            self.leader_term.clone(),
        );
        r.register(
            "watch_errors",
            "Failed watch or list requests by type; the watcher retries with backoff, and the cache is stale meanwhile",
            self.watch_errors.clone(),
        );
        r.register(
            "handlers_overrunning",
            "Blocking handler calls still running past the sync timeout (their parents wait for them)",
            self.handlers_overrunning.clone(),
        );
        r.register(
            "events_dropped",
            "Kubernetes Events not published because the publishing queue was full",
            self.events_dropped.clone(),
        );
    }

    pub fn sync_result(&self, result: &str) {
        self.syncs
            .get_or_create(&vec![("result", result.to_string())])
            .inc();
    }

    pub fn write(&self, verb: &str, t: &K8sType) {
        let mut labels = vec![("verb", verb.to_string())];
        labels.extend(type_labels(t));
        self.writes.get_or_create(&labels).inc();
    }
}

/// Kinds repeat across API groups (an `Event` in core and in events.k8s.io), so a type is
/// labelled by both; the core group is the empty string.
pub(crate) fn type_labels(t: &K8sType) -> Labels {
    vec![
        ("group", t.group().to_string()),
        ("kind", t.kind.to_string()),
    ]
}
