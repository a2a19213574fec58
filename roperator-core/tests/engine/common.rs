//! Shared fixtures: an `Echo` custom resource whose handler returns up to three children.

// Also compiled into the HA test binary, which uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

pub static ECHO: K8sType = K8sType {
    api_version: "test.roperator.io/v1",
    kind: "Echo",
    plural: "echoes",
    namespaced: true,
};

pub const NS: &str = "default";
pub const OPERATOR: &str = "echo-test";

/// A CRD in `test.roperator.io/v1` with any content and the status subresource.
pub fn crd(kind: &str, plural: &str, namespaced: bool) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.test.roperator.io")},
        "spec": {
            "group": "test.roperator.io",
            "names": {"kind": kind, "plural": plural, "singular": kind.to_lowercase(), "listKind": format!("{kind}List")},
            "scope": if namespaced { "Namespaced" } else { "Cluster" },
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

/// An API for objects of a type, in `namespace` (or cluster-wide).
pub fn api_for(server: &ApiServer, t: K8sType, namespace: Option<&str>) -> Api<DynamicObject> {
    let ar = kube::core::ApiResource {
        group: t.group().into(),
        version: t.version().into(),
        api_version: t.api_version.into(),
        kind: t.kind.into(),
        plural: t.plural.into(),
    };
    match namespace {
        Some(ns) => Api::namespaced_with(server.client(), ns, &ar),
        None => Api::all_with(server.client(), &ar),
    }
}

/// Creates any object from JSON.
pub async fn create(server: &ApiServer, t: K8sType, object: Value) {
    let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
    let obj: DynamicObject = serde_json::from_value(object).expect("a valid object");
    api_for(server, t, ns.as_deref())
        .create(&PostParams::default(), &obj)
        .await
        .expect("the object is created");
}

/// The Echo CRD: namespaced, any content, with the status subresource.
pub fn echo_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "echoes.test.roperator.io"},
        "spec": {
            "group": "test.roperator.io",
            "names": {"kind": "Echo", "plural": "echoes", "singular": "echo", "listKind": "EchoList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

/// A server with the Echo CRD registered.
pub fn server() -> ApiServer {
    let server = ApiServer::new();
    server
        .register_crd(&echo_crd())
        .expect("the Echo CRD registers");
    server
}

/// The standard configuration: ConfigMaps replaced, Secrets replaced, fast backoff.
pub fn config() -> ControllerConfig {
    ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_error_backoff(Duration::from_millis(20), Duration::from_millis(500))
        .with_max_concurrent_syncs(32)
}

/// The children of an Echo, from its spec:
/// - ConfigMap `<name>-config` with `message`, plus `extra` when the spec has it;
/// - ConfigMap `<name>-more` unless `spec.more` is false;
/// - Secret `<name>-secret` with the message (base64 "aGk=" = "hi" is not checked; any string).
pub fn desired(parent: &Value) -> Vec<Value> {
    let name = parent["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &parent["spec"];
    let mut data = json!({"message": spec["message"]});
    if let Some(extra) = spec.get("extra") {
        data["extra"] = extra.clone();
    }
    let mut children = vec![json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{name}-config"), "labels": {"app": name}},
        "data": data,
    })];
    if spec.get("more") != Some(&json!(false)) {
        children.push(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{name}-more")},
            "data": {"more": "yes"},
        }));
    }
    children.push(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("{name}-secret")},
        "type": "Opaque",
        "data": {"token": "c2VjcmV0"},
    }));
    children
}

pub fn echo_handler(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let parent = req.parent().json();
    let response = desired(parent)
        .iter()
        .fold(SyncResponse::new(), |r, c| r.with_child(c));
    Ok(response.with_status(&json!({"message": parent["spec"]["message"]})))
}

pub fn echoes(server: &ApiServer) -> Api<DynamicObject> {
    echoes_in(server, NS)
}

