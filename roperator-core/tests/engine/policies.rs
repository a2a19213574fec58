//! Update policies, drift, name collisions and the leadership gate.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams, PostParams};
use roperator_core::leader::{BoxFuture, LeaderGate, LeaderState, NotLeader, WritePermit};
use roperator_core::prelude::*;
use roperator_core::testkit::TestOperator;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::common::*;

fn uid(v: &Value) -> String {
    v["metadata"]["uid"].as_str().unwrap_or("").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_replaces_the_object_and_on_delete_never_updates() {
    let server = server();
    let config = ControllerConfig::new(OPERATOR, ECHO)
        .with_child(k8s_types::core::v1::ConfigMap, ChildConfig::recreate())
        .with_child(k8s_types::core::v1::Secret, ChildConfig::on_delete());
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        let p = req.parent().json();
        Ok::<_, Error>(
            SyncResponse::new()
                .with_child(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "r"}, "data": {"v": p["spec"]["v"]}}))
                .with_child(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"v": p["spec"]["secret"]}})),
        )
    });
    create_echo(&server, "p", json!({"v": "1", "secret": "MQ=="})).await;
    op.converge(LONG).await.unwrap();
    let cm = server.object("v1", "ConfigMap", Some(NS), "r").unwrap();
    let secret = server.object("v1", "Secret", Some(NS), "s").unwrap();

    echoes(&server)
        .patch(
            "p",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"v": "2", "secret": "Mg=="}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "r")
            .is_some_and(|c| c["data"]["v"] == "2")
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let cm2 = server.object("v1", "ConfigMap", Some(NS), "r").unwrap();
    assert_ne!(uid(&cm), uid(&cm2), "recreate makes a new object");
    let secret2 = server.object("v1", "Secret", Some(NS), "s").unwrap();
    assert_eq!(secret2["data"]["v"], "MQ==", "on_delete never updates");
    assert_eq!(
        secret2["metadata"]["resourceVersion"],
        secret["metadata"]["resourceVersion"]
    );
    let writes = operator_writes(&server);
    assert!(
        writes
            .iter()
            .all(|w| !(w.verb == "update" && w.resource == "configmaps"))
    );
    assert!(
        writes
            .iter()
            .all(|w| w.resource != "secrets" || w.verb == "create")
    );

    // on_delete: deleting the child by hand brings the new content.
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(server.client(), NS)
        .delete("s", &Default::default())
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "Secret", Some(NS), "s")
            .is_some_and(|s| s["data"]["v"] == "Mg==")
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_is_repaired_but_fields_others_add_are_left_alone() {
    let server = server();
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "d", json!({"message": "hi"})).await;
    op.converge(LONG).await.unwrap();
    server.clear_requests();
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    // Someone adds a label and an annotation: not drift, no write.
    cms.patch(
        "d-config",
        &PatchParams::default(),
        &Patch::Merge(
            &json!({"metadata": {"labels": {"team": "x"}, "annotations": {"note": "y"}}}),
        ),
    )
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    assert_eq!(operator_writes(&server).len(), 0);
    // Someone changes a field the handler sets: repaired, and their label survives.
    cms.patch(
        "d-config",
        &PatchParams::default(),
        &Patch::Merge(&json!({"data": {"message": "tampered"}})),
    )
    .await
    .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "d-config")
            .is_some_and(|c| c["data"]["message"] == "hi")
    })
    .await
    .unwrap();
    let repaired = server
        .object("v1", "ConfigMap", Some(NS), "d-config")
        .unwrap();
    assert_eq!(repaired["metadata"]["labels"]["team"], "x");

    // Someone changes a Secret's value: repaired too, although the record of what we wrote
    // holds no value (annotations are printed by `kubectl describe`).
    let secret = server.object("v1", "Secret", Some(NS), "d-secret").unwrap();
    let record = secret["metadata"]["annotations"][roperator_core::RECORD_ANNOTATION]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!record.contains("c2VjcmV0"), "{record}");
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(server.client(), NS);
    secrets
        .patch(
            "d-secret",
            &PatchParams::default(),
            &Patch::Merge(&json!({"data": {"token": "dGFtcGVyZWQ="}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "Secret", Some(NS), "d-secret")
            .is_some_and(|c| c["data"]["token"] == "c2VjcmV0")
    })
    .await
    .unwrap();
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_taken_by_an_unmanaged_object_is_an_error_not_an_overwrite() {
    let server = server();
    let cms: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let theirs = roperator_testkit::fixtures::configmap("c-config", [("owner", "someone else")]);
    cms.create(&PostParams::default(), &theirs).await.unwrap();
    let op = TestOperator::start(&server, config(), echo_handler);
    create_echo(&server, "c", json!({"message": "hi"})).await;
    op.wait_until(LONG, || {
        events_for(&server, "c").iter().any(|(t, r, n)| {
            t == "Warning"
                && r == "NameCollision"
                && n.contains(
                    "ConfigMap default/c-config already exists and is not managed by this controller",
                )
        })
    })
    .await
    .unwrap();
    let untouched = server
        .object("v1", "ConfigMap", Some(NS), "c-config")
        .unwrap();
    assert_eq!(untouched["data"], json!({"owner": "someone else"}));
    assert!(untouched["metadata"].get("ownerReferences").is_none());
    // No child was updated or deleted (the parent's status shows the error).
    assert!(operator_writes(&server).iter().all(|w| {
        w.subresource.as_deref() == Some("status") || (w.verb != "update" && w.verb != "delete")
    }));
    let parent = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "c")
        .unwrap();
    assert!(
        parent["status"]["syncError"]
            .as_str()
            .is_some_and(|e| e.contains("not managed by this controller")),
        "{parent}"
    );

    // Once the other object is gone, the operator creates its own.
    cms.delete("c-config", &Default::default()).await.unwrap();
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some(NS), "c-config")
            .is_some_and(|c| c["data"]["message"] == "hi")
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    let parent = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "c")
        .unwrap();
    assert_eq!(
        status_without_synced(&parent, true),
        json!({"message": "hi", "observedGeneration": 1})
    );
    op.stop().await.unwrap();
}

