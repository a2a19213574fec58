//! What a real server refuses, refused the same way (code, reason, message, field) through
//! `kube::Client`: metadata limits and syntax, data sizes, immutability, name rules, the request
//! size limit; and the details of the Status bodies around them.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::core::Status;
use roperator_testkit::ApiServer;
use serde_json::{Value, json};

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn config_map(v: Value) -> ConfigMap {
    serde_json::from_value(v).expect("config map")
}

async fn refused(api: &Api<ConfigMap>, body: Value) -> Status {
    api.create(&PostParams::default(), &config_map(body))
        .await
        .map_err(api_err)
        .expect_err("refused")
}

fn causes(status: &Status) -> Vec<(String, String, String)> {
    status
        .details
        .as_ref()
        .map(|d| {
            d.causes
                .iter()
                .map(|c| (c.reason.clone(), c.field.clone(), c.message.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn annotations_over_256_kib_are_refused() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    // Keys count: 1 + 262143 bytes is exactly the limit.
    let ok = json!({"metadata": {"name": "ok", "annotations": {"k": "x".repeat(262_143)}}});
    cms.create(&PostParams::default(), &config_map(ok))
        .await
        .expect("at the limit");
    let err = refused(
        &cms,
        json!({"metadata": {"name": "big", "annotations": {"k": "x".repeat(262_144)}}}),
    )
    .await;
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert_eq!(
        err.message,
        "ConfigMap \"big\" is invalid: metadata.annotations: Too long: must have at most 262144 bytes"
    );
    assert_eq!(
        causes(&err),
        [(
            "FieldValueTooLong".to_string(),
            "metadata.annotations".to_string(),
            "Too long: must have at most 262144 bytes".to_string()
        )]
    );
    // Growing an existing object past the limit is refused as well.
    let err = cms
        .patch(
            "ok",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"more": "y"}}})),
        )
        .await
        .map_err(api_err)
        .expect_err("update over the limit");
    assert_eq!(err.code, 422);
}

#[tokio::test]
async fn label_keys_and_values_follow_the_qualified_name_rules() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let err = refused(
        &cms,
        json!({"metadata": {"name": "l", "labels": {"bad key": "ok", "k": "x".repeat(64)}}}),
    )
    .await;
    assert_eq!(err.code, 422);
    let found = causes(&err);
    assert!(
        found.iter().all(|(_, field, _)| field == "metadata.labels"),
        "{found:?}"
    );
    assert!(
        found.iter().any(|(_, _, m)| m.starts_with(
            "Invalid value: \"bad key\": name part must consist of alphanumeric characters"
        )),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(_, _, m)| m.ends_with(": must be no more than 63 characters")),
        "{found:?}"
    );
    cms.create(
        &PostParams::default(),
        &config_map(json!({"metadata": {"name": "fine",
            "labels": {"app.kubernetes.io/name": "web_1", "empty": ""}}})),
    )
    .await
    .expect("valid labels");
}

#[tokio::test]
async fn config_map_and_secret_data_are_limited_to_one_mebibyte() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(
        &PostParams::default(),
        &config_map(json!({"metadata": {"name": "full"}, "data": {"k": "x".repeat(1_048_576)}})),
    )
    .await
    .expect("exactly 1 MiB");
    let err = refused(
        &cms,
        json!({"metadata": {"name": "over"}, "data": {"a": "x".repeat(1_048_576), "b": "y"}}),
    )
    .await;
    assert_eq!(
        err.message,
        "ConfigMap \"over\" is invalid: : Too long: must have at most 1048576 bytes"
    );
    assert_eq!(causes(&err)[0].0, "FieldValueTooLong");
    assert_eq!(
        causes(&err)[0].1,
        "",
        "upstream reports it on the whole object"
    );

    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "s"},
        "stringData": {"k": "x".repeat(1_048_577)}}))
    .expect("secret");
    let err = secrets
        .create(&PostParams::default(), &secret)
        .await
        .map_err(api_err)
        .expect_err("over");
    assert_eq!(
        err.message,
        "Secret \"s\" is invalid: data: Too long: must have at most 1048576 bytes"
    );
}

