//! Strategic merge patch, server-side apply, managed fields, CRD schema validation and the
//! OpenAPI documents, through `kube::Client` against the in-process server.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::core::Status;
use roperator_testkit::ApiServer;
use serde_json::{Value, json};

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn deployment() -> Deployment {
    serde_json::from_value(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1", "env": [{"name": "A", "value": "1"}],
                     "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                    {"name": "sidecar", "image": "busybox"}
                ]}
            }
        }
    }))
    .expect("deployment")
}

fn managed(object: &impl serde::Serialize) -> Vec<Value> {
    let value = serde_json::to_value(object).expect("serializes");
    value["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn strategic_merge_patch_through_kube_merges_containers_env_and_ports() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    deployments
        .create(&PostParams::default(), &deployment())
        .await
        .expect("create");
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": "app",
        "env": [{"name": "B", "value": "2"}],
        "ports": [{"containerPort": 443, "protocol": "TCP"}]
    }]}}}});
    let patched = deployments
        .patch("web", &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("strategic patch");
    let spec = patched.spec.template.spec.expect("pod spec");
    assert_eq!(spec.containers.len(), 2, "sidecar kept");
    let app = &spec.containers[0];
    let env: Vec<&str> = app.env.iter().flatten().map(|e| e.name.as_str()).collect();
    // As upstream orders a merged list: an item the live list does not have goes before the
    // live items that the patch does not name.
    assert_eq!(env, ["B", "A"]);
    let ports: Vec<i32> = app
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port)
        .collect();
    assert_eq!(ports, [443, 80]);
}

#[tokio::test]
async fn server_side_apply_creates_conflicts_and_forces() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let config = |value: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"},
               "data": {"mode": value}})
    };
    let created = cms
        .patch(
            "settings",
            &PatchParams::apply("alice"),
            &Patch::Apply(config("fast")),
        )
        .await
        .expect("apply creates");
    assert_eq!(
        managed(&created)[0]["fieldsV1"],
        json!({"f:data": {"f:mode": {}}})
    );

    let err = api_err(
        cms.patch(
            "settings",
            &PatchParams::apply("bob"),
            &Patch::Apply(config("slow")),
        )
        .await
        .expect_err("conflict"),
    );
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert!(
        err.message.contains("conflict with \"alice\""),
        "{}",
        err.message
    );
    assert!(err.message.contains(".data.mode"), "{}", err.message);

    let forced = cms
        .patch(
            "settings",
            &PatchParams::apply("bob").force(),
            &Patch::Apply(config("slow")),
        )
        .await
        .expect("forced");
    assert_eq!(
        forced.data.and_then(|d| d.get("mode").cloned()).as_deref(),
        Some("slow")
    );
    let managers: Vec<String> = managed(&cms.get("settings").await.expect("get"))
        .iter()
        .filter_map(|e| e["manager"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        managers,
        ["bob"],
        "alice owned nothing else and her entry is gone"
    );
}

#[tokio::test]
async fn non_apply_writes_record_update_owners_that_later_applies_conflict_with() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let cm: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "c"}, "data": {"owned": "by-creator"}
    }))
    .expect("cm");
    let created = cms
        .create(
            &PostParams {
                field_manager: Some("creator".into()),
                ..PostParams::default()
            },
            &cm,
        )
        .await
        .expect("create");
    let entries = managed(&created);
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["manager"], "creator");
    assert_eq!(entries[0]["operation"], "Update");

    let err = api_err(
        cms.patch(
            "c",
            &PatchParams::apply("applier"),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                                  "data": {"owned": "by-applier"}}),
            ),
        )
        .await
        .expect_err("conflict with the creator"),
    );
    assert_eq!(err.code, 409);
    assert!(err.message.contains("\"creator\""), "{}", err.message);
}

#[tokio::test]
async fn server_side_apply_on_the_status_subresource_owns_only_status() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    deployments
        .patch(
            "web",
            &PatchParams::apply("owner"),
            &Patch::Apply(serde_json::to_value(deployment()).expect("json")),
        )
        .await
        .expect("created by apply");
    let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                        "status": {"replicas": 1, "readyReplicas": 1}});
    let out = deployments
        .patch_status(
            "web",
            &PatchParams::apply("controller"),
            &Patch::Apply(status),
        )
        .await
        .expect("status applied");
    assert_eq!(out.status.and_then(|s| s.ready_replicas), Some(1));
    let entries = managed(&deployments.get("web").await.expect("get"));
    let controller = entries
        .iter()
        .find(|e| e["manager"] == "controller")
        .expect("controller entry");
    assert_eq!(controller["subresource"], "status");
    assert_eq!(
        controller["fieldsV1"],
        json!({"f:status": {"f:readyReplicas": {}, "f:replicas": {}}})
    );
}

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "required": ["size"], "properties": {
                            "size": {"type": "integer"},
                            "color": {"type": "string", "default": "red"},
                            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"}
                        }}
                    }
                }}
            }]
        }
    }))
    .expect("crd")
}

