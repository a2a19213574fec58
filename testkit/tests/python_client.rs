//! The official Python `kubernetes` client against the TCP listener, with the written
//! kubeconfig (plain HTTP and TLS): list namespaces, create a ConfigMap, watch one event.
//!
//! Runs whenever the interpreter can import the `kubernetes` package: `ROPERATOR_PYTHON` names
//! it (so that the client can live in a virtualenv; `.ci/python-client` installs one and prints
//! its path), `python3` by default. Without the client the tests are reported as *ignored*, with
//! the reason on stderr, not as passed: libtest cannot decide that at run time, hence this
//! file's own `main` (`harness = false`, with libtest-mimic, so `cargo test` and nextest list,
//! filter and report these tests as usual). With `ROPERATOR_PYTHON_CLIENT_TESTS=1`, as `.ci/run`
//! sets once it has installed the client, they always run, and fail when the client is missing;
//! `--include-ignored` does the same for one run.

use std::process::ExitCode;

use libtest_mimic::{Arguments, Failed, Trial};
use roperator_testkit::{ApiServer, Listening};
use serde_json::Value;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/client_smoke.py");

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let python = python();
    let required = std::env::var("ROPERATOR_PYTHON_CLIENT_TESTS").as_deref() == Ok("1");
    // Decided when listing too: nextest learns from `--list --ignored` which tests to skip.
    let ignored = !required && !client_available(&python);
    let trials = vec![
        Trial::test("python_client_lists_creates_and_watches_over_http", || {
            run(Transport::Http)
        }),
        Trial::test("python_client_lists_creates_and_watches_over_tls", || {
            run(Transport::Tls)
        }),
    ];
    let trials = trials
        .into_iter()
        .map(|trial| trial.with_ignored_flag(ignored))
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// The interpreter that has the client.
fn python() -> String {
    std::env::var("ROPERATOR_PYTHON").unwrap_or_else(|_| "python3".to_string())
}

/// Whether `python` can import the client; says why not on stderr, which the runner shows next
/// to the ignored tests.
fn client_available(python: &str) -> bool {
    let why_not = match std::process::Command::new(python)
        .args(["-c", "import kubernetes"])
        .output()
    {
        Ok(out) if out.status.success() => return true,
        Ok(out) => format!(
            "{python} cannot import the `kubernetes` package ({})",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("no message")
        ),
        Err(e) => format!("cannot run {python} ({e})"),
    };
    eprintln!(
        "python_client: the Python client tests are ignored: {why_not}. Install the client with \
         `ROPERATOR_PYTHON=\"$(.ci/python-client)\"` to run them."
    );
    false
}

#[derive(Clone, Copy)]
enum Transport {
    Http,
    Tls,
}

fn run(transport: Transport) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    runtime.block_on(async {
        let server = ApiServer::new();
        let listening = match transport {
            Transport::Http => server.listen().await,
            Transport::Tls => server.listen_tls().await,
        };
        check(&server, &listening).await;
    });
    Ok(())
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
