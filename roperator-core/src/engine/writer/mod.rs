//! The one place that writes to the API server. Every write is allowed by a [`WritePermit`]
//! checked just before it, carries a precondition (resourceVersion or UID), and its result goes
//! straight into the informer (read-your-writes) so that the next sync sees it even before the
//! watch does.

mod apply;
mod children;
mod echoes;
mod parent;

use std::sync::Arc;

use kube::api::{Api, DynamicObject, PostParams};
use serde_json::{Value, json};

use crate::engine::metrics::ControllerMetrics;
use crate::engine::watch::{Informer, Origin};
use crate::k8s_type::K8sType;
use crate::leader::WritePermit;
use crate::names::LEADER_TERM_ANNOTATION;
use crate::object::Observed;
use crate::plan::ChangeKind;

pub(crate) use echoes::StatusEchoes;

/// Why a write did not happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WriteError {
    /// The permit was revoked or expired before the write.
    #[error("leadership was lost before {0}")]
    NotLeader(String),
    /// The object changed since the engine looked (409): a fresh sync sorts it out.
    #[error("{0} changed meanwhile (conflict); syncing again")]
    Conflict(String),
    /// A desired child's name is taken by an object this parent does not manage.
    #[error("{0}")]
    Collision(String),
    /// A desired child's name is taken by an orphan: an object with this controller's label
    /// and no controller. A collision, unless the type adopts (then the cache had not shown the
    /// orphan yet, and the next sync adopts it).
    #[error("{message}")]
    Orphan {
        child_type: K8sType,
        message: String,
    },
    /// Any other refusal by the API server, or a transport failure.
    #[error("{what} failed: {message}")]
    Api { what: String, message: String },
}

/// The kinds of request the writer makes, as the `verb` label of the writes metric names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteVerb {
    Create,
    Update,
    Delete,
    UpdateStatus,
    Patch,
    Apply,
}

impl WriteVerb {
    pub fn label(self) -> &'static str {
        match self {
            WriteVerb::Create => "create",
            WriteVerb::Update => "update",
            WriteVerb::Delete => "delete",
            WriteVerb::UpdateStatus => "update_status",
            WriteVerb::Patch => "patch",
            WriteVerb::Apply => "apply",
        }
    }
}

/// What a successful write changed, for logs and the Normal Event.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    pub kind: ChangeKind,
    pub description: String,
}

/// One controller's writer.
pub(crate) struct Writer {
    client: kube::Client,
    metrics: ControllerMetrics,
    /// The controller's name: the field manager of every write.
    field_manager: String,
    /// The controller's id, so that its own writes do not queue its own parents.
    controller: usize,
    parent_type: K8sType,
    parents: Arc<Informer>,
    children: Vec<Arc<Informer>>,
    /// Shared with the parents' feed, which recognises the echoes of our status writes.
    echoes: Arc<StatusEchoes>,
}

impl Writer {
    pub fn new(
        client: kube::Client,
        metrics: ControllerMetrics,
        field_manager: &str,
        controller: usize,
        parents: Arc<Informer>,
        children: Vec<Arc<Informer>>,
        echoes: Arc<StatusEchoes>,
    ) -> Self {
        Self {
            client,
            metrics,
            field_manager: field_manager.to_string(),
            controller,
            parent_type: parents.t,
            parents,
            children,
            echoes,
        }
    }

    fn origin(&self) -> Origin {
        Origin::Write {
            controller: self.controller,
        }
    }

    fn check(&self, permit: &WritePermit, what: &str) -> Result<(), WriteError> {
        if permit.is_valid() {
            Ok(())
        } else {
            Err(WriteError::NotLeader(what.to_string()))
        }
    }

    fn classify(&self, what: String, e: kube::Error) -> WriteError {
        match e {
            kube::Error::Api(status) if status.code == 409 && !status.is_already_exists() => {
                self.metrics.conflict();
                WriteError::Conflict(what)
            }
            kube::Error::Api(status) => WriteError::Api {
                what,
                message: format!("{} ({} {})", status.message, status.code, status.reason),
            },
            other => WriteError::Api {
                what,
                message: other.to_string(),
            },
        }
    }

    fn post_params(&self) -> PostParams {
        PostParams {
            field_manager: Some(self.field_manager.clone()),
            ..PostParams::default()
        }
    }

    /// Sends a JSON patch whose first operation tests what the engine saw (a resourceVersion,
    /// a finalizer's position): a failed test (422 on a real API server, or 409) is a
    /// conflict, since our view was stale, and the next sync sees the object as it is now.
    async fn json_patch(
        &self,
        api: &Api<DynamicObject>,
        t: &K8sType,
        name: &str,
        what: String,
        patch: Value,
    ) -> Result<DynamicObject, WriteError> {
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(|e| WriteError::Api {
                what: what.clone(),
                message: e.to_string(),
            })?;
        self.metrics.write(WriteVerb::Patch.label(), t);
        match api
            .patch(
                name,
                &self.patch_params(),
                &kube::api::Patch::<()>::Json(patch),
            )
            .await
        {
            Ok(patched) => Ok(patched),
            Err(kube::Error::Api(status)) if status.code == 422 || status.code == 409 => {
                self.metrics.conflict();
                Err(WriteError::Conflict(what))
            }
            Err(e) => Err(self.classify(what, e)),
        }
    }

    fn patch_params(&self) -> kube::api::PatchParams {
        kube::api::PatchParams {
            field_manager: Some(self.field_manager.clone()),
            ..kube::api::PatchParams::default()
        }
    }

    fn child_informer(&self, t: &K8sType) -> Option<&Arc<Informer>> {
        self.children.iter().find(|i| i.t == *t)
    }
}

fn api(client: &kube::Client, t: &K8sType, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = t.api_resource();
    match namespace {
        Some(ns) if t.namespaced => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

fn describe(t: &K8sType, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{} {ns}/{name}", t.kind),
        None => format!("{} {name}", t.kind),
    }
}

fn typed(what: &str, body: Value) -> Result<DynamicObject, WriteError> {
    serde_json::from_value(body).map_err(|e| WriteError::Api {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// Records which leadership term wrote the object (fencing: a replica that sees a higher term
/// than its own steps down). Term 0 means there is no election, so nothing is stamped.
fn stamp(mut object: Value, term: u64) -> Value {
    if term > 0
        && let Some(Value::Object(meta)) = object.get_mut("metadata")
    {
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        if let Value::Object(a) = annotations {
            a.insert(
                LEADER_TERM_ANNOTATION.into(),
                Value::String(term.to_string()),
            );
        }
    }
    object
}

fn observed(t: &K8sType, obj: &DynamicObject) -> Option<Observed> {
    Observed::from_dynamic(obj, t)
}
