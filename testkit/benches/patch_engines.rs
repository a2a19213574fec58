//! Throughput of the patch engines and of ownership tracking, which runs on every write.
//!
//! `cargo bench -p roperator-testkit --bench patch_engines` prints operations per second for:
//! ownership tracking of a ConfigMap create (what every create pays), a strategic merge patch and
//! a server-side apply of a Deployment, and CRD schema validation of a custom object.

use std::time::{Duration, Instant};

use roperator_testkit::patch::{PatchContext, PatchType, apply, track_update};
use roperator_testkit::registry::{ResourceType, builtin_types};
use roperator_testkit::schema::validate_and_prune;
use serde_json::{Value, json};

fn measure(name: &str, mut op: impl FnMut()) {
    // Warm up (first calls generate and cache the type's schema).
    for _ in 0..100 {
        op();
    }
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        for _ in 0..100 {
            op();
        }
        count += 100;
    }
    let per_second = count as f64 / start.elapsed().as_secs_f64();
    println!("{name:<48} {per_second:>12.0} ops/s");
}

fn find(types: &[ResourceType], kind: &str) -> ResourceType {
    types
        .iter()
        .find(|t| t.kind == kind)
        .cloned()
        .unwrap_or_else(|| panic!("{kind} is a built-in type"))
}

fn main() {
    let types = builtin_types();
    let config_map = find(&types, "ConfigMap");
    let deployment = find(&types, "Deployment");
    let ctx = |resource: &'static ResourceType, manager: &'static str| PatchContext {
        resource,
        field_manager: Some(manager),
        force: false,
        subresource: None,
    };
    let config_map: &'static ResourceType = Box::leak(Box::new(config_map));
    let deployment: &'static ResourceType = Box::leak(Box::new(deployment));

    let data: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("key-{i}"), json!("x".repeat(40))))
        .collect();
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "default", "labels": {"app": "bench"}},
        "data": data});
    measure("track_update: ConfigMap create (~1 KB)", || {
        let mut created = cm.clone();
        track_update(None, &mut created, &ctx(config_map, "bench"));
        std::hint::black_box(created);
    });

    let live = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                     {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
                      "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                     {"name": "sidecar", "image": "busybox"}]}}}});
    let patch = serde_json::to_vec(&json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}]}}}}))
    .unwrap_or_default();
    measure("strategic merge patch: Deployment container", || {
        let out = apply(
            PatchType::StrategicMerge,
            Some(&live),
            &patch,
            &ctx(deployment, "bench"),
        );
        std::hint::black_box(out.is_ok());
    });

    let body = serde_json::to_vec(&live).unwrap_or_default();
    let applied = apply(PatchType::Apply, None, &body, &ctx(deployment, "bench"))
        .unwrap_or_else(|e| panic!("apply creates: {e}"));
    measure("server-side apply: Deployment, unchanged", || {
        let out = apply(
            PatchType::Apply,
            Some(&applied),
            &body,
            &ctx(deployment, "bench"),
        );
        std::hint::black_box(out.is_ok());
    });

    let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
        "required": ["size"], "properties": {
            "size": {"type": "integer", "minimum": 1},
            "color": {"type": "string", "enum": ["red", "blue"], "default": "red"},
            "tags": {"type": "array", "items": {"type": "string"}}}}}});
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
        "spec": {"size": 3, "tags": ["a", "b", "c"], "unknown": 1}});
    measure("CRD schema prune + default + validate", || {
        let mut object = widget.clone();
        std::hint::black_box(validate_and_prune(&schema, &mut object).is_ok());
    });
}
