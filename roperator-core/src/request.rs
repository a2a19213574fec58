//! What a handler is given: [`SyncRequest`].

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::Error;
use crate::k8s_type::K8sType;
use crate::object::Object;

/// A consistent snapshot of one parent and the children it currently owns, taken from the
/// engine's caches just before the handler is called.
///
/// Read the parent typed with [`parent`](Self::parent) (or raw with
/// [`parent_json`](Self::parent_json)) and the children typed with
/// [`children`](Self::children) and [`child`](Self::child), or raw with
/// [`children_json`](Self::children_json).
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
/// assert_eq!(req.parent_json()["spec"]["message"], "hi");
/// let config: Option<ConfigMap> = req.child("web-config")?;
/// assert_eq!(config.unwrap().data.unwrap()["message"], "hi");
/// assert_eq!(req.children::<ConfigMap>()?.len(), 1);
/// assert_eq!(req.children_json(&k8s_types::core::v1::ConfigMap).count(), 1);
/// assert!(!req.is_finalizing());
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct SyncRequest {
    parent: Arc<Object>,
    children: Vec<Arc<Object>>,
    finalizing: bool,
}

impl SyncRequest {
    pub(crate) fn from_snapshot(
        parent: Arc<Object>,
        children: Vec<Arc<Object>>,
        finalizing: bool,
    ) -> Self {
        Self {
            parent,
            children,
            finalizing,
        }
    }

    /// Builds a request by hand, for unit tests of a handler. `parent` is any serializable
    /// Kubernetes object with a `metadata.name` (a typed custom resource, or JSON).
    pub fn new(parent: &impl Serialize) -> Result<Self, Error> {
        Ok(Self {
            parent: Arc::new(to_object(parent, "parent")?),
            children: Vec::new(),
            finalizing: false,
        })
    }

    /// Adds a child to a hand-built request (see [`new`](Self::new)).
    pub fn with_child(mut self, child: &impl Serialize) -> Result<Self, Error> {
        self.children.push(Arc::new(to_object(child, "child")?));
        Ok(self)
    }

    /// Marks a hand-built request as a finalization (see [`new`](Self::new)).
    pub fn as_finalizing(mut self) -> Self {
        self.finalizing = true;
        self
    }

    /// The parent as JSON, as the API server returned it (without `metadata.managedFields`, which
    /// the engine does not keep).
    pub fn parent_json(&self) -> &Value {
        &self.parent.json
    }

    /// The parent, deserialized into `T` (typically the `#[derive(CustomResource)]` type).
    ///
    /// A parent that does not deserialize (say a required field is missing) gives an
    /// [`Error::Deserialize`] naming the parent and the field; returned from the handler, it
    /// fails the sync without touching any child.
    pub fn parent<T: DeserializeOwned>(&self) -> Result<T, Error> {
        deserialize(&self.parent, "parent")
    }

    /// The parent's name.
    pub fn parent_name(&self) -> &str {
        &self.parent.name
    }

    /// The parent's namespace (`None` for a cluster-scoped parent).
    pub fn parent_namespace(&self) -> Option<&str> {
        self.parent.namespace.as_deref()
    }

    /// The parent's UID.
    pub fn parent_uid(&self) -> &str {
        &self.parent.uid
    }

    /// `true` when the parent is being deleted and this request is for
    /// [`Handler::finalize`](crate::Handler::finalize).
    pub fn is_finalizing(&self) -> bool {
        self.finalizing
    }

