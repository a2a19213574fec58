use serde_json::json;

use super::*;
use crate::registry::builtin_types;

fn ty(kind: &str) -> ResourceType {
    builtin_types()
        .into_iter()
        .find(|t| t.kind == kind)
        .expect("served kind")
}

fn fields(causes: &[FieldCause]) -> Vec<&str> {
    causes.iter().map(|c| c.field.as_str()).collect()
}

#[test]
fn annotations_are_limited_to_256_kib_in_total() {
    let at_limit = json!({"metadata": {"name": "a", "annotations": {"k": "x".repeat(262_143)}}});
    assert!(on_create(&ty("ConfigMap"), &at_limit).is_empty());
    let over = json!({"metadata": {"name": "a", "annotations": {"k": "x".repeat(262_144)}}});
    let causes = on_create(&ty("ConfigMap"), &over);
    assert_eq!(fields(&causes), ["metadata.annotations"]);
    assert_eq!(causes[0].reason, "FieldValueTooLong");
    assert_eq!(
        causes[0].message,
        "Too long: must have at most 262144 bytes"
    );
}

#[test]
fn config_map_data_counts_both_sections_and_names_no_field() {
    let big = json!({"metadata": {"name": "a"}, "data": {"a": "x".repeat(600_000)},
        "binaryData": {"b": k8s_openapi::ByteString(vec![0; 500_000])}});
    let causes = on_create(&ty("ConfigMap"), &big);
    assert_eq!(fields(&causes), [""]);
    let dup = json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "binaryData": {"k": "AA=="}});
    assert_eq!(
        fields(&on_create(&ty("ConfigMap"), &dup)),
        ["data[k]", "binaryData[k]"]
    );
}

#[test]
fn secrets_count_decoded_bytes_and_check_their_type() {
    let at_limit = json!({"metadata": {"name": "s"}, "type": "Opaque",
        "data": {"k": k8s_openapi::ByteString(vec![1; 1_048_576])}});
    assert!(on_create(&ty("Secret"), &at_limit).is_empty());
    let tls = json!({"metadata": {"name": "s"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}});
    let causes = on_create(&ty("Secret"), &tls);
    assert_eq!(fields(&causes), ["data[tls.key]"]);
    assert_eq!(causes[0].message, "Required value");
}

#[test]
fn owner_references_need_a_uid() {
    let v = json!({"metadata": {"name": "a", "ownerReferences": [
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "o"}]}});
    let causes = on_create(&ty("ConfigMap"), &v);
    assert_eq!(fields(&causes), ["metadata.ownerReferences.uid"]);
    assert_eq!(
        causes[0].message,
        "Invalid value: \"\": uid must not be empty"
    );
}

#[test]
fn immutable_config_maps_keep_their_data_and_flag() {
    let old = json!({"metadata": {"name": "a"}, "immutable": true, "data": {"k": "v"}});
    let relabelled = json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "immutable": true, "data": {"k": "v"}});
    assert!(on_update(&ty("ConfigMap"), &relabelled, &old).is_empty());
    let changed = json!({"metadata": {"name": "a"}, "data": {"k": "w"}});
    assert_eq!(
        fields(&on_update(&ty("ConfigMap"), &changed, &old)),
        ["immutable", "data"]
    );
}

#[test]
fn workload_selectors_are_printed_as_go_does() {
    let deployment = |app: &str| {
        json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}},
                "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Always"}}}})
    };
    let causes = on_update(&ty("Deployment"), &deployment("b"), &deployment("a"));
    assert_eq!(fields(&causes), ["spec.selector"]);
    assert_eq!(
        causes[0].message,
        "Invalid value: v1.LabelSelector{MatchLabels:map[string]string{\"app\":\"b\"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    );
}

#[test]
fn service_cluster_ips_may_not_change() {
    let old = json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10",
        "clusterIPs": ["10.96.0.10"], "ports": [{"port": 80}]}});
    let new = json!({"metadata": {"name": "s"}, "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.11",
        "clusterIPs": ["10.96.0.11"], "ports": [{"port": 80}]}});
    let causes = on_update(&ty("Service"), &new, &old);
    assert_eq!(fields(&causes), ["spec.clusterIPs[0]"]);
    assert_eq!(
        causes[0].message,
        "Invalid value: []string{\"10.96.0.11\"}: may not change once set"
    );
}

#[test]
fn workload_selectors_must_select_the_template() {
    let deployment = |selector: serde_json::Value, labels: serde_json::Value| {
        json!({"metadata": {"name": "d"}, "spec": {"selector": selector,
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Always"}}}})
    };
    let good = deployment(
        json!({"matchLabels": {"app": "a"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}]}),
        json!({"app": "a", "tier": "web"}),
    );
    assert!(on_create(&ty("Deployment"), &good).is_empty());
    let bad = deployment(json!({"matchLabels": {"app": "b"}}), json!({"app": "a"}));
    let causes = on_create(&ty("Deployment"), &bad);
    assert_eq!(fields(&causes), ["spec.template.metadata.labels"]);
    assert_eq!(
        causes[0].message,
        "Invalid value: map[string]string{\"app\":\"a\"}: `selector` does not match template `labels`"
    );
    let missing = json!({"metadata": {"name": "s"}, "spec": {}});
    assert_eq!(
        fields(&on_create(&ty("StatefulSet"), &missing))[0],
        "spec.selector"
    );
}

#[test]
fn a_deployment_s_progress_deadline_must_exceed_min_ready_even_when_negative() {
    let deployment = |deadline: i64, ready: i64| {
        json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"app": "a"}},
            "minReadySeconds": ready, "progressDeadlineSeconds": deadline,
            "template": {"metadata": {"labels": {"app": "a"}},
                "spec": {"containers": [{"name": "c", "image": "i"}], "restartPolicy": "Always"}}}})
    };
    assert!(on_create(&ty("Deployment"), &deployment(600, 10)).is_empty());
    let causes = on_create(&ty("Deployment"), &deployment(10, 10));
    assert_eq!(fields(&causes), ["spec.progressDeadlineSeconds"]);
    assert_eq!(
        causes[0].message,
        "Invalid value: 10: must be greater than minReadySeconds"
    );
    let causes = on_create(&ty("Deployment"), &deployment(-1, 0));
    assert_eq!(
        fields(&causes),
        [
            "spec.progressDeadlineSeconds",
            "spec.progressDeadlineSeconds"
        ]
    );
    assert_eq!(
        causes[1].message,
        "Invalid value: -1: must be greater than minReadySeconds"
    );
}