fn widgets(server: &ApiServer) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Widget"),
        "widgets",
    );
    Api::namespaced_with(server.client(), "default", &resource)
}

fn widget(spec: Value) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w"}, "spec": spec}))
    .expect("widget")
}

#[tokio::test]
async fn custom_objects_are_pruned_defaulted_and_validated_with_field_causes() {
    let server = ApiServer::new();
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("crd");
    let api = widgets(&server);

    let err = api_err(
        api.create(&PostParams::default(), &widget(json!({"size": "big"})))
            .await
            .expect_err("wrong type"),
    );
    assert_eq!(err.code, 422);
    assert_eq!(err.reason, "Invalid");
    let causes = err.details.expect("details").causes;
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "spec.size");
    assert_eq!(causes[0].reason, "FieldValueTypeInvalid");
    assert_eq!(
        causes[0].message,
        "Invalid value: \"string\": spec.size in body must be of type integer: \"string\""
    );

    let err = api_err(
        api.create(&PostParams::default(), &widget(json!({"color": "blue"})))
            .await
            .expect_err("missing required"),
    );
    let causes = err.details.expect("details").causes;
    assert_eq!(
        (causes[0].field.as_str(), causes[0].reason.as_str()),
        ("spec.size", "FieldValueRequired")
    );

    let created = api
        .create(
            &PostParams::default(),
            &widget(json!({"size": 1, "unknown": true})),
        )
        .await
        .expect("valid");
    assert_eq!(created.data["spec"], json!({"size": 1, "color": "red"}));
}

#[tokio::test]
async fn server_side_apply_on_custom_objects_merges_sets_between_managers() {
    let server = ApiServer::new();
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("crd");
    let api = widgets(&server);
    let apply = |spec: Value| {
        Patch::Apply(json!({"apiVersion": "example.com/v1", "kind": "Widget",
                            "metadata": {"name": "w"}, "spec": spec}))
    };
    api.patch(
        "w",
        &PatchParams::apply("a"),
        &apply(json!({"size": 1, "tags": ["x"]})),
    )
    .await
    .expect("a applies");
    let both = api
        .patch(
            "w",
            &PatchParams::apply("b"),
            &apply(json!({"tags": ["y"]})),
        )
        .await
        .expect("b applies");
    assert_eq!(both.data["spec"]["tags"], json!(["x", "y"]));
    let dropped = api
        .patch("w", &PatchParams::apply("a"), &apply(json!({"size": 1})))
        .await
        .expect("a drops its tag");
    assert_eq!(dropped.data["spec"]["tags"], json!(["y"]));
    let err = api_err(
        api.patch(
            "w",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 2}})),
        )
        .await
        .expect_err("415"),
    );
    assert_eq!(err.code, 415);
    // The media type is checked before the object is looked for.
    let err = api_err(
        api.patch(
            "missing",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"size": 2}})),
        )
        .await
        .expect_err("415"),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            415,
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        )
    );
}