/// A gate a test switches by hand.
struct SwitchGate {
    state: watch::Sender<LeaderState>,
    revoked: std::sync::Mutex<CancellationToken>,
}

impl SwitchGate {
    fn new() -> Self {
        Self {
            state: watch::channel(LeaderState::default()).0,
            revoked: std::sync::Mutex::new(CancellationToken::new()),
        }
    }

    fn set_leader(&self, leader: bool, term: u64) {
        if !leader {
            self.revoked.lock().unwrap().cancel();
        } else {
            *self.revoked.lock().unwrap() = CancellationToken::new();
        }
        self.state.send_replace(LeaderState {
            is_leader: leader,
            term,
            leader_id: Some(1),
        });
    }
}

impl LeaderGate for SwitchGate {
    fn acquire(&self) -> BoxFuture<'_, Result<WritePermit, NotLeader>> {
        let state = self.state.borrow().clone();
        let revoked = self.revoked.lock().unwrap().clone();
        Box::pin(async move {
            if state.is_leader {
                Ok(WritePermit::new(state.term, revoked, None))
            } else {
                Err(NotLeader::Follower { leader_id: None })
            }
        })
    }

    fn subscribe(&self) -> watch::Receiver<LeaderState> {
        self.state.subscribe()
    }

    fn replica_name(&self) -> Option<String> {
        Some("replica-1".to_string())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_writes_nothing_and_a_new_leader_converges_and_stamps_its_term() {
    let server = server();
    let gate = Arc::new(SwitchGate::new());
    let op = TestOperator::start_with_gate(&server, config(), echo_handler, gate.clone());
    for i in 0..5 {
        create_echo(&server, &format!("f{i}"), json!({"message": "hi"})).await;
    }
    op.wait_ready(LONG).await.unwrap();
    op.converge(LONG).await.unwrap();
    assert!(
        operator_writes(&server).is_empty(),
        "a follower must not write"
    );
    assert!(op.monitor().is_ready(), "a follower keeps its caches warm");

    gate.set_leader(true, 7);
    op.wait_until(LONG, || managed_children(&server).len() == 15)
        .await
        .unwrap();
    let cm = server
        .object("v1", "ConfigMap", Some(NS), "f0-config")
        .unwrap();
    assert_eq!(
        cm["metadata"]["annotations"]["roperator.io/leader-term"],
        "7"
    );
    let writes = operator_writes(&server);
    assert!(
        writes
            .iter()
            .all(|w| w.user_agent.contains("(replica replica-1)")),
        "{:?}",
        writes[0].user_agent
    );
    op.stop().await.unwrap();
}

/// The requests an operator sends, as `(verb, path)`, recorded as they leave (before the API
/// server answers), with a signal on the first create.
#[derive(Clone, Default)]
struct Sent {
    requests: Arc<std::sync::Mutex<Vec<(String, String)>>>,
    in_flight: Arc<std::sync::atomic::AtomicUsize>,
    first_create: Arc<tokio::sync::Notify>,
}

impl Sent {
    fn client(&self, inner: kube::Client) -> kube::Client {
        let sent = self.clone();
        let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
            let (inner, sent) = (inner.clone(), sent.clone());
            async move {
                let verb = request.method().to_string();
                let path = request.uri().path().to_string();
                // Counted down when the request ends, answered or dropped (a cancelled sync).
                let _in_flight = InFlight::enter(&sent.in_flight);
                sent.requests.lock().unwrap().push((verb.clone(), path));
                if verb == "POST" {
                    sent.first_create.notify_one();
                }
                inner.send(request).await
            }
        });
        kube::Client::new(service, NS)
    }

    fn writes(&self) -> Vec<(String, String)> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|(verb, path)| verb != "GET" && !path.contains("/events"))
            .cloned()
            .collect()
    }
}

