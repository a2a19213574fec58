//! List, watch and delete options as a real v1.32 server validates and applies them: dry runs,
//! propagation finalizers, paging metadata, `resourceVersionMatch`/`sendInitialEvents`, and the
//! watch cache's horizon.

use http::Request;
use roperator_testkit::ApiServer;
use serde_json::{Value, json};

async fn call(client: &kube::Client, method: &str, path: &str, body: Value) -> (u16, Value) {
    let body = if body.is_null() {
        Vec::new()
    } else {
        serde_json::to_vec(&body).expect("json")
    };
    let content_type = if method == "PATCH" {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .body(body)
        .expect("request");
    match client.request::<Value>(req).await {
        Ok(v) => (200, v),
        Err(kube::Error::Api(s)) => (s.code, serde_json::to_value(&*s).expect("status")),
        Err(other) => panic!("{method} {path}: {other:?}"),
    }
}

async fn config_map(client: &kube::Client, name: &str, finalizers: &[&str]) {
    let (code, _) = call(
        client,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "x"}, "finalizers": finalizers}}),
    )
    .await;
    assert_eq!(code, 200);
}

const CM: &str = "/api/v1/namespaces/default/configmaps";

#[tokio::test]
async fn dry_run_deletes_delete_nothing_and_unknown_dry_runs_are_refused() {
    let server = ApiServer::new();
    let client = server.client();
    config_map(&client, "keep", &[]).await;
    // kubectl delete --dry-run=server sends the option in the body.
    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{CM}/keep"),
        json!({"kind": "DeleteOptions", "apiVersion": "v1", "dryRun": ["All"]}),
    )
    .await;
    assert_eq!(
        (code, &status["status"]),
        (200, &json!("Success")),
        "{status}"
    );
    let (code, _) = call(&client, "DELETE", &format!("{CM}?dryRun=All"), Value::Null).await;
    assert_eq!(code, 200);
    // `All` said twice is still a dry run (the set of values is checked, not the list).
    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{CM}/keep"),
        json!({"dryRun": ["All", "All"]}),
    )
    .await;
    assert_eq!(code, 200, "{status}");
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "keep")
            .is_some(),
        "a dry run deleted the object"
    );
    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{CM}/keep?dryRun=Foo"),
        Value::Null,
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(
        status["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Foo\"}: supported values: \"All\""
    );
}

