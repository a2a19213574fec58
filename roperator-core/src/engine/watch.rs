//! One watcher per type and namespace, feeding the cache and the queue.

use std::collections::HashSet;
use std::sync::Arc;

use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;

use super::Engine;
use super::cache::{ObjectKey, Source};
use crate::config::NamespaceScope;
use crate::k8s_type::K8sType;
use crate::names::MANAGED_BY_LABEL;
use crate::object::Object;

/// The watchers to run: (source, type, label selector).
pub(crate) fn sources(engine: &Engine) -> Vec<(Source, K8sType, Option<String>)> {
    let config = &engine.config;
    let namespaces: Vec<Option<String>> = match &config.namespaces {
        NamespaceScope::All => vec![None],
        NamespaceScope::Only(set) => set.iter().cloned().map(Some).collect(),
    };
    let mut out = Vec::new();
    let scoped = |t: &K8sType| -> Vec<Option<String>> {
        if t.namespaced {
            namespaces.clone()
        } else {
            vec![None]
        }
    };
    for ns in scoped(&config.parent) {
        out.push((
            Source {
                child_type: None,
                namespace: ns,
            },
            config.parent,
            config.parent_selector.clone(),
        ));
    }
    let managed = format!("{MANAGED_BY_LABEL}={}", config.name);
    for (i, (t, _)) in config.children.iter().enumerate() {
        for ns in scoped(t) {
            out.push((
                Source {
                    child_type: Some(i),
                    namespace: ns,
                },
                *t,
                Some(managed.clone()),
            ));
        }
    }
    out
}

pub(crate) async fn run(
    engine: Arc<Engine>,
    source: Source,
    t: K8sType,
    selector: Option<String>,
    stop: CancellationToken,
) {
    let ar = t.api_resource();
    let api: Api<DynamicObject> = match &source.namespace {
        Some(ns) => Api::namespaced_with(engine.client.clone(), ns, &ar),
        None => Api::all_with(engine.client.clone(), &ar),
    };
    let mut config = watcher::Config::default();
    if let Some(selector) = &selector {
        config = config.labels(selector);
    }
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    let mut relist: Option<HashSet<ObjectKey>> = None;
    let mut synced_once = false;
    loop {
        let next = tokio::select! {
            _ = stop.cancelled() => return,
            next = stream.next() => next,
        };
        let Some(event) = next else { return };
        match event {
            Ok(Event::Init) => relist = Some(HashSet::new()),
            Ok(Event::InitApply(obj)) => {
                if let Some(key) = engine.observe(&source, &obj) {
                    relist.get_or_insert_with(HashSet::new).insert(key);
                }
            }
            Ok(Event::InitDone) => {
                let seen = relist.take().unwrap_or_default();
                for (key, uid) in engine.cache.keys_of(&source) {
                    if !seen.contains(&key) {
                        engine.forget(&source, key, &uid);
                    }
                }
                if !synced_once {
                    synced_once = true;
                    engine.watcher_synced();
                }
            }
            Ok(Event::Apply(obj)) => {
                engine.observe(&source, &obj);
            }
            Ok(Event::Delete(obj)) => {
                if let Some(o) = to_object(&obj) {
                    engine.forget(&source, ObjectKey::of(&o), &o.uid);
                }
            }
            Err(e) => {
                engine
                    .metrics
                    .watch_errors
                    .get_or_create(&super::metrics::type_labels(&t))
                    .inc();
                tracing::warn!(kind = t.kind, namespace = ?source.namespace, error = %e, "watch failed; retrying with backoff");
            }
        }
    }
}

pub(crate) fn to_object(obj: &DynamicObject) -> Option<Object> {
    let json = serde_json::to_value(obj).ok()?;
    Object::from_json(json).ok()
}
