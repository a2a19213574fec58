//! Discovery as kube-rs sees it, and the errors for paths and methods the server does not serve.

use kube::discovery::{Discovery, Scope};
use roperator_testkit::ApiServer;
use serde_json::Value;

async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: impl Into<Vec<u8>>,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.into())
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

/// A request sent through the in-process service, answered with its status, content type and
/// body as sent (kube-rs would turn a non-JSON error body into a reconstructed Status).
async fn send(server: &ApiServer, method: &str, path: &str) -> (u16, String, String) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let resp = server.service().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Paths under a group nothing serves fall through the real server's delegation chain to Go's
/// NotFound handler: a plain-text page, not a Status. Inside a built-in group (and under
/// `/api`) kube-apiserver's router answers a JSON Status with an empty `details`; inside a
/// CRD's group an unknown resource is passed down the chain to the plain page too.
#[tokio::test]
async fn unknown_groups_get_the_plain_not_found_page() {
    let server = ApiServer::new();
    for (method, path) in [
        ("GET", "/apis/nope.example.com/v1/widgets"),
        (
            "GET",
            "/apis/nope.example.com/v1/namespaces/default/widgets/w",
        ),
        ("POST", "/apis/nope.example.com/v1/widgets"),
        ("GET", "/apis/nope.example.com/v1"),
        ("GET", "/apis/nope.example.com"),
        ("GET", "/nope"),
    ] {
        let (code, content_type, body) = send(&server, method, path).await;
        assert_eq!(
            (code, content_type.as_str(), body.as_str()),
            (404, "text/plain; charset=utf-8", "404 page not found\n"),
            "{method} {path}"
        );
    }
    for path in [
        "/apis/apps/v1/widgets",
        "/apis/apps/v2/deployments",
        "/apis/apps/v2",
        "/api/v1/widgets",
        "/api/v1/configmaps/x",
    ] {
        let (code, content_type, body) = send(&server, "GET", path).await;
        assert_eq!(
            (code, content_type.as_str()),
            (404, "application/json"),
            "{path}"
        );
        let status: Value = serde_json::from_str(&body).expect("a Status");
        assert_eq!(
            status,
            serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "the server could not find the requested resource",
                "reason": "NotFound", "details": {}, "code": 404
            }),
            "{path}"
        );
    }

    server
        .register_crd(&serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "echoes.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "echoes", "singular": "echo", "kind": "Echo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))
        .expect("register");
    for path in [
        "/apis/example.com/v1/widgets",
        "/apis/example.com/v2/echoes",
        "/apis/example.com/v1/echoes/e",
    ] {
        let (code, content_type, _) = send(&server, "GET", path).await;
        assert_eq!(
            (code, content_type.as_str()),
            (404, "text/plain; charset=utf-8"),
            "{path}"
        );
    }
    let (code, content_type, body) = send(
        &server,
        "GET",
        "/apis/example.com/v1/namespaces/default/echoes/e/nope",
    )
    .await;
    assert_eq!((code, content_type.as_str()), (404, "application/json"));
    assert!(
        body.contains(r#""message":"echoes.example.com \"e\" not found""#),
        "{body}"
    );

    // kube-rs still reports a 404 API error for the plain page.
    let widgets: kube::Api<kube::api::DynamicObject> = kube::Api::default_namespaced_with(
        server.client(),
        &kube::api::ApiResource {
            group: "nope.example.com".into(),
            version: "v1".into(),
            api_version: "nope.example.com/v1".into(),
            kind: "Widget".into(),
            plural: "widgets".into(),
        },
    );
    match widgets.get("w").await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 404, "{s:?}"),
        other => panic!("expected a 404, got {other:?}"),
    }
}

