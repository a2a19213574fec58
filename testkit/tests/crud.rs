//! Create, get, list, update, delete through `kube::Client`, against the in-process server.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Status;
use roperator_testkit::ApiServer;
use serde_json::json;

fn cm(name: &str, labels: serde_json::Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"}
    }))
    .expect("valid configmap")
}

fn api_err(e: kube::Error) -> Status {
    match e {
        kube::Error::Api(s) => *s,
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn default_namespaces_exist() {
    let server = ApiServer::new();
    let ns: Api<Namespace> = Api::all(server.client());
    let names: Vec<String> = ns
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for want in ["default", "kube-system", "kube-public"] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
}

#[tokio::test]
async fn create_get_update_delete_round_trip() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let created = cms
        .create(&PostParams::default(), &cm("a", json!({"app": "web"})))
        .await
        .expect("create");
    let meta = &created.metadata;
    assert!(meta.uid.is_some());
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, None, "ConfigMaps have no generation");
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let rv1: u64 = meta
        .resource_version
        .as_deref()
        .unwrap_or("")
        .parse()
        .expect("numeric rv");

    let err = api_err(
        cms.create(&PostParams::default(), &cm("a", json!({})))
            .await
            .expect_err("duplicate"),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));

    let mut got = cms.get("a").await.expect("get");
    got.data = Some([("k".to_string(), "w".to_string())].into());
    let updated = cms
        .replace("a", &PostParams::default(), &got)
        .await
        .expect("replace");
    let rv2: u64 = updated
        .metadata
        .resource_version
        .as_deref()
        .unwrap_or("")
        .parse()
        .expect("rv");
    assert!(rv2 > rv1);

    // The old resourceVersion is now stale.
    let err = api_err(
        cms.replace("a", &PostParams::default(), &got)
            .await
            .expect_err("stale"),
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));

    cms.delete("a", &DeleteParams::default())
        .await
        .expect("delete");
    let err = api_err(cms.get("a").await.expect_err("gone"));
    assert_eq!((err.code, err.reason.as_str()), (404, "NotFound"));
}

#[tokio::test]
async fn list_with_label_and_field_selectors() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    for (name, labels) in [
        ("a", json!({"app": "web", "tier": "front"})),
        ("b", json!({"app": "api"})),
        ("c", json!({"app": "db", "legacy": "yes"})),
    ] {
        cms.create(&PostParams::default(), &cm(name, labels))
            .await
            .expect("create");
    }
    let names = |l: kube::api::ObjectList<ConfigMap>| -> Vec<String> {
        l.items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect()
    };
    let sel = |s: &str| ListParams::default().labels(s);
    assert_eq!(names(cms.list(&sel("app=web")).await.expect("list")), ["a"]);
    assert_eq!(
        names(cms.list(&sel("app!=web")).await.expect("list")),
        // The root CA publisher's ConfigMap has no `app` label either.
        ["b", "c", "kube-root-ca.crt"]
    );
    assert_eq!(
        names(cms.list(&sel("app in (api,db)")).await.expect("list")),
        ["b", "c"]
    );
    assert_eq!(
        names(cms.list(&sel("app notin (api,db)")).await.expect("list")),
        ["a", "kube-root-ca.crt"]
    );
    assert_eq!(names(cms.list(&sel("tier")).await.expect("list")), ["a"]);
    assert_eq!(
        names(cms.list(&sel("!legacy")).await.expect("list")),
        ["a", "b", "kube-root-ca.crt"]
    );
    let by_name = ListParams::default().fields("metadata.name=b");
    assert_eq!(names(cms.list(&by_name).await.expect("list")), ["b"]);
    cms.create(&PostParams::default(), &cm("d", json!({"shard": "3"})))
        .await
        .expect("create");
    assert_eq!(names(cms.list(&sel("shard>2")).await.expect("list")), ["d"]);
    // A filtered page ends where its limit is reached; the token is handed out while keys are
    // left, matching or not, so the next page may be empty.
    let first = cms.list(&sel("app=web").limit(1)).await.expect("page");
    assert_eq!(names(first.clone()), ["a"]);
    let token = first.metadata.continue_.expect("a continue token");
    let second = cms
        .list(&sel("app=web").limit(1).continue_token(&token))
        .await
        .expect("next page");
    assert!(second.items.is_empty());
    assert!(second.metadata.continue_.unwrap_or_default().is_empty());
    assert!(names(cms.list(&sel("shard<3")).await.expect("list")).is_empty());
    let err = api_err(
        cms.list(&sel("app==web=front"))
            .await
            .expect_err("bad selector"),
    );
    assert_eq!(
        (err.code, err.reason.as_str(), err.message.as_str()),
        (
            400,
            "BadRequest",
            "found '=', expected: ',' or 'end of string'"
        )
    );
    let err = api_err(cms.list(&sel("shard>x")).await.expect_err("bad value"));
    assert_eq!(
        err.message,
        "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value must be an integer"
    );

    let err = api_err(
        cms.list(&ListParams::default().fields("data.k=v"))
            .await
            .expect_err("bad field"),
    );
    assert_eq!(err.code, 400);
}

