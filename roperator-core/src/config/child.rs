//! How children of one type are kept up to date: [`ChildConfig`].

/// How a child whose desired content changed is brought up to date; chosen per child type
/// with [`ChildConfig`].
///
/// ```
/// use roperator_core::prelude::*;
/// use roperator_core::UpdateStrategy;
///
/// assert_eq!(ChildConfig::recreate().update, UpdateStrategy::Recreate);
/// assert_eq!(ChildConfig::apply().update, UpdateStrategy::Apply { force: true });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateStrategy {
    /// Updated in place (a `PUT` with a `resourceVersion` precondition) to exactly what the
    /// handler returned: fields the handler stopped returning are removed, fields that others
    /// (the API server, other controllers) set and the handler never returned are kept.
    Replace,
    /// Written with server-side apply under the controller's field manager (its name): the API
    /// server records which fields the controller owns, releases those the handler stops
    /// returning (removing them unless another manager owns them too) and leaves other
    /// managers' fields to them.
    Apply {
        /// A field the handler returns that another manager owns with another value is taken
        /// over (`true`), or the write fails with the conflict, named in the parent's status
        /// and a Warning Event, and the other manager's value stays (`false`).
        force: bool,
    },
    /// Deleted (with a UID precondition) and created again once the deletion is observed. For
    /// objects whose spec is immutable, such as Jobs or Pods.
    Recreate,
    /// Never updated: created when missing, deleted when no longer desired, otherwise left as is.
    OnDelete,
}

/// The update policy for one child type.
///
/// ```
/// use roperator_core::prelude::*;
///
/// let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::apply())
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
///     .with_child(k8s_types::batch::v1::Job, ChildConfig::recreate())
///     .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete());
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildConfig {
    /// What happens when the desired content of an existing child changes.
    pub update: UpdateStrategy,
}

impl ChildConfig {
    /// Update changed children in place ([`UpdateStrategy::Replace`]).
    pub fn replace() -> Self {
        Self {
            update: UpdateStrategy::Replace,
        }
    }

    /// Create and update children with server-side apply ([`UpdateStrategy::Apply`]), taking
    /// over conflicting fields (see [`with_force`](Self::with_force)).
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// // A HorizontalPodAutoscaler owns `spec.replicas`: the handler does not return it, and a
    /// // Deployment that once had it from the handler keeps the autoscaler's value.
    /// let config = ControllerConfig::new("web", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::apply());
    /// # let _ = config;
    /// ```
    pub fn apply() -> Self {
        Self {
            update: UpdateStrategy::Apply { force: true },
        }
    }

    /// For [`apply`](Self::apply): whether a field the handler returns and another field
    /// manager owns (with another value) is taken over (`true`, the default, as Kubernetes
    /// recommends for controllers) or left to that manager, the write failing with the conflict
    /// (`false`): the parent then shows which fields and which managers in its
    /// `status.syncError` and a `WriteFailed` Warning Event, and the sync is retried with
    /// backoff until the handler stops returning the field or the other manager lets it go.
    /// Other policies ignore it.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    /// use roperator_core::UpdateStrategy;
    ///
    /// let polite = ChildConfig::apply().with_force(false);
    /// assert_eq!(polite.update, UpdateStrategy::Apply { force: false });
    /// assert_eq!(ChildConfig::replace().with_force(false), ChildConfig::replace());
    /// ```
    pub fn with_force(self, force: bool) -> Self {
        match self.update {
            UpdateStrategy::Apply { .. } => Self {
                update: UpdateStrategy::Apply { force },
            },
            _ => self,
        }
    }

    /// Delete changed children and create them again ([`UpdateStrategy::Recreate`]).
    pub fn recreate() -> Self {
        Self {
            update: UpdateStrategy::Recreate,
        }
    }

    /// Never update existing children ([`UpdateStrategy::OnDelete`]).
    pub fn on_delete() -> Self {
        Self {
            update: UpdateStrategy::OnDelete,
        }
    }
}
