//! The objects a real cluster's own controllers keep in place, written here as part of the
//! request that calls for them: every namespace holds the `default` ServiceAccount (the
//! service account controller) and the `kube-root-ca.crt` ConfigMap (the root CA publisher),
//! recreated when deleted; `default` holds the `kubernetes` Service (the API server's own
//! bootstrap controller), at the first address of the service range.

use serde_json::{Value, json};

use super::gc::Queue;
use super::objects::{Query, Target, create_as};
use crate::store::{ObjRef, State};

const DEFAULT_SERVICE_ACCOUNT: &str = "default";
const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
const CONTROLLER_MANAGER: &str = "kube-controller-manager";

/// The root CA publisher's annotation (`rootcacertpublisher.Description`).
const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

/// Creates `body` (a built-in kind of the core group) under `manager`, as that controller's
/// create request would; a failure (the namespace going away meanwhile) is what the
/// controller would retry later, and leaves nothing behind.
fn create(st: &mut State, work: &mut Queue, plural: &str, ns: &str, body: Value, manager: &str) {
    let Some(bucket) = st.lookup("", "v1", plural) else {
        return;
    };
    let ty = st.buckets[bucket].primary().clone();
    let target = Target {
        bucket,
        ty,
        ns: Some(ns.to_string()),
        name: None,
        sub: None,
    };
    let q = Query::from([("fieldManager".to_string(), manager.to_string())]);
    if let Err(e) = create_as(st, work, &target, body, &q) {
        tracing::debug!(namespace = ns, plural, error = %e.message, "a controller's object was not created");
    }
}

/// What the controllers write into a namespace that was just created.
pub(crate) fn namespace_created(st: &mut State, work: &mut Queue, ns: &str) {
    service_account(st, work, ns);
    root_ca(st, work, ns);
}

fn service_account(st: &mut State, work: &mut Queue, ns: &str) {
    let body = json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": DEFAULT_SERVICE_ACCOUNT}});
    create(st, work, "serviceaccounts", ns, body, CONTROLLER_MANAGER);
}

fn root_ca(st: &mut State, work: &mut Queue, ns: &str) {
    let Some(ca) = super::listen::certificate_pem() else {
        return;
    };
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": ROOT_CA_CONFIG_MAP,
            "annotations": {"kubernetes.io/description": ROOT_CA_DESCRIPTION}},
        "data": {"ca.crt": ca}});
    create(st, work, "configmaps", ns, body, CONTROLLER_MANAGER);
}

/// The controllers put back what they keep when someone deletes it (unless its namespace is
/// going too).
pub(crate) fn after_removal(st: &mut State, work: &mut Queue, r: &ObjRef) {
    let primary = st.buckets[r.bucket].primary();
    if !primary.group.is_empty() || r.ns.is_empty() || !namespace_active(st, &r.ns) {
        return;
    }
    match (primary.kind.as_str(), r.name.as_str()) {
        ("ServiceAccount", DEFAULT_SERVICE_ACCOUNT) => service_account(st, work, &r.ns.clone()),
        ("ConfigMap", ROOT_CA_CONFIG_MAP) => root_ca(st, work, &r.ns.clone()),
        _ => {}
    }
}

fn namespace_active(st: &State, ns: &str) -> bool {
    let Some(bucket) = st.lookup("", "v1", "namespaces") else {
        return false;
    };
    st.get_value(&ObjRef {
        bucket,
        ns: String::new(),
        name: ns.to_string(),
    })
    .is_some_and(|v| v.pointer("/metadata/deletionTimestamp").is_none())
}

/// The `kubernetes` Service the API server keeps in `default` (`kubernetesservice`
/// controller): port 443 to the API server's secure port, at the range's first address.
pub(crate) fn kubernetes_service(st: &mut State, work: &mut Queue) {
    let ip = st.allocator.first_address().to_string();
    let body = json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes",
            "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"clusterIP": ip, "sessionAffinity": "None", "type": "ClusterIP",
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]}});
    create(st, work, "services", "default", body, "kube-apiserver");
}
