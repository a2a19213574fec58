//! What both contenders are asked to do: for every `Storm` parent, the echo-server's
//! Deployment and Service, and a status that follows the Deployment's readiness.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::{CustomResource, ResourceExt};
use roperator_core::K8sType;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const NS: &str = "default";

pub static STORM: K8sType = K8sType {
    api_version: "bench.roperator.io/v1",
    kind: "Storm",
    plural: "storms",
    namespaced: true,
};

/// The parent: the echo-server's spec.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug)]
#[kube(
    group = "bench.roperator.io",
    version = "v1",
    kind = "Storm",
    namespaced,
    status = "StormStatus",
    schema = "disabled"
)]
pub struct StormSpec {
    pub message: String,
    pub replicas: i32,
    pub port: i32,
}

/// The parent's status, derived from its Deployment.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct StormStatus {
    pub phase: String,
    pub ready_replicas: i64,
    pub message: String,
    /// Written by the baseline; roperator's engine adds it by itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

pub fn crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "storms.bench.roperator.io"},
        "spec": {
            "group": "bench.roperator.io",
            "names": {"kind": "Storm", "plural": "storms", "singular": "storm", "listKind": "StormList"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]
        }
    })
}

pub fn parent(name: &str) -> Storm {
    let spec = StormSpec {
        message: format!("hello from {name}"),
        replicas: 1,
        port: 8080,
    };
    Storm::new(name, spec)
}

fn pod_labels(name: &str) -> Value {
    json!({"app.kubernetes.io/name": "echo-server", "app.kubernetes.io/instance": name})
}

/// The echo-server's Deployment: one container with its probe, resources and security context.
pub fn deployment(storm: &Storm) -> Deployment {
    let name = storm.name_any();
    let spec = &storm.spec;
    let container = json!({
        "name": "echo",
        "image": "hashicorp/http-echo:1.0",
        "args": [format!("-text={}", spec.message), format!("-listen=:{}", spec.port)],
        "ports": [{"name": "http", "containerPort": spec.port, "protocol": "TCP"}],
        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true},
    });
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS, "labels": pod_labels(&name)},
        "spec": {
            "replicas": spec.replicas,
            "selector": {"matchLabels": pod_labels(&name)},
            "template": {
                "metadata": {"labels": pod_labels(&name)},
                "spec": {
                    "securityContext": {"runAsNonRoot": true, "runAsUser": 65534},
                    "containers": [container],
                },
            },
        },
    }))
    .expect("a valid Deployment")
}

/// The ClusterIP Service in front of the echo pods.
pub fn service(storm: &Storm) -> Service {
    let name = storm.name_any();
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": name, "namespace": NS, "labels": pod_labels(&name)},
        "spec": {
            "selector": pod_labels(&name),
            "ports": [{"name": "http", "port": storm.spec.port, "targetPort": "http", "protocol": "TCP"}],
        },
    }))
    .expect("a valid Service")
}

/// The echo-server's status logic: Ready once the Deployment caught up with its spec and has
/// every replica ready.
pub fn status(storm: &Storm, deployment: Option<&Deployment>) -> StormStatus {
    let wanted = i64::from(storm.spec.replicas);
    let Some(d) = deployment else {
        return StormStatus {
            phase: "Pending".into(),
            message: "waiting for the Deployment to be created".into(),
            ..StormStatus::default()
        };
    };
    let st = d.status.clone().unwrap_or_default();
    let ready = i64::from(st.ready_replicas.unwrap_or(0));
    let caught_up =
        st.observed_generation.is_some() && st.observed_generation >= d.metadata.generation;
    let (phase, message) = if !caught_up {
        (
            "Pending",
            format!("{ready}/{wanted} replicas ready, rollout in progress"),
        )
    } else if ready < wanted {
        ("Pending", format!("{ready}/{wanted} replicas ready"))
    } else {
        ("Ready", format!("{wanted}/{wanted} replicas ready"))
    };
    StormStatus {
        phase: phase.into(),
        ready_replicas: ready,
        message,
        observed_generation: None,
    }
}
