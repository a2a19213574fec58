//! The Tenant controller: a cluster-scoped `Tenant` parent, its Namespaces with a ResourceQuota
//! and a NetworkPolicy in each as children, and the ConfigMap `tenant-defaults` as a related
//! object read by every tenant.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use roperator_core::prelude::*;

use crate::children::{self, POLICY_NAME, QUOTA_NAME};
use crate::quota::{self, DEFAULTS_NAME, InvalidLimit};
use crate::status::{self, NamespaceState};
use crate::{Tenant, TenantStatus};

/// The parent type, as the engine knows it.
pub static TENANT_TYPE: K8sType = K8sType {
    api_version: "examples.roperator.io/v1alpha1",
    kind: "Tenant",
    plural: "tenants",
    namespaced: false,
};

/// The controller's name: the managed-by label on its children, its field manager and the
/// source of its Events.
pub const CONTROLLER_NAME: &str = "tenants";

const NAMESPACE: K8sType = k8s_types::core::v1::Namespace;
const RESOURCE_QUOTA: K8sType = k8s_types::core::v1::ResourceQuota;
const NETWORK_POLICY: K8sType = k8s_types::networking::v1::NetworkPolicy;
const CONFIG_MAP: K8sType = k8s_types::core::v1::ConfigMap;

// ANCHOR: config
/// The Tenant controller's configuration: Namespaces, ResourceQuotas and NetworkPolicies as
/// children (all updated in place), and the ConfigMap `tenant-defaults` in
/// `defaults_namespace` as a related object.
///
/// ```
/// let config = tenant_operator::tenant_config("default");
/// assert!(config.validate().is_ok());
/// assert_eq!(config.child_types().len(), 3);
/// assert!(tenant_operator::tenant_config("Not A Namespace").validate().is_err());
/// ```
pub fn tenant_config(defaults_namespace: &str) -> ControllerConfig {
    ControllerConfig::new(CONTROLLER_NAME, TENANT_TYPE)
        .with_child(NAMESPACE, ChildConfig::replace())
        .with_child(RESOURCE_QUOTA, ChildConfig::replace())
        .with_child(NETWORK_POLICY, ChildConfig::replace())
        .with_related(CONFIG_MAP, defaults_source(defaults_namespace))
}

/// Every tenant reads the same object: `tenant-defaults` in `namespace`. Watching that one
/// ConfigMap (one namespace, one name) keeps the operator from caching every ConfigMap of the
/// cluster, and a change of the defaults syncs every tenant again.
pub fn defaults_source(namespace: &str) -> RelatedConfig {
    let selection = Select::name_in(namespace, DEFAULTS_NAME);
    RelatedConfig::new(move |_tenant: &Observed| vec![selection.clone()])
        .with_namespace(namespace)
        .with_name(DEFAULTS_NAME)
}
// ANCHOR_END: config

