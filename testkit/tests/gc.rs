//! Garbage collection by ownerReferences, deletion options and deletecollection.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, Preconditions, PropagationPolicy,
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

async fn make(
    cms: &Api<ConfigMap>,
    name: &str,
    owners: &[&ConfigMap],
    finalizers: &[&str],
) -> ConfigMap {
    // One controller at most: a real server refuses a second (`422`).
    let refs: Vec<Value> = owners
        .iter()
        .enumerate()
        .map(|(i, o)| {
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "name": o.metadata.name, "uid": o.metadata.uid,
                "controller": i == 0, "blockOwnerDeletion": true
            })
        })
        .collect();
    let mut meta = json!({"name": name, "finalizers": finalizers});
    if !refs.is_empty() {
        meta["ownerReferences"] = json!(refs);
    }
    let body: ConfigMap = serde_json::from_value(json!({"metadata": meta})).expect("cm");
    cms.create(&PostParams::default(), &body)
        .await
        .expect("create")
}

async fn exists(cms: &Api<ConfigMap>, name: &str) -> bool {
    cms.get_opt(name).await.expect("get").is_some()
}

#[tokio::test]
async fn background_deletion_removes_dependents_through_chains() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = make(&cms, "a", &[], &[]).await;
    let b = make(&cms, "b", &[&a], &[]).await;
    make(&cms, "c", &[&b], &[]).await;
    cms.delete("a", &DeleteParams::background())
        .await
        .expect("delete");
    for name in ["a", "b", "c"] {
        assert!(!exists(&cms, name).await, "{name} should be gone");
    }
}

#[tokio::test]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let owner = make(&cms, "owner", &[], &[]).await;
    make(&cms, "held", &[&owner], &["example.com/hold"]).await;
    make(&cms, "free", &[&owner], &[]).await;
    let res = cms
        .delete("owner", &DeleteParams::foreground())
        .await
        .expect("delete");
    let pending = res.left().expect("owner still present");
    assert!(pending.metadata.deletion_timestamp.is_some());
    assert!(
        pending
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"foregroundDeletion".to_string())
    );
    assert!(!exists(&cms, "free").await);
    let held = cms.get("held").await.expect("held still there");
    assert!(held.metadata.deletion_timestamp.is_some());
    assert!(
        exists(&cms, "owner").await,
        "owner waits for its blocking dependent"
    );

    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert!(!exists(&cms, "held").await);
    assert!(
        !exists(&cms, "owner").await,
        "owner goes once the dependent is gone"
    );
}

#[tokio::test]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let owner = make(&cms, "owner", &[], &[]).await;
    make(&cms, "child", &[&owner], &[]).await;
    cms.delete("owner", &DeleteParams::orphan())
        .await
        .expect("delete");
    assert!(!exists(&cms, "owner").await);
    let child = cms.get("child").await.expect("child kept");
    assert!(
        child
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
}

#[tokio::test]
async fn dependents_of_missing_owners_are_collected() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let ghost: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "ghost", "uid": "00000000-0000-0000-0000-000000000000"}}),
    )
    .expect("cm");
    make(&cms, "orphaned", &[&ghost], &[]).await;
    assert!(!exists(&cms, "orphaned").await);

    // With one live owner left, only the dangling reference is dropped.
    let live = make(&cms, "live", &[], &[]).await;
    make(&cms, "two-owners", &[&live, &ghost], &[]).await;
    let kept = cms.get("two-owners").await.expect("kept");
    let refs = kept.metadata.owner_references.unwrap_or_default();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].name, "live");
}

