//! `deploy/` and its optional overlays render with kustomize, and every object in them is a
//! well-formed Kubernetes object.

use std::path::PathBuf;
use std::process::Command;

use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Namespace, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The objects `kubectl kustomize deploy/` renders, as JSON.
fn rendered(dir: &str) -> Vec<Value> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(repo_root().join(dir))
        .output()
        .expect("kubectl must be installed to test deploy/");
    assert!(
        output.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let yaml = String::from_utf8(output.stdout).expect("kustomize prints UTF-8");
    serde_saphyr::from_multiple(&yaml).expect("kustomize prints valid YAML documents")
}

/// Deserializes `object` into `T` and back, and fails when anything was lost on the way: a
/// misspelt or misplaced field is silently ignored by deserialization, so comparing the round
/// trip with the original is what catches it.
fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> T {
    let name = format!("{} {}", object["kind"], object["metadata"]["name"]);
    let typed: T = serde_json::from_value(object.clone())
        .unwrap_or_else(|e| panic!("{name} does not deserialize: {e}"));
    let back = serde_json::to_value(&typed).expect("serializes");
    if let Some(path) = first_difference(object, &back, String::new()) {
        panic!("{name}: field {path} is not part of its type (misspelt or misplaced?)");
    }
    typed
}

fn first_difference(original: &Value, back: &Value, path: String) -> Option<String> {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| match b.get(k) {
            Some(w) => first_difference(v, w, format!("{path}.{k}")),
            None => Some(format!("{path}.{k}")),
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        // YAML integers may come back as floats from untyped JSON (CRD schema bounds).
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        _ => Some(path),
    }
}

#[test]
fn the_base_renders_and_every_object_is_well_formed() {
    let objects = rendered("deploy");
    let mut kinds = Vec::new();
    for object in &objects {
        let kind = object["kind"].as_str().expect("every object has a kind");
        match kind {
            "Namespace" => drop(round_trip::<Namespace>(object)),
            "CustomResourceDefinition" => drop(round_trip::<CustomResourceDefinition>(object)),
            "ServiceAccount" => drop(round_trip::<ServiceAccount>(object)),
            "ClusterRole" => drop(round_trip::<ClusterRole>(object)),
            "ClusterRoleBinding" => drop(round_trip::<ClusterRoleBinding>(object)),
            "Role" => drop(round_trip::<Role>(object)),
            "RoleBinding" => drop(round_trip::<RoleBinding>(object)),
            "Service" => drop(round_trip::<Service>(object)),
            "StatefulSet" => drop(round_trip::<StatefulSet>(object)),
            "PodDisruptionBudget" => drop(round_trip::<PodDisruptionBudget>(object)),
            "NetworkPolicy" => drop(round_trip::<NetworkPolicy>(object)),
            other => {
                panic!("deploy/ renders a {other}, which this test does not know how to check")
            }
        }
        kinds.push(kind.to_string());
    }
    for wanted in [
        "Namespace",
        "CustomResourceDefinition",
        "ServiceAccount",
        "StatefulSet",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ] {
        assert!(kinds.iter().any(|k| k == wanted), "deploy/ has no {wanted}");
    }
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("deploy/ has no {kind} {name}"))
}

