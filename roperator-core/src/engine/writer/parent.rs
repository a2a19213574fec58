//! Writing the parent: its status, the controller's finalizer, and the labels and annotations
//! a decorator sets. The parent's spec is never written.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::{WriteError, WriteVerb, Writer, api, observed, typed};
use crate::engine::watch::ObjectKey;
use crate::leader::WritePermit;
use crate::object::{Observed, content_hash};

impl Writer {
    fn parent_api(&self, parent: &Observed) -> Api<DynamicObject> {
        api(&self.client, &self.parent_type, parent.namespace.as_deref())
    }

    fn parent_what(&self, action: &str, parent: &Observed) -> String {
        format!(
            "{action} of {} {}",
            self.parent_type.kind,
            parent.display_name()
        )
    }

    /// Puts the server's answer in the informer and returns it as the current parent.
    fn remember_parent(&self, obj: &DynamicObject) -> Result<Arc<Observed>, WriteError> {
        let o = observed(&self.parent_type, obj).ok_or_else(|| WriteError::Api {
            what: format!("reading the answer about {}", self.parent_type.kind),
            message: "the API server returned an object without a name".to_string(),
        })?;
        self.parents.apply(&o, self.origin());
        Ok(Arc::new(o))
    }

    /// The parent at `key` as the API server has it now (`None` when it is gone).
    pub async fn read_parent(&self, key: &ObjectKey) -> Result<Option<Observed>, WriteError> {
        let what = format!("read of {} {key}", self.parent_type.kind);
        match api(&self.client, &self.parent_type, key.namespace.as_deref())
            .get_opt(&key.name)
            .await
        {
            Ok(live) => Ok(live.and_then(|o| observed(&self.parent_type, &o))),
            Err(e) => Err(self.classify(what, e)),
        }
    }

    /// `true` when the parent still exists as the engine knows it (same UID, not being deleted).
    /// Checked before creating children: when a parent is deleted, garbage collection deletes
    /// its children, and their deletion may be seen before the parent's; without this read the
    /// engine would create them again for a parent that is gone.
    pub async fn parent_is_live(&self, parent: &Observed) -> Result<bool, WriteError> {
        Ok(self
            .read_parent(&ObjectKey::of(parent))
            .await?
            .is_some_and(|o| o.uid == parent.uid && !o.deleting))
    }

    /// Writes the parent's status through the status subresource, conditional on the parent's
    /// resourceVersion.
    pub async fn write_status(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        status: Value,
    ) -> Result<Arc<Observed>, WriteError> {
        let what = self.parent_what("status update", parent);
        self.check(permit, &what)?;
        let key = ObjectKey::of(parent);
        let sent = content_hash(&status);
        let mut body = parent.json.clone();
        if let Some(obj) = body.as_object_mut() {
            obj.insert("status".into(), status);
        }
        let body = typed(&what, body)?;
        self.metrics
            .write(WriteVerb::UpdateStatus.label(), &self.parent_type);
        self.echoes.sending(&key, sent);
        let answer = self
            .parent_api(parent)
            .replace_status(&parent.name, &self.post_params(), &body)
            .await;
        // Once the answer is in the cache, a later echo carries its resourceVersion and changes
        // nothing; only an echo that came first needed recognising.
        let result = match answer {
            Ok(updated) => self.remember_parent(&updated),
            Err(e) => Err(self.classify(what, e)),
        };
        self.echoes.settled(&key);
        result
    }

    /// Adds our finalizer, keeping everyone else's, conditional on the resourceVersion.
    pub async fn add_finalizer(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        finalizer: &str,
    ) -> Result<Arc<Observed>, WriteError> {
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
        self.json_patch_parent(parent, what, patch).await
    }

    /// Removes our finalizer, only if it is still where we saw it.
    pub async fn remove_finalizer(
        &self,
        permit: &WritePermit,
        parent: &Arc<Observed>,
        finalizer: &str,
    ) -> Result<Arc<Observed>, WriteError> {
        let what = self.parent_what("removing the finalizer", parent);
        self.check(permit, &what)?;
        let Some(index) = parent.finalizers().iter().position(|f| *f == finalizer) else {
            return Ok(Arc::clone(parent));
        };
        let path = format!("/metadata/finalizers/{index}");
        let patch = json!([
            {"op": "test", "path": path, "value": finalizer},
            {"op": "remove", "path": path},
        ]);
        self.json_patch_parent(parent, what, patch).await
    }

    async fn json_patch_parent(
        &self,
        parent: &Observed,
        what: String,
        patch: Value,
    ) -> Result<Arc<Observed>, WriteError> {
        let api = self.parent_api(parent);
        let updated = self
            .json_patch(&api, &self.parent_type, &parent.name, what, patch)
            .await?;
        self.remember_parent(&updated)
    }

    /// Sets exactly these labels and annotations on the parent under the controller's field
    /// manager, with server-side apply: keys it set before and no longer sets are removed,
    /// keys others set are kept (unless it sets them too: it takes them over).
    pub async fn apply_parent_metadata(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Result<Arc<Observed>, WriteError> {
        let what = self.parent_what("applying labels and annotations", parent);
        self.check(permit, &what)?;
        let mut metadata = json!({"name": parent.name, "uid": parent.uid});
        if let Some(ns) = &parent.namespace {
            metadata["namespace"] = json!(ns);
        }
        if !labels.is_empty() {
            metadata["labels"] = json!(labels);
        }
        if !annotations.is_empty() {
            metadata["annotations"] = json!(annotations);
        }
        let body = json!({
            "apiVersion": self.parent_type.api_version,
            "kind": self.parent_type.kind,
            "metadata": metadata,
        });
        let pp = PatchParams::apply(&self.field_manager).force();
        self.metrics
            .write(WriteVerb::Apply.label(), &self.parent_type);
        let updated = self
            .parent_api(parent)
            .patch(&parent.name, &pp, &Patch::Apply(&body))
            .await
            .map_err(|e| self.classify(what, e))?;
        self.remember_parent(&updated)
    }
}