/// A dry run answers with the object as the delete would leave it: held by the policy's
/// finalizer and stamped, or (a pod) stamped with a zero grace period.
#[tokio::test]
async fn dry_run_deletes_answer_with_the_marks_the_delete_would_make() {
    let server = ApiServer::new();
    let client = server.client();
    config_map(&client, "held", &[]).await;
    let (code, held) = call(
        &client,
        "DELETE",
        &format!("{CM}/held"),
        json!({"dryRun": ["All"], "propagationPolicy": "Foreground"}),
    )
    .await;
    assert_eq!(code, 200, "{held}");
    assert_eq!(
        held["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let stored = server
        .object("v1", "ConfigMap", Some("default"), "held")
        .expect("still there");
    assert!(stored["metadata"].get("deletionTimestamp").is_none());

    server
        .load_yaml(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: default\nspec:\n  containers:\n  - name: c\n    image: nginx\n",
        )
        .expect("pod");
    let (code, pod) = call(
        &client,
        "DELETE",
        "/api/v1/namespaces/default/pods/p?dryRun=All",
        Value::Null,
    )
    .await;
    assert_eq!(code, 200, "{pod}");
    assert_eq!(pod["kind"], "Pod");
    assert!(pod["metadata"]["deletionTimestamp"].is_string(), "{pod}");
    assert_eq!(pod["metadata"]["deletionGracePeriodSeconds"], 0);
    assert!(server.object("v1", "Pod", Some("default"), "p").is_some());
}

#[tokio::test]
async fn write_options_are_validated_before_anything_is_written() {
    let server = ApiServer::new();
    let client = server.client();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "opt"}});
    let (code, status) = call(&client, "POST", &format!("{CM}?dryRun=Foo"), body.clone()).await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            422,
            Some(
                "CreateOptions.meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"Foo\"}: supported values: \"All\""
            )
        )
    );
    assert!(
        server
            .object("v1", "ConfigMap", Some("default"), "opt")
            .is_none(),
        "an unknown dry run wrote the object"
    );
    let long = "m".repeat(129);
    let (code, status) = call(
        &client,
        "POST",
        &format!("{CM}?fieldManager={long}"),
        body.clone(),
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            422,
            Some(
                "CreateOptions.meta.k8s.io \"\" is invalid: fieldManager: Too long: must have at most 128 bytes"
            )
        )
    );
    let (code, _) = call(&client, "POST", CM, body).await;
    assert_eq!(code, 200);
    let (code, status) = call(
        &client,
        "PATCH",
        &format!("{CM}/opt?force=true"),
        json!({"data": {"a": "b"}}),
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            422,
            Some(
                "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
            )
        )
    );
    // Options are checked before the object is looked for.
    let (code, status) = call(
        &client,
        "PATCH",
        &format!("{CM}/missing?dryRun=Foo"),
        json!({"data": {"a": "b"}}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
}

#[tokio::test]
async fn foreground_and_orphan_deletes_answer_with_the_finalized_object() {
    let server = ApiServer::new();
    let client = server.client();
    for (name, policy, finalizer) in [
        ("fg", "Foreground", "foregroundDeletion"),
        ("or", "Orphan", "orphan"),
    ] {
        config_map(&client, name, &[]).await;
        let (code, answer) = call(
            &client,
            "DELETE",
            &format!("{CM}/{name}"),
            json!({"propagationPolicy": policy}),
        )
        .await;
        assert_eq!(code, 200);
        assert_eq!(answer["kind"], "ConfigMap", "{answer}");
        assert_eq!(answer["metadata"]["finalizers"], json!([finalizer]));
        assert!(answer["metadata"]["deletionTimestamp"].is_string());
        // The collector finishes at once: nothing depends on it.
        assert!(
            server
                .object("v1", "ConfigMap", Some("default"), name)
                .is_none()
        );
    }
    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{CM}/x"),
        json!({"propagationPolicy": "Background", "orphanDependents": true}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        status["message"].as_str().is_some_and(
            |m| m.contains("orphanDependents and deletionPropagation cannot be both set")
        ),
        "{status}"
    );
}

#[tokio::test]
async fn paged_lists_count_what_is_left_and_resource_version_zero_does_not_page() {
    let server = ApiServer::new();
    let client = server.client();
    for name in ["a", "b", "c"] {
        config_map(&client, name, &[]).await;
    }
    // Three of ours and the namespace's `kube-root-ca.crt`.
    let (_, page) = call(&client, "GET", &format!("{CM}?limit=1"), Value::Null).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["metadata"]["remainingItemCount"], 3);
    let token = page["metadata"]["continue"]
        .as_str()
        .expect("continue")
        .to_string();
    // A selector hides the count (etcd cannot know it).
    let (_, page) = call(
        &client,
        "GET",
        &format!("{CM}?limit=1&labelSelector=app%3Dx"),
        Value::Null,
    )
    .await;
    assert!(
        page["metadata"].get("remainingItemCount").is_none(),
        "{page}"
    );
    let (_, all) = call(
        &client,
        "GET",
        &format!("{CM}?limit=1&resourceVersion=0"),
        Value::Null,
    )
    .await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(4));
    assert!(all["metadata"].get("continue").is_none());
    let (code, status) = call(
        &client,
        "GET",
        &format!("{CM}?limit=1&continue={token}&resourceVersion=5"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (
            400,
            Some("specifying resource version is not allowed when using continue")
        )
    );
    // `0` is no resource version to etcd: the list continues, one page at a time.
    let (code, page) = call(
        &client,
        "GET",
        &format!("{CM}?limit=1&continue={token}&resourceVersion=0"),
        Value::Null,
    )
    .await;
    assert_eq!(code, 200, "{page}");
    assert_eq!(page["items"][0]["metadata"]["name"], "b", "{page}");
    assert_eq!(page["metadata"]["remainingItemCount"], 2);
}