#[test]
fn the_statefulset_runs_hardened_replicas_with_probes_and_raft_storage() {
    let objects = rendered("deploy");
    let sts: StatefulSet = round_trip(find(&objects, "StatefulSet", "echo-server"));
    assert_eq!(sts.metadata.namespace.as_deref(), Some("echo-system"));
    assert_eq!(sts.spec.replicas, Some(3));
    let pod = sts.spec.template.spec.as_ref().expect("pod spec");
    let pod_security = pod.security_context.as_ref().expect("pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    let c = &pod.containers[0];
    let security = c
        .security_context
        .as_ref()
        .expect("container securityContext");
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let resources = c.resources.as_ref().expect("resources");
    assert!(
        resources
            .requests
            .as_ref()
            .is_some_and(|r| r.contains_key("memory"))
    );
    assert!(
        resources
            .limits
            .as_ref()
            .is_some_and(|l| l.contains_key("memory"))
    );
    let probe_path = |p: &Option<k8s_openapi::api::core::v1::Probe>| {
        p.as_ref()
            .and_then(|p| p.http_get.as_ref())
            .and_then(|h| h.path.clone())
    };
    assert_eq!(probe_path(&c.liveness_probe).as_deref(), Some("/healthz"));
    assert_eq!(probe_path(&c.readiness_probe).as_deref(), Some("/readyz"));
    let claims = sts
        .spec
        .volume_claim_templates
        .as_ref()
        .expect("a PVC template for Raft data");
    let claim_name = claims[0].metadata.name.clone().expect("claim name");
    let mounts = c.volume_mounts.as_ref().expect("mounts");
    assert!(
        mounts.iter().any(|m| m.name == claim_name),
        "the Raft volume is mounted"
    );

    let peers: Service = round_trip(find(&objects, "Service", "echo-server-peers"));
    let spec = peers.spec.expect("service spec");
    assert_eq!(
        spec.cluster_ip.as_deref(),
        Some("None"),
        "the peers Service is headless"
    );
    assert_eq!(spec.publish_not_ready_addresses, Some(true));
    assert_eq!(sts.spec.service_name.as_deref(), Some("echo-server-peers"));
    assert_eq!(
        spec.selector.as_ref(),
        sts.spec.selector.match_labels.as_ref(),
        "the peers Service selects the operator's pods"
    );
    let raft_port = spec.ports.expect("ports")[0].port;

    let policy: NetworkPolicy = round_trip(find(&objects, "NetworkPolicy", "echo-server"));
    let rules = policy.spec.and_then(|s| s.ingress).expect("ingress rules");
    let raft_rule = rules
        .iter()
        .find(|r| {
            r.ports.iter().flatten().any(|p| {
                p.port
                    == Some(
                        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(raft_port),
                    )
            })
        })
        .expect("a rule for the Raft port");
    let from = raft_rule
        .from
        .as_ref()
        .expect("the Raft port is open to peers only");
    assert!(from.iter().all(|peer| {
        peer.pod_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            == sts.spec.selector.match_labels.as_ref()
    }));
}

#[test]
fn the_cert_manager_example_renders() {
    let objects = rendered("deploy/cert-manager");
    let certificate = find(&objects, "Certificate", "echo-server-raft-tls");
    assert_eq!(certificate["spec"]["secretName"], "echo-server-raft-tls");
    let sts_yaml =
        std::fs::read_to_string(repo_root().join("deploy/statefulset.yaml")).expect("read");
    assert!(
        sts_yaml.contains("secretName: echo-server-raft-tls"),
        "the StatefulSet mounts the Secret cert-manager writes"
    );
}

/// The fencing policy is checked here for shape only; its CEL is exercised by
/// `deploy/ha/check-policy.py`, which needs cel-python and so is not run in CI.
#[test]
fn the_ha_fencing_policy_renders_and_is_well_formed() {
    let objects = rendered("deploy/ha");
    let (mut policy, mut binding) = (None, None);
    for object in &objects {
        match object["kind"].as_str().expect("every object has a kind") {
            "ValidatingAdmissionPolicy" => {
                policy = Some(round_trip::<ValidatingAdmissionPolicy>(object))
            }
            "ValidatingAdmissionPolicyBinding" => {
                binding = Some(round_trip::<ValidatingAdmissionPolicyBinding>(object))
            }
            other => {
                panic!("deploy/ha renders a {other}, which this test does not know how to check")
            }
        }
    }
    let policy = policy.expect("deploy/ha has a ValidatingAdmissionPolicy");
    let binding = binding.expect("deploy/ha binds the policy").spec;
    // An unbound policy, or a binding that only warns or audits, fences nothing.
    assert_eq!(Some(&binding.policy_name), policy.metadata.name.as_ref());
    assert_eq!(binding.validation_actions, ["Deny"]);

    // The CEL reads the annotation the engine stamps; a renamed annotation would turn the policy
    // into a no-op (its match conditions would skip every object).
    let spec = policy.spec.expect("a policy spec");
    let expressions: Vec<&str> = spec
        .match_conditions
        .iter()
        .flatten()
        .map(|c| c.expression.as_str())
        .chain(
            spec.validations
                .iter()
                .flatten()
                .map(|v| v.expression.as_str()),
        )
        .chain(
            spec.variables
                .iter()
                .flatten()
                .map(|v| v.expression.as_str()),
        )
        .collect();
    assert!(!expressions.is_empty());
    let annotation = roperator_core::LEADER_TERM_ANNOTATION;
    assert!(
        expressions.iter().any(|e| e.contains(annotation)),
        "the policy never reads {annotation}: {expressions:#?}"
    );
    assert_eq!(spec.failure_policy.as_deref(), Some("Fail"));
}

/// `true` when some rule of `granted` allows `verb` on `resource` in `group`.
fn allows(granted: &[PolicyRule], group: &str, resource: &str, verb: &str) -> bool {
    let has = |list: &Option<Vec<String>>, wanted: &str| {
        list.iter().flatten().any(|v| v == wanted || v == "*")
    };
    granted.iter().any(|rule| {
        has(&rule.api_groups, group)
            && has(&rule.resources, resource)
            && rule.verbs.iter().any(|v| v == verb || v == "*")
    })
}

#[test]
fn rbac_covers_every_verb_the_engine_uses_and_nothing_more() {
    let objects = rendered("deploy");
    let role: ClusterRole = round_trip(find(&objects, "ClusterRole", "echo-server"));
    let granted = role.rules.clone().unwrap_or_default();
    let needed = echo_server::operator_config().rbac_rules();
    assert!(
        !needed.is_empty(),
        "the engine reports the permissions it needs"
    );
    for rule in &needed {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    assert!(
                        allows(&granted, group, resource, verb),
                        "deploy/rbac.yaml does not allow {verb} on {resource} in group {group:?}, which the engine uses"
                    );
                }
            }
        }
    }
    // Least privilege: everything granted is something the engine uses.
    for rule in &granted {
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                for verb in &rule.verbs {
                    assert!(
                        allows(&needed, group, resource, verb),
                        "deploy/rbac.yaml grants {verb} on {resource} in group {group:?}, which the engine never uses"
                    );
                }
            }
        }
    }
    let binding: ClusterRoleBinding =
        round_trip(find(&objects, "ClusterRoleBinding", "echo-server"));
    let subject = &binding.subjects.expect("subjects")[0];
    assert_eq!(
        (subject.kind.as_str(), subject.name.as_str()),
        ("ServiceAccount", "echo-server")
    );
    assert_eq!(subject.namespace.as_deref(), Some("echo-system"));
    let sts: StatefulSet = round_trip(find(&objects, "StatefulSet", "echo-server"));
    let pod = sts.spec.template.spec.expect("pod spec");
    assert_eq!(pod.service_account_name.as_deref(), Some("echo-server"));
}
