//! What a controller manages and how: [`ControllerConfig`], with [`ChildConfig`] per child type
//! and [`RelatedConfig`] per related type.

mod child;
mod related;
mod rollout;
mod validate;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::k8s_type::K8sType;

pub use child::{ChildConfig, Prune, UpdateStrategy};
pub use related::{RelatedConfig, Select};
pub use rollout::Rollout;

/// Which namespaces a controller watches; set with [`ControllerConfig::with_namespaces`].
///
/// ```
/// use roperator_core::prelude::*;
/// use roperator_core::NamespaceScope;
///
/// static ECHO: K8sType = K8sType {
///     api_version: "examples.roperator.io/v1alpha1", kind: "EchoServer",
///     plural: "echoservers", namespaced: true,
/// };
/// let config = ControllerConfig::new("echo", ECHO).with_namespaces(["team-a", "team-b"]);
/// assert!(matches!(config.namespace_scope(), NamespaceScope::Only(set) if set.len() == 2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// Every namespace (needs cluster-wide list/watch permissions).
    All,
    /// Only these namespaces (one watch per namespace and type).
    Only(BTreeSet<String>),
}

impl NamespaceScope {
    /// `true` when `namespace` is watched.
    pub fn contains(&self, namespace: &str) -> bool {
        match self {
            NamespaceScope::All => true,
            NamespaceScope::Only(set) => set.contains(namespace),
        }
    }
}

/// What the parent of a controller is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParentRole {
    /// A custom resource the operator defines: its status is the engine's to write.
    Owned,
    /// An existing object the controller decorates: never rewritten, its status written only
    /// when asked to; when it stops matching the selectors, its attachments are removed.
    Decorated { writes_status: bool },
}

/// Default for [`ControllerConfig::with_resync_period`].
pub const DEFAULT_RESYNC_PERIOD: Duration = Duration::from_secs(5 * 60);
/// Default for [`ControllerConfig::with_max_concurrent_syncs`]. A sync spends most of its time
/// waiting for the API server (a new parent's first sync makes three round trips one after
/// another), so a controller's throughput is about this many parents per round-trip time: at
/// 16, a 1,000-parent create storm against a server answering in 20 ms was bounded by the
/// operator itself, well before the server (see the crate README's storm benchmark).
pub const DEFAULT_MAX_CONCURRENT_SYNCS: usize = 64;
/// Default first delay of [`ControllerConfig::with_error_backoff`].
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_millis(500);
/// Default longest delay of [`ControllerConfig::with_error_backoff`].
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(5 * 60);
/// Default for [`ControllerConfig::with_sync_timeout`].
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(30);

/// One controller: its parent type, the types of children it manages and how, the types it
/// reads, and how its syncs are scheduled. Built with chained `with_*` calls; every setting has a
/// documented default, only the name and the parent type are required.
///
/// Run it with [`run_operator`](crate::run_operator), or several of them in one process with
/// [`Operator::with_controller`](crate::Operator::with_controller).
///
/// ```
/// use std::time::Duration;
/// use roperator_core::prelude::*;
///
/// pub static ECHO: K8sType = K8sType {
///     api_version: "examples.roperator.io/v1alpha1",
///     kind: "EchoServer",
///     plural: "echoservers",
///     namespaced: true,
/// };
///
/// let config = ControllerConfig::new("echo-server", ECHO)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
///     .with_child(k8s_types::core::v1::Service, ChildConfig::replace())
///     .with_namespaces(["team-a", "team-b"])
///     .with_parent_selector("tier=web")
///     .with_resync_period(Duration::from_secs(600))
///     .with_max_concurrent_syncs(8)
///     .with_error_backoff(Duration::from_secs(1), Duration::from_secs(120))
///     .with_sync_timeout(Duration::from_secs(10))
///     .with_finalizer("echo.examples.roperator.io/cleanup");
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    pub(crate) name: String,
    pub(crate) parent: K8sType,
    pub(crate) role: ParentRole,
    pub(crate) children: Vec<(K8sType, ChildConfig)>,
    pub(crate) related: Vec<(K8sType, RelatedConfig)>,
    pub(crate) namespaces: NamespaceScope,
    pub(crate) parent_selector: Option<String>,
    pub(crate) parent_annotation_selector: Option<String>,
    pub(crate) resync_period: Duration,
    pub(crate) max_concurrent_syncs: usize,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) sync_timeout: Duration,
    pub(crate) finalizer: Option<String>,
    /// Every child type adopts orphans ([`ControllerConfig::with_adoption`]).
    adopt_orphans: bool,
}

