//! The one place that writes to the API server. Every write is allowed by a [`WritePermit`]
//! checked just before it, carries a precondition (resourceVersion or UID), and its result goes
//! straight into the cache so that the next sync sees it even before the watch does.

use std::sync::Arc;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions};
use serde_json::{Value, json};

use super::cache::{Cache, ObjectKey};
use super::metrics::Metrics;
use crate::k8s_type::K8sType;
use crate::leader::WritePermit;
use crate::names::{LEADER_TERM_ANNOTATION, MANAGED_BY_LABEL};
use crate::object::Object;
use crate::plan::{Action, DeleteReason, Expected};

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
    /// Any other refusal by the API server, or a transport failure.
    #[error("{what} failed: {message}")]
    Api { what: String, message: String },
}

/// What a successful action changed, for the Normal Event.
pub(crate) struct Change {
    pub verb: &'static str,
    pub description: String,
}

pub(crate) struct Writer {
    pub client: kube::Client,
    pub metrics: Metrics,
    pub cache: Arc<Cache>,
    pub operator: String,
    pub parent_type: K8sType,
    pub child_types: Vec<K8sType>,
}

fn api(client: &kube::Client, t: &K8sType, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = t.api_resource();
    match namespace {
        Some(ns) if t.namespaced => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    }
}

fn to_object(obj: &DynamicObject) -> Option<Object> {
    serde_json::to_value(obj)
        .ok()
        .and_then(|json| Object::from_json(json).ok())
}

fn describe(t: &K8sType, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{} {ns}/{name}", t.kind),
        None => format!("{} {name}", t.kind),
    }
}

impl Writer {
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
                self.metrics.conflicts.inc();
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

    fn type_index(&self, t: &K8sType) -> Option<usize> {
        self.child_types.iter().position(|c| c == t)
    }

    fn remember_child(&self, t: &K8sType, obj: &DynamicObject) {
        if let (Some(i), Some(o)) = (self.type_index(t), to_object(obj)) {
            self.cache.upsert_child(i, o);
        }
    }

    /// Puts the server's answer to our create or update in the cache, with what the server
    /// made of the content we sent (see `plan::written`).
    fn remember_written(&self, t: &K8sType, obj: &DynamicObject, expected: &Expected) {
        let (Some(i), Some(o)) = (self.type_index(t), to_object(obj)) else {
            return;
        };
        let uid = o.uid.clone();
        let written = expected.after_write(&o.json);
        self.cache.upsert_child(i, o);
        self.cache.set_written(&uid, written);
    }

    /// Checks the permit, stamps the leader's term on `object` and types it for a create or
    /// an update under our field manager.
    fn prepare(
        &self,
        permit: &WritePermit,
        what: &str,
        object: Value,
    ) -> Result<(DynamicObject, PostParams), WriteError> {
        self.check(permit, what)?;
        let body =
            serde_json::from_value(stamp(object, permit.term())).map_err(|e| WriteError::Api {
                what: what.to_string(),
                message: e.to_string(),
            })?;
        let pp = PostParams {
            field_manager: Some(self.operator.clone()),
            ..PostParams::default()
        };
        Ok((body, pp))
    }

