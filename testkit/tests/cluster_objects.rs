//! What a real cluster's own controllers keep in place: the `default` ServiceAccount and the
//! `kube-root-ca.crt` ConfigMap in every namespace, and the `kubernetes` Service in `default`.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service, ServiceAccount};
use kube::api::{Api, DeleteParams, PostParams};
use roperator_testkit::ApiServer;
use serde_json::json;

async fn namespace(server: &ApiServer, name: &str) {
    let namespaces: Api<Namespace> = Api::all(server.client());
    let body = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    namespaces
        .create(&PostParams::default(), &body)
        .await
        .expect("create namespace");
}

#[tokio::test]
async fn a_new_namespace_gets_its_service_account_and_root_ca_bundle_which_the_tls_server_is_signed_by()
 {
    let server = ApiServer::new();
    let listening = server.listen_on(0, true).await.expect("listen with TLS");
    namespace(&server, "team").await;
    let accounts: Api<ServiceAccount> = Api::namespaced(server.client(), "team");
    let account = accounts
        .get("default")
        .await
        .expect("default service account");
    // A name only: no field for a manager to own.
    assert!(account.metadata.managed_fields.is_none());

    let config_maps: Api<ConfigMap> = Api::namespaced(server.client(), "team");
    let bundle = config_maps
        .get("kube-root-ca.crt")
        .await
        .expect("root CA bundle");
    let ca = bundle
        .data
        .as_ref()
        .and_then(|d| d.get("ca.crt"))
        .expect("ca.crt");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");
    // The bundle verifies the server, as it does in a pod of a real cluster.
    assert_eq!(Some(ca.as_str()), listening.ca_pem());
    assert!(
        bundle
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/description"))
            .is_some_and(|d| d.starts_with("Contains a CA bundle")),
    );
    let managers: Vec<String> = bundle
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| f.manager)
        .collect();
    assert_eq!(managers, ["kube-controller-manager"]);
}

#[tokio::test]
async fn what_the_controllers_keep_comes_back_when_deleted_but_not_in_a_terminating_namespace() {
    let server = ApiServer::new();
    namespace(&server, "team").await;
    let config_maps: Api<ConfigMap> = Api::namespaced(server.client(), "team");
    let before = config_maps.get("kube-root-ca.crt").await.expect("bundle");
    config_maps
        .delete("kube-root-ca.crt", &DeleteParams::default())
        .await
        .expect("delete");
    let after = config_maps
        .get("kube-root-ca.crt")
        .await
        .expect("published again");
    assert_ne!(before.metadata.uid, after.metadata.uid);

    let namespaces: Api<Namespace> = Api::all(server.client());
    namespaces
        .delete("team", &DeleteParams::default())
        .await
        .expect("delete namespace");
    assert!(server.object("v1", "Namespace", None, "team").is_none());
    assert!(server.objects("v1", "ConfigMap", Some("team")).is_empty());
    assert!(
        server
            .objects("v1", "ServiceAccount", Some("team"))
            .is_empty()
    );
}

#[tokio::test]
async fn default_holds_the_kubernetes_service_at_the_first_address_of_the_range() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::namespaced(server.client(), "default");
    let kubernetes = services
        .get("kubernetes")
        .await
        .expect("kubernetes service");
    let spec = kubernetes.spec.expect("spec");
    assert_eq!(spec.cluster_ip.as_deref(), Some("10.96.0.1"));
    assert_eq!(spec.type_.as_deref(), Some("ClusterIP"));
    let port = &spec.ports.expect("ports")[0];
    assert_eq!(
        (port.name.as_deref(), port.port, port.target_port.clone()),
        (
            Some("https"),
            443,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(6443))
        )
    );
    assert_eq!(
        kubernetes
            .metadata
            .labels
            .and_then(|l| l.get("component").cloned())
            .as_deref(),
        Some("apiserver")
    );
    // Nobody else gets that address.
    let taken = serde_json::from_value(json!({"metadata": {"name": "mine"},
        "spec": {"clusterIP": "10.96.0.1", "ports": [{"port": 80}]}}))
    .expect("service");
    let err = services
        .create(&PostParams::default(), &taken)
        .await
        .expect_err("address taken");
    assert!(
        matches!(&err, kube::Error::Api(s) if s.code == 422 && s.message.contains("provided IP is already allocated")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_pod_whose_service_account_does_not_exist_is_refused() {
    let server = ApiServer::new();
    let pods: Api<Pod> = Api::namespaced(server.client(), "default");
    let pod = |account: &str| -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"},
            "spec": {"serviceAccountName": account, "containers": [{"name": "c", "image": "busybox"}]}}))
        .expect("pod")
    };
    let err = pods
        .create(&PostParams::default(), &pod("robot"))
        .await
        .expect_err("no such account");
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (status.code, status.message.as_str()),
        (
            403,
            "pods \"p\" is forbidden: error looking up service account default/robot: serviceaccount \"robot\" not found"
        )
    );
    pods.create(&PostParams::default(), &pod("default"))
        .await
        .expect("the default account exists");
}
