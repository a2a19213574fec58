//! Object semantics: generation, status subresource, finalizers, errors for bad bodies.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use roperator_testkit::ApiServer;
use serde_json::json;

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}
            }
        }
    }))
    .expect("valid deployment")
}

#[tokio::test]
async fn generation_bumps_only_on_spec_changes() {
    let server = ApiServer::new();
    let deps: Api<Deployment> = Api::default_namespaced(server.client());
    let d = deps
        .create(&PostParams::default(), &deployment("web", 1))
        .await
        .expect("create");
    assert_eq!(d.metadata.generation, Some(1));
    let labelled = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})),
        )
        .await
        .expect("label");
    assert_eq!(labelled.metadata.generation, Some(1));
    let scaled = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("scale");
    assert_eq!(scaled.metadata.generation, Some(2));
    let status = deps
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"replicas": 3}})),
        )
        .await
        .expect("status");
    assert_eq!(status.metadata.generation, Some(2));
}

#[tokio::test]
async fn status_subresource_separates_spec_and_status_writes() {
    let server = ApiServer::new();
    let deps: Api<Deployment> = Api::default_namespaced(server.client());
    deps.create(&PostParams::default(), &deployment("web", 1))
        .await
        .expect("create");
    // A status write cannot change spec.
    let after = deps
        .patch_status(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 9}, "status": {"readyReplicas": 1}})),
        )
        .await
        .expect("status write");
    assert_eq!(after.spec.replicas, Some(1));
    assert_eq!(
        after.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
    // A main-resource write cannot change status.
    let after = deps
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 2}, "status": {"readyReplicas": 7}})),
        )
        .await
        .expect("main write");
    assert_eq!(after.spec.replicas, Some(2));
    assert_eq!(
        after.status.as_ref().and_then(|s| s.ready_replicas),
        Some(1)
    );
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let body: ConfigMap = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "finalizers": ["example.com/hold"]}
    }))
    .expect("cm");
    cms.create(&PostParams::default(), &body)
        .await
        .expect("create");
    let pending = cms
        .delete("held", &DeleteParams::default())
        .await
        .expect("delete");
    let obj = pending.left().expect("object still there");
    assert!(obj.metadata.deletion_timestamp.is_some());
    assert!(cms.get("held").await.is_ok());

    let err = api_err(
        cms.patch(
            "held",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"finalizers": ["example.com/hold", "example.com/new"]}}),
            ),
        )
        .await
        .expect_err("new finalizer refused"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("remove finalizer");
    let err = api_err(cms.get("held").await.expect_err("gone"));
    assert_eq!(err.code, 404);
}

