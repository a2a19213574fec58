//! Loading fixtures, builders, and the JSON inclusion assertion against a live server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use roperator_testkit::{ApiServer, assert_json_include, fixtures};
use serde_json::json;

#[tokio::test]
async fn load_yaml_creates_every_document() {
    let server = ApiServer::new();
    let n = server
        .load_yaml(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  mode: fast\n---\n",
        )
        .expect("load");
    assert_eq!(n, 2);
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "team");
    let got = cms.get("settings").await.expect("loaded");
    assert_json_include!(actual: got, expected: json!({"data": {"mode": "fast"}}));

    // Loading again replaces in place.
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: team\ndata:\n  mode: slow\n")
        .expect("reload");
    let obj = server
        .object("v1", "ConfigMap", Some("team"), "settings")
        .expect("present");
    assert_eq!(obj["data"]["mode"], "slow");
}

#[tokio::test]
async fn load_errors_name_the_object() {
    let server = ApiServer::new();
    let err = server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: nowhere\n")
        .expect_err("missing namespace");
    let text = err.to_string();
    assert!(
        text.contains("ConfigMap") && text.contains("\"x\"") && text.contains("nowhere"),
        "{text}"
    );
    let err = server.load_yaml("kind: [unclosed").expect_err("bad yaml");
    assert!(
        matches!(err, roperator_testkit::TestkitError::Parse { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn load_file_reads_json_lists() {
    let server = ApiServer::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("objects.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}
    ]});
    std::fs::write(&path, serde_json::to_vec(&list).expect("json")).expect("write");
    assert_eq!(server.load_file(&path).expect("load"), 2);
    // Next to the namespace's own `kube-root-ca.crt`.
    assert_eq!(server.objects("v1", "ConfigMap", Some("default")).len(), 3);
}

#[tokio::test]
async fn builders_produce_valid_objects() {
    let server = ApiServer::new();
    let client = server.client();
    Api::all(client.clone())
        .create(&PostParams::default(), &fixtures::namespace("apps"))
        .await
        .expect("ns");
    let deps: Api<Deployment> = Api::namespaced(client.clone(), "apps");
    let d = deps
        .create(
            &PostParams::default(),
            &fixtures::deployment("web", "nginx", 2),
        )
        .await
        .expect("deployment");
    assert_json_include!(actual: d, expected: json!({"spec": {"replicas": 2, "template": {"spec": {"containers": [{"image": "nginx"}]}}}}));
    Api::namespaced(client.clone(), "apps")
        .create(&PostParams::default(), &fixtures::service("web", "web", 80))
        .await
        .expect("service");
    Api::namespaced(client.clone(), "apps")
        .create(
            &PostParams::default(),
            &fixtures::secret("creds", [("user", "me")]),
        )
        .await
        .expect("secret");
    Api::namespaced(client, "apps")
        .create(
            &PostParams::default(),
            &fixtures::configmap("cfg", [("a", "b")]),
        )
        .await
        .expect("configmap");
}