struct InFlight(Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<std::sync::atomic::AtomicUsize>) -> Self {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(Arc::clone(count))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_leadership_mid_batch_stops_the_remaining_writes() {
    use std::sync::atomic::Ordering::SeqCst;
    let server = server();
    let gate = Arc::new(SwitchGate::new());
    gate.set_leader(true, 3);
    let sent = Sent::default();
    let op = TestOperator::spawn(
        Operator::new(OPERATOR, sent.client(server.client()))
            .with_controller(config(), echo_handler)
            .with_leader_gate(gate.clone()),
    );
    op.wait_ready(LONG).await.unwrap();
    // Slow creates keep the batch in flight while leadership goes.
    for resource in ["configmaps", "secrets"] {
        server.faults().add(
            roperator_core::testkit::FaultRule::new()
                .verb("create")
                .resource(resource)
                .latency(std::time::Duration::from_millis(400)),
        );
    }
    create_echo(&server, "lost", json!({"message": "hi"})).await;
    sent.first_create.notified().await;
    gate.set_leader(false, 3);
    op.wait_until(LONG, || {
        metric(&op, "roperator_syncs_total{result=\"not_leader\"}") >= 1.0
            && sent.in_flight.load(SeqCst) == 0
    })
    .await
    .unwrap();
    // The children's creates went out together (one wave, their permit checked before
    // leadership went); nothing after them: no status write, no other request.
    let writes = sent.writes();
    assert!(writes.len() <= 3, "{writes:#?}");
    assert!(
        writes.iter().all(|(verb, path)| verb == "POST"
            && (path.ends_with("/configmaps") || path.ends_with("/secrets"))),
        "{writes:#?}"
    );

