//! Decorators: attachments to existing objects selected by labels or annotations, removed when
//! the object stops matching.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};

use crate::common::*;

const NAMESPACE: K8sType = k8s_types::core::v1::Namespace;
const NETWORK_POLICY: K8sType = k8s_types::networking::v1::NetworkPolicy;
const ISOLATE: &str = "example.com/isolate";

fn isolation() -> ControllerConfig {
    ControllerConfig::decorator("isolation", NAMESPACE)
        .with_parent_selector(format!("{ISOLATE}=true"))
        .with_child(NETWORK_POLICY, ChildConfig::replace())
        .with_resync_period(Duration::from_millis(300))
}

/// A default-deny-ingress policy in the decorated namespace, and a label saying so.
fn deny_ingress(req: &SyncRequest) -> Result<SyncResponse, Error> {
    let ns = req.parent().name();
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "default-deny-ingress", "namespace": ns},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
        }))
        .with_parent_label("example.com/isolated", "yes"))
}

async fn namespace(server: &roperator_core::testkit::ApiServer, name: &str, isolate: bool) {
    let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    if isolate {
        ns["metadata"]["labels"] = json!({ISOLATE: "true"});
    }
    create(server, NAMESPACE, ns).await;
}

fn policy(server: &roperator_core::testkit::ApiServer, ns: &str) -> Option<Value> {
    server.object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(ns),
        "default-deny-ingress",
    )
}

fn label(server: &roperator_core::testkit::ApiServer, ns: &str, key: &str) -> Option<String> {
    server.object("v1", "Namespace", None, ns)?["metadata"]["labels"][key]
        .as_str()
        .map(str::to_string)
}

async fn set_isolate(server: &roperator_core::testkit::ApiServer, ns: &str, value: Value) {
    api_for(server, NAMESPACE, None)
        .patch(
            ns,
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"labels": {ISOLATE: value}}})),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_labelled_namespace_gets_a_policy_and_losing_the_label_removes_it() {
    let server = server();
    let op = TestOperator::start(&server, isolation(), deny_ingress);
    namespace(&server, "team-a", true).await;
    namespace(&server, "team-b", false).await;
    op.wait_until(LONG, || {
        policy(&server, "team-a").is_some()
            && label(&server, "team-a", "example.com/isolated").as_deref() == Some("yes")
    })
    .await
    .unwrap();
    let attached = policy(&server, "team-a").unwrap();
    assert_eq!(
        attached["metadata"]["ownerReferences"][0]["kind"],
        "Namespace"
    );
    assert_eq!(attached["metadata"]["ownerReferences"][0]["name"], "team-a");
    assert!(policy(&server, "team-b").is_none());

    // Steady state, over several resyncs: no write, and never a status write or a spec write.
    op.converge(LONG).await.unwrap();
    server.clear_requests();
    let syncs = metric(
        &op,
        "roperator_syncs_total{controller=\"isolation\",result=\"success\"}",
    );
    op.wait_until(LONG, || {
        metric(
            &op,
            "roperator_syncs_total{controller=\"isolation\",result=\"success\"}",
        ) >= syncs + 3.0
    })
    .await
    .unwrap();
    let writes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("isolation/") && w.resource != "events")
        .collect();
    assert!(writes.is_empty(), "{writes:#?}");

    set_isolate(&server, "team-b", json!("true")).await;
    op.wait_until(LONG, || policy(&server, "team-b").is_some())
        .await
        .unwrap();

    // The label goes: the policy and the label the decorator set go too; others' labels stay.
    set_isolate(&server, "team-a", Value::Null).await;
    op.wait_until(LONG, || {
        policy(&server, "team-a").is_none()
            && label(&server, "team-a", "example.com/isolated").is_none()
    })
    .await
    .unwrap();
    assert!(server.object("v1", "Namespace", None, "team-a").is_some());
    assert!(policy(&server, "team-b").is_some());
    let status_writes = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("isolation/") && w.subresource.is_some())
        .count();
    assert_eq!(
        status_writes, 0,
        "a decorator writes no status unless asked"
    );
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_removed_while_the_decorator_was_down_is_released_after_its_restart() {
    let server = server();
    let op = TestOperator::start(&server, isolation(), deny_ingress);
    namespace(&server, "team-a", true).await;
    namespace(&server, "team-b", true).await;
    op.wait_until(LONG, || {
        policy(&server, "team-a").is_some()
            && label(&server, "team-a", "example.com/isolated").as_deref() == Some("yes")
            && policy(&server, "team-b").is_some()
    })
    .await
    .unwrap();
    op.stop().await.unwrap();

    set_isolate(&server, "team-a", Value::Null).await;
    let op = TestOperator::start(&server, isolation(), deny_ingress);
    op.wait_until(LONG, || {
        policy(&server, "team-a").is_none()
            && label(&server, "team-a", "example.com/isolated").is_none()
    })
    .await
    .unwrap();
    assert!(
        policy(&server, "team-b").is_some(),
        "the one still selected keeps its policy"
    );
    op.stop().await.unwrap();
}

