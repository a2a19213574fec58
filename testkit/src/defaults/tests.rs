use serde_json::json;

use super::core::pull_policy;
use super::*;
use crate::registry::builtin_types;

fn ty(kind: &str) -> ResourceType {
    builtin_types()
        .into_iter()
        .find(|t| t.kind == kind)
        .expect("served kind")
}

#[test]
fn pull_policy_follows_the_tag() {
    for (image, policy) in [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("registry.example.com:5000/team/app", "Always"),
        ("nginx:1.27", "IfNotPresent"),
        ("registry.example.com:5000/app:v2", "IfNotPresent"),
        ("nginx@sha256:0123456789abcdef", "IfNotPresent"),
        ("nginx:latest@sha256:0123456789abcdef", "Always"),
        ("Upper/Case", "IfNotPresent"),
        ("", "IfNotPresent"),
    ] {
        assert_eq!(pull_policy(image), policy, "{image}");
    }
}

#[test]
fn defaulting_twice_changes_nothing() {
    let mut deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx",
                "ports": [{"containerPort": 80}],
                "livenessProbe": {"httpGet": {"port": 80}}}],
                "volumes": [{"name": "v"}]}}}});
    apply(&ty("Deployment"), &mut deployment);
    let once = deployment.clone();
    apply(&ty("Deployment"), &mut deployment);
    assert_eq!(deployment, once);
    let container = &once["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["scheme"], "HTTP");
    assert_eq!(container["livenessProbe"]["periodSeconds"], 10);
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(
        once["spec"]["template"]["spec"]["volumes"][0]["emptyDir"],
        json!({})
    );
    assert_eq!(
        once["spec"]["template"]["metadata"]["creationTimestamp"],
        Value::Null
    );
}

#[test]
fn secrets_fold_string_data_into_data() {
    let mut secret = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="},
        "stringData": {"a": "wins", "b": "plain"}});
    apply(&ty("Secret"), &mut secret);
    assert_eq!(
        secret,
        json!({"metadata": {"name": "s"}, "type": "Opaque",
            "data": {"a": "d2lucw==", "b": "cGxhaW4="}})
    );
}

#[test]
fn custom_resources_and_events_are_left_alone() {
    let mut event = json!({"metadata": {"name": "e"}, "involvedObject": {}});
    let before = event.clone();
    apply(&ty("Event"), &mut event);
    assert_eq!(event, before);
}
