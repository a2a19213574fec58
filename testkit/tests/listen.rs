//! The TCP listener: plain HTTP and HTTPS, reached through a kubeconfig.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use roperator_testkit::ApiServer;
use serde_json::json;

async fn client_from(path: &std::path::Path) -> kube::Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

async fn round_trip(client: kube::Client) {
    let cms: Api<ConfigMap> = Api::default_namespaced(client);
    let body: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "over-tcp"}, "data": {"a": "b"}}))
            .expect("cm");
    cms.create(&PostParams::default(), &body)
        .await
        .expect("create over the wire");
    let got = cms.get("over-tcp").await.expect("get over the wire");
    assert_eq!(
        got.data.and_then(|d| d.get("a").cloned()).as_deref(),
        Some("b")
    );
}

#[tokio::test]
async fn plain_http_listener_with_kubeconfig() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    assert!(listening.url().starts_with("http://127.0.0.1:"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    listening.write_kubeconfig(&path).expect("write");
    round_trip(client_from(&path).await).await;
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "over-tcp")
            .is_some()
    );
}

#[tokio::test]
async fn tls_listener_with_embedded_ca() {
    let server = ApiServer::new();
    let listening = server.listen_tls().await;
    assert!(listening.url().starts_with("https://127.0.0.1:"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("kubeconfig");
    listening.write_kubeconfig(&path).expect("write");
    round_trip(client_from(&path).await).await;
}
