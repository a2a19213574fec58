//! Stand-ins for the controllers and kubelets of a real cluster, for tests that wait on
//! workloads becoming available (see [`crate::ApiServer::simulate_workloads`]).

use serde_json::{Value, json};

use crate::meta::now;
use crate::registry::ResourceType;

/// Marks a Deployment or StatefulSet fully rolled out and available.
pub(crate) fn simulate(ty: &ResourceType, v: &mut Value) {
    if ty.group != "apps" || !matches!(ty.kind.as_str(), "Deployment" | "StatefulSet") {
        return;
    }
    let replicas = v
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let generation = v
        .pointer("/metadata/generation")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    let t = now();
    let status = if ty.kind == "Deployment" {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "updatedReplicas": replicas,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                 "message": "Deployment has minimum availability.", "lastUpdateTime": t, "lastTransitionTime": t},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                 "message": "ReplicaSet has successfully progressed.", "lastUpdateTime": t, "lastTransitionTime": t},
            ],
        })
    } else {
        json!({
            "observedGeneration": generation,
            "replicas": replicas,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "currentReplicas": replicas,
            "updatedReplicas": replicas,
        })
    };
    // Keep the old status (and its timestamps) when nothing it reports changed.
    let same = v.get("status").is_some_and(|old| {
        [
            "observedGeneration",
            "replicas",
            "readyReplicas",
            "availableReplicas",
            "updatedReplicas",
        ]
        .iter()
        .all(|k| old.get(k) == status.get(k))
    });
    if !same {
        v["status"] = status;
    }
}
