//! A controller as the engine runs it: its configuration and handler, the informers it follows
//! (shared with the other controllers of the process), its index over them, its queue, writer,
//! Events and metrics.

mod feeds;
mod index;
mod related;
mod retries;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::ControllerConfig;
use crate::engine::events::{ControllerEvents, Events};
use crate::engine::metrics::{ControllerMetrics, Metrics};
use crate::engine::queue::WorkQueue;
use crate::engine::watch::{Informer, ObjectKey, WatchSelector, Watches};
use crate::engine::writer::{StatusEchoes, Writer};
use crate::handler::ErasedHandler;
use crate::leader::LeaderGate;
use crate::names::MANAGED_BY_LABEL;
use crate::object::Observed;
use crate::plan::PlanContext;

pub(crate) use index::{Index, ParentState};
pub(crate) use related::Query;
pub(crate) use retries::Retries;

/// What every controller of a process shares.
pub(crate) struct Shared {
    pub client: kube::Client,
    pub gate: Arc<dyn LeaderGate>,
    pub events: Events,
    pub metrics: Metrics,
}

pub(crate) struct Controller {
    pub config: ControllerConfig,
    pub handler: Arc<dyn ErasedHandler>,
    pub gate: Arc<dyn LeaderGate>,
    pub queue: Arc<WorkQueue>,
    pub index: Arc<Index>,
    pub parents: Arc<Informer>,
    pub children: Vec<Arc<Informer>>,
    pub related: Vec<Arc<Informer>>,
    pub writer: Writer,
    pub events: ControllerEvents,
    pub metrics: ControllerMetrics,
    pub retries: Retries,
    /// The parents whose rollout holds children back, for the `rollouts_waiting` gauge.
    rollouts_waiting: Mutex<HashSet<ObjectKey>>,
    /// At most `max_concurrent_syncs` syncs of this controller at once.
    pub slots: Arc<Semaphore>,
    /// Cancelled when this replica stops leading; replaced when it leads again.
    epoch: Mutex<CancellationToken>,
    /// Blocking handler calls that outlived their sync, by parent: each resolves when its call
    /// returns, and its sync slot is held until then.
    overruns: Mutex<HashMap<ObjectKey, tokio::sync::oneshot::Receiver<()>>>,
}