/// The namespace storage has no CollectionDeleter: discovery and OpenAPI leave out
/// `deletecollection`, and a DELETE on the collection is go-restful's bare 405 (so the default
/// namespaces cannot be swept away with it).
#[tokio::test]
async fn namespaces_cannot_be_deleted_as_a_collection() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::{Api, DeleteParams, ListParams};
    let server = ApiServer::new();
    let client = server.client();
    let (_, list) = raw(&client, "GET", "/api/v1", "application/json", "").await;
    let verbs = |name: &str| -> Vec<String> {
        list["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| r["name"] == name)
            .and_then(|r| serde_json::from_value(r["verbs"].clone()).ok())
            .expect("verbs")
    };
    assert!(!verbs("namespaces").contains(&"deletecollection".to_string()));
    assert!(verbs("namespaces").contains(&"delete".to_string()));
    assert!(verbs("configmaps").contains(&"deletecollection".to_string()));
    let (_, openapi) = raw(&client, "GET", "/openapi/v2", "application/json", "").await;
    assert!(
        openapi["paths"]["/api/v1/namespaces"]
            .get("delete")
            .is_none()
    );
    assert!(
        openapi["paths"]["/api/v1/namespaces/{namespace}/configmaps"]
            .get("delete")
            .is_some()
    );

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let before = server.objects("v1", "Namespace", None).len();
    let err = namespaces
        .delete_collection(&DeleteParams::default(), &ListParams::default())
        .await
        .expect_err("no deletecollection on namespaces");
    let kube::Error::Api(status) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        serde_json::to_value(&*status).expect("json"),
        serde_json::json!({
            "status": "Failure",
            "message": "the server does not allow this method on the requested resource",
            "reason": "MethodNotAllowed", "details": {}, "code": 405,
            "metadata": {}
        })
    );
    for name in ["default", "kube-system", "kube-public"] {
        assert!(namespaces.get(name).await.is_ok(), "{name} is still there");
    }
    assert_eq!(server.objects("v1", "Namespace", None).len(), before);
}

#[tokio::test]
async fn unknown_paths_methods_and_media_types() {
    let server = ApiServer::new();
    let client = server.client();
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
    // go-restful refuses it before any handler runs.
    assert_eq!(
        (code, body["reason"].as_str(), body["message"].as_str()),
        (
            415,
            Some("UnsupportedMediaType"),
            Some("415: Unsupported Media Type")
        )
    );
    assert_eq!(body["details"], serde_json::json!({}));
    let (code, _) = raw(
        &client,
        "GET",
        "/api/v1/namespaces/default/configmaps/x/status",
        "application/json",
        "",
    )
    .await;
    assert_eq!(code, 404, "configmaps have no status subresource");
    // Media types are read case-insensitively, parameters aside (`mime.ParseMediaType`).
    let (code, body) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "Application/JSON; charset=UTF-8",
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cased"}}"#,
    )
    .await;
    assert_eq!(
        (code, &body["metadata"]["name"]),
        (200, &serde_json::json!("cased")),
        "{body}"
    );
}

/// A length-delimited protobuf field (tag `tag`, wire type 2).
fn field(tag: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![
        (tag << 3) | 2,
        u8::try_from(bytes.len()).expect("short field"),
    ];
    out.extend(bytes);
    out
}

/// `k8s\0`, then the runtime.Unknown envelope naming the type and holding `raw`.
fn protobuf_body(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
    [b"k8s\0".to_vec(), field(1, &type_meta), field(2, raw)].concat()
}

#[tokio::test]
async fn protobuf_bodies_are_read_and_unreadable_ones_refused_with_400() {
    let server = ApiServer::new();
    let client = server.client();
    // A ConfigMap named `pb` with data {a: b}.
    let config_map = [
        field(1, &field(1, b"pb")),
        field(2, &[field(1, b"a"), field(2, b"b")].concat()),
    ]
    .concat();
    let body = protobuf_body("v1", "ConfigMap", &config_map);
    let (code, created) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/vnd.kubernetes.protobuf",
        body,
    )
    .await;
    assert_eq!(code, 200, "{created}");
    assert_eq!(created["metadata"]["name"], "pb");
    assert_eq!(created["data"], serde_json::json!({"a": "b"}));

    let (code, body) = raw(
        &client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        "application/vnd.kubernetes.protobuf",
        "{\"not\": \"protobuf\"}",
    )
    .await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("k8s\\x00")),
        "{body}"
    );
}

