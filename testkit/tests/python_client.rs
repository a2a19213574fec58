//! The official Python `kubernetes` client against the TCP listener, with the written
//! kubeconfig (plain HTTP and TLS): list namespaces, create a ConfigMap, watch one event.
//!
//! Needs a Python with the `kubernetes` package (`.ci/python-client` installs one and prints its
//! path); runs only with `ROPERATOR_PYTHON_CLIENT_TESTS=1` (and then fails, not skips, when the
//! client is missing). `ROPERATOR_PYTHON` names the interpreter, `python3` by default, so that
//! the client can live in a virtualenv.

use roperator_testkit::{ApiServer, Listening};
use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_smoke.py");

fn enabled() -> bool {
    if std::env::var("ROPERATOR_PYTHON_CLIENT_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "skipped: set ROPERATOR_PYTHON_CLIENT_TESTS=1 (and ROPERATOR_PYTHON=\"$(.ci/python-client)\") to run the Python client tests"
    );
    false
}

/// The interpreter that has the client.
fn python() -> String {
    std::env::var("ROPERATOR_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

async fn run_script(listening: &Listening) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let out = tokio::task::spawn_blocking(move || {
        let python = python();
        let out = std::process::Command::new(&python)
            .arg(SCRIPT)
            .arg(&kubeconfig)
            .output();
        out.unwrap_or_else(|e| panic!("cannot run {python}: {e}"))
    })
    .await
    .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the Python client script failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).expect("the script prints JSON")
}

async fn check(server: &ApiServer, listening: &Listening) {
    let seen = run_script(listening).await;
    let namespaces: Vec<&str> = seen["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(namespaces.contains(&ns), "{namespaces:?}");
    }
    let stored = server
        .object("v1", "ConfigMap", Some("default"), "from-python")
        .expect("the ConfigMap was created");
    assert_eq!(seen["created"]["uid"], stored["metadata"]["uid"]);
    assert_eq!(stored["data"]["mode"], "fast");
    assert_eq!(seen["event"]["type"], "ADDED", "{seen}");
    assert_eq!(seen["event"]["name"], "from-python");
    assert_eq!(seen["event"]["data"]["mode"], "fast");
    assert_eq!(
        seen["event"]["resourceVersion"],
        stored["metadata"]["resourceVersion"]
    );
    let agents: Vec<String> = server
        .requests()
        .records()
        .into_iter()
        .filter(|r| r.verb == "create")
        .map(|r| r.user_agent)
        .collect();
    assert!(
        agents.iter().any(|a| a.starts_with("OpenAPI-Generator/")),
        "{agents:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_creates_and_watches_over_http() {
    if !enabled() {
        return;
    }
    let server = ApiServer::new();
    let listening = server.listen().await;
    check(&server, &listening).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_lists_creates_and_watches_over_tls() {
    if !enabled() {
        return;
    }
    let server = ApiServer::new();
    let listening = server.listen_tls().await;
    check(&server, &listening).await;
}
