//! CustomResourceDefinitions: registering serves the kinds at once, deleting stops serving them.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::core::Status;
use kube::discovery::Discovery;
use roperator_testkit::ApiServer;
use serde_json::json;

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

fn crd() -> serde_json::Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "echoes.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "echoes", "singular": "echo", "kind": "Echo", "shortNames": ["ec"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "properties": {"message": {"type": "string"}}},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

fn echo_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v1", "Echo"),
        "echoes",
    )
}

fn echo(name: &str, message: &str) -> DynamicObject {
    serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Echo",
        "metadata": {"name": name},
        "spec": {"message": message}
    }))
    .expect("echo")
}

#[tokio::test]
async fn creating_a_crd_serves_its_kind_and_deleting_it_stops() {
    let server = ApiServer::new();
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    let body: CustomResourceDefinition = serde_json::from_value(crd()).expect("crd");
    let created = crds
        .create(&PostParams::default(), &body)
        .await
        .expect("create crd");
    // The create answers with the CRD as PrepareForCreate stored it; the naming and
    // establishing controllers' status follows in a write of their own.
    let initial = serde_json::to_value(created.status).expect("status");
    assert_eq!(
        initial,
        json!({"acceptedNames": {"kind": "", "plural": ""}, "storedVersions": ["v1"]})
    );
    let established = crds.get("echoes.example.com").await.expect("get");
    let status = serde_json::to_value(established.status).expect("status");
    assert!(
        status["conditions"].as_array().is_some_and(|c| c
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")),
        "{status}"
    );
    assert_eq!(status["acceptedNames"]["kind"], "Echo");

    let discovery = Discovery::new(server.client())
        .run()
        .await
        .expect("discovery");
    let (found, caps) = discovery
        .groups()
        .flat_map(|g| g.recommended_resources())
        .find(|(r, _)| r.kind == "Echo")
        .expect("Echo discovered");
    assert_eq!(found.plural, "echoes");
    assert!(
        caps.subresources.iter().any(|(s, _)| s.plural == "status"),
        "status subresource listed"
    );

    let echoes: Api<DynamicObject> =
        Api::default_namespaced_with(server.client(), &echo_resource());
    echoes
        .create(&PostParams::default(), &echo("hello", "hi"))
        .await
        .expect("create echo");
    let got = echoes.get("hello").await.expect("get echo");
    assert_eq!(got.data["spec"]["message"], "hi");

    crds.delete("echoes.example.com", &DeleteParams::default())
        .await
        .expect("delete crd");
    let err = api_err(echoes.get("hello").await.expect_err("no longer served"));
    assert_eq!(err.code, 404);
    let discovery = Discovery::new(server.client())
        .run()
        .await
        .expect("discovery");
    assert!(
        !discovery
            .groups()
            .flat_map(|g| g.recommended_resources())
            .any(|(r, _)| r.kind == "Echo")
    );
}

#[tokio::test]
async fn register_crd_helper_and_custom_resource_rules() {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("register");
    let echoes: Api<DynamicObject> =
        Api::default_namespaced_with(server.client(), &echo_resource());
    let created = echoes
        .create(&PostParams::default(), &echo("a", "one"))
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    // Custom resources refuse updates without a resourceVersion.
    let mut unconditional = created.clone();
    unconditional.metadata.resource_version = None;
    let err = api_err(
        echoes
            .replace("a", &PostParams::default(), &unconditional)
            .await
            .expect_err("refused"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    // So does the CRD itself (its strategy disallows unconditional updates too).
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    let mut live = crds.get("echoes.example.com").await.expect("crd");
    live.metadata.resource_version = None;
    let err = api_err(
        crds.replace("echoes.example.com", &PostParams::default(), &live)
            .await
            .expect_err("CRD update without resourceVersion refused"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.starts_with(
            "customresourcedefinitions.apiextensions.k8s.io \"echoes.example.com\" is invalid"
        ),
        "{}",
        err.message
    );

    // Status goes through the subresource only, and does not bump generation.
    let after = echoes
        .patch_status(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"seen": true}})),
        )
        .await
        .expect("status");
    assert_eq!(after.data["status"]["seen"], true);
    assert_eq!(after.metadata.generation, Some(1));
    let after = echoes
        .patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": "two"}, "status": {"seen": false}})),
        )
        .await
        .expect("spec");
    assert_eq!(after.data["status"]["seen"], true);
    assert_eq!(after.metadata.generation, Some(2));

    // Created objects drop any status they were sent with.
    let mut with_status = echo("b", "x");
    with_status.data["status"] = json!({"seen": true});
    let created = echoes
        .create(&PostParams::default(), &with_status)
        .await
        .expect("create");
    assert!(created.data.get("status").is_none());

    assert_eq!(
        server
            .objects("example.com/v1", "Echo", Some("default"))
            .len(),
        2
    );
}

