//! What a handler returns: [`SyncResponse`] and [`FinalizeResponse`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// The desired state of one parent: the children that should exist and the status the parent
/// should show.
///
/// Children are any serializable Kubernetes objects with `apiVersion`, `kind` and
/// `metadata.name`: k8s-openapi types, `#[derive(CustomResource)]` types, or
/// `serde_json::Value`. The namespace may be left out; it defaults to the parent's.
///
/// ```
/// use std::time::Duration;
/// use roperator_core::prelude::*;
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use serde_json::json;
///
/// let mut config = ConfigMap::default();
/// config.metadata.name = Some("web-config".into());
/// config.data = Some([("message".to_string(), "hi".to_string())].into());
///
/// let response = SyncResponse::new()
///     .with_child(&config)
///     .with_child(&json!({
///         "apiVersion": "v1", "kind": "Service",
///         "metadata": { "name": "web" },
///         "spec": { "ports": [{ "port": 80 }] }
///     }))
///     .with_status(&json!({ "ready": false }))
///     .with_resync_after(Duration::from_secs(30));
/// assert_eq!(response.children().len(), 2);
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyncResponse {
    pub(crate) status: Option<Value>,
    pub(crate) children: Vec<Value>,
    pub(crate) resync_after: Option<Duration>,
    /// Labels and annotations to set on the parent (for decorators, mostly).
    pub(crate) parent_metadata: ParentMetadata,
    /// Values that failed to serialize; reported as an invalid response rather than dropped,
    /// so a child that cannot be serialized is never pruned by accident.
    pub(crate) serialize_errors: Vec<String>,
}

impl SyncResponse {
    /// No children, no status change, the default resync period.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the parent's status (anything that serializes to a JSON object). The engine adds
    /// `observedGeneration` and writes it only when it differs from the parent's current status.
    pub fn with_status(mut self, status: &impl Serialize) -> Self {
        if let Some(value) = to_status(status, &mut self.serialize_errors) {
            self.status = Some(value);
        }
        self
    }

    /// Adds a desired child.
    pub fn with_child(mut self, child: &impl Serialize) -> Self {
        match serde_json::to_value(child) {
            Ok(value) => self.children.push(value),
            Err(e) => self.serialize_errors.push(format!(
                "desired child #{} does not serialize to JSON: {e}",
                self.children.len() + self.serialize_errors.len() + 1
            )),
        }
        self
    }

    /// Adds several desired children.
    pub fn with_children<'a, T, I>(self, children: I) -> Self
    where
        T: Serialize + 'a,
        I: IntoIterator<Item = &'a T>,
    {
        children
            .into_iter()
            .fold(self, |response, child| response.with_child(child))
    }

    /// Asks for the next sync of this parent after `delay` at the latest (sooner if something
    /// changes), instead of after the global resync period.
    pub fn with_resync_after(mut self, delay: Duration) -> Self {
        self.resync_after = Some(delay);
        self
    }

    /// Sets a label on the parent itself. The engine applies the labels and annotations it is
    /// given with server-side apply under the controller's field manager, so that one the
    /// handler stops returning is removed and those others set are left alone. Meant for
    /// [decorators](crate::ControllerConfig::decorator), which own nothing else of the
    /// decorated object.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let response = SyncResponse::new()
    ///     .with_parent_label("example.com/isolated", "true")
    ///     .with_parent_annotation("example.com/policy", "default-deny-ingress");
    /// # let _ = response;
    /// ```
    pub fn with_parent_label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.parent_metadata.labels.insert(key.into(), value.into());
        self
    }

    /// Sets an annotation on the parent itself; see
    /// [`with_parent_label`](Self::with_parent_label).
    pub fn with_parent_annotation(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        self.parent_metadata
            .annotations
            .insert(key.into(), value.into());
        self
    }

    /// The desired children, as JSON.
    pub fn children(&self) -> &[Value] {
        &self.children
    }

    /// The desired status, as JSON.
    pub fn status(&self) -> Option<&Value> {
        self.status.as_ref()
    }
}

/// Labels and annotations a sync sets on its parent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ParentMetadata {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The outcome of [`Handler::finalize`](crate::Handler::finalize): finished (the finalizer is
/// removed and the parent goes away) or not yet (called again later).
///
/// ```
/// use std::time::Duration;
/// use roperator_core::prelude::*;
/// use serde_json::json;
///
/// let done = FinalizeResponse::done();
/// assert!(done.is_done());
/// let later = FinalizeResponse::retry_after(Duration::from_secs(5))
///     .with_status(&json!({ "phase": "CleaningUp" }));
/// assert!(!later.is_done());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FinalizeResponse {
    pub(crate) retry_after: Option<Duration>,
    pub(crate) status: Option<Value>,
    pub(crate) serialize_errors: Vec<String>,
}

impl FinalizeResponse {
    /// Cleanup is finished: the engine removes its finalizer.
    pub fn done() -> Self {
        Self {
            retry_after: None,
            status: None,
            serialize_errors: Vec::new(),
        }
    }

    /// Cleanup is not finished: call `finalize` again after `delay`.
    pub fn retry_after(delay: Duration) -> Self {
        Self {
            retry_after: Some(delay),
            ..Self::done()
        }
    }

    /// Sets the parent's status while it is being finalized.
    pub fn with_status(mut self, status: &impl Serialize) -> Self {
        if let Some(value) = to_status(status, &mut self.serialize_errors) {
            self.status = Some(value);
        }
        self
    }

    /// `true` when cleanup is finished.
    pub fn is_done(&self) -> bool {
        self.retry_after.is_none()
    }
}

/// The status as JSON; a status that does not serialize is recorded as an error of the
/// response (the sync then fails, naming it).
fn to_status(status: &impl Serialize, errors: &mut Vec<String>) -> Option<Value> {
    serde_json::to_value(status)
        .map_err(|e| errors.push(format!("the status does not serialize to JSON: {e}")))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::ser::Error as _;

    struct Unserializable;
    impl Serialize for Unserializable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            Err(S::Error::custom("boom"))
        }
    }

    #[test]
    fn serialization_failures_are_kept_not_dropped() {
        let response = SyncResponse::new()
            .with_child(&Unserializable)
            .with_status(&Unserializable);
        assert!(response.children().is_empty());
        assert_eq!(response.serialize_errors.len(), 2);
        assert!(response.serialize_errors[0].contains("boom"));
        let finalize = FinalizeResponse::done().with_status(&Unserializable);
        assert_eq!(finalize.serialize_errors.len(), 1);
    }
}
