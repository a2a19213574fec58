//! Watching: one informer per watched type and label selector, shared by every controller of
//! the process that asks for it, each fed by one watch per namespace.

mod informer;
mod store;
mod watcher;

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::NamespaceScope;
use crate::engine::metrics::Metrics;
use crate::k8s_type::K8sType;

pub(crate) use informer::{Applied, Informer, Origin, Subscriber, WatchSelector};
pub(crate) use store::{ObjectKey, labels_of};

/// The informers of one process, built while the controllers are set up, then started.
#[derive(Default)]
pub(crate) struct Watches {
    informers: Vec<Arc<Informer>>,
}

impl Watches {
    /// The informer for `t` with `selector`, shared with any controller that asked for the same;
    /// it watches at least `scope`.
    pub fn informer(
        &mut self,
        t: K8sType,
        selector: WatchSelector,
        scope: &NamespaceScope,
        keep_labels: bool,
    ) -> Arc<Informer> {
        if let Some(existing) = self
            .informers
            .iter()
            .find(|i| i.t == t && i.selector == selector)
        {
            existing.widen(scope);
            if keep_labels {
                existing.store.keep_labels();
            }
            return Arc::clone(existing);
        }
        let informer = Arc::new(Informer::new(t, selector, scope.clone(), keep_labels));
        self.informers.push(Arc::clone(&informer));
        informer
    }

    /// Every informer, for gauges.
    pub fn all(&self) -> &[Arc<Informer>] {
        &self.informers
    }

    /// Starts every watch; `ready` turns true once each has listed its objects (each informer
    /// also tells its own controllers, see [`Informer::wait_listed`]).
    pub fn start(
        &self,
        client: &kube::Client,
        metrics: &Metrics,
        stop: &CancellationToken,
    ) -> watch::Receiver<bool> {
        let namespaced: Vec<Arc<Informer>> = self
            .informers
            .iter()
            .filter(|i| i.t.namespaced)
            .cloned()
            .collect();
        for namespaces in self.informers.iter().filter(|i| i.t.is_namespace()) {
            namespaces.holds_contents_of(namespaced.clone());
        }
        let targets: Vec<(Arc<Informer>, Option<String>)> = self
            .informers
            .iter()
            .flat_map(|i| {
                i.watch_namespaces()
                    .into_iter()
                    .map(move |ns| (Arc::clone(i), ns))
            })
            .collect();
        for informer in &self.informers {
            informer.expect_lists(informer.watch_namespaces().len());
        }
        let (ready, ready_rx) = watch::channel(targets.is_empty());
        let remaining = Arc::new(std::sync::atomic::AtomicUsize::new(targets.len()));
        let ready = Arc::new(ready);
        for (informer, namespace) in targets {
            let remaining = Arc::clone(&remaining);
            let ready = Arc::clone(&ready);
            let listed = Arc::clone(&informer);
            let synced = move || {
                listed.watch_listed();
                if remaining.fetch_sub(1, std::sync::atomic::Ordering::SeqCst) == 1 {
                    ready.send_replace(true);
                }
            };
            tokio::spawn(watcher::run(
                client.clone(),
                informer,
                namespace,
                metrics.clone(),
                synced,
                stop.clone(),
            ));
        }
        ready_rx
    }
}
