//! Writing children: the planner's create, replace and delete actions.

use std::sync::Arc;

use kube::api::{DeleteParams, DynamicObject, Preconditions};
use serde_json::Value;

use super::{Change, WriteError, WriteVerb, Writer, api, describe, observed, stamp, typed};
use crate::engine::watch::ObjectKey;
use crate::k8s_type::K8sType;
use crate::leader::WritePermit;
use crate::names::MANAGED_BY_LABEL;
use crate::object::Observed;
use crate::plan::{Action, ChangeKind};

impl Writer {
    /// Carries out one planned action.
    pub async fn apply(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        action: Action,
    ) -> Result<Change, WriteError> {
        let kind = action.change();
        let description = match action {
            Action::Create {
                child_type,
                object,
                by_apply,
            } => {
                self.create(permit, parent, child_type, object, by_apply)
                    .await?
            }
            Action::Replace {
                child_type,
                object,
                observed,
            } => self.replace(permit, child_type, object, &observed).await?,
            Action::Apply {
                child_type,
                object,
                observed,
                force,
            } => {
                self.apply_to(permit, child_type, object, &observed, force)
                    .await?
            }
            Action::Delete {
                child_type,
                observed,
                ..
            } => self.delete(permit, child_type, &observed).await?,
            Action::Adopt {
                child_type,
                observed,
                patch,
            }
            | Action::Release {
                child_type,
                observed,
                patch,
            } => {
                let verb = if kind == ChangeKind::Adopted {
                    "adopt"
                } else {
                    "release"
                };
                self.patch_child(permit, child_type, &observed, patch, verb)
                    .await?
            }
        };
        Ok(Change { kind, description })
    }

    async fn create(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        t: K8sType,
        object: Value,
        by_apply: bool,
    ) -> Result<String, WriteError> {
        let text = |ptr: &str| {
            object
                .pointer(ptr)
                .and_then(Value::as_str)
                .map(String::from)
        };
        let (ns, name) = (
            text("/metadata/namespace"),
            text("/metadata/name").unwrap_or_default(),
        );
        let described = describe(&t, ns.as_deref(), &name);
        let what = format!("create {described}");
        self.check(permit, &what)?;
        if by_apply {
            self.create_by_apply(permit, parent, t, object, ns.as_deref(), &name)
                .await?;
            return Ok(described);
        }
        let body = typed(&what, stamp(object, permit.term()))?;
        self.metrics.write(WriteVerb::Create.label(), &t);
        match api(&self.client, &t, ns.as_deref())
            .create(&self.post_params(), &body)
            .await
        {
            Ok(created) => {
                self.remember_child(&t, &created);
                Ok(described)
            }
            Err(kube::Error::Api(status)) if status.is_already_exists() => {
                Err(self.collision(&t, ns.as_deref(), &name, parent).await)
            }
            Err(e) => Err(self.classify(what, e)),
        }
    }

    async fn replace(
        &self,
        permit: &WritePermit,
        t: K8sType,
        object: Value,
        live: &Observed,
    ) -> Result<String, WriteError> {
        let described = describe(&t, live.namespace.as_deref(), &live.name);
        let what = format!("update {described}");
        self.check(permit, &what)?;
        let body = typed(&what, stamp(object, permit.term()))?;
        self.metrics.write(WriteVerb::Update.label(), &t);
        let replaced = api(&self.client, &t, live.namespace.as_deref())
            .replace(&live.name, &self.post_params(), &body)
            .await
            .map_err(|e| self.classify(what, e))?;
        self.remember_child(&t, &replaced);
        Ok(described)
    }

    async fn delete(
        &self,
        permit: &WritePermit,
        t: K8sType,
        live: &Arc<Observed>,
    ) -> Result<String, WriteError> {
        let described = describe(&t, live.namespace.as_deref(), &live.name);
        let what = format!("delete {described}");
        self.check(permit, &what)?;
        // Background, said explicitly: some types default to orphaning what they own (a
        // batch/v1 Job its Pods), and a pruned child must not leave those behind.
        let dp = DeleteParams {
            preconditions: Some(Preconditions {
                uid: Some(live.uid.clone()),
                resource_version: None,
            }),
            ..DeleteParams::background()
        };
        self.metrics.write(WriteVerb::Delete.label(), &t);
        match api(&self.client, &t, live.namespace.as_deref())
            .delete(&live.name, &dp)
            .await
        {
            // The API server answers with the object: still there (being deleted, with a
            // deletionTimestamp) or already gone.
            Ok(either) => match either
                .left()
                .filter(|o| o.metadata.deletion_timestamp.is_some())
            {
                Some(still_there) => self.remember_child(&t, &still_there),
                None => self.forget_child(&t, live),
            },
            // Already gone: what we wanted.
            Err(kube::Error::Api(status)) if status.code == 404 => self.forget_child(&t, live),
            Err(e) => return Err(self.classify(what, e)),
        }
        Ok(described)
    }

