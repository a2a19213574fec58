//! The `echo-server` binary as users run it: the `crd` subcommand, and the choice between a
//! cluster and the embedded mode. A testkit API server listening on loopback plays the cluster.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use echo_server::{EchoServer, EchoServerSpec};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, PostParams};
use roperator_testkit::ApiServer;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_echo-server");

/// The binary with a clean environment: no in-cluster variables, no kubeconfig of the user's.
fn echo_server(home: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env_remove("ECHO_NAMESPACE")
        .env_remove("ECHO_EMBEDDED")
        .env("HOME", home)
        .env("KUBECONFIG", home.join("no-such-kubeconfig"))
        .env("ECHO_METRICS_ADDRESS", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Sends SIGTERM and returns the exit status and everything the process printed.
async fn terminate(child: Child) -> (std::process::ExitStatus, String) {
    let pid = child.id().expect("the child is running").to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().await;
    assert!(killed.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    finish(child).await
}

async fn finish(child: Child) -> (std::process::ExitStatus, String) {
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("echo-server exits within 30 s")
        .expect("echo-server's output is readable");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status, text)
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_crd_subcommand_prints_what_deploy_holds() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let output = echo_server(home.path())
        .arg("crd")
        .output()
        .await
        .expect("runs");
    assert!(output.status.success());
    let on_disk = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/crd.yaml"
    ))
    .expect("deploy/crd.yaml");
    assert_eq!(String::from_utf8_lossy(&output.stdout), on_disk);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_against_the_cluster_of_the_kubeconfig() {
    let server = ApiServer::new();
    server.register_crd(&echo_server::crd()).expect("CRD");
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let embedded_kubeconfig = home.path().join("embedded.kubeconfig");

    let child = echo_server(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .arg("--kubeconfig-out")
        .arg(&embedded_kubeconfig)
        .spawn()
        .expect("echo-server starts");

    let echoes: Api<EchoServer> = Api::namespaced(server.client(), "default");
    echoes
        .create(
            &PostParams::default(),
            &EchoServer::new("cli", EchoServerSpec::new("from the cli test")),
        )
        .await
        .expect("create");
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "default");
    eventually("the operator to create the Deployment", || async {
        deployments.get_opt("cli").await.ok().flatten()
    })
    .await;
    assert!(
        !embedded_kubeconfig.exists(),
        "with a cluster, no embedded server is started"
    );

    let (status, output) = terminate(child).await;
    assert!(
        status.success(),
        "clean exit after SIGTERM, got {status}:\n{output}"
    );
    assert!(
        output.contains("running against the Kubernetes cluster"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_without_the_crd_is_refused_with_instructions() {
    let server = ApiServer::new();
    let listening = server.listen().await;
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("kubeconfig");
    listening.write_kubeconfig(&kubeconfig).expect("kubeconfig");

    let child = echo_server(home.path())
        .env("KUBECONFIG", &kubeconfig)
        .spawn()
        .expect("echo-server starts");
    let (status, output) = finish(child).await;
    assert!(!status.success(), "must fail without the CRD:\n{output}");
    assert!(
        output.contains("EchoServer CRD is not installed"),
        "{output}"
    );
    assert!(
        output.contains("cargo run -p echo-server -- crd | kubectl apply -f -"),
        "{output}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_cluster_it_starts_embedded_and_cleans_up_on_sigterm() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = home.path().join("out/echo.kubeconfig");
    let child = echo_server(home.path())
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .spawn()
        .expect("echo-server starts");
    eventually("the embedded kubeconfig", || async {
        kubeconfig.exists().then_some(())
    })
    .await;

    let (status, output) = terminate(child).await;
    assert!(
        status.success(),
        "clean exit after SIGTERM, got {status}:\n{output}"
    );
    assert!(
        output.contains("no reachable Kubernetes cluster"),
        "{output}"
    );
    assert!(
        output.contains(&format!(
            "kubectl --kubeconfig {} get echoservers",
            kubeconfig.display()
        )),
        "prints the kubectl line:\n{output}"
    );
    assert!(!kubeconfig.exists(), "the kubeconfig is removed on exit");
}

#[tokio::test]
async fn several_replicas_are_refused_while_the_binary_has_no_raft_gate() {
    let home = tempfile::tempdir().expect("a temporary directory");
    let child = echo_server(home.path())
        .env("ROPERATOR_RAFT_REPLICAS", "3")
        .arg("--embedded")
        .spawn()
        .expect("echo-server starts");
    let (status, output) = finish(child).await;
    assert!(
        !status.success(),
        "three replicas without Raft must not run:\n{output}"
    );
    assert!(
        output.contains("ROPERATOR_RAFT_REPLICAS asks for 3 replicas"),
        "{output}"
    );
}