    /// The parent's current children of type `T`, deserialized.
    pub fn children<T>(&self) -> Result<Vec<T>, Error>
    where
        T: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        let (api_version, kind) = (T::api_version(&()), T::kind(&()));
        self.children
            .iter()
            .filter(|c| c.api_version == api_version && c.kind == kind)
            .map(|c| deserialize(c, "child"))
            .collect()
    }

    /// The child of type `T` called `name`, if the parent has one.
    pub fn child<T>(&self, name: &str) -> Result<Option<T>, Error>
    where
        T: kube::Resource<DynamicType = ()> + DeserializeOwned,
    {
        let (api_version, kind) = (T::api_version(&()), T::kind(&()));
        self.children
            .iter()
            .find(|c| c.api_version == api_version && c.kind == kind && c.name == name)
            .map(|c| deserialize(c, "child"))
            .transpose()
    }

    /// The parent's current children of one type, as JSON.
    pub fn children_json<'a>(
        &'a self,
        child_type: &K8sType,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let (api_version, kind) = (child_type.api_version, child_type.kind);
        self.children
            .iter()
            .filter(move |c| c.api_version == api_version && c.kind == kind)
            .map(|c| &c.json)
    }

    /// The child of one type called `name`, as JSON.
    pub fn child_json(&self, child_type: &K8sType, name: &str) -> Option<&Value> {
        self.children
            .iter()
            .find(|c| child_type.matches(&c.api_version, &c.kind) && c.name == name)
            .map(|c| &c.json)
    }

    /// All of the parent's current children, as JSON, ordered by type and name.
    pub fn all_children_json(&self) -> impl Iterator<Item = &Value> {
        self.children.iter().map(|c| &c.json)
    }
}

fn to_object(value: &impl Serialize, role: &str) -> Result<Object, Error> {
    let json = serde_json::to_value(value).map_err(|source| Error::Serialize {
        what: format!("the {role} of a hand-built SyncRequest"),
        source,
    })?;
    Object::from_json(json).map_err(|msg| {
        Error::Config(format!(
            "the {role} of a hand-built SyncRequest is unusable: {msg}"
        ))
    })
}

fn deserialize<T: DeserializeOwned>(object: &Object, role: &str) -> Result<T, Error> {
    T::deserialize(&object.json).map_err(|source| Error::Deserialize {
        what: format!("{role} {} {}", object.kind, object.display_name()),
        rust_type: std::any::type_name::<T>(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::Deployment;
    use k8s_openapi::api::core::v1::Service;
    use serde_json::json;

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
        let err = req.parent::<Parent>().unwrap_err().to_string();
        assert!(err.contains("parent P ns/p"), "{err}");
        assert!(
            err.contains("replicas") || err.contains("invalid type"),
            "{err}"
        );
        assert!(req.parent::<Parent>().is_err());
        let ok = SyncRequest::new(&parent(json!({"replicas": 3}))).unwrap();
        assert!(ok.parent::<Parent>().is_ok());
    }

    #[test]
    fn children_are_selected_by_type_and_name() {
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"}});
        let dep = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}});
        let req = SyncRequest::new(&parent(json!({})))
            .unwrap()
            .with_child(&svc)
            .unwrap()
            .with_child(&dep)
            .unwrap()
            .as_finalizing();
        assert!(req.is_finalizing());
        assert_eq!(req.children::<Service>().unwrap().len(), 1);
        assert_eq!(req.children::<Deployment>().unwrap().len(), 1);
        assert!(req.child::<Service>("web").unwrap().is_some());
        assert!(req.child::<Service>("other").unwrap().is_none());
        assert_eq!(
            req.child_json(&crate::k8s_types::apps::v1::Deployment, "web"),
            Some(&dep)
        );
        assert_eq!(req.all_children_json().count(), 2);
        assert_eq!(
            (req.parent_name(), req.parent_namespace(), req.parent_uid()),
            ("p", Some("ns"), "u")
        );
    }

    #[test]
    fn a_child_that_does_not_deserialize_is_an_error_naming_it() {
        let bad = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "ns"}, "spec": {"ports": "many"}});
        let req = SyncRequest::new(&parent(json!({})))
            .unwrap()
            .with_child(&bad)
            .unwrap();
        let err = req.children::<Service>().unwrap_err().to_string();
        assert!(err.contains("child Service ns/web"), "{err}");
    }

    #[test]
    fn hand_built_requests_need_named_objects() {
        let err = SyncRequest::new(&json!({"metadata": {}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("metadata.name"), "{err}");
    }
}
