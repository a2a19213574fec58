//! Naming Kubernetes types: [`K8sType`] and the [`k8s_types`] catalog of built-in ones.

use std::any::TypeId;
use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

/// A Kubernetes resource type, as the engine needs to know it: what goes in `apiVersion` and
/// `kind`, the plural used in URLs, and whether objects live in a namespace.
///
/// Declare your parent custom resource as a `static` (or use [`K8sType::of`] on a
/// `#[derive(CustomResource)]` type), and pick child types from [`k8s_types`]:
///
/// ```
/// use roperator_core::prelude::*;
///
/// pub static ECHO: K8sType = K8sType {
///     api_version: "examples.roperator.io/v1alpha1",
///     kind: "EchoServer",
///     plural: "echoservers",
///     namespaced: true,
/// };
///
/// assert_eq!(ECHO.group(), "examples.roperator.io");
/// assert_eq!(ECHO.version(), "v1alpha1");
/// assert_eq!(k8s_types::apps::v1::Deployment.plural, "deployments");
/// assert_eq!(
///     K8sType::of::<k8s_openapi::api::apps::v1::Deployment>(),
///     k8s_types::apps::v1::Deployment
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct K8sType {
    /// `group/version`, or just `version` for the core group (e.g. `"v1"`, `"apps/v1"`).
    pub api_version: &'static str,
    /// The kind, e.g. `"Deployment"`.
    pub kind: &'static str,
    /// The lowercase plural used in URLs, e.g. `"deployments"`.
    pub plural: &'static str,
    /// `true` when objects of this type live in a namespace.
    pub namespaced: bool,
}

impl K8sType {
    /// The type of a Rust Kubernetes resource: any k8s-openapi type, or a custom resource
    /// declared with `#[derive(CustomResource)]`.
    ///
    /// Meant to be called while building the configuration; the names are taken from the
    /// type's constants.
    ///
    /// ```
    /// use roperator_core::K8sType;
    /// use k8s_openapi::api::core::v1::ConfigMap;
    ///
    /// let t = K8sType::of::<ConfigMap>();
    /// assert_eq!((t.api_version, t.kind, t.plural, t.namespaced), ("v1", "ConfigMap", "configmaps", true));
    /// ```
    pub fn of<T>() -> K8sType
    where
        T: kube::Resource<DynamicType = ()>,
        T::Scope: 'static,
    {
        K8sType {
            api_version: intern(T::api_version(&())),
            kind: intern(T::kind(&())),
            plural: intern(T::plural(&())),
            namespaced: TypeId::of::<T::Scope>()
                != TypeId::of::<k8s_openapi::ClusterResourceScope>(),
        }
    }

    /// The API group; empty for the core group.
    pub fn group(&self) -> &'static str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// The version within the group, e.g. `"v1"`.
    pub fn version(&self) -> &'static str {
        match self.api_version.rsplit_once('/') {
            Some((_, version)) => version,
            None => self.api_version,
        }
    }

    /// `true` when a JSON object's `apiVersion` and `kind` name this type.
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.api_version == api_version && self.kind == kind
    }

    /// `true` for the core Namespace type, whose deletion takes everything in it along.
    pub(crate) fn is_namespace(&self) -> bool {
        self.matches("v1", "Namespace")
    }

    pub(crate) fn api_resource(&self) -> kube::core::ApiResource {
        kube::core::ApiResource {
            group: self.group().to_string(),
            version: self.version().to_string(),
            api_version: self.api_version.to_string(),
            kind: self.kind.to_string(),
            plural: self.plural.to_string(),
        }
    }
}

impl fmt::Display for K8sType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.api_version, self.kind)
    }
}

impl From<&K8sType> for K8sType {
    fn from(value: &K8sType) -> Self {
        *value
    }
}

