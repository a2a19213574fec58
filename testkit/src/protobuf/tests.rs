//! The fixtures are the bodies kubectl 1.32 sent for `kubectl create deployment|service|secret|pdb|
//! ingress` (captured from the wire); each is read into the JSON kubectl would have sent with
//! `--dry-run=client -o json | kubectl create -f -`.

use serde_json::json;

use super::*;

fn decoded(fixture: &[u8]) -> Value {
    to_json(fixture).unwrap_or_else(|e| panic!("{}", e.message))
}

#[test]
fn a_deployment_keeps_zero_replicas_and_empty_structs_but_not_unset_scalars() {
    // `kubectl create deployment web --image=nginx:1.27 --replicas=0 --port=80`
    let deployment = decoded(include_bytes!("testdata/deployment.pb"));
    assert_eq!(
        deployment,
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "x", "labels": {"app": "web"}},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": {"app": "web"}},
                "strategy": {},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{
                        "name": "nginx", "image": "nginx:1.27",
                        "ports": [{"containerPort": 80}], "resources": {}
                    }]}
                }
            },
            "status": {}
        })
    );
}

#[test]
fn int_or_string_fields_read_as_numbers_or_names() {
    // `kubectl create service nodeport web --tcp=80:8080`
    let service = decoded(include_bytes!("testdata/service.pb"));
    assert_eq!(
        service["spec"],
        json!({
            "ports": [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "selector": {"app": "web"},
            "type": "NodePort"
        })
    );
    // `kubectl create pdb p --selector=app=web --max-unavailable=0`: a pointer set to zero.
    let pdb = decoded(include_bytes!("testdata/pdb.pb"));
    assert_eq!(pdb["spec"]["maxUnavailable"], json!(0));
    // `kubectl create ingress ing --rule=foo.com/bar=svc1:http`: the rule's `http` sits in an
    // embedded struct, and the port is named.
    let ingress = decoded(include_bytes!("testdata/ingress.pb"));
    assert_eq!(
        ingress["spec"]["rules"],
        json!([{"host": "foo.com", "http": {"paths": [{
            "backend": {"service": {"name": "svc1", "port": {"name": "http"}}},
            "path": "/bar", "pathType": "Exact"
        }]}}])
    );
}

#[test]
fn bytes_read_as_base64_and_empty_values_stay() {
    // `kubectl create secret generic s --from-literal=pw=hunter2 --from-literal=empty=`
    let secret = decoded(include_bytes!("testdata/secret.pb"));
    assert_eq!(secret["data"], json!({"pw": "aHVudGVyMg==", "empty": ""}));
}

#[test]
fn timestamps_durations_and_zero_times() {
    assert_eq!(
        timestamp(1_733_300_000, 0, false),
        Ok(json!("2024-12-04T08:13:20Z"))
    );
    assert_eq!(
        timestamp(1_733_300_000, 5_000, true),
        Ok(json!("2024-12-04T08:13:20.000005Z"))
    );
    // Go's zero time is written as an empty message and reads as absent.
    assert_eq!(
        special("io.k8s.apimachinery.pkg.apis.meta.v1.Time", &[]),
        Ok(Some(Value::Null))
    );
    assert_eq!(go_duration(0), "0s");
    assert_eq!(go_duration(1_500_000_000), "1.5s");
    assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    assert_eq!(go_duration(-90_000_000_000), "-1m30s");
}

#[test]
fn bad_bodies_are_refused_with_what_was_wrong() {
    let no_prefix = to_json(b"{}").expect_err("no magic");
    assert_eq!((no_prefix.code, no_prefix.reason), (400, "BadRequest"));
    assert!(
        no_prefix.message.contains("k8s\\x00"),
        "{}",
        no_prefix.message
    );

    // An envelope naming a kind this server has no protobuf schema for.
    let mut unknown = b"k8s\0".to_vec();
    unknown.extend([0x0a, 0x0c, 0x0a, 0x02, b'v', b'1', 0x12, 0x06]);
    unknown.extend(b"Widget");
    let err = to_json(&unknown).expect_err("unknown kind");
    assert!(
        err.message.contains("no kind \"Widget\""),
        "{}",
        err.message
    );

    // A deployment cut short inside its metadata.
    let full = include_bytes!("testdata/deployment.pb");
    let err = to_json(&full[..40]).expect_err("truncated");
    assert!(err.message.contains("truncated"), "{}", err.message);
}
