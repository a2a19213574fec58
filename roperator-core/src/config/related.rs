//! Objects a controller reads but does not own: [`RelatedConfig`] declares a type and says, per
//! parent, which objects of it the sync reads ([`Select`]).

use std::fmt;
use std::sync::Arc;

use crate::object::Observed;

/// Which objects of a related type one parent reads; returned, per parent, by the function given
/// to [`RelatedConfig::new`].
///
/// Names and selectors without a namespace look in the parent's namespace (for a namespaced
/// related type and a namespaced parent); a cluster-scoped parent must name the namespace of a
/// namespaced related type.
///
/// ```
/// use roperator_core::Select;
///
/// let by_name = Select::name("settings");
/// let elsewhere = Select::name_in("kube-system", "cluster-defaults");
/// let by_labels = Select::labels("app=web,tier!=cache");
/// # let _ = (by_name, elsewhere, by_labels);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Select {
    /// The object called `name`, in `namespace` (or the parent's, or cluster-scoped).
    Name {
        /// `None`: the parent's namespace (or none, for a cluster-scoped type).
        namespace: Option<String>,
        /// The object's name.
        name: String,
    },
    /// Every object whose labels match `selector` (API server syntax), in `namespace` (or the
    /// parent's), or in every watched namespace when `everywhere` is set.
    Labels {
        /// `None`: the parent's namespace (unless `everywhere`).
        namespace: Option<String>,
        /// A label selector such as `"app=web,tier in (a,b)"`.
        selector: String,
        /// In every namespace the controller watches (or for a cluster-scoped type).
        everywhere: bool,
    },
}

impl Select {
    /// The object called `name` in the parent's namespace (or the cluster-scoped object).
    pub fn name(name: impl Into<String>) -> Self {
        Self::Name {
            namespace: None,
            name: name.into(),
        }
    }

    /// The object called `name` in `namespace`.
    pub fn name_in(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self::Name {
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// The objects matching a label selector in the parent's namespace (or cluster-scoped).
    pub fn labels(selector: impl Into<String>) -> Self {
        Self::Labels {
            namespace: None,
            selector: selector.into(),
            everywhere: false,
        }
    }

    /// The objects matching a label selector in `namespace`.
    pub fn labels_in(namespace: impl Into<String>, selector: impl Into<String>) -> Self {
        Self::Labels {
            namespace: Some(namespace.into()),
            selector: selector.into(),
            everywhere: false,
        }
    }

    /// The objects matching a label selector in every namespace the watch of this type covers.
    pub fn labels_everywhere(selector: impl Into<String>) -> Self {
        Self::Labels {
            namespace: None,
            selector: selector.into(),
            everywhere: true,
        }
    }
}

impl fmt::Display for Select {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Select::Name {
                namespace: Some(ns),
                name,
            } => write!(f, "{ns}/{name}"),
            Select::Name { name, .. } => write!(f, "{name}"),
            Select::Labels {
                selector,
                everywhere: true,
                ..
            } => write!(f, "labels {selector:?} in every namespace"),
            Select::Labels {
                namespace: Some(ns),
                selector,
                ..
            } => write!(f, "labels {selector:?} in {ns}"),
            Select::Labels { selector, .. } => write!(f, "labels {selector:?}"),
        }
    }
}

type SelectFn = dyn Fn(&Observed) -> Vec<Select> + Send + Sync;

/// A related type: objects the sync reads but never writes. Declared with
/// [`ControllerConfig::with_related`](crate::ControllerConfig::with_related).
///
/// The function given to [`new`](Self::new) says, from the parent alone, which objects the sync
/// reads. It must be pure and cheap: the engine calls it whenever the parent changes, keeps an
/// index from each selected object to the parents that read it, and syncs exactly those parents
/// again when such an object is created, changed or deleted. The selected objects reach the
/// handler through [`SyncRequest::related`](crate::SyncRequest::related); one that does not
/// exist is simply absent (the handler decides what that means).
///
/// The watch of the type is scoped as narrowly as the declaration allows: one namespace with
/// [`with_namespace`](Self::with_namespace), a label selector with
/// [`with_label_selector`](Self::with_label_selector), one name with
/// [`with_name`](Self::with_name), otherwise the controller's namespaces.
///
/// ```
/// use roperator_core::prelude::*;
///
/// static ECHO: K8sType = K8sType {
///     api_version: "example.com/v1", kind: "Echo", plural: "echoes", namespaced: true,
/// };
///
/// // Each Echo names a ConfigMap in its own namespace: `spec.messageFrom.name`.
/// let message_source = RelatedConfig::new(|parent: &Observed| {
///     parent.json()["spec"]["messageFrom"]["name"]
///         .as_str()
///         .map(Select::name)
///         .into_iter()
///         .collect()
/// });
/// let config = ControllerConfig::new("echo", ECHO)
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
///     .with_related(k8s_types::core::v1::ConfigMap, message_source);
/// assert!(config.validate().is_ok());
/// ```
#[derive(Clone)]
pub struct RelatedConfig {
    pub(crate) select: Arc<SelectFn>,
    pub(crate) namespace: Option<String>,
    pub(crate) label_selector: Option<String>,
    pub(crate) name: Option<String>,
}

impl RelatedConfig {
    /// A related type whose objects each parent selects with `select`.
    pub fn new(select: impl Fn(&Observed) -> Vec<Select> + Send + Sync + 'static) -> Self {
        Self {
            select: Arc::new(select),
            namespace: None,
            label_selector: None,
            name: None,
        }
    }

    /// Watches this type in `namespace` only (a shared defaults object in the operator's own
    /// namespace, say), whatever namespaces the controller watches.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// Watches (and so caches) only the objects of this type matching `selector`.
    pub fn with_label_selector(mut self, selector: impl Into<String>) -> Self {
        self.label_selector = Some(selector.into());
        self
    }

    /// Watches (and so caches) only the objects of this type called `name` (one per watched
    /// namespace, with [`with_namespace`](Self::with_namespace) just one): for a type of which
    /// every parent reads the same object, such as a shared defaults ConfigMap, in a cluster that
    /// holds thousands of others. A parent that selects another name, or selects by labels,
    /// fails its sync with `InvalidRelatedSelection`.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let defaults = RelatedConfig::new(|_: &Observed| vec![Select::name_in("ops", "defaults")])
    ///     .with_namespace("ops")
    ///     .with_name("defaults");
    /// # let _ = defaults;
    /// ```
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

impl RelatedConfig {
    /// The namespaces the watch of this type covers, for a controller watching `controller`.
    pub(crate) fn scope(&self, controller: &super::NamespaceScope) -> super::NamespaceScope {
        match &self.namespace {
            Some(ns) => super::NamespaceScope::Only([ns.clone()].into()),
            None => controller.clone(),
        }
    }
}

impl fmt::Debug for RelatedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RelatedConfig")
            .field("namespace", &self.namespace)
            .field("label_selector", &self.label_selector)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