impl Controller {
    /// A blocking handler call for `key` outlived its sync; `returned` resolves when it returns.
    pub fn overrun_started(&self, key: &ObjectKey, returned: tokio::sync::oneshot::Receiver<()>) {
        self.overruns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.clone(), returned);
    }

    /// Returns once the handler call for `key` that outlived its sync (if any) has returned.
    pub async fn overrun_returned(&self, key: &ObjectKey) {
        let returned = self
            .overruns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        if let Some(returned) = returned {
            // An error means the task ended without sending: the call is over either way.
            let _ = returned.await;
        }
    }

    /// For a decorator, once its caches are listed: objects that stopped matching while no
    /// replica ran still carry its attachments, found by their owner references; they are
    /// released as any departure (a release sync reads the object first).
    pub fn queue_departures_missed(&self) {
        if !self.config.is_decorator() {
            return;
        }
        for (uid, child) in self.index.unknown_owners() {
            let Some(obj) = self
                .children
                .get(child.type_index)
                .and_then(|i| i.store.get(&child.key))
            else {
                continue;
            };
            let owner = obj
                .json
                .pointer("/metadata/ownerReferences")
                .and_then(serde_json::Value::as_array)
                .and_then(|refs| {
                    refs.iter().find(|r| {
                        r["uid"] == uid.as_str() && r["controller"] == serde_json::Value::Bool(true)
                    })
                })
                .and_then(|r| r["name"].as_str());
            let Some(name) = owner else { continue };
            let key = ObjectKey {
                namespace: obj
                    .namespace
                    .clone()
                    .filter(|_| self.config.parent.namespaced),
                name: name.to_string(),
            };
            if self.index.mark_departed(key.clone(), uid) {
                self.queue.add(key);
            }
        }
    }

    /// Returns once every watch this controller follows has listed its objects.
    pub async fn caches_listed(&self) {
        let informers = std::iter::once(&self.parents)
            .chain(&self.children)
            .chain(&self.related);
        for informer in informers {
            informer.wait_listed().await;
        }
    }

    /// Sets up the controller: asks `watches` for the informers it needs and subscribes to them.
    pub fn build(
        id: usize,
        config: ControllerConfig,
        handler: Arc<dyn ErasedHandler>,
        queue: Arc<WorkQueue>,
        shared: &Shared,
        watches: &mut Watches,
    ) -> Arc<Self> {
        let index = Arc::new(Index::new(&config));
        let echoes = Arc::new(StatusEchoes::default());
        let feed = feeds::Feed {
            controller: id,
            index: Arc::clone(&index),
            queue: Arc::clone(&queue),
        };
        let parents = watches.informer(
            config.parent,
            WatchSelector::labels(config.parent_selector.clone()),
            &config.namespaces,
            false,
        );
        parents.subscribe(Arc::new(feeds::Parents {
            feed: feed.clone(),
            echoes: Arc::clone(&echoes),
        }));
        let children = child_informers(&config, &feed, shared, watches);
        let related = related_informers(&config, &feed, watches);
        let metrics = shared.metrics.for_controller(&config.name);
        let writer = Writer::new(
            shared.client.clone(),
            metrics.clone(),
            &config.name,
            id,
            Arc::clone(&parents),
            children.clone(),
            echoes,
        );
        Arc::new(Self {
            events: shared.events.for_controller(&config.name, config.parent),
            slots: Arc::new(Semaphore::new(config.max_concurrent_syncs)),
            handler,
            gate: Arc::clone(&shared.gate),
            queue,
            index,
            parents,
            children,
            related,
            writer,
            metrics,
            retries: Retries::default(),
            rollouts_waiting: Mutex::default(),
            epoch: Mutex::new(CancellationToken::new()),
            overruns: Mutex::default(),
            config,
        })
    }

    /// Whether the rollout of the parent at `key` holds children back after its latest sync.
    pub fn note_rollout(&self, key: &ObjectKey, waiting: bool) {
        let mut set = self
            .rollouts_waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let changed = if waiting {
            set.insert(key.clone())
        } else {
            set.remove(key)
        };
        if changed {
            self.metrics.set_rollouts_waiting(set.len());
        }
    }

    pub fn epoch(&self) -> CancellationToken {
        self.epoch.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// This replica leads (again): syncs from now on belong to a new epoch.
    pub fn renew_epoch(&self) {
        *self.epoch.lock().unwrap_or_else(|p| p.into_inner()) = CancellationToken::new();
    }

    /// What the planner needs to know about this controller, for `parent`.
    pub fn plan_context<'a>(&'a self, parent: &'a Observed) -> PlanContext<'a> {
        PlanContext {
            operator: &self.config.name,
            parent_type: self.config.parent,
            parent,
            child_types: &self.config.children,
            namespaces: &self.config.namespaces,
        }
    }

    /// `true` when the controller's finalizer is on `parent`.
    pub fn finalizer_on(&self, parent: &Observed) -> bool {
        self.config
            .finalizer
            .as_deref()
            .is_some_and(|f| parent.finalizers().contains(&f))
    }
}

/// One informer per child type, selecting the objects this controller manages.
fn child_informers(
    config: &ControllerConfig,
    feed: &feeds::Feed,
    shared: &Shared,
    watches: &mut Watches,
) -> Vec<Arc<Informer>> {
    let managed = format!("{MANAGED_BY_LABEL}={}", config.name);
    config
        .children
        .iter()
        .enumerate()
        .map(|(type_index, (t, _))| {
            let selector = WatchSelector::labels(Some(managed.clone()));
            let informer = watches.informer(*t, selector, &config.namespaces, false);
            informer.subscribe(Arc::new(feeds::Children {
                feed: feed.clone(),
                type_index,
                gate: Arc::clone(&shared.gate),
            }));
            informer
        })
        .collect()
}

/// One informer per related type, scoped as its declaration allows.
fn related_informers(
    config: &ControllerConfig,
    feed: &feeds::Feed,
    watches: &mut Watches,
) -> Vec<Arc<Informer>> {
    config
        .related
        .iter()
        .enumerate()
        .map(|(type_index, (t, rc))| {
            let scope = rc.scope(&config.namespaces);
            let selector = WatchSelector {
                labels: rc.label_selector.clone(),
                name: rc.name.clone(),
            };
            let informer = watches.informer(*t, selector, &scope, true);
            informer.subscribe(Arc::new(feeds::Related {
                feed: feed.clone(),
                type_index,
            }));
            informer
        })
        .collect()
}