impl ControllerConfig {
    /// A controller called `name` whose parent is the custom resource `parent`.
    ///
    /// The name is the value of the `roperator.io/managed-by` label on every child, and the
    /// field manager and Event source of the controller's writes; two controllers of one
    /// process need different names.
    ///
    /// Defaults: all namespaces, no parent selector, resync every 5 minutes, 64 concurrent
    /// syncs, error backoff from 500 ms up to 5 minutes, 30 s sync timeout, no finalizer.
    pub fn new(name: impl Into<String>, parent: K8sType) -> Self {
        Self {
            name: name.into(),
            parent,
            role: ParentRole::Owned,
            children: Vec::new(),
            related: Vec::new(),
            namespaces: NamespaceScope::All,
            parent_selector: None,
            parent_annotation_selector: None,
            resync_period: DEFAULT_RESYNC_PERIOD,
            max_concurrent_syncs: DEFAULT_MAX_CONCURRENT_SYNCS,
            backoff_initial: DEFAULT_BACKOFF_INITIAL,
            backoff_max: DEFAULT_BACKOFF_MAX,
            sync_timeout: DEFAULT_SYNC_TIMEOUT,
            finalizer: None,
            adopt_orphans: false,
        }
    }

    /// A decorator called `name`: its parents are existing objects of `target` (any type,
    /// built-in or custom) that match [`with_parent_selector`](Self::with_parent_selector)
    /// and/or [`with_parent_annotation_selector`](Self::with_parent_annotation_selector).
    ///
    /// The sync function returns attachments (children owned by the decorated object) and may
    /// set labels and annotations on it
    /// ([`SyncResponse::with_parent_label`](crate::SyncResponse::with_parent_label)); the
    /// decorated object's spec is never rewritten, and its status is written only with
    /// [`with_status_writes`](Self::with_status_writes). When an object stops matching the
    /// selectors, its attachments are deleted, the labels and annotations the decorator set are
    /// removed, and (with a finalizer) its finalize function runs first.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let config = ControllerConfig::decorator("isolation", k8s_types::core::v1::Namespace)
    ///     .with_parent_selector("example.com/isolate=true")
    ///     .with_child(k8s_types::networking::v1::NetworkPolicy, ChildConfig::replace());
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn decorator(name: impl Into<String>, target: K8sType) -> Self {
        Self {
            role: ParentRole::Decorated {
                writes_status: false,
            },
            ..Self::new(name, target)
        }
    }

    /// Declares a type of child the handler may return, and how changed children of that type
    /// are updated. Every type the handler returns must be declared; children of declared types
    /// that the handler no longer returns are deleted.
    pub fn with_child(mut self, child: K8sType, config: ChildConfig) -> Self {
        let config = if self.adopt_orphans {
            config.with_adoption()
        } else {
            config
        };
        self.children.push((child, config));
        self
    }

    /// Every child type, declared before or after this call, adopts orphans (see
    /// [`ChildConfig::with_adoption`]): for an operator taking over children another tool (or
    /// an earlier installation) left behind.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
    ///     .with_adoption()
    ///     .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    /// assert!(config.child_types().iter().all(|(_, child)| child.adoption));
    /// ```
    pub fn with_adoption(mut self) -> Self {
        self.adopt_orphans = true;
        for (_, child) in &mut self.children {
            child.adoption = true;
        }
        self
    }

    /// Declares a related type: objects the handler reads but never writes (see
    /// [`RelatedConfig`]).
    pub fn with_related(mut self, related: K8sType, config: RelatedConfig) -> Self {
        self.related.push((related, config));
        self
    }

    /// Watches only `namespace` (instead of every namespace).
    pub fn with_namespace(self, namespace: impl Into<String>) -> Self {
        self.with_namespaces([namespace])
    }

    /// Watches only these namespaces (instead of every namespace). Calling it again adds to the
    /// set.
    pub fn with_namespaces<I, S>(mut self, namespaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = match self.namespaces {
            NamespaceScope::All => BTreeSet::new(),
            NamespaceScope::Only(set) => set,
        };
        set.extend(namespaces.into_iter().map(Into::into));
        self.namespaces = NamespaceScope::Only(set);
        self
    }

