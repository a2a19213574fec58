//! A Namespace child that is no longer desired goes with everything in it: the engine deletes
//! the Namespace, and the children it has inside go with it.

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;

use crate::common::*;

static TEAM: K8sType = K8sType {
    api_version: "test.roperator.io/v1",
    kind: "Team",
    plural: "teams",
    namespaced: false,
};

/// The plan prunes every child no longer desired in one wave: the Namespace and, beside it, the
/// children inside it. Those are going with the Namespace anyway (the namespace controller
/// deletes its content), so their deletes are redundant writes on a real server, and fail with
/// 404 where the namespace's content is already gone (the testkit empties a namespace at once;
/// a busy real namespace controller may too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_namespace_child_deletes_only_the_namespace() {
    let server = server();
    server
        .register_crd(&crd("Team", "teams", false))
        .expect("the Team CRD registers");
    let config = ControllerConfig::new("teams", TEAM)
        .with_child(k8s_types::core::v1::Namespace, ChildConfig::replace())
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
    // `spec.namespaces`: a Namespace each, with three ConfigMaps in it.
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        let mut response = SyncResponse::new();
        for ns in req.parent().json()["spec"]["namespaces"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
        {
            response = response.with_child(
                &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            );
            for i in 0..3 {
                response = response.with_child(&json!({
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": format!("settings-{i}"), "namespace": ns},
                }));
            }
        }
        Ok::<_, Error>(response)
    });
    create(
        &server,
        TEAM,
        json!({"apiVersion": "test.roperator.io/v1", "kind": "Team", "metadata": {"name": "red"},
               "spec": {"namespaces": ["red-a", "red-b"]}}),
    )
    .await;
    op.wait_until(LONG, || {
        server.objects("v1", "ConfigMap", Some("red-b")).len() == 3
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    server.clear_requests();

    api_for(&server, TEAM, None)
        .patch(
            "red",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&json!({"spec": {"namespaces": ["red-a"]}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server.object("v1", "Namespace", None, "red-b").is_none()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    assert!(server.objects("v1", "ConfigMap", Some("red-b")).is_empty());
    let deletes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("teams/") && w.verb == "delete")
        .collect();
    let described: Vec<String> = deletes
        .iter()
        .map(|w| format!("{} {} -> {}", w.verb, w.path, w.status))
        .collect();
    assert_eq!(
        described,
        ["delete /api/v1/namespaces/red-b -> 200"],
        "one delete, of the Namespace"
    );
    op.stop().await.unwrap();
}
