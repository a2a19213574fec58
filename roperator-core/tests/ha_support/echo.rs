//! The operator the HA engine tests run on every replica: one ConfigMap per parent, with the
//! parent's message, and the message in the parent's status.

use std::time::Duration;

use roperator_core::prelude::*;
use serde_json::json;

/// `operator` over parents of type `parent`, with ConfigMaps replaced and a short backoff.
pub fn config(operator: &str, parent: K8sType) -> ControllerConfig {
    ControllerConfig::new(operator, parent)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
        .with_max_concurrent_syncs(32)
}

/// ConfigMap `<parent>-config` with `data.message` = the parent's `spec.message`.
pub fn handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let name = parent["metadata"]["name"].as_str().unwrap_or_default();
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-config")},
            "data": {"message": parent["spec"]["message"]},
        }))
        .with_status(&json!({"message": parent["spec"]["message"]})))
}