#[tokio::test]
async fn protobuf_delete_options_and_scales_are_read_like_their_json() {
    let server = ApiServer::new();
    let client = server.client();
    server
        .load_yaml("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n")
        .expect("load");
    let path = "/api/v1/namespaces/default/configmaps/kept";
    // client-go sends the options under the client's group version; `gracePeriodSeconds: 0`
    // is written (a pointer) and must not read as unset.
    let options = |extra: &[u8]| {
        let mut raw = vec![0x08, 0x00]; // gracePeriodSeconds: 0
        raw.extend(extra);
        protobuf_body("v1", "DeleteOptions", &raw)
    };
    let stale = field(2, &field(2, b"1")); // preconditions { resourceVersion: "1" }
    let (code, body) = raw(
        &client,
        "DELETE",
        path,
        "application/vnd.kubernetes.protobuf",
        options(&stale),
    )
    .await;
    assert_eq!(code, 409, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("the ResourceVersion in the precondition (1)")),
        "{body}"
    );
    let dry_run = field(5, b"All");
    let (code, body) = raw(
        &client,
        "DELETE",
        path,
        "application/vnd.kubernetes.protobuf",
        options(&dry_run),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "kept")
            .is_some()
    );
    let foreground = field(4, b"Foreground");
    let (code, body) = raw(
        &client,
        "DELETE",
        path,
        "application/vnd.kubernetes.protobuf",
        options(&foreground),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["metadata"]["finalizers"],
        serde_json::json!(["foregroundDeletion"])
    );
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "kept")
            .is_none()
    );

    // The scale subresource takes an autoscaling/v1 Scale; zero replicas is a choice.
    server
        .load_yaml(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 3\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers: [{name: web, image: nginx}]\n",
        )
        .expect("load");
    let scale = [
        field(1, &[field(1, b"web"), field(3, b"default")].concat()),
        field(2, &[0x08, 0x00]), // spec { replicas: 0 }
    ]
    .concat();
    let (code, body) = raw(
        &client,
        "PUT",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
        "application/vnd.kubernetes.protobuf",
        protobuf_body("autoscaling/v1", "Scale", &scale),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["spec"]["replicas"], 0, "{body}");
    let deployment = server
        .object("apps/v1", "Deployment", Some("default"), "web")
        .expect("deployment");
    assert_eq!(deployment["spec"]["replicas"], 0);

    // Custom resources have no protobuf form.
    server
        .register_crd(&serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "echoes.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "echoes", "singular": "echo", "kind": "Echo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))
        .expect("register");
    let echo = field(1, &field(1, b"e"));
    let (code, body) = raw(
        &client,
        "POST",
        "/apis/example.com/v1/namespaces/default/echoes",
        "application/vnd.kubernetes.protobuf",
        protobuf_body("example.com/v1", "Echo", &echo),
    )
    .await;
    assert_eq!(
        (code, body["reason"].as_str(), body["message"].as_str()),
        (
            415,
            Some("UnsupportedMediaType"),
            Some(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"
            )
        )
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

/// Verbs a path has no route for are refused before anything is touched: a namespaced type's
/// cluster-wide path serves list and watch only, and `status` serves get, update and patch
/// (a DELETE there must not delete the object). Built-in paths get go-restful's bare 405; a
/// custom resource's subresource gets apiextensions' `NewMethodNotSupported`.
#[tokio::test]
async fn routes_only_the_verbs_a_path_serves() {
    let server = ApiServer::new();
    let client = server.client();
    server
        .load_yaml(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
        )
        .expect("load");
    let cm =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"default"}}"#;
    for (method, path, body) in [
        ("POST", "/api/v1/configmaps", cm),
        ("DELETE", "/api/v1/configmaps", ""),
        ("DELETE", "/api/v1/namespaces/default/pods/p/status", ""),
        ("POST", "/api/v1/namespaces/default/pods/p/status", "{}"),
    ] {
        let (code, status) = raw(&client, method, path, "application/json", body).await;
        assert_eq!(
            (code, status["message"].as_str(), &status["details"]),
            (
                405,
                Some("the server does not allow this method on the requested resource"),
                &serde_json::json!({})
            ),
            "{method} {path}"
        );
    }
    assert!(server.object("v1", "Pod", Some("default"), "p").is_some());
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "c")
            .is_none()
    );

    server
        .register_crd(&serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "echoes.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"plural": "echoes", "singular": "echo", "kind": "Echo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}},
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]
            }
        }))
        .expect("register");
    server
        .load_yaml("apiVersion: example.com/v1\nkind: Echo\nmetadata:\n  name: e\n")
        .expect("load echo");
    let (code, status) = raw(
        &client,
        "DELETE",
        "/apis/example.com/v1/namespaces/default/echoes/e/status",
        "application/json",
        "",
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            405,
            Some(r#"delete is not supported on resources of kind "echoes.example.com""#)
        )
    );
    assert!(
        server
            .object("example.com/v1", "Echo", Some("default"), "e")
            .is_some()
    );
}