#[tokio::test]
async fn owner_references_need_a_uid() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let err = refused(
        &cms,
        json!({"metadata": {"name": "child", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": ""}]}}),
    )
    .await;
    assert_eq!(
        err.message,
        "ConfigMap \"child\" is invalid: metadata.ownerReferences.uid: Invalid value: \"\": uid must not be empty"
    );
}

#[tokio::test]
async fn immutable_config_maps_and_secrets_keep_their_data() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(
        &PostParams::default(),
        &config_map(json!({"metadata": {"name": "frozen"}, "immutable": true, "data": {"k": "v"}})),
    )
    .await
    .expect("create");
    let err = cms
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"k": "w"}})),
        )
        .await
        .map_err(api_err)
        .expect_err("immutable");
    assert_eq!(
        err.message,
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    cms.patch(
        "frozen",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"still": "editable"}}})),
    )
    .await
    .expect("metadata may change");

    let secrets: Api<Secret> = Api::default_namespaced(server.client());
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "frozen"}, "immutable": true, "stringData": {"k": "v"}}),
    )
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create");
    let err = secrets
        .patch(
            "frozen",
            &PatchParams::default(),
            &Patch::Merge(json!({"immutable": false, "type": "example.com/custom"})),
        )
        .await
        .map_err(api_err)
        .expect_err("immutable");
    let fields: Vec<String> = causes(&err).into_iter().map(|c| c.1).collect();
    assert_eq!(fields, ["type", "immutable"]);
}

#[tokio::test]
async fn names_follow_each_kind_rule() {
    let server = ApiServer::new();
    let services: Api<Service> = Api::default_namespaced(server.client());
    let svc: Service = serde_json::from_value(
        json!({"metadata": {"name": "1st"}, "spec": {"ports": [{"port": 80}]}}),
    )
    .expect("service");
    let err = services
        .create(&PostParams::default(), &svc)
        .await
        .map_err(api_err)
        .expect_err("a Service name is a DNS-1035 label");
    assert_eq!(causes(&err)[0].1, "metadata.name");
    assert!(
        err.message.contains("a DNS-1035 label must consist of"),
        "{}",
        err.message
    );
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(
        &PostParams::default(),
        &config_map(json!({"metadata": {"name": "1st.config"}})),
    )
    .await
    .expect("a ConfigMap name is a DNS subdomain");
    let namespaces: Api<Namespace> = Api::all(server.client());
    let ns: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "a.b"}})).expect("namespace");
    let err = namespaces
        .create(&PostParams::default(), &ns)
        .await
        .map_err(api_err)
        .expect_err("a Namespace name is a DNS label");
    assert!(
        err.message.contains("a lowercase RFC 1123 label"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn bodies_over_three_mebibytes_are_refused_before_decoding() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let err = refused(
        &cms,
        json!({"metadata": {"name": "huge"}, "data": {"k": "x".repeat(3 * 1024 * 1024)}}),
    )
    .await;
    assert_eq!(
        (err.code, err.reason.as_str()),
        (413, "RequestEntityTooLarge")
    );
    assert_eq!(err.message, "Request entity too large: limit is 3145728");
    assert!(err.details.is_none());
}

#[tokio::test]
async fn a_terminating_namespace_refuses_new_objects_with_the_admission_details() {
    let server = ApiServer::new();
    server
        .load_yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: going\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: going\n  finalizers: [example.com/hold]\n")
        .expect("fixtures");
    let namespaces: Api<Namespace> = Api::all(server.client());
    namespaces
        .delete("going", &DeleteParams::default())
        .await
        .expect("delete");
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "going");
    let err = refused(&cms, json!({"metadata": {"name": "late"}})).await;
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        err.message,
        "configmaps \"late\" is forbidden: unable to create new content in namespace going because it is being terminated"
    );
    let details = err.details.expect("details");
    assert_eq!(
        (details.name.as_str(), details.kind.as_str()),
        ("late", "configmaps")
    );
    assert_eq!(
        causes(&Status {
            details: Some(details),
            ..Status::default()
        }),
        [(
            "NamespaceTerminating".to_string(),
            "metadata.namespace".to_string(),
            "namespace going is being terminated".to_string()
        )]
    );
}

