//! How children of one type are kept up to date: [`ChildConfig`].

use super::rollout::Rollout;

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

/// How the children of one type are managed: how a changed child is updated, whether changes
/// roll out a few children at a time, whether orphans are adopted, and whether a child the
/// handler stops returning is deleted or released.
///
/// ```
/// use roperator_core::prelude::*;
///
/// let config = ControllerConfig::new("demo", k8s_types::core::v1::Namespace)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::apply())
///     .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
///     .with_child(k8s_types::batch::v1::Job, ChildConfig::recreate())
///     .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete())
///     .with_child(k8s_types::apps::v1::StatefulSet, ChildConfig::rolling_replace())
///     .with_child(
///         k8s_types::core::v1::PersistentVolumeClaim,
///         ChildConfig::on_delete().with_adoption().with_prune(Prune::Release),
///     );
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChildConfig {
    /// What happens when the desired content of an existing child changes.
    pub update: UpdateStrategy,
    /// Updates of existing children go out a few at a time, each waiting for the previous ones
    /// to be ready (`None`: all at once).
    pub rollout: Option<Rollout>,
    /// An existing object the handler asks for, carrying this controller's managed-by label and
    /// no controller, is adopted (see [`with_adoption`](Self::with_adoption)).
    pub adoption: bool,
    /// What happens to a child the handler no longer returns.
    pub prune: Prune,
}

/// What happens to a child the handler no longer returns; chosen per child type with
/// [`ChildConfig::with_prune`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Prune {
    /// Deleted (with a UID precondition), and what it owns with it.
    #[default]
    Delete,
    /// Released: its controller reference to the parent and its parent-uid label are removed,
    /// so that it outlives the parent; its content, its managed-by label and the engine's
    /// record stay, so that the handler can ask for it again (with
    /// [`adoption`](ChildConfig::with_adoption), a later parent adopts it as it is). For data
    /// that must survive the parent: volumes, claims, backups.
    Release,
}

impl ChildConfig {
    fn with_update(update: UpdateStrategy) -> Self {
        Self {
            update,
            rollout: None,
            adoption: false,
            prune: Prune::Delete,
        }
    }

    /// Update changed children in place ([`UpdateStrategy::Replace`]).
    pub fn replace() -> Self {
        Self::with_update(UpdateStrategy::Replace)
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
        Self::with_update(UpdateStrategy::Apply { force: true })
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
                ..self
            },
            _ => self,
        }
    }

    /// Delete changed children and create them again ([`UpdateStrategy::Recreate`]).
    pub fn recreate() -> Self {
        Self::with_update(UpdateStrategy::Recreate)
    }

    /// Never update existing children ([`UpdateStrategy::OnDelete`]).
    pub fn on_delete() -> Self {
        Self::with_update(UpdateStrategy::OnDelete)
    }

    /// Update changed children in place, one at a time, each once the previous one is ready
    /// (Metacontroller's `RollingInPlace`): `replace()` with [`Rollout::one_at_a_time`].
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// // One StatefulSet per zone: a bad change stops at the first zone.
    /// let config = ControllerConfig::new("db", k8s_types::core::v1::Namespace)
    ///     .with_child(k8s_types::apps::v1::StatefulSet, ChildConfig::rolling_replace());
    /// assert!(config.validate().is_ok());
    /// ```
    pub fn rolling_replace() -> Self {
        Self::replace().with_rollout(Rollout::one_at_a_time())
    }

    /// Delete and create again changed children, one at a time, each once the previous one is
    /// ready again (Metacontroller's `RollingRecreate`): `recreate()` with
    /// [`Rollout::one_at_a_time`].
    pub fn rolling_recreate() -> Self {
        Self::recreate().with_rollout(Rollout::one_at_a_time())
    }

    /// Rolls changes to existing children of this type out as `rollout` says: at most
    /// [`Rollout::at_most`] children not ready at a time, in the order the handler returns
    /// them. A child that is not ready (by the readiness view, or by
    /// [`Rollout::ready_when_condition`]) holds the rest back; the parent's `Updated` condition
    /// says which child and why. Creating missing children and pruning are never held back.
    /// Refused (by `validate`) for [`ChildConfig::on_delete`], which never updates a child.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let shards = ChildConfig::apply()
    ///     .with_rollout(Rollout::at_most(2).ready_when_condition("Available", "True"));
    /// assert_eq!(shards.rollout.unwrap().max_unready(), 2);
    /// ```
    pub fn with_rollout(self, rollout: Rollout) -> Self {
        Self {
            rollout: Some(rollout),
            ..self
        }
    }

    /// Adopts orphans: an existing object that the handler asks for (same type, namespace and
    /// name), carrying this controller's `roperator.io/managed-by` label and no controller
    /// owner reference — left by a parent deleted with `--cascade=orphan`, released, or
    /// restored from a backup — gets the parent's controller reference and parent-uid label
    /// (a JSON patch conditional on its `resourceVersion`, so that a concurrent owner wins
    /// cleanly) instead of colliding with the create. It is then managed as usual: updated only
    /// if it differs from the handler's answer, never deleted and created again to adopt it.
    /// An object with another controller is never adopted (the sync fails with a
    /// `NameCollision` naming it), and nothing is adopted for a parent being deleted.
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let claims = ChildConfig::on_delete().with_adoption();
    /// assert!(claims.adoption);
    /// ```
    pub fn with_adoption(self) -> Self {
        Self {
            adoption: true,
            ..self
        }
    }

    /// What happens to a child the handler no longer returns: [`Prune::Delete`] (the default)
    /// or [`Prune::Release`].
    ///
    /// ```
    /// use roperator_core::prelude::*;
    ///
    /// let volumes = ChildConfig::on_delete().with_prune(Prune::Release);
    /// assert_eq!(volumes.prune, Prune::Release);
    /// ```
    pub fn with_prune(self, prune: Prune) -> Self {
        Self { prune, ..self }
    }
}