const RECORDED_DISCOVERY: &str = include_str!("data/discovery.json");

async fn get_json(client: &kube::Client, path: &str) -> Value {
    let req = http::Request::get(path).body(Vec::new()).expect("request");
    client.request::<Value>(req).await.expect(path)
}

/// Every resource the testkit serves is listed as the real server lists it (names, verbs, short
/// names, categories, storage version hashes, subresources), in the same order, and the groups
/// come in the real server's order.
#[tokio::test]
async fn discovery_documents_match_a_real_server() {
    let server = ApiServer::new();
    let client = server.client();
    // The recording's one CRD: the echo-server's (deploy/crd.yaml), as far as discovery sees it.
    let crd = serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "echoservers.examples.roperator.io"},
        "spec": {"group": "examples.roperator.io", "scope": "Namespaced",
            "names": {"plural": "echoservers", "singular": "echoserver", "kind": "EchoServer",
                "shortNames": ["echo"]},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object",
                    "x-kubernetes-preserve-unknown-fields": true}}}]}
    });
    let crds: kube::Api<
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    > = kube::Api::all(client.clone());
    crds.create(
        &Default::default(),
        &serde_json::from_value(crd).expect("crd"),
    )
    .await
    .expect("create CRD");
    let recorded: serde_json::Map<String, Value> =
        serde_json::from_str(RECORDED_DISCOVERY).expect("recorded discovery");
    let ours = get_json(&client, "/apis").await;
    let our_groups: Vec<&str> = ours["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    let real_groups: Vec<&str> = recorded["/apis"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["name"].as_str())
        .filter(|g| our_groups.contains(g))
        .collect();
    assert_eq!(our_groups, real_groups, "group order");
    let mut compared = 0;
    for (path, real) in &recorded {
        if !(path == "/api/v1" || path.matches('/').count() == 3) {
            continue;
        }
        let Ok(ours) = client
            .request::<Value>(
                http::Request::get(path.as_str())
                    .body(Vec::new())
                    .expect("req"),
            )
            .await
        else {
            continue; // a group-version the testkit does not serve
        };
        let real_resources = real["resources"].as_array().expect("resources");
        let mut order = Vec::new();
        for resource in ours["resources"].as_array().expect("resources") {
            let name = resource["name"].as_str().expect("name");
            let recorded = real_resources
                .iter()
                .position(|r| r["name"] == name)
                .unwrap_or_else(|| panic!("{path}: {name} is not served by a real server"));
            assert_eq!(resource, &real_resources[recorded], "{path} {name}");
            order.push(recorded);
            compared += 1;
        }
        assert!(order.is_sorted(), "{path}: resources out of the real order");
        for key in ["kind", "apiVersion", "groupVersion"] {
            assert_eq!(ours.get(key), real.get(key), "{path} {key}");
        }
    }
    assert!(compared > 50, "only {compared} resources compared");
}
