//! Namespace children: a Namespace and children in it created in one sync (the children wait
//! for the Namespace), and removed with it (the Namespace takes them).

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

/// A server with the cluster-scoped Team CRD.
fn team_server() -> roperator_core::testkit::ApiServer {
    let server = server();
    server
        .register_crd(&crd("Team", "teams", false))
        .expect("the Team CRD registers");
    server
}

/// The writes the `teams` controller made.
fn team_writes(
    server: &roperator_core::testkit::ApiServer,
) -> Vec<roperator_testkit::RequestRecord> {
    server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("teams/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_and_children_in_it_are_created_in_one_pass_without_a_failed_write() {
    let server = team_server();
    let config = ControllerConfig::new("teams", TEAM)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Namespace, ChildConfig::replace());
    // The handler lists the namespaced children first: the engine must still create the
    // Namespace before them.
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        let ns = format!("team-{}", req.parent().name());
        let mut response = SyncResponse::new();
        for i in 0..3 {
            response = response.with_child(&json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": format!("settings-{i}"), "namespace": ns},
            }));
        }
        Ok::<_, Error>(
            response
                .with_child(
                    &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
                )
                .with_status(&json!({"namespace": ns})),
        )
    });
    op.wait_ready(LONG).await.unwrap();
    server.clear_requests();
    create(
        &server,
        TEAM,
        json!({"apiVersion": "test.roperator.io/v1", "kind": "Team", "metadata": {"name": "red"}, "spec": {}}),
    )
    .await;
    op.converge(LONG).await.unwrap();
    let writes: Vec<_> = team_writes(&server)
        .into_iter()
        .filter(|w| w.resource != "events")
        .collect();
    let failed: Vec<_> = writes.iter().filter(|w| w.status >= 400).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // 1 Namespace + 3 ConfigMaps + 1 status, in one pass.
    assert_eq!(writes.len(), 5, "{writes:#?}");
    assert_eq!(writes[0].resource, "namespaces", "{writes:#?}");
    assert_eq!(configmaps_in(&server, "team-red").len(), 3);
    op.stop().await.unwrap();
}

/// The plan prunes every child no longer desired in one wave: the Namespace and, beside it, the
/// children inside it. Those are going with the Namespace anyway (the namespace controller
/// deletes its content), so their deletes are redundant writes on a real server, and fail with
/// 404 where the namespace's content is already gone (the testkit empties a namespace at once;
/// a busy real namespace controller may too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_namespace_child_deletes_only_the_namespace() {
    let server = team_server();
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
    op.wait_until(LONG, || configmaps_in(&server, "red-b").len() == 3)
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
    assert!(configmaps_in(&server, "red-b").is_empty());
    let deletes: Vec<_> = team_writes(&server)
        .into_iter()
        .filter(|w| w.verb == "delete")
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
