//! Discovery documents: `/version`, `/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::registry::{ResourceType, TypeSchema};

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "gitVersion": "v1.37.0",
        "gitCommit": "roperator-testkit",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

pub(crate) fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}],
    })
}

/// The built-in groups in the order kube-apiserver lists them (the aggregator's group priority);
/// other groups (CRDs') follow, by name.
const GROUP_ORDER: &[&str] = &[
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
];

/// Each group's versions, most preferred first, groups in discovery order.
fn group_versions(types: &[ResourceType]) -> Vec<(String, Vec<String>)> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in types.iter().filter(|t| !t.group.is_empty()) {
        let versions = groups.entry(t.group.clone()).or_default();
        if !versions.contains(&t.version) {
            versions.push(t.version.clone());
        }
    }
    let mut groups: Vec<(String, Vec<String>)> = groups.into_iter().collect();
    for (_, versions) in &mut groups {
        versions.sort_by(|a, b| version_priority(a).cmp(&version_priority(b)).then(a.cmp(b)));
    }
    let rank = |g: &str| {
        GROUP_ORDER
            .iter()
            .position(|o| *o == g)
            .unwrap_or(GROUP_ORDER.len())
    };
    groups.sort_by_key(|(g, _)| rank(g));
    groups
}

/// Kubernetes' version order (`CompareKubeAwareVersionStrings`): GA before beta before alpha,
/// higher numbers first; versions that are not of the `v<N>[alpha|beta<M>]` form come last.
fn version_priority(version: &str) -> (u8, std::cmp::Reverse<u64>, std::cmp::Reverse<u64>) {
    let parsed = version.strip_prefix('v').and_then(|rest| {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let major: u64 = rest[..digits].parse().ok()?;
        let (class, tail) = match &rest[digits..] {
            "" => return Some((0, major, 0)),
            t if t.starts_with("beta") => (1, &t[4..]),
            t if t.starts_with("alpha") => (2, &t[5..]),
            _ => return None,
        };
        Some((class, major, tail.parse().ok()?))
    });
    match parsed {
        Some((class, major, minor)) => (class, std::cmp::Reverse(major), std::cmp::Reverse(minor)),
        None => (3, std::cmp::Reverse(0), std::cmp::Reverse(0)),
    }
}

/// `storageVersionHash`: the first 8 bytes of the SHA-256 of the storage `group/version/Kind`,
/// in base64 (upstream `storageversionhash.StorageVersionHash`). Events of both versions are
/// stored as core v1 Events, CRDs at their historical v1beta1.
fn storage_version_hash(t: &ResourceType) -> String {
    let (group, version) = match (t.group.as_str(), t.kind.as_str()) {
        ("events.k8s.io", "Event") => ("", "v1"),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => (t.group.as_str(), "v1beta1"),
        (group, _) => (group, t.storage_version.as_str()),
    };
    let gvk = format!("{group}/{version}/{}", t.kind);
    let digest = ring::digest::digest(&ring::digest::SHA256, gvk.as_bytes());
    crate::meta::base64(&digest.as_ref()[..8])
}

fn group_json(group: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
        .collect();
    json!({
        "name": group,
        "versions": vs,
        "preferredVersion": vs.first().cloned().unwrap_or(json!({})),
    })
}

pub(crate) fn api_groups(types: &[ResourceType]) -> Value {
    let groups: Vec<Value> = group_versions(types)
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(crate) fn api_group(types: &[ResourceType], group: &str) -> Option<Value> {
    let groups = group_versions(types);
    let (_, versions) = groups.iter().find(|(g, _)| g == group)?;
    let mut g = group_json(group, versions);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

pub(crate) fn resource_list(types: &[ResourceType], group: &str, version: &str) -> Option<Value> {
    let mut resources = Vec::new();
    let mut built_in = true;
    for t in types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        built_in &= matches!(t.schema, TypeSchema::BuiltIn { .. });
        let mut r = json!({
            "name": t.plural,
            "singularName": t.singular,
            "namespaced": t.namespaced,
            "kind": t.kind,
            "verbs": t.verbs,
        });
        if !t.short_names.is_empty() {
            r["shortNames"] = json!(t.short_names);
        }
        if !t.categories.is_empty() {
            r["categories"] = json!(t.categories);
        }
        r["storageVersionHash"] = json!(storage_version_hash(t));
        resources.push(r);
        if t.subresources.status {
            resources.push(json!({
                "name": format!("{}/status", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": t.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        if t.subresources.scale {
            resources.push(json!({
                "name": format!("{}/scale", t.plural),
                "singularName": "",
                "namespaced": t.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": ["get", "patch", "update"],
            }));
        }
    }
    if resources.is_empty() {
        return None;
    }
    // Built-in groups list their resources by name; the CRD discovery controller lists each
    // kind followed by its status and scale subresources.
    if built_in {
        resources.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    }
    if group.is_empty() {
        // The legacy core group's list has no apiVersion, unlike every named group's.
        return Some(
            json!({"kind": "APIResourceList", "groupVersion": version, "resources": resources}),
        );
    }
    Some(json!({
        "kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": format!("{group}/{version}"), "resources": resources,
    }))
}
