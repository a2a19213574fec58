//! The YAML files shipped in `deploy/` agree with the Rust definitions.

use std::path::PathBuf;

use echo_server::EchoServer;

fn repo_file(path: &str) -> (PathBuf, String) {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    let text = std::fs::read_to_string(&full)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", full.display()));
    (full, text)
}

#[test]
fn deploy_crd_yaml_is_what_the_crd_subcommand_prints() {
    let (path, on_disk) = repo_file("deploy/crd.yaml");
    let generated = echo_server::crd_yaml().expect("the CRD serializes to YAML");
    assert!(
        on_disk == generated,
        "{} is out of date with the Rust types; regenerate it with\n    cargo run -p echo-server -- crd > deploy/crd.yaml",
        path.display()
    );
}

#[test]
fn the_crd_yaml_reads_back_as_the_same_crd() {
    let yaml = echo_server::crd_yaml().expect("the CRD serializes to YAML");
    let back: k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition =
        serde_saphyr::from_str(&yaml).expect("the YAML parses as a CRD");
    assert_eq!(back, echo_server::crd());
    let version = &back.spec.versions[0];
    assert_eq!(version.name, "v1alpha1");
    assert!(
        version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref())
            .is_some()
    );
    assert_eq!(back.spec.scope, "Namespaced");
}

#[test]
fn the_sample_is_a_valid_echo_server() {
    let (_, text) = repo_file("deploy/samples/echo.yaml");
    let sample: EchoServer =
        serde_saphyr::from_str(&text).expect("the sample parses as an EchoServer");
    assert_eq!(sample.spec.message.as_deref(), Some("hello from roperator"));
    assert_eq!(sample.spec.replicas, 2);
    echo_server::children::validate(&sample).expect("the sample passes the operator's validation");
}

#[test]
fn omitted_replicas_and_port_take_their_defaults() {
    let echo: EchoServer = serde_json::from_value(serde_json::json!({
        "apiVersion": "examples.roperator.io/v1alpha1",
        "kind": "EchoServer",
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"message": "hi"}
    }))
    .expect("a spec with only a message deserializes");
    assert_eq!((echo.spec.replicas, echo.spec.port), (1, 8080));
    // Without a message: it reads (the CRD's rule refuses it on a real server), and the
    // operator's validation names what is missing.
    let missing: EchoServer = serde_json::from_value(serde_json::json!({
        "apiVersion": "examples.roperator.io/v1alpha1",
        "kind": "EchoServer",
        "metadata": {"name": "a", "namespace": "default"},
        "spec": {"replicas": 2}
    }))
    .expect("a spec without a message deserializes");
    let err = echo_server::children::validate(&missing)
        .expect_err("a message is required")
        .to_string();
    assert!(err.contains("spec.message or spec.messageFrom"), "{err}");
}

#[test]
fn the_crd_requires_exactly_one_message_source_and_shows_synced() {
    let crd = serde_json::to_value(echo_server::crd()).expect("the CRD serializes");
    let version = &crd["spec"]["versions"][0];
    let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
    assert_eq!(
        spec["x-kubernetes-validations"][0]["rule"],
        "has(self.message) != has(self.messageFrom)"
    );
    let reference = &spec["properties"]["messageFrom"]["properties"]["configMapKeyRef"];
    assert_eq!(reference["required"], serde_json::json!(["key", "name"]));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .expect("printer columns")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        columns,
        [
            "Message",
            "Message-From",
            "Replicas",
            "Ready",
            "Phase",
            "Synced"
        ]
    );
    let status = &version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    for field in ["observedGeneration", "syncError", "conditions"] {
        assert!(status.get(field).is_some(), "status.{field} is declared");
    }
}