/// Sends `body` as it is and returns the refusal's code and message.
async fn refusal(
    client: &kube::Client,
    method: http::Method,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body.to_vec())
        .expect("request");
    match client.request::<serde_json::Value>(req).await {
        Ok(v) => panic!("accepted: {v}"),
        Err(kube::Error::Api(s)) => (s.code, s.message),
        Err(other) => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bodies_that_do_not_decode_are_refused_in_the_decoders_words() {
    let server = ApiServer::new();
    let client = server.client();
    let post = |content_type: &'static str, body: &'static [u8]| {
        let client = client.clone();
        async move {
            refusal(
                &client,
                http::Method::POST,
                "/api/v1/namespaces/default/configmaps",
                content_type,
                body,
            )
            .await
        }
    };
    let json = "application/json";
    assert_eq!(
        post(json, br#"{"metadata":{"name":"x"},"data":"not-a-map"}"#).await,
        (400, "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal string into Go struct field ConfigMap.data of type map[string]string".into())
    );
    assert_eq!(
        post(json, br#"{"metadata":{"name":"x","labels":[]}}"#).await,
        (400, "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: json: cannot unmarshal array into Go struct field ObjectMeta.metadata.labels of type map[string]string".into())
    );
    assert_eq!(
        post(json, br#"{"metadata":{"name":"x"},"data":{"a":"1",}}"#).await,
        (400, "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: invalid character '}' looking for beginning of object key string ({\"metadata\":{\"name\":\"x\"},\"data ...)".into())
    );
    assert_eq!(
        post(json, b"").await,
        (400, "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: unexpected end of JSON input (<empty>)".into())
    );
    assert_eq!(
        post(json, b"[]").await,
        (400, "the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: json: cannot unmarshal array into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" } (5b5d)".into())
    );
    assert_eq!(
        post("text/plain", b"{}").await,
        (415, "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".into())
    );
    // YAML is read when the request says so, and only then.
    let deployments = "/apis/apps/v1/namespaces/default/deployments";
    let apps = |replicas: &'static [u8]| {
        let client = client.clone();
        async move { refusal(&client, http::Method::POST, deployments, json, replicas).await }
    };
    assert_eq!(
        apps(br#"{"metadata":{"name":"d"},"spec":{"replicas":1.5}}"#).await,
        (400, "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32".into())
    );
    let yaml =
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: \"1\"\n";
    let created: serde_json::Value = client
        .request(
            http::Request::post("/api/v1/namespaces/default/configmaps")
                .header("content-type", "application/yaml")
                .body(yaml.to_vec())
                .expect("request"),
        )
        .await
        .expect("YAML creates");
    assert_eq!(created["data"], json!({"a": "1"}));
    let (code, message) = post(json, yaml).await;
    assert_eq!(code, 400);
    assert!(
        message.ends_with("json parse error: invalid character 'a' looking for beginning of value (61706956657273696f6e3a2076310a6b696e643a20436f6e6669674d6170 ...)"),
        "{message}"
    );

    // A DeleteOptions body that does not decode is passed on as a plain error.
    assert_eq!(
        refusal(
            &client,
            http::Method::DELETE,
            "/api/v1/namespaces/default/configmaps/from-yaml",
            json,
            b"notjson",
        )
        .await,
        (
            500,
            "couldn't get version/kind; json parse error: invalid character 'o' in literal null (expecting 'u')".into()
        )
    );

    let (code, message) = refusal(
        &client,
        http::Method::PUT,
        "/api/v1/namespaces/default/configmaps/other",
        json,
        br#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}"#,
    )
    .await;
    assert_eq!(code, 400);
    assert!(
        message.contains("does not match the name on the URL"),
        "{message}"
    );
}

#[tokio::test]
async fn patch_bodies_that_do_not_decode_are_refused_in_the_patch_handlers_words() {
    let server = ApiServer::new();
    let client = server.client();
    let cms: Api<ConfigMap> = Api::default_namespaced(client.clone());
    cms.create(
        &PostParams::default(),
        &roperator_testkit::fixtures::configmap("p", []),
    )
    .await
    .expect("created");
    let patch = |content_type: &'static str, body: &'static [u8]| {
        let client = client.clone();
        async move {
            refusal(
                &client,
                http::Method::PATCH,
                "/api/v1/namespaces/default/configmaps/p",
                content_type,
                body,
            )
            .await
        }
    };
    let merge = "application/merge-patch+json";
    let json_patch = "application/json-patch+json";
    let strategic = "application/strategic-merge-patch+json";
    for (content_type, body, message) in [
        (
            merge,
            &b"{\"data\":"[..],
            "error decoding patch: unexpected end of JSON input",
        ),
        (
            merge,
            b"[]",
            "error decoding patch: json: cannot unmarshal array into Go value of type map[string]interface {}",
        ),
        (
            json_patch,
            b"{}",
            "error decoding patch: json: cannot unmarshal object into Go value of type []handlers.jsonPatchOp",
        ),
        (
            json_patch,
            b"[1]",
            "error decoding patch: json: cannot unmarshal number into Go value of type handlers.jsonPatchOp",
        ),
        (
            json_patch,
            b"[{\"op\":\"add\" \"path\":\"/data\"}]",
            "error decoding patch: invalid character '\"' after object key:value pair",
        ),
        (
            strategic,
            b"{\"data\":{\"a\":tru}}",
            "invalid character '}' in literal true (expecting 'e')",
        ),
        (
            strategic,
            b"\"x\"",
            "json: cannot unmarshal string into Go value of type map[string]interface {}",
        ),
    ] {
        assert_eq!(
            patch(content_type, body).await,
            (400, message.to_string()),
            "{content_type} {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn names_and_namespaces_are_checked() {
    let server = ApiServer::new();
    let bad: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "Not_Valid"}})).expect("cm");
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let err = api_err(
        cms.create(&PostParams::default(), &bad)
            .await
            .expect_err("invalid name"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));

    let elsewhere: Api<ConfigMap> = Api::namespaced(server.client(), "missing");
    let ok: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "fine"}})).expect("cm");
    let err = api_err(
        elsewhere
            .create(&PostParams::default(), &ok)
            .await
            .expect_err("no namespace"),
    );
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
    assert!(
        err.message.contains("namespaces \"missing\" not found"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn generate_name_appends_a_suffix() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let body: ConfigMap =
        serde_json::from_value(json!({"metadata": {"generateName": "job-"}})).expect("cm");
    let a = cms
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    let b = cms
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    let (a, b) = (
        a.metadata.name.unwrap_or_default(),
        b.metadata.name.unwrap_or_default(),
    );
    assert!(a.starts_with("job-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
    // A prefix a DNS label allows, but too long to take five more characters, is cut so
    // that the name stays a valid label.
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::default_namespaced(server.client());
    let long = "s".repeat(60);
    let body = serde_json::from_value(
        json!({"metadata": {"generateName": long}, "spec": {"ports": [{"port": 80}]}}),
    )
    .expect("service");
    let created = services
        .create(&PostParams::default(), &body)
        .await
        .expect("a long generateName still makes a valid name");
    let name = created.metadata.name.unwrap_or_default();
    assert_eq!(name.len(), 63, "{name}");
    assert!(name.starts_with(&"s".repeat(58)), "{name}");
}

#[tokio::test]
async fn the_storage_refuses_a_version_on_create_and_a_uid_that_is_not_the_object_s() {
    let server = ApiServer::new();
    let client = server.client();
    let create = |rv: &str| {
        let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("v{rv}"), "resourceVersion": rv}});
        let client = client.clone();
        async move {
            let req = http::Request::post("/api/v1/namespaces/default/configmaps")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("json"))
                .expect("request");
            match client.request::<serde_json::Value>(req).await {
                Ok(_) => None,
                Err(kube::Error::Api(s)) => Some(serde_json::to_value(&*s).expect("status")),
                Err(other) => panic!("{other:?}"),
            }
        }
    };
    let refused = create("123").await.expect("a version is refused");
    assert_eq!(
        refused,
        // No reason: a plain storage error (`StatusReasonUnknown`).
        json!({"metadata": {}, "status": "Failure",
            "message": "resourceVersion should not be set on objects to be created", "code": 500})
    );
    // What does not read as a positive number is no version to etcd.
    for rv in ["0", "-1", "abc"] {
        assert_eq!(create(rv).await, None, "{rv}");
    }

    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut live = cms.get("v0").await.expect("get");
    let uid = live.metadata.uid.clone().unwrap_or_default();
    live.metadata.uid = Some("abc".into());
    let err = api_err(
        cms.replace("v0", &PostParams::default(), &live)
            .await
            .expect_err("another uid"),
    );
    assert_eq!(
        (err.code, err.reason.as_str(), err.message),
        (
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on configmaps \"v0\": StorageError: invalid object, Code: 4, Key: /registry/configmaps/default/v0, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: abc, UID in object meta: {uid}"
            )
        )
    );
}