#[tokio::test]
async fn kinds_must_match_the_path() {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("register");
    let echoes: Api<DynamicObject> =
        Api::default_namespaced_with(server.client(), &echo_resource());
    let mut wrong = echo("w", "x");
    wrong.types = Some(kube::api::TypeMeta {
        api_version: "example.com/v2".into(),
        kind: "Echo".into(),
    });
    let err = api_err(
        echoes
            .create(&PostParams::default(), &wrong)
            .await
            .expect_err("wrong version"),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            400,
            "Echo in version \"v2\" cannot be handled as a Echo: request to convert CR from an invalid group/version: example.com/v2"
        )
    );
    // A served version with another kind decodes, and the validator refuses it.
    wrong.types = Some(kube::api::TypeMeta {
        api_version: "example.com/v1".into(),
        kind: "Gadget".into(),
    });
    let err = api_err(
        echoes
            .create(&PostParams::default(), &wrong)
            .await
            .expect_err("wrong kind"),
    );
    assert_eq!(
        (err.code, err.message.as_str()),
        (
            422,
            "Gadget.example.com \"w\" is invalid: kind: Invalid value: \"Gadget\": must be Echo"
        )
    );
}

#[tokio::test]
async fn several_served_versions_share_storage_and_can_be_withdrawn() {
    let server = ApiServer::new();
    let mut def = crd();
    let v1 = def["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v2");
    v2["storage"] = json!(false);
    def["spec"]["versions"] = json!([v1, v2]);
    server.register_crd(&def).expect("register");
    let at_v1: Api<DynamicObject> = Api::default_namespaced_with(server.client(), &echo_resource());
    let v2_resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("example.com", "v2", "Echo"),
        "echoes",
    );
    let at_v2: Api<DynamicObject> = Api::default_namespaced_with(server.client(), &v2_resource);
    at_v1
        .create(&PostParams::default(), &echo("shared", "hi"))
        .await
        .expect("create at v1");
    let seen = at_v2.get("shared").await.expect("visible at v2");
    assert_eq!(
        seen.types.map(|t| t.api_version).as_deref(),
        Some("example.com/v2")
    );

    // Stop serving v1: its path is gone, v2 still serves the object.
    def["spec"]["versions"][0]["served"] = json!(false);
    server.register_crd(&def).expect("update");
    assert_eq!(
        api_err(at_v1.get("shared").await.expect_err("v1 withdrawn")).code,
        404
    );
    assert!(at_v2.get("shared").await.is_ok());
}

