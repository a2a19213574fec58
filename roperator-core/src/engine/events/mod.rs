//! Kubernetes Events on parents, published in the background so that a slow or failing events
//! API never holds up a sync. One publisher per process; each controller reports under its own
//! name.

mod recorder;

use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ObjectReference;
use prometheus_client::metrics::counter::Counter;
use tokio::sync::{mpsc, watch};

use crate::k8s_type::K8sType;
use crate::leader::LeaderState;
use crate::object::Observed;
use recorder::{Note, Recorder};

/// An Event note is at most 1 kB.
const MAX_NOTE: usize = 1000;

/// The process's Event publisher.
#[derive(Clone)]
pub(crate) struct Events {
    tx: mpsc::Sender<(ObjectReference, Note)>,
    dropped: Counter,
}

impl Events {
    /// Starts the publisher; it stops when every handle is dropped.
    pub fn start(
        client: kube::Client,
        instance: Option<String>,
        dropped: Counter,
        leadership: watch::Receiver<LeaderState>,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(ObjectReference, Note)>(1024);
        let recorder = Recorder::new(client, instance);
        tokio::spawn(async move {
            // A few at a time, so that a burst (a create storm) drains quickly.
            let stream = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
            stream
                .for_each_concurrent(8, |(reference, note)| {
                    let recorder = &recorder;
                    // Queued by a leader that has since lost leadership: the new leader
                    // reports what it sees; an Event is a write like any other.
                    let leading = leadership.borrow().is_leader;
                    async move {
                        if !leading {
                            return;
                        }
                        if let Err(e) = recorder.publish(&reference, note).await {
                            tracing::debug!(error = %e, "could not publish an event");
                        }
                    }
                })
                .await;
        });
        Self { tx, dropped }
    }

    /// The Events of one controller, about parents of type `parent_type`.
    pub fn for_controller(&self, controller: &str, parent_type: K8sType) -> ControllerEvents {
        ControllerEvents {
            events: self.clone(),
            controller: Arc::from(controller),
            parent_type,
        }
    }
}

/// One controller's Events on its parents.
#[derive(Clone)]
pub(crate) struct ControllerEvents {
    events: Events,
    controller: Arc<str>,
    parent_type: K8sType,
}

impl ControllerEvents {
    fn send(&self, parent: &Observed, warning: bool, reason: &str, mut note: String) {
        if note.len() > MAX_NOTE {
            let mut cut = MAX_NOTE;
            while !note.is_char_boundary(cut) {
                cut -= 1;
            }
            note.truncate(cut);
        }
        let reference = ObjectReference {
            api_version: Some(self.parent_type.api_version.to_string()),
            kind: Some(self.parent_type.kind.to_string()),
            name: Some(parent.name.clone()),
            namespace: parent.namespace.clone(),
            uid: Some(parent.uid.clone()),
            resource_version: None,
            field_path: None,
        };
        let note = Note {
            controller: Arc::clone(&self.controller),
            warning,
            reason: reason.to_string(),
            action: "Sync",
            note,
        };
        // Dropping an Event under extreme load is better than stalling syncs; the metric
        // says it happened.
        if self.events.tx.try_send((reference, note)).is_err() {
            self.events.dropped.inc();
        }
    }

    pub fn warning(&self, parent: &Observed, reason: &str, note: String) {
        self.send(parent, true, reason, note);
    }

    pub fn normal(&self, parent: &Observed, reason: &str, note: String) {
        self.send(parent, false, reason, note);
    }
}
