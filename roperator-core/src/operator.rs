//! Starting an operator: [`Operator`] (async, any client) and [`run_operator`] (blocking, the
//! cluster's configuration, stops on SIGTERM/SIGINT).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::config::OperatorConfig;
use crate::engine::{self, Metrics, WorkQueue};
use crate::error::Error;
use crate::handler::{Async, AsyncHandler, Blocking, ErasedHandler, Handler};
use crate::leader::{AlwaysLeader, BoxFuture, LeaderGate};

/// An operator ready to run: a client, a configuration and a handler.
///
/// Runs until its shutdown signal (if none is given, forever): then it stops taking work, lets
/// in-flight syncs finish within the grace period, and steps down.
///
/// ```no_run
/// use roperator_core::prelude::*;
///
/// # async fn demo(client: kube::Client) -> Result<(), Error> {
/// let config = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
///     .without_server();
/// let handler = |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new());
/// Operator::new(client, config, handler)
///     .with_shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; })
///     .run()
///     .await
/// # }
/// ```
pub struct Operator {
    client: kube::Client,
    config: OperatorConfig,
    handler: Arc<dyn ErasedHandler>,
    gate: Arc<dyn LeaderGate>,
    shutdown: Option<BoxFuture<'static, ()>>,
    monitor: Monitor,
}

impl Operator {
    /// An operator with a blocking [`Handler`] (a closure or a type).
    pub fn new(client: kube::Client, config: OperatorConfig, handler: impl Handler) -> Self {
        Self::with_erased(client, config, Arc::new(Blocking(handler)))
    }

    /// An operator with an [`AsyncHandler`].
    pub fn new_async(
        client: kube::Client,
        config: OperatorConfig,
        handler: impl AsyncHandler,
    ) -> Self {
        Self::with_erased(client, config, Arc::new(Async(handler)))
    }

    fn with_erased(
        client: kube::Client,
        config: OperatorConfig,
        handler: Arc<dyn ErasedHandler>,
    ) -> Self {
        Self {
            client,
            config,
            handler,
            gate: Arc::new(AlwaysLeader::new()),
            shutdown: None,
            monitor: Monitor::new(),
        }
    }

    /// Writes only while `gate` allows it (default: [`AlwaysLeader`], for a single replica).
    pub fn with_leader_gate(mut self, gate: Arc<dyn LeaderGate>) -> Self {
        self.gate = gate;
        self
    }

    /// Shuts down gracefully when `signal` completes.
    pub fn with_shutdown_signal(
        mut self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// A handle on the running operator's readiness, metrics and work queue.
    pub fn monitor(&self) -> Monitor {
        self.monitor.clone()
    }

    /// Runs until the shutdown signal. Fails at once on an invalid configuration or when the
    /// metrics server cannot listen.
    pub async fn run(self) -> Result<(), Error> {
        engine::run(engine::Parts {
            client: self.client,
            config: self.config,
            handler: self.handler,
            gate: self.gate,
            shutdown: self.shutdown,
            monitor: self.monitor,
        })
        .await
    }
}

/// Runs an operator with the cluster's configuration (the kubeconfig, or the pod's service
/// account inside a cluster) until SIGTERM or SIGINT, then shuts down gracefully.
///
/// Blocking: it starts its own async runtime. Use [`Operator`] to run inside one.
///
/// This process is the only writer. To run as one of several replicas that elect their writer
/// with Raft, build an [`Operator`] and give it the gate yourself
/// (`with_leader_gate(Arc::new(ha::RaftGate::from_env().await?))`, see the `ha` module).
///
/// ```no_run
/// use roperator_core::prelude::*;
///
/// fn main() -> Result<(), Error> {
///     let config = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace)
///         .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
///     run_operator(config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
/// }
/// ```
pub fn run_operator(config: OperatorConfig, handler: impl Handler) -> Result<(), Error> {
    run_blocking(config, Arc::new(Blocking(handler)))
}

/// [`run_operator`] for an [`AsyncHandler`]: one whose sync or finalize awaits (an external
/// API to clean up, say). Same configuration from the environment, same signals, and the same
/// single writer.
///
/// ```no_run
/// use roperator_core::prelude::*;
///
/// struct Cleanup;
///
/// impl AsyncHandler for Cleanup {
///     type Error = Error;
///
///     async fn sync(&self, _req: &SyncRequest) -> Result<SyncResponse, Error> {
///         Ok(SyncResponse::new())
///     }
/// }
///
/// fn main() -> Result<(), Error> {
///     let config = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace);
///     run_async_operator(config, Cleanup)
/// }
/// ```
pub fn run_async_operator(config: OperatorConfig, handler: impl AsyncHandler) -> Result<(), Error> {
    run_blocking(config, Arc::new(Async(handler)))
}

fn run_blocking(config: OperatorConfig, handler: Arc<dyn ErasedHandler>) -> Result<(), Error> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let result = runtime.block_on(async move {
        let kube_config = kube::Config::infer().await.map_err(Error::KubeConfig)?;
        let client = kube::Client::try_from(kube_config).map_err(Error::Client)?;
        let signal = termination_signal().map_err(Error::Runtime)?;
        Operator::with_erased(client, config, handler)
            .with_shutdown_signal(signal)
            .run()
            .await
    });
    // Dropping the runtime would wait for every blocking task, including a handler call stuck
    // past its timeout, which no one can stop: the process would never exit on SIGTERM.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

#[cfg(unix)]
fn termination_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn termination_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// A view of a running [`Operator`]: readiness, the metrics server's address, metrics, and
/// whether there is work in progress. Cheap to clone.
///
/// ```
/// use roperator_core::prelude::*;
///
/// # fn demo(client: kube::Client) {
/// let config = OperatorConfig::new("demo", &k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
/// let operator = Operator::new(client, config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()));
/// let monitor = operator.monitor();
/// assert!(!monitor.is_ready()); // not started yet
/// # }
/// ```
#[derive(Clone)]
pub struct Monitor {
    inner: Arc<MonitorInner>,
}

struct MonitorInner {
    ready: watch::Sender<bool>,
    stopped: AtomicBool,
    leader: AtomicBool,
    address: Mutex<Option<SocketAddr>>,
    queue: Arc<WorkQueue>,
    metrics: Metrics,
    registry: Mutex<Registry>,
}

impl Monitor {
    fn new() -> Self {
        let metrics = Metrics::new();
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        Self {
            inner: Arc::new(MonitorInner {
                ready: watch::channel(false).0,
                stopped: AtomicBool::new(false),
                leader: AtomicBool::new(false),
                address: Mutex::new(None),
                queue: Arc::new(WorkQueue::default()),
                metrics,
                registry: Mutex::new(registry),
            }),
        }
    }

    /// `true` once every watcher has listed its objects (what `/readyz` reports).
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

    /// `true` once [`Operator::run`] has returned.
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
        if self.is_leader() {
            self.inner.queue.is_idle()
        } else {
            self.inner.queue.running() == 0
        }
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

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn queue(&self) -> Arc<WorkQueue> {
        Arc::clone(&self.inner.queue)
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
