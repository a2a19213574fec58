//! What each namespace of a tenant holds: the Namespace itself, a ResourceQuota and a
//! NetworkPolicy. Plain functions of the tenant's name, the namespace and the quota; the engine
//! compares their output with the cluster and makes only the writes needed.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota, ResourceQuotaSpec};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use crate::Quota;
use crate::quota::Limit;

/// The label on every namespace of a tenant; its value is the tenant's name.
pub const TENANT_LABEL: &str = "examples.roperator.io/tenant";

/// The name of the ResourceQuota in each namespace of a tenant.
pub const QUOTA_NAME: &str = "tenant-quota";

/// The name of the NetworkPolicy in each namespace of a tenant.
pub const POLICY_NAME: &str = "tenant-isolation";

/// The Namespace `name` of `tenant`, labelled with [`TENANT_LABEL`].
///
/// ```
/// let ns = tenant_operator::children::namespace("acme", "acme-dev");
/// assert_eq!(ns.metadata.name.as_deref(), Some("acme-dev"));
/// assert_eq!(ns.metadata.labels.unwrap()["examples.roperator.io/tenant"], "acme");
/// ```
pub fn namespace(tenant: &str, name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(tenant_labels(tenant)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The ResourceQuota [`QUOTA_NAME`] in `namespace`, with a hard limit for every limit `quota`
/// has (none for the ones it leaves out, and no `hard` at all without any).
///
/// ```
/// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
/// use tenant_operator::{Quota, children};
///
/// let quota = Quota { pods: Some(Quantity("20".into())), ..Quota::default() };
/// let rq = children::resource_quota("acme-dev", &quota);
/// let hard = rq.spec.unwrap().hard.unwrap();
/// assert_eq!(hard.len(), 1);
/// assert_eq!(hard["pods"], Quantity("20".into()));
/// ```
pub fn resource_quota(namespace: &str, quota: &Quota) -> ResourceQuota {
    let hard: BTreeMap<String, Quantity> = Limit::ALL
        .into_iter()
        .filter_map(|limit| Some((limit.key().to_string(), limit.of(quota)?.clone())))
        .collect();
    ResourceQuota {
        metadata: ObjectMeta {
            name: Some(QUOTA_NAME.to_string()),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(ResourceQuotaSpec {
            // Left out rather than empty: the API server does not store an empty `hard`, and an
            // operator restarted without the memory of its last write would take the difference
            // for drift and write the quota again.
            hard: (!hard.is_empty()).then_some(hard),
            ..ResourceQuotaSpec::default()
        }),
        status: None,
    }
}

/// The NetworkPolicy [`POLICY_NAME`] in `namespace`: its pods accept traffic only from pods in
/// namespaces labelled as `tenant`'s (which includes `namespace` itself).
///
/// The selector trusts the tenant label, so whoever may label namespaces may join a tenant's
/// network; the operator sets that label on the namespaces it creates, and cluster users
/// usually cannot label namespaces.
///
/// ```
/// let policy = tenant_operator::children::network_policy("acme", "acme-dev");
/// let spec = policy.spec.unwrap();
/// assert_eq!(spec.policy_types.unwrap(), ["Ingress"]);
/// let from = &spec.ingress.unwrap()[0].from.clone().unwrap()[0];
/// let labels = from.namespace_selector.clone().unwrap().match_labels.unwrap();
/// assert_eq!(labels["examples.roperator.io/tenant"], "acme");
/// ```
pub fn network_policy(tenant: &str, namespace: &str) -> NetworkPolicy {
    let from_the_tenant = NetworkPolicyIngressRule {
        from: Some(vec![NetworkPolicyPeer {
            namespace_selector: Some(LabelSelector {
                match_labels: Some(tenant_labels(tenant)),
                ..LabelSelector::default()
            }),
            ..NetworkPolicyPeer::default()
        }]),
        ..NetworkPolicyIngressRule::default()
    };
    ingress_policy(POLICY_NAME, namespace, Some(vec![from_the_tenant]))
}

/// A NetworkPolicy `name` in `namespace` that selects every pod of the namespace for ingress
/// and admits what `rules` allow: nothing, without rules.
pub fn ingress_policy(
    name: &str,
    namespace: &str,
    rules: Option<Vec<NetworkPolicyIngressRule>>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..ObjectMeta::default()
        },
        spec: Some(NetworkPolicySpec {
            // Every pod of the namespace.
            pod_selector: Some(LabelSelector::default()),
            policy_types: Some(vec!["Ingress".to_string()]),
            ingress: rules,
            ..NetworkPolicySpec::default()
        }),
    }
}

fn tenant_labels(tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(TENANT_LABEL.to_string(), tenant.to_string())])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_without_limits_limits_nothing() {
        let rq = resource_quota("ns", &Quota::default());
        assert_eq!(rq.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(rq.spec.and_then(|s| s.hard), None);
    }

    #[test]
    fn every_limit_reaches_the_hard_limits_under_its_key() {
        let quota = Quota {
            cpu: Some(Quantity("2".into())),
            memory: Some(Quantity("4Gi".into())),
            pods: Some(Quantity("20".into())),
        };
        let hard = resource_quota("ns", &quota)
            .spec
            .and_then(|s| s.hard)
            .expect("hard limits");
        let keys: Vec<&str> = hard.keys().map(String::as_str).collect();
        assert_eq!(keys, ["cpu", "memory", "pods"]);
        assert_eq!(hard["memory"], Quantity("4Gi".into()));
    }

    #[test]
    fn the_policy_of_one_tenant_does_not_admit_another() {
        let ours = network_policy("acme", "acme-dev");
        let theirs = network_policy("globex", "globex-dev");
        assert_ne!(ours.spec, theirs.spec);
        assert_eq!(ours.metadata.namespace.as_deref(), Some("acme-dev"));
        let namespace = namespace("acme", "acme-dev");
        let selector = ours.spec.and_then(|s| s.ingress).expect("ingress")[0]
            .from
            .clone()
            .expect("from")[0]
            .namespace_selector
            .clone()
            .and_then(|s| s.match_labels)
            .expect("match labels");
        assert_eq!(Some(selector), namespace.metadata.labels);
    }
}