    server.faults().clear();
    gate.set_leader(true, 4);
    op.wait_until(LONG, || managed_children(&server).len() == 3)
        .await
        .unwrap();
    op.converge(LONG).await.unwrap();
    let parent = server
        .object("test.roperator.io/v1", "Echo", Some(NS), "lost")
        .unwrap();
    assert_eq!(parent["status"]["message"], "hi");
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_parents_in_watched_namespaces_and_matching_the_selector_are_synced() {
    use k8s_openapi::api::core::v1::Namespace;
    let server = server();
    let namespaces: Api<Namespace> = Api::all(server.client());
    for ns in ["team-a", "team-b"] {
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": ns}})).unwrap(),
            )
            .await
            .unwrap();
    }
    let config = config()
        .with_namespaces(["team-a", NS])
        .with_parent_selector("tier=managed");
    let op = TestOperator::start(&server, config, echo_handler);
    let create = |ns: &'static str, name: &'static str, tier: &'static str| {
        let api = echoes_in(&server, ns);
        let body = json!({
            "apiVersion": "test.roperator.io/v1", "kind": "Echo",
            "metadata": {"name": name, "namespace": ns, "labels": {"tier": tier}},
            "spec": {"message": "hi"},
        });
        async move {
            api.create(
                &PostParams::default(),
                &serde_json::from_value(body).unwrap(),
            )
            .await
            .unwrap();
        }
    };
    create("team-a", "in-scope", "managed").await;
    create("team-b", "other-namespace", "managed").await;
    create("team-a", "other-tier", "manual").await;
    op.wait_until(LONG, || {
        server
            .object("v1", "ConfigMap", Some("team-a"), "in-scope-config")
            .is_some()
    })
    .await
    .unwrap();
    op.converge(LONG).await.unwrap();
    for (ns, name) in [("team-b", "other-namespace"), ("team-a", "other-tier")] {
        assert!(
            server
                .object("v1", "ConfigMap", Some(ns), &format!("{name}-config"))
                .is_none(),
            "{ns}/{name} is out of scope"
        );
        let parent = server
            .object("test.roperator.io/v1", "Echo", Some(ns), name)
            .unwrap();
        assert!(parent.get("status").is_none(), "{ns}/{name}: {parent}");
    }
    op.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pruned_job_takes_its_pods_with_it() {
    use k8s_openapi::api::core::v1::Pod;
    let server = server();
    let config = config().with_child(k8s_types::batch::v1::Job, ChildConfig::recreate());
    let op = TestOperator::start(&server, config, |req: &SyncRequest| {
        let mut response = SyncResponse::new();
        if req.parent().json()["spec"]["job"] == true {
            response = response.with_child(&json!({
                "apiVersion": "batch/v1", "kind": "Job",
                "metadata": {"name": format!("{}-job", req.parent().name())},
                "spec": {"template": {"spec": {"restartPolicy": "Never",
                    "containers": [{"name": "c", "image": "busybox"}]}}},
            }));
        }
        Ok::<_, Error>(response)
    });
    create_echo(&server, "batch", json!({"job": true})).await;
    op.converge(LONG).await.unwrap();
    let job = server
        .object("batch/v1", "Job", Some(NS), "batch-job")
        .expect("the Job is created");
    // The Pod a Job controller would have made (there is none here).
    let pods: Api<Pod> = Api::namespaced(server.client(), NS);
    pods.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "metadata": {"name": "batch-job-x", "ownerReferences": [{
                "apiVersion": "batch/v1", "kind": "Job", "name": "batch-job",
                "uid": job["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true,
            }]},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    // A Job deleted without a propagation policy orphans its Pods; the engine's prune does not.
    echoes(&server)
        .patch(
            "batch",
            &PatchParams::default(),
            &Patch::Merge(&json!({"spec": {"job": false}})),
        )
        .await
        .unwrap();
    op.wait_until(LONG, || {
        server
            .object("batch/v1", "Job", Some(NS), "batch-job")
            .is_none()
            && server
                .object("v1", "Pod", Some(NS), "batch-job-x")
                .is_none()
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "pod left: {:?}",
            server.object("v1", "Pod", Some(NS), "batch-job-x")
        )
    });
    op.stop().await.unwrap();
}