#[tokio::test]
async fn simulate_workloads_marks_deployments_available() {
    let server = ApiServer::new();
    server.simulate_workloads(true);
    let deps: Api<Deployment> = Api::default_namespaced(server.client());
    let d = deps
        .create(&PostParams::default(), &deployment("web", 3))
        .await
        .expect("create");
    let status = serde_json::to_value(d.status).expect("status");
    assert_eq!(status["availableReplicas"], 3);
    assert_eq!(status["readyReplicas"], 3);
    assert_eq!(status["observedGeneration"], 1);
    let conditions = status["conditions"].as_array().cloned().unwrap_or_default();
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Available" && c["status"] == "True"),
        "{conditions:?}"
    );
}

#[tokio::test]
async fn request_log_counts_writes() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    server.clear_requests();
    let body: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "a"}})).expect("cm");
    cms.create(&PostParams::default(), &body)
        .await
        .expect("create");
    cms.get("a").await.expect("get");
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .expect("patch");
    let log = server.requests();
    assert_eq!(log.writes().len(), 2);
    assert_eq!(
        log.count(|r| r.verb == "get" && r.name.as_deref() == Some("a")),
        1
    );
    let patch = log
        .records()
        .into_iter()
        .find(|r| r.verb == "patch")
        .expect("patch recorded");
    assert_eq!(patch.status, 200);
    assert_eq!(patch.resource, "configmaps");
    assert_eq!(
        patch.patch_type,
        Some(roperator_testkit::patch::PatchType::Merge)
    );
}

