//! Adoption of orphans and release of children the handler stops returning.

use kube::api::{DeleteParams, Patch, PatchParams, PropagationPolicy};
use roperator_core::prelude::*;
use roperator_core::testkit::{ApiServer, TestOperator};
use serde_json::{Value, json};

use crate::common::*;

fn controller_of(child: &Value) -> Option<String> {
    child["metadata"]["ownerReferences"]
        .as_array()?
        .iter()
        .find(|r| r["controller"] == true)
        .map(|r| r["uid"].as_str().unwrap_or_default().to_string())
}

fn children(server: &ApiServer) -> Vec<Value> {
    configmaps(server)
        .into_iter()
        .chain(secrets(server))
        .filter(|o| o["metadata"]["labels"]["roperator.io/managed-by"] == OPERATOR)
        .collect()
}

fn uid_of(server: &ApiServer, name: &str) -> String {
    server
        .object("test.roperator.io/v1", "Echo", Some(NS), name)
        .unwrap()["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string()
}

fn sync_error(server: &ApiServer, name: &str) -> Option<String> {
    server.object("test.roperator.io/v1", "Echo", Some(NS), name)?["status"]["syncError"]
        .as_str()
        .map(str::to_string)
}

async fn delete_orphaning(server: &ApiServer, name: &str) {
    let dp = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Orphan),
        ..DeleteParams::default()
    };
    echoes(server).delete(name, &dp).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_created_again_adopts_the_children_its_predecessor_orphaned() {
    let server = server();
    // Secrets are recreated on change: adoption must not recreate them either.
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::recreate())
        .with_adoption();
    let op = TestOperator::start(&server, config, echo_handler);
    create_echo(&server, "p", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    let before: Vec<(String, String)> = children(&server)
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"].to_string(),
                c["metadata"]["uid"].to_string(),
            )
        })
        .collect();
    assert_eq!(before.len(), 3);

    delete_orphaning(&server, "p").await;
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "p")
            .is_none()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    assert!(children(&server).iter().all(|c| controller_of(c).is_none()));

    server.clear_requests();
    create_echo(&server, "p", json!({"message": "hi"})).await;
    let new_uid = uid_of(&server, "p");
    op.wait_until(LONG, || {
        children(&server)
            .iter()
            .all(|c| controller_of(c).as_deref() == Some(new_uid.as_str()))
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();

    let after: Vec<(String, String)> = children(&server)
        .iter()
        .map(|c| {
            (
                c["metadata"]["name"].to_string(),
                c["metadata"]["uid"].to_string(),
            )
        })
        .collect();
    assert_eq!(after, before, "the same objects, adopted");
    for child in children(&server) {
        assert_eq!(
            child["metadata"]["labels"]["roperator.io/parent-uid"],
            new_uid.as_str()
        );
    }
    let writes = operator_writes(&server);
    let child_writes: Vec<(String, String)> = writes
        .iter()
        .filter(|w| w.resource == "configmaps" || w.resource == "secrets")
        .map(|w| (w.verb.clone(), w.name.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        child_writes.len(),
        3,
        "one patch per child: {child_writes:?}"
    );
    assert!(
        child_writes.iter().all(|(verb, _)| verb == "patch"),
        "{child_writes:?}"
    );
    let reasons: Vec<String> = events_for(&server, "p").into_iter().map(|e| e.1).collect();
    assert!(reasons.contains(&"ChildAdopted".to_string()), "{reasons:?}");
    assert!(!reasons.iter().any(|r| r == "NameCollision"), "{reasons:?}");

    // Managed as usual afterwards.
    echoes(&server)
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"message": "new"}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "p-config")
            .is_some_and(|c| c["data"]["message"] == "new")
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_with_another_controller_is_never_adopted_and_the_error_names_it() {
    let server = server();
    let op = TestOperator::start(&server, config().with_adoption(), echo_handler);
    create(
        &server,
        k8s_types::core::v1::ConfigMap,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "owner", "namespace": NS}}),
    )
    .await;
    let owner = server.object("v1", "ConfigMap", Some(NS), "owner").unwrap();
    create(
        &server,
        k8s_types::core::v1::ConfigMap,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "q-config", "namespace": NS,
                            "labels": {"roperator.io/managed-by": OPERATOR},
                            "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner",
                                                 "uid": owner["metadata"]["uid"], "controller": true}]},
               "data": {"theirs": "yes"}}),
    )
    .await;
    let taken = server
        .object("v1", "ConfigMap", Some(NS), "q-config")
        .unwrap();
    create_echo(&server, "q", json!({"message": "hi"})).await;
    op.wait_until(LONG, || sync_error(&server, "q").is_some())
        .await
        .unwrap();
    let error = sync_error(&server, "q").unwrap();
    assert!(error.contains("ConfigMap default/q-config"), "{error}");
    assert!(
        error.contains("its controller is ConfigMap owner"),
        "{error}"
    );
    let reasons: Vec<String> = events_for(&server, "q").into_iter().map(|e| e.1).collect();
    assert!(
        reasons.contains(&"NameCollision".to_string()),
        "{reasons:?}"
    );
    assert!(
        !reasons.contains(&"ChildAdopted".to_string()),
        "{reasons:?}"
    );
    let untouched = server
        .object("v1", "ConfigMap", Some(NS), "q-config")
        .unwrap();
    assert_eq!(
        untouched["metadata"]["resourceVersion"],
        taken["metadata"]["resourceVersion"]
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_adoption_an_orphan_is_a_collision_that_says_how_to_adopt_it() {
    let server = server();
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "o", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    delete_orphaning(&server, "o").await;
    op.wait_until(LONG, || {
        server
            .object("test.roperator.io/v1", "Echo", Some(NS), "o")
            .is_none()
    })
    .await
    .unwrap();
    create_echo(&server, "o", json!({"message": "hi"})).await;
    op.wait_until(LONG, || sync_error(&server, "o").is_some())
        .await
        .unwrap();
    let error = sync_error(&server, "o").unwrap();
    assert!(error.contains("no controller"), "{error}");
    assert!(error.contains("ChildConfig::with_adoption"), "{error}");
    assert!(children(&server).iter().all(|c| controller_of(c).is_none()));
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_released_child_outlives_its_parent_and_a_later_parent_adopts_it() {
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(
            k8s_types::core::v1::ConfigMap,
            ChildConfig::replace()
                .with_prune(Prune::Release)
                .with_adoption(),
        )
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let op = TestOperator::start(&server, config, echo_handler);
    create_echo(&server, "r", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    let more = server
        .object("v1", "ConfigMap", Some(NS), "r-more")
        .unwrap();

    server.clear_requests();
    echoes(&server)
        .patch(
            "r",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"more": false}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "r-more")
            .is_some_and(|c| controller_of(&c).is_none())
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let released = server
        .object("v1", "ConfigMap", Some(NS), "r-more")
        .unwrap();
    assert_eq!(released["metadata"]["uid"], more["metadata"]["uid"]);
    assert_eq!(released["data"], more["data"]);
    assert!(released["metadata"]["labels"]["roperator.io/parent-uid"].is_null());
    assert_eq!(
        released["metadata"]["labels"]["roperator.io/managed-by"],
        OPERATOR
    );
    assert!(
        operator_writes(&server).iter().all(|w| w.verb != "delete"),
        "released, not deleted"
    );
    let reasons: Vec<String> = events_for(&server, "r").into_iter().map(|e| e.1).collect();
    assert!(
        reasons.contains(&"ChildReleased".to_string()),
        "{reasons:?}"
    );

    // Deleting the parent (in the background, as kubectl does) leaves it alone.
    echoes(&server)
        .delete("r", &DeleteParams::background())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "r-config")
            .is_none()
    })
    .await
    .unwrap();
    assert!(
        server
            .object("v1", "ConfigMap", Some(NS), "r-more")
            .is_some()
    );

    // A new parent that asks for it adopts it as it is: no write to its content.
    create_echo(&server, "r", json!({"message": "hi"})).await;
    let uid = uid_of(&server, "r");
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "r-more")
            .is_some_and(|c| controller_of(&c).as_deref() == Some(uid.as_str()))
    })
    .await
    .unwrap();
    let adopted = server
        .object("v1", "ConfigMap", Some(NS), "r-more")
        .unwrap();
    assert_eq!(adopted["metadata"]["uid"], more["metadata"]["uid"]);
    op.stop().await.unwrap();
}
