//! Starting an operator: [`Operator`] (async, any client, one or more controllers) and
//! [`run_operator`] (blocking, one controller, the cluster's configuration, stops on
//! SIGTERM/SIGINT).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::ControllerConfig;
use crate::engine::{self, ControllerParts, Monitor};
use crate::error::Error;
use crate::handler::{Async, AsyncHandler, Blocking, ErasedHandler, Handler};
use crate::leader::{AlwaysLeader, BoxFuture, LeaderGate};

/// Default for [`Operator::with_shutdown_grace_period`].
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(20);
/// Default for [`Operator::with_server_address`]: port 8080 on every interface.
pub const DEFAULT_SERVER_ADDRESS: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 8080);

/// An operator process: one or more controllers sharing one Kubernetes client, one leadership
/// gate, one metrics and health server and one shutdown.
///
/// Runs until its shutdown signal (if none is given, forever): then it stops taking work, lets
/// in-flight syncs finish within the grace period, and steps down. A failing or stuck controller
/// does not hold up the others: each has its own queue and its own share of concurrent syncs.
///
/// ```no_run
/// use roperator_core::prelude::*;
///
/// static TENANT: K8sType = K8sType {
///     api_version: "example.com/v1", kind: "Tenant", plural: "tenants", namespaced: false,
/// };
///
/// # async fn demo(client: kube::Client) -> Result<(), Error> {
/// let tenants = ControllerConfig::new("tenants", TENANT)
///     .with_child(k8s_types::core::v1::Namespace, ChildConfig::replace());
/// let isolation = ControllerConfig::decorator("isolation", k8s_types::core::v1::Namespace)
///     .with_parent_selector("example.com/isolate=true")
///     .with_child(k8s_types::networking::v1::NetworkPolicy, ChildConfig::replace());
/// Operator::new("tenant-operator", client)
///     .with_controller(tenants, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
///     .with_controller(isolation, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
///     .with_shutdown_signal(async { let _ = tokio::signal::ctrl_c().await; })
///     .run()
///     .await
/// # }
/// ```
pub struct Operator {
    name: String,
    version: String,
    client: kube::Client,
    controllers: Vec<ControllerParts>,
    gate: Arc<dyn LeaderGate>,
    shutdown: Option<BoxFuture<'static, ()>>,
    monitor: Monitor,
    server_address: Option<SocketAddr>,
    shutdown_grace: Duration,
}

