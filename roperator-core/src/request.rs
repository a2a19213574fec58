//! What a handler is given: [`SyncRequest`].

use std::sync::Arc;

use serde::Serialize;

use crate::error::Error;
use crate::k8s_type::K8sType;
use crate::object::{Observed, of_type};

/// A consistent snapshot of one parent, the children it currently owns and the related objects
/// it reads, taken from the engine's caches just before the handler is called.
///
/// - the parent: [`parent`](Self::parent);
/// - a child by type and name: [`child`](Self::child); the children of a type:
///   [`children`](Self::children);
/// - a related object by type and name: [`related`](Self::related); the related objects of a
///   type: [`related_objects`](Self::related_objects).
///
/// Each is an [`Observed`]: JSON with [`Observed::json`], typed with [`Observed::parse`].
///
/// ```
/// use roperator_core::prelude::*;
/// use k8s_openapi::api::core::v1::ConfigMap;
/// use serde_json::json;
///
/// # fn main() -> Result<(), Error> {
/// let req = SyncRequest::new(&json!({
///     "apiVersion": "examples.roperator.io/v1alpha1", "kind": "EchoServer",
///     "metadata": { "name": "web", "namespace": "default", "uid": "1234" },
///     "spec": { "message": "hi" }
/// }))?
/// .with_child(&json!({
///     "apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": { "name": "web-config", "namespace": "default" },
///     "data": { "message": "hi" }
/// }))?;
///
/// assert_eq!(req.parent().json()["spec"]["message"], "hi");
/// let config: Option<ConfigMap> = req
///     .child(k8s_types::core::v1::ConfigMap, "web-config")
///     .map(Observed::parse)
///     .transpose()?;
/// assert_eq!(config.unwrap().data.unwrap()["message"], "hi");
/// assert_eq!(req.children(k8s_types::core::v1::ConfigMap).count(), 1);
/// assert!(!req.is_finalizing());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SyncRequest {
    parent: Arc<Observed>,
    children: Vec<Arc<Observed>>,
    related: Vec<Arc<Observed>>,
    finalizing: bool,
}

impl SyncRequest {
    pub(crate) fn from_snapshot(
        parent: Arc<Observed>,
        children: Vec<Arc<Observed>>,
        related: Vec<Arc<Observed>>,
        finalizing: bool,
    ) -> Self {
        Self {
            parent,
            children,
            related,
            finalizing,
        }
    }

    /// Builds a request by hand, for unit tests of a handler. `parent` is any serializable
    /// Kubernetes object with a `metadata.name` (a typed custom resource, or JSON).
    pub fn new(parent: &impl Serialize) -> Result<Self, Error> {
        Ok(Self {
            parent: Arc::new(hand_built(parent, "parent")?),
            children: Vec::new(),
            related: Vec::new(),
            finalizing: false,
        })
    }

    /// Adds a child to a hand-built request (see [`new`](Self::new)).
    pub fn with_child(mut self, child: &impl Serialize) -> Result<Self, Error> {
        self.children.push(Arc::new(hand_built(child, "child")?));
        Ok(self)
    }

    /// Adds a related object to a hand-built request (see [`new`](Self::new)).
    pub fn with_related(mut self, object: &impl Serialize) -> Result<Self, Error> {
        self.related
            .push(Arc::new(hand_built(object, "related object")?));
        Ok(self)
    }

    /// Marks a hand-built request as a finalization (see [`new`](Self::new)).
    pub fn with_finalizing(mut self) -> Self {
        self.finalizing = true;
        self
    }

    /// The parent, as the API server returned it (without `metadata.managedFields`).
    pub fn parent(&self) -> &Observed {
        &self.parent
    }

    /// `true` when the parent is being deleted and this request is for
    /// [`Handler::finalize`](crate::Handler::finalize).
    pub fn is_finalizing(&self) -> bool {
        self.finalizing
    }

    /// The child of type `child_type` called `name`, if the parent has one. A cluster-scoped
    /// parent may have children of one name in several namespaces: then the first by namespace
    /// is returned, and [`child_in`](Self::child_in) names the namespace.
    pub fn child(&self, child_type: K8sType, name: &str) -> Option<&Observed> {
        of_type(&self.children, child_type).find(|c| c.name == name)
    }

