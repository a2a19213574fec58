//! The networking/v1, rbac/v1, autoscaling/v2 and apiextensions/v1 defaulting functions
//! (upstream `pkg/apis/<group>/<version>/defaults.go`, v1.32).

use serde_json::{Map, Value, json};

use super::{object, set_empty, set_unset, text};

/// `SetDefaults_NetworkPolicyPort`.
pub(super) fn network_policy_port(port: &mut Map<String, Value>) {
    set_unset(port, "protocol", json!("TCP"));
}

/// `SetDefaults_NetworkPolicy`: a policy that names no types is an ingress policy, and an
/// egress one too when it has egress rules.
pub(super) fn network_policy(policy: &mut Map<String, Value>) {
    let spec = object(policy, "spec");
    let named = spec
        .get("policyTypes")
        .and_then(Value::as_array)
        .is_some_and(|t| !t.is_empty());
    if named {
        return;
    }
    let egress = spec
        .get("egress")
        .and_then(Value::as_array)
        .is_some_and(|e| !e.is_empty());
    let types = if egress {
        json!(["Ingress", "Egress"])
    } else {
        json!(["Ingress"])
    };
    spec.insert("policyTypes".into(), types);
}

/// A role's rules are serialized as `null` when it has none (no `omitempty` upstream).
pub(super) fn role(role: &mut Map<String, Value>) {
    role.entry("rules").or_insert(Value::Null);
}

/// `SetDefaults_RoleBinding` and `SetDefaults_ClusterRoleBinding`.
pub(super) fn role_binding(binding: &mut Map<String, Value>) {
    set_empty(
        object(binding, "roleRef"),
        "apiGroup",
        "rbac.authorization.k8s.io",
    );
}

/// `SetDefaults_Subject`: users and groups are RBAC subjects; service accounts are core.
pub(super) fn subject(subject: &mut Map<String, Value>) {
    if text(subject, "apiGroup").is_some() {
        return;
    }
    if matches!(text(subject, "kind"), Some("User" | "Group")) {
        subject.insert("apiGroup".into(), json!("rbac.authorization.k8s.io"));
    }
}

/// `SetDefaults_HorizontalPodAutoscaler`: at least one replica, CPU at 80% when no metric is
/// given, and a given `behavior` completed with the default scaling rules.
pub(super) fn horizontal_pod_autoscaler(hpa: &mut Map<String, Value>) {
    let spec = object(hpa, "spec");
    set_unset(spec, "minReplicas", json!(1));
    let has_metrics = spec
        .get("metrics")
        .and_then(Value::as_array)
        .is_some_and(|m| !m.is_empty());
    if !has_metrics {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu",
                "target": {"type": "Utilization", "averageUtilization": 80}}}]),
        );
    }
    let Some(Value::Object(behavior)) = spec.get_mut("behavior") else {
        return;
    };
    let scale_up = json!({
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    });
    // Scale-down's stabilization window is left unset: the controller's own flag decides it.
    let scale_down = json!({
        "selectPolicy": "Max",
        "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
    });
    for (key, defaults) in [("scaleUp", scale_up), ("scaleDown", scale_down)] {
        let mut rules = defaults;
        if let Some(Value::Object(given)) = behavior.get(key) {
            for field in ["selectPolicy", "stabilizationWindowSeconds", "policies"] {
                if let Some(value) = given.get(field).filter(|v| !v.is_null()) {
                    rules[field] = value.clone();
                }
            }
        }
        behavior.insert(key.into(), rules);
    }
}

/// The HPA status's metric list is serialized even when empty (no `omitempty` upstream).
pub(super) fn horizontal_pod_autoscaler_status(status: &mut Map<String, Value>) {
    status.entry("currentMetrics").or_insert(Value::Null);
}

/// `SetDefaults_CustomResourceDefinitionSpec`.
pub(super) fn crd_spec(spec: &mut Map<String, Value>) {
    let names = object(spec, "names");
    if let Some(kind) = text(names, "kind").map(str::to_string) {
        set_empty(names, "singular", &kind.to_lowercase());
        set_empty(names, "listKind", &format!("{kind}List"));
    }
    set_unset(spec, "conversion", json!({"strategy": "None"}));
}

/// `SetDefaults_ServiceReference`: conversion webhooks listen on 443.
pub(super) fn webhook_service(service: &mut Map<String, Value>) {
    set_unset(service, "port", json!(443));
}