#[tokio::test]
async fn scale_subresource_reads_and_writes_replicas() {
    use k8s_openapi::api::autoscaling::v1::Scale;
    let server = ApiServer::new();
    let deps: Api<Deployment> = Api::default_namespaced(server.client());
    deps.create(&PostParams::default(), &deployment("web", 2))
        .await
        .expect("create");
    let scale: Scale = deps.get_scale("web").await.expect("get scale");
    assert_eq!(scale.spec.and_then(|s| s.replicas), Some(2));
    assert_eq!(
        scale.status.and_then(|s| s.selector).as_deref(),
        Some("app=web")
    );
    let scaled = deps
        .patch_scale(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await
        .expect("patch scale");
    assert_eq!(scaled.spec.and_then(|s| s.replicas), Some(5));
    let d = deps.get("web").await.expect("get");
    assert_eq!(d.spec.replicas, Some(5));
    assert_eq!(d.metadata.generation, Some(2));
    // The write is recorded against the subresource it came through.
    let scale_entry = d
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .find(|f| f.subresource.as_deref() == Some("scale"))
        .expect("an entry for the scale write");
    assert_eq!(
        scale_entry.fields_v1.map(|f| f.0),
        Some(json!({"f:spec": {"f:replicas": {}}}))
    );
}

/// An update without a resourceVersion overwrites the live object for built-ins whose strategy
/// allows unconditional updates (ConfigMap) and is refused for Leases and CRDs, whose
/// strategies do not; the error names the resource, as the generic store words it.
#[tokio::test]
async fn unconditional_update_follows_each_strategy() {
    use k8s_openapi::api::coordination::v1::Lease;
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(
        &PostParams::default(),
        &roperator_testkit::fixtures::configmap("settings", [("mode", "slow")]),
    )
    .await
    .expect("create configmap");
    let replaced = cms
        .replace(
            "settings",
            &PostParams::default(),
            &roperator_testkit::fixtures::configmap("settings", [("mode", "fast")]),
        )
        .await
        .expect("a ConfigMap allows an unconditional update");
    assert_eq!(
        replaced
            .data
            .as_ref()
            .and_then(|d| d.get("mode"))
            .map(String::as_str),
        Some("fast")
    );

    let leases: Api<Lease> = Api::default_namespaced(server.client());
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "leader"},
        "spec": {"holderIdentity": "a"}
    }))
    .expect("lease");
    leases
        .create(&PostParams::default(), &lease)
        .await
        .expect("create lease");
    let err = api_err(
        leases
            .replace("leader", &PostParams::default(), &lease)
            .await
            .expect_err("a Lease refuses an update without resourceVersion"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        err.message,
        "leases.coordination.k8s.io \"leader\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
    let details = err.details.expect("details");
    assert_eq!(details.kind, "leases");
}

/// An update of a missing object creates it (201) for the kinds whose strategy allows create
/// on update — Leases, Endpoints, Events, RBAC objects — and is a 404 for the others.
#[tokio::test]
async fn update_creates_missing_objects_where_the_strategy_allows_it() {
    use k8s_openapi::api::coordination::v1::Lease;
    use k8s_openapi::api::core::v1::Endpoints;
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
    let server = ApiServer::new();
    let leases: Api<Lease> = Api::default_namespaced(server.client());
    let lease: Lease = serde_json::from_value(json!({
        "metadata": {"name": "leader"}, "spec": {"holderIdentity": "a"}
    }))
    .expect("lease");
    let created = leases
        .replace("leader", &PostParams::default(), &lease)
        .await
        .expect("update creates the Lease");
    assert!(created.metadata.uid.is_some());
    assert_eq!(
        server
            .requests()
            .records()
            .last()
            .map(|r| (r.verb.as_str(), r.status)),
        Some(("update", 201))
    );
    let endpoints: Api<Endpoints> = Api::default_namespaced(server.client());
    let ep: Endpoints =
        serde_json::from_value(json!({"metadata": {"name": "web"}})).expect("endpoints");
    endpoints
        .replace("web", &PostParams::default(), &ep)
        .await
        .expect("update creates Endpoints");
    let roles: Api<Role> = Api::default_namespaced(server.client());
    let role: Role =
        serde_json::from_value(json!({"metadata": {"name": "reader"}, "rules": []})).expect("role");
    roles
        .replace("reader", &PostParams::default(), &role)
        .await
        .expect("update creates a Role");
    let cluster_roles: Api<ClusterRole> = Api::all(server.client());
    let cluster_role: ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "system:reader"}}))
            .expect("cluster role");
    cluster_roles
        .replace("system:reader", &PostParams::default(), &cluster_role)
        .await
        .expect("update creates a ClusterRole");

    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let err = api_err(
        cms.replace(
            "missing",
            &PostParams::default(),
            &roperator_testkit::fixtures::configmap("missing", []),
        )
        .await
        .expect_err("a ConfigMap is not created by an update"),
    );
    assert_eq!(err.code, 404);
}