impl Operator {
    /// An operator called `name` (named in the user agent of every request) talking to the
    /// cluster through `client`. Add controllers with
    /// [`with_controller`](Self::with_controller).
    ///
    /// Defaults: a single replica ([`AlwaysLeader`]), metrics and health on `0.0.0.0:8080`, 20 s
    /// shutdown grace period, this crate's version in the user agent.
    pub fn new(name: impl Into<String>, client: kube::Client) -> Self {
        Self {
            name: name.into(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            client,
            controllers: Vec::new(),
            gate: Arc::new(AlwaysLeader::new()),
            shutdown: None,
            monitor: Monitor::new(),
            server_address: Some(DEFAULT_SERVER_ADDRESS),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }

    /// Adds a controller with a blocking [`Handler`] (a closure or a type).
    pub fn with_controller(self, config: ControllerConfig, handler: impl Handler) -> Self {
        self.with_erased(config, Arc::new(Blocking(handler)))
    }

    /// Adds a controller with an [`AsyncHandler`].
    pub fn with_async_controller(
        self,
        config: ControllerConfig,
        handler: impl AsyncHandler,
    ) -> Self {
        self.with_erased(config, Arc::new(Async(handler)))
    }

    fn with_erased(mut self, config: ControllerConfig, handler: Arc<dyn ErasedHandler>) -> Self {
        let queue = self.monitor.new_queue();
        self.controllers.push(ControllerParts {
            config,
            handler,
            queue,
        });
        self
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

    /// How long in-flight syncs may run after the shutdown signal before they are cancelled
    /// (default 20 s; keep it below the pod's `terminationGracePeriodSeconds`).
    pub fn with_shutdown_grace_period(mut self, grace: Duration) -> Self {
        self.shutdown_grace = grace;
        self
    }

    /// Serves `/metrics`, `/healthz` and `/readyz` on this address (default `0.0.0.0:8080`).
    /// Port 0 picks a free port; see [`Monitor::server_address`].
    pub fn with_server_address(mut self, address: impl Into<SocketAddr>) -> Self {
        self.server_address = Some(address.into());
        self
    }

    /// Serves no metrics or health endpoints.
    pub fn with_server_disabled(mut self) -> Self {
        self.server_address = None;
        self
    }

    /// The operator's version, sent in the user agent of every request as
    /// `<name>/<version>` so that its writes can be told apart in an audit log (default: this
    /// crate's version). Pass your crate's: `.with_version(env!("CARGO_PKG_VERSION"))`.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// A handle on the running operator's readiness, metrics and work in progress.
    pub fn monitor(&self) -> Monitor {
        self.monitor.clone()
    }

    /// The configurations of the controllers added so far.
    pub fn controller_configs(&self) -> impl Iterator<Item = &ControllerConfig> {
        self.controllers.iter().map(|c| &c.config)
    }

    /// The configured metrics and health address (`None` when disabled).
    pub fn server_address(&self) -> Option<SocketAddr> {
        self.server_address
    }

    /// Runs until the shutdown signal. Fails at once on an invalid controller configuration
    /// (every controller is checked, names must differ, a finalizer needs a handler that
    /// finalizes) or when the metrics server cannot listen.
    pub async fn run(self) -> Result<(), Error> {
        engine::run(engine::Parts {
            name: self.name,
            version: self.version,
            client: self.client,
            controllers: self.controllers,
            gate: self.gate,
            shutdown: self.shutdown,
            monitor: self.monitor,
            server_address: self.server_address,
            shutdown_grace: self.shutdown_grace,
        })
        .await
    }
}

/// Runs one controller with the cluster's configuration (the kubeconfig, or the pod's service
/// account inside a cluster) as a single replica, until SIGTERM or SIGINT, then shuts down
/// gracefully. The operator is named after the controller.
///
/// Blocking: it starts its own async runtime. Use [`Operator`] to run inside one or to run
/// several controllers.
///
/// This process is the only writer. To run as one of several replicas that elect their writer
/// with Raft, build an [`Operator`] and give it the gate yourself
/// (`with_leader_gate(Arc::new(ha::RaftGate::from_env().await?))`, see the `ha` module).
///
/// ```no_run
/// use roperator_core::prelude::*;
///
/// fn main() -> Result<(), Error> {
///     let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
///         .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
///     run_operator(config, |_req: &SyncRequest| Ok::<_, Error>(SyncResponse::new()))
/// }
/// ```
pub fn run_operator(config: ControllerConfig, handler: impl Handler) -> Result<(), Error> {
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
///     let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
///         .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
///     run_async_operator(config, Cleanup)
/// }
/// ```
pub fn run_async_operator(
    config: ControllerConfig,
    handler: impl AsyncHandler,
) -> Result<(), Error> {
    run_blocking(config, Arc::new(Async(handler)))
}

fn run_blocking(config: ControllerConfig, handler: Arc<dyn ErasedHandler>) -> Result<(), Error> {
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let result = runtime.block_on(async move {
        let kube_config = kube::Config::infer().await.map_err(Error::KubeConfig)?;
        let client = kube::Client::try_from(kube_config).map_err(Error::Client)?;
        let signal = termination_signal().map_err(Error::Runtime)?;
        Operator::new(config.name.clone(), client)
            .with_erased(config, handler)
            .with_shutdown_signal(signal)
            .run()
            .await
    });
    // Dropping the runtime would wait for every blocking task, including a handler call stuck
    // past its timeout, which no one can stop: the process would never exit on SIGTERM.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Completes on SIGTERM or SIGINT (Ctrl-C elsewhere than Unix): the usual shutdown signal of
/// an operator, for [`Operator::with_shutdown_signal`].
#[cfg(unix)]
pub fn termination_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
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

/// Completes on Ctrl-C: the usual shutdown signal of an operator, for
/// [`Operator::with_shutdown_signal`].
#[cfg(not(unix))]
pub fn termination_signal() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