    /// Only parents whose labels match this selector (e.g. `"tier=web,env!=dev"`) are synced.
    pub fn with_parent_selector(mut self, selector: impl Into<String>) -> Self {
        self.parent_selector = Some(selector.into());
        self
    }

    /// Only parents whose annotations match this selector (label selector syntax, e.g.
    /// `"example.com/expose=true"`) are synced. The API server cannot filter on annotations, so
    /// the engine watches every object of the parent type (in the watched namespaces, narrowed
    /// by [`with_parent_selector`](Self::with_parent_selector) if set) and filters itself.
    pub fn with_parent_annotation_selector(mut self, selector: impl Into<String>) -> Self {
        self.parent_annotation_selector = Some(selector.into());
        self
    }

    /// For a [`decorator`](Self::decorator): the status the sync function returns is written
    /// to the decorated object (its type must have a status subresource), with the engine's
    /// status fields. Without it, a decorator's status is never written and returning one is an
    /// error.
    pub fn with_status_writes(mut self) -> Self {
        if let ParentRole::Decorated { writes_status } = &mut self.role {
            *writes_status = true;
        }
        self
    }

    /// Every parent is synced at least this often, even when nothing changed (default 5
    /// minutes). A handler can ask for an earlier one with
    /// [`SyncResponse::with_resync_after`](crate::SyncResponse::with_resync_after).
    pub fn with_resync_period(mut self, period: Duration) -> Self {
        self.resync_period = period;
        self
    }

    /// At most this many parents of this controller are synced at once (default 64). A parent
    /// is never synced twice at the same time.
    pub fn with_max_concurrent_syncs(mut self, max: usize) -> Self {
        self.max_concurrent_syncs = max;
        self
    }

    /// After a failed sync the parent is retried after `initial`, then twice as long each time
    /// up to `max`, with jitter; a successful sync resets it (defaults 500 ms and 5 minutes).
    pub fn with_error_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.backoff_initial = initial;
        self.backoff_max = max;
        self
    }

    /// A handler call that takes longer fails the sync (default 30 s). A blocking handler that
    /// never returns keeps its parent out of the queue, and its sync slot taken, until it does:
    /// it is never called twice at once for one parent, and hung calls tie up at most
    /// [`with_max_concurrent_syncs`](Self::with_max_concurrent_syncs) threads.
    pub fn with_sync_timeout(mut self, timeout: Duration) -> Self {
        self.sync_timeout = timeout;
        self
    }

    /// Adds this finalizer to every parent so that [`Handler::finalize`](crate::Handler::finalize)
    /// runs before a parent goes away. The name must be domain-qualified, e.g.
    /// `"echo.examples.roperator.io/cleanup"`, and the handler must implement `finalize` (a
    /// closure cannot: the operator refuses to start). Without a finalizer (the default),
    /// deleted parents simply go, and their children are removed by garbage collection.
    pub fn with_finalizer(mut self, finalizer: impl Into<String>) -> Self {
        self.finalizer = Some(finalizer.into());
        self
    }

    /// The controller's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The parent type.
    pub fn parent_type(&self) -> K8sType {
        self.parent
    }

    /// `true` for a [`decorator`](Self::decorator).
    pub fn is_decorator(&self) -> bool {
        matches!(self.role, ParentRole::Decorated { .. })
    }

    /// `true` when children of type `t` adopt orphans.
    pub(crate) fn adopts(&self, t: K8sType) -> bool {
        self.children
            .iter()
            .any(|(c, config)| *c == t && config.adoption)
    }

    /// The declared child types with their policies, in declaration order.
    pub fn child_types(&self) -> &[(K8sType, ChildConfig)] {
        &self.children
    }

    /// The declared related types, in declaration order.
    pub fn related_types(&self) -> impl Iterator<Item = K8sType> + '_ {
        self.related.iter().map(|(t, _)| *t)
    }

    /// The namespaces watched.
    pub fn namespace_scope(&self) -> &NamespaceScope {
        &self.namespaces
    }

    /// The configured finalizer, if any.
    pub fn finalizer(&self) -> Option<&str> {
        self.finalizer.as_deref()
    }

    /// `true` when the engine writes the parent's status (always for a custom resource parent,
    /// on request for a decorator).
    pub(crate) fn writes_status(&self) -> bool {
        match self.role {
            ParentRole::Owned => true,
            ParentRole::Decorated { writes_status } => writes_status,
        }
    }
}
