//! The engine: watchers feed the cache and the queue; a dispatcher hands parent keys to sync
//! tasks (one per parent at a time, a bounded number at once) while this replica leads.

mod cache;
mod client;
mod events;
mod metrics;
mod queue;
mod server;
mod sync;
mod watch;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kube::api::DynamicObject;
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::OperatorConfig;
use crate::error::Error;
use crate::handler::ErasedHandler;
use crate::k8s_type::K8sType;
use crate::leader::{BoxFuture, LeaderGate};
use crate::operator::Monitor;

pub(crate) use cache::{Cache, ObjectKey, Source};
pub(crate) use client::{user_agent, with_user_agent};
pub(crate) use metrics::Metrics;
pub(crate) use queue::WorkQueue;

/// Per-parent retry state.
#[derive(Debug, Default, Clone, Copy)]
struct RetryState {
    failures: u32,
    writing_streak: u32,
}

pub(crate) struct Engine {
    pub config: OperatorConfig,
    pub client: kube::Client,
    pub handler: Arc<dyn ErasedHandler>,
    pub gate: Arc<dyn LeaderGate>,
    pub cache: Arc<Cache>,
    pub queue: Arc<WorkQueue>,
    pub writer: writer::Writer,
    pub events: events::Events,
    pub metrics: Metrics,
    pub monitor: Monitor,
    retry: Mutex<HashMap<ObjectKey, RetryState>>,
    watchers: usize,
    watchers_synced: AtomicUsize,
    /// Cancelled when this replica stops leading; replaced when it leads again.
    epoch: Mutex<CancellationToken>,
}

impl Engine {
    fn retry(&self) -> MutexGuard<'_, HashMap<ObjectKey, RetryState>> {
        self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn epoch(&self) -> CancellationToken {
        self.epoch.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Puts a watched object in the cache and queues the parents it concerns. Returns its key.
    fn observe(&self, source: &Source, obj: &DynamicObject) -> Option<ObjectKey> {
        let t = match source.child_type {
            None => self.config.parent,
            Some(i) => self.config.children.get(i)?.0,
        };
        let mut json = serde_json::to_value(obj).ok()?;
        // List responses may leave out apiVersion and kind on items.
        if let Some(map) = json.as_object_mut() {
            map.insert(
                "apiVersion".into(),
                Value::String(t.api_version.to_string()),
            );
            map.insert("kind".into(), Value::String(t.kind.to_string()));
        }
        let object = crate::object::Object::from_json(json).ok()?;
        let key = ObjectKey::of(&object);
        match source.child_type {
            None => {
                if let Some(k) = self.cache.upsert_parent(object) {
                    self.queue.add_changed(k);
                }
            }
            Some(i) => {
                if let Some(term) = object.leader_term {
                    self.gate.observe_term(term);
                }
                for parent in self.cache.upsert_child(i, object) {
                    self.queue.add(parent);
                }
            }
        }
        Some(key)
    }

    /// Removes a deleted object and queues the parents it concerns.
    fn forget(&self, source: &Source, key: ObjectKey, uid: &str) {
        match source.child_type {
            None => {
                if let Some(k) = self.cache.remove_parent(&key, uid) {
                    self.queue.add(k);
                }
            }
            Some(i) => {
                for parent in self.cache.remove_child(i, key, uid) {
                    self.queue.add(parent);
                }
            }
        }
    }

    fn watcher_synced(&self) {
        let n = self.watchers_synced.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.watchers {
            self.monitor.set_ready();
        }
    }

    fn refresh_gauges(&self) {
        self.metrics.queue_depth.set(self.queue.depth() as i64);
        let (parents, per_type) = self.cache.counts(self.config.children.len());
        self.metrics
            .cached_objects
            .get_or_create(&metrics::type_labels(&self.config.parent))
            .set(parents as i64);
        for ((t, _), n) in self.config.children.iter().zip(per_type) {
            self.metrics
                .cached_objects
                .get_or_create(&metrics::type_labels(t))
                .set(n as i64);
        }
    }
}

/// Everything [`run`] needs from the [`Operator`](crate::Operator).
pub(crate) struct Parts {
    pub client: kube::Client,
    pub config: OperatorConfig,
    pub handler: Arc<dyn ErasedHandler>,
    pub gate: Arc<dyn LeaderGate>,
    pub shutdown: Option<BoxFuture<'static, ()>>,
    pub monitor: Monitor,
}

/// Runs the operator until the shutdown signal, then drains and steps down.
pub(crate) async fn run(parts: Parts) -> Result<(), Error> {
    let Parts {
        client,
        config,
        handler,
        gate,
        shutdown,
        monitor,
    } = parts;
    config.validate()?;
    check_status_subresource(&client, &config.parent).await?;
    let agent = user_agent(
        &config.name,
        &config.version,
        gate.replica_name().as_deref(),
    );
    let client = with_user_agent(client, &agent);
    let cache = Arc::new(Cache::default());
    let metrics = monitor.metrics().clone();
    monitor.register_gate(gate.as_ref());
    let stop = CancellationToken::new();

    if let Some(address) = config.server_address {
        let bound = server::serve(address, monitor.clone(), stop.clone())
            .await
            .map_err(|source| Error::Server { address, source })?;
        monitor.set_server_address(bound);
    }

    let writer = writer::Writer {
        client: client.clone(),
        metrics: metrics.clone(),
        cache: Arc::clone(&cache),
        operator: config.name.clone(),
        parent_type: config.parent,
        child_types: config.children.iter().map(|(t, _)| *t).collect(),
    };
    let events = events::Events::start(
        client.clone(),
        &config.name,
        gate.replica_name(),
        metrics.events_dropped.clone(),
        gate.subscribe(),
    );
    let mut engine = Engine {
        queue: monitor.queue(),
        config,
        client,
        handler,
        gate,
        cache,
        writer,
        events,
        metrics,
        monitor: monitor.clone(),
        retry: Mutex::default(),
        watchers: 0,
        watchers_synced: AtomicUsize::new(0),
        epoch: Mutex::new(CancellationToken::new()),
    };
    let sources = watch::sources(&engine);
    engine.watchers = sources.len();
    let engine = Arc::new(engine);

    for (source, t, selector) in sources {
        tokio::spawn(watch::run(
            Arc::clone(&engine),
            source,
            t,
            selector,
            stop.clone(),
        ));
    }
    tokio::spawn(follow_leadership(Arc::clone(&engine), stop.clone()));
    tokio::spawn(refresh_gauges(Arc::clone(&engine), stop.clone()));

    let slots = Arc::new(Semaphore::new(engine.config.max_concurrent_syncs));
    let dispatcher = tokio::spawn(dispatch(
        Arc::clone(&engine),
        Arc::clone(&slots),
        stop.clone(),
    ));

    match shutdown {
        Some(signal) => signal.await,
        None => std::future::pending::<()>().await,
    }
    tracing::info!(operator = %engine.config.name, "shutting down: finishing in-flight syncs");
    stop.cancel();
    let _ = dispatcher.await;
    // In-flight syncs hold slots; getting all of them back means they finished.
    let all = u32::try_from(engine.config.max_concurrent_syncs).unwrap_or(u32::MAX);
    let drained = tokio::time::timeout(engine.config.shutdown_grace, slots.acquire_many(all)).await;
    if drained.is_err() {
        tracing::warn!("in-flight syncs did not finish within the grace period; cancelling them");
    }
    engine.epoch().cancel();
    engine.gate.step_down().await;
    monitor.set_stopped();
    Ok(())
}

/// Every sync writes the parent's status through its status subresource. Without one, each
/// sync would write the children and then fail; better to say so at start. When discovery
/// cannot tell (the type is not served yet: its CRD may come later), the watch waits for it.
async fn check_status_subresource(client: &kube::Client, parent: &K8sType) -> Result<(), Error> {
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
        return Err(Error::Config(format!(
            "the parent type {} {} has no status subresource, and the engine writes the parent's status through it; add `subresources: {{status: {{}}}}` to the served versions of its CRD (with kube's derive: `#[kube(status = \"...\")]`)",
            parent.api_version, parent.kind
        )));
    }
    Ok(())
}

