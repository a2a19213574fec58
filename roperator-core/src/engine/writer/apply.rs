//! Writing children with server-side apply (the apply policy), under the controller's field
//! manager.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Map, Value, json};

use super::{WriteError, WriteVerb, Writer, api, describe, stamp};
use crate::k8s_type::K8sType;
use crate::leader::WritePermit;
use crate::object::Observed;

impl Writer {
    /// Creates a child by applying it. An apply would merge into an object of the same name
    /// that is not ours, so the name is read first: taken, the create is a collision as with a
    /// POST (`AlreadyExists`) and nothing is written.
    pub(super) async fn create_by_apply(
        &self,
        permit: &WritePermit,
        parent: &Observed,
        t: K8sType,
        object: Value,
        ns: Option<&str>,
        name: &str,
    ) -> Result<(), WriteError> {
        let described = describe(&t, ns, name);
        let api = api(&self.client, &t, ns);
        match api.get_opt(name).await {
            Ok(Some(existing)) => {
                return Err(self.collision_with(&t, ns, name, parent, &existing));
            }
            Ok(None) => {}
            Err(e) => return Err(self.classify(format!("read {described}"), e)),
        }
        let what = format!("create {described}");
        self.check(permit, &what)?;
        // Not forced: an object someone created meanwhile with other values makes it fail.
        let created = self
            .send_apply(&api, &t, name, stamp(object, permit.term()), false)
            .await
            .map_err(|e| self.classify_apply(what, e))?;
        self.remember_child(&t, &created);
        Ok(())
    }

    /// Applies `object` (carrying `live`'s resourceVersion) to an existing child.
    pub(super) async fn apply_to(
        &self,
        permit: &WritePermit,
        t: K8sType,
        mut object: Value,
        live: &Observed,
        force: bool,
    ) -> Result<String, WriteError> {
        let described = describe(&t, live.namespace.as_deref(), &live.name);
        let what = format!("apply to {described}");
        self.check(permit, &what)?;
        let api = api(&self.client, &t, live.namespace.as_deref());
        if live.owned_by_updates() {
            let version = self.move_to_apply(&api, &t, live, &what).await?;
            object["metadata"]["resourceVersion"] = Value::String(version);
            self.check(permit, &what)?;
        }
        let applied = self
            .send_apply(&api, &t, &live.name, stamp(object, permit.term()), force)
            .await
            .map_err(|e| self.classify_apply(what, e))?;
        self.remember_child(&t, &applied);
        Ok(described)
    }

    async fn send_apply(
        &self,
        api: &Api<DynamicObject>,
        t: &K8sType,
        name: &str,
        body: Value,
        force: bool,
    ) -> Result<DynamicObject, kube::Error> {
        let mut params = PatchParams::apply(&self.field_manager);
        params.force = force;
        self.metrics.write(WriteVerb::Apply.label(), t);
        api.patch(name, &params, &Patch::Apply(&body)).await
    }

    /// A refused apply; field conflicts (when not forcing) name the fields and their managers,
    /// as the API server does, and say what to do about them.
    fn classify_apply(&self, what: String, e: kube::Error) -> WriteError {
        match e {
            kube::Error::Api(status)
                if status.code == 409
                    && status.details.as_ref().is_some_and(|d| {
                        d.causes.iter().any(|c| c.reason == "FieldManagerConflict")
                    }) =>
            {
                WriteError::Api {
                    what,
                    message: format!(
                        "{} (409 Conflict): other field managers own these fields with other values; stop returning them, or take them over with ChildConfig::apply().with_force(true)",
                        status.message
                    ),
                }
            }
            other => self.classify(what, other),
        }
    }

