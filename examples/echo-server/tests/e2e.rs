//! The echo-server operator, with the real engine, against the testkit's in-memory API server:
//! create, change the message, scale, delete; a message read from a ConfigMap.

use std::time::Duration;

use echo_server::{EchoServer, EchoServerSpec, Phase};
use example_support::wait::{eventually, exists, gone, until};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use roperator_testkit::{ApiServer, FaultRule};
use serde_json::json;

const NS: &str = "default";

fn args(d: &Deployment) -> Vec<String> {
    d.spec
        .template
        .spec
        .as_ref()
        .and_then(|p| p.containers[0].args.clone())
        .unwrap_or_default()
}

/// The operator running in the background against `server`, as the binary runs it.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), roperator_core::Error>>,
}

fn start(server: &ApiServer) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let operator = echo_server::operator(server.client(), echo_server::operator_config())
        .with_server_address(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_shutdown_signal(async {
            let _ = stopped.await;
        });
    let task = tokio::spawn(echo_server::run(operator));
    Running { stop, task }
}

impl Running {
    async fn shut_down(self) {
        let _ = self.stop.send(());
        let result = tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the operator stops within 30 s of the shutdown signal")
            .expect("the operator task does not panic");
        result.expect("the operator shuts down cleanly");
    }
}

/// A server with the EchoServer CRD, reporting Deployments available as soon as they are
/// written (there are no pods).
fn server_with_workloads() -> ApiServer {
    let server = ApiServer::new();
    server
        .register_crd(&echo_server::crd())
        .expect("the CRD registers");
    server.simulate_workloads(true);
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_scale_and_delete_an_echo_server() {
    let server = server_with_workloads();
    let operator = start(&server);

    let client = server.client();
    let echoes: Api<EchoServer> = Api::namespaced(client.clone(), NS);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let services: Api<Service> = Api::namespaced(client.clone(), NS);

    // Create: the children appear, owned by the parent, and the status reaches Ready.
    let mut echo = EchoServer::new("web", EchoServerSpec::new("hello"));
    echo.spec.replicas = 2;
    let created = echoes
        .create(&PostParams::default(), &echo)
        .await
        .expect("create");
    let uid = created.metadata.uid.clone().expect("a uid");
    let deployment = exists("the Deployment", &deployments, "web").await;
    assert_eq!(args(&deployment), ["-text=hello", "-listen=:8080"]);
    assert_eq!(deployment.spec.replicas, Some(2));
    let owner = &deployment
        .metadata
        .owner_references
        .as_ref()
        .expect("owner references")[0];
    assert_eq!(
        (owner.uid.as_str(), owner.controller),
        (uid.as_str(), Some(true))
    );
    let service = exists("the Service", &services, "web").await;
    assert_eq!(
        service.spec.and_then(|s| s.ports).expect("ports")[0].port,
        8080
    );
    let ready = until("status Ready", &echoes, "web", |e| {
        phase(e) == Some(Phase::Ready)
    })
    .await
    .and_then(|e| e.status)
    .expect("a status");
    assert_eq!(ready.ready_replicas, 2);
    assert_eq!(ready.observed_generation, Some(1));
    let with_finalizer = echoes.get("web").await.expect("get");
    assert!(
        with_finalizer
            .finalizers()
            .iter()
            .any(|f| f == echo_server::FINALIZER),
        "the engine adds the finalizer"
    );

    // Update the message: the Deployment's args follow, the status describes generation 2.
    echoes
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": "bonjour"}})),
        )
        .await
        .expect("patch the message");
    until(
        "the new message in the Deployment",
        &deployments,
        "web",
        |d| d.is_some_and(|d| args(d) == ["-text=bonjour", "-listen=:8080"]),
    )
    .await;
    until("status of generation 2", &echoes, "web", |e| {
        let status = e.and_then(|e| e.status.as_ref());
        status.is_some_and(|s| s.observed_generation == Some(2) && s.phase == Phase::Ready)
    })
    .await;

    // Scale: the Deployment's replicas follow, and so does the status.
    echoes
        .patch(
            "web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .expect("patch the replicas");
    until("3 ready replicas in the status", &echoes, "web", |e| {
        let status = e.and_then(|e| e.status.as_ref());
        status.is_some_and(|s| s.ready_replicas == 3 && s.phase == Phase::Ready)
    })
    .await;
    assert_eq!(
        deployments.get("web").await.expect("get").spec.replicas,
        Some(3)
    );

    // Delete: the finalizer is removed, the parent goes, and its children go with it.
    echoes
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");
    gone("the EchoServer to be gone", &echoes, "web").await;
    gone("the Deployment to be gone", &deployments, "web").await;
    gone("the Service to be gone", &services, "web").await;

    operator.shut_down().await;
}

/// A message as large as an API server lets a Deployment carry (the Deployment holds it twice at
/// most: in its args, never in an annotation), served, changed and deleted like any other. With
/// the former last-applied annotation, the Deployment of such a message was refused: all
/// annotations of an object may hold 256 KiB at most.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_270_kb_message_is_served_changed_and_deleted() {
    const SIZE: usize = 270 * 1000;
    let server = ApiServer::new();
    server
        .register_crd(&echo_server::crd())
        .expect("the CRD registers");
    server.simulate_workloads(true);
    let operator = start(&server);
    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    let text = |d: &Deployment| args(d).first().cloned().unwrap_or_default();

    let first = "a".repeat(SIZE);
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("large", EchoServerSpec::new(first.clone())),
        )
        .await
        .expect("create");
    let deployment = exists("the Deployment", &deployments, "large").await;
    assert_eq!(text(&deployment), format!("-text={first}"));
    let annotations: usize = deployment
        .annotations()
        .iter()
        .map(|(k, v)| k.len() + v.len())
        .sum();
    assert!(annotations < 1024, "{annotations} bytes of annotations");
    until("status Ready", &echoes, "large", |e| {
        phase(e) == Some(Phase::Ready)
    })
    .await;

    let second = "b".repeat(SIZE);
    echoes
        .patch(
            "large",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"message": second}})),
        )
        .await
        .expect("patch the message");
    until(
        "the new message in the Deployment",
        &deployments,
        "large",
        |d| d.is_some_and(|d| text(d) == format!("-text={second}")),
    )
    .await;
    until("status of generation 2", &echoes, "large", |e| {
        let status = e.and_then(|e| e.status.as_ref());
        status.is_some_and(|s| s.observed_generation == Some(2) && s.phase == Phase::Ready)
    })
    .await;

    echoes
        .delete("large", &DeleteParams::default())
        .await
        .expect("delete");
    gone("the EchoServer to be gone", &echoes, "large").await;
    gone("the Deployment to be gone", &deployments, "large").await;
    operator.shut_down().await;
    // No write of the operator was refused along the way.
    let refused: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| r.user_agent.starts_with("echo-server/") && matches!(r.status, 400 | 413 | 422))
        .map(|r| (r.verb, r.path, r.status))
        .collect();
    assert_eq!(refused, vec![]);
}

