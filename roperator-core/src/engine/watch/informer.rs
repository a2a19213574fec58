//! One watched type (with one label selector): its store and the controllers that follow it.
//!
//! Controllers of one process that watch the same type with the same selector share one
//! informer, so one watch and one copy of each object; each keeps its own index through its
//! [`Subscriber`]s.

use std::sync::{Arc, Mutex};

use super::store::{ObjectKey, Store, Upsert};
use crate::config::NamespaceScope;
use crate::k8s_type::K8sType;
use crate::object::Observed;

/// Where a change comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A watch event (someone changed the object, possibly us).
    Watch,
    /// The answer to a write of the controller with this id (read-your-writes: that
    /// controller's next sync sees it before the watch does, and it needs no sync for it).
    Write { controller: usize },
}

/// A new version of an object, as subscribers are told of it.
pub(crate) struct Applied<'a> {
    pub object: &'a Observed,
    /// The previous version's labels, where the store keeps labels.
    pub previous_labels: Option<&'a [(String, String)]>,
    pub origin: Origin,
}

/// A controller's interest in one informer: it updates its index and queues its parents.
pub(crate) trait Subscriber: Send + Sync {
    fn applied(&self, change: &Applied<'_>);
    fn removed(&self, key: &ObjectKey, uid: &str, origin: Origin);
}

/// Which objects of its type a watch asks the API server for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WatchSelector {
    /// A label selector.
    pub labels: Option<String>,
    /// Only objects of this name (a field selector on `metadata.name`).
    pub name: Option<String>,
}

impl WatchSelector {
    pub fn labels(labels: Option<String>) -> Self {
        Self { labels, name: None }
    }
}

pub(crate) struct Informer {
    pub t: K8sType,
    pub selector: WatchSelector,
    pub store: Store,
    scope: Mutex<NamespaceScope>,
    subscribers: Mutex<Vec<Arc<dyn Subscriber>>>,
    /// On a Namespace informer: the informers of namespaced types, whose objects in a namespace
    /// are gone once the namespace itself is.
    contents: Mutex<Vec<Arc<Informer>>>,
    /// The watches (one per namespace) that have not listed yet, and whether all have: each
    /// controller waits for its own informers only, so a type nobody can watch (a missing
    /// CRD, a forbidden namespace) holds up only the controllers that use it.
    unlisted: std::sync::atomic::AtomicUsize,
    listed: tokio::sync::watch::Sender<bool>,
}

impl Informer {
    pub fn new(
        t: K8sType,
        selector: WatchSelector,
        scope: NamespaceScope,
        keep_labels: bool,
    ) -> Self {
        Self {
            t,
            selector,
            store: Store::new(keep_labels),
            scope: Mutex::new(scope),
            subscribers: Mutex::default(),
            contents: Mutex::default(),
            unlisted: std::sync::atomic::AtomicUsize::new(0),
            listed: tokio::sync::watch::channel(false).0,
        }
    }

    /// Before the watches start: how many of them must list before the cache is complete.
    pub fn expect_lists(&self, watches: usize) {
        self.unlisted
            .store(watches, std::sync::atomic::Ordering::SeqCst);
        if watches == 0 {
            self.listed.send_replace(true);
        }
    }

    /// One of the watches listed every object it covers.
    pub fn watch_listed(&self) {
        if self
            .unlisted
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst)
            == 1
        {
            self.listed.send_replace(true);
        }
    }

    /// Returns once every watch of this informer has listed.
    pub async fn wait_listed(&self) {
        let mut listed = self.listed.subscribe();
        // The sender lives as long as `self`: an error cannot happen while we borrow it.
        let _ = listed.wait_for(|l| *l).await;
    }

    /// Widens the namespaces watched to cover `scope` too (before the watch starts).
    pub fn widen(&self, scope: &NamespaceScope) {
        let mut current = self.scope.lock().unwrap_or_else(|p| p.into_inner());
        *current = match (&*current, scope) {
            (NamespaceScope::Only(a), NamespaceScope::Only(b)) => {
                NamespaceScope::Only(a.union(b).cloned().collect())
            }
            _ => NamespaceScope::All,
        };
    }

    /// The namespaces to run one watch each in (`None`: all namespaces, or a cluster-scoped
    /// type).
    pub fn watch_namespaces(&self) -> Vec<Option<String>> {
        if !self.t.namespaced {
            return vec![None];
        }
        match &*self.scope.lock().unwrap_or_else(|p| p.into_inner()) {
            NamespaceScope::All => vec![None],
            NamespaceScope::Only(set) => set.iter().cloned().map(Some).collect(),
        }
    }

    pub fn subscribe(&self, subscriber: Arc<dyn Subscriber>) {
        self.subscribers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(subscriber);
    }

    fn each_subscriber(&self, f: impl Fn(&dyn Subscriber)) {
        let subscribers = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        for s in subscribers.iter() {
            f(s.as_ref());
        }
    }

    /// Stores a new version of an object and tells the subscribers; a version the store already
    /// has (or an older one) changes nothing.
    pub fn apply(&self, obj: &Observed, origin: Origin) {
        if let Upsert::Changed { previous_labels } = self.store.upsert(obj) {
            let change = Applied {
                object: obj,
                previous_labels: previous_labels.as_deref(),
                origin,
            };
            self.each_subscriber(|s| s.applied(&change));
        }
    }

    /// On a Namespace informer: the informers whose objects go with their namespace.
    pub fn holds_contents_of(&self, informers: Vec<Arc<Informer>>) {
        *self.contents.lock().unwrap_or_else(|p| p.into_inner()) = informers;
    }

    /// A Namespace that finished terminating takes its objects along: the watches of those
    /// objects may still be behind, and a sync in between would see children that are gone (and
    /// try to delete them again). Call it before removing the namespace itself, so no sync sees
    /// the namespace gone and its objects still there. Only a namespace seen deleted with its
    /// deletion timestamp counts: a namespace that merely stopped matching a label selector
    /// still holds its objects.
    pub fn namespace_deleted(&self, namespace: &Observed) {
        if namespace.deleting {
            self.evict_contents(&namespace.name, namespace.resource_version.parse().ok());
        }
    }

    /// Forgets the objects of namespace `name` written at or before resourceVersion `up_to`
    /// (every one with `None`). A later object is in a namespace of the same name created
    /// since: another watch of Namespaces (another controller's selector) may report the old
    /// deletion late.
    pub fn evict_contents(&self, name: &str, up_to: Option<u64>) {
        let contents = self
            .contents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for informer in contents {
            for (key, uid) in informer.store.keys_in_up_to(name, up_to) {
                informer.remove(&key, &uid, Origin::Watch);
            }
        }
    }

    /// Forgets an object that was deleted (if the store still has that incarnation).
    pub fn remove(&self, key: &ObjectKey, uid: &str, origin: Origin) {
        if self.store.remove(key, uid) {
            self.each_subscriber(|s| s.removed(key, uid, origin));
        }
    }
}
