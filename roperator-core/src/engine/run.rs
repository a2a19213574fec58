//! Running an operator: check the controllers, set up what they share (client, Events, watches,
//! metrics server), start them, and on shutdown drain them and step down.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::config::ControllerConfig;
use crate::engine::client::{user_agent, with_user_agent};
use crate::engine::controller::{Controller, Shared};
use crate::engine::events::Events;
use crate::engine::monitor::Monitor;
use crate::engine::queue::WorkQueue;
use crate::engine::watch::Watches;
use crate::engine::{dispatch, server};
use crate::error::Error;
use crate::handler::ErasedHandler;
use crate::k8s_type::K8sType;
use crate::leader::{BoxFuture, LeaderGate};

/// One controller as the [`Operator`](crate::Operator) collected it.
pub(crate) struct ControllerParts {
    pub config: ControllerConfig,
    pub handler: Arc<dyn ErasedHandler>,
    pub queue: Arc<WorkQueue>,
}

/// Everything [`run`] needs from the [`Operator`](crate::Operator).
pub(crate) struct Parts {
    pub name: String,
    pub version: String,
    pub client: kube::Client,
    pub controllers: Vec<ControllerParts>,
    pub gate: Arc<dyn LeaderGate>,
    pub shutdown: Option<BoxFuture<'static, ()>>,
    pub monitor: Monitor,
    pub server_address: Option<SocketAddr>,
    pub shutdown_grace: Duration,
}

/// Runs the operator until the shutdown signal, then drains and steps down.
pub(crate) async fn run(parts: Parts) -> Result<(), Error> {
    check(&parts.controllers)?;
    for c in &parts.controllers {
        if c.config.writes_status() {
            check_status_subresource(&parts.client, &c.config).await?;
        }
    }
    let Parts {
        name,
        version,
        client,
        controllers,
        gate,
        shutdown,
        monitor,
        server_address,
        shutdown_grace,
    } = parts;
    let agent = user_agent(&name, &version, gate.replica_name().as_deref());
    let client = with_user_agent(client, &agent);
    let metrics = monitor.metrics().clone();
    monitor.register_gate(gate.as_ref());
    let stop = CancellationToken::new();
    if let Some(address) = server_address {
        let bound = server::serve(address, monitor.clone(), stop.clone())
            .await
            .map_err(|source| Error::Server { address, source })?;
        monitor.set_server_address(bound);
    }
    let shared = Shared {
        events: Events::start(
            client.clone(),
            gate.replica_name(),
            metrics.events_dropped.clone(),
            gate.subscribe(),
        ),
        client,
        gate: Arc::clone(&gate),
        metrics: metrics.clone(),
    };
    let (controllers, dispatchers) = start(controllers, &shared, &monitor, &stop);
    match shutdown {
        Some(signal) => signal.await,
        None => std::future::pending::<()>().await,
    }
    tracing::info!(operator = %name, "shutting down: finishing in-flight syncs");
    stop.cancel();
    for d in dispatchers {
        let _ = d.await;
    }
    drain(&controllers, shutdown_grace).await;
    gate.step_down().await;
    monitor.set_stopped();
    Ok(())
}

/// Builds the controllers, starts the watches, the dispatchers and the background tasks.
fn start(
    parts: Vec<ControllerParts>,
    shared: &Shared,
    monitor: &Monitor,
    stop: &CancellationToken,
) -> (Vec<Arc<Controller>>, Vec<tokio::task::JoinHandle<()>>) {
    let mut watches = Watches::default();
    let controllers: Vec<Arc<Controller>> = parts
        .into_iter()
        .enumerate()
        .map(|(id, c)| Controller::build(id, c.config, c.handler, c.queue, shared, &mut watches))
        .collect();
    let ready = watches.start(&shared.client, &shared.metrics, stop);
    tokio::spawn({
        let (mut ready, monitor) = (ready.clone(), monitor.clone());
        async move {
            if ready.wait_for(|r| *r).await.is_ok() {
                monitor.set_ready();
            }
        }
    });
    let dispatchers = controllers
        .iter()
        .map(|c| tokio::spawn(dispatch::run(Arc::clone(c), stop.clone())))
        .collect();
    tokio::spawn(dispatch::follow_leadership(
        controllers.clone(),
        shared.gate.subscribe(),
        shared.metrics.clone(),
        monitor.clone(),
        stop.clone(),
    ));
    tokio::spawn(refresh_gauges(
        controllers.clone(),
        watches,
        shared.metrics.clone(),
        stop.clone(),
    ));
    (controllers, dispatchers)
}

