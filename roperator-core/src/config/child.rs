//! How children of one type are kept up to date: [`ChildConfig`].

/// How a child whose desired content changed is brought up to date; chosen per child type
/// with [`ChildConfig`].
///
/// ```
/// use roperator_core::prelude::*;
/// use roperator_core::UpdateStrategy;
///
/// assert_eq!(ChildConfig::recreate().update, UpdateStrategy::Recreate);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateStrategy {
    /// Updated in place (a `PUT` with a `resourceVersion` precondition) to exactly what the
    /// handler returned: fields the handler stopped returning are removed, fields that others
    /// (the API server, other controllers) set and the handler never returned are kept.
    Replace,
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
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
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
