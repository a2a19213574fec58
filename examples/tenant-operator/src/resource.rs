//! The `Tenant` custom resource: its spec, its status, and its CustomResourceDefinition.
//!
//! The doc comments on the types below become the descriptions in the CRD's schema (what
//! `kubectl explain tenants.spec` shows), so they are written for cluster users.
//!
//! ```
//! use tenant_operator::{Tenant, TenantSpec};
//!
//! let tenant = Tenant::new("acme", TenantSpec::new(["acme-dev", "acme-prod"]));
//! assert_eq!(tenant.spec.namespaces, ["acme-dev", "acme-prod"]);
//! assert_eq!(tenant.spec.quota.cpu, None);
//! ```

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A team's share of the cluster: namespaces, each with a resource quota and network isolation.
// clippy reads the repeated `type_ = ...` of several printcolumns as duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "examples.roperator.io",
    version = "v1alpha1",
    kind = "Tenant",
    plural = "tenants",
    status = "TenantStatus",
    derive = "PartialEq",
    doc = "A team's namespaces, each with a resource quota and network isolation.",
    printcolumn(
        name = "Namespaces",
        type_ = "integer",
        json_path = ".status.readyNamespaces",
        description = "How many of the tenant's namespaces are ready"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "Whether every namespace of the tenant is ready"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct TenantSpec {
    /// The tenant's namespaces. Each is created with the label `examples.roperator.io/tenant`
    /// set to the tenant's name, a ResourceQuota `tenant-quota` and a NetworkPolicy
    /// `tenant-isolation`; a namespace removed from the list is deleted with everything in it.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub namespaces: Vec<String>,
    /// The hard limits of each namespace. A limit left out comes from the ConfigMap
    /// `tenant-defaults` in the operator's defaults namespace, if it has one.
    #[serde(default)]
    pub quota: Quota,
}

impl TenantSpec {
    /// A spec with these namespaces and no quota of its own (the defaults apply).
    pub fn new<I, S>(namespaces: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            namespaces: namespaces.into_iter().map(Into::into).collect(),
            quota: Quota::default(),
        }
    }
}

/// Hard limits for one namespace, in Kubernetes quantities.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct Quota {
    /// The sum of the CPU requests of the namespace's pods, e.g. `2` or `500m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// The sum of the memory requests of the namespace's pods, e.g. `4Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
    /// How many pods the namespace may hold, a whole number such as `20`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<Quantity>,
}

/// What the operator reports back.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// How many of the tenant's namespaces are ready: active, with their quota and isolation
    /// policy in place.
    #[serde(default)]
    pub ready_namespaces: i32,
    /// The limits each namespace gets: the tenant's own, completed from `tenant-defaults`.
    #[serde(default)]
    pub quota: Quota,
    /// The standard `Ready` condition (every namespace ready), for tools that wait on
    /// conditions (`kubectl wait --for=condition=Ready`). The operator adds its `Synced`
    /// condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// The CustomResourceDefinition of [`Tenant`], with the status fields the engine writes
/// (`observedGeneration`, `syncError`, the `Synced` condition) and a `Synced` printer column.
///
/// ```
/// let crd = tenant_operator::crd();
/// assert_eq!(crd.spec.scope, "Cluster");
/// let columns = crd.spec.versions[0].additional_printer_columns.as_ref().unwrap();
/// let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
/// assert_eq!(names, ["Namespaces", "Ready", "Synced"]);
/// ```
pub fn crd() -> CustomResourceDefinition {
    use kube::CustomResourceExt;
    let mut crd = Tenant::crd();
    roperator_core::status::add_to_crd(&mut crd);
    crd
}

/// The CustomResourceDefinition of [`Tenant`] as YAML, exactly as `tenant-operator crd` prints
/// it.
///
/// ```
/// let yaml = tenant_operator::crd_yaml().unwrap();
/// assert!(yaml.contains("name: tenants.examples.roperator.io"));
/// ```
pub fn crd_yaml() -> Result<String, serde_saphyr::SerializeError> {
    serde_saphyr::to_string(&crd())
}