#[tokio::test]
async fn list_and_watch_options_are_validated() {
    let server = ApiServer::new();
    let client = server.client();
    for (query, message) in [
        (
            "resourceVersionMatch=NotOlderThan",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
        ),
        (
            "resourceVersionMatch=Exact&resourceVersion=0",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
        ),
        (
            "sendInitialEvents=true",
            "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
        ),
        (
            "watch=1&sendInitialEvents=true",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
        (
            "watch=1&resourceVersionMatch=NotOlderThan",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
    ] {
        let (code, status) = call(&client, "GET", &format!("{CM}?{query}"), Value::Null).await;
        assert_eq!(code, 422, "{query}: {status}");
        assert_eq!(status["message"], message, "{query}");
        assert_eq!(status["details"]["group"], "meta.k8s.io");
        assert_eq!(status["details"]["kind"], "ListOptions");
    }
}

/// Reads a watch's body until it has `lines` events (the testkit ends a watch at its timeout).
async fn watch_lines(client: &kube::Client, query: &str, lines: usize) -> Vec<Value> {
    let req = Request::get(format!("{CM}?watch=1&timeoutSeconds=1&{query}"))
        .body(Vec::new())
        .expect("request");
    let text = client.request_text(req).await.expect("watch");
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert!(events.len() >= lines, "{events:?}");
    events
}

#[tokio::test]
async fn watches_start_at_the_watch_cache_and_end_the_initial_state_with_a_bookmark() {
    let server = ApiServer::new();
    let client = server.client();
    config_map(&client, "one", &[]).await;
    // v1.32's WatchList defaulting: a watch from nothing streams the state, then says so.
    let events = watch_lines(&client, "allowWatchBookmarks=true", 3).await;
    let names: Vec<&str> = events[..2]
        .iter()
        .map(|e| e["object"]["metadata"]["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["kube-root-ca.crt", "one"]);
    assert!(events[..2].iter().all(|e| e["type"] == "ADDED"));
    assert_eq!(events[2]["type"], "BOOKMARK");
    assert_eq!(
        events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    // Resuming from before the server's start is too old.
    let events = watch_lines(&client, "resourceVersion=1", 1).await;
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
}

#[tokio::test]
async fn pods_take_their_priority_from_the_cluster_s_priority_classes() {
    let server = ApiServer::new();
    let client = server.client();
    let (_, classes) = call(
        &client,
        "GET",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        Value::Null,
    )
    .await;
    let names: Vec<&str> = classes["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|c| c["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["system-cluster-critical", "system-node-critical"]);
    let (code, _) = call(
        &client,
        "POST",
        "/apis/scheduling.k8s.io/v1/priorityclasses",
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": "batch"}, "value": 1000, "globalDefault": true,
            "preemptionPolicy": "Never"}),
    )
    .await;
    assert_eq!(code, 200);
    let pod = |name: &str, extra: Value| {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                pod["spec"][k] = v;
            }
        }
        pod
    };
    let (_, created) = call(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods",
        pod("a", json!({})),
    )
    .await;
    assert_eq!(created["spec"]["priorityClassName"], "batch");
    assert_eq!(created["spec"]["priority"], 1000);
    assert_eq!(created["spec"]["preemptionPolicy"], "Never");
    let (_, created) = call(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods",
        pod("b", json!({"priorityClassName": "system-node-critical"})),
    )
    .await;
    assert_eq!(created["spec"]["priority"], 2_000_001_000);
    let (code, status) = call(
        &client,
        "POST",
        "/api/v1/namespaces/default/pods",
        pod("c", json!({"preemptionPolicy": "PreemptLowerPriority"})),
    )
    .await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(
        status["message"],
        "pods \"c\" is forbidden: the string value of PreemptionPolicy (PreemptLowerPriority) must not be provided in pod spec; priority admission controller computed Never from the given PriorityClass name"
    );
}

#[tokio::test]
async fn priority_classes_are_guarded_as_the_scheduling_registry_and_admission_guard_them() {
    let server = ApiServer::new();
    let client = server.client();
    let classes = "/apis/scheduling.k8s.io/v1/priorityclasses";
    let class = |name: &str, value: i64, default: bool| {
        json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": name}, "value": value, "globalDefault": default})
    };
    let message = |status: &Value| status["message"].as_str().unwrap_or("").to_string();

    let (code, status) = call(
        &client,
        "DELETE",
        &format!("{classes}/system-node-critical"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (code, message(&status)),
        (403, "priorityclasses.scheduling.k8s.io \"system-node-critical\" is forbidden: this is a system priority class and cannot be deleted".to_string())
    );
    let (code, status) = call(&client, "POST", classes, class("system-mine", 10, false)).await;
    assert_eq!(code, 422, "{status}");
    assert!(
        message(&status).contains("metadata.name: Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: system-mine is not a known system priority class"),
        "{status}"
    );
    let (code, status) = call(
        &client,
        "POST",
        classes,
        class("huge", 1_000_000_001, false),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        message(&status).contains(
            "value: Forbidden: maximum allowed value of a user defined priority is 1000000000"
        ),
        "{status}"
    );

    let (code, _) = call(&client, "POST", classes, class("low", 10, true)).await;
    assert_eq!(code, 200);
    let (code, status) = call(&client, "POST", classes, class("other", 20, true)).await;
    assert_eq!(
        (code, message(&status)),
        (403, "priorityclasses.scheduling.k8s.io \"other\" is forbidden: PriorityClass low is already marked as default. Only one default can exist".to_string())
    );
    // The default itself may be written again; its value may not change.
    let (code, status) = call(
        &client,
        "PATCH",
        &format!("{classes}/low"),
        json!({"description": "d"}),
    )
    .await;
    assert_eq!(code, 200, "{status}");
    let (code, status) = call(
        &client,
        "PATCH",
        &format!("{classes}/low"),
        json!({"value": 11}),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert!(
        message(&status).contains("value: Forbidden: may not be changed in an update."),
        "{status}"
    );
}

#[tokio::test]
async fn field_selectors_take_each_kind_s_labels_and_refuse_the_rest_as_upstream_words_it() {
    let server = ApiServer::new();
    let client = server.client();
    for (path, message) in [
        (
            "/api/v1/namespaces/default/configmaps?fieldSelector=spec.foo%3Dbar",
            "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
        ),
        (
            "/api/v1/namespaces?fieldSelector=metadata.namespace%3Dx",
            "field label not supported: metadata.namespace",
        ),
        (
            "/api/v1/namespaces/default/pods?fieldSelector=spec.foo%3Dbar",
            "field label not supported: spec.foo",
        ),
    ] {
        let (code, status) = call(&client, "GET", path, Value::Null).await;
        assert_eq!(
            (code, status["message"].as_str()),
            (400, Some(message)),
            "{path}"
        );
    }
    for path in [
        "/api/v1/namespaces/default/pods?fieldSelector=spec.hostNetwork%3Dtrue,status.podIPs%3Dx",
        "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Da,",
        "/apis/apps/v1/namespaces/default/replicasets?fieldSelector=status.replicas%3D1",
    ] {
        let (code, body) = call(&client, "GET", path, Value::Null).await;
        assert_eq!(code, 200, "{path}: {body}");
    }
    // Services select by type and cluster IP (v1.31): headless ones by `None`.
    for (name, spec) in [
        ("web", json!({"ports": [{"port": 80}]})),
        (
            "db",
            json!({"clusterIP": "None", "ports": [{"port": 5432}]}),
        ),
        (
            "edge",
            json!({"type": "NodePort", "ports": [{"port": 443}]}),
        ),
    ] {
        let (code, body) = call(
            &client,
            "POST",
            "/api/v1/namespaces/default/services",
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}),
        )
        .await;
        assert_eq!(code, 200, "{body}");
    }
    let names = |list: Value| -> Vec<String> {
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i["metadata"]["name"].as_str().map(str::to_string))
            .collect()
    };
    let services = "/api/v1/namespaces/default/services?fieldSelector=";
    let (_, headless) = call(
        &client,
        "GET",
        &format!("{services}spec.clusterIP%3DNone"),
        Value::Null,
    )
    .await;
    assert_eq!(names(headless), ["db"]);
    let (_, cluster_ips) = call(
        &client,
        "GET",
        &format!("{services}spec.type%3DClusterIP,spec.clusterIP!%3DNone"),
        Value::Null,
    )
    .await;
    // `default` also holds the API server's own `kubernetes` Service.
    assert_eq!(names(cluster_ips), ["kubernetes", "web"]);
    let (code, status) = call(
        &client,
        "GET",
        &format!("{services}spec.ports%3Dx"),
        Value::Null,
    )
    .await;
    assert_eq!(
        (code, status["message"].as_str()),
        (400, Some("field label not supported: spec.ports"))
    );
}