async fn dispatch(engine: Arc<Engine>, slots: Arc<Semaphore>, stop: CancellationToken) {
    // A sync before every watcher has listed could see a parent without its children (an
    // operator restarting next to existing children) and try to create them again.
    tokio::select! {
        _ = stop.cancelled() => return,
        _ = engine.monitor.wait_ready() => {}
    }
    let mut leadership = engine.gate.subscribe();
    loop {
        if !leadership.borrow_and_update().is_leader {
            tokio::select! {
                _ = stop.cancelled() => return,
                changed = leadership.changed() => {
                    if changed.is_err() { return; }
                    continue;
                }
            }
        }
        let slot = tokio::select! {
            _ = stop.cancelled() => return,
            slot = Arc::clone(&slots).acquire_owned() => match slot { Ok(s) => s, Err(_) => return },
        };
        let key = tokio::select! {
            _ = stop.cancelled() => return,
            changed = leadership.changed() => {
                if changed.is_err() { return; }
                continue;
            }
            key = engine.queue.next() => key,
        };
        let epoch = engine.epoch();
        let engine = Arc::clone(&engine);
        tokio::spawn(async move {
            // Handler panics are caught where the handler is called; this catches a bug in
            // the engine itself, which must not leave the parent marked running for ever.
            let task = std::panic::AssertUnwindSafe(sync::sync_task(
                Arc::clone(&engine),
                key.clone(),
                epoch,
            ));
            if let Err(panic) = futures::FutureExt::catch_unwind(task).await {
                let message = crate::handler::panic_message(panic.as_ref());
                tracing::error!("the sync of {key} panicked inside the engine: {message}");
                sync::finish(&engine, &key, sync::engine_panicked(message));
            }
            drop(slot);
        });
    }
}

async fn follow_leadership(engine: Arc<Engine>, stop: CancellationToken) {
    let mut leadership = engine.gate.subscribe();
    let mut was_leader = false;
    loop {
        let state = leadership.borrow_and_update().clone();
        engine.metrics.leader.set(i64::from(state.is_leader));
        engine
            .metrics
            .leader_term
            .set(i64::try_from(state.term).unwrap_or(i64::MAX));
        engine.monitor.set_leader(state.is_leader);
        if state.is_leader && !was_leader {
            *engine.epoch.lock().unwrap_or_else(|p| p.into_inner()) = CancellationToken::new();
            // A new leader's view may differ from what the previous one acted on.
            for key in engine.cache.parent_keys() {
                engine.queue.add(key);
            }
        } else if !state.is_leader && was_leader {
            engine.epoch().cancel();
        }
        was_leader = state.is_leader;
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = leadership.changed() => if changed.is_err() { return },
        }
    }
}

async fn refresh_gauges(engine: Arc<Engine>, stop: CancellationToken) {
    loop {
        engine.refresh_gauges();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
