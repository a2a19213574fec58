//! Publishing `events.k8s.io/v1` Events, folding exact repeats into a series.
//!
//! kube-rs' `Recorder` folds every Event with the same type, reason and object into the first
//! one, keeping its note: a parent that failed for one reason and then for another would show
//! the first message with a growing count, and `ChildCreated` would keep naming the first
//! children. Here only Events with the same note are folded, as client-go's correlator does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

/// A repeat later than this starts a new Event (the API server's Event TTL is one hour; a
/// series that old would be patched after its Event expired).
const SERIES_WINDOW: Duration = Duration::from_secs(6 * 60);

/// What one Event says; repeats of it are folded.
pub(crate) struct Note {
    /// The controller reporting it (`reportingController`).
    pub controller: std::sync::Arc<str>,
    pub warning: bool,
    pub reason: String,
    pub action: &'static str,
    pub note: String,
}

#[derive(Hash, PartialEq, Eq)]
struct Key {
    controller: std::sync::Arc<str>,
    regarding_uid: String,
    warning: bool,
    reason: String,
    note: String,
}

struct Series {
    namespace: String,
    name: String,
    count: i32,
    last: Instant,
}

/// The series of the last [`SERIES_WINDOW`]; expired ones are dropped at most once a minute,
/// not on every Event (a create storm publishes thousands).
#[derive(Default)]
struct Recent {
    series: HashMap<Key, Series>,
    pruned: Option<Instant>,
}

impl Recent {
    fn prune(&mut self, now: Instant) {
        if self
            .pruned
            .is_some_and(|at| now.duration_since(at) < Duration::from_secs(60))
        {
            return;
        }
        self.series
            .retain(|_, s| now.duration_since(s.last) < SERIES_WINDOW);
        self.pruned = Some(now);
    }
}

pub(crate) struct Recorder {
    client: kube::Client,
    /// The replica's name; each controller's own name where the replica has none.
    instance: Option<String>,
    series: Mutex<Recent>,
}

impl Recorder {
    pub fn new(client: kube::Client, instance: Option<String>) -> Self {
        Self {
            client,
            instance,
            series: Mutex::default(),
        }
    }

    fn series(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.series.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        note: Note,
    ) -> Result<(), kube::Error> {
        // Events of cluster-scoped objects go to `default`, as client-go puts them.
        let namespace = regarding
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_string());
        let key = Key {
            controller: note.controller.clone(),
            regarding_uid: regarding.uid.clone().unwrap_or_default(),
            warning: note.warning,
            reason: note.reason.clone(),
            note: note.note.clone(),
        };
        let now = Instant::now();
        let repeat = {
            let mut recent = self.series();
            recent.prune(now);
            recent
                .series
                .get_mut(&key)
                .filter(|s| now.duration_since(s.last) < SERIES_WINDOW)
                .map(|s| {
                    s.count += 1;
                    s.last = now;
                    (s.namespace.clone(), s.name.clone(), s.count)
                })
        };
        if let Some((namespace, name, count)) = repeat {
            let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
            let patch = json!({"series": EventSeries {
                count,
                last_observed_time: MicroTime(Timestamp::now()),
            }});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            return Ok(());
        }
        let stamp = Timestamp::now();
        let event = K8sEvent {
            metadata: ObjectMeta {
                namespace: Some(namespace.clone()),
                name: Some(format!(
                    "{}.{:x}",
                    regarding.name.as_deref().unwrap_or(&note.controller),
                    stamp.as_nanosecond()
                )),
                ..ObjectMeta::default()
            },
            event_time: Some(MicroTime(stamp)),
            type_: Some(if note.warning { "Warning" } else { "Normal" }.to_string()),
            reason: Some(note.reason),
            action: Some(note.action.to_string()),
            note: Some(note.note),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(note.controller.to_string()),
            reporting_instance: Some(
                self.instance
                    .clone()
                    .unwrap_or_else(|| note.controller.to_string()),
            ),
            ..K8sEvent::default()
        };
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), &namespace);
        let created = api.create(&PostParams::default(), &event).await?;
        self.series().series.insert(
            key,
            Series {
                namespace,
                name: created.metadata.name.unwrap_or_default(),
                count: 1,
                last: now,
            },
        );
        Ok(())
    }
}