#[tokio::test]
async fn paging_with_limit_and_continue() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    for i in 0..7 {
        cms.create(&PostParams::default(), &cm(&format!("cm-{i}"), json!({})))
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(3);
    let mut pages = 0;
    loop {
        let page = cms.list(&params).await.expect("page");
        pages += 1;
        seen.extend(page.items.into_iter().filter_map(|c| c.metadata.name));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => params = params.continue_token(&c),
            _ => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    expected.push("kube-root-ca.crt".into());
    assert_eq!(seen, expected);

    // Query parameters are read as the parameter codec reads them: a limit below one is no
    // limit, a number that does not parse is strconv's complaint, and a flag is on unless it
    // is 0 or false.
    let get = |query: &'static str| {
        let client = server.client();
        async move {
            let req = http::Request::get(format!("/api/v1/namespaces/default/configmaps?{query}"))
                .body(Vec::new())
                .expect("request");
            client.request_text(req).await
        }
    };
    let all: serde_json::Value =
        serde_json::from_str(&get("limit=-1").await.expect("no limit")).expect("json");
    assert_eq!(all["items"].as_array().map(Vec::len), Some(8));
    for (query, value, why) in [
        ("limit=ten", "ten", "invalid syntax"),
        // An empty value is parsed too, not taken as unset.
        ("limit=", "", "invalid syntax"),
        ("limit=--5", "--5", "invalid syntax"),
        (
            "limit=99999999999999999999",
            "99999999999999999999",
            "value out of range",
        ),
        ("watch=1&timeoutSeconds=", "", "invalid syntax"),
    ] {
        match get(query).await {
            Err(kube::Error::Api(s)) => assert_eq!(
                (s.code, s.message),
                (400, format!("strconv.ParseInt: parsing \"{value}\": {why}")),
                "{query}"
            ),
            other => panic!("{query}: expected a 400, got {other:?}"),
        }
    }
    let one: serde_json::Value =
        serde_json::from_str(&get("limit=%2B1").await.expect("one sign is allowed")).expect("json");
    assert_eq!(one["items"].as_array().map(Vec::len), Some(1));
    let watched = get("watch=True&timeoutSeconds=1").await.expect("a watch");
    assert_eq!(watched.lines().count(), 8, "{watched}");
    assert!(
        watched
            .lines()
            .all(|l| l.starts_with("{\"type\":\"ADDED\""))
    );
}

#[tokio::test]
async fn merge_and_json_patch() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    cms.create(&PostParams::default(), &cm("p", json!({})))
        .await
        .expect("create");
    let merged = cms
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"extra": "1"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        merged
            .data
            .as_ref()
            .and_then(|d| d.get("extra"))
            .map(String::as_str),
        Some("1")
    );
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "replace", "path": "/data/k", "value": "z"}
    ]))
    .expect("patch");
    let patched = cms
        .patch("p", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(
        patched
            .data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("z")
    );
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/k", "value": "nope"}]))
            .expect("patch");
    let err = api_err(
        cms.patch("p", &PatchParams::default(), &Patch::Json::<()>(failing))
            .await
            .expect_err("test op"),
    );
    assert_eq!(err.code, 422);
}