    /// Carries out one planned action.
    pub async fn apply(
        &self,
        permit: &WritePermit,
        parent: &Object,
        action: Action,
    ) -> Result<Change, WriteError> {
        let verb = action.verb();
        let child_type = action.child_type();
        match action {
            Action::Create {
                object, expected, ..
            } => {
                let ns = object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let name = object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let what = format!("create {}", describe(&child_type, ns.as_deref(), &name));
                let (body, pp) = self.prepare(permit, &what, object)?;
                self.metrics.write(verb, &child_type);
                match api(&self.client, &child_type, ns.as_deref())
                    .create(&pp, &body)
                    .await
                {
                    Ok(created) => {
                        self.remember_written(&child_type, &created, &expected);
                        Ok(Change {
                            verb: "created",
                            description: describe(&child_type, ns.as_deref(), &name),
                        })
                    }
                    Err(kube::Error::Api(status)) if status.is_already_exists() => Err(self
                        .collision(&child_type, ns.as_deref(), &name, parent)
                        .await),
                    Err(e) => Err(self.classify(what, e)),
                }
            }
            Action::Replace {
                object,
                observed,
                expected,
                ..
            } => {
                let what = format!(
                    "update {}",
                    describe(&child_type, observed.namespace.as_deref(), &observed.name)
                );
                let (body, pp) = self.prepare(permit, &what, object)?;
                self.metrics.write(verb, &child_type);
                let replaced = api(&self.client, &child_type, observed.namespace.as_deref())
                    .replace(&observed.name, &pp, &body)
                    .await
                    .map_err(|e| self.classify(what, e))?;
                self.remember_written(&child_type, &replaced, &expected);
                Ok(Change {
                    verb: "replaced",
                    description: describe(
                        &child_type,
                        observed.namespace.as_deref(),
                        &observed.name,
                    ),
                })
            }
            Action::Delete {
                observed, reason, ..
            } => {
                let described =
                    describe(&child_type, observed.namespace.as_deref(), &observed.name);
                let what = format!("delete {described}");
                self.check(permit, &what)?;
                // Background, said explicitly: some types default to orphaning what they own
                // (a batch/v1 Job its Pods), and a pruned child must not leave those behind.
                let dp = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(observed.uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::background()
                };
                self.metrics.write(verb, &child_type);
                match api(&self.client, &child_type, observed.namespace.as_deref())
                    .delete(&observed.name, &dp)
                    .await
                {
                    // The API server answers with the object: still there (being deleted,
                    // with a deletionTimestamp) or already gone.
                    Ok(either) => match either
                        .left()
                        .filter(|o| o.metadata.deletion_timestamp.is_some())
                    {
                        Some(still_there) => self.remember_child(&child_type, &still_there),
                        None => {
                            if let Some(i) = self.type_index(&child_type) {
                                self.cache
                                    .remove_child(i, ObjectKey::of(&observed), &observed.uid);
                            }
                        }
                    },
                    // Already gone: what we wanted.
                    Err(kube::Error::Api(status)) if status.code == 404 => {
                        if let Some(i) = self.type_index(&child_type) {
                            self.cache
                                .remove_child(i, ObjectKey::of(&observed), &observed.uid);
                        }
                    }
                    Err(e) => return Err(self.classify(what, e)),
                }
                Ok(Change {
                    verb: match reason {
                        DeleteReason::Prune => "deleted",
                        DeleteReason::Recreate => "recreating",
                    },
                    description: described,
                })
            }
        }
    }

    /// A create found the name taken. If the object is ours after all (the cache had not seen
    /// it yet), the create is done; otherwise the parent gets an error and nothing is touched.
    async fn collision(
        &self,
        t: &K8sType,
        ns: Option<&str>,
        name: &str,
        parent: &Object,
    ) -> WriteError {
        let described = describe(t, ns, name);
        match api(&self.client, t, ns).get_opt(name).await {
            Ok(Some(existing)) => {
                if let Some(o) = to_object(&existing) {
                    if o.parent_uid.as_deref() == Some(parent.uid.as_str()) {
                        self.remember_child(t, &existing);
                        return WriteError::Conflict(format!("create {described}"));
                    }
                    let managed_by = o
                        .json
                        .pointer("/metadata/labels")
                        .and_then(|l| l.get(MANAGED_BY_LABEL))
                        .and_then(Value::as_str);
                    if managed_by == Some(self.operator.as_str()) && o.parent_uid.is_some() {
                        return WriteError::Collision(format!(
                            "desired child {described} already exists and belongs to another parent of this operator; it is left untouched"
                        ));
                    }
                }
                WriteError::Collision(format!(
                    "desired child {described} already exists and is not managed by this operator; it is left untouched (rename the child or delete the existing object)"
                ))
            }
            Ok(None) => WriteError::Conflict(format!("create {described}")),
            Err(e) => self.classify(format!("read {described}"), e),
        }
    }

    fn parent_api(&self, parent: &Object) -> Api<DynamicObject> {
        api(&self.client, &self.parent_type, parent.namespace.as_deref())
    }

    fn parent_what(&self, action: &str, parent: &Object) -> String {
        format!(
            "{action} of {} {}",
            self.parent_type.kind,
            parent.display_name()
        )
    }

    fn remember_parent(&self, obj: &DynamicObject) -> Option<Arc<Object>> {
        let o = to_object(obj)?;
        let key = ObjectKey::of(&o);
        self.cache.upsert_parent(o);
        self.cache.snapshot(&key).map(|(p, _)| p)
    }