    /// The child of type `child_type` called `name` in `namespace` (`None` for a cluster-scoped
    /// type), if the parent has one.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    /// use serde_json::json;
    ///
    /// # fn main() -> Result<(), Error> {
    /// let quota = |ns: &str| json!({"apiVersion": "v1", "kind": "ResourceQuota",
    ///     "metadata": {"name": "quota", "namespace": ns}, "spec": {"hard": {"pods": ns.len().to_string()}}});
    /// let request = SyncRequest::new(&json!({"metadata": {"name": "tenant-a"}}))?
    ///     .with_child(&quota("a-dev"))?
    ///     .with_child(&quota("a-prod"))?;
    /// let prod = request.child_in(k8s_types::core::v1::ResourceQuota, Some("a-prod"), "quota");
    /// assert_eq!(prod.unwrap().namespace(), Some("a-prod"));
    /// assert!(request.child_in(k8s_types::core::v1::ResourceQuota, Some("a-test"), "quota").is_none());
    /// # Ok(())
    /// # }
    /// ```
    pub fn child_in(
        &self,
        child_type: K8sType,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<&Observed> {
        of_type(&self.children, child_type)
            .find(|c| c.name == name && c.namespace.as_deref() == namespace)
    }

    /// The parent's current children of type `child_type`, ordered by namespace and name.
    pub fn children(&self, child_type: K8sType) -> impl Iterator<Item = &Observed> {
        of_type(&self.children, child_type)
    }

    /// The related object of type `related_type` called `name`, if it exists and the parent
    /// selected it. When the selections span namespaces and the name exists in several, the one
    /// in the parent's namespace is returned, otherwise the first by namespace.
    pub fn related(&self, related_type: K8sType, name: &str) -> Option<&Observed> {
        let mut named = of_type(&self.related, related_type).filter(|o| o.name == name);
        let first = named.next()?;
        if first.namespace == self.parent.namespace {
            return Some(first);
        }
        Some(
            named
                .find(|o| o.namespace == self.parent.namespace)
                .unwrap_or(first),
        )
    }

    /// The related objects of type `related_type` the parent selected, ordered by namespace and
    /// name.
    pub fn related_objects(&self, related_type: K8sType) -> impl Iterator<Item = &Observed> {
        of_type(&self.related, related_type)
    }
}

fn hand_built(value: &impl Serialize, role: &str) -> Result<Observed, Error> {
    let json = serde_json::to_value(value).map_err(|source| Error::Serialize {
        what: format!("the {role} of a hand-built SyncRequest"),
        source,
    })?;
    Observed::from_json(json).map_err(|msg| Error::Request(format!("the {role}: {msg}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s_types;
    use k8s_openapi::api::core::v1::Service;
    use serde_json::{Value, json};

    #[derive(Debug, serde::Deserialize)]
    struct Spec {
        #[allow(dead_code)]
        replicas: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Parent {
        #[allow(dead_code)]
        spec: Spec,
    }

    fn parent(spec: Value) -> Value {
        json!({"apiVersion": "x.io/v1", "kind": "P", "metadata": {"name": "p", "namespace": "ns", "uid": "u"}, "spec": spec})
    }

    #[test]
    fn a_parent_that_does_not_deserialize_names_itself_and_the_field() {
        let req = SyncRequest::new(&parent(json!({"replicas": "three"}))).unwrap();
        let err = req.parent().parse::<Parent>().unwrap_err().to_string();
        assert!(err.contains("P ns/p"), "{err}");
        assert!(err.contains("invalid type"), "{err}");
        let ok = SyncRequest::new(&parent(json!({"replicas": 3}))).unwrap();
        assert!(ok.parent().parse::<Parent>().is_ok());
    }

    #[test]
    fn children_and_related_objects_are_selected_by_type_and_name() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"}});
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}});
        let cm = |ns: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "defaults", "namespace": ns}});
        let req = SyncRequest::new(&parent(json!({})))
            .unwrap()
            .with_child(&svc)
            .unwrap()
            .with_child(&dep)
            .unwrap()
            .with_related(&cm("other"))
            .unwrap()
            .with_related(&cm("ns"))
            .unwrap()
            .with_finalizing();
        assert!(req.is_finalizing());
        assert_eq!(req.children(k8s_types::core::v1::Service).count(), 1);
        assert!(req.child(k8s_types::core::v1::Service, "web").is_some());
        assert!(req.child(k8s_types::core::v1::Service, "other").is_none());
        assert_eq!(
            req.child(k8s_types::apps::v1::Deployment, "web")
                .map(Observed::json),
            Some(&dep)
        );
        let related = req
            .related(k8s_types::core::v1::ConfigMap, "defaults")
            .unwrap();
        assert_eq!(related.namespace(), Some("ns"));
        assert_eq!(
            req.related_objects(k8s_types::core::v1::ConfigMap).count(),
            2
        );
        let p = req.parent();
        assert_eq!((p.name(), p.namespace(), p.uid()), ("p", Some("ns"), "u"));
    }

    #[test]
    fn a_child_that_does_not_deserialize_is_an_error_naming_it() {
        let bad = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"ports": "many"}});
        let req = SyncRequest::new(&parent(json!({})))
            .unwrap()
            .with_child(&bad)
            .unwrap();
        let child = req.child(k8s_types::core::v1::Service, "web").unwrap();
        let err = child.parse::<Service>().unwrap_err().to_string();
        assert!(err.contains("Service ns/web"), "{err}");
    }

    #[test]
    fn hand_built_requests_need_named_objects_and_say_so() {
        let err = SyncRequest::new(&json!({"metadata": {}})).unwrap_err();
        assert!(matches!(err, Error::Request(_)));
        let text = err.to_string();
        assert!(
            text.contains("hand-built") && text.contains("metadata.name"),
            "{text}"
        );
    }
}