#[tokio::test]
async fn custom_objects_are_validated_and_pruned_by_their_schema() {
    let server = ApiServer::new();
    let mut def = crd();
    def["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"] = json!({
        "type": "object",
        "required": ["message"],
        "properties": {"message": {"type": "string"}, "replicas": {"type": "integer"}}
    });
    server.register_crd(&def).expect("register");
    let echoes: Api<DynamicObject> =
        Api::default_namespaced_with(server.client(), &echo_resource());

    let mut missing = echo("m", "x");
    missing.data["spec"] = json!({"replicas": 1});
    let err = api_err(
        echoes
            .create(&PostParams::default(), &missing)
            .await
            .expect_err("required"),
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(err.message.contains("spec.message"), "{}", err.message);

    let mut wrong_type = echo("t", "x");
    wrong_type.data["spec"]["replicas"] = json!("three");
    let err = api_err(
        echoes
            .create(&PostParams::default(), &wrong_type)
            .await
            .expect_err("type"),
    );
    assert_eq!(err.code, 422);
    assert!(err.message.contains("spec.replicas"), "{}", err.message);

    let mut extra = echo("p", "x");
    extra.data["spec"]["unknown"] = json!("dropped");
    let created = echoes
        .create(&PostParams::default(), &extra)
        .await
        .expect("create");
    assert!(
        created.data["spec"].get("unknown").is_none(),
        "unknown fields are pruned"
    );
}

#[tokio::test]
async fn cluster_scoped_kinds_have_no_namespace() {
    let server = ApiServer::new();
    let mut def = crd();
    def["spec"]["scope"] = json!("Cluster");
    server.register_crd(&def).expect("register");
    let cluster: Api<DynamicObject> = Api::all_with(server.client(), &echo_resource());
    let mut body = echo("c", "x");
    body.metadata.namespace = Some("default".into());
    let created = cluster
        .create(&PostParams::default(), &body)
        .await
        .expect("create");
    assert!(created.metadata.namespace.is_none());
    let namespaced: Api<DynamicObject> =
        Api::default_namespaced_with(server.client(), &echo_resource());
    assert_eq!(
        api_err(namespaced.get("c").await.expect_err("no namespaced path")).code,
        404
    );
}

#[tokio::test]
async fn moving_the_storage_version_records_both_in_stored_versions() {
    let server = ApiServer::new();
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    let body: CustomResourceDefinition = serde_json::from_value(crd()).expect("crd");
    crds.create(&PostParams::default(), &body)
        .await
        .expect("create crd");
    let mut next = crd();
    let v1 = next["spec"]["versions"][0].clone();
    let mut v2 = v1.clone();
    v2["name"] = json!("v2");
    next["spec"]["versions"] = json!([v1, v2]);
    next["spec"]["versions"][0]["storage"] = json!(false);
    crds.patch(
        "echoes.example.com",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"versions": next["spec"]["versions"]}})),
    )
    .await
    .expect("patch");
    let stored = crds.get("echoes.example.com").await.expect("get");
    assert_eq!(
        stored.status.and_then(|s| s.stored_versions),
        Some(vec!["v1".to_string(), "v2".to_string()])
    );

    // v1 cannot leave spec.versions while objects may still be stored at it...
    let only_v2 = json!({"spec": {"versions": [next["spec"]["versions"][1].clone()]}});
    let refused = crds
        .patch(
            "echoes.example.com",
            &PatchParams::default(),
            &Patch::Merge(&only_v2),
        )
        .await
        .expect_err("v1 still stored");
    let status = api_err(refused);
    assert_eq!(status.code, 422);
    assert!(
        status.message.contains(
            "status.storedVersions[0]: Invalid value: \"v1\": must appear in spec.versions"
        ),
        "{}",
        status.message
    );
    // ...nor can the status forget the storage version...
    let refused = crds
        .patch_status(
            "echoes.example.com",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"storedVersions": ["v1"]}})),
        )
        .await
        .expect_err("storage version dropped");
    assert!(
        api_err(refused)
            .message
            .contains("must have the storage version v2")
    );
    // ...but once a migration wrote every object at v2, the status retires v1, and then v1
    // can go.
    crds.patch_status(
        "echoes.example.com",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"storedVersions": ["v2"]}})),
    )
    .await
    .expect("retire v1");
    crds.patch(
        "echoes.example.com",
        &PatchParams::default(),
        &Patch::Merge(&only_v2),
    )
    .await
    .expect("drop v1");
    let stored = crds.get("echoes.example.com").await.expect("get");
    assert_eq!(
        stored.status.and_then(|s| s.stored_versions),
        Some(vec!["v2".to_string()])
    );
}