    /// Adopts or releases `live` with a JSON patch that tests its resourceVersion: a failed
    /// test (someone changed it meanwhile, a concurrent owner above all) is a conflict, and the
    /// next sync sees the object as it is now.
    async fn patch_child(
        &self,
        permit: &WritePermit,
        t: K8sType,
        live: &Observed,
        patch: Value,
        verb: &str,
    ) -> Result<String, WriteError> {
        let described = describe(&t, live.namespace.as_deref(), &live.name);
        let what = format!("{verb} {described}");
        self.check(permit, &what)?;
        let api = api(&self.client, &t, live.namespace.as_deref());
        let patched = self.json_patch(&api, &t, &live.name, what, patch).await?;
        self.remember_child(&t, &patched);
        Ok(described)
    }

    /// A create found the name taken. If the object is ours after all (the cache had not seen
    /// it yet), the create is done; otherwise the parent gets an error and nothing is touched.
    async fn collision(
        &self,
        t: &K8sType,
        ns: Option<&str>,
        name: &str,
        parent: &Observed,
    ) -> WriteError {
        let described = describe(t, ns, name);
        match api(&self.client, t, ns).get_opt(name).await {
            Ok(Some(existing)) => self.collision_with(t, ns, name, parent, &existing),
            Ok(None) => WriteError::Conflict(format!("create {described}")),
            Err(e) => self.classify(format!("read {described}"), e),
        }
    }

    /// The error for a create that found `existing` in its place.
    pub(super) fn collision_with(
        &self,
        t: &K8sType,
        ns: Option<&str>,
        name: &str,
        parent: &Observed,
        existing: &DynamicObject,
    ) -> WriteError {
        let described = describe(t, ns, name);
        let Some(o) = observed(t, existing) else {
            return WriteError::Collision(format!(
                "desired child {described} already exists and cannot be read; it is left untouched"
            ));
        };
        if o.parent_uid.as_deref() == Some(parent.uid.as_str()) {
            self.remember_child(t, existing);
            return WriteError::Conflict(format!("create {described}"));
        }
        let managed_by = o
            .json
            .pointer("/metadata/labels")
            .and_then(|l| l.get(MANAGED_BY_LABEL))
            .and_then(Value::as_str);
        let controller = crate::object::controller_reference(&o.json);
        let owner = controller
            .map(|r| {
                let text = |f: &str| r.get(f).and_then(Value::as_str).unwrap_or("?");
                format!(
                    " (its controller is {} {}, UID {})",
                    text("kind"),
                    text("name"),
                    text("uid")
                )
            })
            .unwrap_or_default();
        let ours = managed_by == Some(self.field_manager.as_str());
        if ours && o.parent_uid.is_some() {
            return WriteError::Collision(format!(
                "desired child {described} already exists and belongs to another parent of this controller{owner}; it is left untouched"
            ));
        }
        if ours && controller.is_none() {
            // It carries our label, so it belongs in the cache: the next sync sees the orphan.
            self.remember_child(t, existing);
            return WriteError::Orphan {
                child_type: *t,
                message: format!(
                    "desired child {described} already exists with this controller's label but no controller (an orphan, left by a parent deleted with --cascade=orphan or released); it is left untouched (adopt it with ChildConfig::with_adoption, or delete it)"
                ),
            };
        }
        WriteError::Collision(format!(
            "desired child {described} already exists and is not managed by this controller{owner}; it is left untouched (rename the child or delete the existing object)"
        ))
    }

    /// Puts the server's answer to a write in the informer (read-your-writes).
    pub(super) fn remember_child(&self, t: &K8sType, obj: &DynamicObject) {
        if let (Some(informer), Some(o)) = (self.child_informer(t), observed(t, obj)) {
            informer.apply(&o, self.origin());
        }
    }

    fn forget_child(&self, t: &K8sType, live: &Observed) {
        if let Some(informer) = self.child_informer(t) {
            informer.remove(&ObjectKey::of(live), &live.uid, self.origin());
        }
    }
}
