//! `fieldValidation`: Strict refuses unknown fields, Warn (the default) drops them with a
//! `Warning` header, Ignore drops them silently — for built-ins and custom resources.

use http_body_util::BodyExt;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, Patch, PatchParams, ValidationDirective};
use roperator_testkit::ApiServer;
use serde_json::{Value, json};
use tower::ServiceExt;

fn deployment_with(extra: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "foo": extra,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "nginx", "imagee": "typo"}]}
            }
        }
    })
}

/// A request straight to the service, so the response headers are visible.
async fn send(
    server: &ApiServer,
    method: &str,
    path: &str,
    body: &Value,
) -> (u16, Vec<String>, Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(
            body.to_string(),
        )))
        .expect("request");
    let resp = server.service().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let warnings = resp
        .headers()
        .get_all(http::header::WARNING)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        warnings,
        serde_json::from_slice(&bytes).expect("json body"),
    )
}

const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

#[tokio::test]
async fn strict_refuses_unknown_fields_of_a_builtin() {
    let server = ApiServer::new();
    let (status, _, body) = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Strict"),
        &deployment_with(json!(1)),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "BadRequest");
    assert_eq!(
        body["message"],
        "Deployment in version \"v1\" cannot be handled as a Deployment: strict decoding error: unknown field \"spec.foo\", unknown field \"spec.template.spec.containers[0].imagee\""
    );
    assert!(
        server
            .object("apps/v1", "Deployment", Some("default"), "web")
            .is_none()
    );
}

#[tokio::test]
async fn warn_is_the_default_and_drops_unknown_fields_with_a_warning_header() {
    let server = ApiServer::new();
    let (status, warnings, body) =
        send(&server, "POST", DEPLOYMENTS, &deployment_with(json!(1))).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        warnings,
        [
            r#"299 - "unknown field \"spec.foo\"""#,
            r#"299 - "unknown field \"spec.template.spec.containers[0].imagee\"""#
        ]
    );
    let stored = server
        .object("apps/v1", "Deployment", Some("default"), "web")
        .expect("stored");
    assert!(stored["spec"].get("foo").is_none(), "{stored}");
    assert!(
        stored["spec"]["template"]["spec"]["containers"][0]
            .get("imagee")
            .is_none()
    );
    assert_eq!(body["spec"], stored["spec"]);
}

#[tokio::test]
async fn ignore_drops_unknown_fields_silently() {
    let server = ApiServer::new();
    let (status, warnings, body) = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Ignore"),
        &deployment_with(json!(1)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(body["spec"].get("foo").is_none());
    let (status, _, body) = send(
        &server,
        "POST",
        &format!("{DEPLOYMENTS}?fieldValidation=Sloppy"),
        &deployment_with(json!(1)),
    )
    .await;
    // The handler validates its options before it reads the object.
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Sloppy\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"",
        "{body}"
    );
}

#[tokio::test]
async fn strict_patches_through_kube_client_are_refused() {
    let server = ApiServer::new();
    let api: Api<Deployment> = Api::default_namespaced(server.client());
    let mut clean = deployment_with(json!(null));
    if let Some(spec) = clean["spec"].as_object_mut() {
        spec.remove("foo");
    }
    clean["spec"]["template"]["spec"]["containers"][0] = json!({"name": "app", "image": "nginx"});
    api.patch("web", &PatchParams::apply("op"), &Patch::Apply(&clean))
        .await
        .expect("apply");
    let strict = PatchParams {
        field_validation: Some(ValidationDirective::Strict),
        ..PatchParams::default()
    };
    let err = api
        .patch(
            "web",
            &strict,
            &Patch::Merge(json!({"spec": {"paused": true, "foo": 1}})),
        )
        .await
        .expect_err("refused");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}");
    };
    assert_eq!(status.code, 400);
    assert!(
        status
            .message
            .ends_with("strict decoding error: unknown field \"spec.foo\""),
        "{}",
        status.message
    );
    // The refused patch changed nothing; the same patch without Strict drops the field.
    let patched = api
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"paused": true, "foo": 1}})),
        )
        .await
        .expect("warn");
    let patched = serde_json::to_value(&patched).expect("json");
    assert_eq!(patched["spec"]["paused"], true);
    assert!(patched["spec"].get("foo").is_none());
}

#[tokio::test]
async fn custom_resources_are_checked_against_their_schema() {
    let server = ApiServer::new();
    server
        .register_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "echoes.example.com"},
            "spec": {
                "group": "example.com", "scope": "Namespaced",
                "names": {"plural": "echoes", "singular": "echo", "kind": "Echo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {
                            "message": {"type": "string"},
                            "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                        }}
                    }}}}]
            }
        }))
        .expect("crd");
    let path = "/apis/example.com/v1/namespaces/default/echoes";
    let echo = json!({"apiVersion": "example.com/v1", "kind": "Echo", "metadata": {"name": "e"},
        "spec": {"message": "hi", "colour": "red", "extra": {"anything": 1}}});
    let (status, _, body) = send(
        &server,
        "POST",
        &format!("{path}?fieldValidation=Strict"),
        &echo,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "Echo in version \"v1\" cannot be handled as a Echo: strict decoding error: unknown field \"spec.colour\""
    );
    let (status, warnings, body) = send(&server, "POST", path, &echo).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(warnings, [r#"299 - "unknown field \"spec.colour\"""#]);
    assert_eq!(
        body["spec"],
        json!({"message": "hi", "extra": {"anything": 1}})
    );
}

#[tokio::test]
async fn finalizer_names_are_refused_on_built_in_kinds_and_warned_about_on_custom_ones() {
    let server = ApiServer::new();
    let config_map = |finalizers: Value| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "f", "finalizers": finalizers}})
    };
    let configmaps = "/api/v1/namespaces/default/configmaps";
    let (status, _, body) =
        send(&server, "POST", configmaps, &config_map(json!(["noslash"]))).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(
        body["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "metadata.finalizers[0]",
            "message": "Invalid value: \"noslash\": name is neither a standard finalizer name nor is it fully qualified"}])
    );
    let (status, warnings, body) = send(
        &server,
        "POST",
        configmaps,
        &config_map(json!(["kubernetes", "example.com/cleanup"])),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert!(warnings.is_empty(), "{warnings:?}");

    server
        .register_crd(&json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}
        }))
        .expect("crd");
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "finalizers": ["noslash"]}});
    let (status, warnings, body) = send(
        &server,
        "POST",
        "/apis/example.com/v1/namespaces/default/widgets",
        &widget,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        warnings,
        [
            "299 - \"metadata.finalizers: \\\"noslash\\\": prefer a domain-qualified finalizer name including a path (/) to avoid accidental conflicts with other finalizer writers\""
        ]
    );
}