#[tokio::test]
async fn builtin_bodies_without_kind_take_it_from_the_path_custom_ones_do_not() {
    let server = roperator_testkit::ApiServer::new();
    let client = server.client();
    let req = http::Request::builder()
        .method("POST")
        .uri("/api/v1/namespaces/default/configmaps")
        .header("content-type", "application/json")
        .body(br#"{"metadata":{"name":"bare"},"data":{"a":"1"}}"#.to_vec())
        .expect("request");
    let created: serde_json::Value = client.request(req).await.expect("created");
    assert_eq!(created["kind"], "ConfigMap");
    assert_eq!(created["apiVersion"], "v1");
    server
        .register_crd(&serde_json::json!({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "echoes.example.com"},
            "spec": {"group": "example.com", "scope": "Namespaced",
                "names": {"plural": "echoes", "singular": "echo", "kind": "Echo"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}]}
        }))
        .expect("crd");
    let req = http::Request::builder()
        .method("POST")
        .uri("/apis/example.com/v1/namespaces/default/echoes")
        .header("content-type", "application/json")
        .body(br#"{"metadata":{"name":"bare"}}"#.to_vec())
        .expect("request");
    let err = client
        .request::<serde_json::Value>(req)
        .await
        .expect_err("custom objects need a kind");
    let kube::Error::Api(status) = err else {
        panic!("not an API error: {err}");
    };
    assert_eq!(status.code, 400);
    assert!(
        status.message.starts_with("Object 'Kind' is missing in"),
        "{}",
        status.message
    );
}

#[tokio::test]
async fn metadata_only_reads_answer_partial_object_metadata() {
    use futures::TryStreamExt;
    use kube::api::WatchParams;

    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let mut big = cm("big", json!({"app": "web"}));
    big.data = Some([("payload".to_string(), "x".repeat(1000))].into());
    cms.create(&PostParams::default(), &big)
        .await
        .expect("create");

    let one = cms.get_metadata("big").await.expect("metadata");
    assert_eq!(
        one.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("app"))
            .map(String::as_str),
        Some("web")
    );
    let list = cms
        .list_metadata(&ListParams::default().labels("app=web"))
        .await
        .expect("metadata list");
    assert_eq!(list.items.len(), 1);

    // On the wire: no data, and every item typed as PartialObjectMetadata.
    let raw = |accept: &'static str, path: &'static str| {
        let client = server.client();
        async move {
            let req = http::Request::get(path)
                .header(http::header::ACCEPT, accept)
                .body(Vec::new())
                .expect("request");
            client.request_text(req).await
        }
    };
    let list_accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let text = raw(
        list_accept,
        "/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb",
    )
    .await
    .expect("list");
    let body: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(body["kind"], "PartialObjectMetadataList");
    assert_eq!(body["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(body["items"][0]["kind"], "PartialObjectMetadata");
    assert_eq!(body["items"][0]["metadata"]["name"], "big");
    assert!(body["items"][0].get("data").is_none(), "{text}");
    // Asking for the object form of a list is refused.
    match raw(
        "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1",
        "/api/v1/namespaces/default/configmaps",
    )
    .await
    {
        Err(kube::Error::Api(s)) => assert_eq!(
            (s.code, s.message.as_str()),
            (
                406,
                "you requested PartialObjectMetadata, but the requested object is a list (*core.ConfigMapList)"
            )
        ),
        other => panic!("expected a 406, got {other:?}"),
    }

    let events: Vec<_> = cms
        .watch_metadata(&WatchParams::default().labels("app=web").timeout(1), "0")
        .await
        .expect("metadata watch")
        .try_collect()
        .await
        .expect("events");
    let names: Vec<Option<String>> = events
        .iter()
        .filter_map(|e| match e {
            kube::api::WatchEvent::Added(o) => Some(o.metadata.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, [Some("big".to_string())]);
}
