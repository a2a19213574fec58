//! The echo-server's handler, called with hand-built requests: no API server involved.

use std::sync::Mutex;

use echo_server::{EchoHandler, EchoServer, EchoServerSpec, ExternalResources, Phase};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus};
use k8s_openapi::api::core::v1::Service;
use roperator_core::prelude::*;
use serde_json::{Value, json};

fn echo(message: &str, replicas: i32) -> EchoServer {
    let mut echo = EchoServer::new("web", EchoServerSpec::new(message));
    echo.metadata.namespace = Some("team-a".into());
    echo.metadata.uid = Some("uid-1".into());
    echo.metadata.generation = Some(1);
    echo.spec.replicas = replicas;
    echo
}

fn child<T: serde::de::DeserializeOwned>(response: &SyncResponse, kind: &str) -> T {
    let found = response
        .children()
        .iter()
        .find(|c| c["kind"] == kind)
        .unwrap_or_else(|| panic!("the response has no {kind}"));
    serde_json::from_value(found.clone()).expect("a well-formed child")
}

fn status(response: &SyncResponse) -> echo_server::EchoServerStatus {
    serde_json::from_value(response.status().expect("a status").clone()).expect("a status")
}

#[test]
fn a_new_echo_server_gets_a_deployment_and_a_service_and_is_pending() {
    let request = SyncRequest::new(&echo("hello", 2)).expect("a request");
    let response = echo_server::sync(&request).expect("the sync succeeds");
    assert_eq!(response.children().len(), 2);

    let deployment: Deployment = child(&response, "Deployment");
    assert_eq!(deployment.spec.replicas, Some(2));
    let pod = deployment.spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.containers[0].args.as_deref().expect("args"),
        ["-text=hello", "-listen=:8080"]
    );
    let service: Service = child(&response, "Service");
    assert_eq!(service.metadata.name.as_deref(), Some("web"));

    let status = status(&response);
    assert_eq!(status.phase, Phase::Pending);
    assert_eq!(status.conditions[0].reason, "DeploymentMissing");
}

#[test]
fn the_status_follows_the_observed_deployment() {
    let parent = echo("hello", 2);
    let mut observed = echo_server::children::deployment(&parent);
    observed.metadata.generation = Some(1);
    // As the deployment controller reports a finished rollout.
    observed.status = Some(DeploymentStatus {
        observed_generation: Some(1),
        replicas: Some(2),
        updated_replicas: Some(2),
        ready_replicas: Some(2),
        available_replicas: Some(2),
        ..DeploymentStatus::default()
    });
    let request = SyncRequest::new(&parent)
        .and_then(|r| r.with_child(&observed))
        .expect("a request");
    let status = status(&echo_server::sync(&request).expect("the sync succeeds"));
    assert_eq!((status.phase, status.ready_replicas), (Phase::Ready, 2));
    assert_eq!(status.conditions[0].status, "True");
}

#[test]
fn a_message_from_a_config_map_reaches_the_deployment() {
    let mut parent = echo("unused", 1);
    parent.spec = EchoServerSpec::from_config_map("greetings", "text");
    let greetings = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "greetings", "namespace": "team-a"}, "data": {"text": "salut"}});
    let request = SyncRequest::new(&parent)
        .and_then(|r| r.with_related(&greetings))
        .expect("a request");
    let response = echo_server::sync(&request).expect("the sync succeeds");
    let deployment: Deployment = child(&response, "Deployment");
    let pod = deployment.spec.template.spec.expect("pod spec");
    assert_eq!(
        pod.containers[0].args.as_deref().expect("args")[0],
        "-text=salut"
    );

    // Without the ConfigMap the sync fails (the engine then leaves the children alone).
    let err = echo_server::sync(&SyncRequest::new(&parent).expect("a request"))
        .expect_err("the ConfigMap is missing")
        .to_string();
    assert!(
        err.contains("ConfigMap team-a/greetings does not exist"),
        "{err}"
    );
}

#[test]
fn a_successful_sync_returns_no_sync_error_so_the_engine_clears_it() {
    let mut raw: Value = serde_json::to_value(echo("hello", 1)).expect("json");
    raw["status"] = json!({"phase": "Pending", "syncError": "an earlier failure"});
    let response =
        echo_server::sync(&SyncRequest::new(&raw).expect("a request")).expect("the sync succeeds");
    // The status returned replaces the whole status, so leaving the field out is what clears it.
    let returned = response.status().expect("a status");
    assert!(returned.get("syncError").is_none(), "{returned}");
}

#[test]
fn an_invalid_spec_fails_the_sync_naming_the_parent_and_the_field() {
    let mut bad = echo("hello", 1);
    bad.spec.port = 0;
    let err = echo_server::sync(&SyncRequest::new(&bad).expect("a request"))
        .expect_err("port 0 is invalid")
        .to_string();
    assert!(
        err.contains("team-a/web") && err.contains("spec.port"),
        "{err}"
    );

    let mut raw: Value = serde_json::to_value(echo("hello", 1)).expect("json");
    raw["spec"]["replicas"] = json!("three");
    let err = echo_server::sync(&SyncRequest::new(&raw).expect("a request"))
        .expect_err("replicas must be a number")
        .to_string();
    assert!(err.contains("EchoServer team-a/web"), "{err}");
    assert!(err.contains("invalid type"), "{err}");
}

/// Fails the first `failures` releases, and records every call.
struct Flaky {
    failures: Mutex<u32>,
    calls: Mutex<Vec<String>>,
}

impl ExternalResources for Flaky {
    async fn release(&self, namespace: &str, name: &str) -> Result<(), String> {
        self.calls
            .lock()
            .expect("lock")
            .push(format!("{namespace}/{name}"));
        let mut failures = self.failures.lock().expect("lock");
        if *failures > 0 {
            *failures -= 1;
            return Err("the DNS provider timed out".into());
        }
        Ok(())
    }
}

#[tokio::test]
async fn finalize_retries_until_external_cleanup_succeeds() {
    let handler = EchoHandler::new(Flaky {
        failures: Mutex::new(1),
        calls: Mutex::new(Vec::new()),
    });
    let request = SyncRequest::new(&echo("hello", 1))
        .expect("a request")
        .with_finalizing();

    let first = AsyncHandler::finalize(&handler, &request)
        .await
        .expect("finalize");
    assert!(!first.is_done(), "a failed cleanup keeps the finalizer");
    let second = AsyncHandler::finalize(&handler, &request)
        .await
        .expect("finalize");
    assert!(second.is_done(), "a successful cleanup lets the parent go");
    assert_eq!(
        handler_calls(&handler),
        ["team-a/web", "team-a/web"],
        "release is called for the deleted parent, once per attempt"
    );
}

fn handler_calls(handler: &EchoHandler<Flaky>) -> Vec<String> {
    handler.external().calls.lock().expect("lock").clone()
}