/// A delete that removes the object at once answers with a Status for most stores and with the
/// deleted object for the ones upstream builds with `ReturnDeletedObject` (Pods,
/// ServiceAccounts, Services, PersistentVolumeClaims): kube-rs's `Api::delete` sees
/// `Right(Status)` and `Left(object)`.
#[tokio::test]
async fn immediate_delete_returns_what_each_store_returns() {
    use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Service, ServiceAccount};
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(
        &PostParams::default(),
        &roperator_testkit::fixtures::configmap("gone", []),
    )
    .await
    .expect("create");
    let deleted = cms
        .delete("gone", &DeleteParams::default())
        .await
        .expect("delete");
    let status = deleted
        .right()
        .expect("a ConfigMap delete answers with a Status");
    assert_eq!(status.details.map(|d| d.kind), Some("configmaps".into()));

    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]}
    }))
    .expect("pod");
    let created = pods
        .create(&PostParams::default(), &pod)
        .await
        .expect("create pod");
    let mut events = pods
        .watch(
            &kube::api::WatchParams::default().disable_bookmarks(),
            created.metadata.resource_version.as_deref().expect("rv"),
        )
        .await
        .expect("watch")
        .boxed();
    let deleted = pods
        .delete("p", &DeleteParams::default())
        .await
        .expect("delete pod");
    // A pod is deleted gracefully, with a zero period while no node runs it: the store stamps
    // the deletion (MODIFIED), then removes it (DELETED), and answers with its last state.
    let last = deleted.left().expect("a Pod delete answers with the Pod");
    assert_eq!(last.metadata.uid, created.metadata.uid);
    assert!(last.metadata.deletion_timestamp.is_some());
    assert_eq!(last.metadata.deletion_grace_period_seconds, Some(0));
    let mut seen = Vec::new();
    while let Some(Ok(event)) = events.next().await {
        match event {
            kube::api::WatchEvent::Modified(p) => {
                assert_eq!(p.metadata.deletion_grace_period_seconds, Some(0));
                seen.push("MODIFIED");
            }
            kube::api::WatchEvent::Deleted(p) => {
                assert!(p.metadata.deletion_timestamp.is_some());
                seen.push("DELETED");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seen, ["MODIFIED", "DELETED"]);

    let sas: Api<ServiceAccount> = Api::default_namespaced(server.client());
    let sa: ServiceAccount =
        serde_json::from_value(json!({"metadata": {"name": "robot"}})).expect("sa");
    sas.create(&PostParams::default(), &sa)
        .await
        .expect("create sa");
    let deleted = sas
        .delete("robot", &DeleteParams::default())
        .await
        .expect("delete sa");
    assert!(deleted.is_left(), "a ServiceAccount delete answers with it");

    let svcs: Api<Service> = Api::default_namespaced(server.client());
    let svc: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}]}
    }))
    .expect("service");
    let created = svcs
        .create(&PostParams::default(), &svc)
        .await
        .expect("create service");
    let deleted = svcs
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete service");
    let last = deleted
        .left()
        .expect("a Service delete answers with the Service");
    assert_eq!(last.metadata.uid, created.metadata.uid);

    let pvcs: Api<PersistentVolumeClaim> = Api::default_namespaced(server.client());
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}
    }))
    .expect("pvc");
    pvcs.create(&PostParams::default(), &pvc)
        .await
        .expect("create pvc");
    let deleted = pvcs
        .delete("data", &DeleteParams::default())
        .await
        .expect("delete pvc");
    assert!(
        deleted.is_left(),
        "a PersistentVolumeClaim delete answers with it"
    );
}