pub fn echoes_in(server: &ApiServer, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        server.client(),
        namespace,
        &kube::core::ApiResource {
            group: "test.roperator.io".into(),
            version: "v1".into(),
            api_version: "test.roperator.io/v1".into(),
            kind: "Echo".into(),
            plural: "echoes".into(),
        },
    )
}

pub fn echo(name: &str, spec: Value) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "test.roperator.io/v1", "kind": "Echo",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }))
    .expect("a valid Echo")
}

pub async fn create_echo(server: &ApiServer, name: &str, spec: Value) {
    echoes(server)
        .create(&PostParams::default(), &echo(name, spec))
        .await
        .expect("the Echo is created");
}

/// Writes the operator made (by user agent), leaving out Events.
pub fn operator_writes(server: &ApiServer) -> Vec<roperator_testkit::RequestRecord> {
    server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| r.user_agent.starts_with(&format!("{OPERATOR}/")) && r.resource != "events")
        .collect()
}

/// The ConfigMaps in the test namespace, its root CA bundle (which the cluster puts in every
/// namespace) aside.
pub fn configmaps(server: &ApiServer) -> Vec<Value> {
    configmaps_in(server, NS)
}

pub fn configmaps_in(server: &ApiServer, ns: &str) -> Vec<Value> {
    server
        .objects("v1", "ConfigMap", Some(ns))
        .into_iter()
        .filter(|c| c["metadata"]["name"] != "kube-root-ca.crt")
        .collect()
}

pub fn secrets(server: &ApiServer) -> Vec<Value> {
    server.objects("v1", "Secret", Some(NS))
}

/// The managed children in the server, as (kind, name) sorted.
pub fn managed_children(server: &ApiServer) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = configmaps(server)
        .into_iter()
        .chain(secrets(server))
        .filter(|o| o["metadata"]["labels"]["roperator.io/managed-by"] == OPERATOR)
        .map(|o| {
            (
                o["kind"].as_str().unwrap_or("").to_string(),
                o["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The value of a series in the metrics text, e.g. `roperator_syncs_total{result="success"}`:
/// the sum over every series of that name carrying these labels (whatever other labels they
/// have, such as `controller`).
pub fn metric(op: &TestOperator, series: &str) -> f64 {
    let (name, wanted) = split_series(series);
    op.monitor()
        .metrics_text()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (n, labels) = split_series(series);
            (n == name && wanted.iter().all(|w| labels.contains(w)))
                .then(|| value.parse::<f64>().ok())
                .flatten()
        })
        .sum()
}

fn split_series(series: &str) -> (&str, Vec<&str>) {
    match series.split_once('{') {
        Some((name, rest)) => (
            name,
            rest.trim_end_matches('}')
                .split(',')
                .filter(|l| !l.is_empty())
                .collect(),
        ),
        None => (series, Vec::new()),
    }
}

/// Events recorded on the parent `name` (events.k8s.io), as (type, reason, note).
pub fn events_for(server: &ApiServer, name: &str) -> Vec<(String, String, String)> {
    server
        .objects("events.k8s.io/v1", "Event", Some(NS))
        .into_iter()
        .filter(|e| e["regarding"]["name"] == name)
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["reason"].as_str().unwrap_or("").to_string(),
                e["note"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub const LONG: Duration = Duration::from_secs(60);

/// A parent's status without the engine's `Synced` condition, after checking that condition:
/// `True` when `synced`, `False` otherwise.
pub fn status_without_synced(parent: &Value, synced: bool) -> Value {
    let mut status = parent["status"].clone();
    let conditions = status
        .as_object_mut()
        .and_then(|s| s.remove("conditions"))
        .unwrap_or_default();
    let condition = conditions
        .as_array()
        .and_then(|list| list.iter().find(|c| c["type"] == "Synced"))
        .unwrap_or_else(|| panic!("no Synced condition in {}", parent["status"]));
    let expected = if synced { "True" } else { "False" };
    assert_eq!(condition["status"], expected, "{condition}");
    status
}