/// A decorator with a finalizer: finalize runs when the object stops matching, before the
/// attachments go.
struct Counting(Arc<AtomicUsize>);

impl Handler for Counting {
    type Error = Error;

    fn sync(&self, req: &SyncRequest) -> Result<SyncResponse, Error> {
        deny_ingress(req)
    }

    fn finalize(&self, req: &SyncRequest) -> Result<FinalizeResponse, Error> {
        assert!(req.is_finalizing());
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(FinalizeResponse::done())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorator_with_a_finalizer_finalizes_an_object_that_stops_matching() {
    let server = server();
    let finalized = Arc::new(AtomicUsize::new(0));
    let config = isolation().with_finalizer("isolation.example.com/cleanup");
    let op = TestOperator::start(&server, config, Counting(Arc::clone(&finalized)));
    namespace(&server, "team-c", true).await;
    op.wait_until(LONG, || policy(&server, "team-c").is_some())
        .await
        .unwrap();
    let finalizers = |server: &roperator_core::testkit::ApiServer| {
        server.object("v1", "Namespace", None, "team-c").unwrap()["metadata"]["finalizers"].clone()
    };
    assert_eq!(
        finalizers(&server),
        json!(["isolation.example.com/cleanup"])
    );
    set_isolate(&server, "team-c", json!("false")).await;
    op.wait_until(LONG, || {
        let left = finalizers(&server);
        policy(&server, "team-c").is_none() && (left.is_null() || left == json!([]))
    })
    .await
    .unwrap_or_else(|e| {
        panic!(
            "{e}: policy {:?}, finalizers {}, events {:?}",
            policy(&server, "team-c"),
            finalizers(&server),
            events_for(&server, "team-c")
        )
    });
    assert_eq!(finalized.load(Ordering::SeqCst), 1);
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_selected_by_annotation_are_decorated_until_the_annotation_goes() {
    let server = server();
    let config = ControllerConfig::decorator("mirror", k8s_types::core::v1::ConfigMap)
        .with_parent_annotation_selector("example.com/mirror=true")
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace());
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        Ok::<_, Error>(SyncResponse::new().with_child(&json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("{}-mirror", req.parent().name())},
            "stringData": {"copy": req.parent().json()["data"]["v"]},
        })))
    });
    let cm = |name: &str, annotated: bool| {
        let mut cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": name, "namespace": NS}, "data": {"v": name}});
        if annotated {
            cm["metadata"]["annotations"] = json!({"example.com/mirror": "true"});
        }
        cm
    };
    create(&server, k8s_types::core::v1::ConfigMap, cm("shown", true)).await;
    create(&server, k8s_types::core::v1::ConfigMap, cm("hidden", false)).await;
    let mirror = |name: &str| server.object("v1", "Secret", Some(NS), &format!("{name}-mirror"));
    op.wait_until(LONG, || mirror("shown").is_some())
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    assert!(mirror("hidden").is_none());
    api_for(&server, k8s_types::core::v1::ConfigMap, Some(NS))
        .patch(
            "shown",
            &PatchParams::default(),
            &Patch::Merge(&json!({"metadata": {"annotations": {"example.com/mirror": null}}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || mirror("shown").is_none())
        .await
        .unwrap();
    op.stop().await.unwrap();
}

/// A decorator that attaches a report ConfigMap and says so in the decorated object's status.
fn reporting(req: &SyncRequest) -> Result<SyncResponse, Error> {
    Ok(SyncResponse::new()
        .with_child(&json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("{}-report", req.parent().name())},
            "data": {"reported": "yes"},
        }))
        .with_status(&json!({"reports": 1})))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decorator_writes_a_status_only_when_asked_and_only_through_the_status_subresource() {
    let server = server();
    let labelled = |name: &str| {
        json!({"apiVersion": ECHO.api_version, "kind": "Echo",
               "metadata": {"name": name, "namespace": NS, "labels": {"example.com/report": "true"}},
               "spec": {"message": "hi"}})
    };

    // Asked to: the decorated Echo (a custom type with a status subresource) gets the
    // handler's status plus the engine's fields, and its spec is left alone.
    let config = ControllerConfig::decorator("reporter", ECHO)
        .with_parent_selector("example.com/report=true")
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace())
        .with_status_writes();
    let op = TestOperator::start(&server, config, reporting);
    create(&server, ECHO, labelled("reported")).await;
    let echo = |name: &str| server.object(ECHO.api_version, "Echo", Some(NS), name);
    op.wait_until(LONG, || {
        echo("reported").is_some_and(|e| e["status"]["reports"] == 1)
    })
    .await
    .unwrap();
    let decorated = echo("reported").unwrap();
    assert_eq!(decorated["status"]["observedGeneration"], 1, "{decorated}");
    assert_eq!(decorated["spec"], json!({"message": "hi"}));
    let writes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("reporter/") && w.resource == "echoes")
        .collect();
    assert!(!writes.is_empty());
    assert!(
        writes
            .iter()
            .all(|w| w.subresource.as_deref() == Some("status")),
        "only status writes reach the decorated object: {writes:#?}"
    );
    op.stop().await.unwrap();

    // Not asked to: returning a status is an error that names the fix, and nothing is written
    // to the decorated object's status.
    let config = ControllerConfig::decorator("silent", ECHO)
        .with_parent_selector("example.com/report=true")
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::replace());
    let op = TestOperator::start(&server, config, reporting);
    create(&server, ECHO, labelled("unreported")).await;
    // The failure is counted, and reported in an Event on the decorated object.
    op.wait_until(LONG, || {
        metric(
            &op,
            "roperator_syncs_total{controller=\"silent\",result=\"invalid\"}",
        ) >= 1.0
            && events_for(&server, "unreported")
                .iter()
                .any(|(_, _, message)| message.contains("with_status_writes"))
    })
    .await
    .unwrap_or_else(|e| panic!("{e}: {:?}", events_for(&server, "unreported")));
    assert!(echo("unreported").unwrap().get("status").is_none());
    assert!(
        server
            .object("v1", "ConfigMap", Some(NS), "unreported-report")
            .is_none(),
        "an invalid answer is not half applied"
    );
    let silent_writes: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("silent/") && w.resource != "events")
        .collect();
    assert!(silent_writes.is_empty(), "{silent_writes:#?}");
    op.stop().await.unwrap();

    // A type without a status subresource cannot show one: refused at start, naming the fix.
    let config = ControllerConfig::decorator("impossible", k8s_types::core::v1::ConfigMap)
        .with_parent_selector("example.com/report=true")
        .with_child(k8s_types::core::v1::Secret, ChildConfig::replace())
        .with_status_writes();
    let op = TestOperator::start(&server, config, reporting);
    op.wait_until(LONG, || op.is_finished())
        .await
        .expect("the operator stops by itself");
    let refused = op.stop().await.expect_err("refused at start");
    assert!(
        refused.to_string().contains("remove `with_status_writes`"),
        "{refused}"
    );
}
