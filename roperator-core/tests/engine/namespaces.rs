//! Children that depend on each other: a Namespace and children in it, created in one sync.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_and_children_in_it_are_created_in_one_pass_without_a_failed_write() {
    let server = server();
    server
        .register_crd(&crd("Team", "teams", false))
        .expect("the Team CRD registers");
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
    let writes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("teams/") && w.resource != "events")
        .collect();
    let failed: Vec<_> = writes.iter().filter(|w| w.status >= 400).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // 1 Namespace + 3 ConfigMaps + 1 status, in one pass.
    assert_eq!(writes.len(), 5, "{writes:#?}");
    assert_eq!(writes[0].resource, "namespaces", "{writes:#?}");
    assert_eq!(server.objects("v1", "ConfigMap", Some("team-red")).len(), 3);
    op.stop().await.unwrap();
}