/// Names of k8s-openapi and derived types are `&'static str` constants, so this almost never
/// allocates; a type that builds its names at run time is leaked once per distinct name rather
/// than once per call.
fn intern(name: Cow<'static, str>) -> &'static str {
    match name {
        Cow::Borrowed(s) => s,
        Cow::Owned(s) => {
            static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
            let mut names = NAMES
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(existing) = names.get(s.as_str()) {
                return existing;
            }
            let leaked: &'static str = Box::leak(s.into_boxed_str());
            names.insert(leaked);
            leaked
        }
    }
}

macro_rules! catalog {
    ($( $(#[$doc:meta])* $name:ident => $ty:ty, namespaced: $ns:expr; )*) => {
        $(
            $(#[$doc])*
            #[allow(non_upper_case_globals)]
            pub const $name: K8sType = K8sType {
                api_version: <$ty as k8s_openapi::Resource>::API_VERSION,
                kind: <$ty as k8s_openapi::Resource>::KIND,
                plural: <$ty as k8s_openapi::Resource>::URL_PATH_SEGMENT,
                namespaced: $ns,
            };
        )*

        #[cfg(test)]
        pub(crate) fn all_with_rust_types() -> Vec<(K8sType, K8sType)> {
            vec![$( ($name, K8sType::of::<$ty>()) ),*]
        }
    };
}

/// Built-in Kubernetes types (Kubernetes 1.37 API versions), ready to pass to
/// [`ControllerConfig::with_child`](crate::ControllerConfig::with_child).
///
/// ```
/// use roperator_core::prelude::*;
///
/// let config = ControllerConfig::new("demo", k8s_types::core::v1::ConfigMap)
///     .with_child(k8s_types::apps::v1::Deployment, ChildConfig::replace())
///     .with_child(k8s_types::networking::v1::Ingress, ChildConfig::replace())
///     .with_child(k8s_types::batch::v1::Job, ChildConfig::recreate());
/// # let _ = config;
/// ```
pub mod k8s_types {
    /// Core group (`v1`).
    pub mod core {
        /// `v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::core::v1 as t;
            catalog! {
                /// `v1 ConfigMap`.
                ConfigMap => t::ConfigMap, namespaced: true;
                /// `v1 Endpoints`.
                Endpoints => t::Endpoints, namespaced: true;
                /// `v1 LimitRange`.
                LimitRange => t::LimitRange, namespaced: true;
                /// `v1 Namespace` (cluster-scoped).
                Namespace => t::Namespace, namespaced: false;
                /// `v1 PersistentVolume` (cluster-scoped).
                PersistentVolume => t::PersistentVolume, namespaced: false;
                /// `v1 PersistentVolumeClaim`.
                PersistentVolumeClaim => t::PersistentVolumeClaim, namespaced: true;
                /// `v1 Pod`.
                Pod => t::Pod, namespaced: true;
                /// `v1 PodTemplate`.
                PodTemplate => t::PodTemplate, namespaced: true;
                /// `v1 ReplicationController`.
                ReplicationController => t::ReplicationController, namespaced: true;
                /// `v1 ResourceQuota`.
                ResourceQuota => t::ResourceQuota, namespaced: true;
                /// `v1 Secret`.
                Secret => t::Secret, namespaced: true;
                /// `v1 Service`.
                Service => t::Service, namespaced: true;
                /// `v1 ServiceAccount`.
                ServiceAccount => t::ServiceAccount, namespaced: true;
            }
        }
    }

    /// `apps` group.
    pub mod apps {
        /// `apps/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::apps::v1 as t;
            catalog! {
                /// `apps/v1 DaemonSet`.
                DaemonSet => t::DaemonSet, namespaced: true;
                /// `apps/v1 Deployment`.
                Deployment => t::Deployment, namespaced: true;
                /// `apps/v1 ReplicaSet`.
                ReplicaSet => t::ReplicaSet, namespaced: true;
                /// `apps/v1 StatefulSet`.
                StatefulSet => t::StatefulSet, namespaced: true;
            }
        }
    }

    /// `batch` group.
    pub mod batch {
        /// `batch/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::batch::v1 as t;
            catalog! {
                /// `batch/v1 CronJob`.
                CronJob => t::CronJob, namespaced: true;
                /// `batch/v1 Job`.
                Job => t::Job, namespaced: true;
            }
        }
    }

    /// `networking.k8s.io` group.
    pub mod networking {
        /// `networking.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::networking::v1 as t;
            catalog! {
                /// `networking.k8s.io/v1 Ingress`.
                Ingress => t::Ingress, namespaced: true;
                /// `networking.k8s.io/v1 IngressClass` (cluster-scoped).
                IngressClass => t::IngressClass, namespaced: false;
                /// `networking.k8s.io/v1 NetworkPolicy`.
                NetworkPolicy => t::NetworkPolicy, namespaced: true;
            }
        }
    }

    /// `policy` group.
    pub mod policy {
        /// `policy/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::policy::v1 as t;
            catalog! {
                /// `policy/v1 PodDisruptionBudget`.
                PodDisruptionBudget => t::PodDisruptionBudget, namespaced: true;
            }
        }
    }

    /// `rbac.authorization.k8s.io` group.
    pub mod rbac {
        /// `rbac.authorization.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::rbac::v1 as t;
            catalog! {
                /// `rbac.authorization.k8s.io/v1 ClusterRole` (cluster-scoped).
                ClusterRole => t::ClusterRole, namespaced: false;
                /// `rbac.authorization.k8s.io/v1 ClusterRoleBinding` (cluster-scoped).
                ClusterRoleBinding => t::ClusterRoleBinding, namespaced: false;
                /// `rbac.authorization.k8s.io/v1 Role`.
                Role => t::Role, namespaced: true;
                /// `rbac.authorization.k8s.io/v1 RoleBinding`.
                RoleBinding => t::RoleBinding, namespaced: true;
            }
        }
    }

    /// `coordination.k8s.io` group.
    pub mod coordination {
        /// `coordination.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::coordination::v1 as t;
            catalog! {
                /// `coordination.k8s.io/v1 Lease`.
                Lease => t::Lease, namespaced: true;
            }
        }
    }

    /// `autoscaling` group.
    pub mod autoscaling {
        /// `autoscaling/v2`.
        pub mod v2 {
            use crate::K8sType;
            use k8s_openapi::api::autoscaling::v2 as t;
            catalog! {
                /// `autoscaling/v2 HorizontalPodAutoscaler`.
                HorizontalPodAutoscaler => t::HorizontalPodAutoscaler, namespaced: true;
            }
        }
    }

    /// `discovery.k8s.io` group.
    pub mod discovery {
        /// `discovery.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::discovery::v1 as t;
            catalog! {
                /// `discovery.k8s.io/v1 EndpointSlice`.
                EndpointSlice => t::EndpointSlice, namespaced: true;
            }
        }
    }

    /// `storage.k8s.io` group.
    pub mod storage {
        /// `storage.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::storage::v1 as t;
            catalog! {
                /// `storage.k8s.io/v1 StorageClass` (cluster-scoped).
                StorageClass => t::StorageClass, namespaced: false;
            }
        }
    }

    /// `scheduling.k8s.io` group.
    pub mod scheduling {
        /// `scheduling.k8s.io/v1`.
        pub mod v1 {
            use crate::K8sType;
            use k8s_openapi::api::scheduling::v1 as t;
            catalog! {
                /// `scheduling.k8s.io/v1 PriorityClass` (cluster-scoped).
                PriorityClass => t::PriorityClass, namespaced: false;
            }
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn catalog_entries_agree_with_the_rust_types() {
            let all = [
                super::core::v1::all_with_rust_types(),
                super::apps::v1::all_with_rust_types(),
                super::batch::v1::all_with_rust_types(),
                super::networking::v1::all_with_rust_types(),
                super::policy::v1::all_with_rust_types(),
                super::rbac::v1::all_with_rust_types(),
                super::coordination::v1::all_with_rust_types(),
                super::autoscaling::v2::all_with_rust_types(),
                super::discovery::v1::all_with_rust_types(),
                super::storage::v1::all_with_rust_types(),
                super::scheduling::v1::all_with_rust_types(),
            ]
            .concat();
            assert!(all.len() > 30);
            for (declared, derived) in all {
                assert_eq!(declared, derived, "catalog entry for {}", declared.kind);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_version_split_the_api_version() {
        let core = k8s_types::core::v1::Service;
        assert_eq!((core.group(), core.version()), ("", "v1"));
        let apps = k8s_types::apps::v1::Deployment;
        assert_eq!((apps.group(), apps.version()), ("apps", "v1"));
    }

    #[test]
    fn interning_returns_one_allocation_per_name() {
        let a = intern(Cow::Owned("Widget".to_string()));
        let b = intern(Cow::Owned("Widget".to_string()));
        assert!(std::ptr::eq(a, b));
    }
}

#[cfg(test)]
mod custom_resource_tests {
    use super::K8sType;
    use kube::CustomResource;
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    /// A cluster-scoped parent, as users derive them.
    #[derive(CustomResource, Clone, Debug, Serialize, Deserialize, JsonSchema)]
    #[kube(group = "widgets.example.com", version = "v1beta1", kind = "Widget")]
    struct WidgetSpec {
        size: u32,
    }

    #[test]
    fn a_derived_custom_resource_gives_its_api_version_kind_plural_and_scope() {
        assert_eq!(
            K8sType::of::<Widget>(),
            K8sType {
                api_version: "widgets.example.com/v1beta1",
                kind: "Widget",
                plural: "widgets",
                namespaced: false,
            }
        );
    }
}
