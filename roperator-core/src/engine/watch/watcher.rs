//! One watch (a type, one namespace or all, one label selector) feeding its informer.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;

use super::informer::{Informer, Origin};
use super::store::ObjectKey;
use crate::engine::metrics::Metrics;
use crate::object::Observed;

pub(crate) async fn run(
    client: kube::Client,
    informer: Arc<Informer>,
    namespace: Option<String>,
    metrics: Metrics,
    synced: impl FnOnce(),
    stop: CancellationToken,
) {
    let t = informer.t;
    let ar = t.api_resource();
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client, ns, &ar),
        None => Api::all_with(client, &ar),
    };
    let mut config = watcher::Config::default();
    if let Some(labels) = &informer.selector.labels {
        config = config.labels(labels);
    }
    if let Some(name) = &informer.selector.name {
        config = config.fields(&format!("metadata.name={name}"));
    }
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut feed = Feed {
        informer,
        namespace,
        relist: None,
        synced: Some(synced),
    };
    let mut failing = false;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = stream.next() => next,
        };
        let Some(event) = next else { return };
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                metrics.watch_error(&t);
                // Once per outage: the watcher retries with backoff, the metric counts.
                if !failing {
                    let hint = if e.to_string().contains("404") {
                        " (is the type served? a CustomResourceDefinition may be missing)"
                    } else {
                        ""
                    };
                    tracing::warn!(kind = t.kind, namespace = ?feed.namespace, error = %e, "watch failed{hint}; retrying with backoff (the cache is stale meanwhile)");
                }
                failing = true;
                continue;
            }
        };
        // kube's watcher announces every relist with `Init` before making the list request:
        // only an answer from the server (a listed or watched object, the end of a list) shows
        // that the watch works again.
        if failing && !matches!(event, Event::Init) {
            tracing::info!(kind = t.kind, namespace = ?feed.namespace, "watch recovered");
            failing = false;
        }
        feed.event(event);
    }
}

/// What one watch does with the events it receives.
struct Feed<F> {
    informer: Arc<Informer>,
    namespace: Option<String>,
    /// The keys a relist in progress has listed so far.
    relist: Option<HashSet<ObjectKey>>,
    /// Called once, when the first list is complete.
    synced: Option<F>,
}

impl<F: FnOnce()> Feed<F> {
    fn event(&mut self, event: Event<DynamicObject>) {
        let t = self.informer.t;
        match event {
            Event::Init => self.relist = Some(HashSet::new()),
            Event::InitApply(obj) => {
                if let Some(o) = Observed::from_dynamic(&obj, &t) {
                    self.relist
                        .get_or_insert_with(HashSet::new)
                        .insert(ObjectKey::of(&o));
                    self.informer.apply(&o, Origin::Watch);
                }
            }
            Event::InitDone => {
                // What the relist did not show is gone.
                let seen = self.relist.take().unwrap_or_default();
                for (key, uid) in self.informer.store.keys_in(self.namespace.as_deref()) {
                    if !seen.contains(&key) {
                        self.informer.remove(&key, &uid, Origin::Watch);
                    }
                }
                if let Some(synced) = self.synced.take() {
                    synced();
                }
            }
            Event::Apply(obj) => {
                if let Some(o) = Observed::from_dynamic(&obj, &t) {
                    self.informer.apply(&o, Origin::Watch);
                }
            }
            Event::Delete(obj) => {
                if let Some(o) = Observed::from_dynamic(&obj, &t) {
                    self.informer
                        .remove(&ObjectKey::of(&o), &o.uid, Origin::Watch);
                    if t.is_namespace() {
                        self.informer.namespace_deleted(&o);
                    }
                }
            }
        }
    }
}