    /// Moves the fields the controller owns through create and update requests (a child
    /// created before its type's policy became apply) into its apply entry, as `kubectl` does
    /// when moving to server-side apply: ownership through an update keeps a field that the
    /// apply no longer sets, so without this the fields the handler stops returning would never
    /// be removed. One JSON patch of `metadata.managedFields`, conditional on the
    /// resourceVersion; returns the new one.
    async fn move_to_apply(
        &self,
        api: &Api<DynamicObject>,
        t: &K8sType,
        live: &Observed,
        what: &str,
    ) -> Result<String, WriteError> {
        let current = api
            .get(&live.name)
            .await
            .map_err(|e| self.classify(what.to_string(), e))?;
        let conflict = || WriteError::Conflict(what.to_string());
        if current.metadata.uid.as_deref() != Some(live.uid.as_str()) {
            return Err(conflict());
        }
        let version = current
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        let current = serde_json::to_value(&current).map_err(|e| WriteError::Api {
            what: what.to_string(),
            message: e.to_string(),
        })?;
        let Some(entries) = moved_to_apply(&current, &self.field_manager) else {
            return Ok(version);
        };
        let patch = json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": version},
            {"op": "replace", "path": "/metadata/managedFields", "value": entries},
        ]);
        let patched = self
            .json_patch(api, t, &live.name, what.to_string(), patch)
            .await?;
        Ok(patched.metadata.resource_version.unwrap_or_default())
    }
}

/// `object`'s managedFields with `manager`'s update entry (of the object itself, not of a
/// subresource) merged into its apply entry; `None` when it has no such update entry.
fn moved_to_apply(object: &Value, manager: &str) -> Option<Vec<Value>> {
    let entries = object.pointer("/metadata/managedFields")?.as_array()?;
    let is = |e: &Value, operation: &str| {
        e["manager"] == manager
            && e["operation"] == operation
            && e["subresource"].as_str().unwrap_or_default().is_empty()
    };
    let update = entries.iter().find(|e| is(e, "Update"))?;
    let mut out: Vec<Value> = entries
        .iter()
        .filter(|e| !is(e, "Update"))
        .cloned()
        .collect();
    match out.iter_mut().find(|e| is(e, "Apply")) {
        Some(apply) => {
            let mut fields = apply["fieldsV1"].take();
            union(&mut fields, &update["fieldsV1"]);
            apply["fieldsV1"] = fields;
        }
        None => {
            let mut apply = update.clone();
            apply["operation"] = json!("Apply");
            out.push(apply);
        }
    }
    Some(out)
}

/// Adds the fields of the `FieldsV1` set `other` to `fields`.
fn union(fields: &mut Value, other: &Value) {
    let Value::Object(other) = other else {
        return;
    };
    if !fields.is_object() {
        *fields = Value::Object(Map::new());
    }
    if let Value::Object(fields) = fields {
        for (key, value) in other {
            union(
                fields.entry(key.clone()).or_insert_with(|| json!({})),
                value,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ownership_through_updates_joins_the_apply_entry() {
        let object = json!({"metadata": {"managedFields": [
            {"manager": "op", "operation": "Update", "apiVersion": "v1",
             "fieldsV1": {"f:data": {"f:a": {}, "f:old": {}}}},
            {"manager": "op", "operation": "Apply", "apiVersion": "v1",
             "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}},
            {"manager": "op", "operation": "Update", "subresource": "status", "fieldsV1": {}},
            {"manager": "other", "operation": "Update", "fieldsV1": {"f:data": {"f:c": {}}}}
        ]}});
        let moved = moved_to_apply(&object, "op").unwrap();
        assert_eq!(
            moved,
            vec![
                json!({"manager": "op", "operation": "Apply", "apiVersion": "v1",
                       "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}, "f:old": {}}}}),
                json!({"manager": "op", "operation": "Update", "subresource": "status", "fieldsV1": {}}),
                json!({"manager": "other", "operation": "Update", "fieldsV1": {"f:data": {"f:c": {}}}}),
            ]
        );
        // Without an apply entry, the update entry becomes one.
        let created = json!({"metadata": {"managedFields": [
            {"manager": "op", "operation": "Update", "fieldsV1": {"f:data": {}}}]}});
        assert_eq!(
            moved_to_apply(&created, "op").unwrap(),
            vec![json!({"manager": "op", "operation": "Apply", "fieldsV1": {"f:data": {}}})]
        );
        assert_eq!(moved_to_apply(&created, "someone"), None);
    }
}