/// The controller owner reference's UID of `object`, if any.
fn controller_uid<K: ResourceExt>(object: &K) -> Option<String> {
    object
        .owner_references()
        .iter()
        .find(|r| r.controller == Some(true))
        .map(|r| r.uid.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echo_server_deleted_with_orphan_propagation_and_created_again_adopts_its_children() {
    let server = server_with_workloads();
    let operator = start(&server);
    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    let services: Api<Service> = Api::namespaced(server.client(), NS);
    let create = || async {
        echoes
            .create(
                &PostParams::default(),
                &EchoServer::new("kept", EchoServerSpec::new("hello")),
            )
            .await
            .expect("create")
    };
    create().await;
    until("status Ready", &echoes, "kept", |e| {
        phase(e) == Some(Phase::Ready)
    })
    .await;
    let deployment = exists("the Deployment", &deployments, "kept").await;
    let service = exists("the Service", &services, "kept").await;

    // `kubectl delete echoserver kept --cascade=orphan`
    echoes
        .delete("kept", &DeleteParams::orphan())
        .await
        .expect("delete");
    gone("the EchoServer to be gone", &echoes, "kept").await;
    until("the Deployment orphaned", &deployments, "kept", |d| {
        d.is_some_and(|d| controller_uid(d).is_none())
    })
    .await;

    server.clear_requests();
    let again = create().await;
    let new_uid = again.uid().expect("a uid");
    until("the Deployment adopted", &deployments, "kept", |d| {
        d.is_some_and(|d| controller_uid(d).as_deref() == Some(new_uid.as_str()))
    })
    .await;
    until("the Service adopted", &services, "kept", |s| {
        s.is_some_and(|s| controller_uid(s).as_deref() == Some(new_uid.as_str()))
    })
    .await;
    until("status Ready", &echoes, "kept", |e| {
        phase(e) == Some(Phase::Ready)
    })
    .await;
    let adopted = deployments.get("kept").await.expect("get");
    assert_eq!(adopted.uid(), deployment.uid(), "the same Deployment");
    let adopted_service = services.get("kept").await.expect("get");
    assert_eq!(adopted_service.uid(), service.uid(), "the same Service");
    operator.shut_down().await;
    let child_writes: Vec<(String, String)> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|r| r.user_agent.starts_with("echo-server/"))
        .filter(|r| r.resource == "deployments" || r.resource == "services")
        .map(|r| (r.verb, r.resource))
        .collect();
    assert_eq!(
        child_writes,
        vec![
            ("patch".to_string(), "deployments".to_string()),
            ("patch".to_string(), "services".to_string())
        ],
        "one adoption each, nothing deleted or created"
    );
}

/// The phase in the status of `echo`, if there is one.
fn phase(echo: Option<&EchoServer>) -> Option<Phase> {
    Some(echo?.status.as_ref()?.phase)
}

/// EchoServers as the API server stores them, which is what `kubectl get -o yaml` shows: read
/// raw, not through the Rust type, so that a field the CRD does not declare (and the server
/// therefore prunes) cannot hide behind a serde default.
fn raw_echoes(server: &ApiServer) -> Api<DynamicObject> {
    Api::namespaced_with(server.client(), NS, &ApiResource::erase::<EchoServer>(&()))
}

/// `status.syncError` of a raw EchoServer.
fn sync_error(echo: Option<&DynamicObject>) -> Option<&str> {
    echo?.data["status"]["syncError"].as_str()
}

/// `status.phase` of a raw EchoServer.
fn raw_phase(echo: Option<&DynamicObject>) -> Option<&str> {
    echo?.data["status"]["phase"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_shows_its_error_in_the_status_until_a_sync_succeeds() {
    let server = ApiServer::new();
    server
        .register_crd(&echo_server::crd())
        .expect("the CRD registers");
    server.simulate_workloads(true);
    // The API server refuses to create Services for now, so every sync of `web` fails.
    server.faults().add(
        FaultRule::new()
            .verb("create")
            .resource("services")
            .status(500),
    );
    let operator = start(&server);
    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("web", EchoServerSpec::new("hello")),
        )
        .await
        .expect("create");

    let raw = raw_echoes(&server);
    let with_error = until("the sync error in the status", &raw, "web", |e| {
        sync_error(e).is_some()
    })
    .await;
    let shown = sync_error(with_error.as_ref()).expect("a sync error");
    assert!(
        shown.contains("create Service default/web failed"),
        "{shown}"
    );
    // The Rust type reads it too, for tools written against it.
    let typed = echoes
        .get("web")
        .await
        .expect("get")
        .status
        .expect("a status");
    assert_eq!(typed.sync_error.as_deref(), Some(shown));

    // Once Services can be created again, a retry succeeds and the error goes away.
    server.faults().clear();
    until("status Ready without a sync error", &raw, "web", |e| {
        raw_phase(e) == Some("Ready") && sync_error(e).is_none()
    })
    .await;

    operator.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_cannot_name_a_service_is_refused_in_the_status() {
    let server = ApiServer::new();
    server
        .register_crd(&echo_server::crd())
        .expect("the CRD registers");
    let operator = start(&server);
    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    // A valid EchoServer name (dots are allowed), but not a valid Service name.
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("web.v2", EchoServerSpec::new("hello")),
        )
        .await
        .expect("create");

    let refused = until(
        "the handler's refusal in the status",
        &raw_echoes(&server),
        "web.v2",
        |e| sync_error(e).is_some(),
    )
    .await;
    let shown = sync_error(refused.as_ref()).expect("a sync error");
    assert!(
        shown.contains("default/web.v2") && shown.contains("metadata.name"),
        "{shown}"
    );
    // Refused before any write: no half set of children.
    assert!(deployments.get_opt("web.v2").await.expect("get").is_none());

    operator.shut_down().await;
}

/// Fails the first two releases, and records when each call came.
#[derive(Clone, Default)]
struct FailsTwice {
    calls: std::sync::Arc<std::sync::Mutex<Vec<std::time::Instant>>>,
}

impl FailsTwice {
    fn calls(&self) -> Vec<std::time::Instant> {
        self.calls.lock().expect("not poisoned").clone()
    }
}

impl echo_server::ExternalResources for FailsTwice {
    async fn release(&self, _namespace: &str, _name: &str) -> Result<(), String> {
        let call = {
            let mut calls = self.calls.lock().expect("not poisoned");
            calls.push(std::time::Instant::now());
            calls.len() - 1
        };
        if call < 2 {
            Err("the external service is unavailable".to_string())
        } else {
            Ok(())
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_echo_server_stays_until_external_cleanup_succeeds() {
    let server = ApiServer::new();
    server
        .register_crd(&echo_server::crd())
        .expect("the CRD registers");
    let external = FailsTwice::default();
    let operator = roperator_core::testkit::TestOperator::spawn(
        roperator_core::Operator::new("echo-server", server.client()).with_async_controller(
            echo_server::operator_config(),
            echo_server::EchoHandler::new(external.clone()),
        ),
    );

    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("web", EchoServerSpec::new("hi")),
        )
        .await
        .expect("create");
    until("the finalizer", &echoes, "web", |e| {
        e.is_some_and(|e| e.finalizers().iter().any(|f| f == echo_server::FINALIZER))
    })
    .await;
    // Settled: no event of the first sync's writes is still on its way. One arriving while
    // finalize runs would call it again at once, whatever delay it asked for (see the engine
    // test `a_child_changing_does_not_bring_a_pending_finalize_forward`).
    operator
        .converge(Duration::from_secs(20))
        .await
        .expect("the operator settles");
    echoes
        .delete("web", &DeleteParams::default())
        .await
        .expect("delete");

    // Cleanup fails: the EchoServer stays, being deleted, and says why.
    let message = until("the failed cleanup in the status", &echoes, "web", |e| {
        let deleting = e.is_some_and(|e| e.metadata.deletion_timestamp.is_some());
        let status = e.and_then(|e| e.status.as_ref());
        deleting && status.is_some_and(|s| s.message.contains("cleanup failed"))
    })
    .await
    .and_then(|e| e.status)
    .expect("a status")
    .message;
    assert!(
        message.contains("the external service is unavailable"),
        "{message}"
    );

    // A retry succeeds: the finalizer goes, and so do the EchoServer and its children.
    gone("the EchoServer to be gone", &echoes, "web").await;
    gone("the Deployment to be gone", &deployments, "web").await;
    // Each retry waits the delay the finalize hook asked for (writing the status in between
    // does not bring it forward).
    let calls = external.calls();
    assert_eq!(
        calls.len(),
        3,
        "two failed releases, then one that succeeds"
    );
    for pair in calls.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= echo_server::handler::CLEANUP_RETRY,
            "retried after {gap:?}, before the {:?} asked for",
            echo_server::handler::CLEANUP_RETRY
        );
    }

    operator.stop().await.expect("clean shutdown");
}

/// `status.conditions[type=Synced].status` of a raw EchoServer.
fn synced(echo: Option<&DynamicObject>) -> Option<&str> {
    echo?.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Synced")?["status"]
        .as_str()
}

/// The Warning Events about the EchoServer `name`, as `reason: note`.
fn warnings(server: &ApiServer, name: &str) -> Vec<String> {
    server
        .objects("events.k8s.io/v1", "Event", Some(NS))
        .into_iter()
        .filter(|e| e["regarding"]["name"] == name && e["type"] == "Warning")
        .map(|e| {
            let text = |field: &str| e[field].as_str().unwrap_or_default().to_string();
            format!("{}: {}", text("reason"), text("note"))
        })
        .collect()
}

fn greetings(text: Option<&str>) -> ConfigMap {
    let mut cm = ConfigMap::default();
    cm.metadata.name = Some("greetings".into());
    cm.data = Some(
        [("text", text), ("other", Some("not this one"))]
            .into_iter()
            .filter_map(|(k, v)| Some((k.to_string(), v?.to_string())))
            .collect(),
    );
    cm
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_follows_its_config_map_and_a_broken_reference_changes_nothing() {
    let server = server_with_workloads();
    let operator = start(&server);
    let echoes: Api<EchoServer> = Api::namespaced(server.client(), NS);
    let raw = raw_echoes(&server);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    let services: Api<Service> = Api::namespaced(server.client(), NS);
    let config_maps: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let serves = |text: &'static str| {
        move |d: Option<&Deployment>| d.is_some_and(|d| args(d)[0] == format!("-text={text}"))
    };

    config_maps
        .create(&PostParams::default(), &greetings(Some("one")))
        .await
        .expect("create the ConfigMap");
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("web", EchoServerSpec::from_config_map("greetings", "text")),
        )
        .await
        .expect("create");
    until("the ConfigMap's text", &deployments, "web", serves("one")).await;
    until("Ready and Synced", &raw, "web", |e| {
        raw_phase(e) == Some("Ready") && synced(e) == Some("True")
    })
    .await;

    // The ConfigMap changes: the Deployment follows, with no change to the EchoServer.
    config_maps
        .patch(
            "greetings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"text": "two"}})),
        )
        .await
        .expect("patch the ConfigMap");
    until("the new text", &deployments, "web", serves("two")).await;

    // The key goes: the sync fails naming the ConfigMap and the key; the children stay.
    config_maps
        .patch(
            "greetings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"text": null}})),
        )
        .await
        .expect("remove the key");
    let failing = until("the missing key in the status", &raw, "web", |e| {
        sync_error(e).is_some_and(|m| m.contains("no key"))
    })
    .await;
    let shown = sync_error(failing.as_ref()).expect("a sync error");
    assert!(
        shown.ends_with(
            "EchoServer default/web: ConfigMap default/greetings has no key \"text\" in its \
             data (spec.messageFrom.configMapKeyRef.key); its keys are: other"
        ),
        "{shown}"
    );
    assert_eq!(synced(failing.as_ref()), Some("False"));
    // The last good phase is still there; the Synced printer column (the condition) is what
    // tells the two apart in `kubectl get`.
    assert_eq!(raw_phase(failing.as_ref()), Some("Ready"));
    eventually(
        "a Warning Event naming the ConfigMap and the key",
        || async {
            warnings(&server, "web")
                .into_iter()
                .find(|w| w.contains("ConfigMap default/greetings has no key \"text\""))
        },
    )
    .await;
    let deployment = deployments.get("web").await.expect("the Deployment stays");
    assert_eq!(
        args(&deployment)[0],
        "-text=two",
        "the pods keep their text"
    );
    assert!(services.get_opt("web").await.expect("get").is_some());

    // The ConfigMap goes: a different error, still nothing deleted.
    config_maps
        .delete("greetings", &DeleteParams::default())
        .await
        .expect("delete the ConfigMap");
    until("the missing ConfigMap in the status", &raw, "web", |e| {
        sync_error(e).is_some_and(|m| {
            m.ends_with(
                "EchoServer default/web: ConfigMap default/greetings does not exist \
                 (spec.messageFrom.configMapKeyRef.name)",
            )
        })
    })
    .await;
    assert_eq!(
        args(&deployments.get("web").await.expect("the Deployment stays"))[0],
        "-text=two"
    );

    // It comes back: the sync succeeds, the error goes, the pods serve the new text.
    config_maps
        .create(&PostParams::default(), &greetings(Some("three")))
        .await
        .expect("create the ConfigMap again");
    until(
        "the text of the new ConfigMap",
        &deployments,
        "web",
        serves("three"),
    )
    .await;
    until("the error cleared", &raw, "web", |e| {
        sync_error(e).is_none() && synced(e) == Some("True")
    })
    .await;
    let written: Vec<_> = server
        .requests()
        .writes()
        .into_iter()
        .filter(|w| w.user_agent.starts_with("echo-server/") && w.resource == "configmaps")
        .collect();
    assert!(
        written.is_empty(),
        "a related object is never written: {written:#?}"
    );

    operator.shut_down().await;
}
