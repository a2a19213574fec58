//! One watch (a type, one namespace or all, one label selector) feeding its informer.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;

use super::informer::{Informer, Origin, WatchSelector};
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

/// The objects a relist has shown so far.
#[derive(Default)]
struct Relist {
    seen: HashSet<ObjectKey>,
    /// The newest resourceVersion listed: what was written before the list.
    newest: Option<u64>,
}

impl Relist {
    fn add(&mut self, o: &Observed) {
        self.seen.insert(ObjectKey::of(o));
        if let Ok(rv) = o.resource_version.parse::<u64>() {
            self.newest = self.newest.max(Some(rv));
        }
    }
}

/// What one watch does with the events it receives.
struct Feed<F> {
    informer: Arc<Informer>,
    namespace: Option<String>,
    /// What a relist in progress has listed so far.
    relist: Option<Relist>,
    /// Called once, when the first list is complete.
    synced: Option<F>,
}

impl<F: FnOnce()> Feed<F> {
    fn event(&mut self, event: Event<DynamicObject>) {
        let t = self.informer.t;
        match event {
            Event::Init => self.relist = Some(Relist::default()),
            Event::InitApply(obj) => {
                if let Some(o) = Observed::from_dynamic(&obj, &t) {
                    self.relist.get_or_insert_with(Relist::default).add(&o);
                    self.informer.apply(&o, Origin::Watch);
                }
            }
            Event::InitDone => {
                // What the relist did not show is gone. A namespace missing from a list of all
                // of them was deleted while the watch was down, with what it held up to then.
                let relist = self.relist.take().unwrap_or_default();
                let namespaces_gone =
                    t.is_namespace() && self.informer.selector == WatchSelector::default();
                for (key, uid) in self.informer.store.keys_in(self.namespace.as_deref()) {
                    if !relist.seen.contains(&key) {
                        if namespaces_gone {
                            self.informer.evict_contents(&key.name, relist.newest);
                        }
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
                    if t.is_namespace() {
                        self.informer.namespace_deleted(&o);
                    }
                    self.informer
                        .remove(&ObjectKey::of(&o), &o.uid, Origin::Watch);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::NamespaceScope;
    use crate::engine::watch::informer::{Applied, Subscriber};
    use crate::k8s_type::K8sType;
    use crate::k8s_type::k8s_types::core::v1::{ConfigMap, Namespace};
    use serde_json::{Value, json};

    /// Records what its informers forgot, in order.
    #[derive(Default)]
    struct Removals(Mutex<Vec<String>>);

    impl Subscriber for Removals {
        fn applied(&self, _: &Applied<'_>) {}
        fn removed(&self, key: &ObjectKey, _: &str, _: Origin) {
            self.0.lock().unwrap().push(key.to_string());
        }
    }

    fn object(kind: &str, namespace: Option<&str>, name: &str, rv: u64) -> Value {
        // One UID per namespace and name: every version here is of one incarnation.
        let uid = format!("{}/{name}", namespace.unwrap_or_default());
        let mut meta = json!({"name": name, "uid": uid, "resourceVersion": rv.to_string()});
        if let Some(ns) = namespace {
            meta["namespace"] = json!(ns);
        }
        json!({"apiVersion": "v1", "kind": kind, "metadata": meta})
    }

    fn dynamic(v: Value) -> DynamicObject {
        serde_json::from_value(v).unwrap()
    }

    /// A Namespace watch over all namespaces whose deletions take along the ConfigMaps cached
    /// in them (red/a and red/b written at 1, blue/a at 1, red/new at 9).
    struct Fixture {
        feed: Feed<fn()>,
        config_maps: Arc<Informer>,
        removals: Arc<Removals>,
    }

    fn namespaces_and_config_maps() -> Fixture {
        let informer = |t: K8sType| {
            Arc::new(Informer::new(
                t,
                WatchSelector::default(),
                NamespaceScope::All,
                false,
            ))
        };
        let namespaces = informer(Namespace);
        let config_maps = informer(ConfigMap);
        namespaces.holds_contents_of(vec![Arc::clone(&config_maps)]);
        let removals = Arc::new(Removals::default());
        namespaces.subscribe(removals.clone());
        config_maps.subscribe(removals.clone());
        for (ns, name, rv) in [
            ("red", "a", 1),
            ("red", "b", 1),
            ("blue", "a", 1),
            ("red", "new", 9),
        ] {
            let o = Observed::from_json(object("ConfigMap", Some(ns), name, rv)).unwrap();
            config_maps.apply(&o, Origin::Watch);
        }
        let mut feed = Feed {
            informer: namespaces,
            namespace: None,
            relist: None,
            synced: None,
        };
        for (name, rv) in [("red", 2), ("blue", 2)] {
            feed.event(Event::Apply(dynamic(object("Namespace", None, name, rv))));
        }
        Fixture {
            feed,
            config_maps,
            removals,
        }
    }

    impl Fixture {
        /// The ConfigMaps still cached, sorted.
        fn cached(&self) -> Vec<String> {
            let mut keys: Vec<String> = self
                .config_maps
                .store
                .keys_in(None)
                .into_iter()
                .map(|(k, _)| k.to_string())
                .collect();
            keys.sort();
            keys
        }

        fn removed(&self) -> Vec<String> {
            self.removals.0.lock().unwrap().clone()
        }
    }

    #[test]
    fn a_deleted_namespace_takes_its_older_objects_along_before_it_goes_itself() {
        let mut f = namespaces_and_config_maps();
        // Leaving a label-selected watch is no deletion: the objects are still there.
        f.feed
            .event(Event::Delete(dynamic(object("Namespace", None, "blue", 3))));
        assert_eq!(f.cached(), ["blue/a", "red/a", "red/b", "red/new"]);

        let mut red = object("Namespace", None, "red", 5);
        red["metadata"]["deletionTimestamp"] = json!("2026-12-04T00:00:00Z");
        f.feed.event(Event::Delete(dynamic(red)));
        // red/new was written after the deletion: it is in a namespace "red" created since,
        // whose deletion this watch reports late.
        assert_eq!(f.cached(), ["blue/a", "red/new"]);
        let removed = f.removed();
        assert_eq!(removed.len(), 4, "blue, red/a, red/b, red: {removed:?}");
        assert_eq!(removed[3], "red", "the namespace goes last: {removed:?}");
    }

    #[test]
    fn a_namespace_missing_from_a_relist_takes_along_what_it_held_before_the_list() {
        let mut f = namespaces_and_config_maps();
        f.feed.event(Event::Init);
        let blue = object("Namespace", None, "blue", 7);
        f.feed.event(Event::InitApply(dynamic(blue)));
        f.feed.event(Event::InitDone);
        assert_eq!(f.cached(), ["blue/a", "red/new"]);
        let mut removed = f.removed();
        assert_eq!(
            removed.pop().as_deref(),
            Some("red"),
            "the namespace goes last"
        );
        removed.sort();
        assert_eq!(removed, ["red/a", "red/b"]);
    }
}