async fn get_json(server: &ApiServer, path: &str) -> Value {
    let request = http::Request::get(path).body(Vec::new()).expect("request");
    server
        .client()
        .request::<Value>(request)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

#[tokio::test]
async fn openapi_documents_follow_the_served_types() {
    let server = ApiServer::new();
    let index = get_json(&server, "/openapi/v3").await;
    let apps = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .expect("apps/v1 listed")
        .to_string();
    let doc = get_json(&server, &apps).await;
    let schema = &doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        schema["x-kubernetes-group-version-kind"],
        json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
    );
    assert!(index["paths"].get("apis/example.com/v1").is_none());

    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("crd");
    let index = get_json(&server, "/openapi/v3").await;
    let url = index["paths"]["apis/example.com/v1"]["serverRelativeURL"]
        .as_str()
        .expect("served once the CRD exists")
        .to_string();
    let doc = get_json(&server, &url).await;
    assert_eq!(
        doc["components"]["schemas"]["com.example.v1.Widget"]["properties"]["spec"]["required"],
        json!(["size"])
    );
    let v2 = get_json(&server, "/openapi/v2").await;
    assert!(v2["definitions"]["com.example.v1.Widget"].is_object());

    crds.delete("widgets.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    let index = get_json(&server, "/openapi/v3").await;
    assert!(index["paths"].get("apis/example.com/v1").is_none());
}

#[tokio::test]
async fn a_second_manager_applying_the_same_value_is_recorded_but_a_reapply_is_a_no_op() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"},
                        "data": {"k": "v"}});
    let first = cms
        .patch(
            "shared",
            &PatchParams::apply("a"),
            &Patch::Apply(config.clone()),
        )
        .await
        .expect("a");
    let again = cms
        .patch(
            "shared",
            &PatchParams::apply("a"),
            &Patch::Apply(config.clone()),
        )
        .await
        .expect("a again");
    assert_eq!(
        first.metadata.resource_version, again.metadata.resource_version,
        "re-applying the same configuration writes nothing"
    );
    let shared = cms
        .patch("shared", &PatchParams::apply("b"), &Patch::Apply(config))
        .await
        .expect("b shares");
    assert_ne!(
        first.metadata.resource_version,
        shared.metadata.resource_version
    );
    let managers: Vec<String> = managed(&shared)
        .iter()
        .filter_map(|e| e["manager"].as_str().map(str::to_string))
        .collect();
    assert_eq!(managers, ["a", "b"]);
}

#[tokio::test]
async fn patched_objects_must_keep_the_type_namespace_and_name_of_the_request() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let apply = PatchParams::apply("tester");
    let message = |e: kube::Error| {
        let s = api_err(e);
        (s.code, s.message)
    };
    let refused = cms
        .patch(
            "newcm",
            &apply,
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "newcm"}})),
        )
        .await
        .expect_err("wrong type");
    assert_eq!(
        message(refused),
        (
            400,
            "invalid object type: apps/v1, Kind=ConfigMap".to_string()
        )
    );
    let refused = cms
        .patch(
            "newcm",
            &apply,
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other"}}),
            ),
        )
        .await
        .expect_err("another name");
    assert_eq!(
        message(refused),
        (
            400,
            "the name of the object (other) does not match the name on the URL (newcm)".to_string()
        )
    );
    let refused = cms
        .patch(
            "newcm",
            &apply,
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "newcm", "namespace": "kube-system"}})),
        )
        .await
        .expect_err("another namespace");
    assert_eq!(
        message(refused),
        (
            400,
            "the namespace of the provided object does not match the namespace sent on the request"
                .to_string()
        )
    );
    assert!(cms.get_opt("newcm").await.expect("get").is_none());
    assert!(cms.get_opt("other").await.expect("get").is_none());

    cms.patch(
        "newcm",
        &apply,
        &Patch::Apply(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "newcm"}}),
        ),
    )
    .await
    .expect("created by apply");
    let refused = cms
        .patch(
            "newcm",
            &PatchParams::default(),
            &Patch::Json::<()>(
                serde_json::from_value(json!([{"op": "remove", "path": "/metadata/name"}]))
                    .expect("json patch"),
            ),
        )
        .await
        .expect_err("no name left");
    assert_eq!(
        message(refused),
        (
            400,
            "the name of the object (newcm based on URL) was undeterminable: name must be provided"
                .to_string()
        )
    );
}

#[tokio::test]
async fn a_patch_whose_result_does_not_decode_is_invalid_on_the_patch_field() {
    let server = ApiServer::new();
    let deployments: Api<Deployment> = Api::default_namespaced(server.client());
    deployments
        .create(&PostParams::default(), &deployment())
        .await
        .expect("create");
    let status = api_err(
        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Strategic(json!({"spec": {"replicas": "abc"}})),
            )
            .await
            .expect_err("replicas must be a number"),
    );
    assert_eq!(
        (status.code, status.reason.as_str(), status.message.as_str()),
        (
            422,
            "Invalid",
            " \"\" is invalid: patch: Invalid value: \"map[spec:map[replicas:abc]]\": unrecognized type: int32"
        )
    );
    let details = status.details.expect("details");
    assert_eq!(
        (details.kind.as_str(), details.causes[0].field.as_str()),
        ("", "patch")
    );
    let status = api_err(
        deployments
            .patch(
                "web",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": "abc"}})),
            )
            .await
            .expect_err("replicas must be a number"),
    );
    assert_eq!(status.code, 422);
    assert!(
        status.message.ends_with(
            "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"
        ),
        "{}",
        status.message
    );
}
