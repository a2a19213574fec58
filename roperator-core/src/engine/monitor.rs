//! [`Monitor`]: a view of a running operator (readiness, leadership, metrics, work in progress).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::engine::metrics::Metrics;
use crate::engine::queue::WorkQueue;
use crate::leader::LeaderGate;

/// A view of a running [`Operator`](crate::Operator): readiness, the metrics server's address,
/// metrics, and whether there is work in progress. Cheap to clone.
///
/// ```
/// use roperator_core::prelude::*;
///
/// # fn demo(client: kube::Client) {
/// let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
/// let operator = Operator::new("demo", client)
///     .with_controller(config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()));
/// let monitor = operator.monitor();
/// assert!(!monitor.is_ready()); // not started yet
/// # }
/// ```
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<Inner>,
}

struct Inner {
    ready: watch::Sender<bool>,
    stopped: AtomicBool,
    leader: AtomicBool,
    address: Mutex<Option<SocketAddr>>,
    queues: Mutex<Vec<Arc<WorkQueue>>>,
    metrics: Metrics,
    registry: Mutex<Registry>,
}

impl Monitor {
    pub(crate) fn new() -> Self {
        let metrics = Metrics::new();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        Self {
            inner: Arc::new(Inner {
                ready: watch::channel(false).0,
                stopped: AtomicBool::new(false),
                leader: AtomicBool::new(false),
                address: Mutex::new(None),
                queues: Mutex::default(),
                metrics,
                registry: Mutex::new(registry),
            }),
        }
    }

    /// `true` once every watch of every controller has listed its objects (what `/readyz`
    /// reports).
    pub fn is_ready(&self) -> bool {
        *self.inner.ready.borrow()
    }

    /// Waits until [`is_ready`](Self::is_ready).
    pub async fn wait_ready(&self) {
        let mut rx = self.inner.ready.subscribe();
        let _ = rx.wait_for(|ready| *ready).await;
    }

    /// `true` while this replica may write.
    pub fn is_leader(&self) -> bool {
        self.inner.leader.load(Ordering::SeqCst)
    }

    /// `true` once [`Operator::run`](crate::Operator::run) has returned.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    /// The address `/metrics`, `/healthz` and `/readyz` are served on, once started.
    pub fn server_address(&self) -> Option<SocketAddr> {
        *self.inner.address.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `true` when there is nothing to do now: no sync in flight and, while this replica
    /// leads, no parent waiting for one (timers for later resyncs may be pending). A follower
    /// with nothing in flight is idle: it does not sync until it leads.
    pub fn is_idle(&self) -> bool {
        let leader = self.is_leader();
        self.queues().iter().all(|q| {
            if leader {
                q.is_idle()
            } else {
                q.running() == 0
            }
        })
    }

    /// The metrics in the Prometheus/OpenMetrics text format.
    pub fn metrics_text(&self) -> String {
        let registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &registry).is_err() {
            out.clear();
        }
        out
    }

    fn queues(&self) -> Vec<Arc<WorkQueue>> {
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// A new work queue for a controller, counted in [`is_idle`](Self::is_idle).
    pub(crate) fn new_queue(&self) -> Arc<WorkQueue> {
        let queue = Arc::new(WorkQueue::default());
        self.inner
            .queues
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&queue));
        queue
    }

    pub(crate) fn register_gate(&self, gate: &dyn LeaderGate) {
        let mut registry = self
            .inner
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        gate.register_metrics(&mut registry);
    }

    pub(crate) fn set_ready(&self) {
        self.inner.ready.send_replace(true);
    }

    pub(crate) fn set_leader(&self, leader: bool) {
        self.inner.leader.store(leader, Ordering::SeqCst);
    }

    pub(crate) fn set_stopped(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
    }

    pub(crate) fn set_server_address(&self, address: SocketAddr) {
        *self.inner.address.lock().unwrap_or_else(|p| p.into_inner()) = Some(address);
    }
}
