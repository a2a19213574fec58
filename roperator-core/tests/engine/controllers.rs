//! Several controllers in one process: shared client, watches and metrics server, separate
//! queues, so one failing or hanging controller does not hold up another.

use std::time::Duration;

use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::json;

use crate::common::*;

static OTHER: K8sType = K8sType {
    api_version: "test.roperator.io/v1",
    kind: "Other",
    plural: "others",
    namespaced: true,
};

const CONFIGMAP: K8sType = k8s_types::core::v1::ConfigMap;

/// Both controllers read the ConfigMap `shared` (same declaration: one watch).
fn reads_shared() -> RelatedConfig {
    RelatedConfig::new(|_: &Observed| vec![Select::name("shared")])
}

fn stuck_or_failing(req: &SyncRequest) -> Result<SyncResponse, Error> {
    match req.parent().name() {
        name if name.starts_with("stuck") => std::thread::sleep(Duration::from_secs(3)),
        "bad" => return Err(Error::Request("this Echo is bad on purpose".into())),
        _ => {}
    }
    copy_shared(req)
}

/// A Secret `<name>-other` with the `v` of the shared ConfigMap.
fn copy_shared(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let shared = req
        .related(CONFIGMAP, "shared")
        .map_or("none", |c| c.json()["data"]["v"].as_str().unwrap_or("none"));
    Ok(SyncResponse::new().with_child(&json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("{}-other", req.parent().name())},
        "stringData": {"shared": shared},
    })))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_controller_failing_or_hanging_does_not_stop_another_in_the_same_process() {
    let server = server();
    server
        .register_crd(&crd("Other", "others", true))
        .expect("the Other CRD registers");
    let echoes = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_related(CONFIGMAP, reads_shared())
        .with_max_concurrent_syncs(2)
        .with_sync_timeout(Duration::from_millis(300));
    let others = ControllerConfig::new("others", OTHER)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_related(CONFIGMAP, reads_shared());
    let op = TestOperator::spawn(
        Operator::new("two-controllers", server.client())
            .with_controller(echoes, stuck_or_failing)
            .with_controller(others, copy_shared),
    );
    op.wait_ready(LONG).await.unwrap();
    for name in ["stuck-1", "stuck-2", "stuck-3", "bad", "fine"] {
        create_echo(&server, name, json!({"message": "hi"})).await;
    }
    for i in 0..20 {
        create(
            &server,
            OTHER,
            json!({"apiVersion": "test.roperator.io/v1", "kind": "Other",
                   "metadata": {"name": format!("o{i:02}"), "namespace": NS}, "spec": {}}),
        )
        .await;
    }
    // Every Other converges while Echo's two sync slots are taken by stuck handlers.
    op.wait_until(LONG, || {
        server
            .objects("v1", "Secret", Some(NS))
            .iter()
            .filter(|s| s["metadata"]["labels"]["roperator.io/managed-by"] == "others")
            .count()
            == 20
    })
    .await
    .unwrap();
    assert!(
        metric(
            &op,
            "roperator_syncs_total{controller=\"others\",result=\"success\"}"
        ) >= 20.0
    );
    op.wait_until(LONG, || {
        metric(
            &op,
            "roperator_syncs_total{controller=\"echo-test\",result=\"timeout\"}",
        ) >= 2.0
            && metric(
                &op,
                "roperator_syncs_total{controller=\"echo-test\",result=\"error\"}",
            ) >= 1.0
    })
    .await
    .unwrap();
    // Events name the controller that acted.
    let reporters: Vec<String> = server
        .objects("events.k8s.io/v1", "Event", Some(NS))
        .iter()
        .filter(|e| e["regarding"]["kind"] == "Other")
        .map(|e| e["reportingController"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        !reporters.is_empty() && reporters.iter().all(|r| r == "others"),
        "{reporters:?}"
    );

    // One change of the shared ConfigMap reaches the readers of both controllers, through one
    // watch of ConfigMaps (one list and one watch request at most; no controller owns any).
    create(
        &server,
        CONFIGMAP,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "shared", "namespace": NS}, "data": {"v": "1"}}),
    )
    .await;
    op.wait_until(LONG, || {
        server
            .object("v1", "Secret", Some(NS), "o07-other")
            .is_some_and(|s| s["stringData"]["shared"] == "1" || s["data"]["shared"] == "MQ==")
            && server
                .object("v1", "Secret", Some(NS), "fine-other")
                .is_some_and(|s| s["stringData"]["shared"] == "1" || s["data"]["shared"] == "MQ==")
    })
    .await
    .unwrap();
    let configmap_reads = server
        .requests()
        .records()
        .into_iter()
        .filter(|r| {
            r.user_agent.starts_with("two-controllers/")
                && r.resource == "configmaps"
                && r.name.is_none()
        })
        .count();
    assert!(
        configmap_reads <= 2,
        "{configmap_reads} list/watch requests for ConfigMaps"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_controllers_with_one_name_or_a_closure_with_a_finalizer_are_refused_at_start() {
    let server = server();
    let ok = |_: &SyncRequest| Ok::<_, Error>(SyncResponse::new());
    let twice = Operator::new("dup", server.client())
        .with_controller(config(), ok)
        .with_controller(config(), ok)
        .with_server_disabled();
    let err = twice.run().await.unwrap_err().to_string();
    assert!(
        err.contains("controller echo-test") && err.contains("two controllers"),
        "{err}"
    );

    let closure_finalizer = Operator::new("fin", server.client())
        .with_controller(config().with_finalizer("test.roperator.io/cleanup"), ok)
        .with_server_disabled();
    let err = closure_finalizer.run().await.unwrap_err().to_string();
    assert!(err.contains("closure, which cannot finalize"), "{err}");
    assert!(err.contains("implement `Handler`"), "{err}");
}

/// A Secret `<name>-<suffix>` for each parent.
fn secret_named(suffix: &'static str) -> impl Handler {
    move |req: &SyncRequest| {
        Ok::<_, Error>(SyncResponse::new().with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{}-{suffix}", req.parent().name())},
            "stringData": {"from": suffix},
        })))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_keeps_to_its_namespaces_when_another_watches_the_same_type_everywhere() {
    let server = server();
    server
        .load_yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: elsewhere\n")
        .expect("namespace");
    let local = ControllerConfig::new("local", ECHO)
        .with_namespaces([NS])
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let global = ControllerConfig::new("global", ECHO)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let op = TestOperator::spawn(
        Operator::new("scoped", server.client())
            .with_controller(local, secret_named("local"))
            .with_controller(global, secret_named("global")),
    );
    op.wait_ready(LONG).await.unwrap();
    create_echo(&server, "here", json!({"message": "hi"})).await;
    create(
        &server,
        ECHO,
        json!({"apiVersion": ECHO.api_version, "kind": "Echo",
               "metadata": {"name": "there", "namespace": "elsewhere"}, "spec": {"message": "hi"}}),
    )
    .await;
    let secret = |ns: &str, name: &str| server.object("v1", "Secret", Some(ns), name).is_some();
    op.wait_until(LONG, || {
        secret(NS, "here-local") && secret(NS, "here-global") && secret("elsewhere", "there-global")
    })
    .await
    .unwrap();
    // The local controller never syncs the parent outside its namespace (its one sync is of
    // `here`), so writes nothing and reports nothing there.
    op.wait_until(LONG, || {
        metric(
            &op,
            "roperator_syncs_total{controller=\"local\",result=\"success\"}",
        ) >= 1.0
    })
    .await
    .unwrap();
    assert!(!secret("elsewhere", "there-local"));
    let local_writes_elsewhere = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| {
            w.user_agent.starts_with("local/") && w.namespace.as_deref() == Some("elsewhere")
        })
        .count();
    assert_eq!(local_writes_elsewhere, 0);
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_controller_whose_type_is_not_served_does_not_hold_up_another() {
    static MISSING: K8sType = K8sType {
        api_version: "missing.roperator.io/v1",
        kind: "Missing",
        plural: "missings",
        namespaced: true,
    };
    let server = server();
    server
        .register_crd(&crd("Other", "others", true))
        .expect("the Other CRD registers");
    // Its child type's CRD is not installed: its watch never lists.
    let waiting =
        ControllerConfig::new("waiting", ECHO).with_child(MISSING, ChildConfig::replace());
    let working = ControllerConfig::new("working", OTHER)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let op = TestOperator::spawn(
        Operator::new("half-served", server.client())
            .with_controller(waiting, echo_handler)
            .with_controller(working, secret_named("working")),
    );
    create(
        &server,
        OTHER,
        json!({"apiVersion": "test.roperator.io/v1", "kind": "Other",
               "metadata": {"name": "busy", "namespace": NS}, "spec": {}}),
    )
    .await;
    op.wait_until(LONG, || {
        server
            .object("v1", "Secret", Some(NS), "busy-working")
            .is_some()
    })
    .await
    .unwrap();
    assert!(
        op.wait_ready(std::time::Duration::from_millis(50))
            .await
            .is_err(),
        "the process as a whole is not ready while one controller cannot watch"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_that_hangs_on_every_parent_holds_a_bounded_number_of_threads() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let server = server();
    let (running, most, calls) = (
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
        Arc::new(AtomicUsize::new(0)),
    );
    let handler = {
        let (running, most, calls) = (running.clone(), most.clone(), calls.clone());
        move |_: &SyncRequest| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            calls.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(1500));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Error>(SyncResponse::new())
        }
    };
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_max_concurrent_syncs(1)
        .with_sync_timeout(Duration::from_millis(100));
    let op = TestOperator::start(&server, config, handler);
    for i in 0..6 {
        create_echo(&server, &format!("hangs-{i}"), json!({"message": "hi"})).await;
    }
    op.wait_until(LONG, || calls.load(Ordering::SeqCst) >= 6)
        .await
        .unwrap();
    // One slot, held by an overrunning call until it returns (without that, a new thread
    // would hang every 100 ms, one per parent).
    assert!(
        most.load(Ordering::SeqCst) == 1,
        "{} handler calls at once",
        most.load(Ordering::SeqCst)
    );
    op.stop().await.unwrap();
}
