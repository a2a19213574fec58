//! Discovery as kube-rs sees it, and the errors for paths and methods the server does not serve.

use kube::discovery::{Discovery, Scope};
use roperator_testkit::ApiServer;
use serde_json::Value;

async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.as_bytes().to_vec())
        .expect("request");
    match client.request::<Value>(req).await {
        Ok(v) => (200, v),
        Err(kube::Error::Api(s)) => (s.code, serde_json::to_value(&*s).expect("status json")),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn every_builtin_kind_is_discoverable() {
    let server = ApiServer::new();
    let client = server.client();
    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(version.major, "1");
    let discovery = Discovery::new(client).run().await.expect("discovery");
    let kinds: Vec<(String, String, bool)> = discovery
        .groups()
        .flat_map(|g| g.resources_by_stability())
        .map(|(r, caps)| {
            (
                r.api_version.clone(),
                r.kind.clone(),
                caps.scope == Scope::Namespaced,
            )
        })
        .collect();
    let want = [
        ("v1", "Namespace", false),
        ("v1", "Pod", true),
        ("v1", "Service", true),
        ("v1", "Endpoints", true),
        ("v1", "ConfigMap", true),
        ("v1", "Secret", true),
        ("v1", "ServiceAccount", true),
        ("v1", "Event", true),
        ("v1", "PersistentVolumeClaim", true),
        ("events.k8s.io/v1", "Event", true),
        ("apps/v1", "Deployment", true),
        ("apps/v1", "ReplicaSet", true),
        ("apps/v1", "StatefulSet", true),
        ("apps/v1", "DaemonSet", true),
        ("batch/v1", "Job", true),
        ("batch/v1", "CronJob", true),
        ("networking.k8s.io/v1", "Ingress", true),
        ("networking.k8s.io/v1", "NetworkPolicy", true),
        ("policy/v1", "PodDisruptionBudget", true),
        ("rbac.authorization.k8s.io/v1", "Role", true),
        ("rbac.authorization.k8s.io/v1", "RoleBinding", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", false),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", false),
        ("coordination.k8s.io/v1", "Lease", true),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", false),
    ];
    for (av, kind, namespaced) in want {
        assert!(
            kinds
                .iter()
                .any(|(a, k, n)| a == av && k == kind && *n == namespaced),
            "{av} {kind} (namespaced: {namespaced}) missing"
        );
    }
}

#[tokio::test]
async fn resource_lists_name_subresources_and_short_names() {
    let server = ApiServer::new();
    let client = server.client();
    let (_, list) = raw(&client, "GET", "/api/v1", "application/json", "").await;
    let resources = list["resources"].as_array().expect("resources");
    let pods_status = resources
        .iter()
        .find(|r| r["name"] == "pods/status")
        .expect("pods/status");
    assert_eq!(pods_status["kind"], "Pod");
    let cms = resources
        .iter()
        .find(|r| r["name"] == "configmaps")
        .expect("configmaps");
    assert_eq!(cms["shortNames"][0], "cm");
    assert_eq!(cms["singularName"], "configmap");
    assert!(
        cms["verbs"]
            .as_array()
            .is_some_and(|v| v.iter().any(|x| x == "watch"))
    );
}

#[tokio::test]
async fn unknown_paths_methods_and_media_types() {
    let server = ApiServer::new();
    let client = server.client();
    let (code, body) = raw(
        &client,
        "GET",
        "/apis/nope.example.com/v1/things",
        "application/json",
        "",
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (404, Some("NotFound")));
    let (code, body) = raw(
        &client,
        "PUT",
        "/api/v1/namespaces/default/configmaps",
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
        .expect("load");
    let (code, body) = raw(
        &client,
        "PATCH",
        "/api/v1/namespaces/default/configmaps/x",
        "text/plain",
        "{}",
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/x/status",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404, "configmaps have no status subresource");
}

#[tokio::test]
async fn protobuf_bodies_are_refused_with_415() {
    let server = ApiServer::new();
    let client = server.client();
    let (code, body) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/vnd.kubernetes.protobuf",
        "k8s\0",
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str()),
        (415, Some("UnsupportedMediaType"))
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("protobuf")),
        "{body}"
    );
}

#[tokio::test]
async fn openapi_documents_are_json_only_and_protobuf_only_requests_get_406() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let server = ApiServer::new();
    let get = |path: &'static str, accept: Option<&'static str>| {
        let service = server.service();
        async move {
            let mut req = http::Request::builder().method("GET").uri(path);
            if let Some(a) = accept {
                req = req.header("accept", a);
            }
            let req = req
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .expect("request");
            let resp = service.oneshot(req).await.expect("infallible");
            let status = resp.status().as_u16();
            let body = resp.into_body().collect().await.expect("body").to_bytes();
            (status, body)
        }
    };
    let pb = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    let (status, body) = get("/openapi/v2", Some(pb)).await;
    assert_eq!((status, body.len()), (406, 0));
    let (status, _) = get(
        "/openapi/v3/apis/apps/v1",
        Some("application/com.github.proto-openapi.spec.v3@v1.0+protobuf"),
    )
    .await;
    assert_eq!(status, 406);
    for accept in [
        None,
        Some("application/json"),
        Some("*/*"),
        Some("application/com.github.proto-openapi.spec.v2@v1.0+protobuf, application/json;q=0.9"),
    ] {
        let (status, body) = get("/openapi/v2", accept).await;
        assert_eq!(status, 200, "{accept:?}");
        let doc: Value = serde_json::from_slice(&body).expect("JSON document");
        assert_eq!(doc["swagger"], "2.0", "{accept:?}");
    }
}
