//! A write without `fieldManager` is recorded under the client's user agent, as on a real server.

use http_body_util::BodyExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use roperator_testkit::{ApiServer, fixtures};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(
    server: &ApiServer,
    method: &str,
    path: &str,
    content_type: &str,
    agent: &str,
    body: &Value,
) -> (u16, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("user-agent", agent)
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("request");
    let resp = server.service().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&bytes).expect("json body"))
}

fn managers(object: &Value) -> Vec<(String, String)> {
    object["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or("").to_string(),
                e["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn writes_without_a_field_manager_are_owned_by_the_user_agent_prefix() {
    let server = ApiServer::new();
    let path = "/api/v1/namespaces/default/configmaps";
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    let (status, created) = send(
        &server,
        "POST",
        path,
        "application/json",
        "my-operator/v1.2.3 (linux/amd64) kubernetes/abc",
        &cm,
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        managers(&created),
        [("my-operator".to_string(), "Update".to_string())]
    );

    let (status, patched) = send(
        &server,
        "PATCH",
        &format!("{path}/c"),
        "application/merge-patch+json",
        "other-tool/0.1",
        &json!({"data": {"b": "2"}}),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        managers(&patched),
        [
            ("my-operator".to_string(), "Update".to_string()),
            ("other-tool".to_string(), "Update".to_string())
        ]
    );

    // An explicit fieldManager wins; apply patches still must name one.
    let (status, named) = send(
        &server,
        "PATCH",
        &format!("{path}/c?fieldManager=named"),
        "application/merge-patch+json",
        "other-tool/0.1",
        &json!({"data": {"c": "3"}}),
    )
    .await;
    assert_eq!(status, 200, "{named}");
    assert!(managers(&named).contains(&("named".to_string(), "Update".to_string())));
    let (status, refused) = send(
        &server,
        "PATCH",
        &format!("{path}/c"),
        "application/apply-patch+yaml",
        "other-tool/0.1",
        &cm,
    )
    .await;
    // Upstream validates PatchOptions: 422 Invalid (not 400), with the field as the cause.
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["reason"], "Invalid");
    assert_eq!(
        refused["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    assert_eq!(refused["details"]["causes"][0]["field"], "fieldManager");
}

#[tokio::test]
async fn kube_client_writes_record_a_manager() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = cms
        .create(
            &PostParams::default(),
            &fixtures::configmap("k", [("a", "1")]),
        )
        .await
        .expect("create");
    let created = serde_json::to_value(&created).expect("json");
    // Without a user agent (kube::Client::new adds none) the manager is "unknown".
    let agent = server
        .requests()
        .records()
        .iter()
        .rev()
        .find(|r| r.verb == "create")
        .map(|r| r.user_agent.clone())
        .expect("logged");
    let expected = match agent.split('/').next() {
        Some(prefix) if !prefix.is_empty() => prefix.to_string(),
        _ => "unknown".to_string(),
    };
    assert_eq!(managers(&created), [(expected, "Update".to_string())]);
    let applied = cms
        .patch(
            "k",
            &PatchParams::apply("op"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"b": "2"}})),
        )
        .await
        .expect("apply");
    let applied = serde_json::to_value(&applied).expect("json");
    assert!(managers(&applied).contains(&("op".to_string(), "Apply".to_string())));
}