#[tokio::test]
async fn a_failed_delete_precondition_names_the_kind() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = cms
        .create(
            &PostParams::default(),
            &config_map(json!({"metadata": {"name": "a"}})),
        )
        .await
        .expect("create");
    let params = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("0000".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let err = cms
        .delete("a", &params)
        .await
        .map_err(api_err)
        .expect_err("wrong uid");
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        format!(
            "Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (0000) does not match the UID in record ({}). The object might have been deleted and then recreated",
            created.metadata.uid.unwrap()
        )
    );
    let details = err.details.expect("details");
    assert_eq!(
        (details.kind.as_str(), details.name.as_str()),
        ("ConfigMap", "a")
    );
}

#[tokio::test]
async fn an_apply_conflict_carries_only_its_causes() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let body = |value: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "shared"}, "data": {"k": value}})
    };
    cms.patch(
        "shared",
        &PatchParams::apply("one"),
        &Patch::Apply(body("1")),
    )
    .await
    .expect("first manager");
    let err = cms
        .patch(
            "shared",
            &PatchParams::apply("two"),
            &Patch::Apply(body("2")),
        )
        .await
        .map_err(api_err)
        .expect_err("conflict");
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    let details = err.details.expect("details");
    assert_eq!((details.name.as_str(), details.kind.as_str()), ("", ""));
    assert_eq!(details.causes[0].reason, "FieldManagerConflict");
    assert_eq!(details.causes[0].field, ".data.k");
}

/// Creates `body` at `path` and returns the refusal's message.
async fn refusal_message(server: &ApiServer, path: &str, body: Value) -> String {
    let req = http::Request::post(path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("json"))
        .expect("request");
    let status = server
        .client()
        .request::<Value>(req)
        .await
        .map_err(api_err)
        .expect_err("refused");
    assert_eq!((status.code, status.reason.as_str()), (422, "Invalid"));
    status.message
}

#[tokio::test]
async fn pods_and_pod_templates_need_named_containers_with_images_and_the_right_restart_policy() {
    let server = ApiServer::new();
    let pods = "/api/v1/namespaces/default/pods";
    assert_eq!(
        refusal_message(
            &server,
            pods,
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"}, "spec": {"containers": []}})
        )
        .await,
        "Pod \"p\" is invalid: spec.containers: Required value"
    );
    assert_eq!(
        refusal_message(
            &server,
            pods,
            json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p"}, "spec": {"containers": [
                {"name": "a", "image": "x"}, {"name": "a"}]}})
        )
        .await,
        "Pod \"p\" is invalid: [spec.containers[1].name: Duplicate value: \"a\", spec.containers[1].image: Required value]"
    );
    let deployment = |replicas: i64, restart: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}},
                    "spec": {"restartPolicy": restart,
                        "containers": [{"name": "c", "image": "nginx"}]}}}})
    };
    assert_eq!(
        refusal_message(
            &server,
            "/apis/apps/v1/namespaces/default/deployments",
            deployment(-1, "Never")
        )
        .await,
        "Deployment.apps \"d\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"]"
    );
    // A Job's template restarts Always by default, which a Job cannot run.
    assert_eq!(
        refusal_message(
            &server,
            "/apis/batch/v1/namespaces/default/jobs",
            json!({
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})
        )
        .await,
        "Job.batch \"j\" is invalid: spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\""
    );
    // A StatefulSet's name becomes its pods' hostnames: a DNS label.
    let message = refusal_message(
        &server,
        "/apis/apps/v1/namespaces/default/statefulsets",
        json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "a.b"},
        "spec": {"selector": {"matchLabels": {"app": "s"}},
            "template": {"metadata": {"labels": {"app": "s"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}),
    )
    .await;
    assert!(
        message.starts_with("StatefulSet.apps \"a.b\" is invalid: metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label"),
        "{message}"
    );
}