#[tokio::test]
async fn invalid_crds_are_refused_with_the_upstream_causes() {
    let server = ApiServer::new();
    let crds: Api<CustomResourceDefinition> = Api::all(server.client());
    let refused = |edit: fn(&mut serde_json::Value)| {
        let crds = crds.clone();
        async move {
            let mut body = crd();
            edit(&mut body);
            let status = crds
                .create(
                    &PostParams::default(),
                    &serde_json::from_value(body).expect("crd"),
                )
                .await
                .map_err(api_err)
                .expect_err("refused");
            assert_eq!(status.code, 422, "{status:?}");
            status.message
        }
    };
    let prefix =
        "CustomResourceDefinition.apiextensions.k8s.io \"echoes.example.com\" is invalid: ";
    assert_eq!(
        refused(|b| b["spec"]["scope"] = json!("Foo")).await,
        format!(
            "{prefix}spec.scope: Unsupported value: \"Foo\": supported values: \"Cluster\", \"Namespaced\""
        )
    );
    assert_eq!(
        refused(|b| b["spec"]["versions"][0]["storage"] = json!(false)).await,
        format!(
            "{prefix}spec.versions: Invalid value: []apiextensions.CustomResourceDefinitionVersion{{...}}: must have exactly one version marked as storage version"
        )
    );
    assert_eq!(
        refused(|b| {
            b["spec"]["versions"][0]
                .as_object_mut()
                .expect("version")
                .remove("schema");
        })
        .await,
        format!(
            "{prefix}spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
        )
    );
    assert_eq!(
        refused(
            |b| b["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
                .as_object_mut()
                .expect("spec")
                .remove("type")
                .map(drop)
                .unwrap_or_default()
        )
        .await,
        format!(
            "{prefix}spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        )
    );
    let message = refused(|b| b["metadata"]["name"] = json!("other.example.com")).await;
    assert_eq!(
        message,
        "CustomResourceDefinition.apiextensions.k8s.io \"other.example.com\" is invalid: metadata.name: Invalid value: \"other.example.com\": must be spec.names.plural+\".\"+spec.group"
    );
    let message = refused(|b| {
        b["metadata"]["name"] = json!("echoes.example");
        b["spec"]["group"] = json!("example");
    })
    .await;
    assert!(
        message.ends_with(
            "spec.group: Invalid value: \"example\": should be a domain with at least one dot"
        ),
        "{message}"
    );
}

#[tokio::test]
async fn list_items_carry_their_type_only_for_custom_resources() {
    let server = ApiServer::new();
    server.register_crd(&crd()).expect("register");
    let client = server.client();
    let echoes: Api<DynamicObject> = Api::default_namespaced_with(client.clone(), &echo_resource());
    echoes
        .create(&PostParams::default(), &echo("a", "one"))
        .await
        .expect("create");
    let raw = |path: &'static str| {
        let client = client.clone();
        async move {
            let req = http::Request::get(path).body(Vec::new()).expect("request");
            client
                .request::<serde_json::Value>(req)
                .await
                .expect("list")
        }
    };
    // A real server sets apiVersion and kind on a built-in list, not on its items
    // (kubernetes/kubernetes#3030); custom objects are served as they are stored.
    let configmaps = raw("/api/v1/namespaces/default/configmaps").await;
    assert_eq!(
        (&configmaps["kind"], &configmaps["apiVersion"]),
        (&json!("ConfigMapList"), &json!("v1"))
    );
    let item = &configmaps["items"][0];
    assert_eq!(item["metadata"]["name"], "kube-root-ca.crt");
    assert!(
        item.get("kind").is_none() && item.get("apiVersion").is_none(),
        "{item}"
    );
    assert!(
        configmaps["metadata"].get("continue").is_none(),
        "{configmaps}"
    );
    let custom = raw("/apis/example.com/v1/namespaces/default/echoes").await;
    // An unstructured list writes its continue token even when there is none.
    assert_eq!(custom["metadata"]["continue"], "");
    assert_eq!(custom["items"][0]["kind"], "Echo");
    assert_eq!(custom["items"][0]["apiVersion"], "example.com/v1");
    // A bookmark of a custom resource is an unstructured object: no null creationTimestamp.
    let req = http::Request::get(
        "/apis/example.com/v1/namespaces/default/echoes?watch=true&allowWatchBookmarks=true&timeoutSeconds=1",
    )
    .body(Vec::new())
    .expect("request");
    let stream = client.request_text(req).await.expect("watch");
    let bookmark: serde_json::Value = stream
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("event"))
        .find(|e| e["type"] == "BOOKMARK")
        .expect("the initial events end with a bookmark");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    assert!(
        bookmark["object"]["metadata"]
            .get("creationTimestamp")
            .is_none(),
        "{bookmark}"
    );
    // Typed clients read such lists as they read a real server's.
    let typed: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::default_namespaced(client);
    let names: Vec<String> = typed
        .list(&Default::default())
        .await
        .expect("typed list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(names, ["kube-root-ca.crt"]);
}
