//! The isolation decorator: every Namespace labelled `examples.roperator.io/isolate=true` — a
//! tenant's or any other — gets a NetworkPolicy `default-deny-ingress` that refuses all
//! incoming traffic its other policies do not allow. Removing the label removes the policy.
//!
//! The Namespace is the decorator's parent, though the operator neither defines nor owns it:
//! the engine selects Namespaces by the label, the sync function returns the attachment, and
//! the engine creates it with an owner reference to the Namespace and deletes it when the
//! label goes.

use k8s_openapi::api::networking::v1::NetworkPolicy;
use roperator_core::prelude::*;

/// The label that asks for isolation (with the value `true`).
pub const ISOLATE_LABEL: &str = "examples.roperator.io/isolate";

/// The decorator's name: the managed-by label on its policies, its field manager and the source
/// of its Events.
pub const CONTROLLER_NAME: &str = "namespace-isolation";

/// The name of the policy attached to each isolated namespace.
pub const POLICY_NAME: &str = "default-deny-ingress";

// ANCHOR: config
/// The decorator's configuration: Namespaces labelled [`ISOLATE_LABEL`]`=true`, each with a
/// NetworkPolicy attached.
///
/// ```
/// let config = tenant_operator::isolation_config();
/// assert!(config.is_decorator());
/// assert!(config.validate().is_ok());
/// ```
pub fn isolation_config() -> ControllerConfig {
    ControllerConfig::decorator(CONTROLLER_NAME, k8s_types::core::v1::Namespace)
        .with_parent_selector(format!("{ISOLATE_LABEL}=true"))
        .with_child(
            k8s_types::networking::v1::NetworkPolicy,
            ChildConfig::replace(),
        )
}
// ANCHOR_END: config

// ANCHOR: sync
/// The decorator's sync function: the policy for the selected Namespace.
///
/// ```
/// use roperator_core::SyncRequest;
/// use serde_json::json;
///
/// let namespace = json!({"apiVersion": "v1", "kind": "Namespace",
///     "metadata": {"name": "sandbox", "labels": {"examples.roperator.io/isolate": "true"}}});
/// let response = tenant_operator::isolation::sync(&SyncRequest::new(&namespace)?)?;
/// let policy = &response.children()[0];
/// assert_eq!(policy["metadata"]["namespace"], "sandbox");
/// assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress"]));
/// # Ok::<(), roperator_core::Error>(())
/// ```
pub fn sync(request: &SyncRequest) -> Result<SyncResponse, Error> {
    Ok(SyncResponse::new().with_child(&deny_ingress(request.parent().name())))
}
// ANCHOR_END: sync

/// A policy selecting every pod of `namespace` for ingress, with no rule allowing any: what
/// other policies do not allow is refused.
pub fn deny_ingress(namespace: &str) -> NetworkPolicy {
    crate::children::ingress_policy(POLICY_NAME, namespace, None)
}
