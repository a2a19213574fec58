//! Prometheus metrics of the engine. Per-controller series carry a `controller` label, so that
//! the controllers of one process can be told apart.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::k8s_type::K8sType;

type Labels = Vec<(&'static str, String)>;

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The engine's metrics; cheap to clone (every metric is shared).
#[derive(Clone)]
pub(crate) struct Metrics {
    syncs: Family<Labels, Counter>,
    sync_duration: Family<Labels, Histogram, fn() -> Histogram>,
    queue_depth: Family<Labels, Gauge>,
    writes: Family<Labels, Counter>,
    conflicts: Family<Labels, Counter>,
    cached_objects: Family<Labels, Gauge>,
    pub leader: Gauge,
    pub leader_term: Gauge,
    watch_errors: Family<Labels, Counter>,
    handlers_overrunning: Family<Labels, Gauge>,
    rollouts_waiting: Family<Labels, Gauge>,
    pub events_dropped: Counter,
}

impl Metrics {
    pub fn new() -> Self {
        Self {
            syncs: Family::default(),
            sync_duration: Family::new_with_constructor(duration_histogram),
            queue_depth: Family::default(),
            writes: Family::default(),
            conflicts: Family::default(),
            cached_objects: Family::default(),
            leader: Gauge::default(),
            leader_term: Gauge::default(),
            watch_errors: Family::default(),
            handlers_overrunning: Family::default(),
            rollouts_waiting: Family::default(),
            events_dropped: Counter::default(),
        }
    }

    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("roperator");
        r.register(
            "syncs",
            "Syncs by controller and result (success, error, panic, timeout, invalid, conflict, write_error, not_leader, gone)",
            self.syncs.clone(),
        );
        r.register(
            "sync_duration_seconds",
            "Duration of a sync (handler, plan and writes) by controller",
            self.sync_duration.clone(),
        );
        r.register(
            "queue_depth",
            "Parents waiting for a sync now, by controller",
            self.queue_depth.clone(),
        );
        r.register(
            "writes",
            "Writes to the API server by controller, verb and type (API group and kind)",
            self.writes.clone(),
        );
        r.register(
            "write_conflicts",
            "Writes refused because the object changed meanwhile (409), by controller",
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
            "Blocking handler calls still running past the sync timeout (their parents wait for them), by controller",
            self.handlers_overrunning.clone(),
        );
        r.register(
            "rollouts_waiting",
            "Parents whose rollout holds children back (updating some, or waiting for one that is not ready), by controller",
            self.rollouts_waiting.clone(),
        );
        r.register(
            "events_dropped",
            "Kubernetes Events not published because the publishing queue was full",
            self.events_dropped.clone(),
        );
    }

    /// The metrics of one controller; its gauges and its conflict counter show from the start
    /// (at zero), so that dashboards and alerts find them.
    pub fn for_controller(&self, controller: &str) -> ControllerMetrics {
        let metrics = ControllerMetrics {
            all: self.clone(),
            controller: controller.to_string(),
        };
        let labels = metrics.labels();
        let _ = self.conflicts.get_or_create(&labels);
        let _ = self.queue_depth.get_or_create(&labels);
        let _ = self.handlers_overrunning.get_or_create(&labels);
        let _ = self.rollouts_waiting.get_or_create(&labels);
        metrics
    }

    pub fn watch_error(&self, t: &K8sType) {
        self.watch_errors.get_or_create(&type_labels(t)).inc();
    }

    pub fn set_cached(&self, t: &K8sType, count: usize) {
        self.cached_objects
            .get_or_create(&type_labels(t))
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }
}

/// The metrics of one controller: every series carries its name.
#[derive(Clone)]
pub(crate) struct ControllerMetrics {
    all: Metrics,
    controller: String,
}

impl ControllerMetrics {
    fn labels(&self) -> Labels {
        vec![("controller", self.controller.clone())]
    }

    pub fn sync_result(&self, result: &'static str) {
        let mut labels = self.labels();
        labels.push(("result", result.to_string()));
        self.all.syncs.get_or_create(&labels).inc();
    }

    pub fn sync_duration(&self, seconds: f64) {
        self.all
            .sync_duration
            .get_or_create(&self.labels())
            .observe(seconds);
    }

    pub fn write(&self, verb: &'static str, t: &K8sType) {
        let mut labels = self.labels();
        labels.push(("verb", verb.to_string()));
        labels.extend(type_labels(t));
        self.all.writes.get_or_create(&labels).inc();
    }

    pub fn conflict(&self) {
        self.all.conflicts.get_or_create(&self.labels()).inc();
    }

    pub fn set_queue_depth(&self, depth: usize) {
        self.all
            .queue_depth
            .get_or_create(&self.labels())
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    pub fn set_rollouts_waiting(&self, parents: usize) {
        self.all
            .rollouts_waiting
            .get_or_create(&self.labels())
            .set(i64::try_from(parents).unwrap_or(i64::MAX));
    }

    pub fn handlers_overrunning(&self) -> Gauge {
        self.all
            .handlers_overrunning
            .get_or_create(&self.labels())
            .clone()
    }
}

/// Kinds repeat across API groups (an `Event` in core and in events.k8s.io), so a type is
/// labelled by both; the core group is the empty string.
fn type_labels(t: &K8sType) -> Labels {
    vec![
        ("group", t.group().to_string()),
        ("kind", t.kind.to_string()),
    ]
}