/// Each controller valid, names distinct, a finalizer only with a handler that finalizes.
fn check(controllers: &[ControllerParts]) -> Result<(), Error> {
    if controllers.is_empty() {
        return Err(Error::Config {
            controller: "(none)".to_string(),
            message: "the operator has no controller: add one with `with_controller`".to_string(),
        });
    }
    let mut names = BTreeSet::new();
    for c in controllers {
        c.config.validate()?;
        let fail = |message: String| {
            Err(Error::Config {
                controller: c.config.name.clone(),
                message,
            })
        };
        if !names.insert(c.config.name.as_str()) {
            return fail("two controllers of this operator have this name; each needs its own (it labels its children)".to_string());
        }
        if let Some(f) = &c.config.finalizer
            && !c.handler.can_finalize()
        {
            return fail(format!(
                "finalizer {f:?} is configured, but the handler is a closure, which cannot finalize: implement `Handler` (or `AsyncHandler`) on a type with a `finalize` method, or remove `with_finalizer`"
            ));
        }
    }
    Ok(())
}

/// In-flight syncs hold slots; getting all of them back means they finished.
async fn drain(controllers: &[Arc<Controller>], grace: Duration) {
    let all = futures::future::join_all(controllers.iter().map(|c| {
        let n = u32::try_from(c.config.max_concurrent_syncs).unwrap_or(u32::MAX);
        Arc::clone(&c.slots).acquire_many_owned(n)
    }));
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("in-flight syncs did not finish within the grace period; cancelling them");
    }
    for c in controllers {
        c.epoch().cancel();
    }
}

/// Every sync writes the parent's status through its status subresource. Without one, each
/// sync would write the children and then fail; better to say so at start. When discovery
/// cannot tell (the type is not served yet: its CRD may come later), the watch waits for it.
async fn check_status_subresource(
    client: &kube::Client,
    config: &ControllerConfig,
) -> Result<(), Error> {
    let parent: K8sType = config.parent;
    let listed = if parent.group().is_empty() {
        client.list_core_api_resources(parent.version()).await
    } else {
        client.list_api_group_resources(parent.api_version).await
    };
    let resources = match listed {
        Ok(list) => list.resources,
        Err(e) => {
            tracing::debug!(error = %e, "could not discover {}", parent.api_version);
            return Ok(());
        }
    };
    let status = format!("{}/status", parent.plural);
    let served = resources.iter().any(|r| r.name == parent.plural);
    if served && !resources.iter().any(|r| r.name == status) {
        let fix = if config.is_decorator() {
            "it cannot show a status: remove `with_status_writes`".to_string()
        } else {
            "add `subresources: {status: {}}` to the served versions of its CRD (with kube's derive: `#[kube(status = \"...\")]`; `roperator_core::status::add_to_crd` does it too)".to_string()
        };
        return Err(Error::Config {
            controller: config.name.clone(),
            message: format!(
                "the parent type {} {} has no status subresource, and the engine writes the parent's status through it; {fix}",
                parent.api_version, parent.kind
            ),
        });
    }
    Ok(())
}

async fn refresh_gauges(
    controllers: Vec<Arc<Controller>>,
    watches: Watches,
    metrics: crate::engine::metrics::Metrics,
    stop: CancellationToken,
) {
    loop {
        for c in &controllers {
            c.metrics.set_queue_depth(c.queue.depth());
        }
        // Two informers may watch one type (with different selectors): one series per type.
        let mut per_type: std::collections::BTreeMap<K8sType, usize> = Default::default();
        for informer in watches.all() {
            *per_type.entry(informer.t).or_default() += informer.store.len();
        }
        for (t, count) in per_type {
            metrics.set_cached(&t, count);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