/// A tenant the operator cannot turn into namespaces. The message names the tenant and the
/// field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Tenant {tenant}: {field} {problem}")]
pub struct InvalidSpec {
    /// The tenant's name.
    pub tenant: String,
    /// The offending field, e.g. `spec.namespaces[1]`.
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Why a sync of a tenant failed. The engine logs it, shows it in the tenant's
/// `status.syncError` and a Warning Event, leaves the children as they are, and retries.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The tenant or a related object could not be read (the message names it and the field).
    #[error(transparent)]
    Read(#[from] roperator_core::Error),
    /// The tenant's spec cannot be served.
    #[error(transparent)]
    InvalidSpec(#[from] InvalidSpec),
    /// A quota value, the tenant's or a default, is not a valid limit.
    #[error(transparent)]
    InvalidLimit(#[from] InvalidLimit),
}

/// Checks what the API server would refuse later, one namespace at a time: a namespace name
/// must be a DNS label, listed once; the tenant's name must fit in a label value (63
/// characters), since every namespace carries it.
///
/// ```
/// use tenant_operator::{Tenant, TenantSpec, tenant};
///
/// let bad = Tenant::new("acme", TenantSpec::new(["acme-dev", "Acme_Prod"]));
/// let err = tenant::validate(&bad).unwrap_err();
/// assert_eq!(err.field, "spec.namespaces[1]");
/// ```
pub fn validate(tenant: &Tenant) -> Result<(), InvalidSpec> {
    let fail = |field: String, problem: String| {
        Err(InvalidSpec {
            tenant: tenant.name_any(),
            field,
            problem,
        })
    };
    let name = tenant.name_any();
    if name.len() > 63 {
        return fail(
            "metadata.name".to_string(),
            format!(
                "is {} characters long; the label {} on its namespaces holds at most 63",
                name.len(),
                children::TENANT_LABEL
            ),
        );
    }
    for (i, ns) in tenant.spec.namespaces.iter().enumerate() {
        if !roperator_core::is_dns_label(ns) {
            return fail(
                format!("spec.namespaces[{i}]"),
                format!(
                    "is {ns:?}, which cannot name a namespace: use at most 63 lower-case \
                     letters, digits and '-', starting and ending with a letter or digit"
                ),
            );
        }
        if tenant.spec.namespaces[..i].contains(ns) {
            return fail(
                format!("spec.namespaces[{i}]"),
                format!("lists {ns:?} a second time"),
            );
        }
    }
    Ok(())
}

// ANCHOR: sync
/// The sync function of a Tenant: for each listed namespace the Namespace, its ResourceQuota
/// and its NetworkPolicy, and the status. `defaults_namespace` is where `tenant-defaults` is.
pub fn sync(request: &SyncRequest, defaults_namespace: &str) -> Result<SyncResponse, TenantError> {
    let tenant: Tenant = request.parent().parse()?;
    validate(&tenant)?;
    let name = tenant.name_any();
    // A related object that does not exist is simply absent: then only the tenant's own
    // limits apply.
    let defaults: Option<ConfigMap> = request
        .related(CONFIG_MAP, DEFAULTS_NAME)
        .map(Observed::parse)
        .transpose()?;
    let quota = quota::effective(
        &name,
        &tenant.spec.quota,
        defaults.as_ref(),
        defaults_namespace,
    )?;

    let mut response = SyncResponse::new();
    let mut states = Vec::with_capacity(tenant.spec.namespaces.len());
    for ns in &tenant.spec.namespaces {
        let state = namespace_state(request, ns);
        // Returned even while it is being deleted: the engine waits for it to go, then
        // creates it again.
        response = response.with_child(&children::namespace(&name, ns));
        // Nothing can be created in a namespace being deleted; what was in it goes with it.
        if state != NamespaceState::Terminating {
            response = response
                .with_child(&children::resource_quota(ns, &quota))
                .with_child(&children::network_policy(&name, ns));
        }
        states.push((ns.as_str(), state));
    }
    let status = status::status(&tenant, &states, quota, Timestamp::now());
    log_status_change(&tenant, &status);
    Ok(response.with_status(&status))
}
// ANCHOR_END: sync

/// How far namespace `ns` is, from the children of the request.
fn namespace_state(request: &SyncRequest, ns: &str) -> NamespaceState {
    let Some(namespace) = request.child(NAMESPACE, ns) else {
        return NamespaceState::Missing;
    };
    if namespace.is_being_deleted() || namespace.json()["status"]["phase"] == "Terminating" {
        return NamespaceState::Terminating;
    }
    // These names repeat in each of the tenant's namespaces.
    let has = |t: K8sType, name: &str| request.child_in(t, Some(ns), name).is_some();
    if has(RESOURCE_QUOTA, QUOTA_NAME) && has(NETWORK_POLICY, POLICY_NAME) {
        NamespaceState::Ready
    } else {
        NamespaceState::Incomplete
    }
}

/// Logs the `Ready` condition the engine is about to write when it differs from the current
/// one, so that the log tells each tenant's story once per change.
fn log_status_change(tenant: &Tenant, new: &TenantStatus) {
    let ready = |s: &TenantStatus| {
        s.conditions
            .iter()
            .find(|c| c.type_ == status::READY)
            .map(|c| (c.status.clone(), c.message.clone()))
    };
    let now = ready(new);
    if tenant.status.as_ref().and_then(ready) != now
        && let Some((value, message)) = now
    {
        tracing::info!("Tenant {}: Ready={value}: {message}", tenant.name_any());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TenantSpec;

    fn field_of(namespaces: &[&str]) -> Option<String> {
        let tenant = Tenant::new("acme", TenantSpec::new(namespaces.iter().copied()));
        validate(&tenant).err().map(|e| e.field)
    }

    #[test]
    fn namespace_names_must_be_dns_labels_listed_once() {
        assert_eq!(field_of(&[]), None);
        assert_eq!(field_of(&["a", "acme-dev", &"x".repeat(63)]), None);
        for bad in ["", "Acme", "a_b", "-a", "a-", "a.b", &"x".repeat(64)] {
            assert_eq!(
                field_of(&["ok", bad]).as_deref(),
                Some("spec.namespaces[1]"),
                "{bad:?}"
            );
        }
        let err = validate(&Tenant::new("acme", TenantSpec::new(["a", "b", "a"]))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Tenant acme: spec.namespaces[2] lists \"a\" a second time"
        );
    }

    #[test]
    fn a_tenant_name_too_long_for_a_label_is_refused() {
        let long = "t".repeat(64);
        let err = validate(&Tenant::new(&long, TenantSpec::new(["a"]))).unwrap_err();
        assert_eq!(err.field, "metadata.name");
        assert!(validate(&Tenant::new(&"t".repeat(63), TenantSpec::new(["a"]))).is_ok());
    }
}
