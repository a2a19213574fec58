//! The tenant-operator example: two controllers in one process.
//!
//! - A cluster-scoped [`Tenant`] lists namespaces and a quota. For each namespace the Tenant
//!   controller creates the Namespace (labelled with the tenant's name), a ResourceQuota and a
//!   NetworkPolicy admitting traffic only from the tenant's namespaces. Quota values the tenant
//!   leaves out come from the ConfigMap `tenant-defaults`, a *related object* every tenant reads:
//!   editing it updates every tenant's quotas.
//! - A *decorator* gives every Namespace labelled `examples.roperator.io/isolate=true` a
//!   `default-deny-ingress` NetworkPolicy, and removes it when the label goes.
//!
//! The crate is split so that every part can be read and tested alone:
//! - [`resource`]: the custom resource type and its CRD,
//! - [`quota`]: the quota of a tenant's namespaces, from its spec and the defaults,
//! - [`children`]: the Namespace, ResourceQuota and NetworkPolicy of one namespace,
//! - [`status`]: the status from the observed namespaces,
//! - [`tenant`]: the Tenant controller's configuration and sync function,
//! - [`isolation`]: the decorator's configuration and sync function,
//! - [`operator`](mod@operator): both controllers in one [`Operator`](roperator_core::Operator),
//! - [`embedded`]: the in-memory cluster of the `--embedded` mode.

#![warn(missing_docs)]

pub mod children;
pub mod embedded;
pub mod isolation;
pub mod operator;
pub mod quota;
pub mod resource;
pub mod status;
pub mod tenant;

pub use isolation::isolation_config;
pub use operator::{DEFAULT_DEFAULTS_NAMESPACE, OPERATOR_NAME, operator};
pub use resource::{Quota, Tenant, TenantSpec, TenantStatus, crd, crd_yaml};
pub use tenant::{TENANT_TYPE, TenantError, tenant_config};

/// The guide's chapter on decorators, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/decorators.md")]
pub struct DecoratorsGuide;

/// The guide's chapter on running several controllers, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/several-controllers.md")]
pub struct SeveralControllersGuide;

/// The guide's walk through this example, its samples run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../guide/src/tenant-example.md")]
pub struct TenantExampleGuide;