#[tokio::test]
async fn a_terminating_namespace_answers_a_second_delete_with_a_conflict() {
    let server = ApiServer::new();
    let client = server.client();
    let (code, _) = call(
        &client,
        "POST",
        "/api/v1/namespaces",
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
    )
    .await;
    assert_eq!(code, 200);
    // Something in it holds the namespace in Terminating.
    let (code, _) = call(
        &client,
        "POST",
        "/api/v1/namespaces/team/configmaps",
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
    )
    .await;
    assert_eq!(code, 200);
    let (_, first) = call(&client, "DELETE", "/api/v1/namespaces/team", Value::Null).await;
    assert_eq!(first["status"]["phase"], "Terminating");
    assert!(first["metadata"]["deletionTimestamp"].is_string());
    assert!(
        first["metadata"]
            .get("deletionGracePeriodSeconds")
            .is_none(),
        "{first}"
    );
    let (code, status) = call(&client, "DELETE", "/api/v1/namespaces/team", Value::Null).await;
    assert_eq!(code, 409);
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on namespaces \"team\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."
    );
}

#[tokio::test]
async fn a_namespace_deleted_in_foreground_or_orphan_mode_still_waits_for_its_content() {
    let server = ApiServer::new();
    let client = server.client();
    for policy in ["Foreground", "Orphan"] {
        let ns = policy.to_lowercase();
        let (code, _) = call(
            &client,
            "POST",
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .await;
        assert_eq!(code, 200);
        let held = format!("/api/v1/namespaces/{ns}/configmaps/held");
        let (code, _) = call(
            &client,
            "POST",
            &format!("/api/v1/namespaces/{ns}/configmaps"),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}),
        )
        .await;
        assert_eq!(code, 200);
        let (code, _) = call(
            &client,
            "DELETE",
            &format!("/api/v1/namespaces/{ns}"),
            json!({"propagationPolicy": policy}),
        )
        .await;
        assert_eq!(code, 200);
        let (code, namespace) = call(
            &client,
            "GET",
            &format!("/api/v1/namespaces/{ns}"),
            Value::Null,
        )
        .await;
        assert_eq!(code, 200, "{policy}: the namespace went before its content");
        assert_eq!(namespace["status"]["phase"], "Terminating", "{policy}");
        // The collector's own finalizer is done (the namespace has no dependents); what holds
        // the namespace is its content.
        assert!(
            namespace["metadata"].get("finalizers").is_none(),
            "{policy}: {namespace}"
        );
        let (code, _) = call(
            &client,
            "PATCH",
            &held,
            json!({"metadata": {"finalizers": null}}),
        )
        .await;
        assert_eq!(code, 200);
        let (code, _) = call(
            &client,
            "GET",
            &format!("/api/v1/namespaces/{ns}"),
            Value::Null,
        )
        .await;
        assert_eq!(code, 404, "{policy}: an empty terminating namespace goes");
    }
}

#[tokio::test]
async fn a_json_patch_that_cannot_apply_gets_the_generic_unprocessable_answer() {
    let server = ApiServer::new();
    let client = server.client();
    config_map(&client, "p", &[]).await;
    for patch in [
        json!([{"op": "test", "path": "/metadata/name", "value": "other"}]),
        json!([{"op": "bogus", "path": "/data"}]),
    ] {
        let req = Request::patch(format!("{CM}/p"))
            .header("content-type", "application/json-patch+json")
            .body(serde_json::to_vec(&patch).expect("json"))
            .expect("request");
        let status = match client.request::<Value>(req).await {
            Err(kube::Error::Api(s)) => serde_json::to_value(&*s).expect("status"),
            other => panic!("{patch}: {other:?}"),
        };
        assert_eq!(status["code"], 422, "{status}");
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["message"],
            "the server rejected our request due to an error in our request"
        );
    }
}