/// The Deployment strategy also bumps `generation` when annotations change (they are copied to
/// the ReplicaSets); the StatefulSet strategy, like the other apps/v1 ones, looks at the spec only.
#[tokio::test]
async fn deployment_generation_follows_annotations_too() {
    use k8s_openapi::api::apps::v1::StatefulSet;
    let server = ApiServer::new();
    let deps: Api<Deployment> = Api::default_namespaced(server.client());
    deps.create(&PostParams::default(), &deployment("web", 1))
        .await
        .expect("create");
    let annotate = Patch::Merge(json!({"metadata": {"annotations": {"team": "a"}}}));
    let annotated = deps
        .patch("web", &PatchParams::default(), &annotate)
        .await
        .expect("annotate");
    assert_eq!(annotated.metadata.generation, Some(2));
    let same = deps
        .patch("web", &PatchParams::default(), &annotate)
        .await
        .expect("same annotation again");
    assert_eq!(same.metadata.generation, Some(2), "no change, no bump");

    let sets: Api<StatefulSet> = Api::default_namespaced(server.client());
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {"containers": [{"name": "c", "image": "postgres"}]}
            }
        }
    }))
    .expect("statefulset");
    sets.create(&PostParams::default(), &sts)
        .await
        .expect("create statefulset");
    let annotated = sets
        .patch("db", &PatchParams::default(), &annotate)
        .await
        .expect("annotate statefulset");
    assert_eq!(annotated.metadata.generation, Some(1));
}

/// `metav1.Status` as the real server words it: several causes print as `[a, b]`, and
/// `details.group` is omitted (omitempty) for core types.
#[tokio::test]
async fn invalid_errors_bracket_several_causes_and_omit_the_core_group() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut cm = roperator_testkit::fixtures::configmap("labelled", []);
    cm.metadata.labels = Some(
        [("-bad".to_string(), "ok".to_string())]
            .into_iter()
            .collect(),
    );
    let one = api_err(
        cms.create(&PostParams::default(), &cm)
            .await
            .expect_err("a bad label key"),
    );
    assert!(
        one.message.starts_with(
            "ConfigMap \"labelled\" is invalid: metadata.labels: Invalid value: \"-bad\""
        ),
        "{}",
        one.message
    );
    // Straight to the service: kube's Status type would drop an empty group itself.
    {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = http::Request::builder()
            .uri("/api/v1/namespaces/default/configmaps/missing")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .expect("request");
        let resp = server.service().oneshot(req).await.expect("infallible");
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let status: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(status["details"]["kind"], "configmaps", "{status}");
        assert!(status["details"].get("group").is_none(), "{status}");
    }
    cm.metadata.labels = Some(
        [
            ("-bad".to_string(), "ok".to_string()),
            ("good".to_string(), "not ok".to_string()),
        ]
        .into_iter()
        .collect(),
    );
    let two = api_err(
        cms.create(&PostParams::default(), &cm)
            .await
            .expect_err("two bad labels"),
    );
    assert!(
        two.message
            .starts_with("ConfigMap \"labelled\" is invalid: [metadata.labels: ")
            && two.message.ends_with(']'),
        "{}",
        two.message
    );
}

#[tokio::test]
async fn a_body_of_another_type_is_what_the_decoder_cannot_convert() {
    let server = ApiServer::new();
    let client = server.client();
    let post = |body: serde_json::Value| {
        let client = client.clone();
        async move {
            let req = http::Request::post("/api/v1/namespaces/default/configmaps")
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("json"))
                .expect("request");
            match client.request::<serde_json::Value>(req).await {
                Ok(v) => panic!("accepted: {v}"),
                Err(kube::Error::Api(s)) => (s.code, s.message),
                Err(other) => panic!("{other:?}"),
            }
        }
    };
    assert_eq!(
        post(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})).await,
        (
            400,
            "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion".to_string()
        )
    );
    assert_eq!(
        post(json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "s"}})).await,
        (
            400,
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"apps/v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"".to_string()
        )
    );
}