#[tokio::test]
async fn delete_preconditions() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    let a = make(&cms, "a", &[], &[]).await;
    let wrong_uid = DeleteParams {
        preconditions: Some(Preconditions {
            uid: Some("nope".into()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    let err = api_err(cms.delete("a", &wrong_uid).await.expect_err("uid mismatch"));
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    let wrong_rv = DeleteParams {
        preconditions: Some(Preconditions {
            uid: None,
            resource_version: Some("1".into()),
        }),
        ..DeleteParams::default()
    };
    let err = api_err(cms.delete("a", &wrong_rv).await.expect_err("rv mismatch"));
    assert_eq!(err.code, 409);
    let right = DeleteParams {
        preconditions: Some(Preconditions {
            uid: a.metadata.uid.clone(),
            resource_version: a.metadata.resource_version.clone(),
        }),
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    cms.delete("a", &right).await.expect("delete");
    assert!(!exists(&cms, "a").await);
}

#[tokio::test]
async fn delete_collection_with_label_selector() {
    let server = ApiServer::new();
    let cms: Api<ConfigMap> = Api::default_namespaced(server.client());
    for (name, app) in [("a", "web"), ("b", "web"), ("c", "db")] {
        let body: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": {"app": app}}}))
                .expect("cm");
        cms.create(&PostParams::default(), &body)
            .await
            .expect("create");
    }
    let mut held: ConfigMap = serde_json::from_value(
        json!({"metadata": {"name": "d", "labels": {"app": "web"}, "finalizers": ["example.com/hold"]}}),
    )
    .expect("cm");
    cms.create(&PostParams::default(), &held)
        .await
        .expect("create");
    // The answer is the list as it was read before anything was deleted: the object a
    // finalizer keeps shows no deletionTimestamp, and items carry no apiVersion or kind.
    let req =
        http::Request::delete("/api/v1/namespaces/default/configmaps?labelSelector=app%3Dweb")
            .body(Vec::new())
            .expect("request");
    let answer: serde_json::Value = server
        .client()
        .request(req)
        .await
        .expect("deletecollection");
    assert_eq!(answer["kind"], "ConfigMapList");
    let items = answer["items"].as_array().expect("items");
    let names: Vec<&str> = items
        .iter()
        .filter_map(|i| i["metadata"]["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "b", "d"]);
    assert!(
        items
            .iter()
            .all(|i| i.get("kind").is_none() && i["metadata"].get("deletionTimestamp").is_none()),
        "{answer}"
    );
    held = cms.get("d").await.expect("held by its finalizer");
    assert!(held.metadata.deletion_timestamp.is_some());
    cms.patch(
        "d",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("finalizer removed");
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["c", "kube-root-ca.crt"]);
    assert_eq!(server.requests().count(|r| r.verb == "deletecollection"), 1);

    // With a limit, only the first page is deleted, as upstream's store stops after it, and
    // the answer is that page as listed, with its continue token and what was left after it.
    // (kube's `delete_collection` sends no limit: the request is written by hand.)
    let req = http::Request::delete("/api/v1/namespaces/default/configmaps?limit=1")
        .body(Vec::new())
        .expect("request");
    let page: serde_json::Value = serde_json::from_str(
        &server
            .client()
            .request_text(req)
            .await
            .expect("deletecollection"),
    )
    .expect("a list");
    assert_eq!(page["items"][0]["metadata"]["name"], "c", "{page}");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert!(
        page["metadata"]["continue"]
            .as_str()
            .is_some_and(|c| !c.is_empty()),
        "{page}"
    );
    assert_eq!(page["metadata"]["remainingItemCount"], 1, "{page}");
    let left: Vec<String> = cms
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["kube-root-ca.crt"]);
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_content() {
    let server = ApiServer::new();
    let nss: Api<Namespace> = Api::all(server.client());
    let err = api_err(
        nss.delete("default", &DeleteParams::default())
            .await
            .expect_err("protected"),
    );
    assert_eq!((err.code, err.reason.as_str()), (403, "Forbidden"));
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": "team"}})).expect("ns");
    nss.create(&PostParams::default(), &ns)
        .await
        .expect("create ns");
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), "team");
    make(&cms, "held", &[], &["example.com/hold"]).await;
    make(&cms, "free", &[], &[]).await;
    nss.delete("team", &DeleteParams::default())
        .await
        .expect("delete ns");
    let terminating = nss.get("team").await.expect("still terminating");
    assert_eq!(
        terminating.status.and_then(|s| s.phase).as_deref(),
        Some("Terminating")
    );
    assert!(!exists(&cms, "free").await);
    // New content is refused while terminating.
    let body: ConfigMap = serde_json::from_value(json!({"metadata": {"name": "new"}})).expect("cm");
    let err = api_err(
        cms.create(&PostParams::default(), &body)
            .await
            .expect_err("terminating"),
    );
    assert_eq!(err.code, 403);
    cms.patch(
        "held",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .expect("release");
    assert!(
        nss.get_opt("team").await.expect("get").is_none(),
        "namespace goes once empty"
    );
}

/// batch/v1 Jobs orphan their Pods when a delete names no propagation policy (upstream keeps
/// that default for backward compatibility, with a warning); an explicit policy is obeyed.
#[tokio::test]
async fn job_delete_defaults_to_orphaning_its_pods() {
    use http_body_util::BodyExt;
    use k8s_openapi::api::batch::v1::Job;
    use k8s_openapi::api::core::v1::Pod;
    use tower::ServiceExt;

    let server = ApiServer::new();
    let jobs: Api<Job> = Api::default_namespaced(server.client());
    let pods: Api<Pod> = Api::default_namespaced(server.client());
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "c", "image": "busybox"}]
        }}}
    }))
    .expect("job");
    let pod_of = |job: &Job, name: &str| -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": name, "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": job.metadata.name,
                "uid": job.metadata.uid, "controller": true, "blockOwnerDeletion": true
            }]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("pod")
    };

    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("job");
    pods.create(&PostParams::default(), &pod_of(&created, "once-a"))
        .await
        .expect("pod");
    // Straight to the service, to see the warning header.
    let req = http::Request::builder()
        .method("DELETE")
        .uri("/apis/batch/v1/namespaces/default/jobs/once")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .expect("request");
    let resp = server.service().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status().as_u16(), 200);
    let warnings: Vec<String> = resp
        .headers()
        .get_all(http::header::WARNING)
        .iter()
        .map(|v| v.to_str().expect("ascii").to_string())
        .collect();
    let _ = resp.into_body().collect().await;
    assert_eq!(
        warnings,
        [
            "299 - \"child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning\""
        ]
    );
    let orphan = pods
        .get("once-a")
        .await
        .expect("the pod is orphaned, not deleted");
    assert!(
        orphan
            .metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );

    let created = jobs
        .create(&PostParams::default(), &job)
        .await
        .expect("job again");
    pods.create(&PostParams::default(), &pod_of(&created, "once-b"))
        .await
        .expect("pod");
    jobs.delete("once", &DeleteParams::background())
        .await
        .expect("delete in the background");
    assert!(pods.get_opt("once-b").await.expect("get").is_none());
}