    /// `true` when the parent still exists as the engine knows it (same UID, not being deleted).
    /// Checked before creating children: when a parent is deleted, garbage collection deletes
    /// its children, and their deletion may be seen before the parent's; without this read the
    /// engine would create them again for a parent that is gone.
    pub async fn parent_is_live(&self, parent: &Object) -> Result<bool, WriteError> {
        let what = format!(
            "read of {} {}",
            self.parent_type.kind,
            parent.display_name()
        );
        match self.parent_api(parent).get_opt(&parent.name).await {
            Ok(Some(live)) => {
                Ok(to_object(&live).is_some_and(|o| o.uid == parent.uid && !o.deleting))
            }
            Ok(None) => Ok(false),
            Err(e) => Err(self.classify(what, e)),
        }
    }

    /// Writes the parent's status through the status subresource, conditional on the parent's
    /// resourceVersion.
    pub async fn write_status(
        &self,
        permit: &WritePermit,
        parent: &Object,
        status: Value,
    ) -> Result<Option<Arc<Object>>, WriteError> {
        let what = self.parent_what("status update", parent);
        self.check(permit, &what)?;
        let mut body = parent.json.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("status".into(), status);
            if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
                meta.remove("managedFields");
            }
        }
        let body: DynamicObject = serde_json::from_value(body).map_err(|e| WriteError::Api {
            what: what.clone(),
            message: e.to_string(),
        })?;
        let pp = PostParams {
            field_manager: Some(self.operator.clone()),
            ..PostParams::default()
        };
        self.metrics.write("update_status", &self.parent_type);
        let updated = self
            .parent_api(parent)
            .replace_status(&parent.name, &pp, &body)
            .await
            .map_err(|e| self.classify(what, e))?;
        Ok(self.remember_parent(&updated))
    }

    /// Adds our finalizer, keeping everyone else's, conditional on the resourceVersion.
    pub async fn add_finalizer(
        &self,
        permit: &WritePermit,
        parent: &Object,
        finalizer: &str,
    ) -> Result<Option<Arc<Object>>, WriteError> {
        let what = self.parent_what("adding the finalizer", parent);
        self.check(permit, &what)?;
        let has_list = parent
            .json
            .pointer("/metadata/finalizers")
            .is_some_and(Value::is_array);
        let add = if has_list {
            json!({"op": "add", "path": "/metadata/finalizers/-", "value": finalizer})
        } else {
            json!({"op": "add", "path": "/metadata/finalizers", "value": [finalizer]})
        };
        let patch = json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": parent.resource_version},
            add,
        ]);
        self.patch_parent(parent, what, patch).await
    }

    /// Removes our finalizer, only if it is still where we saw it.
    pub async fn remove_finalizer(
        &self,
        permit: &WritePermit,
        parent: &Object,
        finalizer: &str,
    ) -> Result<Option<Arc<Object>>, WriteError> {
        let what = self.parent_what("removing the finalizer", parent);
        self.check(permit, &what)?;
        let Some(index) = parent.finalizers().iter().position(|f| *f == finalizer) else {
            return Ok(None);
        };
        let path = format!("/metadata/finalizers/{index}");
        let patch = json!([
            {"op": "test", "path": path, "value": finalizer},
            {"op": "remove", "path": path},
        ]);
        self.patch_parent(parent, what, patch).await
    }

    async fn patch_parent(
        &self,
        parent: &Object,
        what: String,
        patch: Value,
    ) -> Result<Option<Arc<Object>>, WriteError> {
        let patch: json_patch::Patch =
            serde_json::from_value(patch).map_err(|e| WriteError::Api {
                what: what.clone(),
                message: e.to_string(),
            })?;
        let pp = PatchParams {
            field_manager: Some(self.operator.clone()),
            ..PatchParams::default()
        };
        self.metrics.write("patch", &self.parent_type);
        match self
            .parent_api(parent)
            .patch(&parent.name, &pp, &Patch::<()>::Json(patch))
            .await
        {
            Ok(updated) => Ok(self.remember_parent(&updated)),
            // A failed test op is 422 (real API server) or 409; either way our view was stale.
            Err(kube::Error::Api(status)) if status.code == 422 || status.code == 409 => {
                self.metrics.conflicts.inc();
                Err(WriteError::Conflict(what))
            }
            Err(e) => Err(self.classify(what, e)),
        }
    }
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
